"""Gradients of rgrad.distributions in float64 (issue 15's Done-when: "gradcheck covers every
reparameterised sampler"):

- ``rsample`` of every family with ``has_rsample`` (batched parameters): gradcheck with the
  generator reseeded inside the function, so that each evaluation draws the same noise and the
  sample is a smooth function of the parameters;
- Gamma, Chi2, Beta, Dirichlet, InverseGamma and StudentT's degrees of freedom, whose samplers
  reject and whose gradient is the implicit one (``_standard_gamma_grad``): per sample, the
  gradient of a Gamma draw is checked against ``-(dP(a, x)/da) / p(x; a)`` with ``dP/da`` by
  central differences of ``special.gammainc``; and d/dtheta E[f(x)] from the per-sample
  pathwise gradients against the closed form, within five standard errors;
- ``log_prob`` (parameters and value), ``entropy``, ``cdf`` and ``icdf`` of every family:
  gradcheck and gradgradcheck.
"""

import math

import numpy as np
import pytest

import rgrad
import rgrad.distributions as D
from rgrad.autograd import gradcheck, gradgradcheck

F64 = rgrad.float64


def t64(rows):
    return rgrad.tensor(rows, dtype=F64, requires_grad=True)


def _pos(x):
    return x.exp()


# ---- rsample: the sample at fixed noise is a smooth function of the parameters --------------

