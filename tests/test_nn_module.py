"""``rgrad.nn.Module`` behaviour beyond registration: dtype conversion, train/eval, gradients,
``apply``, copying, forward hooks, the containers, and the first seed's ``nn.Linear`` example
(Example 2) run as a user would."""

import contextlib
import copy
import io
import pickle
import re
import subprocess
import sys
from collections import OrderedDict

import pytest

import rgrad
import rgrad.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 4)
        self.act = nn.Sigmoid()
        self.fc2 = nn.Linear(4, 1)
        self.register_buffer("steps", rgrad.zeros(1))

    def forward(self, x):
        return self.act(self.fc2(self.act(self.fc1(x))))


# ---- conversion, modes, gradients ------------------------------------------------------------


def test_to_double_keeps_parameter_objects_and_converts_grads():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    w = net[0].weight
    net(rgrad.ones(3, 2)).sum().backward()
    assert net.to(rgrad.float64) is net
    assert net[0].weight is w and type(w) is nn.Parameter
    assert w.dtype == rgrad.float64 and w.requires_grad and w.is_leaf
    assert w.grad.dtype == rgrad.float64
    assert net[1].running_mean.dtype == rgrad.float64
    assert net[1].num_batches_tracked.dtype == rgrad.int64  # integer buffers keep their dtype
    assert net.float()[0].weight.dtype == rgrad.float32
    assert net.double()[0].bias.dtype == rgrad.float64
    assert net.to(rgrad.ones(1)).cpu()[0].weight.dtype == rgrad.float32
    assert net.to("cpu", rgrad.float64)[0].weight.dtype == rgrad.float64
    assert net.to(device="cpu", dtype=rgrad.float32)[0].weight.dtype == rgrad.float32
    with pytest.raises(TypeError) as info:
        net.to(rgrad.int64)
    assert str(info.value) == (
        "nn.Module.to only accepts floating point or complex dtypes, but got desired "
        "dtype=rgrad.int64"
    )


def test_train_eval_flags_propagate():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout()))
    assert net.training and net[1][0].training
    assert net.eval() is net
    assert not net.training and not net[1][0].training
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_and_requires_grad_():
    lin = nn.Linear(2, 2)
    lin(rgrad.ones(1, 2)).sum().backward()
    assert lin.weight.grad is not None
    lin.zero_grad(set_to_none=False)
    assert lin.weight.grad.tolist() == [[0.0, 0.0]] * 2
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None
    lin.requires_grad_(False)
    assert not any(p.requires_grad for p in lin.parameters())


def test_apply_visits_children_first():
    seen = []
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]
    net.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert net[0].weight.abs().sum().item() == 0


def test_deepcopy_and_pickle_of_modules():
    net = Net()
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert repr(clone) == repr(net)
        assert type(clone.fc1.weight) is nn.Parameter and clone.fc1.weight is not net.fc1.weight
        assert clone.state_dict()["fc1.weight"].tolist() == net.fc1.weight.tolist()
        x = rgrad.ones(3, 2)
        assert clone(x).tolist() == net(x).tolist()
    tied = nn.Sequential(nn.Linear(2, 2))
    tied.add_module("again", tied[0])
    clone = copy.deepcopy(tied)
    assert clone[0].weight is clone.again.weight  # sharing survives the copy


# ---- hooks -----------------------------------------------------------------------------------


def test_forward_hooks_modify_inputs_and_outputs():
    lin = nn.Linear(2, 2)
    calls = []

    def pre(module, args):
        calls.append(("pre", module is lin))
        return args[0] * 0  # a single value is wrapped into a tuple

    def post(module, args, output):
        calls.append(("post", args[0].abs().sum().item()))
        return output + 1

    h1 = lin.register_forward_pre_hook(pre)
    h2 = lin.register_forward_hook(post)
    out = lin(rgrad.ones(1, 2))
    assert calls == [("pre", True), ("post", 0.0)]
    assert out.tolist() == (lin.bias + 1).unsqueeze(0).tolist()
    h1.remove()
    h2.remove()
    h2.remove()  # removing twice is harmless
    assert lin(rgrad.zeros(1, 2)).tolist() == lin.bias.unsqueeze(0).tolist()
    assert len(calls) == 2


