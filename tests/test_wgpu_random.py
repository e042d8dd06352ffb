"""Uniform and Bernoulli draws made on the wgpu device from the core generator's ChaCha12
keystream (gpu/chacha.rs): bit for bit the CPU's numbers for the same seed, the generator left
where the CPU draw leaves it, and nothing drawn on the host or uploaded."""

import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgrad as torch
import rgrad.nn.functional as F

REQUIRED = os.environ.get("RGRAD_REQUIRE_WGPU") == "1"
pytestmark = [
    pytest.mark.wgpu,
    pytest.mark.skipif(not REQUIRED and not torch.wgpu.is_available(), reason="no wgpu adapter"),
]

AVAILABLE = torch.wgpu.is_available()
HAS_F64 = AVAILABLE and torch.wgpu.supports_dtype(torch.float64)
FLOATS = [torch.float32] + ([torch.float64] if HAS_F64 else [])
# Empty, one, around a 16-word block, several workgroups.
SIZES = [0, 1, 15, 16, 17, 33, 1000, 70_001]
# Words drawn first, so the run starts anywhere in a block (and in the host's 64-word buffer).
SKIPS = [0, 1, 7, 15, 16, 63, 64, 65]


def bits(t):
    """The host copy of `t` as integers, so values compare by their bits."""
    a = np.ascontiguousarray(t.cpu().numpy())
    if a.dtype.kind == "f":
        return a.view({4: np.uint32, 8: np.uint64}[a.itemsize])
    return a


def stats():
    s = torch.wgpu.memory_stats()
    return s["uploads"], s["readbacks"]


def skip_words(gen, n):
    """Moves `gen` on by `n` words (one float32 uniform takes one word)."""
    if n:
        torch.rand(n, generator=gen)


def both(draw, seed=5, skip=0):
    """`draw(device, generator)` on the CPU and on the device from the same state; the two
    results and the two generators afterwards."""
    out = []
    for device in ("cpu", "wgpu"):
        g = torch.Generator().manual_seed(seed)
        skip_words(g, skip)
        out.append((draw(device, g), g))
    (c, gc), (d, gd) = out
    return c, d, gc, gd


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("skip", SKIPS)
def test_rand_is_the_cpu_draw(dtype, n, skip):
    c, d, gc, gd = both(
        lambda dev, g: torch.rand(n, dtype=dtype, device=dev, generator=g), skip=skip
    )
    assert d.device.type == "wgpu" and d.dtype == dtype and tuple(d.shape) == (n,)
    np.testing.assert_array_equal(bits(d), bits(c))
    # The generator continues where the CPU draw left it.
    assert bytes(gd.get_state().tolist()) == bytes(gc.get_state().tolist())


@pytest.mark.parametrize("dtype", FLOATS)
def test_rand_on_the_device_uploads_and_reads_nothing(dtype):
    g = torch.Generator().manual_seed(1)
    torch.rand(3, 5, device="wgpu", dtype=dtype, generator=g)  # compile the kernels first
    before = stats()
    t = torch.rand(64, 1000, device="wgpu", dtype=dtype, generator=g)
    x = torch.rand_like(t)
    assert stats() == before
    assert tuple(t.shape) == (64, 1000) and x.device.type == "wgpu"
    v = t.cpu().numpy()
    assert v.min() >= 0.0 and v.max() < 1.0 and abs(v.mean() - 0.5) < 0.01


def test_default_generator_and_manual_seed():
    torch.manual_seed(42)
    c = torch.rand(4, 33)
    after_cpu = torch.rand(5)
    torch.manual_seed(42)
    d = torch.rand(4, 33, device="wgpu")
    after_dev = torch.rand(5)
    np.testing.assert_array_equal(bits(d), bits(c))
    np.testing.assert_array_equal(bits(after_dev), bits(after_cpu))


def test_chunks_and_devices_continue_one_stream():
    g = torch.Generator().manual_seed(9)
    whole = torch.rand(10_000, generator=g)
    g.manual_seed(9)
    parts = [
        torch.rand(17, device="wgpu", generator=g),
        torch.rand(1000, generator=g),
        torch.rand(3, 100, device="wgpu", generator=g),
        torch.rand(10_000 - 1317, device="wgpu", generator=g),
    ]
    joined = torch.cat([p.cpu().reshape(-1) for p in parts])
    np.testing.assert_array_equal(bits(joined), bits(whole))


