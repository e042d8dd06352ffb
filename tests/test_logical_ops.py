"""NaN tests, logical and bitwise ops (and their operators), shifts, isclose/allclose/equal,
count_nonzero: PyTorch's reference vectors (tests/data/set_search_ops.json), properties
against Python's integers, and the device against the CPU (NaN compares unequal there too)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from set_search_cases import check, family, run

import rgrad

CASES = family("logical")
IDS = lambda c: c["name"]  # noqa: E731


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_reference(case):
    check(case)


def wrap64(v):
    return (v + 2**63) % 2**64 - 2**63


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-3, 70)), min_size=1, max_size=20
    )
)
def test_shifts_match_python(pairs):
    xs, ss = [p[0] for p in pairs], [p[1] for p in pairs]
    x, s = rgrad.tensor(xs, dtype=rgrad.int64), rgrad.tensor(ss, dtype=rgrad.int64)
    left = [0 if k < 0 or k >= 64 else wrap64(v << k) for v, k in zip(xs, ss)]
    right = [(-1 if v < 0 else 0) if k < 0 or k >= 64 else v >> k for v, k in zip(xs, ss)]
    assert (x << s).tolist() == left
    assert (x >> s).tolist() == right


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1)),
        min_size=1,
        max_size=20,
    )
)
def test_bitwise_match_python(pairs):
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    x, y = rgrad.tensor(xs, dtype=rgrad.int64), rgrad.tensor(ys, dtype=rgrad.int64)
    assert (x & y).tolist() == [a & b for a, b in zip(xs, ys)]
    assert (x | y).tolist() == [a | b for a, b in zip(xs, ys)]
    assert (x ^ y).tolist() == [a ^ b for a, b in zip(xs, ys)]
    assert (~x).tolist() == [~a for a in xs]


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(floats, floats), min_size=1, max_size=20))
def test_float_tests_and_logical_match_python(pairs):
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    x, y = rgrad.tensor(xs, dtype=rgrad.float64), rgrad.tensor(ys, dtype=rgrad.float64)
    assert rgrad.isnan(x).tolist() == [math.isnan(v) for v in xs]
    assert rgrad.isinf(x).tolist() == [math.isinf(v) for v in xs]
    assert rgrad.isfinite(x).tolist() == [math.isfinite(v) for v in xs]
    assert rgrad.logical_and(x, y).tolist() == [bool(a) and bool(b) for a, b in zip(xs, ys)]
    assert rgrad.logical_xor(x, y).tolist() == [bool(a) != bool(b) for a, b in zip(xs, ys)]
    assert (x != y).tolist() == [a != b for a, b in zip(xs, ys)]


def test_logical_and_large_masks():
    rng = np.random.default_rng(0)
    a, b = rng.random(1_000_003) > 0.5, rng.random(1_000_003) > 0.3
    got = rgrad.logical_and(rgrad.from_numpy(a), rgrad.from_numpy(b)).numpy()
    np.testing.assert_array_equal(got, a & b)
    np.testing.assert_array_equal(
        rgrad.logical_or(rgrad.from_numpy(a), rgrad.from_numpy(b)).numpy(), a | b
    )


def test_bool_operators_large_broadcast_and_strided():
    """`&`, `|`, `^` of two bool tensors take the logical ops' parallel loop: contiguous,
    broadcast and strided operands all give NumPy's answers, with bool results."""
    rng = np.random.default_rng(1)
    a, b = rng.random((1000, 1001)) > 0.5, rng.random((1000, 1001)) > 0.4
    ta, tb = rgrad.from_numpy(a), rgrad.from_numpy(b)
    row, col = rgrad.from_numpy(b[0]), rgrad.from_numpy(b[:, :1].copy())
    for got, want in [
        (ta & tb, a & b),
        (ta | tb, a | b),
        (ta ^ tb, a ^ b),
        (ta & row, a & b[0]),
        (col | ta, b[:, :1] | a),
        (ta.t() ^ tb.t(), a.T ^ b.T),
        (ta[::2, 1::3] & tb[1::2, ::3], a[::2, 1::3] & b[1::2, ::3]),
        (rgrad.bitwise_and(ta, tb), a & b),
    ]:
        assert got.dtype == rgrad.bool
        np.testing.assert_array_equal(got.numpy(), want)
    with pytest.raises(RuntimeError):
        ta & rgrad.from_numpy(b[:3])
    # a bool with an integer tensor still promotes
    assert (ta[:2, :2] & rgrad.tensor([[3, 2], [1, 0]])).dtype == rgrad.int64


def test_results_have_no_history():
    a = rgrad.tensor([1.0, float("nan")], requires_grad=True)
    for out in (rgrad.isnan(a), rgrad.logical_not(a), rgrad.isclose(a, a), a != a):
        assert not out.requires_grad and out.grad_fn is None


# ---- the device against the CPU --------------------------------------------------------------

WGPU = pytest.mark.skipif(not rgrad.wgpu.is_available(), reason="no wgpu adapter")
DEVICE_CASES = [c for c in CASES if "error" not in c]


@pytest.mark.wgpu
@WGPU
@pytest.mark.parametrize("case", DEVICE_CASES, ids=IDS)
def test_wgpu_matches_cpu(case):
    cpu = run(case)
    dev = run(case, device="wgpu")
    assert len(cpu) == len(dev)
    for c, d in zip(cpu, dev):
        if isinstance(c, bool):
            assert c == d
            continue
        assert str(d.device).startswith("wgpu")
        assert c.dtype == d.dtype and c.shape == d.shape
        np.testing.assert_array_equal(d.cpu().numpy(), c.numpy())


@pytest.mark.wgpu
@WGPU
def test_wgpu_nan_comparisons():
    nan = float("nan")
    a = rgrad.tensor([nan, 1.0, nan, 2.0], device="wgpu")
    b = rgrad.tensor([nan, nan, 1.0, 2.0], device="wgpu")
    assert (a != a).tolist() == [True, False, True, False]
    assert (a == a).tolist() == [False, True, False, True]
    assert (a == b).tolist() == [False, False, False, True]
    assert (a < b).tolist() == [False] * 4
    assert (a >= b).tolist() == [False, False, False, True]
    assert rgrad.isnan(a).tolist() == [True, False, True, False]
