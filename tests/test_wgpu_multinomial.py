"""``multinomial`` on the wgpu device (crates/rgrad-core/src/gpu/sampling.rs): it samples on
the device from the core generator's uniforms, so a seed draws the CPU's indices (with and
without replacement, 1-D and 2-D, zero weights, one category, every category, several
blocks of 1024 weights), refuses bad distributions with the CPU's errors, and reads back
only its 4-byte status word (``memory_stats()`` counts one readback of 4 bytes per call),
never the probabilities (the host sampler this replaced read them all back)."""

import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rgrad as torch

REQUIRED = os.environ.get("RGRAD_REQUIRE_WGPU") == "1"
pytestmark = [
    pytest.mark.wgpu,
    pytest.mark.skipif(not REQUIRED and not torch.wgpu.is_available(), reason="no wgpu adapter"),
]

F64 = torch.wgpu.is_available() and torch.wgpu.supports_dtype(torch.float64)
# The status word of the distribution check: the one readback a device multinomial makes.
READBACKS_PER_CALL = (1, 4)  # (readbacks, bytes)


def _readbacks():
    s = torch.wgpu.memory_stats()
    return s["readbacks"], s["readback_bytes"]


def _since(before):
    now = _readbacks()
    return now[0] - before[0], now[1] - before[1]


def _device_draw(w_dev, num_samples, replacement, generator=None):
    """The device draw and how many device-to-host copies it made."""
    before = _readbacks()
    out = torch.multinomial(w_dev, num_samples, replacement, generator=generator)
    used = _since(before)
    assert str(out.device).startswith("wgpu") and out.dtype == torch.int64
    return out, used


def _blocks_row(n):
    """n weights over several blocks of 1024, with runs of zeros (a zero block included)."""
    return [0.0 if (i % 7 == 3 or 1024 <= i < 2048) else 1.0 + (i * 37 % 11) for i in range(n)]


