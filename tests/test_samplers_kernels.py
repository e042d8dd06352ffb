"""The Rust rejection samplers (Gamma, Poisson, Binomial; rgrad_core::ops::samplers): moments
with fixed seeds, reproducibility under manual_seed, edge parameters and PyTorch's errors.
The distributions' own sampling tests are in test_distributions_sampling.py."""

import math

import numpy as np
import pytest

import rgrad

F64 = rgrad.float64


def _moments(x):
    x = x.double().numpy()
    return x.mean(), x.var()


@pytest.mark.parametrize("alpha", [0.05, 0.7, 1.0, 3.5, 200.0])
def test_standard_gamma_moments(alpha):
    rgrad.manual_seed(1)
    x = rgrad._standard_gamma(rgrad.full((40000,), alpha, dtype=F64))
    m, v = _moments(x)
    se = math.sqrt(alpha / 40000)
    assert abs(m - alpha) < 6 * se
    assert abs(v - alpha) < 0.1 * alpha
    assert float(x.min()) > 0


@pytest.mark.parametrize("rate", [0.0, 0.3, 4.0, 10.0, 1e4])
def test_poisson_moments(rate):
    rgrad.manual_seed(2)
    x = rgrad.poisson(rgrad.full((40000,), rate, dtype=F64))
    m, v = _moments(x)
    assert abs(m - rate) < 6 * math.sqrt(max(rate, 1e-12) / 40000) + 1e-12
    assert abs(v - rate) < 0.1 * rate + 1e-12
    assert np.all(x.numpy() == np.floor(x.numpy()))


@pytest.mark.parametrize(("n", "p"), [(5.0, 0.1), (60.0, 0.5), (1000.0, 0.03), (300.0, 0.9)])
def test_binomial_moments(n, p):
    rgrad.manual_seed(3)
    x = rgrad.binomial(rgrad.full((40000,), n, dtype=F64), rgrad.full((40000,), p, dtype=F64))
    m, v = _moments(x)
    assert abs(m - n * p) < 6 * math.sqrt(n * p * (1 - p) / 40000)
    assert abs(v - n * p * (1 - p)) < 0.1 * n * p * (1 - p)
    assert float(x.min()) >= 0 and float(x.max()) <= n


def test_manual_seed_reproduces_and_dtypes_are_kept():
    for fn in (
        lambda: rgrad._standard_gamma(rgrad.tensor([0.5, 2.0, 30.0])),
        lambda: rgrad.poisson(rgrad.tensor([0.5, 20.0])),
        lambda: rgrad.binomial(rgrad.tensor([10.0, 100.0]), rgrad.tensor([0.5])),
    ):
        rgrad.manual_seed(9)
        a = fn()
        rgrad.manual_seed(9)
        b = fn()
        assert a.dtype == rgrad.float32
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_edge_parameters():
    g = rgrad._standard_gamma(rgrad.tensor([0.0, -1.0, float("nan")]))
    np.testing.assert_array_equal(g.numpy(), np.full(3, np.finfo(np.float32).tiny))
    b = rgrad.binomial(rgrad.tensor([5.0, -1.0, 3.0]), rgrad.tensor([0.0, 0.5, 1.5]))
    np.testing.assert_array_equal(b.numpy(), [0.0, 0.0, 3.0])


def test_errors_match_pytorch():
    with pytest.raises(
        RuntimeError, match="^invalid Poisson rate, expected rate to be non-negative$"
    ):
        rgrad.poisson(rgrad.tensor([-1.0]))
    with pytest.raises(RuntimeError, match="^invalid Poisson rate"):
        rgrad.poisson(rgrad.tensor([float("nan")]))
    with pytest.raises(NotImplementedError, match="^\"gamma_cpu\" not implemented for 'Long'$"):
        rgrad._standard_gamma(rgrad.tensor([1]))
    with pytest.raises(NotImplementedError, match="^\"poisson_cpu\" not implemented for 'Long'$"):
        rgrad.poisson(rgrad.tensor([1]))
    with pytest.raises(ValueError, match="binomial only supports floating-point dtypes for count"):
        rgrad.binomial(rgrad.tensor([3]), rgrad.tensor([0.5]))


def test_distributions_sample_through_the_kernels():
    rgrad.manual_seed(4)
    d = rgrad.distributions
    for dist, mean in [
        (d.Gamma(rgrad.tensor(3.0), rgrad.tensor(2.0)), 1.5),
        (d.Beta(rgrad.tensor(2.0), rgrad.tensor(6.0)), 0.25),
        (d.Chi2(rgrad.tensor(4.0)), 4.0),
        (d.Poisson(rgrad.tensor(7.0)), 7.0),
        (d.Binomial(20, rgrad.tensor(0.3)), 6.0),
    ]:
        x = dist.sample((20000,))
        assert abs(float(x.double().mean()) - mean) < 0.05 * mean
    x = d.Dirichlet(rgrad.tensor([1.0, 2.0, 3.0])).sample((20000,))
    np.testing.assert_allclose(x.double().mean(0).numpy(), [1 / 6, 2 / 6, 3 / 6], atol=0.01)
    t = d.StudentT(rgrad.tensor(5.0)).sample((20000,))
    assert abs(float(t.double().var()) - 5.0 / 3.0) < 0.2


@pytest.mark.wgpu
def test_samplers_keep_the_device():
    a = rgrad.tensor([1.0, 2.0]).to("wgpu")
    for out in (rgrad._standard_gamma(a), rgrad.poisson(a), rgrad.binomial(a * 4, a * 0.2)):
        assert str(out.device).startswith("wgpu")
