"""``histc`` and ``bincount`` computed on the wgpu device (gpu/histogram.rs): bit-for-bit the
CPU's results and errors, with no device-to-host copy for ``histc`` with an explicit range
and at most one (the data's extremes) for ``histc(min=max)`` and ``bincount``."""

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
HAS_F64 = AVAILABLE and torch.wgpu.supports_dtype(torch.float64)
HAS_I64 = AVAILABLE and torch.wgpu.supports_dtype(torch.int64)
FLOATS = [torch.float32] + ([torch.float64] if HAS_F64 else [])
INTS = [torch.int32] + ([torch.int64] if HAS_I64 else [])
NAN, INF = float("nan"), float("inf")
SPECIAL = [NAN, INF, -INF, -0.0, 0.0, 1.0, 3.0, -1.0, 2.999999, 1e-40, 0.5, 2.0, 3.0, NAN]


def bits(t):
    """The host copy of `t` as integers, so NaN and -0.0 compare by their bits."""
    a = np.ascontiguousarray(t.cpu().numpy())
    if a.dtype.kind == "f":
        return a.view({4: np.uint32, 8: np.uint64}[a.itemsize])
    return a


def readbacks():
    return torch.wgpu.memory_stats()["readbacks"]


def uploads():
    return torch.wgpu.memory_stats()["uploads"]


def outcome(fn):
    """The result of `fn()`, or its exception's type and message."""
    try:
        return fn(), None
    except Exception as e:  # noqa: BLE001 - the errors themselves are compared
        return None, (type(e), str(e))


