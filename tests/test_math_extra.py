"""The elementwise math ops beyond the basic arithmetic (inverse trigonometric and hyperbolic,
log2/log10/exp2, erfinv, lgamma/digamma, frac, sinc, logit, nan_to_num; atan2, hypot,
logaddexp, xlogy, fmod, remainder, ...): values against NumPy/SciPy-free references, float64
gradients by finite differences, dtypes, broadcasting, in-place forms and PyTorch's errors."""

import math
import os

import numpy as np
import pytest

import rgrad
from rgrad.autograd import gradcheck, gradgradcheck


def rnd(*shape, low=-2.0, high=2.0, seed=0, requires_grad=True):
    rng = np.random.default_rng(100 + seed)
    return rgrad.tensor(
        rng.uniform(low, high, size=shape), dtype=rgrad.float64, requires_grad=requires_grad
    )


def host(t):
    return t.detach().numpy()


_lgamma = np.vectorize(math.lgamma)
_erf = np.vectorize(math.erf)


def _digamma(x):
    # Central difference of lgamma in high resolution is not enough: use the series of the
    # Rust kernel's definition through the recurrence and mpmath-free asymptotics.
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    for i, v in np.ndenumerate(x):
        r = 0.0
        while v < 20:
            r -= 1 / v
            v += 1
        out[i] = (
            r + math.log(v) - 1 / (2 * v) - 1 / (12 * v * v) + 1 / (120 * v**4) - 1 / (252 * v**6)
        )
    return out


