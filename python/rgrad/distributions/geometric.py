"""``Geometric(probs=... | logits=...)``: failures before the first success."""

import rgrad
from rgrad.distributions import constraints
from rgrad.distributions._common import empty_like_param
from rgrad.distributions.distribution import Distribution
from rgrad.distributions.utils import (
    binary_probs_logits,
    broadcast_all,
    expand_probs_or_logits,
    set_probs_or_logits,
)
from rgrad.nn import functional as F

__all__ = ["Geometric"]


class Geometric(Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        scalar = set_probs_or_logits(self, probs, logits)
        given = probs if probs is not None else logits
        batch_shape = rgrad.Size() if scalar else given.size()
        super().__init__(batch_shape, validate_args=validate_args)
        if self._validate_args and probs is not None:
            value = self.probs
            valid = value > 0
            if not bool(valid.all()):
                raise ValueError(
                    f"Expected parameter probs ({type(value).__name__} of shape "
                    f"{tuple(value.shape)}) of distribution {self!r} to be positive but found "
                    f"invalid values:\n{value.detach().reshape(-1)[~valid.reshape(-1)]}"
                )

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Geometric, _instance)
        batch_shape = rgrad.Size(batch_shape)
        expand_probs_or_logits(self, new, batch_shape)
        super(Geometric, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return rgrad.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    logits, probs = binary_probs_logits()

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        tiny = rgrad.finfo(self.probs.dtype).tiny
        with rgrad.no_grad():
            u = empty_like_param(self.probs, shape).uniform_(tiny, 1)
            return (u.log() / (-self.probs).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # p == 1 and k == 0: 0 * log(0) is 0, not nan.
        probs = rgrad.where((probs == 1) & (value == 0), rgrad.zeros_like(probs), probs)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        bce = F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")
        return bce / self.probs
