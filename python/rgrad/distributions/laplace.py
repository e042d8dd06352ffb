"""``Laplace(loc, scale)``."""

import rgrad
from rgrad.distributions import constraints
from rgrad.distributions._common import empty_like_param, expand_params, is_number
from rgrad.distributions.distribution import Distribution
from rgrad.distributions.utils import broadcast_all

__all__ = ["Laplace"]


class Laplace(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        scalar = is_number(loc) and is_number(scale)
        batch_shape = rgrad.Size() if scalar else self.loc.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(self, Laplace, batch_shape, _instance, ("loc", "scale"))

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return (2**0.5) * self.scale

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = rgrad.finfo(self.loc.dtype).eps
        # u in (-1, 1) away from -1, so log1p(-|u|) stays finite.
        u = empty_like_param(self.loc, shape).uniform_(eps - 1, 1)
        return self.loc - self.scale * u.sign() * rgrad.log1p(-u.abs())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -rgrad.log(2 * self.scale) - rgrad.abs(value - self.loc) / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        d = value - self.loc
        return 0.5 - 0.5 * d.sign() * rgrad.expm1(-d.abs() / self.scale)

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * rgrad.log1p(-2 * term.abs())

    def entropy(self):
        return 1 + rgrad.log(2 * self.scale)
