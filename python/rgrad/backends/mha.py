"""``rgrad.backends.mha``: the switch of PyTorch's inference fast path for
``nn.MultiheadAttention`` and ``nn.TransformerEncoder``. rgrad runs the same computation either
way; the one visible effect it keeps is the encoder's: with the fast path, padded positions
come out as zeros (PyTorch drops them into a nested tensor and pads the result)."""

__all__ = ["get_fastpath_enabled", "set_fastpath_enabled"]

_is_fastpath_enabled = True


def get_fastpath_enabled():
    """Whether the fast path is used (default True)."""
    return _is_fastpath_enabled


def set_fastpath_enabled(value):
    """Sets whether the fast path is used."""
    global _is_fastpath_enabled
    _is_fastpath_enabled = bool(value)
