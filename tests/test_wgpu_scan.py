"""The device scans (gpu/scan.rs): cumsum, cumprod, cummax/cummin and logcumsumexp on wgpu
against the CPU, for rows short enough for the one-invocation-per-row kernel and long enough
for the block scan (one block, several, and block totals scanned by blocks again), along the
last and an inner dim, with NaN, infinities and ties. Integer scans and cummax/cummin are
exact; float sums of long rows are rounded in another order than the host's (fewer roundings
per element), so they are checked against float64 references, at least as close as the
host's. No op reads anything back to the host.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import rgrad

pytestmark = [
    pytest.mark.wgpu,
    pytest.mark.skipif(
        os.environ.get("RGRAD_REQUIRE_WGPU") != "1" and not rgrad.wgpu.is_available(),
        reason="no wgpu adapter",
    ),
]

# 5 and 32: one invocation per row; 200: one block (2048 elements); 5000: three blocks per
# row; 70_000: 35 blocks, whose totals are scanned by a block again.
SHAPES = [(3, 5), (2, 32), (4, 200), (3, 5000), (1, 70_000)]


def _readbacks():
    return rgrad.wgpu.memory_stats()["readbacks"]


def _pair(x, dtype):
    c = rgrad.tensor(x, dtype=dtype)
    return c, c.to("wgpu")


def _device(fn, g):
    """``fn(g)`` on the device, checking it read nothing back."""
    rgrad.wgpu.synchronize()
    before = _readbacks()
    out = fn(g)
    after = _readbacks()
    assert after == before, "the scan read back from the device"
    return out


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [rgrad.int32, rgrad.int64])
def test_integer_cumsum_is_exact(shape, dtype):
    rng = np.random.default_rng(shape[1])
    x = rng.integers(-1000, 1000, size=shape)
    c, g = _pair(x.tolist(), dtype)
    got = _device(lambda t: t.cumsum(-1), g)
    assert got.dtype == c.cumsum(-1).dtype == rgrad.int64  # PyTorch's promotion
    assert got.cpu().tolist() == c.cumsum(-1).tolist()
    # along the first dim too (moved last by a permutation)
    assert g.cumsum(0).cpu().tolist() == c.cumsum(0).tolist()


def test_int64_cumsum_wraps_as_on_the_cpu():
    x = [2**62 - 5] * 300
    c, g = _pair(x, rgrad.int64)
    assert g.cumsum(0).cpu().tolist() == c.cumsum(0).tolist()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_float_cumsum_and_cumprod(shape):
    rng = np.random.default_rng(7 + shape[1])
    x = rng.normal(size=shape).astype(np.float32)
    c, g = _pair(x.tolist(), rgrad.float32)
    got = _device(lambda t: t.cumsum(1), g).cpu().numpy()
    exact = np.cumsum(x.astype(np.float64), axis=1)
    host_err = np.abs(c.cumsum(1).numpy() - exact).max()
    # a block scan rounds each sum through O(log n) partial sums, the host's through O(n)
    assert np.abs(got - exact).max() <= host_err + 1e-5
    bound = 4 * np.finfo(np.float32).eps * np.cumsum(np.abs(x), axis=1) * np.log2(shape[1] + 1)
    assert np.all(np.abs(got - exact) <= bound + 1e-6)
    # products of log-normal factors stay finite over long rows. (Factors within ~1e-4 of 1
    # are a bad case for any tree of products: a partial product that straddles 1 rounds
    # near-ties the same way every time, so the error drifts linearly; PyTorch's CUDA scans
    # share it. The host's sequential product drifts away from 1 and avoids it.)
    y = np.exp(0.1 * rng.normal(size=shape)).astype(np.float32)
    c, g = _pair(y.tolist(), rgrad.float32)
    got = _device(lambda t: t.cumprod(1), g).cpu().numpy()
    exact = np.cumprod(y.astype(np.float64), axis=1)
    host_err = np.abs(c.cumprod(1).numpy() / exact - 1).max()
    assert np.abs(got / exact - 1).max() <= 3 * host_err + 1e-6
    np.testing.assert_allclose(got, exact, rtol=2e-5)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("is_max", [True, False])
def test_cummax_cummin_exact_with_nan_and_ties(shape, is_max):
    rng = np.random.default_rng(shape[1] * 3 + is_max)
    x = rng.integers(-3, 4, size=shape).astype(np.float32)  # many ties
    flat = x.reshape(-1)
    flat[rng.integers(0, flat.size, size=max(1, flat.size // 97))] = np.nan
    flat[rng.integers(0, flat.size, size=max(1, flat.size // 89))] = np.inf
    flat[rng.integers(0, flat.size, size=max(1, flat.size // 83))] = -np.inf
    c, g = _pair(x.tolist(), rgrad.float32)
    op = (lambda t: t.cummax(-1)) if is_max else (lambda t: t.cummin(-1))
    got, want = _device(op, g), op(c)
    np.testing.assert_array_equal(got.values.cpu().numpy(), want.values.numpy())
    assert got.indices.cpu().tolist() == want.indices.tolist()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_int32_cummax_exact(shape):
    rng = np.random.default_rng(shape[1] + 11)
    x = rng.integers(-5, 5, size=shape)
    c, g = _pair(x.tolist(), rgrad.int32)
    got, want = g.cummin(1), c.cummin(1)
    assert got.values.cpu().tolist() == want.values.tolist()
    assert got.indices.cpu().tolist() == want.indices.tolist()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_logcumsumexp(shape):
    rng = np.random.default_rng(shape[1] + 5)
    x = (3 * rng.normal(size=shape)).astype(np.float32)
    c, g = _pair(x.tolist(), rgrad.float32)
    got = _device(lambda t: t.logcumsumexp(1), g).cpu().numpy()
    exact = np.logaddexp.accumulate(x.astype(np.float64), axis=1)
    host_err = np.abs(c.logcumsumexp(1).numpy() - exact).max()
    assert np.abs(got - exact).max() <= host_err + 1e-5
    np.testing.assert_allclose(got, exact, rtol=1e-5, atol=1e-5)


def test_logcumsumexp_infinities_and_nan_in_a_long_row():
    x = [0.0] * 600
    x[10], x[300], x[450] = -math.inf, math.inf, math.nan
    c, g = _pair(x, rgrad.float32)
    got = g.logcumsumexp(0).cpu().numpy()
    want = c.logcumsumexp(0).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, equal_nan=True)
    assert np.isnan(got[450:]).all() and np.isinf(got[300:450]).all()


def test_empty_and_zero_dim():
    e = rgrad.zeros(0, 4, device="wgpu")
    assert tuple(e.cumsum(1).shape) == (0, 4)
    s = rgrad.tensor(2.5, device="wgpu")
    assert s.cumsum(0).item() == 2.5
    assert s.cummax(0).indices.item() == 0


def test_the_backward_of_a_long_cumsum_on_the_device():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 500)).astype(np.float32)
    xc = rgrad.tensor(x.tolist(), requires_grad=True)
    xg = rgrad.tensor(x.tolist(), device="wgpu", requires_grad=True)
    w = rgrad.tensor(rng.normal(size=(2, 500)).astype(np.float32).tolist())
    (xc.cumsum(1) * w).sum().backward()
    (xg.cumsum(1) * w.to("wgpu")).sum().backward()
    np.testing.assert_allclose(xg.grad.cpu().numpy(), xc.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_block_totals_scanned_in_blocks_and_carried_back():
    """Over 2048 * 2048 elements the blocks' totals span several blocks themselves."""
    n = 2048 * 2048 + 4099
    c = (rgrad.arange(n) % 13 - 6) * (rgrad.arange(n) % 5)
    g = c.to("wgpu")
    assert rgrad.equal(_device(lambda t: t.cumsum(0), g).cpu(), c.cumsum(0))
    f = (c % 3 == 0).to(rgrad.float32)
    got = f.to("wgpu").cummax(0)
    assert rgrad.equal(got.indices.cpu(), f.cummax(0).indices)
