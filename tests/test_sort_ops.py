"""Sorting and selection (sort, argsort, msort, topk, kthvalue, median, nanmedian, mode):
PyTorch's values, tie indices, gradients, grad_fn names and errors (tests/data/sort_ops.*,
made by tools/make_reference_sort.py), properties over random inputs with ties and NaNs,
gradcheck/gradgradcheck in float64, and the wgpu device against the CPU."""

import json
import os
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgrad
from rgrad.autograd import gradcheck, gradgradcheck

DATA = pathlib.Path(__file__).parent / "data"
REF = json.loads((DATA / "sort_ops.json").read_text())
with np.load(DATA / "sort_ops.npz") as _f:
    ARRAYS = {k: _f[k] for k in _f.files}

DTYPES = {
    "float64": rgrad.float64,
    "float32": rgrad.float32,
    "int64": rgrad.int64,
    "int32": rgrad.int32,
    "bool": rgrad.bool,
}
IDS = lambda c: c["name"]  # noqa: E731


def run_case(case, precision, device="cpu"):
    env = {"torch": rgrad}
    for name, kind in case["inputs"].items():
        arr = ARRAYS[f"{case['name']}/in/{name}"]
        dt = DTYPES[precision if kind == "float64" else kind]
        t = rgrad.tensor(arr, dtype=dt, device=device)
        if kind == "float64":
            t.requires_grad_(True)
        env[name] = t
    return env, eval(case["expr"], env)


