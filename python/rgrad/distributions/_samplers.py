"""Samplers that need rejection loops: Gamma (Marsaglia-Tsang), Poisson (Hormann's PTRS for
rates >= 10, products of uniforms below) and Binomial (Hormann's BTRS, geometric inversion
below): Rust kernels (``rgrad_core::ops::samplers``, PyTorch's algorithms) drawing from
a generator (the global one unless ``generator=``), so ``manual_seed`` reproduces them. No
gradient here; the reparameterised Gamma gradient is ``_gamma_grad.standard_gamma_grad``.
"""

import rgrad
from rgrad import _rgrad


def standard_gamma(concentration, generator=None):
    """Gamma(concentration, 1) samples (no gradient), at least the dtype's smallest normal
    number, as PyTorch's ``_standard_gamma``."""
    return _rgrad._standard_gamma(concentration.detach(), generator=generator)


def poisson(rate, generator=None):
    """Poisson(rate) counts as floats of rate's dtype (no gradient)."""
    return _rgrad._poisson(rate.detach(), generator=generator)


def binomial(count, prob, generator=None):
    """Binomial(count, prob) counts as floats (no gradient); count and prob broadcast."""
    if not count.is_floating_point():
        raise ValueError(
            f"binomial only supports floating-point dtypes for count, got: "
            f"{str(count.dtype).rsplit('.', 1)[-1].replace('int64', 'Long')}"
        )
    count, prob = rgrad.broadcast_tensors(count.detach(), prob.detach())
    return _rgrad._binomial(
        count.contiguous(), prob.to(count.dtype).contiguous(), generator=generator
    )
