"""Set ops, sorted search and selection by value (unique, unique_consecutive, isin, histc,
bincount, searchsorted, bucketize, nonzero/argwhere, masked_select, take, take_along_dim,
scatter_reduce, aminmax): PyTorch's reference vectors (tests/data/set_search_ops.json, made by
tools/make_reference_set_search.py), properties against plain-Python oracles, gradchecks, and
the device against the CPU."""

import bisect
import collections

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from set_search_cases import check, family, run

import rgrad
from rgrad.autograd import gradcheck

CASES = family("set") + family("search") + family("select")
IDS = lambda c: c["name"]  # noqa: E731


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_reference(case):
    check(case)


# ---- properties --------------------------------------------------------------------------------

ints = st.lists(st.integers(-(2**40), 2**40) | st.integers(-5, 5), max_size=60)


@settings(max_examples=60, deadline=None)
@given(ints)
def test_unique_matches_python(xs):
    t = rgrad.tensor(xs, dtype=rgrad.int64)
    vals, inv, counts = rgrad.unique(t, return_inverse=True, return_counts=True)
    ref = sorted(set(xs))
    assert vals.tolist() == ref
    assert [ref[i] for i in inv.tolist()] == xs
    c = collections.Counter(xs)
    assert counts.tolist() == [c[v] for v in ref]


@settings(max_examples=60, deadline=None)
@given(ints)
def test_unique_consecutive_matches_python(xs):
    t = rgrad.tensor(xs, dtype=rgrad.int64)
    vals, counts = rgrad.unique_consecutive(t, return_counts=True)
    groups = [(k, len(list(g))) for k, g in __import__("itertools").groupby(xs)]
    assert vals.tolist() == [k for k, _ in groups]
    assert counts.tolist() == [n for _, n in groups]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-50, 50), min_size=1, max_size=30),
    st.lists(st.integers(-60, 60), max_size=30),
    st.booleans(),
)
def test_searchsorted_matches_bisect(seq, vals, right):
    seq = sorted(seq)
    got = rgrad.searchsorted(rgrad.tensor(seq), rgrad.tensor(vals, dtype=rgrad.int64), right=right)
    f = bisect.bisect_right if right else bisect.bisect_left
    assert got.tolist() == [f(seq, v) for v in vals]


@settings(max_examples=60, deadline=None)
@given(ints, ints, st.booleans())
def test_isin_matches_python(xs, ys, invert):
    got = rgrad.isin(
        rgrad.tensor(xs, dtype=rgrad.int64), rgrad.tensor(ys, dtype=rgrad.int64), invert=invert
    )
    s = set(ys)
    assert got.tolist() == [(x in s) != invert for x in xs]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 20), max_size=40), st.integers(0, 25))
def test_bincount_matches_counter(xs, minlength):
    got = rgrad.bincount(rgrad.tensor(xs, dtype=rgrad.int64), minlength=minlength).tolist()
    c = collections.Counter(xs)
    n = max([x + 1 for x in xs] + [minlength])
    assert got == [c[i] for i in range(n)]


def test_unique_large_paths():
    """The counting pass (small span), the radix sort (wide span) and floats agree with NumPy."""
    rng = np.random.default_rng(0)
    for a in (
        rng.integers(0, 1000, 300_000),
        rng.integers(-(2**62), 2**62, 300_000),
        rng.normal(size=300_000),
    ):
        t = rgrad.from_numpy(a)
        vals, inv, counts = rgrad.unique(t, return_inverse=True, return_counts=True)
        rv, ri, rc = np.unique(a, return_inverse=True, return_counts=True)
        np.testing.assert_array_equal(vals.numpy(), rv)
        np.testing.assert_array_equal(inv.numpy(), ri.reshape(-1))
        np.testing.assert_array_equal(counts.numpy(), rc)


# ---- gradients ---------------------------------------------------------------------------------


def leaf(shape, seed=0):
    a = np.random.default_rng(seed).normal(size=shape)
    return rgrad.tensor(a, dtype=rgrad.float64, requires_grad=True)


def test_gradcheck_masked_select():
    a = leaf((3, 4))
    m = rgrad.tensor(np.random.default_rng(1).random((3, 4)) > 0.5)
    assert gradcheck(lambda x: rgrad.masked_select(x, m), (a,))


