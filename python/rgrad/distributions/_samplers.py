"""Samplers that need rejection loops: Gamma (Marsaglia-Tsang), Poisson (inversion for small
rates, Hormann's PTRS for large) and Binomial (inversion / Hormann's BTRS).

Each runs a few vectorised rounds over the whole tensor (never a Python loop per element):
every round proposes for all still-open entries and keeps the accepted ones. They draw from
rgrad's generator, so ``manual_seed`` reproduces them. They want dedicated Rust kernels (one
pass, no wasted proposals); these composites are the reference for those.
"""

import rgrad

_MAX_ROUNDS = 64


def _fill_accepted(out, done, proposal, accept):
    take = accept & ~done
    return rgrad.where(take, proposal, out), done | take


def standard_gamma(concentration):
    """Gamma(concentration, 1) samples (no gradient): Marsaglia and Tsang's method, with
    alpha < 1 boosted as Gamma(alpha + 1) * U^(1/alpha)."""
    with rgrad.no_grad():
        alpha = concentration.detach()
        dtype = alpha.dtype
        dev = alpha.device
        shape = tuple(alpha.shape)
        boost = alpha < 1
        a = rgrad.where(boost, alpha + 1, alpha)
        d = a - 1.0 / 3.0
        c = 1.0 / rgrad.sqrt(9.0 * d)
        out = rgrad.zeros(shape, dtype=dtype, device=dev)
        done = rgrad.zeros(shape, dtype=rgrad.bool, device=dev)
        for _ in range(_MAX_ROUNDS):
            x = rgrad.randn(shape, dtype=dtype, device=dev)
            u = rgrad.rand(shape, dtype=dtype, device=dev)
            v = (1 + c * x) ** 3
            positive = v > 0
            safe_v = rgrad.where(positive, v, rgrad.ones_like(v))
            accept = positive & (
                rgrad.log(u) < 0.5 * x * x + d - d * safe_v + d * rgrad.log(safe_v)
            )
            out, done = _fill_accepted(out, done, d * safe_v, accept)
            if bool(done.all()):
                break
        u = rgrad.rand(shape, dtype=dtype, device=dev)
        factor = rgrad.where(boost, u ** (1.0 / alpha), rgrad.ones_like(u))
        out = out * factor
        return out.clamp(min=rgrad.finfo(dtype).tiny)


def poisson(rate):
    """Poisson(rate) counts as floats of rate's dtype (no gradient)."""
    with rgrad.no_grad():
        lam = rate.detach()
        dtype = lam.dtype
        dev = lam.device
        shape = tuple(lam.shape)
        small = lam < 10
        out = rgrad.zeros(shape, dtype=dtype, device=dev)
        if bool(small.any()):
            out = rgrad.where(small, _poisson_inversion(rgrad.where(small, lam, 0 * lam)), out)
        if bool((~small).any()):
            big = rgrad.where(small, rgrad.full_like(lam, 10.0), lam)
            out = rgrad.where(small, out, _poisson_ptrs(big))
        return out


def _poisson_inversion(lam):
    # Sequential search of the CDF with one uniform per entry; rate < 10 ends in few rounds.
    shape = tuple(lam.shape)
    dev = lam.device
    u = rgrad.rand(shape, dtype=lam.dtype, device=dev)
    k = rgrad.zeros(shape, dtype=lam.dtype, device=dev)
    pmf = rgrad.exp(-lam)
    cdf = pmf.clone()
    for i in range(1, 200):
        open_ = u > cdf
        if not bool(open_.any()):
            break
        k = k + open_.to(lam.dtype)
        pmf = pmf * lam / i
        cdf = cdf + pmf
    return k


