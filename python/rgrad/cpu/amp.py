"""``rgrad.cpu.amp``: PyTorch's deprecated spelling of ``rgrad.amp.autocast("cpu")``."""

import warnings

from rgrad.amp import autocast as _autocast

__all__ = ["autocast"]


class autocast(_autocast):  # noqa: N801 - PyTorch's name
    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        warnings.warn(
            "`torch.cpu.amp.autocast(args...)` is deprecated. Please use "
            "`torch.amp.autocast('cpu', args...)` instead.",
            FutureWarning,
            stacklevel=2,
        )
        super().__init__("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    def __call__(self, func):
        return _autocast("cpu", self.fast_dtype, self._enabled)(func)
