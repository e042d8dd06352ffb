"""``Dirichlet(concentration)`` on the simplex."""

import rgrad
from rgrad.distributions import constraints
from rgrad.distributions._gamma_grad import standard_gamma_rsample
from rgrad.distributions.exp_family import ExponentialFamily
from rgrad.nn import functional as F

__all__ = ["Dirichlet"]


class Dirichlet(ExponentialFamily):
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        shape = concentration.shape
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = rgrad.Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape + self.event_shape)
        super(Dirichlet, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        # Normalised Gamma(alpha_i, 1) draws; the gradient flows through each draw's
        # implicit reparameterisation and the normalisation.
        shape = tuple(self._extended_shape(sample_shape))
        gammas = standard_gamma_rsample(self.concentration.expand(shape))
        x = gammas / gammas.sum(-1, keepdim=True)
        return x.clamp(min=rgrad.finfo(x.dtype).tiny)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return (
            rgrad.xlogy(c - 1.0, value).sum(-1) + rgrad.lgamma(c.sum(-1)) - rgrad.lgamma(c).sum(-1)
        )

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, True)

    @property
    def mode(self):
        cm1 = (self.concentration - 1).clamp(min=0.0)
        mode = cm1 / cm1.sum(-1, True)
        # All concentrations below 1: the density peaks at a vertex (the largest weight).
        below = (self.concentration < 1).all(dim=-1, keepdim=True)
        vertex = F.one_hot(mode.argmax(dim=-1), cm1.shape[-1]).to(mode.dtype)
        return rgrad.where(below, vertex, mode)

    @property
    def variance(self):
        c = self.concentration
        c0 = c.sum(-1, True)
        return c * (c0 - c) / (c0.pow(2) * (c0 + 1))

    def entropy(self):
        c = self.concentration
        k = c.size(-1)
        a0 = c.sum(-1)
        return (
            rgrad.lgamma(c).sum(-1)
            - rgrad.lgamma(a0)
            - (k - a0) * rgrad.digamma(a0)
            - ((c - 1.0) * rgrad.digamma(c)).sum(-1)
        )

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return x.lgamma().sum(-1) - rgrad.lgamma(x.sum(-1))
