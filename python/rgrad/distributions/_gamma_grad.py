"""Reparameterised Gamma(alpha, 1) samples: the gradient by implicit differentiation of the
CDF (Figurnov et al. 2018, as PyTorch's ``_standard_gamma_grad``):

    dx/dalpha = -(dP(alpha, x)/dalpha) / p(x; alpha)

with P the regularised lower incomplete gamma function. P comes from its power series
``P = x^a e^-x / Gamma(a+1) * sum_n x^n / ((a+1)...(a+n))``; with ``w_n`` the normalised
terms and ``H_n = sum_{k<=n} 1/(a+k)`` this gives

    dx/dalpha = -(x / a) * S * (log x - digamma(a + 1) - sum_n w_n H_n),  S = sum of terms,

evaluated in float64 with all terms of an entry in one tensor row. Far out (x > 5000) the
Wilson-Hilferty cube-root normal approximation's derivative is used instead. Both want a Rust
kernel (PyTorch's rational approximations); this composite is exact to float64 rounding in the
series range.
"""

import math

import rgrad
from rgrad.autograd import Function, once_differentiable
from rgrad.distributions._samplers import standard_gamma

_SERIES_LIMIT = 5000.0
_CHUNK_ELEMENTS = 4_000_000


def _series_grad(a, x):
    """dx/da on 1-D float64 tensors a, x (x <= _SERIES_LIMIT)."""
    n_terms = int(math.ceil(float(x.max().item()) + 8 * math.sqrt(float(x.max().item())) + 40))
    out = []
    rows = max(1, _CHUNK_ELEMENTS // n_terms)
    k = rgrad.arange(1, n_terms, dtype=rgrad.float64)
    for start in range(0, a.numel(), rows):
        ac = a[start : start + rows].unsqueeze(-1)
        xc = x[start : start + rows].unsqueeze(-1)
        inv = 1.0 / (ac + k)
        harmonic = rgrad.cat([rgrad.zeros_like(ac), inv.cumsum(-1)], -1)
        log_den = rgrad.cat([rgrad.zeros_like(ac), rgrad.log(ac + k).cumsum(-1)], -1)
        n = rgrad.arange(n_terms, dtype=rgrad.float64)
        log_terms = n * rgrad.log(xc) - log_den
        lse = rgrad.logsumexp(log_terms, -1)
        weights = rgrad.exp(log_terms - lse.unsqueeze(-1))
        mean_h = (weights * harmonic).sum(-1)
        a1 = ac.squeeze(-1)
        x1 = xc.squeeze(-1)
        # x^a e^-x / Gamma(a+1) * S / p(x) = (x / a) * S, with S = exp(lse).
        log_ratio = rgrad.log(x1) - rgrad.log(a1) + lse
        dlogp = rgrad.log(x1) - rgrad.digamma(a1 + 1) - mean_h
        out.append(-rgrad.exp(log_ratio) * dlogp)
    return rgrad.cat(out) if out else a.new_zeros((0,))


def _wilson_hilferty_grad(a, x):
    root = (x / a) ** (1.0 / 3.0)
    z = (root - 1 + 1 / (9 * a)) * 3 * a.sqrt()
    base = 1 - 1 / (9 * a) + z / (3 * a.sqrt())
    return base**3 + 3 * a * base**2 * (1 / (9 * a * a) - z / (6 * a**1.5))


def standard_gamma_grad(alpha, x):
    """d x / d alpha for Gamma(alpha, 1) samples x (PyTorch's ``_standard_gamma_grad``)."""
    shape = tuple(x.shape)
    # float64 on the host (devices may lack float64); the result goes back to x's device.
    a = alpha.detach().cpu().to(rgrad.float64).reshape(-1)
    xs = x.detach().cpu().to(rgrad.float64).reshape(-1)
    far = xs > _SERIES_LIMIT
    grad = rgrad.zeros_like(xs)
    near_idx = (~far).nonzero().reshape(-1)
    if near_idx.numel():
        near = _series_grad(a.index_select(0, near_idx), xs.index_select(0, near_idx))
        grad = grad.index_copy(0, near_idx, near)
    far_idx = far.nonzero().reshape(-1)
    if far_idx.numel():
        wh = _wilson_hilferty_grad(a.index_select(0, far_idx), xs.index_select(0, far_idx))
        grad = grad.index_copy(0, far_idx, wh)
    return grad.reshape(shape).to(x.dtype).to(x.device)


class _StandardGamma(Function):
    @staticmethod
    def forward(ctx, alpha):
        x = standard_gamma(alpha)
        ctx.save_for_backward(alpha, x)
        return x

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        alpha, x = ctx.saved_tensors
        return grad_output * standard_gamma_grad(alpha, x)


def standard_gamma_rsample(concentration):
    """Gamma(concentration, 1) samples whose gradient w.r.t. concentration is implicit."""
    if concentration.requires_grad:
        return _StandardGamma.apply(concentration)
    return standard_gamma(concentration)
