"""``rgrad.cpu``: PyTorch's ``torch.cpu`` namespace (its deprecated ``amp.autocast``)."""

from rgrad.cpu import amp

__all__ = ["amp", "is_available"]


def is_available():
    return True
