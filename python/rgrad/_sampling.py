"""Sampling of ``torch.*`` and ``Tensor``: ``bernoulli``, ``multinomial``, ``normal`` and the
``random_`` method, argument glue around one core op each (``rgrad_core::ops::sampling``),
which checks the arguments, draws from ``generator=`` (the default generator when None) and
writes the result. The other in-place samplers (``bernoulli_``, ``exponential_``,
``geometric_``, ``log_normal_``, ``cauchy_``, ``uniform_``, ``normal_``) are compiled methods.
"""

from __future__ import annotations

from rgrad import _rgrad
from rgrad._errors import wrap_module

Tensor = _rgrad.Tensor

__all__ = [
    "bernoulli",
    "multinomial",
    "normal",
]


def bernoulli(input, p=None, *, generator=None, out=None):
    """Ones with probability ``p``, or with the probability each element of ``input`` holds."""
    return _rgrad._bernoulli(input, p, generator=generator)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices drawn from the rows of ``input`` (non-negative weights), by the core's
    ``multinomial``, from ``generator`` (the global one when None)."""
    return input._multinomial(num_samples, replacement, None, generator)


def normal(
    mean,
    std=1.0,
    size=None,
    *,
    generator=None,
    out=None,
    dtype=None,
    device=None,
    requires_grad=False,
):
    """Samples of N(mean, std): tensors broadcast together (no gradient reaches them), or
    numbers with ``size``."""
    return _rgrad._normal(
        mean,
        std,
        size,
        generator=generator,
        dtype=dtype,
        device=device,
        requires_grad=requires_grad,
    )


_NO_TO = object()


def _random_(self, from_=_NO_TO, to=_NO_TO, *, generator=None):
    """``random_()``: the dtype's whole range; ``random_(to)``: [0, to); ``random_(from, to)``."""
    if to is _NO_TO and from_ is not _NO_TO:
        from_, to = 0, from_  # random_(to)
    if from_ is _NO_TO:
        from_ = 0
    return self._random_(from_, None if to is _NO_TO else to, generator=generator)


wrap_module(globals(), __all__)
