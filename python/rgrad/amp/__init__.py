"""``rgrad.amp``: PyTorch's mixed-precision API. ``GradScaler`` is PyTorch's dynamic loss
scaling (scale the loss, unscale the gradients, skip steps with inf/NaN gradients, grow or
back off the scale). ``autocast`` follows PyTorch where no lower-precision dtype is needed: on
``cuda`` it warns and disables itself (there is no CUDA device), ``enabled=False`` is a no-op;
casting to bfloat16/float16 on the CPU needs those dtypes, which rgrad does not have yet, so
asking for it raises instead of silently computing in float32."""

from rgrad.amp.autocast_mode import autocast, get_autocast_dtype, is_autocast_enabled
from rgrad.amp.grad_scaler import GradScaler, OptState

__all__ = ["GradScaler", "OptState", "autocast", "get_autocast_dtype", "is_autocast_enabled"]
