"""The flat ``unique`` / ``unique_consecutive`` computed on the wgpu device (gpu/set_ops.rs):
bit-for-bit the CPU's values (NaN each its own value, -0.0 and 0.0 one value), inverse and
counts, with at most one device-to-host copy per call (the number of groups)."""

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
    # The `dim=` form still computes on the host: the counters see its copies.
    torch.unique(x, dim=0, return_counts=True)
    assert readbacks() > before + 2 and uploads() > up
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
