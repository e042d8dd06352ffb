"""Sampling in rgrad.distributions: sample moments against each family's mean and variance
(fixed seeds), reproducibility under manual_seed, the rejection samplers' distributions,
reparameterised gradients (gradcheck in float64 where the sample is a smooth function of the
parameters for fixed noise) and the implicit Gamma/Beta/Dirichlet gradients."""

import math

import numpy as np
import pytest

import rgrad
import rgrad.distributions as D
from rgrad.distributions._gamma_grad import standard_gamma_grad

F64 = rgrad.float64
N = 40_000


def t64(*values):
    return rgrad.tensor(list(values), dtype=F64)


FAMILIES = {
    "Normal": lambda: D.Normal(t64(0.5, -2.0), t64(1.5, 0.3)),
    "Uniform": lambda: D.Uniform(t64(-1.0, 2.0), t64(3.0, 2.5)),
    "Exponential": lambda: D.Exponential(t64(0.7, 4.0)),
    "Laplace": lambda: D.Laplace(t64(0.5, -1.0), t64(2.0, 0.2)),
    "LogNormal": lambda: D.LogNormal(t64(0.1, -0.5), t64(0.4, 0.2)),
    "HalfNormal": lambda: D.HalfNormal(t64(1.0, 3.0)),
    "Gamma": lambda: D.Gamma(t64(0.4, 5.0), t64(2.0, 0.5)),
    "Chi2": lambda: D.Chi2(t64(1.0, 7.0)),
    "Beta": lambda: D.Beta(t64(0.6, 4.0), t64(2.0, 1.5)),
    "StudentT": lambda: D.StudentT(t64(5.0, 9.0), t64(1.0, -1.0), t64(1.0, 0.5)),
    "Poisson": lambda: D.Poisson(t64(0.3, 4.0, 40.0, 700.0)),
    "Geometric": lambda: D.Geometric(probs=t64(0.2, 0.9)),
    "Bernoulli": lambda: D.Bernoulli(probs=t64(0.1, 0.6)),
    "Binomial": lambda: D.Binomial(t64(4.0, 60.0, 500.0), probs=t64(0.3, 0.7, 0.05)),
    "Dirichlet": lambda: D.Dirichlet(t64(0.5, 2.0, 3.0)),
    "OneHotCategorical": lambda: D.OneHotCategorical(probs=t64(0.2, 0.5, 0.3)),
    "MixtureSameFamily": lambda: D.MixtureSameFamily(
        D.Categorical(probs=t64(0.3, 0.7)), D.Normal(t64(-2.0, 1.0), t64(0.5, 1.0))
    ),
    "Independent": lambda: D.Independent(D.Exponential(t64(1.0, 2.0)), 1),
    "Gumbel": lambda: D.Gumbel(t64(0.5, -1.0), t64(1.0, 0.3)),
    "Pareto": lambda: D.Pareto(t64(1.0, 2.0), t64(6.0, 9.0)),
    "Weibull": lambda: D.Weibull(t64(1.0, 2.0), t64(1.5, 4.0)),
    "InverseGamma": lambda: D.InverseGamma(t64(7.0, 9.0), t64(1.0, 3.0)),
    "NegativeBinomial": lambda: D.NegativeBinomial(t64(3.0, 20.0), probs=t64(0.4, 0.2)),
    "Multinomial": lambda: D.Multinomial(7, probs=t64(0.2, 0.5, 0.3)),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_sample_moments(name):
    rgrad.manual_seed(1234)
    d = FAMILIES[name]()
    x = d.sample((N,))
    assert tuple(x.shape) == (N,) + tuple(d.batch_shape) + tuple(d.event_shape)
    x = x.double()
    mean, var = d.mean.detach(), d.variance.detach()
    got_mean = x.mean(0)
    got_var = x.var(0)
    # Six standard errors for the mean; the variance to 6% (heavier tails get 10%).
    se = (var / N).sqrt()
    assert bool(((got_mean - mean).abs() <= 6 * se + 1e-12).all()), (got_mean, mean)
    heavy = ("StudentT", "Gamma", "Chi2", "LogNormal", "Geometric", "Pareto", "InverseGamma")
    rel = 0.10 if name in heavy else 0.06
    assert bool(((got_var - var).abs() <= rel * var + 1e-12).all()), (got_var, var)
    assert bool(d.support.check(x.to(mean.dtype)).all())


def test_categorical_frequencies_and_cauchy_quartiles():
    rgrad.manual_seed(5)
    p = t64(0.1, 0.2, 0.3, 0.4)
    x = D.Categorical(probs=p).sample((N,))
    assert x.dtype == rgrad.int64
    freq = np.bincount(x.numpy(), minlength=4) / N
    np.testing.assert_allclose(freq, p.numpy(), atol=6 * math.sqrt(0.25 / N))
    c = D.Cauchy(t64(1.0), t64(2.0))
    s = c.sample((N,))
    for q in (0.25, 0.5, 0.75):
        frac = (s <= c.icdf(rgrad.tensor(q, dtype=F64))).double().mean().item()
        assert abs(frac - q) < 6 * math.sqrt(0.25 / N)


@pytest.mark.parametrize("name", ["Normal", "Gamma", "Poisson", "Binomial", "Dirichlet"])
def test_manual_seed_reproduces_samples(name):
    rgrad.manual_seed(99)
    a = FAMILIES[name]().sample((50,))
    rgrad.manual_seed(99)
    b = FAMILIES[name]().sample((50,))
    assert np.array_equal(a.numpy(), b.numpy())


def _pmf_check(samples, pmf, n):
    """Frequencies of each value against the pmf, within 6 standard errors."""
    counts = np.bincount(samples.astype(np.int64), minlength=len(pmf))[: len(pmf)] / n
    se = np.sqrt(pmf * (1 - pmf) / n)
    assert np.all(np.abs(counts - pmf) <= 6 * se + 1e-4), (counts, pmf)


@pytest.mark.parametrize("rate", [0.5, 6.0, 9.99, 10.0, 25.0])
def test_poisson_sampler_frequencies(rate):
    rgrad.manual_seed(3)
    d = D.Poisson(rgrad.tensor(rate, dtype=F64))
    s = d.sample((N,))
    ks = rgrad.arange(int(rate * 3) + 10, dtype=F64)
    _pmf_check(s.numpy(), d.log_prob(ks).exp().numpy(), N)


@pytest.mark.parametrize("n, p", [(8, 0.3), (40, 0.6), (200, 0.2), (30, 0.97)])
def test_binomial_sampler_frequencies(n, p):
    rgrad.manual_seed(4)
    d = D.Binomial(n, probs=rgrad.tensor(p, dtype=F64))
    s = d.sample((N,))
    assert bool(((s >= 0) & (s <= n)).all())
    ks = rgrad.arange(n + 1, dtype=F64)
    _pmf_check(s.numpy(), d.log_prob(ks).exp().numpy(), N)


def test_gamma_sampler_small_shape_is_positive_and_right():
    rgrad.manual_seed(8)
    s = D.Gamma(rgrad.tensor(0.05, dtype=F64), 1.0).sample((N,))
    assert bool((s > 0).all())
    assert abs(s.mean().item() - 0.05) < 6 * math.sqrt(0.05 / N)


# Reparameterised samplers: for fixed noise (reseeded inside) the sample is a smooth function
# of the parameters, so its gradient must match central differences.
REPARAM = {
    "Normal": (lambda a, b: D.Normal(a, b), 2),
    "Uniform": (lambda a, b: D.Uniform(a, a + b), 2),
    "Laplace": (lambda a, b: D.Laplace(a, b), 2),
    "Cauchy": (lambda a, b: D.Cauchy(a, b), 2),
    "Exponential": (lambda a: D.Exponential(a), 1),
    "LogNormal": (lambda a, b: D.LogNormal(a, b), 2),
    "HalfNormal": (lambda b: D.HalfNormal(b), 1),
    "RelaxedBernoulli": (lambda a, b: D.RelaxedBernoulli(b, logits=a), 2),
    "RelaxedOneHotCategorical": (
        lambda a, b: D.RelaxedOneHotCategorical(b[0], logits=a),
        2,
    ),
    "TransformedTanh": (
        lambda a, b: D.TransformedDistribution(D.Normal(a, b), [D.TanhTransform()]),
        2,
    ),
    "Independent": (lambda a, b: D.Independent(D.Normal(a, b), 1), 2),
}


@pytest.mark.parametrize("name", sorted(REPARAM))
def test_rsample_gradcheck(name):
    make, nparams = REPARAM[name]
    params = [
        rgrad.tensor([0.3, -0.7, 1.1], dtype=F64, requires_grad=True),
        rgrad.tensor([0.8, 1.4, 0.6], dtype=F64, requires_grad=True),
    ]
    params = params[:nparams] if nparams == 2 else [params[1]]
    assert make(*params).has_rsample

    def draw(*ps):
        rgrad.manual_seed(17)
        return make(*ps).rsample((4,))

    assert rgrad.autograd.gradcheck(draw, params, eps=1e-6, atol=1e-6)
    with pytest.raises(Exception):  # noqa: B017  (sample() carries no gradient)
        make(*params).sample((2,)).sum().backward()


def _gamma_cdf(a, x, terms=400):
    """Regularised lower incomplete gamma P(a, x) by its power series (float64, test only)."""
    n = np.arange(terms)
    # term n: x^n / ((a + 1) ... (a + n))
    log_den = np.concatenate([[0.0], np.cumsum(np.log(a + n[1:]))])
    log_terms = n * np.log(x) - log_den
    log_series = np.logaddexp.reduce(log_terms)
    return math.exp(a * math.log(x) - x - math.lgamma(a + 1) + log_series)


@pytest.mark.parametrize(
    "a, x", [(0.3, 0.05), (0.3, 2.0), (1.0, 0.7), (2.5, 6.0), (10.0, 12.0), (40.0, 30.0)]
)
def test_standard_gamma_grad_is_the_implicit_derivative(a, x):
    # dx/da = -(dP/da) / (dP/dx), both by central differences of the series.
    h = 1e-6
    dp_da = (_gamma_cdf(a + h, x) - _gamma_cdf(a - h, x)) / (2 * h)
    pdf = math.exp((a - 1) * math.log(x) - x - math.lgamma(a))
    expected = -dp_da / pdf
    got = standard_gamma_grad(rgrad.tensor([a], dtype=F64), rgrad.tensor([x], dtype=F64))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_standard_gamma_grad_far_tail_is_continuous():
    # The Wilson-Hilferty branch (x > 5000) continues the series branch.
    a = rgrad.tensor([5000.0, 5000.0], dtype=F64)
    x = rgrad.tensor([4999.0, 5001.0], dtype=F64)
    g = standard_gamma_grad(a, x).numpy()
    assert abs(g[0] - g[1]) < 1e-3 and abs(g[0] - 1.0) < 1e-2


@pytest.mark.parametrize(
    "make, mean_grads",
    [
        # d E[x] / d params: Gamma mean a / r; Beta mean a / (a + b); Dirichlet mean c_i / sum.
        (lambda p: D.Gamma(p[0], p[1]), lambda a, r: [1 / r, -a / r**2]),
        (lambda p: D.Beta(p[0], p[1]), lambda a, b: [b / (a + b) ** 2, -a / (a + b) ** 2]),
    ],
    ids=["Gamma", "Beta"],
)
def test_implicit_reparameterisation_mean_gradient(make, mean_grads):
    rgrad.manual_seed(21)
    p = rgrad.tensor([1.7, 2.4], dtype=F64, requires_grad=True)
    x = make(p).rsample((N,))
    (g,) = rgrad.autograd.grad(x.mean(), [p])
    expected = mean_grads(1.7, 2.4)
    np.testing.assert_allclose(g.numpy(), expected, rtol=0.05)


def test_dirichlet_rsample_gradient():
    rgrad.manual_seed(22)
    c = rgrad.tensor([0.8, 2.0, 3.2], dtype=F64, requires_grad=True)
    x = D.Dirichlet(c).rsample((N,))
    assert np.allclose(x.detach().sum(-1).numpy(), 1.0)
    (g,) = rgrad.autograd.grad(x[:, 0].mean(), [c])
    total = 6.0
    expected = [(total - 0.8) / total**2, -0.8 / total**2, -0.8 / total**2]
    np.testing.assert_allclose(g.numpy(), expected, rtol=0.06, atol=2e-3)


def test_reinforce_and_vae_steps_have_gradients():
    # REINFORCE: Categorical sample, log_prob and entropy reach the logits.
    logits = rgrad.randn(5, 3, dtype=F64, requires_grad=True)
    m = D.Categorical(logits=logits)
    action = m.sample()
    loss = -(m.log_prob(action) * rgrad.ones(5, dtype=F64)).sum() - 0.01 * m.entropy().sum()
    loss.backward()
    assert logits.grad is not None and bool((logits.grad != 0).any())
    # VAE: reparameterised Normal and KL to the prior.
    mu = rgrad.randn(4, 2, dtype=F64, requires_grad=True)
    log_sigma = rgrad.randn(4, 2, dtype=F64, requires_grad=True)
    q = D.Normal(mu, log_sigma.exp())
    z = q.rsample()
    prior = D.Normal(rgrad.zeros_like(mu), rgrad.ones_like(mu))
    (z.pow(2).sum() + D.kl_divergence(q, prior).sum()).backward()
    assert mu.grad is not None and log_sigma.grad is not None


HAS_LINALG = all(hasattr(rgrad.linalg, n) for n in ("cholesky", "solve_triangular"))
needs_linalg = pytest.mark.skipif(not HAS_LINALG, reason="needs rgrad.linalg from the core")


@needs_linalg
def test_gaussian_families_sample_covariance():
    rgrad.manual_seed(31)
    cov = rgrad.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]], dtype=F64)
    m = D.MultivariateNormal(rgrad.zeros(3, dtype=F64), covariance_matrix=cov)
    np.testing.assert_allclose(np.cov(m.sample((N,)).numpy().T), cov.numpy(), atol=0.05)
    w = rgrad.tensor([[1.0], [0.5], [-1.0]], dtype=F64)
    lr = D.LowRankMultivariateNormal(rgrad.zeros(3, dtype=F64), w, rgrad.ones(3, dtype=F64))
    np.testing.assert_allclose(
        np.cov(lr.sample((N,)).numpy().T), lr.covariance_matrix.numpy(), atol=0.06
    )