# name -> (builder of the distribution from the parameters, parameter values)
LOC = [[0.3, -0.7, 1.1], [-0.2, 0.5, 0.15]]
SCALE = [[0.8, 1.4, 0.6], [1.1, 0.5, 2.0]]
RSAMPLE = {
    "Normal": (lambda a, b: D.Normal(a, b), [LOC, SCALE]),
    "LogNormal": (lambda a, b: D.LogNormal(a, b), [LOC, SCALE]),
    "Uniform": (lambda a, b: D.Uniform(a, a + b), [LOC, SCALE]),
    "Exponential": (lambda b: D.Exponential(b), [SCALE]),
    "Laplace": (lambda a, b: D.Laplace(a, b), [LOC, SCALE]),
    "Cauchy": (lambda a, b: D.Cauchy(a, b), [LOC, SCALE]),
    "Gumbel": (lambda a, b: D.Gumbel(a, b), [LOC, SCALE]),
    "HalfNormal": (lambda b: D.HalfNormal(b), [SCALE]),
    "HalfCauchy": (lambda b: D.HalfCauchy(b), [SCALE]),
    "Pareto": (lambda a, b: D.Pareto(a, b + 1.0), [SCALE, SCALE]),
    "Weibull": (lambda a, b: D.Weibull(a, b + 0.5), [SCALE, SCALE]),
    # Gamma-based families w.r.t. the parameters the rejection sampler does not see.
    "Gamma_rate": (lambda b: D.Gamma(rgrad.full((2, 3), 2.5, dtype=F64), b), [SCALE]),
    "InverseGamma_rate": (lambda b: D.InverseGamma(rgrad.full((2, 3), 3.0, dtype=F64), b), [SCALE]),
    "StudentT_loc_scale": (
        lambda a, b: D.StudentT(rgrad.full((2, 3), 4.0, dtype=F64), a, b),
        [LOC, SCALE],
    ),
    "RelaxedBernoulli": (lambda a, t: D.RelaxedBernoulli(t[0, 0], logits=a), [LOC, SCALE]),
    "RelaxedBernoulli_probs": (
        lambda a, t: D.RelaxedBernoulli(t, probs=a.sigmoid()),
        [LOC, SCALE],
    ),
    "LogitRelaxedBernoulli": (
        lambda a, t: D.relaxed_bernoulli.LogitRelaxedBernoulli(t, logits=a),
        [LOC, SCALE],
    ),
    "RelaxedOneHotCategorical": (
        lambda a, t: D.RelaxedOneHotCategorical(t[0, 0], logits=a),
        [LOC, SCALE],
    ),
    "RelaxedOneHotCategorical_probs": (
        lambda a, t: D.RelaxedOneHotCategorical(t[:, :1], probs=a.softmax(-1)),
        [LOC, SCALE],
    ),
    "ExpRelaxedCategorical": (
        lambda a, t: D.relaxed_categorical.ExpRelaxedCategorical(t[0, 0], logits=a),
        [LOC, SCALE],
    ),
    "Independent": (lambda a, b: D.Independent(D.Normal(a, b), 1), [LOC, SCALE]),
    "Transformed_Tanh_Affine": (
        lambda a, b: D.TransformedDistribution(
            D.Normal(a, b), [D.TanhTransform(), D.AffineTransform(0.5, 2.0)]
        ),
        [LOC, SCALE],
    ),
    "Transformed_Sigmoid_Exp": (
        lambda a, b: D.TransformedDistribution(
            D.Normal(a, b), D.ComposeTransform([D.SigmoidTransform(), D.ExpTransform()])
        ),
        [LOC, SCALE],
    ),
    "Transformed_StickBreaking": (
        lambda a, b: D.TransformedDistribution(
            D.Independent(D.Normal(a, b), 1), D.StickBreakingTransform()
        ),
        [LOC, SCALE],
    ),
    "Transformed_Softmax": (
        lambda a, b: D.TransformedDistribution(
            D.Independent(D.Normal(a, b), 1), D.SoftmaxTransform()
        ),
        [LOC, SCALE],
    ),
    "Transformed_Affine_tensor_params": (
        # The transform's parameters take the gradient too.
        lambda a, b: D.TransformedDistribution(
            D.Normal(rgrad.zeros(2, 3, dtype=F64), 1.0), D.AffineTransform(a, b)
        ),
        [LOC, SCALE],
    ),
    "MultivariateNormal_scale_tril": (
        lambda a, b: D.MultivariateNormal(a, scale_tril=_tril(b)),
        [LOC, [[[1.2, 0.0, 0.0], [0.4, 0.7, 0.0], [-0.3, 0.2, 0.9]]] * 2],
    ),
    "MultivariateNormal_covariance": (
        lambda a, b: D.MultivariateNormal(a, covariance_matrix=_spd(b)),
        [LOC, [[[1.2, 0.1, 0.0], [0.4, 0.7, 0.3], [-0.3, 0.2, 0.9]]] * 2],
    ),
    "MultivariateNormal_precision": (
        lambda a, b: D.MultivariateNormal(a, precision_matrix=_spd(b)),
        [LOC, [[[1.2, 0.1, 0.0], [0.4, 0.7, 0.3], [-0.3, 0.2, 0.9]]] * 2],
    ),
    "LowRankMultivariateNormal": (
        lambda a, f, d: D.LowRankMultivariateNormal(a, f, d),
        [LOC, [[[0.5], [1.0], [-0.4]], [[0.2], [-0.3], [0.8]]], SCALE],
    ),
}


def _tril(b):
    return b.tril()


def _spd(b):
    return b @ b.mT + rgrad.eye(3, dtype=b.dtype)


# Families whose concentration-like parameters go through the implicit gradient below.
IMPLICIT = {"Gamma", "Chi2", "Beta", "Dirichlet", "InverseGamma", "StudentT"}
# rsample whose gradient is by design not the derivative of the sample (straight-through).
STRAIGHT_THROUGH = {"OneHotCategoricalStraightThrough"}


