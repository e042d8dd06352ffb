"""The activations added with the extra nn layers (SELU, CELU, GLU, Hardswish, Hardsigmoid,
Hardshrink, Softshrink, Tanhshrink, Threshold, Softsign, LogSigmoid, PReLU, RReLU): values and
gradients against NumPy closed forms, the gradients PyTorch picks at the kinks, reprs and
error messages."""

import math

import numpy as np
import pytest

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F

ALPHA = 1.6732632423543772848170429916717
SCALE = 1.0507009873554804934193349852946
X = np.concatenate([np.random.default_rng(0).uniform(-5, 5, 30), [-2.5, 2.5, 0.7, -0.7]])


def _sig(x):
    return 1 / (1 + np.exp(-x))


# name: (rgrad function, value, derivative), the last two as NumPy closed forms.
CLOSED = {
    "selu": (
        F.selu,
        lambda x: SCALE * np.where(x > 0, x, ALPHA * np.expm1(x)),
        lambda x: SCALE * np.where(x > 0, 1, ALPHA * np.exp(x)),
    ),
    "celu": (
        lambda x: F.celu(x, 0.6),
        lambda x: np.where(x > 0, x, 0.6 * np.expm1(x / 0.6)),
        lambda x: np.where(x > 0, 1, np.exp(x / 0.6)),
    ),
    "hardswish": (
        F.hardswish,
        lambda x: x * np.clip(x + 3, 0, 6) / 6,
        lambda x: np.where(x <= -3, 0, np.where(x >= 3, 1, x / 3 + 0.5)),
    ),
    "hardsigmoid": (
        F.hardsigmoid,
        lambda x: np.clip(x + 3, 0, 6) / 6,
        lambda x: np.where(np.abs(x) < 3, 1 / 6, 0),
    ),
    "hardshrink": (
        lambda x: F.hardshrink(x, 0.7),
        lambda x: np.where(np.abs(x) > 0.7, x, 0),
        lambda x: np.where(np.abs(x) > 0.7, 1, 0),
    ),
    "softshrink": (
        lambda x: F.softshrink(x, 0.7),
        lambda x: np.where(x > 0.7, x - 0.7, np.where(x < -0.7, x + 0.7, 0)),
        lambda x: np.where(np.abs(x) > 0.7, 1, 0),
    ),
    "tanhshrink": (F.tanhshrink, lambda x: x - np.tanh(x), lambda x: np.tanh(x) ** 2),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2),
    "threshold": (
        lambda x: F.threshold(x, 0.7, -4.0),
        lambda x: np.where(x > 0.7, x, -4.0),
        lambda x: np.where(x > 0.7, 1, 0),
    ),
    "logsigmoid": (F.logsigmoid, lambda x: np.log(_sig(x)), lambda x: 1 - _sig(x)),
    "rrelu_eval": (
        lambda x: F.rrelu(x, 0.1, 0.3),
        lambda x: np.where(x > 0, x, 0.2 * x),
        lambda x: np.where(x > 0, 1, 0.2),
    ),
}


@pytest.mark.parametrize("name", sorted(CLOSED))
@pytest.mark.parametrize("dtype, tol", [(rgrad.float64, 1e-10), (rgrad.float32, 1e-5)])
def test_values_and_gradients_match_the_closed_forms(name, dtype, tol):
    fn, value, slope = CLOSED[name]
    x = rgrad.tensor(X, dtype=dtype, requires_grad=True)
    y = fn(x)
    y.sum().backward()
    assert y.dtype == dtype
    np.testing.assert_allclose(y.detach().numpy(), value(X), rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad.numpy(), slope(X), rtol=tol, atol=tol)


# The gradients PyTorch 2.15 gives at the kinks (computed with it and hard-coded here).
KINKS = [
    (F.selu, [0.0], [SCALE * ALPHA]),
    (lambda x: F.celu(x, 0.5), [0.0], [1.0]),
    (F.hardswish, [-3.0, 3.0], [0.0, 1.0]),
    (F.hardsigmoid, [-3.0, 3.0], [0.0, 0.0]),
    (lambda x: F.hardshrink(x, 0.5), [-0.5, 0.5], [0.0, 0.0]),
    (lambda x: F.softshrink(x, 0.5), [-0.5, 0.5], [0.0, 0.0]),
    (lambda x: F.threshold(x, 1.0, 0.0), [1.0], [0.0]),
    (F.softsign, [0.0], [1.0]),
    (lambda x: F.prelu(x, rgrad.tensor([0.3], dtype=rgrad.float64)), [0.0], [0.3]),
    (lambda x: F.rrelu(x, 0.2, 0.4), [0.0], [0.3]),
]


