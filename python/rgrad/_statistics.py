"""Statistics and differences of ``torch.*``: ``diff``, ``nansum``/``nanmean``, ``var_mean``/
``std_mean`` as composites of compiled ops (so gradients flow), and the compiled ``cummax``/
``cummin``/``logcumsumexp`` under their PyTorch names.
"""

from __future__ import annotations

from rgrad import _call_site, _rgrad
from rgrad._errors import wrap_module
from rgrad._shape_ops import (
    _dim,
)

Tensor = _rgrad.Tensor

__all__ = [
    "cummax",
    "cummin",
    "diff",
    "logcumsumexp",
    "nanmean",
    "nansum",
    "std_mean",
    "var_mean",
]


# ---- differences ---------------------------------------------------------------------------


def diff(input, n=1, dim=-1, prepend=None, append=None):
    _call_site.check_int("diff", "n", n, 1)
    _call_site.check_int("diff", "dim", dim, 2)
    for index, (name, value) in enumerate((("prepend", prepend), ("append", append)), 3):
        if value is not None and not isinstance(value, Tensor):
            raise _call_site.argument_error("diff", name, "Tensor", value, index)
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    dim = _dim(dim, input.ndim)
    parts = [p for p in (prepend, input, append) if p is not None]
    if len(parts) > 1:
        parts = [p if isinstance(p, Tensor) else _rgrad.tensor(p, dtype=input.dtype) for p in parts]
        parts = [
            p.expand(*[1 if i != dim else -1 for i in range(input.ndim)]) if p.ndim == 0 else p
            for p in parts
        ]
        x = _rgrad.cat(parts, dim)
    else:
        x = input
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    for _ in range(n):
        m = x.shape[dim]
        if m == 0:
            break
        hi, lo = x.narrow(dim, 1, m - 1), x.narrow(dim, 0, m - 1)
        x = hi != lo if str(x.dtype) == "rgrad.bool" else hi - lo
    return x


def cummax(input, dim):
    return input.cummax(dim)


def cummin(input, dim):
    return input.cummin(dim)


def logcumsumexp(input, dim):
    return input.logcumsumexp(dim)


# ---- statistics ------------------------------------------------------------------------------


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    x = input.masked_fill(input != input, 0.0) if input.is_floating_point() else input
    if dtype is not None:
        x = x.to(dtype)
    return (
        x.sum()
        if dim is None and not keepdim
        else x.sum(dim if dim is not None else list(range(x.ndim)), keepdim)
    )


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    if not input.is_floating_point():
        raise RuntimeError(
            "nanmean(): expected input to have floating point or complex dtype but got "
            f"{input.dtype}"
        )
    keep = input == input
    count = (
        keep.sum()
        if dim is None and not keepdim
        else keep.sum(dim if dim is not None else list(range(input.ndim)), keepdim)
    )
    return nansum(input, dim, keepdim, dtype=dtype) / count


def _moments(input, dim, correction, keepdim, unbiased):
    kw = {"keepdim": keepdim}
    if correction is not None:
        kw["correction"] = correction
    elif unbiased is not None:
        kw["unbiased"] = unbiased
    var = input.var(dim, **kw)
    mean = (
        input.mean()
        if dim is None and not keepdim
        else input.mean(dim if dim is not None else list(range(input.ndim)), keepdim)
    )
    return var, mean


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(unbiased, bool) or unbiased is None:
        return _moments(input, dim, correction, keepdim, unbiased)
    return _moments(input, unbiased, correction, keepdim, None)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    v, m = var_mean(input, dim, unbiased, keepdim, correction=correction)
    return v.sqrt(), m


wrap_module(globals(), __all__)