@pytest.mark.parametrize("name", sorted(RSAMPLE))
def test_rsample_gradcheck(name):
    make, values = RSAMPLE[name]
    params = [t64(v) for v in values]
    # PyTorch's LogitRelaxedBernoulli has an rsample but does not set has_rsample.
    assert make(*params).has_rsample is (name != "LogitRelaxedBernoulli")

    def draw(*ps):
        rgrad.manual_seed(17)
        return make(*ps).rsample((2,))

    x = draw(*params)
    assert x.requires_grad
    assert gradcheck(draw, params, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "name",
    ["Normal", "Gumbel", "MultivariateNormal_scale_tril", "LowRankMultivariateNormal", "Pareto"],
)
def test_rsample_gradgradcheck(name):
    make, values = RSAMPLE[name]
    params = [t64(v) for v in values]

    def draw(*ps):
        rgrad.manual_seed(17)
        return make(*ps).rsample((2,))

    assert gradgradcheck(draw, params, eps=1e-6, atol=1e-5)


def _classes_with_rsample():
    import rgrad.distributions.relaxed_bernoulli as rb
    import rgrad.distributions.relaxed_categorical as rc

    found = set()
    for module in (D, rb, rc):
        for name in dir(module):
            cls = getattr(module, name)
            if not (isinstance(cls, type) and issubclass(cls, D.Distribution)):
                continue
            if cls in (D.Independent, D.TransformedDistribution):
                continue  # has_rsample is the base distribution's
            if cls.__dict__.get("has_rsample", None) is True or (
                cls.has_rsample is True and cls.__module__.startswith("rgrad.distributions")
            ):
                found.add(cls.__name__)
    return found


def test_every_family_with_rsample_is_checked():
    checked = {n.split("_")[0] for n in RSAMPLE} | IMPLICIT | STRAIGHT_THROUGH
    missing = _classes_with_rsample() - checked
    assert not missing, missing
    # ... and no family claims rsample that PyTorch does not reparameterise.
    assert (
        not {"Bernoulli", "Categorical", "Poisson", "MixtureSameFamily"} & _classes_with_rsample()
    )


def test_straight_through_gradient_is_the_probabilities_gradient():
    logits = t64([[0.3, -0.7, 1.1], [-0.2, 0.5, 0.0]])
    d = D.OneHotCategoricalStraightThrough(logits=logits)
    assert d.has_rsample
    rgrad.manual_seed(4)
    x = d.rsample((5,))
    assert rgrad.equal(x.detach(), x.detach().round()) and bool((x.detach().sum(-1) == 1).all())
    w = rgrad.arange(3, dtype=F64)
    (g,) = rgrad.autograd.grad((x * w).sum(), [logits])
    (want,) = rgrad.autograd.grad((5 * logits.softmax(-1) * w).sum(), [logits])
    np.testing.assert_allclose(g.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)


# ---- implicit reparameterisation ---------------------------------------------------------------


def _implicit_gamma_grad(a, x, h=1e-5):
    """-(dP(a, x)/da) / p(x; a): dP/da by central differences of the regularised incomplete
    gamma (the upper one where P is near 1, for accuracy), p the Gamma(a, 1) density."""
    P = rgrad.special.gammainc
    Q = rgrad.special.gammaincc
    lower = P(a, x) < 0.5
    dP = rgrad.where(lower, (P(a + h, x) - P(a - h, x)), -(Q(a + h, x) - Q(a - h, x))) / (2 * h)
    log_pdf = (a - 1) * x.log() - x - a.lgamma()
    return -dP / log_pdf.exp()


@pytest.mark.parametrize("alpha", [0.3, 1.0, 2.5, 9.0, 60.0])
def test_gamma_rsample_gradient_is_the_implicit_derivative_per_sample(alpha):
    rgrad.manual_seed(5)
    n = 400
    a = rgrad.full((n,), alpha, dtype=F64, requires_grad=True)
    rate = rgrad.full((n,), 1.7, dtype=F64, requires_grad=True)
    x = D.Gamma(a, rate).rsample()
    ga, gr = rgrad.autograd.grad(x.sum(), [a, rate])
    xd = x.detach()
    # x = X / rate with X ~ Gamma(a, 1): dx/da = (dX/da) / rate, dx/drate = -x / rate.
    want = _implicit_gamma_grad(a.detach(), xd * 1.7) / 1.7
    keep = (xd * 1.7 > 1e-12).numpy()  # float64 underflow of tiny draws for small alpha
    np.testing.assert_allclose(ga.numpy()[keep], want.numpy()[keep], rtol=2e-5, atol=1e-10)
    np.testing.assert_allclose(gr.numpy(), (-xd / 1.7).numpy(), rtol=1e-12)


