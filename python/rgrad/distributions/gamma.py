"""``Gamma(concentration, rate)``."""

import rgrad
from rgrad.distributions import constraints
from rgrad.distributions._common import expand_params, is_number
from rgrad.distributions._gamma_grad import standard_gamma_rsample
from rgrad.distributions.exp_family import ExponentialFamily
from rgrad.distributions.utils import broadcast_all

__all__ = ["Gamma"]


def _standard_gamma(concentration):
    return standard_gamma_rsample(concentration)


class Gamma(ExponentialFamily):
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        scalar = is_number(concentration) and is_number(rate)
        batch_shape = rgrad.Size() if scalar else self.concentration.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(self, Gamma, batch_shape, _instance, ("concentration", "rate"))

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        x = _standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        return x.clamp(min=rgrad.finfo(x.dtype).tiny)

    def log_prob(self, value):
        if not isinstance(value, rgrad.Tensor):
            value = rgrad.tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        if self._validate_args:
            self._validate_sample(value)
        return (
            rgrad.xlogy(self.concentration, self.rate)
            + rgrad.xlogy(self.concentration - 1, value)
            - self.rate * value
            - rgrad.lgamma(self.concentration)
        )

    def entropy(self):
        a = self.concentration
        return a - rgrad.log(self.rate) + rgrad.lgamma(a) + (1.0 - a) * rgrad.digamma(a)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return rgrad.special.gammainc(self.concentration, self.rate * value)

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return rgrad.lgamma(x + 1) + (x + 1) * rgrad.log(-y.reciprocal())
