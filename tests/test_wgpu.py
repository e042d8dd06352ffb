"""The wgpu backend against the CPU: every reference case (tier 1 and 2) forward and backward
on the device, the device API as PyTorch users expect it, optimizers on the device, and an MLP
trained 20 steps on both backends from the same weights. Runs wherever an adapter exists (in CI,
Mesa's llvmpipe; `nox -s cross`)."""

import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_cases import check_case, host, run_case, tier

import rgrad as torch
import rgrad.nn as nn
import rgrad.nn.functional as F

# `nox -s cross` sets RGRAD_REQUIRE_WGPU so that a missing adapter fails instead of skipping.
REQUIRED = os.environ.get("RGRAD_REQUIRE_WGPU") == "1"
pytestmark = [
    pytest.mark.wgpu,
    pytest.mark.skipif(not REQUIRED and not torch.wgpu.is_available(), reason="no wgpu adapter"),
]

CASES = tier(1) + tier(2)
F64 = torch.wgpu.is_available() and torch.wgpu.supports_dtype(torch.float64)


# ---- the op table ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_case_float32_matches_reference(case):
    check_case(case, "float32", 1e-4, device="wgpu")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_case_float32_matches_cpu(case):
    out_g, grads_g = run_case(case, "float32", "wgpu")
    out_c, grads_c = run_case(case, "float32", "cpu")
    assert out_g.dtype == out_c.dtype and out_g.shape == out_c.shape
    np.testing.assert_allclose(host(out_g), host(out_c), rtol=1e-4, atol=1e-5)
    assert grads_g.keys() == grads_c.keys()
    for name, g in grads_g.items():
        c = grads_c[name]
        assert (g is None) == (c is None)
        if g is not None:
            np.testing.assert_allclose(host(g), host(c), rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not F64, reason="adapter without float64")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_case_float64_matches_reference(case):
    check_case(case, "float64", 1e-9, device="wgpu")


# ---- device API --------------------------------------------------------------------------


def test_device_objects_and_repr():
    d = torch.device("wgpu")
    assert repr(d) == "device(type='wgpu')"
    x = torch.tensor([1.0, 2.0], device=d)
    assert repr(x.device) == "device(type='wgpu', index=0)"
    assert str(x.device) == "wgpu:0"
    assert repr(x) == "tensor([1., 2.], device='wgpu:0')"
    y = torch.ones(2, dtype=torch.float64, device="wgpu", requires_grad=True) if F64 else None
    if y is not None:
        assert (
            repr(y) == "tensor([1., 1.], device='wgpu:0', dtype=rgrad.float64, requires_grad=True)"
        )
    assert torch.cuda.is_available() is False
    assert torch.wgpu.device_count() == 1


def test_moves_keep_values_and_history():
    a = torch.randn(3, 4, requires_grad=True)
    g = a.to("wgpu")
    assert g.device.type == "wgpu" and g.grad_fn is not None
    back = g.cpu()
    assert back.device.type == "cpu"
    np.testing.assert_array_equal(back.detach().numpy(), a.detach().numpy())
    (g * 3).sum().backward()
    assert a.grad.device.type == "cpu"
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 4), 3.0))
    assert a.to("cpu") is a
    assert g.to(torch.device("wgpu", 0)) is g


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.zeros(2, 3, device="wgpu"),
        lambda: torch.ones(2, 3, device="wgpu"),
        lambda: torch.full((2, 3), 7.0, device="wgpu"),
        lambda: torch.arange(6, device="wgpu"),
        lambda: torch.eye(3, device="wgpu"),
        lambda: torch.linspace(0, 1, 5, device="wgpu"),
        lambda: torch.tensor([[1, 2], [3, 4]], device="wgpu"),
        lambda: torch.randint(0, 5, (4,), device="wgpu"),
    ],
)
def test_factories_take_device(make):
    t = make()
    assert t.device.type == "wgpu"
    assert host(t).shape == tuple(t.shape)


def test_random_factories_match_cpu_for_a_seed():
    torch.manual_seed(3)
    c = torch.randn(5, 5)
    torch.manual_seed(3)
    g = torch.randn(5, 5, device="wgpu")
    np.testing.assert_array_equal(host(g), c.numpy())


def test_mixed_devices_raise_naming_both():
    g = torch.ones(3, device="wgpu")
    c = torch.ones(3)
    msg = (
        "Expected all tensors to be on the same device, "
        "but found at least two devices, wgpu:0 and cpu!"
    )
    for f in (lambda: g + c, lambda: c * g, lambda: g @ c, lambda: torch.cat([g, c])):
        with pytest.raises(RuntimeError, match=msg):
            f()
    # A 0-dim CPU tensor is a scalar, as in PyTorch.
    np.testing.assert_allclose(host(g + torch.tensor(2.0)), [3.0, 3.0, 3.0])


