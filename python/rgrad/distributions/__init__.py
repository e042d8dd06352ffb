"""``rgrad.distributions``: PyTorch's ``torch.distributions`` (the same classes, module paths,
shapes, validation messages and numbers)."""

from rgrad.distributions import constraints, transforms, utils  # noqa: F401
from rgrad.distributions.bernoulli import Bernoulli
from rgrad.distributions.beta import Beta
from rgrad.distributions.binomial import Binomial
from rgrad.distributions.categorical import Categorical
from rgrad.distributions.cauchy import Cauchy
from rgrad.distributions.chi2 import Chi2
from rgrad.distributions.constraint_registry import biject_to, transform_to
from rgrad.distributions.dirichlet import Dirichlet
from rgrad.distributions.distribution import Distribution
from rgrad.distributions.exp_family import ExponentialFamily
from rgrad.distributions.exponential import Exponential
from rgrad.distributions.gamma import Gamma
from rgrad.distributions.geometric import Geometric
from rgrad.distributions.gumbel import Gumbel
from rgrad.distributions.half_cauchy import HalfCauchy
from rgrad.distributions.half_normal import HalfNormal
from rgrad.distributions.independent import Independent
from rgrad.distributions.inverse_gamma import InverseGamma
from rgrad.distributions.kl import kl_divergence, register_kl
from rgrad.distributions.laplace import Laplace
from rgrad.distributions.log_normal import LogNormal
from rgrad.distributions.lowrank_multivariate_normal import LowRankMultivariateNormal
from rgrad.distributions.mixture_same_family import MixtureSameFamily
from rgrad.distributions.multinomial import Multinomial
from rgrad.distributions.multivariate_normal import MultivariateNormal
from rgrad.distributions.negative_binomial import NegativeBinomial
from rgrad.distributions.normal import Normal
from rgrad.distributions.one_hot_categorical import (
    OneHotCategorical,
    OneHotCategoricalStraightThrough,
)
from rgrad.distributions.pareto import Pareto
from rgrad.distributions.poisson import Poisson
from rgrad.distributions.relaxed_bernoulli import RelaxedBernoulli
from rgrad.distributions.relaxed_categorical import RelaxedOneHotCategorical
from rgrad.distributions.studentT import StudentT
from rgrad.distributions.transformed_distribution import TransformedDistribution
from rgrad.distributions.transforms import *  # noqa: F403
from rgrad.distributions.uniform import Uniform
from rgrad.distributions.weibull import Weibull

__all__ = [
    "Weibull",
    "Pareto",
    "NegativeBinomial",
    "Multinomial",
    "InverseGamma",
    "HalfCauchy",
    "Gumbel",
    "Bernoulli",
    "Beta",
    "Binomial",
    "Categorical",
    "Cauchy",
    "Chi2",
    "Dirichlet",
    "Distribution",
    "Exponential",
    "ExponentialFamily",
    "Gamma",
    "Geometric",
    "HalfNormal",
    "Independent",
    "Laplace",
    "LogNormal",
    "LowRankMultivariateNormal",
    "MixtureSameFamily",
    "MultivariateNormal",
    "Normal",
    "OneHotCategorical",
    "OneHotCategoricalStraightThrough",
    "Poisson",
    "RelaxedBernoulli",
    "RelaxedOneHotCategorical",
    "StudentT",
    "TransformedDistribution",
    "Uniform",
    "biject_to",
    "kl_divergence",
    "register_kl",
    "transform_to",
]
__all__.extend(transforms.__all__)
