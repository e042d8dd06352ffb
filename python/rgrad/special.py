"""``torch.special``: PyTorch's names for the special functions rgrad's core already has,
and short composites of core ops for a few more (ndtr, ndtri, log_ndtr, entr, xlog1py,
multigammaln, erfc, gammainc, gammaincc).

The composites are exact in the bulk of the domain; ``erfc`` and ``log_ndtr`` lose relative
precision far in the tails (they go through ``1 - erf``) until the core has dedicated kernels.
"""

import math

import rgrad
from rgrad._igamma import gammainc, gammaincc
from rgrad.nn import functional as _F

__all__ = [
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfinv",
    "exp2",
    "expit",
    "expm1",
    "gammainc",
    "gammaincc",
    "gammaln",
    "log1p",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "ndtri",
    "psi",
    "round",
    "sinc",
    "softmax",
    "xlog1py",
    "xlogy",
]

_SQRT_HALF = math.sqrt(0.5)


def expit(input):
    return rgrad.sigmoid(input)


def logit(input, eps=None):
    return rgrad.logit(input, eps=eps)


def erf(input):
    return rgrad.erf(input)


def erfc(input):
    return 1 - rgrad.erf(input)


def erfinv(input):
    return rgrad.erfinv(input)


def gammaln(input):
    return rgrad.lgamma(input)


def digamma(input):
    return rgrad.digamma(input)


psi = digamma


def xlogy(input, other):
    return rgrad.xlogy(input, other)


def xlog1py(input, other):
    # 0 where input == 0 (even if log1p(other) is infinite), as PyTorch.
    if not isinstance(input, rgrad.Tensor):
        input = rgrad.tensor(input, dtype=other.dtype)
    if not isinstance(other, rgrad.Tensor):
        other = rgrad.tensor(other, dtype=input.dtype)
    prod = input * rgrad.log1p(other)
    return rgrad.where(input == 0, rgrad.zeros_like(prod), prod)


def log1p(input):
    return rgrad.log1p(input)


def expm1(input):
    return rgrad.expm1(input)


def exp2(input):
    return 2.0**input


def round(input, decimals=0):  # noqa: A001  (PyTorch's name)
    if decimals == 0:
        return rgrad.round(input)
    scale = 10.0**decimals
    return rgrad.round(input * scale) / scale


def sinc(input):
    return rgrad.sinc(input)


def logsumexp(input, dim, keepdim=False):
    return rgrad.logsumexp(input, dim, keepdim=keepdim)


def softmax(input, dim, *, dtype=None):
    return _F.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    return _F.log_softmax(input, dim, dtype=dtype)


def ndtr(input):
    return 0.5 * (1 + rgrad.erf(input * _SQRT_HALF))


def ndtri(input):
    return rgrad.erfinv(2 * input - 1) * math.sqrt(2.0)


def log_ndtr(input):
    return rgrad.log(ndtr(input))


def entr(input):
    # -x log x; 0 at 0 and -inf for negative x, as PyTorch.
    val = rgrad.xlogy(-input, input)
    neg_inf = rgrad.full_like(val, -math.inf)
    return rgrad.where(input < 0, neg_inf, val)


def multigammaln(input, p):
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    offsets = rgrad.arange(p, dtype=input.dtype, device=input.device) * -0.5
    terms = rgrad.lgamma(input.unsqueeze(-1) + offsets)
    return terms.sum(-1) + p * (p - 1) / 4 * math.log(math.pi)