def test_gradcheck_take():
    a = leaf((3, 4))
    i = rgrad.tensor([[0, -1, 5], [5, 2, 0]])
    assert gradcheck(lambda x: rgrad.take(x, i), (a,))


def test_gradcheck_take_along_dim():
    a = leaf((3, 4))
    i = rgrad.tensor([[0, 3, 3], [1, 1, 0], [2, 0, 1]])
    assert gradcheck(lambda x: rgrad.take_along_dim(x, i, dim=1), (a,))
    j = rgrad.tensor([[2, 0, 1, 1]])
    assert gradcheck(lambda x: rgrad.take_along_dim(x, j, dim=0), (a,))


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin", "prod"])
@pytest.mark.parametrize("include_self", [True, False])
def test_gradcheck_scatter_reduce(reduce, include_self):
    # Distinct values, so amax/amin have no ties where the derivative jumps.
    x = rgrad.tensor([0.3, -1.2, 2.5, 0.7, 1.9], dtype=rgrad.float64, requires_grad=True)
    s = rgrad.tensor([1.1, -0.4, 0.9, 3.3, -2.2, 0.6], dtype=rgrad.float64, requires_grad=True)
    i = rgrad.tensor([0, 1, 0, 3, 3, 0])
    fn = lambda a, b: a.scatter_reduce(0, i, b, reduce=reduce, include_self=include_self)  # noqa: E731
    assert gradcheck(fn, (x, s))


def test_scatter_reduce_prod_zero_grad():
    """A single zero among the factors: its gradient is the product of the others."""
    x = rgrad.tensor([2.0, 1.0], dtype=rgrad.float64, requires_grad=True)
    s = rgrad.tensor([0.0, 3.0, 5.0], dtype=rgrad.float64, requires_grad=True)
    out = x.scatter_reduce(0, rgrad.tensor([0, 0, 1]), s, reduce="prod")
    out.sum().backward()
    # PyTorch: x.grad = [0, 5], s.grad = [6, 0, 1]
    assert x.grad.tolist() == [0.0, 5.0]
    assert s.grad.tolist() == [6.0, 0.0, 1.0]


def test_aminmax_grad_splits_ties():
    a = rgrad.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], dtype=rgrad.float64, requires_grad=True)
    lo, hi = rgrad.aminmax(a, dim=1)
    (lo + hi).sum().backward()
    assert a.grad.tolist() == [[1.0, 0.5, 0.5], [0.5, 0.5, 1.0]]


# ---- the device against the CPU --------------------------------------------------------------

WGPU = pytest.mark.skipif(not rgrad.wgpu.is_available(), reason="no wgpu adapter")
DEVICE_CASES = [
    c
    for c in CASES
    if "error" not in c
    and all(v["dtype"] not in ("float64", "int64") or True for v in c["inputs"].values())
    and len(c["inputs"]) > 0
]


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
@pytest.mark.parametrize("right", [False, True])
def test_wgpu_searchsorted_on_the_device_float32_int32_with_nan(right):
    # float32/int32 search on the device (gpu/search.rs): ties, NaN values (after every
    # boundary) and NaN boundaries (sorted last) as the host's PyTorch comparisons give.
    nan = float("nan")
    bd = rgrad.tensor([[-1.0, 0.5, 0.5, 2.0, nan], [0.0, 1.0, 3.0, 3.0, 4.0]])
    vals = rgrad.tensor([[0.5, nan, -3.0, 5.0], [3.0, 0.0, 4.5, 2.0]])
    for b, v in ((bd, vals), (bd[0], vals), (bd[1], vals[1])):
        for out_int32 in (False, True):
            c = rgrad.searchsorted(b, v, right=right, out_int32=out_int32)
            g = rgrad.searchsorted(b.to("wgpu"), v.to("wgpu"), right=right, out_int32=out_int32)
            assert str(g.device).startswith("wgpu") and g.dtype == c.dtype
            assert g.cpu().tolist() == c.tolist()
    bi = rgrad.tensor([1, 3, 3, 7], dtype=rgrad.int32)
    vi = rgrad.tensor([[3, 0], [8, 7]], dtype=rgrad.int32)
    c = rgrad.bucketize(vi, bi, right=right)
    g = rgrad.bucketize(vi.to("wgpu"), bi.to("wgpu"), right=right)
    assert g.cpu().tolist() == c.tolist()
