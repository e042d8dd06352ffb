"""The contiguous elementwise loops of cpu/elementwise.rs run in stack blocks of 256 elements
inside parallel chunks of 16384 (so closures that capture a scalar vectorize). These cases
cross both boundaries, every dtype the ops take, scalar and tensor operands, NaN and signed
zeros, and strided views (which take the per-row path), against NumPy."""

import numpy as np
import pytest

import rgrad

SIZES = [1, 255, 256, 257, 16384 + 3, 70001]
DTYPES = [np.float32, np.float64, np.int32, np.int64]


def _data(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.floating):
        v = rng.standard_normal(n).astype(dtype)
        if n > 8:
            v[3], v[5], v[7] = np.nan, -0.0, 0.0
        return v
    return rng.integers(-50, 50, n).astype(dtype)


def _same(got, want):
    got = got.numpy()
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    if np.issubdtype(want.dtype, np.floating):
        # Signed zeros and NaN where NumPy has them.
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_unary_and_scalar_maps(n, dtype):
    a = _data(n, dtype)
    x = rgrad.tensor(a)
    # relu: values below zero become zero; NaN and -0.0 pass (PyTorch's rule).
    _same(x.relu(), np.where(a < 0, np.zeros_like(a), a))
    _same(-x, -a)
    _same(x + 2, a + dtype(2))
    _same(x * 3, a * dtype(3))
    lo, hi = dtype(-1), dtype(1)
    want = np.where(a < lo, lo, a)
    want = np.where(want > hi, hi, want)
    _same(x.clamp(-1, 1), want)
    _same(x.clamp_min(0), np.where(a < 0, dtype(0), a))
    _same(x.clamp_max(0), np.where(a > 0, dtype(0), a))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_binary_and_where(n, dtype):
    a, b = _data(n, dtype, 1), _data(n, dtype, 2)
    x, y = rgrad.tensor(a), rgrad.tensor(b)
    _same(x + y, a + b)
    _same(x * y, a * b)
    c = a > 0
    _same(rgrad.where(x > 0, x, y), np.where(c, a, b))
    _same(rgrad.where(x > 0, x, 0), np.where(c, a, dtype(0)))
    _same(rgrad.where(rgrad.tensor(c), 1, y), np.where(c, dtype(1), b))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_strided_and_broadcast_views(dtype):
    a, b = _data(300 * 70, dtype, 3).reshape(300, 70), _data(70, dtype, 4)
    x, y = rgrad.tensor(a), rgrad.tensor(b)
    xt, at = x.t(), a.T
    _same(xt.relu(), np.where(at < 0, np.zeros_like(at), at))
    _same(xt.clamp(-1, 1), _clip(at))
    _same(x + y, a + b)
    _same(rgrad.where(x > 0, x, y), np.where(a > 0, a, b))
    _same(rgrad.where(xt > 0, xt, 0), np.where(at > 0, at, dtype(0)))
    # An offset view (a slice not at the start of its storage).
    _same(x[7:].relu(), np.where(a[7:] < 0, np.zeros_like(a[7:]), a[7:]))
    _same(rgrad.where(x[7:] > 0, x[7:], y), np.where(a[7:] > 0, a[7:], b))


def _clip(a):
    # clamp passes NaN; np.clip does too, but spell it as the rule reads.
    lo, hi = a.dtype.type(-1), a.dtype.type(1)
    out = np.where(a < lo, lo, a)
    return np.where(out > hi, hi, out)


def test_relu_and_clamp_gradients_float64():
    rgrad.manual_seed(0)
    x = rgrad.randn(257, dtype=rgrad.float64, requires_grad=True)
    assert rgrad.autograd.gradcheck(lambda t: t.relu(), (x,))
    assert rgrad.autograd.gradcheck(lambda t: t.clamp(-0.5, 0.5), (x,))
    assert rgrad.autograd.gradcheck(lambda t: rgrad.where(t > 0, t, t * 2), (x,))
