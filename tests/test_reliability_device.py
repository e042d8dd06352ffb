"""Reliability of the wgpu backend (issue 11, items 2 and 10): NaN and infinity give the CPU's
(PyTorch's) results, the buffer pool stays bounded in a training loop, device factories fill
on the device, and an allocation the device refuses is an "out of memory" RuntimeError after
which the device keeps working. The CPU tests here check the CPU against PyTorch's values."""

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rgrad as torch
import rgrad.nn as nn
import rgrad.nn.functional as F

REQUIRED = os.environ.get("RGRAD_REQUIRE_WGPU") == "1"
wgpu = pytest.mark.skipif(not REQUIRED and not torch.wgpu.is_available(), reason="no wgpu adapter")
pytestmark = []

nan, inf = float("nan"), float("inf")
SPECIAL = [nan, inf, -inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-30, 1e30]
DTYPES = ["float32", "float64"]


def same(got, want, signed_zero=True, rtol=2e-6):
    """Elementwise equality of two results: NaN where the other has NaN, the same infinities,
    the sign of zero, and finite values to `rtol`."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{got} vs {want}")
    fin = np.isfinite(want)
    np.testing.assert_array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)])
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=1e-30)
    if signed_zero:
        zero = want == 0
        np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]))


def dtype_of(name):
    dt = getattr(torch, name)
    if not torch.wgpu.supports_dtype(dt):
        pytest.skip(f"the adapter has no {name}")
    return dt


# ---- NaN in comparisons and reductions -------------------------------------------------------

NAN_ROW = [1.0, nan, 3.0]
# PyTorch's results on [1, nan, 3]: NaN wins every comparison, its index is the arg-result.
REDUCTIONS = {
    "max": (lambda x: x.max(), nan),
    "min": (lambda x: x.min(), nan),
    "argmax": (lambda x: x.argmax(), 1),
    "argmin": (lambda x: x.argmin(), 1),
    "amax": (lambda x: x.amax(0), nan),
    "amin": (lambda x: x.amin(0), nan),
    "max_dim_values": (lambda x: x.max(0)[0], nan),
    "max_dim_indices": (lambda x: x.max(0)[1], 1),
    "min_dim_values": (lambda x: x.min(0)[0], nan),
    "min_dim_indices": (lambda x: x.min(0)[1], 1),
    "argmax_dim": (lambda x: x.argmax(0), 1),
    "argmin_dim": (lambda x: x.argmin(0), 1),
}


@pytest.mark.wgpu
@wgpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_nan_wins_reductions_on_device(name, dtype):
    dt = dtype_of(dtype)
    f, want = REDUCTIONS[name]
    cpu = f(torch.tensor(NAN_ROW, dtype=dt)).item()
    dev = f(torch.tensor(NAN_ROW, dtype=dt, device="wgpu")).item()
    same([cpu], [want])
    same([dev], [want])


@pytest.mark.wgpu
@wgpu
def test_nan_wins_in_long_and_strided_reductions():
    # Enough elements for the split (two-pass) reduction and for the workgroup tree, with the
    # NaN in the middle of a row and in a column of a transposed view.
    x = torch.arange(70000.0)
    x[40000] = nan
    xd = x.to("wgpu")
    assert math.isnan(xd.max().item()) and math.isnan(xd.min().item())
    assert xd.argmax().item() == 40000 and xd.argmin().item() == 40000
    m = torch.arange(12.0).reshape(3, 4)
    m[1, 2] = nan
    md = m.to("wgpu").t()
    same(md.amax(1).cpu().numpy(), m.t().amax(1).numpy())
    assert md.argmin(1).tolist() == m.t().argmin(1).tolist() == [0, 0, 1, 0]


@pytest.mark.wgpu
@wgpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "name",
    ["maximum", "minimum", "fmax_like_clamp", "clamp_min", "clamp_max", "where_gt"],
)
def test_nan_in_elementwise_comparisons_on_device(name, dtype):
    dt = dtype_of(dtype)
    ops = {
        "maximum": lambda a, b: torch.maximum(a, b),
        "minimum": lambda a, b: torch.minimum(a, b),
        "fmax_like_clamp": lambda a, b: a.clamp(0.0, 2.0),
        "clamp_min": lambda a, b: a.clamp(min=0.0),
        "clamp_max": lambda a, b: a.clamp(max=0.0),
        "where_gt": lambda a, b: torch.where(a > b, a, b),
    }
    a = [1.0, nan, 3.0, nan, -inf, inf]
    b = [2.0, 2.0, nan, nan, 0.0, 0.0]
    cpu = ops[name](torch.tensor(a, dtype=dt), torch.tensor(b, dtype=dt))
    dev = ops[name](
        torch.tensor(a, dtype=dt, device="wgpu"), torch.tensor(b, dtype=dt, device="wgpu")
    )
    same(dev.cpu().numpy(), cpu.numpy())
    if name in ("maximum", "minimum"):
        assert np.isnan(cpu.numpy()[1:4]).all()  # PyTorch: NaN propagates


def test_softmax_of_infinities_is_nan_as_pytorch_on_cpu():
    # PyTorch 2.15: a row holding +inf, or only -inf, is NaN throughout.
    x = torch.tensor([inf, 1.0, -inf])
    same(x.softmax(0).numpy(), [nan, nan, nan])
    same(x.log_softmax(0).numpy(), [nan, nan, nan])
    same(torch.tensor([-inf, 1.0]).softmax(0).numpy(), [0.0, 1.0])
    same(torch.tensor([-inf, -inf]).softmax(0).numpy(), [nan, nan])
    loss = F.cross_entropy(torch.tensor([[inf, 1.0]]), torch.tensor([1]))
    assert math.isnan(loss.item())


def test_relu_passes_nan_and_negative_zero_as_pytorch_on_cpu():
    same(torch.tensor([nan, -0.0, -1.0, 2.0]).relu().numpy(), [nan, -0.0, 0.0, 2.0])


@pytest.mark.wgpu
@wgpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize(
    "row", [[inf, 1.0, -inf], [-inf, -inf], [-inf, 1.0, 2.0], [nan, 1.0], [1.0, 2.0, 3.0]]
)
def test_softmax_of_infinities_on_device_matches_cpu(row, log, dtype):
    dt = dtype_of(dtype)
    f = (lambda t: t.log_softmax(0)) if log else (lambda t: t.softmax(0))
    cpu = f(torch.tensor(row, dtype=dt))
    dev = f(torch.tensor(row, dtype=dt, device="wgpu"))
    same(dev.cpu().numpy(), cpu.numpy(), rtol=1e-5)


UNARY = [
    "relu", "sigmoid", "tanh", "exp", "log", "sqrt", "abs", "neg", "sign", "reciprocal",
    "rsqrt", "log1p", "expm1", "floor", "ceil", "trunc", "round", "atan",
    "erf", "sinh", "cosh", "asinh", "log2", "exp2",
]  # fmt: skip
# Sign-of-zero differences inside the tolerance of transcendental approximations are not
# compared for these (their value at ±0 is compared).
LOOSE_ZERO = {"atan", "erf", "sinh", "asinh", "expm1", "log1p"}


@pytest.mark.wgpu
@wgpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_special_values_match_cpu(name, dtype):
    dt = dtype_of(dtype)
    cpu = getattr(torch.tensor(SPECIAL, dtype=dt), name)()
    dev = getattr(torch.tensor(SPECIAL, dtype=dt, device="wgpu"), name)()
    same(dev.cpu().numpy(), cpu.numpy(), signed_zero=name not in LOOSE_ZERO, rtol=1e-5)


BINARY = {
    "div": lambda a, b: a / b,
    "pow": lambda a, b: torch.pow(a, b),
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "atan2": torch.atan2,
    "hypot": torch.hypot,
    "logaddexp": torch.logaddexp,
    "mul": lambda a, b: a * b,
    "sub": lambda a, b: a - b,
}


@pytest.mark.wgpu
@wgpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_special_values_match_cpu(name, dtype):
    dt = dtype_of(dtype)
    grid = [nan, inf, -inf, 0.0, -0.0, 1.0, -1.0, 2.0, -0.5]
    a = [x for x in grid for _ in grid]
    b = [y for _ in grid for y in grid]
    cpu = BINARY[name](torch.tensor(a, dtype=dt), torch.tensor(b, dtype=dt))
    dev = BINARY[name](
        torch.tensor(a, dtype=dt, device="wgpu"), torch.tensor(b, dtype=dt, device="wgpu")
    )
    same(dev.cpu().numpy(), cpu.numpy(), signed_zero=name in ("div", "mul", "sub"), rtol=1e-5)


@pytest.mark.wgpu
@wgpu
@pytest.mark.parametrize("exponent", [2.0, 3.0, -1.0, 0.0, 2.5])
def test_pow_by_python_number_special_values_match_cpu(exponent):
    cpu = torch.tensor(SPECIAL) ** exponent
    dev = torch.tensor(SPECIAL, device="wgpu") ** exponent
    same(dev.cpu().numpy(), cpu.numpy(), rtol=1e-5)


# ---- the buffer pool ---------------------------------------------------------------------------


@pytest.mark.wgpu
@wgpu
def test_buffer_pool_stops_growing_in_a_training_loop():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 5)).to("wgpu")
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.randn(8, 6)
    stats = []
    for step in range(90):
        # Labels and inputs come from the host every step, as from a DataLoader.
        labels = torch.tensor([(step + i) % 5 for i in range(8)]).to("wgpu")
        loss = F.cross_entropy(model(x.to("wgpu")), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
        stats.append(torch.wgpu.memory_stats())
    warm, last = stats[40], stats[-1]
    assert last["pooled_buffers"] <= warm["pooled_buffers"], (warm, last)
    assert last["pooled_bytes"] <= warm["pooled_bytes"], (warm, last)
    # Every step's uploads end up back in the pool: only a capped count of them stays.
    assert last["uploads"] - warm["uploads"] >= 2 * 49
    assert max(s["pooled_buffers"] for s in stats) <= 1024


@pytest.mark.wgpu
@wgpu
def test_empty_cache_releases_pooled_buffers():
    a = [torch.ones(1000, device="wgpu") + i for i in range(4)]
    del a
    assert torch.wgpu.memory_stats()["pooled_buffers"] > 0
    torch.wgpu.empty_cache()
    s = torch.wgpu.memory_stats()
    assert s["pooled_buffers"] == 0 and s["pooled_bytes"] == 0
    assert (torch.ones(3, device="wgpu") * 2).tolist() == [2.0, 2.0, 2.0]


# ---- device allocation -------------------------------------------------------------------------


def run_child(code, timeout=240):
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.mark.wgpu
@wgpu
@pytest.mark.parametrize("factory", ["zeros", "ones", "empty", "full"])
def test_device_factories_do_not_fill_on_the_host(factory):
    # 48 MiB on the device; made on the host and uploaded, the peak would also hold the host
    # tensor and its byte copy (llvmpipe's device memory is host memory too, so RSS sees it).
    out = run_child(
        f"""
        import resource, rgrad as torch
        torch.ones(4, device="wgpu").sum().item()  # the device and its kernels are warm
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        n = 12 << 20
        if "{factory}" == "full":
            t = torch.full((n,), 2.0, device="wgpu")
        else:
            t = torch.{factory}(n, device="wgpu")
        t[-1].item()
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
        """
    )
    grown = int(out.split()[-1])
    assert grown < 1.5 * (48 << 20), f"peak grew by {grown} bytes for a 48 MiB tensor"


@pytest.mark.wgpu
@wgpu
def test_allocation_past_the_adapter_limit_is_out_of_memory():
    with pytest.raises(RuntimeError, match=r"wgpu out of memory\. Tried to allocate 4\.00 GiB"):
        torch.zeros(2**30, device="wgpu")
    with pytest.raises(RuntimeError, match="out of memory"):
        torch.ones(2**20, 2**10, device="wgpu")
    with pytest.raises(RuntimeError, match="out of memory"):
        torch.empty(2**25 + 1).to("wgpu")  # refused before the host copy is made
    with pytest.raises(RuntimeError, match="Storage size calculation overflowed"):
        torch.zeros(2**40, 2**40, device="wgpu")
    assert (torch.ones(3, device="wgpu") + 1).tolist() == [2.0, 2.0, 2.0]


@pytest.mark.wgpu
@wgpu
def test_device_works_again_after_running_out_of_memory():
    # Under an address-space limit, 96 MiB device tensors until the device refuses one: the
    # refusal is an "out of memory" RuntimeError, and once they are freed the device works.
    out = run_child(
        """
        import resource, rgrad as torch
        a = torch.ones(8, device="wgpu")
        (a * 2 + 1).sum().item()
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[0])
        vm = pages * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (vm + (1 << 30), resource.RLIM_INFINITY))
        held, message = [], None
        for _ in range(40):
            try:
                held.append(torch.zeros(24 << 20, device="wgpu"))
                held[-1][-1].item()
            except RuntimeError as e:
                message = str(e)
                break
        print("held", len(held))
        print("message", message)
        del held
        torch.wgpu.empty_cache()
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        b = torch.arange(6.0, device="wgpu")
        print("after", (b * 2).sum().item(), torch.zeros(24 << 20, device="wgpu")[5].item())
        """
    )
    assert "message None" not in out, out
    assert "out of memory" in out, out
    assert "after 30.0 0.0" in out, out


# ---- trigonometry at huge arguments ----------------------------------------------------------

# float32 values where the builtins' short reduction goes wrong (llvmpipe: sin(1e10) = -0.49
# against 0.49), with both signs, at quadrant edges, up to the largest float.
HUGE_TRIG = np.array(
    [8192.0, 1e5, 1.5e5, -123456.7, 2.0**20, 1e6, -1e6, 7e15, 1e10, -1e10, 1e30, 3e38, -3e38]
    + [3.4028234663852886e38, 2.0**100, 1.0e22, 6.0e28, inf, -inf, nan],
    dtype=np.float32,
)


@wgpu
@pytest.mark.wgpu
@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
def test_float32_trig_at_huge_arguments_matches_numpy(name):
    rng = np.random.default_rng(11)
    spread = (10.0 ** rng.uniform(3.9, 38.5, 200)).astype(np.float32) * rng.choice([-1, 1], 200)
    xs = np.concatenate([HUGE_TRIG, spread.astype(np.float32)])
    got = getattr(torch.tensor(xs).to("wgpu"), name)().cpu().numpy().astype(np.float64)
    # NumPy's float64 functions reduce exactly: the float32 input's true value.
    want = getattr(np, name)(xs.astype(np.float64))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    if name == "tan":
        # tan's slope magnifies the reduced argument's last-bit error near the poles.
        np.testing.assert_allclose(got[fin], want[fin], rtol=2e-4, atol=2e-6)
    else:
        np.testing.assert_allclose(got[fin], want[fin], rtol=0, atol=2e-6)
    cpu = getattr(torch.tensor(xs), name)().numpy().astype(np.float64)
    np.testing.assert_allclose(cpu[fin], want[fin], rtol=2e-4 if name == "tan" else 0, atol=2e-6)


# float64: the software sin/cos reduce with Cody-Waite below 2^19 and Payne-Hanek above, over
# the whole exponent range (before: i32(k) overflowed, sin(1e20) = -3.2e32).
HUGE_TRIG_F64 = np.array(
    [0.5, -2.5, 1e5, 524287.9, 524288.0, -524288.5, 2.0**20, 1e6, 1e10, -1e10, 1e15, 1e16]
    + [1e20, -1e22, 2.0**100, 1e100, 3e300, 1.7976931348623157e308, -1.7976931348623157e308]
    + [6381956970095103.0 * 2.0**797, 5.319372648326541e255, inf, -inf, nan]
)


def _f64_wgpu():
    return torch.wgpu.is_available() and torch.wgpu.supports_dtype(torch.float64)


@pytest.mark.wgpu
@pytest.mark.skipif(not REQUIRED and not _f64_wgpu(), reason="no wgpu adapter with float64")
@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
def test_float64_trig_at_huge_arguments_matches_the_cpu(name):
    rng = np.random.default_rng(12)
    spread = 10.0 ** rng.uniform(-3, 308, 400) * rng.choice([-1, 1], 400)
    # near multiples of pi/2 (the reduction's hardest inputs) and quadrant edges
    near = np.array([np.pi / 2 * k for k in [1, 2, 3, 1e6, 3e6, 1e12, 7e15]])
    xs = np.concatenate([HUGE_TRIG_F64, spread, near, np.nextafter(near, 0)])
    got = getattr(torch.tensor(xs).to("wgpu"), name)().cpu().numpy()
    want = getattr(torch.tensor(xs), name)().numpy()  # the CPU's libm reduces exactly
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    if name == "tan":
        # at the poles (tan ~ 1e16) the reduced argument's last-bit error is magnified
        np.testing.assert_allclose(got[fin], want[fin], rtol=1e-10, atol=1e-14)
    else:
        np.testing.assert_allclose(got[fin], want[fin], rtol=0, atol=1e-14)