def _trigamma(x):
    # digamma's derivative is trigamma (checked against pi^2/6 and PyTorch's numbers in
    # test_distributions.py).
    t = rgrad.tensor(x, dtype=F64, requires_grad=True)
    (g,) = rgrad.autograd.grad(rgrad.digamma(t), [t])
    return g.item()


def _pathwise(make, values, f, n=100_000, seed=11):
    """The per-sample gradients of f(x) w.r.t. each parameter (each sample has its own copy
    of the parameters): their mean estimates d/dtheta E[f(x)], their spread its error."""
    rgrad.manual_seed(seed)
    params = [
        rgrad.tensor(v, dtype=F64).expand((n,) + np.shape(v)).clone().requires_grad_()
        for v in values
    ]
    x = make(*params).rsample()
    grads = rgrad.autograd.grad(f(x).sum(), params)
    return [g.numpy() for g in grads]


def _assert_within(grads, expected, k=5.0):
    for g, want in zip(grads, expected):
        want = np.asarray(want)
        mean = g.mean(0)
        se = g.std(0) / math.sqrt(g.shape[0])
        assert np.all(np.abs(mean - want) <= k * se + 1e-9), (mean, want, se)
        # The check has teeth: the band is narrower than 5% of the value.
        assert np.all(k * se <= 0.05 * np.abs(want)), (se, want)


IMPLICIT_MEANS = {
    # name: (builder, parameter values, f, closed-form d/dtheta E[f(x)] per parameter)
    "Gamma_mean": (
        lambda a, r: D.Gamma(a, r),
        [1.7, 2.4],
        lambda x: x,
        [1 / 2.4, -1.7 / 2.4**2],
    ),
    "Gamma_log": (
        lambda a, r: D.Gamma(a, r),
        [0.6, 2.4],
        lambda x: x.log(),
        [_trigamma(0.6), -1 / 2.4],
    ),
    "Chi2_log": (
        lambda k: D.Chi2(k),
        [3.0],
        lambda x: x.log(),
        [0.5 * _trigamma(1.5)],
    ),
    "InverseGamma_mean": (
        lambda a, r: D.InverseGamma(a, r),
        [4.5, 2.0],
        lambda x: x,
        [-2.0 / 3.5**2, 1 / 3.5],
    ),
    "Beta_mean": (
        lambda a, b: D.Beta(a, b),
        [1.7, 2.4],
        lambda x: x,
        [2.4 / 4.1**2, -1.7 / 4.1**2],
    ),
    "Beta_square": (
        # E[x^2] = a (a + 1) / ((a + b) (a + b + 1))
        lambda a, b: D.Beta(a, b),
        [0.7, 1.9],
        lambda x: x**2,
        [
            ((2 * 0.7 + 1) * 2.6 * 3.6 - 0.7 * 1.7 * (2 * 2.6 + 1)) / (2.6 * 3.6) ** 2,
            -0.7 * 1.7 * (2 * 2.6 + 1) / (2.6 * 3.6) ** 2,
        ],
    ),
    "Beta_log": (
        lambda a, b: D.Beta(a, b),
        [0.8, 3.0],
        lambda x: x.log(),
        [_trigamma(0.8) - _trigamma(3.8), -_trigamma(3.8)],
    ),
    "Dirichlet_log_first": (
        lambda c: D.Dirichlet(c),
        [[0.8, 2.0, 3.2]],
        lambda x: x[..., 0].log(),
        [[_trigamma(0.8) - _trigamma(6.0), -_trigamma(6.0), -_trigamma(6.0)]],
    ),
    "Dirichlet_mean_last": (
        lambda c: D.Dirichlet(c),
        [[0.8, 2.0, 3.2]],
        lambda x: x[..., 2],
        [[-3.2 / 36, -3.2 / 36, (6.0 - 3.2) / 36]],
    ),
    "StudentT_log_abs": (
        # x = scale z / sqrt(V / df), z ~ N(0, 1), V ~ Chi2(df): E log|x| = log scale + E log|z|
        # - (digamma(df / 2) + log(2 / df)) / 2, so d/d df = -trigamma(df / 2) / 4 + 1 / (2 df)
        # and d/d scale = 1 / scale.
        lambda df, s: D.StudentT(df, 0.0, s),
        [3.0, 1.3],
        lambda x: x.abs().log(),
        [-_trigamma(1.5) / 4 + 1 / 6, 1 / 1.3],
    ),
}


