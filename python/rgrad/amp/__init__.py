"""``rgrad.amp``: PyTorch's mixed-precision API. ``GradScaler`` is PyTorch's dynamic loss
scaling (scale the loss, unscale the gradients, skip steps with inf/NaN gradients, grow or
back off the scale). ``autocast`` is PyTorch's CPU autocast (bfloat16 or float16; see
``autocast_mode``); on ``cuda`` it warns and disables itself (there is no CUDA device)."""

from rgrad.amp.autocast_mode import autocast, get_autocast_dtype, is_autocast_enabled
from rgrad.amp.grad_scaler import GradScaler, OptState

__all__ = ["GradScaler", "OptState", "autocast", "get_autocast_dtype", "is_autocast_enabled"]