def test_host_conversions():
    g = torch.tensor([[1.5, 2.0]], device="wgpu")
    with pytest.raises(TypeError, match="can't convert wgpu:0 device type tensor to numpy"):
        g.numpy()
    assert g.tolist() == [[1.5, 2.0]]
    assert g[0, 1].item() == 2.0
    assert float(g.sum()) == 3.5
    assert bool(g[0, 0] > 1)


def test_module_to_device_and_back():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.BatchNorm1d(2))
    w = m[0].weight
    m.to("wgpu")
    assert m[0].weight is w and w.device.type == "wgpu"
    assert all(p.device.type == "wgpu" for p in m.parameters())
    assert all(b.device.type == "wgpu" for b in m.buffers())
    out = m(torch.randn(5, 4, device="wgpu"))
    assert out.device.type == "wgpu"
    m.cpu()
    assert all(p.device.type == "cpu" for p in m.parameters())


def test_no_grad_views_and_inplace_behave_as_on_cpu():
    def program(dev):
        x = torch.arange(12.0, device=dev).reshape(3, 4).requires_grad_()
        y = x * 2
        v = y[1:, ::2]
        v.mul_(3)
        y.t()[0].add_(1)
        with torch.no_grad():
            z = y * 10
        assert not z.requires_grad
        (y.sum(0) ** 2).sum().backward()
        return y, x.grad

    (yg, gg), (yc, gc) = program("wgpu"), program("cpu")
    np.testing.assert_allclose(host(yg), host(yc))
    np.testing.assert_allclose(host(gg), host(gc))


def test_indexing_and_setitem():
    def program(dev):
        x = torch.arange(24.0, device=dev).reshape(2, 3, 4)
        a = x[:, [0, 2], 1:3]
        b = x[x > 10]
        x[0, :, 1] = torch.tensor([7.0, 8.0, 9.0], device=dev)
        x[1, 1] = 0.5
        x[:, [1], [0]] += 5
        return a, b, x

    for g, c in zip(program("wgpu"), program("cpu")):
        np.testing.assert_allclose(host(g), host(c))


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["add", "sub", "mul", "div", "maximum", "pow", "lt", "eq"]),
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
    st.integers(0, 2**31),
)
def test_broadcast_binary_ops_match_cpu(op, shape, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, size=shape).astype(np.float32)
    b = rng.uniform(0.5, 2.0, size=shape[-1:]).astype(np.float32)
    f = getattr(torch, op)
    got = f(torch.tensor(a, device="wgpu"), torch.tensor(b, device="wgpu"))
    want = f(torch.tensor(a), torch.tensor(b))
    assert got.dtype == want.dtype
    np.testing.assert_allclose(host(got), host(want), rtol=1e-5)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.data())
def test_reductions_match_cpu(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(len(shape)).normal(size=shape).astype(np.float32)
    g, c = torch.tensor(x, device="wgpu"), torch.tensor(x)
    for f in (
        lambda t: t.sum(dim),
        lambda t: t.mean(dim, keepdim=True),
        lambda t: t.max(dim).values,
        lambda t: t.argmin(dim),
        lambda t: t.amax(),
        lambda t: t.cumsum(dim),
        lambda t: t.prod(dim),
        lambda t: t.softmax(dim),
        lambda t: t.var(dim),
    ):
        np.testing.assert_allclose(host(f(g)), host(f(c)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "shape", [(1, 1, 1), (3, 5, 2), (65, 70, 33), (2, 130, 64), (37, 44, 20), (9, 128, 72)]
)
def test_matmul_shapes_match_cpu(shape):
    m, k, n = shape
    rng = np.random.default_rng(m * k * n)
    a = rng.normal(size=(2, m, k)).astype(np.float32)
    b = rng.normal(size=(k, n)).astype(np.float32)
    got = torch.tensor(a, device="wgpu") @ torch.tensor(b, device="wgpu").t().t()
    np.testing.assert_allclose(host(got), a @ b, rtol=1e-4, atol=1e-4)
    # transposed (strided) operands are read in place
    got_t = (
        torch.tensor(a, device="wgpu").transpose(1, 2).transpose(1, 2)
        @ torch.tensor(b.T.copy(), device="wgpu").t()
    )
    np.testing.assert_allclose(host(got_t), a @ b, rtol=1e-4, atol=1e-4)


# ---- optimizers and training -------------------------------------------------------------


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd_nesterov": lambda p: torch.optim.SGD(
        p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01
    ),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
    "adam_amsgrad": lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.1, weight_decay=0.1),
    "nadam": lambda p: torch.optim.NAdam(p, lr=0.01, weight_decay=0.1),
    "nadamw": lambda p: torch.optim.NAdam(
        p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True
    ),
    "radam": lambda p: torch.optim.RAdam(p, lr=0.01, betas=(0.9, 0.9), weight_decay=0.1),
    "adamax": lambda p: torch.optim.Adamax(p, lr=0.01, weight_decay=0.1, maximize=True),
    "adadelta": lambda p: torch.optim.Adadelta(p, weight_decay=0.1),
    "rprop": lambda p: torch.optim.Rprop(p, lr=0.05, step_sizes=(0.01, 0.08)),
    "asgd": lambda p: torch.optim.ASGD(p, lr=0.05, t0=2, weight_decay=0.1),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_steps_on_device_match_cpu(name):
    def run(dev):
        torch.manual_seed(1)
        w = torch.randn(4, 3).to(dev).requires_grad_()
        opt = OPTIMIZERS[name]([w])
        for _ in range(8):
            opt.zero_grad()
            ((w * w).sum() + w.sum()).backward()
            opt.step()
        return w

    np.testing.assert_allclose(host(run("wgpu")), host(run("cpu")), rtol=1e-5, atol=1e-6)


