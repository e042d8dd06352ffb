"""``rgrad.optim.adamw.AdamW``: the import path PyTorch has; the class lives in ``adam.py``."""

from rgrad.optim.adam import AdamW

__all__ = ["AdamW"]