def test_hook_order_kwargs_and_context_manager():
    order = []

    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    m.register_forward_hook(lambda mod, a, o: order.append("second"))
    m.register_forward_hook(lambda mod, a, o: order.append("first"), prepend=True)

    def pre_kwargs(mod, args, kwargs):
        return args, {**kwargs, "factor": 3.0}

    with m.register_forward_pre_hook(pre_kwargs, with_kwargs=True):
        assert m(rgrad.ones(1), factor=2.0).item() == 3.0
    assert m(rgrad.ones(1), factor=2.0).item() == 2.0
    assert order == ["first", "second", "first", "second"]
    seen = {}
    m.register_forward_hook(lambda mod, a, kw, o: seen.update(kw), with_kwargs=True)
    m(rgrad.ones(1), factor=5.0)
    assert seen == {"factor": 5.0}
    bad = m.register_forward_pre_hook(lambda mod, a, kw: 3, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        m(rgrad.ones(1))
    bad.remove()


def test_always_call_hook_runs_when_forward_raises():
    lin = nn.Linear(2, 3)
    calls = []
    lin.register_forward_hook(lambda m, a, o: calls.append("always"), always_call=True)
    lin.register_forward_hook(lambda m, a, o: calls.append("normal"))
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        lin(rgrad.ones(4, 5))
    assert calls == ["always"]


# ---- containers ------------------------------------------------------------------------------


def test_sequential_indexing_and_editing():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c]
    assert seq[0] is a and seq[-1] is c
    sub = seq[1:]
    assert type(sub) is nn.Sequential and list(sub._modules) == ["1", "2"]
    assert list(seq[::2]) == [a, c]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    del seq[1]
    assert list(seq._modules) == ["0", "1"] and seq[1] is c
    seq.insert(1, nn.Sigmoid())
    seq.append(nn.Sigmoid())
    assert [type(m).__name__ for m in seq] == ["Linear", "Sigmoid", "Linear", "Sigmoid"]
    assert seq.pop(1).__class__ is nn.Sigmoid and len(seq) == 3
    both = nn.Sequential(a) + nn.Sequential(b)
    assert list(both) == [a, b]
    named = nn.Sequential(OrderedDict([("enc", a), ("act", b)]))
    assert list(named._modules) == ["enc", "act"] and named.enc is a
    x = rgrad.randn(4, 2)
    assert nn.Sequential(a, b, c)(x).tolist() == c(b(a(x))).tolist()


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    ml.append(nn.Sigmoid())
    ml.extend([nn.ReLU()])
    ml += [nn.Identity()]
    ml.insert(1, nn.ELU())
    assert [type(m).__name__ for m in ml] == ["ReLU", "ELU", "Tanh", "Sigmoid", "ReLU", "Identity"]
    assert type(ml[1:3]) is nn.ModuleList and len(ml[1:3]) == 2
    del ml[0:2]
    assert list(ml._modules) == ["0", "1", "2", "3"] and isinstance(ml[0], nn.Tanh)
    assert isinstance(ml.pop(-1), nn.Identity) and len(ml) == 3
    with pytest.raises(IndexError, match="index -5 is out of range"):
        ml[-5]
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        ml.extend(3)
    holder = nn.Module()
    holder.layers = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    assert len(list(holder.parameters())) == 6
    md = nn.ModuleDict({"a": nn.ReLU(), "b": nn.Linear(1, 2)})
    md["c"] = nn.Tanh()
    del md["a"]
    assert list(md) == ["b", "c"] and "b" in md and len(md) == 2
    assert list(md.keys()) == ["b", "c"] and isinstance(md.pop("c"), nn.Tanh)
    md.update([("d", nn.ReLU())])
    assert [n for n, _ in md.named_parameters()] == ["b.weight", "b.bias"]
    assert repr(md) == (
        "ModuleDict(\n  (b): Linear(in_features=1, out_features=2, bias=True)\n  (d): ReLU()\n)"
    )
    with pytest.raises(ValueError, match="element #0 has length 1; 2 is required"):
        md.update([("x",)])


# ---- the first seed's Example 2 --------------------------------------------------------------

EXAMPLE_2 = """\
import rgrad as torch
import rgrad.nn as nn

# Define a simple linear model
model = nn.Linear(1, 1)

# Input tensor
input_tensor = torch.tensor([[1.0]], requires_grad=True)

# Forward pass
output = model(input_tensor)

# Define a simple loss function
loss = (output - 2.0)**2

# Backward pass
loss.backward()

# Print gradients
print(f"Gradient of input_tensor: {input_tensor.grad}")
print(f"Gradient of model weight: {model.weight.grad}")
print(f"Gradient of model bias: {model.bias.grad}")
"""

NUMBER = r"(-?\d+\.\d{4})"


def test_seed_example_2_runs_as_a_user_would(tmp_path):
    script = tmp_path / "example_2.py"
    script.write_text(EXAMPLE_2 + "print(model.weight.item(), output.item())\n")
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 4
    # PyTorch prints these as 2-d, 2-d and 1-d tensors with four decimals.
    gx = re.fullmatch(rf"Gradient of input_tensor: tensor\(\[\[{NUMBER}\]\]\)", lines[0])
    gw = re.fullmatch(rf"Gradient of model weight: tensor\(\[\[{NUMBER}\]\]\)", lines[1])
    gb = re.fullmatch(rf"Gradient of model bias: tensor\(\[{NUMBER}\]\)", lines[2])
    assert gx and gw and gb, proc.stdout
    w, out = map(float, lines[3].split())
    # d/dx (w x + b - 2)^2 = 2 (out - 2) w; d/dw = 2 (out - 2) x with x = 1; d/db = 2 (out - 2).
    assert float(gx.group(1)) == pytest.approx(2 * (out - 2) * w, abs=1e-4)
    assert float(gw.group(1)) == pytest.approx(2 * (out - 2), abs=1e-4)
    assert gb.group(1) == gw.group(1)


def test_seed_example_2_values_in_process():
    env = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(EXAMPLE_2, env)
    model, out, x = env["model"], env["output"], env["input_tensor"]
    w, b = model.weight.item(), model.bias.item()
    assert out.item() == pytest.approx(w + b, rel=1e-6)
    assert x.grad.shape == (1, 1) and model.weight.grad.shape == (1, 1)
    assert model.bias.grad.shape == (1,)
    assert x.grad.item() == pytest.approx(2 * (out.item() - 2) * w, rel=1e-5)
    assert model.weight.grad.item() == pytest.approx(2 * (out.item() - 2), rel=1e-5)
    assert model.bias.grad.item() == pytest.approx(2 * (out.item() - 2), rel=1e-5)
    assert type(out.grad_fn).__name__ in ("AddmmBackward0", "AddBackward0")
    assert repr(model.weight).startswith("Parameter containing:\ntensor([[")