@pytest.mark.parametrize("case", range(len(KINKS)))
def test_gradients_at_the_kinks_are_pytorchs(case):
    fn, at, expected = KINKS[case]
    x = rgrad.tensor(at, dtype=rgrad.float64, requires_grad=True)
    fn(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_large_inputs_stay_finite():
    x = rgrad.tensor([-1000.0, 1000.0], dtype=rgrad.float64, requires_grad=True)
    for fn in (F.selu, F.celu, F.logsigmoid, F.softsign, F.tanhshrink):
        y = fn(x)
        y.sum().backward()
        assert np.isfinite(y.detach().numpy()).all() and np.isfinite(x.grad.numpy()).all()
        x.grad = None


def test_glu_halves_along_dim():
    a = np.random.default_rng(1).standard_normal((3, 4))
    x = rgrad.tensor(a, dtype=rgrad.float64, requires_grad=True)
    y = F.glu(x)  # halves of the last dim
    np.testing.assert_allclose(y.detach().numpy(), a[:, :2] * _sig(a[:, 2:]), rtol=1e-12)
    y.sum().backward()
    s = _sig(a[:, 2:])
    expected = np.concatenate([s, a[:, :2] * s * (1 - s)], axis=1)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    assert nn.GLU(0)(rgrad.ones(4, 3)).shape == (2, 3)


def test_prelu_per_channel_and_its_weight_gradient():
    a = np.random.default_rng(2).standard_normal((2, 3, 4))
    w = np.array([0.1, -0.2, 0.5])
    x = rgrad.tensor(a, dtype=rgrad.float64, requires_grad=True)
    wt = rgrad.tensor(w, dtype=rgrad.float64, requires_grad=True)
    y = F.prelu(x, wt)
    slope = np.where(a > 0, 1.0, w[:, None])
    np.testing.assert_allclose(y.detach().numpy(), a * slope, rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slope, rtol=1e-12)
    np.testing.assert_allclose(wt.grad.numpy(), np.where(a > 0, 0, a).sum((0, 2)), rtol=1e-12)


def test_prelu_module():
    m = nn.PReLU(3, init=0.1)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    np.testing.assert_allclose(m.weight.detach().numpy(), [0.1] * 3, rtol=1e-7)
    np.testing.assert_allclose(m(-rgrad.ones(2, 3)).detach().numpy(), np.full((2, 3), -0.1), 1e-6)
    assert repr(nn.PReLU()) == "PReLU(num_parameters=1)"
    assert nn.PReLU(dtype=rgrad.float64).weight.dtype == rgrad.float64


def test_rrelu_training_draws_slopes_from_the_generator():
    x = -rgrad.ones(20000, dtype=rgrad.float64)
    rgrad.manual_seed(0)
    first = F.rrelu(x, 0.1, 0.3, training=True)
    rgrad.manual_seed(0)
    again = nn.RReLU(0.1, 0.3)(x)
    slopes = -first.numpy()
    assert np.array_equal(first.numpy(), again.numpy())
    assert 0.1 <= slopes.min() and slopes.max() <= 0.3 and len(np.unique(slopes)) > 1000
    assert abs(slopes.mean() - 0.2) < 0.003
    positive = rgrad.tensor([1.0, 2.0])
    assert F.rrelu(positive, training=True).tolist() == [1.0, 2.0]
    m = nn.RReLU(0.1, 0.3).eval()
    assert m(x).tolist()[:2] == pytest.approx([-0.2, -0.2])


def test_inplace_forms_write_into_the_input():
    for fn, args in (
        (F.selu_, ()),
        (F.celu_, (0.5,)),
        (F.threshold_, (0.0, 9.0)),
        (F.rrelu_, ()),
        (lambda x: F.hardswish(x, inplace=True), ()),
        (lambda x: F.hardsigmoid(x, inplace=True), ()),
    ):
        x = rgrad.tensor([-1.0, 2.0])
        expected = fn(x.clone(), *args)
        assert fn(x, *args) is x and x.tolist() == pytest.approx(expected.tolist())
    leaf = rgrad.tensor([1.0, -1.0], requires_grad=True)
    y = leaf * 1
    nn.SELU(inplace=True)(y).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), [SCALE, SCALE * ALPHA * math.exp(-1)], 1e-6)