def _poisson_ptrs(lam):
    # Hormann (1993), "The transformed rejection method for generating Poisson random variables".
    shape = tuple(lam.shape)
    dtype = lam.dtype
    dev = lam.device
    slam = rgrad.sqrt(lam)
    loglam = rgrad.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    out = rgrad.zeros(shape, dtype=dtype, device=dev)
    done = rgrad.zeros(shape, dtype=rgrad.bool, device=dev)
    for _ in range(_MAX_ROUNDS):
        u = rgrad.rand(shape, dtype=dtype, device=dev) - 0.5
        v = rgrad.rand(shape, dtype=dtype, device=dev)
        us = 0.5 - u.abs()
        k = rgrad.floor((2 * a / us + b) * u + lam + 0.43)
        quick = (us >= 0.07) & (v <= vr)
        reject = (k < 0) | ((us < 0.013) & (v > us))
        kk = k.clamp(min=0)
        lhs = rgrad.log(v) + rgrad.log(invalpha) - rgrad.log(a / (us * us) + b)
        rhs = -lam + kk * loglam - rgrad.lgamma(kk + 1)
        accept = quick | (~reject & (lhs <= rhs))
        out, done = _fill_accepted(out, done, k, accept)
        if bool(done.all()):
            break
    return out


def binomial(count, probs):
    """Binomial(count, probs) counts as floats (no gradient); p > 1/2 by symmetry."""
    with rgrad.no_grad():
        n = count.detach()
        p = probs.detach()
        dtype = p.dtype
        dev = p.device
        flip = p > 0.5
        q = rgrad.where(flip, 1 - p, p)
        small = n * q < 10
        out = rgrad.zeros(tuple(p.shape), dtype=dtype, device=dev)
        if bool(small.any()):
            out = rgrad.where(small, _binomial_inversion(n, rgrad.where(small, q, 0 * q)), out)
        if bool((~small).any()):
            q_big = rgrad.where(small, rgrad.full_like(q, 0.5), q)
            n_big = rgrad.where(small, rgrad.full_like(n, 40.0), n)
            out = rgrad.where(small, out, _binomial_btrs(n_big, q_big))
        return rgrad.where(flip, n - out, out)


def _binomial_inversion(n, p):
    shape = tuple(p.shape)
    dev = p.device
    u = rgrad.rand(shape, dtype=p.dtype, device=dev)
    k = rgrad.zeros(shape, dtype=p.dtype, device=dev)
    q = 1 - p
    pmf = q**n
    cdf = pmf.clone()
    ratio = p / q
    limit = int(n.max().item()) if n.numel() else 0
    for i in range(1, limit + 1):
        open_ = (u > cdf) & (k < n)
        if not bool(open_.any()):
            break
        k = k + open_.to(p.dtype)
        pmf = pmf * (n - i + 1) / i * ratio
        cdf = cdf + pmf
    return k


def _binomial_btrs(n, p):
    # Hormann (1993), "The generation of binomial random variates" (BTRS).
    shape = tuple(p.shape)
    dtype = p.dtype
    dev = p.device
    q = 1 - p
    spq = rgrad.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    vr = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = rgrad.log(p / q)
    m = rgrad.floor((n + 1) * p)
    h = rgrad.lgamma(m + 1) + rgrad.lgamma(n - m + 1)
    out = rgrad.zeros(shape, dtype=dtype, device=dev)
    done = rgrad.zeros(shape, dtype=rgrad.bool, device=dev)
    for _ in range(_MAX_ROUNDS):
        u = rgrad.rand(shape, dtype=dtype, device=dev) - 0.5
        v = rgrad.rand(shape, dtype=dtype, device=dev)
        us = 0.5 - u.abs()
        k = rgrad.floor((2 * a / us + b) * u + c)
        inside = (k >= 0) & (k <= n)
        quick = inside & (us >= 0.07) & (v <= vr)
        kk = k.clamp(min=0) * inside.to(dtype)
        kk = rgrad.minimum(kk, n)
        lv = rgrad.log(v * alpha / (a / (us * us) + b))
        bound = h - rgrad.lgamma(kk + 1) - rgrad.lgamma(n - kk + 1) + (kk - m) * lpq
        accept = quick | (inside & (lv <= bound))
        out, done = _fill_accepted(out, done, k, accept)
        if bool(done.all()):
            break
    return out