@needs_linalg
def test_gaussian_families_rsample_gradcheck():
    loc = rgrad.tensor([0.3, -0.2], dtype=F64, requires_grad=True)
    tril = rgrad.tensor([[1.2, 0.0], [0.4, 0.7]], dtype=F64, requires_grad=True)

    def mvn(loc, tril):
        rgrad.manual_seed(3)
        return D.MultivariateNormal(loc, scale_tril=tril.tril()).rsample((3,))

    assert rgrad.autograd.gradcheck(mvn, [loc, tril])
    factor = rgrad.tensor([[0.5], [1.0]], dtype=F64, requires_grad=True)
    diag = rgrad.tensor([0.4, 0.9], dtype=F64, requires_grad=True)

    def lowrank(loc, factor, diag):
        rgrad.manual_seed(3)
        return D.LowRankMultivariateNormal(loc, factor, diag).rsample((3,))

    assert rgrad.autograd.gradcheck(lowrank, [loc, factor, diag])


@pytest.mark.wgpu
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_sample_and_log_prob_stay_on_wgpu(name):
    # The same family over float32 parameters on the host and on the device, scored at the
    # same host samples.
    rgrad.manual_seed(2)
    cpu = FAMILIES[name]().sample((200,)).float()
    dev = cpu.to("wgpu")
    lp_cpu = _float32_family(name, "cpu").log_prob(cpu)
    lp_dev = _float32_family(name, "wgpu").log_prob(dev)
    assert str(lp_dev.device).startswith("wgpu")
    # Binomial(500) cancels lgamma terms near 2600: float32 rounding there is ~5e-4.
    atol = 1e-3 if name == "Binomial" else 1e-4
    np.testing.assert_allclose(lp_dev.cpu().numpy(), lp_cpu.numpy(), rtol=1e-4, atol=atol)
    s = _float32_family(name, "wgpu").sample((3,))
    assert str(s.device).startswith("wgpu")


