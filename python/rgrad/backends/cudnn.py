"""``rgrad.backends.cudnn``: PyTorch's cuDNN switches. rgrad has no cuDNN: the flags keep what
is set (so reproducibility boilerplate runs) and change nothing; ``is_available()`` is False."""

__all__ = ["allow_tf32", "benchmark", "deterministic", "enabled", "is_available", "version"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    return False


def version():
    return None
