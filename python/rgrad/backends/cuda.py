"""``rgrad.backends.cuda``: PyTorch's CUDA switches; rgrad has no CUDA backend."""

from types import SimpleNamespace

__all__ = ["is_built", "matmul"]


def is_built():
    return False


matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True)