def test_float64_and_float32_draws_interleave_as_on_the_cpu():
    if not HAS_F64:
        pytest.skip("adapter without float64")

    def draws(dev, g):
        return [
            torch.rand(3, generator=g, device=dev),
            torch.rand(5, dtype=torch.float64, generator=g, device=dev),
            torch.rand(16, generator=g, device=dev),
            torch.rand(31, dtype=torch.float64, generator=g, device=dev),
        ]

    c, d, gc, gd = both(draws, seed=3, skip=1)
    for a, b in zip(c, d):
        np.testing.assert_array_equal(bits(b), bits(a))
    assert bytes(gd.get_state().tolist()) == bytes(gc.get_state().tolist())


def state_at(seed, word_pos):
    """A generator state (Generator.get_state's layout) at `word_pos` of seed's stream."""
    s = bytes(torch.Generator().manual_seed(seed).get_state().tolist())
    head, chacha = s[:14], s[14:]
    pos = word_pos.to_bytes(16, "little")[:9]
    return torch.tensor(list(head + chacha[:40] + pos), dtype=torch.uint8)


@pytest.mark.parametrize(
    "word_pos",
    [
        (1 << 36) - 16 * 3 + 5,  # the block counter's low half carries into the high half
        (1 << 68) - 20,  # the stream's end: ChaCha's counter wraps to block 0
        (123_456_789 << 20) + 11,
    ],
)
@pytest.mark.parametrize("dtype", FLOATS)
def test_counter_carries_and_wraps_as_on_the_cpu(word_pos, dtype):
    state = state_at(7, word_pos)

    def draw(dev, g):
        g.set_state(state)
        return torch.rand(200, dtype=dtype, device=dev, generator=g)

    c, d, gc, gd = both(draw)
    np.testing.assert_array_equal(bits(d), bits(c))
    assert bytes(gd.get_state().tolist()) == bytes(gc.get_state().tolist())


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("bounds", [(0.0, 1.0), (-2.5, 3.0), (1e-3, 1e-3), (-1e30, 1e30)])
def test_uniform_is_the_cpu_draw(dtype, bounds):
    c, d, gc, gd = both(
        lambda dev, g: torch.empty(7, 300, dtype=dtype, device=dev).uniform_(*bounds, generator=g),
        skip=3,
    )
    np.testing.assert_array_equal(bits(d), bits(c))
    assert bytes(gd.get_state().tolist()) == bytes(gc.get_state().tolist())


BERNOULLI_PS = [0.0, 1.0, 0.5, 0.3, 0.5 + 1e-12, 1 - 1e-9, 2.0**-24, 2.0**-25]


@pytest.mark.parametrize("p", BERNOULLI_PS)
@pytest.mark.parametrize("dtype", FLOATS + [torch.int32, torch.bool])
def test_bernoulli_number_is_the_cpu_draw(p, dtype):
    def draw(dev, g):
        t = torch.empty(5, 401, dtype=dtype, device=dev)
        return [
            t.bernoulli_(p, generator=g),
            torch.bernoulli(torch.empty(999, device=dev), p, generator=g),
        ]

    c, d, gc, gd = both(draw, skip=5)
    for a, b in zip(c, d):
        assert b.device.type == "wgpu" and b.dtype == a.dtype
        np.testing.assert_array_equal(bits(b), bits(a))
    assert bytes(gd.get_state().tolist()) == bytes(gc.get_state().tolist())


@pytest.mark.parametrize("dtype", FLOATS)
def test_bernoulli_number_on_the_device_uploads_and_reads_nothing(dtype):
    t = torch.empty(300, 300, dtype=dtype, device="wgpu")
    t.bernoulli_(0.25)  # compile the kernels first
    before = stats()
    t.bernoulli_(0.25)
    assert stats() == before
    assert abs(t.cpu().numpy().mean() - 0.25) < 0.01


