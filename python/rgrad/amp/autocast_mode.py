"""``autocast``: a context manager and decorator, as PyTorch's (see ``rgrad.amp``)."""

import functools
import threading
import warnings

_DEVICES = ("cpu", "cuda", "wgpu", "mps", "xpu", "hpu", "xla", "meta")
_state = threading.local()


def _enabled():
    return getattr(_state, "enabled", {})


def is_autocast_enabled(device_type=None):
    return bool(_enabled().get(device_type or "cuda", False))


def get_autocast_dtype(device_type):
    import rgrad

    if device_type not in _DEVICES:
        raise RuntimeError(f"Invalid device string: '{device_type}'")
    # PyTorch's defaults are bfloat16 on the CPU and float16 on CUDA; rgrad has neither.
    return getattr(rgrad, "bfloat16" if device_type == "cpu" else "float16", None)


class autocast:  # noqa: N801 - PyTorch's name
    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _DEVICES:
            raise RuntimeError(f"Invalid device string: '{device_type}'")
        self.device = device_type
        self.fast_dtype = dtype
        self._enabled = bool(enabled)
        if self._enabled and device_type == "cuda":
            warnings.warn(
                "CUDA is not available or torch_xla is imported. Disabling autocast.",
                stacklevel=2,
            )
            self._enabled = False
        if self._enabled:
            import rgrad

            if dtype in (None, rgrad.float32):
                # float32 everywhere is what autocast would leave alone; a lower precision
                # cannot be honoured without the dtype.
                if dtype is None:
                    raise NotImplementedError(
                        f"autocast on '{device_type}' casts to bfloat16/float16, which rgrad "
                        "does not have yet; pass enabled=False (or dtype=torch.float32)"
                    )
            else:
                raise NotImplementedError(
                    f"autocast on '{device_type}' with dtype={dtype}: rgrad has no "
                    "lower-precision float dtype yet"
                )

    def __enter__(self):
        table = dict(_enabled())
        self._prev = table.get(self.device, False)
        table[self.device] = self._enabled
        _state.enabled = table
        return self

    def __exit__(self, *exc):
        table = dict(_enabled())
        table[self.device] = self._prev
        _state.enabled = table
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__(self.device, self.fast_dtype, self._enabled):
                return func(*args, **kwargs)

        return wrapper