UNARY = {
    # name: (numpy reference, domain low, high)
    "asin": (np.arcsin, -0.9, 0.9),
    "acos": (np.arccos, -0.9, 0.9),
    "atan": (np.arctan, -3.0, 3.0),
    "sinh": (np.sinh, -3.0, 3.0),
    "cosh": (np.cosh, -3.0, 3.0),
    "asinh": (np.arcsinh, -3.0, 3.0),
    "acosh": (np.arccosh, 1.2, 4.0),
    "atanh": (np.arctanh, -0.9, 0.9),
    "log2": (np.log2, 0.2, 4.0),
    "log10": (np.log10, 0.2, 4.0),
    "exp2": (np.exp2, -3.0, 3.0),
    "lgamma": (_lgamma, 0.3, 5.0),
    "digamma": (_digamma, 0.5, 5.0),
    "frac": (lambda a: a - np.trunc(a), -3.0, 3.0),
    "sinc": (np.sinc, -2.0, 2.0),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_and_grad(name):
    ref, lo, hi = UNARY[name]
    x = rnd(3, 4, low=lo, high=hi)
    np.testing.assert_allclose(host(getattr(x, name)()), ref(host(x)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(getattr(rgrad, name)(x)), ref(host(x)), rtol=1e-10, atol=1e-12)
    if name == "frac":  # a finite difference across a jump would fail; the grad is 1
        x.frac().sum().backward()
        np.testing.assert_array_equal(host(x.grad), np.ones((3, 4)))
        return
    assert gradcheck(lambda t: getattr(t, name)(), (x,))
    assert getattr(x, name)().grad_fn is not None


@pytest.mark.parametrize("name", ["asin", "atan", "sinh", "asinh", "atanh", "log2", "exp2", "sinc"])
def test_unary_second_order(name):
    ref, lo, hi = UNARY[name]
    assert gradgradcheck(lambda t: getattr(t, name)(), (rnd(4, low=lo, high=hi),))


def test_unary_float32_int_and_0d():
    x = rgrad.tensor([0.25, 0.5], dtype=rgrad.float32)
    assert x.asin().dtype == rgrad.float32
    np.testing.assert_allclose(host(x.asin()), np.arcsin([0.25, 0.5]), rtol=1e-6)
    i = rgrad.tensor([1, 2, 4])
    assert i.log2().dtype == rgrad.float32
    np.testing.assert_allclose(host(i.log2()), [0.0, 1.0, 2.0])
    assert rgrad.tensor(0.5).atanh().shape == ()
    assert rgrad.zeros(0, 3).cosh().shape == (0, 3)
    with pytest.raises(RuntimeError, match="\"frac_cpu\" not implemented for 'Long'"):
        i.frac()


def test_unary_special_values():
    nan, inf = float("nan"), float("inf")
    t = rgrad.tensor([1.0, -1.0, 0.5, 2.0], dtype=rgrad.float64)
    np.testing.assert_allclose(host(t.erfinv()), [inf, -inf, 0.4769362762044699, nan])
    y = rgrad.tensor(np.linspace(-0.999, 0.999, 41), dtype=rgrad.float64)
    np.testing.assert_allclose(_erf(host(y.erfinv())), host(y), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(
        host(rgrad.tensor([0.0, -1.0, -0.5, 3.0]).lgamma()),
        [inf, inf, 1.2655121, 0.6931472],
        rtol=1e-6,
    )
    d = host(rgrad.tensor([0.0, -1.0, -0.5, 3.0], dtype=rgrad.float64).digamma())
    assert d[0] == -inf and math.isnan(d[1])
    np.testing.assert_allclose(d[2:], [0.03648997397857652, 0.9227843350984671], rtol=1e-12)
    np.testing.assert_allclose(host(rgrad.tensor([0.0, 0.5]).sinc()), [1.0, 2 / math.pi], rtol=1e-6)
    np.testing.assert_allclose(
        host(rgrad.tensor([2.0, 0.5]).asin()), [nan, math.asin(0.5)], rtol=1e-6
    )


def test_erfinv_and_lgamma_grads():
    assert gradcheck(lambda t: t.erfinv(), (rnd(5, low=-0.9, high=0.9),))
    assert gradcheck(lambda t: t.lgamma(), (rnd(5, low=-2.7, high=-2.2),))
    assert gradcheck(lambda t: t.digamma(), (rnd(5, low=-0.8, high=-0.2),))


def test_sinc_grad_at_zero():
    x = rgrad.tensor([0.0, 1.0], dtype=rgrad.float64, requires_grad=True)
    x.sinc().sum().backward()
    np.testing.assert_allclose(host(x.grad), [0.0, -1.0])


@pytest.mark.parametrize(
    "name",
    [
        "asin",
        "acos",
        "atan",
        "sinh",
        "cosh",
        "asinh",
        "atanh",
        "log2",
        "log10",
        "exp2",
        "erfinv",
        "lgamma",
        "digamma",
        "frac",
        "sinc",
        "sin",
        "cos",
        "tan",
        "rsqrt",
        "log1p",
        "expm1",
        "ceil",
        "trunc",
        "erf",
    ],
)
def test_unary_inplace(name):
    x = rgrad.tensor([0.25, 0.5], dtype=rgrad.float64)
    want = host(getattr(x, name)())
    y = x.clone()
    assert getattr(y, name + "_")() is y
    np.testing.assert_allclose(host(y), want)


def test_inplace_keeps_history():
    a = rnd(3)
    b = a * 1
    b.asin_()
    b.sum().backward()
    np.testing.assert_allclose(host(a.grad), 1 / np.sqrt(1 - host(a) ** 2))
    with pytest.raises(
        RuntimeError, match="result type Float can't be cast to the desired output type Long"
    ):
        rgrad.tensor([1, 2]).sinh_()


def test_aliases():
    x = rnd(3, low=-0.5, high=0.5)
    for alias, name in [
        ("arcsin", "asin"),
        ("arccos", "acos"),
        ("arctan", "atan"),
        ("arcsinh", "asinh"),
        ("arctanh", "atanh"),
    ]:
        np.testing.assert_array_equal(host(getattr(x, alias)()), host(getattr(x, name)()))
        np.testing.assert_array_equal(host(getattr(rgrad, alias)(x)), host(getattr(x, name)()))
    np.testing.assert_array_equal(host(rgrad.arctan2(x, x + 1)), host(rgrad.atan2(x, x + 1)))


# ---- binary ----------------------------------------------------------------------------------


def _xlogy(a, b):
    with np.errstate(all="ignore"):
        return np.where(a == 0, 0.0, a * np.log(b))


BINARY = {
    # name: (numpy reference, input a, input b)
    "atan2": (np.arctan2, lambda s, k: rnd(*s, seed=k), lambda s, k: rnd(*s, seed=k)),
    "hypot": (np.hypot, lambda s, k: rnd(*s, seed=k), lambda s, k: rnd(*s, seed=k)),
    "logaddexp": (np.logaddexp, lambda s, k: rnd(*s, seed=k), lambda s, k: rnd(*s, seed=k)),
    "xlogy": (_xlogy, lambda s, k: rnd(*s, seed=k), lambda s, k: rnd(*s, low=0.5, seed=k)),
    "fmod": (
        np.fmod,
        lambda s, k: rnd(*s, seed=k),
        lambda s, k: rnd(*s, low=0.6, high=1.4, seed=k),
    ),
    "remainder": (
        np.remainder,
        lambda s, k: rnd(*s, seed=k),
        lambda s, k: rnd(*s, low=0.6, high=1.4, seed=k),
    ),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize(
    "shapes", [((3, 4), (3, 4)), ((3, 1), (4,)), ((), (2, 3))], ids=["same", "bcast", "0d"]
)
def test_binary_values_and_grad(name, shapes):
    ref, ma, mb = BINARY[name]
    a, b = ma(shapes[0], 1), mb(shapes[1], 2)
    np.testing.assert_allclose(
        host(getattr(a, name)(b)), ref(host(a), host(b)), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        host(getattr(rgrad, name)(a, b)), ref(host(a), host(b)), rtol=1e-10, atol=1e-12
    )
    assert gradcheck(lambda x, y: getattr(x, name)(y), (a, b))


@pytest.mark.parametrize("name", ["atan2", "hypot", "logaddexp", "xlogy"])
def test_binary_second_order(name):
    ref, ma, mb = BINARY[name]
    assert gradgradcheck(lambda x, y: getattr(x, name)(y), (ma((3,), 1), mb((3,), 2)))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_with_numbers(name):
    ref, ma, _ = BINARY[name]
    a = ma((3,), 1)
    np.testing.assert_allclose(host(getattr(a, name)(1.5)), ref(host(a), 1.5), rtol=1e-10)
    np.testing.assert_allclose(
        host(getattr(rgrad, name)(1.5, a.abs() + 0.5)), ref(1.5, host(a.abs() + 0.5)), rtol=1e-10
    )
    assert gradcheck(lambda x: getattr(x, name)(1.5), (a,))
    assert gradcheck(lambda x: getattr(rgrad, name)(1.5, x.abs() + 0.5), (a,))


def test_binary_grad_fn_names():
    a, b = rnd(2), rnd(2, seed=1)
    assert a.atan2(b).grad_fn.name() == "Atan2Backward0"
    assert (a % b).grad_fn.name() == "RemainderBackward1"
    assert (a % 2).grad_fn.name() == "RemainderBackward0"
    assert a.fmod(b).grad_fn.name() == "FmodBackward1"
    assert a.xlogy(b).grad_fn.name() == "XlogyBackward0"
    assert rgrad.xlogy(2.0, b).grad_fn.name() == "XlogyBackward1"


def test_binary_dtypes_and_errors():
    i, j = rgrad.tensor([5, -5, 7]), rgrad.tensor([3, 3, -2])
    assert rgrad.fmod(i, j).tolist() == [2, -2, 1]
    assert rgrad.remainder(i, j).tolist() == [2, 1, -1]
    assert rgrad.floor_divide(i, j).tolist() == [1, -2, -4]
    assert rgrad.true_divide(i, j).dtype == rgrad.float32
    assert rgrad.atan2(i, j).dtype == rgrad.float32
    assert rgrad.xlogy(i, j.abs()).dtype == rgrad.float32
    with pytest.raises(RuntimeError, match="\"hypot_cpu\" not implemented for 'Long'"):
        rgrad.hypot(i, j)
    with pytest.raises(RuntimeError, match="\"logaddexp_cpu\" not implemented for 'Long'"):
        rgrad.logaddexp(i, j)
    b = rgrad.tensor([True, False])
    for fn, kernel in [
        (rgrad.remainder, "remainder"),
        (rgrad.floor_divide, "div_floor"),
        (rgrad.fmod, "fmod"),
    ]:
        with pytest.raises(RuntimeError, match=f"\"{kernel}_cpu\" not implemented for 'Bool'"):
            fn(b, b)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        rgrad.fmod(i, rgrad.tensor([0, 1, 1]))
    with pytest.raises(RuntimeError):
        rgrad.atan2(rgrad.ones(2), rgrad.ones(3))
    with pytest.raises(TypeError):
        rgrad.atan2(rgrad.ones(2), "x")


def test_binary_special_values():
    inf, nan = float("inf"), float("nan")
    a = rgrad.tensor([-inf, inf, 0.0, 1.0, nan], dtype=rgrad.float64)
    b = rgrad.tensor([-inf, inf, -inf, 2.0, 1.0], dtype=rgrad.float64)
    np.testing.assert_array_equal(host(a.logaddexp(b)), np.logaddexp(host(a), host(b)))
    np.testing.assert_array_equal(
        host(rgrad.tensor([0.0, 0.0, 1.0]).xlogy(rgrad.tensor([0.0, nan, 0.0]))), [0.0, nan, -inf]
    )
    np.testing.assert_array_equal(
        host(rgrad.tensor([3.0, inf]).hypot(rgrad.tensor([4.0, nan]))), [5.0, inf]
    )


def test_binary_inplace():
    a = rgrad.tensor([1.0, -2.0, 3.5], dtype=rgrad.float64)
    for name in [
        "atan2",
        "hypot",
        "logaddexp",
        "xlogy",
        "fmod",
        "remainder",
        "floor_divide",
        "true_divide",
    ]:
        y = a.abs().clone()
        want = host(getattr(y, name)(1.5))
        assert getattr(y, name + "_")(1.5) is y
        np.testing.assert_allclose(host(y), want)


# ---- composites ------------------------------------------------------------------------------


def test_logit():
    p = rnd(3, 4, low=0.05, high=0.95)
    np.testing.assert_allclose(host(rgrad.logit(p)), np.log(host(p) / (1 - host(p))), rtol=1e-12)
    assert gradcheck(lambda t: t.logit(), (p,))
    x = rgrad.tensor([0.0, 0.5, 1.0], dtype=rgrad.float64, requires_grad=True)
    y = x.logit(eps=0.1)
    np.testing.assert_allclose(host(y), [math.log(1 / 9), 0.0, math.log(9)], rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(host(x.grad), [0.0, 4.0, 0.0])
    z = rgrad.tensor([0.5, 0.25])
    assert z.logit_() is z
    np.testing.assert_allclose(host(z), [0.0, math.log(1 / 3)], rtol=1e-6)


def test_nan_to_num():
    inf, nan = float("inf"), float("nan")
    x = rgrad.tensor([nan, inf, -inf, 1.5], requires_grad=True)
    y = rgrad.nan_to_num(x)
    f32 = np.finfo(np.float32)
    np.testing.assert_array_equal(
        host(y), np.nan_to_num(np.array([nan, inf, -inf, 1.5], dtype=np.float32))
    )
    assert host(y)[1] == f32.max
    np.testing.assert_array_equal(host(x.nan_to_num(1.0, 2.0, -2.0)), [1.0, 2.0, -2.0, 1.5])
    y.sum().backward()
    np.testing.assert_array_equal(host(x.grad), [0.0, 0.0, 0.0, 1.0])
    assert rgrad.nan_to_num(rgrad.tensor([1, 2])).tolist() == [1, 2]
    z = rgrad.tensor([nan, 1.0])
    assert z.nan_to_num_() is z and z.tolist() == [0.0, 1.0]


def test_logaddexp2():
    a, b = rnd(4), rnd(4, seed=1)
    np.testing.assert_allclose(
        host(rgrad.logaddexp2(a, b)), np.logaddexp2(host(a), host(b)), rtol=1e-12
    )
    assert gradcheck(rgrad.logaddexp2, (a, b))


# ---- the wgpu device -------------------------------------------------------------------------

WGPU_REQUIRED = os.environ.get("RGRAD_REQUIRE_WGPU") == "1"


@pytest.mark.wgpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_wgpu_matches_cpu(dtype):
    if not WGPU_REQUIRED and not rgrad.wgpu.is_available():
        pytest.skip("no wgpu adapter")
    dt = getattr(rgrad, dtype)
    if dt == rgrad.float64 and not rgrad.wgpu.supports_dtype(dt):
        pytest.skip("no float64 on this adapter")
    tol = 2e-5 if dtype == "float32" else 1e-9
    vals = [0.3, -0.7, 2.0, -2.5, 0.95, 1.7]
    x = rgrad.tensor(vals, dtype=dt)
    y = rgrad.tensor([1.5, 2.0, -0.5, 3.0, 0.25, -1.25], dtype=dt)
    for name in UNARY_NAMES:
        got = host(getattr(x.to("wgpu"), name)().cpu())
        np.testing.assert_allclose(got, host(getattr(x, name)()), rtol=tol, atol=tol, err_msg=name)
    for name in ["atan2", "hypot", "logaddexp", "xlogy", "fmod", "remainder"]:
        got = host(getattr(x.to("wgpu"), name)(y.to("wgpu")).cpu())
        np.testing.assert_allclose(got, host(getattr(x, name)(y)), rtol=tol, atol=tol, err_msg=name)
    g = x.to("wgpu").requires_grad_()
    (g.asinh() * g.atan2(y.to("wgpu"))).sum().backward()
    c = x.clone().requires_grad_()
    (c.asinh() * c.atan2(y)).sum().backward()
    np.testing.assert_allclose(host(g.grad.cpu()), host(c.grad), rtol=tol, atol=tol)


UNARY_NAMES = [
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "asinh",
    "acosh",
    "atanh",
    "log2",
    "log10",
    "exp2",
    "erfinv",
    "lgamma",
    "digamma",
    "frac",
    "sinc",
]