@pytest.mark.parametrize("name", sorted(IMPLICIT_MEANS))
def test_implicit_reparameterisation_expectation_gradients(name):
    make, values, f, expected = IMPLICIT_MEANS[name]
    assert make(*[rgrad.tensor(v, dtype=F64) for v in values]).has_rsample
    grads = _pathwise(make, values, f)
    _assert_within(grads, expected)


def test_implicit_check_has_teeth():
    """A gradient off by 3% fails _assert_within at this sample size."""
    make, values, f, expected = IMPLICIT_MEANS["Beta_log"]
    grads = _pathwise(make, values, f)
    with pytest.raises(AssertionError):
        _assert_within([g * 1.03 for g in grads], expected)


def test_beta_and_dirichlet_samples_are_on_their_support_with_finite_gradients():
    rgrad.manual_seed(2)
    c = rgrad.tensor([[0.05, 0.3, 7.0], [40.0, 0.5, 1.0]], dtype=F64, requires_grad=True)
    x = D.Dirichlet(c).rsample((500,))
    (g,) = rgrad.autograd.grad(x[..., 0].log().sum(), [c])
    assert bool(rgrad.isfinite(g).all())
    np.testing.assert_allclose(x.detach().sum(-1).numpy(), 1.0, rtol=1e-12)
    b = D.Beta(c[:, 0], c[:, 1]).rsample((500,))
    assert bool(((b > 0) & (b < 1)).all())


# ---- log_prob, entropy, cdf, icdf ------------------------------------------------------------

# Unconstrained values, mapped to each support. (No exact 0: formulas such as Binomial's
# softplus(x) = clamp(x, 0) + log1p(exp(-|x|)), PyTorch's too, have a kink there whose second
# derivative autograd cannot see.)
R = [[0.3, -0.7, 1.1], [-0.2, 0.5, 0.15]]
P = [[0.8, 1.4, 0.6], [1.1, 0.5, 2.0]]  # positive parameters

