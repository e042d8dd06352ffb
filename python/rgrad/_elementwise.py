"""Functional forms and aliases of the elementwise math ops (``rgrad.atan2``, ``rgrad.arcsin``,
...), and the few that are exact composites of compiled ops (``logit``, ``nan_to_num``).

The unary and binary kernels themselves are compiled (``Tensor.asin``, ``Tensor.atan2``, ...);
the functional binary forms accept a Python number on either side, as PyTorch's do.
"""

from __future__ import annotations

from rgrad import _rgrad
from rgrad._errors import wrap_module

Tensor = _rgrad.Tensor

UNARY = [
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "asinh",
    "acosh",
    "atanh",
    "log2",
    "log10",
    "exp2",
    "erfinv",
    "lgamma",
    "digamma",
    "frac",
    "sinc",
]
ALIASES = {
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "arctan2": "atan2",
    "fix": "trunc",
    "negative": "neg",
    "multiply": "mul",
    "divide": "div",
    "subtract": "sub",
    "absolute": "abs",
    "clip": "clamp",
}
BINARY = [
    "atan2",
    "hypot",
    "logaddexp",
    "xlogy",
    "fmod",
    "remainder",
    "floor_divide",
    "true_divide",
]

__all__ = [*UNARY, *BINARY, "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh"]
__all__ += ["arctan2", "fix", "negative", "multiply", "divide", "subtract", "absolute"]
__all__ += ["logit", "nan_to_num", "logaddexp2", "square"]


def _binary(name):
    def op(input, other, *, out=None):
        if out is not None:
            raise TypeError(f"{name}(): out= is not supported")
        return _rgrad._binary_op(name, input, other)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``torch.{name}(input, other)``: either operand may be a Python number."
    return op


atan2 = _binary("atan2")
hypot = _binary("hypot")
logaddexp = _binary("logaddexp")
xlogy = _binary("xlogy")
fmod = _binary("fmod")
remainder = _binary("remainder")
floor_divide = _binary("floor_divide")
true_divide = _binary("true_divide")

asin = Tensor.asin
acos = Tensor.acos
atan = Tensor.atan
sinh = Tensor.sinh
cosh = Tensor.cosh
asinh = Tensor.asinh
acosh = Tensor.acosh
atanh = Tensor.atanh
log2 = Tensor.log2
log10 = Tensor.log10
exp2 = Tensor.exp2
erfinv = Tensor.erfinv
lgamma = Tensor.lgamma
digamma = Tensor.digamma
frac = Tensor.frac
sinc = Tensor.sinc

# NumPy-style aliases, as PyTorch has them.
arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh
arctan2 = atan2
fix = Tensor.trunc
negative = Tensor.neg
multiply = Tensor.mul
divide = Tensor.div
subtract = Tensor.sub
absolute = Tensor.abs


def logaddexp2(input, other):
    """``log2(2**input + 2**other)``."""
    ln2 = 0.6931471805599453
    return _rgrad._binary_op("logaddexp", input * ln2, other * ln2) / ln2


def logit(input, eps=None):
    """``log(p / (1 - p))``; with ``eps``, ``p`` is first clamped to ``[eps, 1 - eps]`` (the
    gradient is zero outside, as PyTorch's)."""
    x = input if eps is None else input.clamp(eps, 1.0 - eps)
    return (x / (1.0 - x)).log()


_FLOAT_MAX = {"float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308}


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced (by 0 and the dtype's largest and lowest finite values by
    default); the gradient is zero at the replaced elements."""
    if not input.is_floating_point():
        return input.clone()
    big = _FLOAT_MAX[str(input.dtype).rsplit(".", 1)[-1]]
    posinf = big if posinf is None else posinf
    neginf = -big if neginf is None else neginf
    inf = float("inf")
    isnan = input != input
    return (
        input.masked_fill(isnan, nan)
        .masked_fill(input == inf, posinf)
        .masked_fill(input == -inf, neginf)
    )


def square(input):
    return input * input


def _inplace(fn, name):
    def method(self, *args, **kwargs):
        return self.copy_(fn(self.clone(), *args, **kwargs))

    method.__name__ = method.__qualname__ = name
    return method


def _install():
    for alias, target in ALIASES.items():
        if not hasattr(Tensor, alias) and hasattr(Tensor, target):
            setattr(Tensor, alias, getattr(Tensor, target))
        if hasattr(Tensor, target + "_") and not hasattr(Tensor, alias + "_"):
            setattr(Tensor, alias + "_", getattr(Tensor, target + "_"))
    global logit, nan_to_num, logaddexp2, square
    wrap_module(globals(), ["logit", "nan_to_num", "logaddexp2", "square"])
    Tensor.logit = logit
    Tensor.logit_ = _inplace(logit, "logit_")
    Tensor.nan_to_num = nan_to_num
    Tensor.nan_to_num_ = _inplace(nan_to_num, "nan_to_num_")
    Tensor.logaddexp2 = logaddexp2
    if not hasattr(Tensor, "square"):
        Tensor.square = square


_install()
