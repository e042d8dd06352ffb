"""Comparison, logical and ordering ops that training scripts use around the math (checking a
loss for NaN, comparing two models' outputs, masks with ``~``/``&``/``|``).

They are built from the compiled ops, or computed in NumPy where the result carries no
gradient (masks), so they need no Rust kernel. Each is attached to ``Tensor`` as a method too.
"""

from __future__ import annotations

import numpy as np

from rgrad import _rgrad
from rgrad._errors import wrap_module

Tensor = _rgrad.Tensor

__all__ = [
    "allclose",
    "equal",
    "isclose",
    "isfinite",
    "isinf",
    "isnan",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "square",
]


def _as_tensor(x, like):
    if isinstance(x, Tensor):
        return x
    return _rgrad.tensor(x, dtype=like.dtype, device=like.device)


def _host(t):
    return t.detach().cpu().numpy()


def _from_host(array, device):
    array = np.asarray(array)
    # ascontiguousarray makes a 0-d array 1-d: keep the shape (0-d `a | b` stays 0-d).
    out = _rgrad.from_numpy(np.ascontiguousarray(array).reshape(array.shape))
    return out if str(device) == "cpu" else out.to(device)


def isnan(input):
    return input != input


def isinf(input):
    return input.abs() == float("inf")


def isfinite(input):
    return _from_host(np.isfinite(_host(input)), input.device)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    other = _as_tensor(other, input)
    a, b = input.detach(), other.detach()
    close = (a - b).abs() <= atol + rtol * b.abs()
    # Infinities of the same sign are close although their difference is NaN.
    close = logical_or(close, a == b)
    if equal_nan:
        close = logical_or(close, logical_and(isnan(a), isnan(b)))
    return close


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


def equal(input, other):
    """True when both have the same shape and elements (no broadcasting, as in PyTorch)."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool((input.detach() == other.detach()).all().item())


def _logical(fn):
    def op(input, other):
        other = _as_tensor(other, input)
        return _from_host(fn(_host(input).astype(bool), _host(other).astype(bool)), input.device)

    op.__name__ = op.__qualname__ = fn.__name__
    return op


logical_and = _logical(np.logical_and)
logical_or = _logical(np.logical_or)
logical_xor = _logical(np.logical_xor)


def logical_not(input):
    return _from_host(~_host(input).astype(bool), input.device)


def _bitwise(fn, name):
    def op(self, other):
        if isinstance(other, Tensor):
            other = _host(other)
        a = _host(self)
        if a.dtype.kind == "f" or np.asarray(other).dtype.kind == "f":
            raise TypeError(f'"{name}" not implemented for floating-point tensors')
        return _from_host(fn(a, other), self.device)

    return op


def _invert(self):
    a = _host(self)
    if a.dtype.kind == "f":
        raise TypeError('"bitwise_not_cpu" not implemented for floating-point tensors')
    return _from_host(~a, self.device)


def square(input):
    return input * input


def _install():
    wrap_module(globals(), __all__)
    for name in __all__:
        if name not in ("allclose", "equal") and not hasattr(Tensor, name):
            setattr(Tensor, name, globals()[name])
    Tensor.allclose = allclose
    Tensor.equal = equal
    Tensor.__invert__ = _invert
    Tensor.__and__ = Tensor.__rand__ = _bitwise(np.bitwise_and, "bitwise_and_cpu")
    Tensor.__or__ = Tensor.__ror__ = _bitwise(np.bitwise_or, "bitwise_or_cpu")
    Tensor.__xor__ = Tensor.__rxor__ = _bitwise(np.bitwise_xor, "bitwise_xor_cpu")


_install()