def _float32_family(name, device):
    """FAMILIES[name] rebuilt with float32 parameters on ``device``."""
    saved = rgrad.tensor

    def on_device(data, dtype=None, **kw):
        return saved(data, dtype=rgrad.float32, device=device)

    try:
        rgrad.tensor = on_device
        return FAMILIES[name]()
    finally:
        rgrad.tensor = saved


@pytest.mark.parametrize("sample_shape", [(), (5,), (3, 2)])
def test_categorical_sample_draws_what_multinomial_draws(sample_shape):
    """Categorical.sample inverts the cumulative sums in core ops (no NumPy round trip): the
    same uniforms as rgrad.multinomial(..., replacement=True), so the same draws."""
    probs = rgrad.tensor([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 1.0, 0.0]])
    rgrad.manual_seed(7)
    got = D.Categorical(probs).sample(sample_shape)
    rgrad.manual_seed(7)
    n = math.prod(sample_shape)
    want = rgrad.multinomial(probs, n, True).T.reshape(tuple(sample_shape) + (3,))
    assert got.dtype == rgrad.int64 and rgrad.equal(got, want)
    assert not bool((got[..., 2] != 2).any())  # a one-hot row always gives its category
    assert not bool((got[..., 0] == 1).any())  # a zero-probability class is never drawn


def test_categorical_sample_refuses_bad_probabilities_unvalidated():
    bad = D.Categorical(rgrad.tensor([[0.5, math.nan]]), validate_args=False)
    with pytest.raises(RuntimeError, match="probability tensor contains either `inf`, `nan`"):
        bad.sample()