def train(device, steps=20):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)
    )
    model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(32, 8).to(device)
    y = torch.randint(0, 3, (32,)).to(device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [host(p) for p in model.parameters()]


def test_mlp_trains_the_same_on_both_backends():
    losses_g, weights_g = train("wgpu")
    losses_c, weights_c = train("cpu")
    assert losses_g[-1] < losses_g[0] * 0.8
    np.testing.assert_allclose(losses_g, losses_c, rtol=1e-4, atol=1e-5)
    for g, c in zip(weights_g, weights_c):
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-5)


def test_gpu_example_trains_on_wgpu():
    """examples/train_on_gpu.py, run as a user runs it, picks the wgpu device and learns."""
    pytest.importorskip("sklearn")
    script = pathlib.Path(__file__).resolve().parents[1] / "examples" / "train_on_gpu.py"
    out = subprocess.run(
        [sys.executable, str(script), "--epochs", "8"],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ,
    )
    assert out.returncode == 0, out.stderr
    assert "device: wgpu" in out.stdout
    assert "test accuracy on wgpu" in out.stdout


def test_warm_training_loop_allocates_no_device_buffers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).to("wgpu")
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x = torch.randn(32, 8).to("wgpu")
    y = torch.randint(0, 3, (32,)).to("wgpu")

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(3):
        step()
    before = torch.wgpu.memory_stats()
    for _ in range(10):
        step()
    after = torch.wgpu.memory_stats()
    assert after["created"] == before["created"]
    assert after["reused"] > before["reused"]


def test_readbacks_count_copies_to_the_host():
    """``memory_stats()["readbacks"]`` counts device-to-host copies, so a test can say that an
    op stays on the device: kernels chained on device tensors read nothing back."""
    x = torch.arange(12.0, device="wgpu").reshape(3, 4)
    x.sum().item()  # compile what the chain uses before counting
    before = torch.wgpu.memory_stats()
    y = ((x * 2 + 1).relu().sum(dim=1) / 4).exp()
    assert torch.wgpu.memory_stats()["readbacks"] == before["readbacks"]
    assert y.device.type == "wgpu"
    y.cpu()
    after = torch.wgpu.memory_stats()
    assert after["readbacks"] == before["readbacks"] + 1
    assert after["readback_bytes"] == before["readback_bytes"] + 3 * 4  # three float32


def test_every_op_on_device_tensors_with_bad_arguments_raises_cleanly():
    """tests/test_bad_inputs.py's sweep (every public op on 0-d, empty, non-contiguous and
    grad-requiring tensors, with dims in and out of range) on wgpu tensors: exceptions only,
    never a Rust panic, a crash or a hang."""
    script = pathlib.Path(__file__).resolve().parent / "test_bad_inputs.py"
    env = dict(os.environ, RGRAD_SWEEP_DEVICE="wgpu", RUST_BACKTRACE="0")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, str(script), "--sweep", os.path.join(tmp, "calls.log")],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
            cwd=tmp,
        )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "sweep:" in proc.stdout


def test_without_an_adapter_the_device_errors_and_the_cpu_works():
    code = (
        "import rgrad\n"
        "assert not rgrad.wgpu.is_available()\n"
        "try:\n"
        "    rgrad.zeros(2, device='wgpu')\n"
        "except RuntimeError as e:\n"
        "    print('error:', e)\n"
        "print((rgrad.ones(2) * 3).tolist())\n"
    )
    env = dict(os.environ, WGPU_BACKEND="vulkan", VK_ICD_FILENAMES="/nonexistent/icd.json")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr
    assert "error: wgpu: no GPU adapter is available" in out.stdout
    assert "[3.0, 3.0]" in out.stdout