CASES = {
    "1d_with": ([0.1, 0.0, 0.6, 0.3], 50, True),
    "1d_without": ([0.1, 0.0, 0.6, 0.3, 2.0], 3, False),
    "1d_one_sample_without": ([0.5, 0.0, 1.5, 3.0], 1, False),
    "2d_with": ([[0.2, 0.0, 0.8], [1.0, 1.0, 1.0], [0.0, 0.0, 5.0]], 40, True),
    "2d_without": ([[0.2, 0.0, 0.8, 0.5], [1.0, 2.0, 3.0, 4.0]], 2, False),
    "2d_one_sample_without": ([[3.0, 0.0, 1.0], [0.0, 2.0, 2.0], [1.0, 1.0, 1.0]], 1, False),
    "single_category_with": ([[2.5], [0.5]], 7, True),
    "single_category_without": ([4.0], 1, False),
    "all_categories_without": ([[1.0, 5.0, 0.5, 2.0, 3.0], [0.0, 1.0, 0.0, 1.0, 1.0]], 5, False),
    "zero_tail_with": ([0.0, 1.0, 0.0, 0.0], 20, True),
    "blocks_with": (_blocks_row(2500), 64, True),
    "blocks_one_sample_without": ([_blocks_row(2500), _blocks_row(2500)[::-1]], 1, False),
    "blocks_without": (_blocks_row(2100), 6, False),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_device_draws_the_cpu_samples(name, dtype):
    if dtype == "float64" and not F64:
        pytest.skip("adapter without float64")
    data, num_samples, replacement = CASES[name]
    dt = getattr(torch, dtype)
    w = torch.tensor(data, dtype=dt)
    wd = w.to("wgpu")
    # the global generator
    torch.manual_seed(1234)
    want = torch.multinomial(w, num_samples, replacement)
    torch.manual_seed(1234)
    got, used = _device_draw(wd, num_samples, replacement)
    assert used == READBACKS_PER_CALL
    assert got.shape == want.shape and got.cpu().tolist() == want.tolist()
    # a Generator object, and the stream continues alike on both devices
    g, h = torch.Generator().manual_seed(99), torch.Generator().manual_seed(99)
    want = [torch.multinomial(w, num_samples, replacement, generator=g).tolist() for _ in range(2)]
    got = [_device_draw(wd, num_samples, replacement, h)[0].cpu().tolist() for _ in range(2)]
    assert got == want
    assert h.get_state().tolist() == g.get_state().tolist()


def test_zero_weights_are_never_drawn_and_rows_have_distinct_indices():
    w = torch.tensor([[0.0, 1.0, 0.0, 2.0, 0.0, 3.0], [5.0, 0.0, 0.0, 0.0, 1.0, 0.0]])
    torch.manual_seed(3)
    with_r = torch.multinomial(w.to("wgpu"), 400, True).cpu()
    assert set(with_r[0].tolist()) == {1, 3, 5} and set(with_r[1].tolist()) == {0, 4}
    # without replacement the zero weights come after every positive one, in index order
    without = torch.multinomial(w.to("wgpu"), 6, False).cpu().tolist()
    assert sorted(without[0][:3]) == [1, 3, 5] and without[0][3:] == [0, 2, 4]
    assert sorted(without[1][:2]) == [0, 4] and without[1][2:] == [1, 2, 3, 5]


def test_gpt_sampling_step_reads_back_only_the_status():
    """The sampling step of a GPT: softmax on the device, one draw per row; the indices stay on
    the device and feed the next step."""
    torch.manual_seed(0)
    logits = torch.randn(2, 3000).to("wgpu")
    probs = torch.softmax(logits / 0.8, dim=-1)
    before = _readbacks()
    idx = torch.multinomial(probs, num_samples=1)
    seq = torch.cat([torch.zeros(2, 4, dtype=torch.int64, device="wgpu"), idx], dim=1)
    assert _since(before) == READBACKS_PER_CALL
    torch.manual_seed(7)
    want = torch.multinomial(probs.cpu(), 1)
    torch.manual_seed(7)
    assert torch.multinomial(probs, 1).cpu().tolist() == want.tolist()
    assert seq.shape == (2, 5)


def test_views_and_offsets():
    base = torch.tensor([[1.0, 0.0, 2.0], [3.0, 1.0, 0.0], [0.5, 0.5, 4.0]])
    for view in (lambda t: t.t(), lambda t: t[1:], lambda t: t[2], lambda t: t[:, 1:]):
        torch.manual_seed(5)
        want = torch.multinomial(view(base), 2, False)
        torch.manual_seed(5)
        got, used = _device_draw(view(base.to("wgpu")), 2, False)
        assert used == READBACKS_PER_CALL and got.cpu().tolist() == want.tolist()


def test_float32_path_of_adapters_without_float64(monkeypatch):
    """RGRAD_WGPU_SAMPLING_F32 runs the float32 arithmetic an adapter without float64 uses: on
    these inputs no uniform falls within a float32 rounding of a boundary, so the samples are
    the CPU's too."""
    monkeypatch.setenv("RGRAD_WGPU_SAMPLING_F32", "1")
    for name in ("1d_with", "2d_with", "2d_without", "2d_one_sample_without", "blocks_with"):
        data, num_samples, replacement = CASES[name]
        w = torch.tensor(data)
        torch.manual_seed(21)
        want = torch.multinomial(w, num_samples, replacement)
        torch.manual_seed(21)
        got, used = _device_draw(w.to("wgpu"), num_samples, replacement)
        assert used == READBACKS_PER_CALL and got.cpu().tolist() == want.tolist(), name


BAD = [
    ([1.0, -2.0], 1, False),
    ([1.0, math.nan], 1, False),
    ([1.0, math.inf], 2, True),
    ([0.0, 0.0], 1, False),
    ([0.0, 0.0], 3, True),
    ([[1.0, 1.0], [0.0, 0.0]], 1, True),
    # a bad weight is reported before a zero row, whichever comes first
    ([[0.0, 0.0], [1.0, -0.5]], 1, False),
    ([[0.0, 0.0, 0.0], [1.0, math.nan, 1.0]], 2, True),
    ([-0.0, 0.0], 1, False),
    (_blocks_row(1500)[:1499] + [-1.0], 1, False),
]


@pytest.mark.parametrize("data, num_samples, replacement", BAD)
def test_invalid_distributions_raise_the_cpu_errors(data, num_samples, replacement):
    g = torch.Generator().manual_seed(4)
    with pytest.raises(RuntimeError) as on_cpu:
        torch.multinomial(torch.tensor(data), num_samples, replacement, generator=g)
    state = g.get_state().tolist()
    before = _readbacks()
    with pytest.raises(RuntimeError) as on_dev:
        torch.multinomial(torch.tensor(data, device="wgpu"), num_samples, replacement, generator=g)
    assert _since(before) == READBACKS_PER_CALL
    assert str(on_dev.value) == str(on_cpu.value)
    assert "probability tensor" in str(on_dev.value) or "sum of probabilities" in str(on_dev.value)
    # a refused call draws no uniforms
    assert g.get_state().tolist() == state


@pytest.mark.parametrize(
    "args",
    [([1.0, 1.0], 3, False), ([1.0, 1.0], 0, True), ([[[1.0]]], 1, True)],
)
def test_argument_errors_match_the_cpu(args):
    data, num_samples, replacement = args
    with pytest.raises(RuntimeError) as on_cpu:
        torch.multinomial(torch.tensor(data), num_samples, replacement)
    with pytest.raises(RuntimeError) as on_dev:
        torch.multinomial(torch.tensor(data, device="wgpu"), num_samples, replacement)
    assert str(on_dev.value) == str(on_cpu.value)


def test_empty_batch():
    out = torch.multinomial(torch.ones(0, 3, device="wgpu"), 2, True)
    assert str(out.device).startswith("wgpu") and out.shape == (0, 2)


weights = st.lists(
    st.one_of(st.just(0.0), st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(weights, min_size=1, max_size=3),
    replacement=st.booleans(),
    num_samples=st.integers(1, 12),
    seed=st.integers(0, 2**31),
    two_dim=st.booleans(),
)
def test_property_support_distinct_and_same_as_cpu(rows, replacement, num_samples, seed, two_dim):
    n = min(len(r) for r in rows)
    rows = [r[:n] for r in rows]
    rows = [r if any(x > 0 for x in r) else r[:-1] + [1.0] for r in rows]
    if not two_dim:
        rows = rows[:1]
    if not replacement:
        num_samples = min(num_samples, n)
    w = torch.tensor(rows if two_dim else rows[0])
    torch.manual_seed(seed)
    got, used = _device_draw(w.to("wgpu"), num_samples, replacement)
    assert used == READBACKS_PER_CALL
    got = got.cpu()
    out_rows = got.tolist() if two_dim else [got.tolist()]
    for r, drawn in zip(rows, out_rows):
        positive = sum(x > 0 for x in r)
        assert len(drawn) == num_samples and all(0 <= i < n for i in drawn)
        # the support: a zero weight only once every positive one is drawn (without replacement)
        for k, i in enumerate(drawn):
            assert r[i] > 0 or (not replacement and k >= positive)
        if not replacement:
            assert len(set(drawn)) == len(drawn)
    torch.manual_seed(seed)
    assert torch.multinomial(w, num_samples, replacement).tolist() == got.tolist()
