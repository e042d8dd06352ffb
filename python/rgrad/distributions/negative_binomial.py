"""``NegativeBinomial(total_count, probs=... | logits=...)``: successes before total_count
failures (a Gamma-Poisson mixture for sampling)."""

import rgrad
from rgrad.distributions import constraints
from rgrad.distributions._samplers import poisson
from rgrad.distributions.distribution import Distribution
from rgrad.distributions.gamma import Gamma
from rgrad.distributions.utils import (
    binary_probs_logits,
    expand_probs_or_logits,
    lazy_property,
    set_probs_or_logits,
)
from rgrad.nn import functional as F

__all__ = ["NegativeBinomial"]


class NegativeBinomial(Distribution):
    arg_constraints = {
        "total_count": constraints.greater_than_eq(0),
        "probs": constraints.half_open_interval(0.0, 1.0),
        "logits": constraints.real,
    }
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        set_probs_or_logits(self, probs, logits, total_count)
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(NegativeBinomial, _instance)
        batch_shape = rgrad.Size(batch_shape)
        new.total_count = self.total_count.expand(batch_shape)
        expand_probs_or_logits(self, new, batch_shape)
        super(NegativeBinomial, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.total_count * rgrad.exp(self.logits)

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / rgrad.sigmoid(-self.logits)

    logits, probs = binary_probs_logits()

    @property
    def param_shape(self):
        return self._param.size()

    @lazy_property
    def _gamma(self):
        return Gamma(
            concentration=self.total_count, rate=rgrad.exp(-self.logits), validate_args=False
        )

    def sample(self, sample_shape=()):
        with rgrad.no_grad():
            return poisson(self._gamma.sample(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n = self.total_count
        unnormalized = n * F.logsigmoid(-self.logits) + value * F.logsigmoid(self.logits)
        normalization = -rgrad.lgamma(n + value) + rgrad.lgamma(1.0 + value) + rgrad.lgamma(n)
        # n + k == 0: the pmf is 1 there (lgamma terms cancel to 0, not inf - inf).
        normalization = rgrad.where(
            n + value == 0.0, rgrad.zeros_like(normalization), normalization
        )
        return unnormalized - normalization
