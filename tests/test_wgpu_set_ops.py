"""``unique`` / ``unique_consecutive`` (flat, and of the slices along ``dim``) and ``isin``
computed on the wgpu device (gpu/set_ops.rs, gpu/unique_dim.rs): bit-for-bit the CPU's values
(NaN each its own value, -0.0 and 0.0 one value), inverse and counts, with at most one
device-to-host copy per unique call (the number of groups) and none for ``isin``."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgrad as torch

REQUIRED = os.environ.get("RGRAD_REQUIRE_WGPU") == "1"
pytestmark = [
    pytest.mark.wgpu,
    pytest.mark.skipif(not REQUIRED and not torch.wgpu.is_available(), reason="no wgpu adapter"),
]

AVAILABLE = torch.wgpu.is_available()
DTYPES = [torch.float32, torch.int32] + [
    dt for dt in (torch.float64, torch.int64) if AVAILABLE and torch.wgpu.supports_dtype(dt)
]
FLOATS = [dt for dt in DTYPES if dt.is_floating_point]
NAN, INF = float("nan"), float("inf")
SPECIAL = [NAN, INF, -INF, -0.0, 0.0, 1.5, -1.5, 1.5, 3.0, NAN, 0.0, -0.0, 3.0, 1e-40]

# (name, keyword arguments) of every call compared; unique sorts whatever `sorted` says.
CALLS = [
    ("unique", {}),
    ("unique", {"return_inverse": True}),
    ("unique", {"return_counts": True}),
    ("unique", {"sorted": False, "return_inverse": True, "return_counts": True}),
    ("unique", {"return_inverse": True, "return_counts": True}),
    ("unique_consecutive", {}),
    ("unique_consecutive", {"return_inverse": True}),
    ("unique_consecutive", {"return_counts": True}),
    ("unique_consecutive", {"return_inverse": True, "return_counts": True}),
]


def bits(t):
    """The host copy of `t` as integers, so NaN and -0.0 compare by their bits."""
    a = t.cpu().numpy()
    if a.dtype.kind == "f":
        return a.view({4: np.uint32, 8: np.uint64}[a.itemsize])
    return a


def as_tuple(r):
    return r if isinstance(r, tuple) else (r,)


def readbacks():
    return torch.wgpu.memory_stats()["readbacks"]


def uploads():
    return torch.wgpu.memory_stats()["uploads"]


def check_same(x, name, kwargs):
    """`name(x, **kwargs)` on the device equals the CPU's exactly, with at most one readback
    (none for an empty input)."""
    cpu = as_tuple(getattr(torch, name)(x, **kwargs))
    dev_x = x.to("wgpu")
    getattr(torch, name)(dev_x, **kwargs)  # compile the kernels before counting
    before, up = readbacks(), uploads()
    dev = as_tuple(getattr(torch, name)(dev_x, **kwargs))
    copies = readbacks() - before
    assert copies <= (1 if x.numel() else 0), f"{name}{kwargs}: {copies} readbacks"
    # Computing on the host would upload its results (and read the whole input back).
    assert uploads() == up, f"{name}{kwargs}: results uploaded from the host"
    assert len(dev) == len(cpu)
    for c, d in zip(cpu, dev):
        assert d.device.type == "wgpu"
        assert d.dtype == c.dtype and tuple(d.shape) == tuple(c.shape)
        np.testing.assert_array_equal(bits(d), bits(c))
    return dev


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("name,kwargs", CALLS, ids=lambda v: str(v))
def test_floats_with_nan_inf_signed_zeros_and_ties(dtype, name, kwargs):
    check_same(torch.tensor(SPECIAL, dtype=dtype), name, kwargs)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name,kwargs", CALLS, ids=lambda v: str(v))
def test_edge_shapes(dtype, name, kwargs):
    for x in (
        torch.tensor([], dtype=dtype),
        torch.tensor([7], dtype=dtype),
        torch.tensor(5, dtype=dtype),  # 0-dim: the inverse is 0-dim too
        torch.full((9,), 2, dtype=dtype),
        torch.tensor([[3, 1, 3], [1, 1, 2]], dtype=dtype),  # 2-D: the inverse keeps the shape
        torch.tensor([[3, 1, 3], [1, 1, 2]], dtype=dtype).t(),  # a non-contiguous view
        torch.arange(20, dtype=dtype)[::3],  # strided, with an offset-free step
        torch.arange(20, dtype=dtype)[5:],  # an offset view
    ):
        check_same(x, name, kwargs)


def test_integer_extremes():
    for dtype, info in ((torch.int32, np.iinfo(np.int32)), (torch.int64, np.iinfo(np.int64))):
        if dtype not in DTYPES:
            continue
        vals = [int(info.max), int(info.min), 0, -1, 1, int(info.max), int(info.min), -1]
        for name, kwargs in CALLS:
            check_same(torch.tensor(vals, dtype=dtype), name, kwargs)


def test_many_groups_across_scan_blocks():
    """A few thousand elements: the group numbers cross the scan's 256-element blocks, and the
    sort pads 3000 elements to 4096."""
    rng = np.random.default_rng(0)
    a = rng.integers(-400, 400, 3000).astype(np.float32)
    a[rng.integers(0, 3000, 40)] = np.nan
    a[rng.integers(0, 3000, 40)] = -0.0
    x = torch.from_numpy(a)
    both = {"return_inverse": True, "return_counts": True}
    v, inv, cnt = check_same(x, "unique", both)
    assert int(cnt.sum().item()) == 3000
    runs = np.repeat(rng.integers(0, 5, 700), rng.integers(1, 6, 700)).astype(np.int32)
    check_same(torch.from_numpy(runs), "unique_consecutive", both)


def test_unique_readbacks_are_one_and_results_stay_on_the_device():
    x = torch.tensor([2.0, NAN, NAN, -0.0, 0.0, 2.0, 2.0, 1.0], device="wgpu")
    torch.unique(x, return_inverse=True, return_counts=True)
    torch.unique_consecutive(x, return_inverse=True, return_counts=True)
    before, up = readbacks(), uploads()
    v, inv, cnt = torch.unique(x, return_inverse=True, return_counts=True)
    assert readbacks() == before + 1
    w, inv2, cnt2 = torch.unique_consecutive(x, return_inverse=True, return_counts=True)
    assert readbacks() == before + 2 and uploads() == up
    # The `dim=` form too: one readback, nothing uploaded.
    torch.unique(x, dim=0, return_counts=True)
    assert readbacks() == before + 3 and uploads() == up
    assert all(t.device.type == "wgpu" for t in (v, inv, cnt, w, inv2, cnt2))
    # PyTorch's CPU unique: one +0.0 for both zeros, every NaN its own value, sorted last.
    assert bits(v).tolist() == bits(torch.tensor([0.0, 1.0, 2.0, NAN, NAN])).tolist()
    assert inv.tolist() == [2, 3, 4, 0, 0, 2, 2, 1] and cnt.tolist() == [2, 1, 3, 1, 1]
    assert bits(w).tolist() == bits(torch.tensor([2.0, NAN, NAN, 0.0, 2.0, 1.0])).tolist()
    assert inv2.tolist() == [0, 1, 2, 3, 3, 4, 4, 5] and cnt2.tolist() == [1, 1, 1, 2, 2, 1]
    assert inv.dtype == torch.int64 and cnt2.dtype == torch.int64


floats = st.one_of(
    st.sampled_from(SPECIAL),
    st.integers(-6, 6).map(float),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
)
ints = st.one_of(st.integers(-6, 6), st.integers(-(2**31), 2**31 - 1))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(DTYPES), st.sampled_from(CALLS), st.data())
def test_device_matches_cpu_on_random_inputs(dtype, call, data):
    xs = data.draw(st.lists(floats if dtype.is_floating_point else ints, max_size=40))
    check_same(torch.tensor(xs, dtype=dtype), *call)


def outcome(fn):
    """The result of `fn()`, or its exception's type and message."""
    try:
        return fn(), None
    except Exception as e:  # noqa: BLE001 - the errors themselves are compared
        return None, (type(e), str(e))


