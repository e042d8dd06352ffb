"""``torch.finfo`` / ``torch.iinfo``: the numeric limits of rgrad's dtypes, as PyTorch reports
them (the same fields, values and reprs)."""

import sys

from rgrad import _rgrad
from rgrad._settings import get_default_dtype

__all__ = ["finfo", "iinfo"]

# (bits, eps, max, smallest normal, resolution) of IEEE binary32 and binary64.
_FLOAT_LIMITS = {
    "float32": (32, 2.0**-23, (2.0 - 2.0**-23) * 2.0**127, 2.0**-126, 1e-06),
    "float64": (64, sys.float_info.epsilon, sys.float_info.max, sys.float_info.min, 1e-15),
    "float16": (16, 2.0**-10, 65504.0, 2.0**-14, 0.001),
    "bfloat16": (16, 2.0**-7, (2.0 - 2.0**-7) * 2.0**127, 2.0**-126, 0.01),
}
_INT_BITS = {"int32": 32, "int64": 64, "int16": 16, "int8": 8, "uint8": 8}


def _dtype_name(dtype):
    return repr(dtype).split(".")[-1]


class finfo:  # noqa: N801  (PyTorch's name)
    """Machine limits of a floating-point dtype (the default dtype when none is given)."""

    def __init__(self, type=None):  # noqa: A002  (PyTorch's argument name)
        if type is None:
            type = get_default_dtype()
        if not isinstance(type, _rgrad.dtype):
            raise TypeError(f"finfo(): argument 'type' must be rgrad.dtype, not {type!r}")
        name = _dtype_name(type)
        if name not in _FLOAT_LIMITS:
            raise TypeError(
                "rgrad.finfo() requires a floating point input type. Use rgrad.iinfo to "
                "handle 'rgrad.finfo'"
            )
        self.bits, self.eps, self.max, self.smallest_normal, self.resolution = _FLOAT_LIMITS[name]
        self.min = -self.max
        self.tiny = self.smallest_normal
        self.dtype = name

    def __eq__(self, other):
        return isinstance(other, finfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("finfo", self.dtype))

    def __repr__(self):
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
            f"tiny={self.tiny:g}, dtype={self.dtype})"
        )

    __str__ = __repr__


class iinfo:  # noqa: N801  (PyTorch's name)
    """Machine limits of an integer dtype."""

    def __init__(self, type):  # noqa: A002  (PyTorch's argument name)
        if not isinstance(type, _rgrad.dtype):
            raise TypeError(f"iinfo(): argument 'type' must be rgrad.dtype, not {type!r}")
        name = _dtype_name(type)
        if name == "bool":
            raise TypeError("rgrad.bool is not supported by rgrad.iinfo")
        if name not in _INT_BITS:
            raise TypeError(
                "rgrad.iinfo() requires an integer input type. Use rgrad.finfo to handle "
                "'rgrad.iinfo'"
            )
        self.bits = _INT_BITS[name]
        if name == "uint8":
            self.max, self.min = 255, 0
        else:
            self.max = 2 ** (self.bits - 1) - 1
            self.min = -(2 ** (self.bits - 1))
        self.dtype = name

    def __eq__(self, other):
        return isinstance(other, iinfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("iinfo", self.dtype))

    def __repr__(self):
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"

    __str__ = __repr__
