"""Regularised incomplete gamma functions ``P(a, x)`` / ``Q(a, x)`` (``torch.special.gammainc``
/ ``gammaincc``) as composites of core ops, until the core has a kernel (wants a Rust op).

Where ``x < a + 1`` the power series ``P = x^a e^-x / Gamma(a+1) * sum_n x^n / ((a+1)...(a+n))``
is summed in log space (all terms of an entry in one row); elsewhere the continued fraction for
``Q`` is evaluated by the modified Lentz method, a few dozen vectorised rounds. Gradients: with
respect to ``x`` only (the density), as PyTorch, which does not implement the ``a`` one.
"""

import math

import rgrad
from rgrad.autograd import Function, once_differentiable

_CF_ROUNDS = 300
_TINY = 1e-300


def _series_log_p(a, x):
    n_terms = int(math.ceil(float(x.max().item()) + 10 * math.sqrt(float(x.max().item()) + 1)))
    n_terms = max(n_terms + 40, 60)
    k = rgrad.arange(1, n_terms, dtype=a.dtype)
    ac = a.unsqueeze(-1)
    xc = x.unsqueeze(-1)
    log_den = rgrad.cat([rgrad.zeros_like(ac), rgrad.log(ac + k).cumsum(-1)], -1)
    n = rgrad.arange(n_terms, dtype=a.dtype)
    log_sum = rgrad.logsumexp(n * rgrad.log(xc) - log_den, -1)
    return a * rgrad.log(x) - x - rgrad.lgamma(a + 1) + log_sum


def _cf_log_q(a, x):
    # Q(a, x) = x^a e^-x / Gamma(a) * 1 / (x + 1 - a - 1(1-a)/(x + 3 - a - ...)).
    b = x + 1 - a
    c = rgrad.full_like(x, 1 / _TINY)
    d = 1 / b
    h = d
    for i in range(1, _CF_ROUNDS):
        an = -i * (i - a)
        b = b + 2
        d = an * d + b
        d = rgrad.where(d.abs() < _TINY, rgrad.full_like(d, _TINY), d)
        c = b + an / c
        c = rgrad.where(c.abs() < _TINY, rgrad.full_like(c, _TINY), c)
        d = 1 / d
        delta = d * c
        h = h * delta
        if i % 10 == 0 and bool(((delta - 1).abs() < 1e-16).all()):
            break
    return a * rgrad.log(x) - x - rgrad.lgamma(a) + rgrad.log(h)


def _p_and_q(a, x):
    """(P, Q) for broadcast float tensors, evaluated in float64."""
    dtype = x.dtype if x.dtype == rgrad.float64 else a.dtype
    device = x.device
    # float64 on the host (devices may lack float64); results go back to x's device.
    a, x = rgrad.broadcast_tensors(
        a.detach().cpu().to(rgrad.float64), x.detach().cpu().to(rgrad.float64)
    )
    shape = tuple(a.shape)
    a, x = a.reshape(-1), x.reshape(-1)
    p = rgrad.zeros_like(x)
    q = rgrad.ones_like(x)
    positive = (x > 0) & (a > 0)
    use_series = positive & (x < a + 1)
    use_cf = positive & ~use_series
    for mask, log_fn, is_p in ((use_series, _series_log_p, True), (use_cf, _cf_log_q, False)):
        idx = mask.nonzero().reshape(-1)
        if idx.numel() == 0:
            continue
        val = rgrad.exp(log_fn(a.index_select(0, idx), x.index_select(0, idx)))
        val = val.clamp(min=0, max=1)
        p = p.index_copy(0, idx, val if is_p else 1 - val)
        q = q.index_copy(0, idx, 1 - val if is_p else val)
    # Edge values as PyTorch: a == 0 (x > 0) gives P = 1; a < 0, x < 0 or nan give nan.
    a_zero = (a == 0) & (x > 0)
    p = rgrad.where(a_zero, rgrad.ones_like(p), p)
    q = rgrad.where(a_zero, rgrad.zeros_like(q), q)
    bad = (a < 0) | (x < 0) | (a != a) | (x != x)
    nan = rgrad.full_like(p, math.nan)
    p, q = rgrad.where(bad, nan, p), rgrad.where(bad, nan, q)
    out_dtype = rgrad.float64 if dtype == rgrad.float64 else rgrad.float32
    return (
        p.reshape(shape).to(out_dtype).to(device),
        q.reshape(shape).to(out_dtype).to(device),
    )


def _density(a, x):
    return rgrad.exp((a - 1) * rgrad.log(x) - x - rgrad.lgamma(a))


class _Igamma(Function):
    @staticmethod
    def forward(ctx, a, x, upper):
        p, q = _p_and_q(a, x)
        ctx.save_for_backward(a, x)
        ctx.upper = upper
        return q if upper else p

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            name = "igammac" if ctx.upper else "igamma"
            raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
        dx = grad * _density(a, x)
        if ctx.upper:
            dx = -dx
        return None, dx, None


def _as_tensors(a, x):
    if not isinstance(a, rgrad.Tensor):
        a = rgrad.tensor(a, dtype=x.dtype if isinstance(x, rgrad.Tensor) else None)
    if not isinstance(x, rgrad.Tensor):
        x = rgrad.tensor(x, dtype=a.dtype)
    return a, x


def gammainc(input, other):
    """Regularised lower incomplete gamma P(input, other)."""
    a, x = _as_tensors(input, other)
    return _Igamma.apply(a, x, False)


def gammaincc(input, other):
    """Regularised upper incomplete gamma Q(input, other) = 1 - P."""
    a, x = _as_tensors(input, other)
    return _Igamma.apply(a, x, True)
