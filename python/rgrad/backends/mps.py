"""``rgrad.backends.mps``: Apple's Metal backend of PyTorch, which rgrad has not (its GPU
backend is ``rgrad.wgpu``, which runs on Metal too)."""

__all__ = ["is_available", "is_built"]


def is_available():
    return False


def is_built():
    return False