DIM_CALLS = [
    (name, dict(kwargs, return_inverse=True, return_counts=True))
    for name, kwargs in (("unique", {}), ("unique", {"sorted": False}), ("unique_consecutive", {}))
] + [("unique", {}), ("unique_consecutive", {"return_counts": True})]


def call(name, x, kwargs):
    return lambda: as_tuple(getattr(torch, name)(x, **kwargs))


def check_dim(x, dim):
    """`unique(x, dim=dim)` and friends on the device equal the CPU's (or raise its error),
    with at most one readback and nothing uploaded."""
    for name, kwargs in DIM_CALLS:
        kwargs = dict(kwargs, dim=dim)
        cpu, cpu_err = outcome(call(name, x, kwargs))
        dev_x = x.to("wgpu")
        outcome(call(name, dev_x, kwargs))  # compile the kernels first
        before, up = readbacks(), uploads()
        dev, dev_err = outcome(call(name, dev_x, kwargs))
        assert dev_err == cpu_err, f"{name}{kwargs}"
        if cpu_err is not None:
            continue
        assert readbacks() - before <= 1 and uploads() == up, f"{name}{kwargs}"
        assert len(dev) == len(cpu)
        for c, d in zip(cpu, dev):
            assert d.device.type == "wgpu"
            assert d.dtype == c.dtype and tuple(d.shape) == tuple(c.shape)
            np.testing.assert_array_equal(bits(d), np.ascontiguousarray(bits(c)))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_unique_dim_rows_and_columns(dtype):
    rows = [[1, 2, 3], [0, 2, 3], [1, 2, 3], [1, -1, 3], [0, 2, 3], [0, 2, 2]]
    x = torch.tensor(rows, dtype=dtype)
    if dtype.is_floating_point:
        x[3, 1] = NAN  # a slice with a NaN is its own group
        x[4, 0] = -0.0  # equal to the 0.0 rows
        x[5, 2] = -INF
    for dim in (0, 1, -1, -2):
        check_dim(x, dim)
    check_dim(x.t(), 0)  # a non-contiguous input
    check_dim(x[1:], 0)  # an offset view


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_unique_dim_3d_orders_the_slices_as_the_cpu(dtype):
    """The slices are compared in the element order of ``x.transpose(0, dim)``."""
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.integers(0, 2, (3, 4, 2)).tolist(), dtype=dtype)
    for dim in (0, 1, 2):
        check_dim(x, dim)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_unique_dim_edge_shapes_and_errors(dtype):
    for x, dims in (
        (torch.tensor([3, 1, 3, 2, 1], dtype=dtype), (0, -1, 1)),  # 1-d: slices are elements
        (torch.tensor([[5, 5]], dtype=dtype), (0, 1)),
        (torch.zeros((0, 3), dtype=dtype), (0, 1)),  # the 0-sized dim, or another one (error)
        (torch.zeros((2, 0), dtype=dtype), (0, 1)),
        (torch.tensor(4, dtype=dtype), (0, -1, 1)),  # 0-d: a dimension error
    ):
        for dim in dims:
            check_dim(x, dim)


