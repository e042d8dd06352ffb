"""``nonzero`` / ``argwhere`` / ``nonzero(as_tuple=True)`` computed on the wgpu device
(gpu/masked.rs): the CPU's coordinates, one 4-byte readback (the count, which sizes the result)
and nothing uploaded."""

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
HAS_I64 = torch.wgpu.is_available() and torch.wgpu.supports_dtype(torch.int64)


def stats():
    s = torch.wgpu.memory_stats()
    return s["uploads"], s["readbacks"]


@pytest.mark.parametrize(
    "shape", [(7,), (3, 5), (2, 3, 4), (1, 1, 1), (0,), (4, 0, 2), (70_001,), (300, 257)]
)
@pytest.mark.parametrize("dtype", [torch.bool, torch.float32, torch.int32])
def test_nonzero_is_the_cpu_nonzero(shape, dtype):
    g = torch.Generator().manual_seed(sum(shape) + 1)
    x = ((torch.rand(*shape, generator=g) < 0.3) * torch.rand(*shape, generator=g) * 5).to(dtype)
    d = x.to("wgpu")
    for f in (torch.nonzero, torch.argwhere):
        cpu, dev = f(x), f(d)
        assert dev.device.type == "wgpu" and dev.dtype == torch.int64
        np.testing.assert_array_equal(dev.cpu().numpy(), cpu.numpy())
    cpu_t, dev_t = torch.nonzero(x, as_tuple=True), torch.nonzero(d, as_tuple=True)
    assert len(dev_t) == len(cpu_t)
    for a, b in zip(cpu_t, dev_t):
        assert b.device.type == "wgpu"
        np.testing.assert_array_equal(b.cpu().numpy(), a.numpy())


def test_nan_and_negative_zero():
    x = torch.tensor([0.0, float("nan"), -0.0, float("inf"), 1e-40, -2.0])
    np.testing.assert_array_equal(x.to("wgpu").nonzero().cpu().numpy(), x.nonzero().numpy())


@pytest.mark.skipif(not HAS_I64, reason="adapter without int64")
def test_one_readback_and_no_upload():
    m = torch.rand(64, 1000, generator=torch.Generator().manual_seed(1)) < 0.5
    d = m.to("wgpu")
    d.nonzero()  # compile the kernels first
    before = stats()
    out = d.nonzero()
    up, rb = stats()
    assert up == before[0] and rb - before[1] == 1
    assert tuple(out.shape) == (int(m.sum().item()), 2)


def test_zero_dim_input():
    for v in (0.0, 3.0):
        x = torch.tensor(v)
        np.testing.assert_array_equal(x.to("wgpu").nonzero().cpu().numpy(), x.nonzero().numpy())


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(0, 9), min_size=1, max_size=4),
    p=st.floats(0, 1),
    seed=st.integers(0, 999),
)
def test_random_masks(shape, p, seed):
    m = torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) < p
    np.testing.assert_array_equal(m.to("wgpu").nonzero().cpu().numpy(), m.nonzero().numpy())
