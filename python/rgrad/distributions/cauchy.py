"""``Cauchy(loc, scale)``."""

import math

import rgrad
from rgrad.distributions import constraints
from rgrad.distributions._common import empty_like_param, expand_params, is_number
from rgrad.distributions.distribution import Distribution
from rgrad.distributions.utils import broadcast_all

__all__ = ["Cauchy"]


class Cauchy(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        scalar = is_number(loc) and is_number(scale)
        batch_shape = rgrad.Size() if scalar else self.loc.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(self, Cauchy, batch_shape, _instance, ("loc", "scale"))

    @property
    def mean(self):
        return rgrad.full_like(self.loc, math.nan).expand(tuple(self._extended_shape()))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return rgrad.full_like(self.loc, math.inf).expand(tuple(self._extended_shape()))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = empty_like_param(self.loc, shape).cauchy_()
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -math.log(math.pi) - self.scale.log() - (z**2).log1p()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return rgrad.atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        return rgrad.tan(math.pi * (value - 0.5)) * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()