def test_modules_compute_their_functional_forms():
    x = rgrad.tensor(X)
    for module, fn in (
        (nn.SELU(), F.selu),
        (nn.CELU(0.5), lambda t: F.celu(t, 0.5)),
        (nn.Hardswish(), F.hardswish),
        (nn.Hardsigmoid(), F.hardsigmoid),
        (nn.Hardshrink(0.2), lambda t: F.hardshrink(t, 0.2)),
        (nn.Softshrink(), F.softshrink),
        (nn.Tanhshrink(), F.tanhshrink),
        (nn.Threshold(0.1, 20.0), lambda t: F.threshold(t, 0.1, 20.0)),
        (nn.Softsign(), F.softsign),
        (nn.LogSigmoid(), F.logsigmoid),
        (nn.ReLU6(), F.relu6),
        (nn.Softmin(0), lambda t: F.softmin(t, 0)),
    ):
        assert module(x).tolist() == fn(x).tolist()


# PyTorch 2.15's reprs, verbatim.
REPRS = [
    (nn.SELU(), "SELU()"),
    (nn.SELU(True), "SELU(inplace=True)"),
    (nn.CELU(), "CELU(alpha=1.0)"),
    (nn.CELU(0.5, True), "CELU(alpha=0.5, inplace=True)"),
    (nn.GLU(), "GLU(dim=-1)"),
    (nn.Hardswish(True), "Hardswish()"),
    (nn.Hardsigmoid(), "Hardsigmoid()"),
    (nn.Hardshrink(), "Hardshrink(0.5)"),
    (nn.Softshrink(0.3), "Softshrink(0.3)"),
    (nn.Tanhshrink(), "Tanhshrink()"),
    (nn.Threshold(0.1, 20), "Threshold(threshold=0.1, value=20)"),
    (nn.Threshold(0.1, 20.0, True), "Threshold(threshold=0.1, value=20.0, inplace=True)"),
    (nn.Softsign(), "Softsign()"),
    (nn.LogSigmoid(), "LogSigmoid()"),
    (nn.PReLU(3, 0.1), "PReLU(num_parameters=3)"),
    (nn.RReLU(), "RReLU(lower=0.125, upper=0.3333333333333333)"),
    (nn.RReLU(0.1, 0.3, True), "RReLU(lower=0.1, upper=0.3, inplace=True)"),
]


@pytest.mark.parametrize("case", range(len(REPRS)))
def test_reprs_are_pytorchs(case):
    module, text = REPRS[case]
    assert repr(module) == text


# PyTorch 2.15's exception types and messages, verbatim.
ERRORS = [
    (lambda: F.glu(rgrad.tensor(1.0)), RuntimeError, "glu does not support scalars because"),
    (
        lambda: F.glu(rgrad.ones(2, 3), 1),
        RuntimeError,
        "Halving dimension must be even, but dimension 1 is size 3",
    ),
    (
        lambda: F.glu(rgrad.ones(2, 3), 3),
        IndexError,
        r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 3\)",
    ),
    (lambda: F.celu(rgrad.ones(2), 0.0), RuntimeError, "ZeroDivisionError: alpha cannot be 0"),
    (
        lambda: F.softshrink(rgrad.ones(2), -0.5),
        RuntimeError,
        r"lambda must be in range \[0, 3.40282e\+38\] for input dtype Float, but found -0.5",
    ),
    (
        lambda: F.softshrink(rgrad.ones(2, dtype=rgrad.float64), -1),
        RuntimeError,
        r"lambda must be in range \[0, 1.79769e\+308\] for input dtype Double, but found -1$",
    ),
    (
        lambda: F.prelu(rgrad.ones(2, 3), rgrad.ones(2)),
        RuntimeError,
        "Mismatch of parameter numbers and input channel size. Found parameter numbers = 2 "
        "and channel size = 3.",
    ),
    (
        lambda: nn.PReLU(3)(rgrad.ones(3)),
        RuntimeError,
        "Found parameter numbers = 3 and channel size = 1.",
    ),
    (
        lambda: F.prelu(rgrad.ones(2, 3), rgrad.ones(1, 3)),
        RuntimeError,
        "prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = 2",
    ),
    (
        lambda: F.rrelu(rgrad.ones(2), 0.5, 0.1),
        RuntimeError,
        "Lower bound should be less than or equal to the upper bound",
    ),
    (
        lambda: F.selu(rgrad.ones(2, requires_grad=True), inplace=True),
        RuntimeError,
        "a leaf Variable that requires grad is being used in an in-place operation.",
    ),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_error_messages_are_pytorchs(case):
    fn, kind, message = ERRORS[case]
    with pytest.raises(kind, match=message):
        fn()


def test_prelu_scalar_weight_and_zero_dim_input():
    assert F.prelu(rgrad.tensor(-2.0), rgrad.tensor([0.25])).shape == ()
    assert F.prelu(rgrad.tensor([[-2.0, 1.0]]), rgrad.tensor(0.5)).tolist() == [[-1.0, 1.0]]