def test_unique_dim_integer_extremes_and_many_slices():
    for dtype, info in ((torch.int32, np.iinfo(np.int32)), (torch.int64, np.iinfo(np.int64))):
        if dtype in DTYPES:
            v = [
                [int(info.max), int(info.min)],
                [int(info.min), 0],
                [int(info.max), int(info.min)],
                [-1, 0],
            ]
            check_dim(torch.tensor(v, dtype=dtype), 0)
    rng = np.random.default_rng(4)
    a = rng.integers(0, 3, (300, 3)).astype(np.float32)  # 300 rows pad to 512, scan crosses blocks
    a[rng.integers(0, 300, 5), 1] = np.nan
    check_dim(torch.from_numpy(a), 0)


ISIN_PAIRS = [
    (torch.float32, torch.float32),
    (torch.int32, torch.int32),
    (torch.int32, torch.float32),
    (torch.float32, torch.int32),
] + [
    pair
    for pair in (
        (torch.float64, torch.float64),
        (torch.float32, torch.float64),
        (torch.int64, torch.int64),
        (torch.int32, torch.int64),
        (torch.int64, torch.float32),
        (torch.bool, torch.int64),
    )
    if all(dt in DTYPES or dt == torch.bool for dt in pair)
]


def check_isin(e, t, move_test=True):
    """`isin(e, t)` on the device equals the CPU's with no readback (the test set may stay on
    the host: it is uploaded, the elements never leave the device)."""
    for invert in (False, True):
        cpu = torch.isin(e, t, invert=invert)
        de = e.to("wgpu")
        dt_ = t.to("wgpu") if move_test and isinstance(t, torch.Tensor) else t
        torch.isin(de, dt_, invert=invert)  # compile the kernels first
        before = readbacks()
        dev = torch.isin(de, dt_, invert=invert)
        assert readbacks() == before, f"isin({e.dtype}, invert={invert}) read back"
        assert dev.device.type == "wgpu" and dev.dtype == torch.bool
        assert tuple(dev.shape) == tuple(cpu.shape)
        assert dev.cpu().tolist() == cpu.tolist(), (e, t, invert)