@pytest.mark.parametrize("dtype", FLOATS)
def test_bernoulli_of_probabilities_is_the_cpu_draw(dtype):
    probs = torch.rand(4, 257, dtype=dtype, generator=torch.Generator().manual_seed(2))
    probs[0, :5] = torch.tensor([0.0, 1.0, 0.5, 2.0**-24, 1 - 2.0**-24], dtype=dtype)
    c, d, gc, gd = both(lambda dev, g: torch.bernoulli(probs.to(dev), generator=g), skip=9)
    np.testing.assert_array_equal(bits(d), bits(c))
    assert bytes(gd.get_state().tolist()) == bytes(gc.get_state().tolist())


def test_dropout_on_the_device_is_the_cpu_dropout():
    x = torch.randn(8, 129, generator=torch.Generator().manual_seed(4))
    for p in (0.1, 0.5, 0.9):
        F.dropout(x.to("wgpu"), p)  # compile the kernels first (a first scalar op uploads it once)
        torch.manual_seed(11)
        c = F.dropout(x, p)
        torch.manual_seed(11)
        xd = x.to("wgpu")
        before = stats()
        d = F.dropout(xd, p)
        assert stats()[0] == before[0], "dropout uploaded its mask"
        np.testing.assert_array_equal(bits(d), bits(c))


def test_errors_are_the_cpu_errors_and_leave_the_generator():
    g = torch.Generator().manual_seed(1)
    state = bytes(g.get_state().tolist())
    for kwargs, err in [
        (dict(dtype=torch.int64), RuntimeError),
        (dict(dtype=torch.bool), RuntimeError),
    ]:
        with pytest.raises(err) as cpu:
            torch.rand(3, generator=g, **kwargs)
        with pytest.raises(err) as dev:
            torch.rand(3, generator=g, device="wgpu", **kwargs)
        assert str(dev.value) == str(cpu.value)
    with pytest.raises(RuntimeError) as cpu:
        torch.rand(-1, generator=g)
    with pytest.raises(RuntimeError) as dev:
        torch.rand(-1, generator=g, device="wgpu")
    assert str(dev.value) == str(cpu.value)
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(RuntimeError) as cpu:
            torch.empty(3).bernoulli_(p, generator=g)
        with pytest.raises(RuntimeError) as dev:
            torch.empty(3, device="wgpu").bernoulli_(p, generator=g)
        assert str(dev.value) == str(cpu.value)
    assert bytes(g.get_state().tolist()) == state


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(0, 40), min_size=0, max_size=3),
    skip=st.integers(0, 200),
    seed=st.integers(0, 2**63 - 1),
    wide=st.booleans(),
)
def test_any_shape_seed_and_offset(shape, skip, seed, wide):
    dtype = torch.float64 if wide and HAS_F64 else torch.float32
    c, d, gc, gd = both(
        lambda dev, g: torch.rand(*shape, dtype=dtype, device=dev, generator=g),
        seed=seed,
        skip=skip,
    )
    assert tuple(d.shape) == tuple(shape)
    np.testing.assert_array_equal(bits(d), bits(c))
    assert bytes(gd.get_state().tolist()) == bytes(gc.get_state().tolist())


def test_state_layout_used_above():
    # state_at relies on get_state's layout: magic (6), seed (8), key (32), stream (8),
    # position (9).
    s = bytes(torch.Generator().manual_seed(3).get_state().tolist())
    assert len(s) == 63 and s[:6] == b"RGRNG\x01" and struct.unpack("<Q", s[6:14])[0] == 3


@pytest.mark.parametrize("dtype", FLOATS + [torch.int32])
@pytest.mark.parametrize("p_shape", [(3, 65), (65,), (1, 1)])
@pytest.mark.parametrize("p_on_device", [True, False])
def test_bernoulli_in_place_with_probabilities_is_the_cpu_draw(dtype, p_shape, p_on_device):
    probs = torch.rand(*p_shape, generator=torch.Generator().manual_seed(8))

    def draw(dev, g):
        p = probs.to(dev) if p_on_device else probs
        return torch.zeros(3, 65, dtype=dtype, device=dev).bernoulli_(p, generator=g)

    c, d, gc, gd = both(draw, skip=2)
    assert d.device.type == "wgpu" and d.dtype == c.dtype
    np.testing.assert_array_equal(bits(d), bits(c))
    assert bytes(gd.get_state().tolist()) == bytes(gc.get_state().tolist())
