"""``Multinomial(total_count, probs=... | logits=...)``: category counts of total_count draws."""

import math

import rgrad
from rgrad.distributions import constraints
from rgrad.distributions.binomial import Binomial
from rgrad.distributions.categorical import Categorical
from rgrad.distributions.distribution import Distribution
from rgrad.distributions.utils import broadcast_all

__all__ = ["Multinomial"]


class Multinomial(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        batch_shape = rgrad.Size(batch_shape)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = self._binomial.expand(batch_shape + self.event_shape)
        super(Multinomial, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def param_shape(self):
        return self._categorical.param_shape

    def sample(self, sample_shape=()):
        sample_shape = rgrad.Size(sample_shape)
        draws = self._categorical.sample(rgrad.Size((self.total_count,)) + sample_shape)
        # The draw dimension goes last, then each draw adds one to its category.
        order = list(range(1, draws.dim())) + [0]
        draws = draws.permute(*order)
        counts = rgrad.zeros(
            tuple(self._extended_shape(sample_shape)), dtype=draws.dtype, device=draws.device
        )
        counts = counts.scatter_add(-1, draws, rgrad.ones_like(draws))
        return counts.type_as(self.probs)

    def entropy(self):
        n = rgrad.tensor(self.total_count, dtype=self.probs.dtype, device=self.probs.device)
        term1 = n * self._categorical.entropy() - rgrad.lgamma(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = rgrad.exp(self._binomial.log_prob(support))
        weights = rgrad.lgamma(support + 1)
        term2 = (binomial_probs * weights).sum(0).sum(-1)
        return term1 + term2

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        # 0 * -inf is 0 for categories of probability 0 that were not drawn.
        logits = rgrad.where((value == 0) & (logits == -math.inf), rgrad.zeros_like(logits), logits)
        log_factorial_n = rgrad.lgamma(value.sum(-1) + 1)
        log_factorial_xs = rgrad.lgamma(value + 1).sum(-1)
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)
