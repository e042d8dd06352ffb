"""``StudentT(df, loc=0, scale=1)``."""

import math

import rgrad
from rgrad.distributions import constraints
from rgrad.distributions.chi2 import Chi2
from rgrad.distributions.distribution import Distribution
from rgrad.distributions.utils import _standard_normal, broadcast_all

__all__ = ["StudentT"]


class StudentT(Distribution):
    arg_constraints = {
        "df": constraints.positive,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)
        super().__init__(self.df.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(StudentT, _instance)
        batch_shape = rgrad.Size(batch_shape)
        new.df = self.df.expand(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new._chi2 = self._chi2.expand(batch_shape)
        super(StudentT, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return rgrad.where(self.df <= 1, rgrad.full_like(self.loc, math.nan), self.loc)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        finite = self.scale.pow(2) * df / rgrad.where(df > 2, df - 2, rgrad.ones_like(df))
        out = rgrad.where(df > 2, finite, rgrad.full_like(df, math.inf))
        return rgrad.where(df <= 1, rgrad.full_like(df, math.nan), out)

    def rsample(self, sample_shape=()):
        # X / sqrt(Z / df) with X ~ N(0, 1), Z ~ Chi2(df).
        shape = self._extended_shape(sample_shape)
        x = _standard_normal(shape, dtype=self.df.dtype, device=self.df.device)
        z = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * x * rgrad.rsqrt(z / self.df)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        norm = (
            self.scale.log()
            + 0.5 * self.df.log()
            + 0.5 * math.log(math.pi)
            + rgrad.lgamma(0.5 * self.df)
            - rgrad.lgamma(0.5 * (self.df + 1.0))
        )
        return -0.5 * (self.df + 1.0) * rgrad.log1p(y**2.0 / self.df) - norm

    def entropy(self):
        df = self.df
        lbeta = rgrad.lgamma(0.5 * df) + math.lgamma(0.5) - rgrad.lgamma(0.5 * (df + 1))
        return (
            self.scale.log()
            + 0.5 * (df + 1) * (rgrad.digamma(0.5 * (df + 1)) - rgrad.digamma(0.5 * df))
            + 0.5 * df.log()
            + lbeta
        )