def check(case, precision, device="cpu"):
    env, out = run_case(case, precision, device)
    if case["kind"] == "tensor":
        values, indices = out, None
    else:
        assert type(out).__name__ == case["kind"]
        values, indices = out.values, out.indices
        assert out[0] is values or out[0].data_ptr() == values.data_ptr()
    name = case["name"]
    exp = ARRAYS[f"{name}/out/values"]
    got = values.detach().cpu().numpy()
    assert got.shape == exp.shape, (got.shape, exp.shape)
    if exp.dtype.kind == "f":
        np.testing.assert_array_equal(got, exp.astype(got.dtype))
        # the sign of a zero is part of the value picked
        np.testing.assert_array_equal(np.signbit(got), np.signbit(exp))
    else:
        assert got.dtype == exp.dtype, (got.dtype, exp.dtype)
        np.testing.assert_array_equal(got, exp)
    if indices is not None:
        assert indices.dtype == rgrad.int64
        np.testing.assert_array_equal(indices.cpu().numpy(), ARRAYS[f"{name}/out/indices"])
    if "grad_fn" in case:
        assert values.grad_fn.name() == case["grad_fn"]
        cot = rgrad.tensor(ARRAYS[f"{name}/cot"], dtype=values.dtype, device=device)
        (values * cot).sum().backward()
        for k in case["grads"]:
            ref = ARRAYS[f"{name}/grad/{k}"]
            tol = 1e-12 if precision == "float64" else 1e-5
            np.testing.assert_allclose(env[k].grad.cpu().numpy(), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", REF["cases"], ids=IDS)
def test_reference_float64(case):
    check(case, "float64")


FLOAT_CASES = [c for c in REF["cases"] if "float64" in c["inputs"].values()]


@pytest.mark.parametrize("case", FLOAT_CASES, ids=IDS)
def test_reference_float32(case):
    check(case, "float32")


def _error_env():
    env = {"torch": rgrad}
    for case in REF["cases"]:
        for name, kind in case["inputs"].items():
            env.setdefault(
                name, rgrad.tensor(ARRAYS[f"{case['name']}/in/{name}"], dtype=DTYPES[kind])
            )
    return env


@pytest.mark.parametrize("err", REF["errors"], ids=lambda e: e["expr"])
def test_errors(err):
    env = _error_env()
    with pytest.raises(Exception) as info:
        eval(err["expr"], env)
    assert type(info.value).__name__ == err["type"]
    assert str(info.value).split("\n")[0] == err["message"]


def test_return_types_and_functions():
    x = rgrad.tensor([3.0, 1.0, 2.0])
    r = rgrad.sort(x)
    assert isinstance(r, rgrad.return_types.sort) and r.indices.tolist() == [1, 2, 0]
    v, i = x.topk(2)
    assert v.tolist() == [3.0, 2.0] and i.tolist() == [0, 2]
    assert isinstance(rgrad.kthvalue(x, 1), rgrad.return_types.kthvalue)
    assert isinstance(rgrad.mode(x), rgrad.return_types.mode)
    assert isinstance(rgrad.nanmedian(x, 0), rgrad.return_types.nanmedian)
    assert isinstance(rgrad.median(x, 0), rgrad.return_types.median)
    assert rgrad.msort(x).tolist() == [1.0, 2.0, 3.0]
    assert rgrad.argsort(x, descending=True).tolist() == [0, 2, 1]
    with pytest.raises(TypeError):
        x.sort(0, False, True)  # stable is keyword-only, as in PyTorch


def test_grad_fn_names():
    x = rgrad.randn(3, 4, dtype=rgrad.float64, requires_grad=True)
    assert x.sort(1)[0].grad_fn.name() == "SortBackward0"
    assert x.sort(stable=False)[0].grad_fn.name() == "SortBackward1"
    assert x.msort().grad_fn.name() == "SortBackward0"
    assert x.topk(2)[0].grad_fn.name() == "TopkBackward0"
    assert x.kthvalue(2)[0].grad_fn.name() == "KthvalueBackward0"
    assert x.median().grad_fn.name() == "MedianBackward0"
    assert x.median(0)[0].grad_fn.name() == "MedianBackward1"
    assert x.nanmedian().grad_fn.name() == "NanmedianBackward0"
    assert x.nanmedian(1)[0].grad_fn.name() == "NanmedianBackward1"
    assert x.mode(1)[0].grad_fn.name() == "ModeBackward0"
    assert x.argsort().grad_fn is None and x.sort()[1].grad_fn is None


# ---- properties over random inputs ------------------------------------------------------------

ROWS = st.lists(
    st.one_of(
        st.integers(-3, 3).map(float), st.sampled_from([float("nan"), float("inf"), -float("inf")])
    ),
    min_size=1,
    max_size=60,
)


def _key(v):
    return (1, 0.0) if np.isnan(v) else (0, v)


@settings(max_examples=60, deadline=None)
@given(ROWS, st.booleans(), st.booleans())
def test_sort_properties(row, descending, stable):
    x = rgrad.tensor(row, dtype=rgrad.float64)
    v, i = x.sort(descending=descending, stable=stable)
    idx = i.tolist()
    assert sorted(idx) == list(range(len(row)))  # a permutation
    got = v.tolist()
    np.testing.assert_array_equal(np.array(got), np.array(row)[idx])  # indices gather values
    keys = [_key(g) for g in got]
    assert keys == sorted(keys, reverse=descending)  # ordered, NaN greatest
    if stable:
        for a, b in zip(range(len(idx)), range(1, len(idx))):
            if keys[a] == keys[b]:
                assert idx[a] < idx[b]


@settings(max_examples=60, deadline=None)
@given(ROWS, st.data())
def test_selection_properties(row, data):
    x = rgrad.tensor(row, dtype=rgrad.float64)
    n = len(row)
    k = data.draw(st.integers(1, n))
    ordered = sorted(row, key=_key)
    v, i = x.kthvalue(k)
    assert _key(v.item()) == _key(ordered[k - 1]) and _key(row[i.item()]) == _key(v.item())
    largest = data.draw(st.booleans())
    tv, ti = x.topk(k, largest=largest)
    want = sorted(row, key=_key, reverse=largest)[:k]
    assert [_key(t) for t in tv.tolist()] == [_key(w) for w in want]
    assert len(set(ti.tolist())) == k
    np.testing.assert_array_equal(np.array(row)[ti.tolist()], np.array(tv.tolist()))
    mv, mi = x.median(0)
    if any(np.isnan(row)):
        assert np.isnan(mv.item()) and np.isnan(row[mi.item()])
    else:
        assert mv.item() == ordered[(n - 1) // 2] and row[mi.item()] == mv.item()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=80))
def test_mode_properties(row):
    x = rgrad.tensor(row, dtype=rgrad.int64)
    v, i = x.mode()
    counts = {u: row.count(u) for u in row}
    best = max(counts.values())
    assert v.item() == min(u for u, c in counts.items() if c == best)
    assert row[i.item()] == v.item()


def test_large_rows_match_a_reference_order():
    # Long rows take the parallel introsort, the heap topk and the radix-like stable paths.
    g = np.random.default_rng(0)
    a = g.standard_normal(200_000).astype(np.float32)
    x = rgrad.from_numpy(a)
    v, i = x.sort()
    np.testing.assert_array_equal(v.numpy(), np.sort(a))
    np.testing.assert_array_equal(a[i.numpy()], v.numpy())
    tv, ti = x.topk(1000)
    np.testing.assert_array_equal(tv.numpy(), np.sort(a)[::-1][:1000])
    np.testing.assert_array_equal(a[ti.numpy()], tv.numpy())
    _, si = x.sort(stable=True, descending=True)
    np.testing.assert_array_equal(si.numpy(), np.argsort(-a, kind="stable"))
    m = rgrad.from_numpy(g.integers(0, 50, (64, 3000)))
    v, i = m.sort(1, stable=True)
    np.testing.assert_array_equal(i.numpy(), np.argsort(m.numpy(), axis=1, kind="stable"))


# ---- gradients ---------------------------------------------------------------------------------


def _distinct(*shape):
    n = int(np.prod(shape))
    g = np.random.default_rng(n)
    vals = g.permutation(n).astype(np.float64) / n + g.uniform(0, 0.1 / n, n)
    return rgrad.tensor(vals.reshape(shape), dtype=rgrad.float64, requires_grad=True)


GRAD_FNS = {
    "sort": lambda x: x.sort(1)[0],
    "sort_desc_dim0": lambda x: x.sort(0, descending=True)[0],
    "msort": lambda x: x.msort(),
    "topk": lambda x: x.topk(2, 1)[0],
    "topk_small": lambda x: x.topk(3, 0, largest=False)[0],
    "kthvalue": lambda x: x.kthvalue(2, 1)[0],
    "kthvalue_keep": lambda x: x.kthvalue(3, 0, keepdim=True)[0],
    "median": lambda x: x.median(),
    "median_dim": lambda x: x.median(1)[0],
    "nanmedian": lambda x: x.nanmedian(),
    "nanmedian_dim": lambda x: x.nanmedian(0, True)[0],
    "mode": lambda x: x.mode(1)[0],
}


@pytest.mark.parametrize("name", GRAD_FNS)
def test_gradcheck(name):
    x = _distinct(4, 5)
    fn = GRAD_FNS[name]
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_median_all_spreads_ties_evenly():
    x = rgrad.tensor([1.0, 2.0, 2.0, 3.0, 2.0], dtype=rgrad.float64, requires_grad=True)
    x.median().backward()
    assert x.grad.tolist() == [0.0, 1 / 3, 1 / 3, 0.0, 1 / 3]
    y = rgrad.tensor(
        [1.0, float("nan"), 2.0, float("nan")], dtype=rgrad.float64, requires_grad=True
    )
    y.median().backward()
    assert y.grad.tolist() == [0.0, 0.5, 0.0, 0.5]


# ---- wgpu against the CPU ------------------------------------------------------------------

WGPU = pytest.mark.skipif(
    os.environ.get("RGRAD_REQUIRE_WGPU") != "1" and not rgrad.wgpu.is_available(),
    reason="no wgpu adapter",
)
DEVICE_CASES = [
    c
    for c in REF["cases"]
    if all(k in ("float64", "int64", "int32") for k in c["inputs"].values())
    and not c["name"].startswith("mode")
]


def _picks_values(x, v, i):
    """Whether the indices `i` pick the values `v` from `x` along one of its dims."""
    if x.ndim == 0:
        return i.item() == 0
    for d in range(x.ndim):
        ii, vv = (i, v) if i.ndim == x.ndim else (np.expand_dims(i, d), np.expand_dims(v, d))
        try:
            got = np.take_along_axis(x, ii, d)
        except (ValueError, IndexError):
            continue
        if got.shape == vv.shape and np.array_equal(got, vv, equal_nan=got.dtype.kind == "f"):
            return True
    return False


@pytest.mark.wgpu
@WGPU
@pytest.mark.parametrize("case", DEVICE_CASES, ids=IDS)
def test_wgpu_matches_reference(case):
    """The device sort orders ties by index (stable): PyTorch's indices where its choice is
    the stable one (stable sorts, median), valid indices to the same values elsewhere."""
    # (PyTorch's index for an all-NaN nanmedian row is where its nth_element leaves it)
    all_nan = case["name"] in ("nanmedian_rows", "nanmedian_all_nan")
    if ("stable" in case["expr"] or "median" in case["expr"]) and not all_nan:
        check(case, "float32", device="wgpu")
        return
    env, out = run_case(case, "float32", "wgpu")
    (name,) = case["inputs"]
    x = env[name].detach().cpu().numpy()
    exp = ARRAYS[f"{case['name']}/out/values"]
    if "argsort" in case["expr"]:
        # the device's order sorts as well: it picks the values PyTorch's order picks
        got = out.cpu().numpy()
        d = 1 if "dim=1" in case["expr"] else (0 if "(0)" in case["expr"] else -1)
        assert _picks_values(x, np.take_along_axis(x, exp, d), got)
        return
    values = out if case["kind"] == "tensor" else out.values
    got = values.detach().cpu().numpy()
    if "sorted=False" in case["expr"]:
        # unsorted topk: the same values in some order
        np.testing.assert_array_equal(np.sort(got, -1), np.sort(exp, -1).astype(got.dtype))
    else:
        np.testing.assert_array_equal(got, exp.astype(got.dtype))
    if case["kind"] != "tensor":
        assert _picks_values(x, got, out.indices.cpu().numpy())
