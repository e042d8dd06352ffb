"""Sampling of ``torch.*`` and ``Tensor``: ``bernoulli``, ``multinomial``, ``normal`` and the
in-place samplers (``bernoulli_``, ``exponential_``, ``geometric_``, ``log_normal_``,
``cauchy_``, ``random_``), each drawing from the core's generators (``generator=``, or the
default one).
"""

from __future__ import annotations

from rgrad import _rgrad
from rgrad._errors import wrap_module
from rgrad._shape_ops import (
    broadcast_shapes,
)

Tensor = _rgrad.Tensor

__all__ = [
    "bernoulli",
    "multinomial",
    "normal",
]


# ---- sampling --------------------------------------------------------------------------------


def _rand_like(t, generator=None):
    from rgrad.random import rand

    return rand(
        *t.shape,
        generator=generator,
        dtype=t.dtype if t.is_floating_point() else None,
        device=t.device,
    )


def _sampled(kind, like, a, b=0.0, generator=None, dtype=None):
    """Draws of ``kind`` of ``like``'s shape in the core (on the host: the same numbers for
    every device)."""
    return _rgrad._sample_distribution(
        kind, tuple(like.shape), dtype or like.dtype, a, b, generator=generator
    )


def _num(v):
    """A number as PyTorch's messages print it (C++ stream style: ``-1``, ``1.5``, ``nan``)."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


_P_IN_RANGE = (
    "Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error message be "
    "improved?  If so, please report an enhancement request to PyTorch.)"
)


def _check_probabilities(p):
    """A tensor of probabilities: every element in [0, 1] (NaN is not)."""
    p = p.detach()
    if not bool(((p >= 0) & (p <= 1)).all()):
        raise RuntimeError(_P_IN_RANGE)


def _check_p(p):
    if not 0 <= p <= 1:  # also refuses NaN
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_num(p)}")


def bernoulli(input, p=None, *, generator=None, out=None):
    if not input.is_floating_point():
        raise RuntimeError(f'"bernoulli_tensor_cpu_self_" not implemented for {input.dtype}')
    if p is None:
        probs = input.detach()
        _check_probabilities(probs)
    else:
        _check_p(p)
        return _sampled("bernoulli", input, float(p), generator=generator).to(input.device)
    return (_rand_like(probs, generator) < probs).to(input.dtype)


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
    """Samples of N(mean, std): tensors broadcast together, or numbers with ``size``."""
    from rgrad.random import randn

    if not isinstance(std, Tensor) and not std >= 0:  # also refuses NaN
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_num(std)}")
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        if size is None:
            raise TypeError("normal() missing 1 required positional argument: 'size'")
        z = randn(*size, generator=generator, dtype=dtype, device=device)
        out = z * std + mean
        return out.requires_grad_(requires_grad) if requires_grad else out
    if isinstance(std, Tensor) and not bool((std.detach() >= 0).all()):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    shapes = [t.shape for t in (mean, std) if isinstance(t, Tensor)]
    shape = broadcast_shapes(*shapes)
    like = mean if isinstance(mean, Tensor) else std
    dt = like.dtype if like.is_floating_point() else None
    z = randn(*shape, generator=generator, dtype=dt, device=like.device)
    m = mean.detach() if isinstance(mean, Tensor) else mean
    s = std.detach() if isinstance(std, Tensor) else std
    return z * s + m


def _bernoulli(self, p=None, *, generator=None):
    return bernoulli(self, p, generator=generator)


def _bernoulli_(self, p=0.5, *, generator=None):
    if isinstance(p, Tensor):
        _check_probabilities(p.detach())
        draw = _rand_like(self if self.is_floating_point() else p, generator) < p.detach()
    else:
        _check_p(p)
        # float32 uniforms for a non-float tensor, as rand_like would draw
        dt = self.dtype if self.is_floating_point() else _rgrad.float32
        draw = _sampled("bernoulli", self, float(p), generator=generator, dtype=dt)
    return self.copy_(draw.to(self.dtype))


def _float_sampler(self, name):
    if not self.is_floating_point():
        raise RuntimeError(f'"{name}_cpu" not implemented for {self.dtype}')


def _exponential_(self, lambd=1.0, *, generator=None):
    _float_sampler(self, "exponential")
    if not lambd > 0:  # also refuses NaN
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_num(lambd)}")
    return self.copy_(_sampled("exponential", self, float(lambd), generator=generator))


def _geometric_(self, p, *, generator=None):
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_num(p)}")
    return self.copy_(_sampled("geometric", self, float(p), generator=generator))


def _log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    _float_sampler(self, "log_normal")
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_num(std)}")
    return self.copy_(_sampled("log_normal", self, float(mean), float(std), generator=generator))


def _cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    _float_sampler(self, "cauchy")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_num(sigma)}")
    return self.copy_(_sampled("cauchy", self, float(median), float(sigma), generator=generator))


_INT_RANGE = {
    "rgrad.int32": (-(2**31), 2**31 - 1, "int"),
    "rgrad.int64": (-(2**63), 2**63 - 1, "long"),
}
_NO_TO = object()


def _random_(self, from_=_NO_TO, to=_NO_TO, *, generator=None):
    """``random_()``: the dtype's whole range; ``random_(to)``: [0, to); ``random_(from, to)``."""
    from rgrad.random import randint

    if to is _NO_TO and from_ is not _NO_TO:
        from_, to = 0, from_  # random_(to)
    if from_ is _NO_TO:
        from_ = 0
    if to is _NO_TO or to is None:
        if self.is_floating_point():
            to = 2**24 if str(self.dtype) == "rgrad.float32" else 2**53
        elif str(self.dtype) == "rgrad.bool":
            to = 2
        else:
            to = 2**31 if str(self.dtype) == "rgrad.int32" else 2**63 - 1
    if from_ >= to:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}"
        )
    bounds = _INT_RANGE.get(str(self.dtype))
    if bounds is not None:
        lo, hi, cname = bounds
        if not lo <= from_ <= hi:
            raise RuntimeError(f"from is out of bounds for {cname}")
        if not lo <= to - 1 <= hi:
            raise RuntimeError(f"to - 1 is out of bounds for {cname}")
    draw = randint(from_, to, tuple(self.shape), generator=generator)
    return self.copy_(draw.to(self.dtype))


wrap_module(globals(), __all__)