@pytest.mark.parametrize("pair", ISIN_PAIRS, ids=str)
def test_isin_promoted_dtypes_nan_inf_and_signed_zeros(pair):
    de, dt_ = pair
    if de == torch.bool:
        ev = [True, False, True]
    elif de.is_floating_point:
        ev = [1.0, NAN, -0.0, 0.0, 2.5, INF, -INF, 3.0, 7.0, 1e-40]
    else:
        ev = [1, 2, 0, 5, 7, 3, 0]
    tv = [0.0, INF, NAN, 3.0, 7.0, -0.0, 1e-40] if dt_.is_floating_point else [0, 5, 5, 9]
    e, t = torch.tensor(ev, dtype=de), torch.tensor(tv, dtype=dt_)
    check_isin(e, t)
    check_isin(e, t, move_test=False)
    check_isin(e.reshape(1, -1), t)  # the result keeps the elements' shape


def test_isin_edge_shapes_and_integer_extremes():
    x = torch.tensor([[3.0, 1.0, 3.0], [1.0, NAN, 2.0]])
    check_isin(x.t(), torch.tensor([1.0, 2.0]))  # non-contiguous elements
    check_isin(x, torch.tensor([1.0, 2.0, 9.0, 3.0])[::2])  # a strided test set
    check_isin(torch.tensor([], dtype=torch.float32), torch.tensor([1.0]))
    check_isin(x, torch.tensor([], dtype=torch.float32))  # nothing is in the empty set
    check_isin(torch.tensor(2.0), torch.tensor([2.0, 3.0]))  # 0-d elements
    check_isin(x, torch.tensor(1.0))  # a 0-d test set
    check_isin(x, 1.0, move_test=False)  # a number as the test set
    for dtype, info in ((torch.int32, np.iinfo(np.int32)), (torch.int64, np.iinfo(np.int64))):
        if dtype in DTYPES:
            hi, lo = int(info.max), int(info.min)
            # The largest integer's key is also the sort padding's: only real keys are searched.
            check_isin(
                torch.tensor([hi, lo, 0, hi - 1], dtype=dtype), torch.tensor([lo, 5], dtype=dtype)
            )
            check_isin(
                torch.tensor([hi, lo, 0, hi - 1], dtype=dtype),
                torch.tensor([hi, 0, hi], dtype=dtype),
            )


def test_isin_many_elements_across_blocks():
    rng = np.random.default_rng(5)
    e = rng.integers(-300, 300, 3000).astype(np.float32)
    t = rng.integers(-300, 300, 1000).astype(np.float32)
    e[rng.integers(0, 3000, 30)] = np.nan
    t[rng.integers(0, 1000, 30)] = np.nan
    check_isin(torch.from_numpy(e), torch.from_numpy(t))
    check_isin(
        torch.from_numpy(e.astype(np.int32)), torch.from_numpy(t[~np.isnan(t)].astype(np.int32))
    )


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(DTYPES), st.data())
def test_isin_matches_cpu_on_random_inputs(dtype, data):
    s = floats if dtype.is_floating_point else ints
    e = data.draw(st.lists(s, max_size=30))
    t = data.draw(st.lists(s, max_size=10))
    check_isin(torch.tensor(e, dtype=dtype), torch.tensor(t, dtype=dtype))


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(DTYPES), st.integers(1, 4), st.data())
def test_unique_dim_matches_cpu_on_random_inputs(dtype, cols, data):
    s = (
        st.sampled_from([0.0, -0.0, 1.0, NAN, -INF])
        if dtype.is_floating_point
        else st.integers(-2, 2)
    )
    rows = data.draw(st.lists(st.lists(s, min_size=cols, max_size=cols), min_size=1, max_size=12))
    check_dim(torch.tensor(rows, dtype=dtype), data.draw(st.sampled_from([0, 1])))