# name -> (builder of the distribution, parameter values, map from R to the support or None
# for a fixed discrete value, the fixed value)
LOG_PROB = {
    "Normal": (lambda a, b: D.Normal(a, b), [R, P], lambda v: v),
    "LogNormal": (lambda a, b: D.LogNormal(a, b), [R, P], _pos),
    "HalfNormal": (lambda b: D.HalfNormal(b), [P], _pos),
    "HalfCauchy": (lambda b: D.HalfCauchy(b), [P], _pos),
    "Uniform": (lambda a, b: D.Uniform(a - 3.0, a + b), [R, P], lambda v: v * 0.3),
    "Exponential": (lambda b: D.Exponential(b), [P], _pos),
    "Laplace": (lambda a, b: D.Laplace(a, b), [R, P], lambda v: v + 0.05),
    "Cauchy": (lambda a, b: D.Cauchy(a, b), [R, P], lambda v: v),
    "Gumbel": (lambda a, b: D.Gumbel(a, b), [R, P], lambda v: v),
    "Pareto": (lambda a, b: D.Pareto(a * 0.1, b), [P, P], lambda v: v.exp() + 0.5),
    "Weibull": (lambda a, b: D.Weibull(a, b), [P, P], _pos),
    "Gamma": (lambda a, b: D.Gamma(a, b), [P, P], _pos),
    "Chi2": (lambda a: D.Chi2(a), [P], _pos),
    "InverseGamma": (lambda a, b: D.InverseGamma(a, b), [P, P], _pos),
    "Beta": (lambda a, b: D.Beta(a, b), [P, P], lambda v: v.sigmoid()),
    "Dirichlet": (lambda c: D.Dirichlet(c), [P], lambda v: v.softmax(-1)),
    "StudentT": (lambda df, a, b: D.StudentT(df, a, b), [P, R, P], lambda v: v),
    "MultivariateNormal": (
        lambda a, b: D.MultivariateNormal(a, scale_tril=b.tril() + 2 * rgrad.eye(3, dtype=F64)),
        [R, [[[0.2, 0.0, 0.0], [0.4, -0.3, 0.0], [-0.3, 0.2, 0.1]]] * 2],
        lambda v: v,
    ),
    "MultivariateNormal_precision": (
        lambda a, b: D.MultivariateNormal(a, precision_matrix=_spd(b)),
        [R, [[[1.2, 0.1, 0.0], [0.4, 0.7, 0.3], [-0.3, 0.2, 0.9]]] * 2],
        lambda v: v,
    ),
    "LowRankMultivariateNormal": (
        lambda a, f, d: D.LowRankMultivariateNormal(a, f, d),
        [R, [[[0.5], [1.0], [-0.4]], [[0.2], [-0.3], [0.8]]], P],
        lambda v: v,
    ),
    "RelaxedBernoulli": (
        lambda t, a: D.RelaxedBernoulli(t, logits=a),
        [P, R],
        lambda v: v.sigmoid(),
    ),
    "RelaxedOneHotCategorical": (
        lambda t, a: D.RelaxedOneHotCategorical(t[..., :1], logits=a),
        [P, R],
        lambda v: v.softmax(-1),
    ),
    "TransformedTanhAffine": (
        lambda a, b: D.TransformedDistribution(
            D.Normal(a, b), [D.TanhTransform(), D.AffineTransform(0.5, 2.0)]
        ),
        [R, P],
        lambda v: 0.5 + 2.0 * v.tanh(),
    ),
    "TransformedStickBreaking": (
        lambda a, b: D.TransformedDistribution(
            D.Independent(D.Normal(a, b), 1), D.StickBreakingTransform()
        ),
        [R, P],
        lambda v: D.StickBreakingTransform()(v),
    ),
    "Independent": (lambda a, b: D.Independent(D.Normal(a, b), 2), [R, P], lambda v: v),
    "MixtureSameFamily": (
        lambda w, a, b: D.MixtureSameFamily(D.Categorical(logits=w), D.Normal(a, b)),
        [R, R, P],
        lambda v: v[..., 0],
    ),
    # Discrete families: the gradient w.r.t. the parameters at fixed values.
    "Bernoulli": (lambda a: D.Bernoulli(logits=a), [R], [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]),
    "Bernoulli_probs": (
        lambda a: D.Bernoulli(probs=a.sigmoid()),
        [R],
        [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]],
    ),
    "Categorical": (lambda a: D.Categorical(logits=a), [R], [2, 0]),
    "OneHotCategorical": (
        lambda a: D.OneHotCategorical(probs=a.softmax(-1)),
        [R],
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]],
    ),
    "Binomial": (
        lambda a: D.Binomial(7, logits=a),
        [R],
        [[3.0, 0.0, 7.0], [5.0, 1.0, 2.0]],
    ),
    "Geometric": (
        lambda a: D.Geometric(probs=a.sigmoid()),
        [R],
        [[3.0, 0.0, 7.0], [5.0, 1.0, 2.0]],
    ),
    "Poisson": (lambda b: D.Poisson(b), [P], [[3.0, 0.0, 7.0], [5.0, 1.0, 2.0]]),
    "NegativeBinomial": (
        lambda n, a: D.NegativeBinomial(n, logits=a),
        [P, R],
        [[3.0, 0.0, 7.0], [5.0, 1.0, 2.0]],
    ),
    "Multinomial": (lambda a: D.Multinomial(6, logits=a), [R], [[1.0, 2.0, 3.0], [0.0, 6.0, 0.0]]),
}


