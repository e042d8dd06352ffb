"""``autocast``: a context manager and decorator, as PyTorch's (see ``rgrad.amp``).

On the CPU it is PyTorch's CPU autocast: while it is on, the ops of PyTorch's lower-precision
list (matmul, mm, bmm, linear, convolutions, scaled_dot_product_attention) cast float32
inputs to the autocast dtype (bfloat16 unless asked for float16) in the Rust core, and the
losses of its float32 list (cross_entropy, nll_loss, mse_loss, ...) cast float16/bfloat16
inputs up to float32 (:func:`autocast_fp32`). Other ops run in their inputs' dtypes."""

import functools
import threading
import warnings

from rgrad import _rgrad

_DEVICES = ("cpu", "cuda", "wgpu", "mps", "xpu", "hpu", "xla", "meta")


class _State(threading.local):
    # Class-level defaults (never mutated: autocast replaces them with copies): a thread that
    # never entered autocast reads them without raising and catching an AttributeError, which
    # the fp32-list losses would otherwise pay on every call.
    enabled: dict = {}
    dtypes: dict = {}


_state = _State()


def _enabled():
    return _state.enabled


def _dtypes():
    return _state.dtypes


def is_autocast_enabled(device_type=None):
    return bool(_enabled().get(device_type or "cuda", False))


def get_autocast_dtype(device_type):
    if device_type not in _DEVICES:
        raise RuntimeError(f"Invalid device string: '{device_type}'")
    chosen = _dtypes().get(device_type)
    if chosen is not None:
        return chosen
    # PyTorch's defaults: bfloat16 on the CPU, float16 on the others.
    return _rgrad.bfloat16 if device_type == "cpu" else _rgrad.float16


def _cpu_autocast_on():
    return bool(_enabled().get("cpu", False))


def _to_fp32(x):
    if isinstance(x, _rgrad.Tensor) and x.dtype in (_rgrad.float16, _rgrad.bfloat16):
        return x.float()
    return x


def autocast_fp32(fn):
    """Wraps an op of PyTorch's CPU autocast fp32 list: under CPU autocast its float16 and
    bfloat16 tensor arguments are cast to float32 first."""
    if getattr(fn, "__pytorch_errors__", False):
        # One generated frame does both the cast and the error translation.
        from rgrad._errors import pytorch_errors

        return pytorch_errors(fn.__wrapped__, cast_state=_state, cast=_to_fp32)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _state.enabled.get("cpu"):
            args = tuple(_to_fp32(a) for a in args)
            kwargs = {k: _to_fp32(v) for k, v in kwargs.items()}
        return fn(*args, **kwargs)

    return wrapper


class autocast:  # noqa: N801 - PyTorch's name
    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _DEVICES:
            raise RuntimeError(f"Invalid device string: '{device_type}'")
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._enabled = bool(enabled)
        self._cache_enabled = cache_enabled
        if self._enabled and device_type == "cuda":
            warnings.warn(
                "CUDA is not available or torch_xla is imported. Disabling autocast.",
                stacklevel=2,
            )
            self._enabled = False
        if self._enabled and device_type == "cpu":
            if self.fast_dtype not in (_rgrad.bfloat16, _rgrad.float16):
                warnings.warn(
                    "In CPU autocast, but the target dtype is not supported. Disabling "
                    "autocast.\nCPU Autocast only supports dtypes of torch.bfloat16, "
                    "torch.float16 currently.",
                    stacklevel=2,
                )
                self._enabled = False
        elif self._enabled:
            raise NotImplementedError(
                f"autocast on '{device_type}' is not supported by rgrad (the device has no "
                "16-bit float storage); use autocast('cpu') or enabled=False"
            )

    def __enter__(self):
        table, dtypes = dict(_enabled()), dict(_dtypes())
        self._prev = table.get(self.device, False)
        self._prev_dtype = dtypes.get(self.device)
        table[self.device] = self._enabled
        dtypes[self.device] = self.fast_dtype
        _state.enabled, _state.dtypes = table, dtypes
        if self.device == "cpu":
            self._prev_core = _rgrad._set_autocast_cpu(self.fast_dtype if self._enabled else None)
        return self

    def __exit__(self, *exc):
        table, dtypes = dict(_enabled()), dict(_dtypes())
        table[self.device] = self._prev
        dtypes[self.device] = self._prev_dtype
        _state.enabled, _state.dtypes = table, dtypes
        if self.device == "cpu":
            _rgrad._set_autocast_cpu(self._prev_core)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__(self.device, self.fast_dtype, self._enabled):
                return func(*args, **kwargs)

        return wrapper