def check_same(name, x, *args, max_readbacks=0, **kwargs):
    """`name(x, ...)` on the device equals the CPU's bit for bit (or raises the CPU's error),
    reading back at most `max_readbacks` times when it succeeds, and uploading no result."""
    dev_args = [a.to("wgpu") if isinstance(a, torch.Tensor) else a for a in args]
    dev_kwargs = {k: v.to("wgpu") if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    cpu, cpu_err = outcome(lambda: getattr(torch, name)(x, *args, **kwargs))
    dx = x.to("wgpu")
    outcome(lambda: getattr(torch, name)(dx, *dev_args, **dev_kwargs))  # compile the kernels first
    before, up = readbacks(), uploads()
    dev, dev_err = outcome(lambda: getattr(torch, name)(dx, *dev_args, **dev_kwargs))
    copies, sent = readbacks() - before, uploads() - up
    assert dev_err == cpu_err, f"{name}{args}{kwargs}"
    if cpu_err is not None:
        return None
    assert copies <= max_readbacks, f"{name}{args}{kwargs}: {copies} readbacks"
    # Computing on the host would upload the result; histc uploads only its three edges.
    assert sent <= (1 if name == "histc" else 0), f"{name}{args}{kwargs}: {sent} uploads"
    assert dev.device.type == "wgpu"
    assert dev.dtype == cpu.dtype and tuple(dev.shape) == tuple(cpu.shape)
    np.testing.assert_array_equal(bits(dev), bits(cpu))
    return dev


RANGES = [
    (4, 0.0, 3.0),
    (1, -1.0, 1.0),
    (7, -2.5, 3.0),
    (3, 1.0, 2.0),
    (5, -INF, 2.0),
    (2, 0.0, INF),
]


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("bins,lo,hi", RANGES)
def test_histc_explicit_range_reads_nothing_back(dtype, bins, lo, hi):
    """NaN and values outside are not counted, the top edge is in the last bin; a non-finite
    range is the CPU's error."""
    x = torch.tensor(SPECIAL, dtype=dtype)
    check_same("histc", x, bins, lo, hi)
    check_same("histc", x.reshape(2, 7).t(), bins, lo, hi)  # a non-contiguous view
    check_same("histc", torch.tensor([], dtype=dtype), bins, lo, hi)
    check_same("histc", torch.tensor(3.0, dtype=dtype), bins, lo, hi)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_histc_data_range_is_one_readback(dtype):
    for data in (
        [0.5, 1.0, 2.0, -1.0, 3.0, 1.0, -0.0, 0.0],
        [2.0, 2.0, 2.0],  # one value: the range widens to [1, 3]
        [5.0],
        [-0.0, 0.0],
        [1e30, -1e30, 7.0],
    ):
        x = torch.tensor(data, dtype=dtype)
        check_same("histc", x, 4, 0.0, 0.0, max_readbacks=1)
        check_same("histc", x, 3, 2.0, 2.0, max_readbacks=1)  # any min == max takes the data's
    check_same("histc", torch.tensor([], dtype=dtype), 3, 0.0, 0.0)  # empty: [-1, 1], nothing read


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_histc_errors_are_the_cpu_ones(dtype):
    for data in ([1.0, NAN, 2.0], [NAN], [1.0, INF], [-INF, 0.0]):
        x = torch.tensor(data, dtype=dtype)
        assert check_same("histc", x, 3, 0.0, 0.0) is None  # "range of [...] is not finite"
    x = torch.tensor([1.0, 2.0], dtype=dtype)
    for args in ((0, 0.0, 1.0), (-3, 0.0, 1.0), (3, 2.0, 1.0), (3, -INF, INF), (3, NAN, 1.0)):
        check_same("histc", x, *args)
    check_same("histc", torch.tensor([1, 2], dtype=torch.int32), 3, 0.0, 1.0)
    # A bins count no buffer holds is an error on both devices, not an abort.
    for dev in ("cpu", "wgpu"):
        with pytest.raises(RuntimeError):
            torch.histc(x.to(dev), 2**40, 0.0, 1.0)


def test_histc_float64_edges_are_not_rounded_to_float32():
    if not HAS_F64:
        pytest.skip("no float64 on this adapter")
    x = torch.tensor([1.0 + 2**-40, 1.0, 1.0 + 2**-30], dtype=torch.float64)
    check_same("histc", x, 2, 1.0, 1.0 + 2**-30)


def test_histc_many_values_match_the_cpu():
    rng = np.random.default_rng(1)
    a = rng.normal(size=5000).astype(np.float32)
    a[rng.integers(0, 5000, 50)] = np.nan
    a[:7] = [-2.0, 2.0, 1.0, -1.0, 0.0, -0.0, 0.25]  # edges of the bins below
    x = torch.from_numpy(a)
    for bins in (1, 16, 257):
        check_same("histc", x, bins, -2.0, 2.0)
    check_same("histc", x[~torch.isnan(x)], 100, 0.0, 0.0, max_readbacks=1)


def test_bincount_counts_and_minlength():
    for dtype in INTS:
        x = torch.tensor([0, 3, 3, 1, 7, 0, 0, 1000], dtype=dtype)
        for kwargs in ({}, {"minlength": 4}, {"minlength": 2000}):
            out = check_same("bincount", x, max_readbacks=1, **kwargs)
            assert out.dtype == torch.int64
        check_same("bincount", x[::2], max_readbacks=1)  # a strided view
        check_same("bincount", x[3:], max_readbacks=1)  # an offset view
        check_same("bincount", torch.tensor([5], dtype=dtype), max_readbacks=1)
        # Empty: the length is minlength, nothing to read back.
        check_same("bincount", torch.tensor([], dtype=dtype))
        check_same("bincount", torch.tensor([], dtype=dtype), minlength=3)


def test_bincount_weighted_sums_are_the_cpu_ones_bit_for_bit():
    """Each bin adds its weights in input order, as the CPU does: float32 sums are identical,
    not merely close (no atomics, so no order to differ)."""
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 40, 3000)
    w32 = (rng.normal(size=3000) * 10.0 ** rng.integers(-3, 4, 3000)).astype(np.float32)
    for dtype in INTS:
        x = torch.tensor(idx.tolist(), dtype=dtype)
        out = check_same(
            "bincount", x, max_readbacks=1, weights=torch.from_numpy(w32), minlength=45
        )
        assert out.dtype == torch.float32
        if HAS_F64:
            w64 = torch.from_numpy(w32.astype(np.float64) / 3.0)
            assert check_same("bincount", x, max_readbacks=1, weights=w64).dtype == torch.float64
            # Any other weight dtype sums in float64, as on the CPU.
            wi = torch.tensor(rng.integers(-5, 5, 3000).tolist(), dtype=dtype)
            assert check_same("bincount", x, max_readbacks=1, weights=wi).dtype == torch.float64
        specials = torch.tensor([NAN, INF, -0.0, 1.0, -INF, 2.0], dtype=torch.float32)
        check_same(
            "bincount",
            torch.tensor([0, 0, 1, 2, 2, 4], dtype=dtype),
            max_readbacks=1,
            weights=specials,
        )
        check_same("bincount", torch.tensor([], dtype=dtype), weights=torch.tensor([]), minlength=2)