def _value(spec):
    if callable(spec):
        return t64(R)
    v = rgrad.tensor(spec, dtype=F64)
    return v.long() if v.ndim == 1 else v


def _log_prob_fn(name):
    make, values, spec = LOG_PROB[name]
    params = [t64(v) for v in values]
    if callable(spec):
        return (lambda v, *ps: make(*ps).log_prob(spec(v))), [t64(R)] + params
    fixed = _value(spec)
    return (lambda *ps: make(*ps).log_prob(fixed)), params


@pytest.mark.parametrize("name", sorted(LOG_PROB))
def test_log_prob_gradcheck(name):
    fn, inputs = _log_prob_fn(name)
    out = fn(*inputs)
    assert out.requires_grad
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("name", sorted(LOG_PROB))
def test_log_prob_gradgradcheck(name):
    fn, inputs = _log_prob_fn(name)
    assert gradgradcheck(fn, inputs)


def _entropy_names():
    names = []
    for name, (make, values, _) in LOG_PROB.items():
        d = make(*[rgrad.tensor(v, dtype=F64) for v in values])
        try:
            d.entropy()
        except NotImplementedError:
            continue
        names.append(name)
    return names


@pytest.mark.parametrize("name", _entropy_names())
def test_entropy_gradcheck(name):
    make, values, _ = LOG_PROB[name]
    params = [t64(v) for v in values]
    if name == "Uniform":  # the entropy depends on high - low only
        params = params[1:]
        assert gradcheck(lambda b: make(t64(R).detach(), b).entropy(), params)
        return
    assert gradcheck(lambda *ps: make(*ps).entropy(), params)


@pytest.mark.parametrize("name", [n for n in _entropy_names() if n != "Uniform"])
def test_entropy_gradgradcheck(name):
    make, values, _ = LOG_PROB[name]
    params = [t64(v) for v in values]
    assert gradgradcheck(lambda *ps: make(*ps).entropy(), params)


def test_entropy_is_checked_for_the_families_that_have_one():
    assert {
        "Normal", "LogNormal", "HalfNormal", "HalfCauchy", "Uniform", "Exponential", "Laplace",
        "Cauchy", "Gumbel", "Pareto", "Weibull", "Gamma", "Chi2", "InverseGamma", "Beta",
        "Dirichlet", "StudentT", "MultivariateNormal", "LowRankMultivariateNormal",
        "Independent", "Bernoulli", "Categorical", "OneHotCategorical", "Binomial", "Geometric",
        "Multinomial",
    } <= set(_entropy_names())  # fmt: skip
    # As in PyTorch, Poisson has no entropy.
    assert "Poisson" not in _entropy_names()


CDF = {
    "Normal": (lambda a, b: D.Normal(a, b), [R, P], lambda v: v),
    "LogNormal": (lambda a, b: D.LogNormal(a, b), [R, P], _pos),
    "HalfNormal": (lambda b: D.HalfNormal(b), [P], _pos),
    "HalfCauchy": (lambda b: D.HalfCauchy(b), [P], _pos),
    "Uniform": (lambda a, b: D.Uniform(a - 3.0, a + b), [R, P], lambda v: v * 0.3),
    "Exponential": (lambda b: D.Exponential(b), [P], _pos),
    "Laplace": (lambda a, b: D.Laplace(a, b), [R, P], lambda v: v + 0.05),
    "Cauchy": (lambda a, b: D.Cauchy(a, b), [R, P], lambda v: v),
    "Gumbel": (lambda a, b: D.Gumbel(a, b), [R, P], lambda v: v),
    "Pareto": (lambda a, b: D.Pareto(a * 0.1, b), [P, P], lambda v: v.exp() + 0.5),
    "Weibull": (lambda a, b: D.Weibull(a, b), [P, P], _pos),
    # The concentration's derivative is not implemented (PyTorch's igamma: input).
    "Gamma_rate": (lambda b: D.Gamma(rgrad.full((2, 3), 1.5, dtype=F64), b), [P], _pos),
    "TransformedTanhAffine": LOG_PROB["TransformedTanhAffine"],
}


