"""``Categorical(probs=... | logits=...)`` over ``{0, ..., K-1}``."""

import math

import rgrad
from rgrad.distributions import constraints
from rgrad.distributions.distribution import Distribution
from rgrad.distributions.utils import (
    expand_probs_or_logits,
    lazy_property,
    logits_to_probs,
    probs_to_logits,
)

__all__ = ["Categorical"]


def _draw_with_replacement(rows, num_samples):
    """``rgrad.multinomial(rows, num_samples, True)`` in core ops: the same float64 uniforms,
    inverted through each row's normalised cumulative sums (an index counts the sums at or
    below its uniform, as multinomial's search does), so the draws are identical, without
    multinomial's trip through NumPy (about 0.1 ms for a single draw)."""
    if rows.device.type != "cpu":  # float64 may not exist on the device
        return rgrad.multinomial(rows, num_samples, True)
    # (NaN fails both comparisons.)
    if not (bool((rows >= 0).all()) and bool((rows < math.inf).all())):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    cdf = rows.double().cumsum(-1)
    if bool((cdf[:, -1] <= 0).any()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    cdf = cdf / cdf[:, -1:]
    u = rgrad.rand(rows.shape[0], num_samples, dtype=rgrad.float64)
    below = (cdf.unsqueeze(1) <= u.unsqueeze(-1)).sum(-1)
    return below.clamp(max=rows.shape[-1] - 1)


class Categorical(Distribution):
    """Categories indexed by the last dimension of ``probs`` (normalised to sum to 1) or
    ``logits`` (normalised to log-sum-exp 0)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.size()[-1]
        batch_shape = self._param.size()[:-1] if self._param.dim() > 1 else rgrad.Size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Categorical, _instance)
        batch_shape = rgrad.Size(batch_shape)
        param_shape = batch_shape + rgrad.Size((self._num_events,))
        expand_probs_or_logits(self, new, param_shape)
        new._num_events = self._num_events
        super(Categorical, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def param_shape(self):
        return self._param.size()

    @property
    def mean(self):
        return rgrad.full_like(self._param[..., 0], math.nan).expand(tuple(self._extended_shape()))

    @property
    def mode(self):
        return self.probs.argmax(dim=-1)

    @property
    def variance(self):
        return rgrad.full_like(self._param[..., 0], math.nan).expand(tuple(self._extended_shape()))

    def sample(self, sample_shape=()):
        sample_shape = rgrad.Size(sample_shape)
        probs_2d = self.probs.detach().reshape(-1, self._num_events)
        draws = _draw_with_replacement(probs_2d, sample_shape.numel()).T
        return draws.reshape(tuple(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        log_pmf = self.logits
        if value.shape[:-1] != log_pmf.shape[:-1]:  # (the common case needs no broadcast)
            value, log_pmf = rgrad.broadcast_tensors(value, log_pmf)
            value = value[..., :1]
        return log_pmf.gather(-1, value).squeeze(-1)

    def entropy(self):
        # logits of zero-probability classes are -inf: clamp so 0 * logit is 0, not nan.
        logits = rgrad.clamp(self.logits, min=rgrad.finfo(self.logits.dtype).min)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = rgrad.arange(self._num_events, dtype=rgrad.int64, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values