def test_bincount_errors_are_the_cpu_ones():
    for dtype in INTS:
        neg = torch.tensor([1, -1, 2], dtype=dtype)
        assert check_same("bincount", neg) is None  # non-negative inputs only
        # The CPU checks the values before the weights: the same error with wrong weights.
        assert check_same("bincount", neg, weights=torch.tensor([1.0])) is None
        x = torch.tensor([1, 2, 3], dtype=dtype)
        for kwargs in (
            {"minlength": -1},
            {"weights": torch.tensor([1.0, 2.0])},
            {"weights": torch.ones(3, 1)},
        ):
            assert check_same("bincount", x, **kwargs) is None
        assert check_same("bincount", x.reshape(1, 3)) is None  # 1-d only
        assert check_same("bincount", torch.tensor(3, dtype=dtype)) is None
    assert check_same("bincount", torch.tensor([1.0, 2.0])) is None  # integers only


def test_bincount_lengths_no_buffer_holds_are_errors_not_aborts():
    """The result's length comes from the data: too long is an allocation error (the device's
    out-of-memory message on the device, as PyTorch's CUDA one differs from its CPU one), and
    the device refuses it before any host memory of that size is touched."""
    cases = [torch.tensor([0, 2**31 - 1], dtype=torch.int32)]  # 16 GiB of int64 counts
    if HAS_I64:
        cases += [torch.tensor([0, v], dtype=torch.int64) for v in (2**40, 2**62, 2**63 - 1)]
    for x in cases:
        with pytest.raises(RuntimeError, match="out of memory|overflow"):
            torch.bincount(x.to("wgpu"))
    assert check_same("bincount", torch.tensor([-(2**31), 0], dtype=torch.int32)) is None


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(FLOATS), st.data())
def test_histc_matches_cpu_on_random_inputs(dtype, data):
    xs = data.draw(
        st.lists(st.one_of(st.sampled_from(SPECIAL), st.floats(-4, 4, width=32)), max_size=30)
    )
    bins = data.draw(st.integers(1, 9))
    lo = data.draw(st.sampled_from([-3.0, -1.0, 0.0, 0.5]))
    hi = lo + data.draw(st.sampled_from([0.0, 0.5, 1.0, 4.0]))
    check_same(
        "histc", torch.tensor(xs, dtype=dtype), bins, lo, hi, max_readbacks=1 if lo == hi else 0
    )


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(INTS), st.data())
def test_bincount_matches_cpu_on_random_inputs(dtype, data):
    xs = data.draw(st.lists(st.integers(0, 12), max_size=30))
    ws = data.draw(st.lists(st.floats(-1e3, 1e3, width=32), min_size=len(xs), max_size=len(xs)))
    minlength = data.draw(st.integers(0, 15))
    x = torch.tensor(xs, dtype=dtype)
    check_same("bincount", x, max_readbacks=1, minlength=minlength)
    check_same("bincount", x, max_readbacks=1, weights=torch.tensor(ws), minlength=minlength)