@pytest.mark.parametrize("name", sorted(CDF))
def test_cdf_gradcheck(name):
    make, values, spec = CDF[name]
    inputs = [t64(R)] + [t64(v) for v in values]

    def cdf(v, *ps):
        return make(*ps).cdf(spec(v))

    assert gradcheck(cdf, inputs)
    assert gradgradcheck(cdf, inputs)


ICDF = sorted(n for n in CDF if n != "Gamma_rate")  # PyTorch's Gamma has no icdf


@pytest.mark.parametrize("name", ICDF)
def test_icdf_gradcheck(name):
    make, values, _ = CDF[name]
    inputs = [t64(R)] + [t64(v) for v in values]

    def icdf(v, *ps):
        return make(*ps).icdf(v.sigmoid())

    assert gradcheck(icdf, inputs)
    assert gradgradcheck(icdf, inputs)


# PyTorch's polygamma(1, x) and polygamma(2, x) at X.
X = [-2.5, 0.5, 1.0, 3.7, 12.0, -0.3, 1e-3]
TRIGAMMA = [9.53924664493752, 4.934802202073678, 1.6449340676383375, 0.3100378577128614,
            0.08690187287193527, 13.945160267262267, 1000001.6425331949]  # fmt: skip
TETRAGAMMA = [-0.1082040516417282, -16.828796644234316, -2.404113806319188,
              -0.09539530872855405, -0.007547205368998914, 67.63908119988314,
              -2000000002.3976321]  # fmt: skip


@pytest.mark.parametrize("device", ["cpu", pytest.param("wgpu", marks=pytest.mark.wgpu)])
def test_digamma_derivatives_are_polygamma_1_and_2(device):
    """The entropies and KL terms of Gamma, Beta, Dirichlet, StudentT have digamma terms: their
    second derivatives need polygamma(2, x) (tetragamma)."""
    dtype = F64 if device == "cpu" or rgrad.wgpu.supports_dtype(F64) else rgrad.float32
    tol = 1e-12 if dtype == F64 else 2e-5
    x = rgrad.tensor(X, dtype=dtype, device=device, requires_grad=True)
    (g,) = rgrad.autograd.grad(rgrad.digamma(x).sum(), [x], create_graph=True)
    (h,) = rgrad.autograd.grad(g.sum(), [x], create_graph=True)
    # PyTorch's trigamma is ~5e-10 off (trigamma(1) = pi^2/6 = 1.6449340668482264; rgrad's
    # is exact to rounding), its polygamma(2, x) (through zeta) is exact.
    np.testing.assert_allclose(g.detach().cpu().numpy(), TRIGAMMA, rtol=max(tol, 1e-9))
    assert abs(g[2].item() - math.pi**2 / 6) < 100 * tol
    np.testing.assert_allclose(h.detach().cpu().numpy(), TETRAGAMMA, rtol=tol)
    with pytest.raises(RuntimeError, match="the derivative for 'polygamma' of order 3"):
        rgrad.autograd.grad(h.sum(), [x])


def test_lgamma_and_digamma_gradgradcheck():
    x = rgrad.tensor([[0.3, 1.7, 4.2], [-0.4, 9.0, 2.5]], dtype=F64, requires_grad=True)
    assert gradgradcheck(rgrad.digamma, [x])
    assert gradgradcheck(rgrad.lgamma, [x])
