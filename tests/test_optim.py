"""Optimizers and learning-rate schedulers: PyTorch's trajectories (tests/data/optim.json +
optim.npz), param groups, state dicts, zero_grad, reprs, schedulers' formulas."""

import copy
import inspect
import json
import math
import pathlib
import types
import warnings

import numpy as np
import pytest

import rgrad as torch
import rgrad.optim  # noqa: F401  (makes torch.optim available)
from rgrad.optim import lr_scheduler
from rgrad.optim.adagrad import _adagrad_update
from rgrad.optim.adam import _adam_update
from rgrad.optim.rmsprop import _rmsprop_update
from rgrad.optim.sgd import _sgd_update

DATA = pathlib.Path(__file__).parent / "data"
OPTIM = json.loads((DATA / "optim.json").read_text())
with np.load(DATA / "optim.npz") as _f:
    ARR = {k: _f[k] for k in _f.files}
STEPS = OPTIM["steps"]
OPTIMIZERS = {c["name"]: c for c in OPTIM["optimizers"]}
SCHEDULERS = {c["name"]: c for c in OPTIM["schedulers"]}

# `nn.Parameter` belongs to another module of the package; the optimizers take any leaf tensor,
# so the printing cases are evaluated with a stand-in that makes one.
_NN = types.SimpleNamespace(Parameter=lambda t: t.detach().requires_grad_(True))


def _leaf(array, dtype=np.float64):
    return torch.from_numpy(np.array(array, dtype=dtype)).requires_grad_(True)


def _problem(dtype=np.float64):
    x = torch.from_numpy(ARR["x"].astype(dtype))
    y = torch.from_numpy(ARR["y"].astype(dtype))
    return x, y, _leaf(ARR["w0"], dtype), _leaf(ARR["b0"], dtype)


def _loss(x, y, w, b):
    return eval(OPTIM["loss"], {"x": x, "y": y, "w": w, "b": b})


def _train(opt, x, y, w, b, steps):
    """``steps`` steps of zero_grad/backward/step; the parameters after each step."""
    ws, bs = [], []
    for _ in range(steps):
        opt.zero_grad()
        _loss(x, y, w, b).backward()
        opt.step()
        ws.append(w.detach().numpy().copy())
        bs.append(b.detach().numpy().copy())
    return ws, bs


def _make(expr, params):
    return eval(expr, {"torch": torch, "params": params})


# ------------------------------------------------------------------ reference trajectories


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_trajectory_float64(name):
    x, y, w, b = _problem()
    opt = _make(OPTIMIZERS[name]["expr"], [w, b])
    ws, bs = _train(opt, x, y, w, b, STEPS)
    for step in range(STEPS):
        np.testing.assert_allclose(ws[step], ARR[f"{name}/w"][step], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bs[step], ARR[f"{name}/b"][step], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_trajectory_float32(name):
    x, y, w, b = _problem(np.float32)
    opt = _make(OPTIMIZERS[name]["expr"], [w, b])
    ws, bs = _train(opt, x, y, w, b, STEPS)
    assert w.dtype == torch.float32
    for state in opt.state.values():
        for key, value in state.items():
            if key != "step" and isinstance(value, torch.Tensor):
                assert value.dtype == torch.float32
    for step in range(STEPS):
        np.testing.assert_allclose(ws[step], ARR[f"{name}/w"][step], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(bs[step], ARR[f"{name}/b"][step], rtol=1e-4, atol=1e-5)


def _run_scheduler(case, opt, sched, epochs):
    lrs = []
    for epoch in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if case["metrics"] is not None:
            sched.step(case["metrics"][epoch])
        else:
            sched.step()
    return lrs


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_trajectory(name):
    case = SCHEDULERS[name]
    p = torch.zeros(3, requires_grad=True)
    opt = eval(case["base"], {"torch": torch, "p": p})
    sched = eval(case["expr"], {"torch": torch, "opt": opt})
    lrs = _run_scheduler(case, opt, sched, STEPS)
    np.testing.assert_allclose(lrs, ARR[f"{name}/lr"], rtol=1e-12, atol=1e-15)
    assert sched.get_last_lr() == [opt.param_groups[0]["lr"]]


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_state_dict_resume(name):
    """Stop after 5 epochs, save optimizer and scheduler, rebuild both, go on: same lrs."""
    case = SCHEDULERS[name]
    p = torch.zeros(3, requires_grad=True)
    opt = eval(case["base"], {"torch": torch, "p": p})
    sched = eval(case["expr"], {"torch": torch, "opt": opt})
    first = _run_scheduler(case, opt, sched, 5)
    saved_opt = copy.deepcopy(opt.state_dict())
    saved_sched = copy.deepcopy(sched.state_dict())

    p2 = torch.zeros(3, requires_grad=True)
    opt2 = eval(case["base"], {"torch": torch, "p": p2})
    sched2 = eval(case["expr"], {"torch": torch, "opt": opt2})
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    rest = []
    for epoch in range(5, STEPS):
        rest.append(opt2.param_groups[0]["lr"])
        opt2.step()
        if case["metrics"] is not None:
            sched2.step(case["metrics"][epoch])
        else:
            sched2.step()
    np.testing.assert_allclose(first + rest, ARR[f"{name}/lr"], rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------------ reprs


def _printing_cases():
    cases = json.loads((DATA / "printing.json").read_text())["cases"]
    return [c for c in cases if c["expr"].startswith("torch.optim.")]


@pytest.mark.parametrize("case", _printing_cases(), ids=lambda c: c["expr"].split("(")[0])
def test_repr_matches_printing_json(case):
    env = {"torch": torch, "nn": _NN}
    exec(case["setup"], env)
    assert str(eval(case["expr"], env)) == case["str"]


def test_printing_json_has_optimizer_cases():
    assert {c["expr"].split("(")[0] for c in _printing_cases()} >= {
        "torch.optim.SGD",
        "torch.optim.Adam",
    }


def _group_lines(opt):
    return str(opt).splitlines()[2:-1]


def test_repr_other_optimizers_and_groups():
    p = torch.zeros(2, requires_grad=True)
    q = torch.zeros(2, requires_grad=True)
    assert _group_lines(torch.optim.RMSprop([p])) == [
        "    alpha: 0.99",
        "    capturable: False",
        "    centered: False",
        "    differentiable: False",
        "    eps: 1e-08",
        "    foreach: None",
        "    lr: 0.01",
        "    maximize: False",
        "    momentum: 0",
        "    weight_decay: 0",
    ]
    assert _group_lines(torch.optim.Adagrad([p])) == [
        "    differentiable: False",
        "    eps: 1e-10",
        "    foreach: None",
        "    fused: None",
        "    initial_accumulator_value: 0",
        "    lr: 0.01",
        "    lr_decay: 0",
        "    maximize: False",
        "    weight_decay: 0",
    ]
    adamw = str(torch.optim.AdamW([p], lr=0.01))
    assert adamw.startswith("AdamW (\nParameter Group 0\n")
    assert "    decoupled_weight_decay: True\n" in adamw
    assert "    weight_decay: 0.01\n" in adamw

    two = str(torch.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.5}], lr=0.1))
    assert two.count("Parameter Group") == 2
    assert "\nParameter Group 1\n" in two
    assert two.endswith("    weight_decay: 0\n)")
    assert "    lr: 0.5\n" in two.split("Parameter Group 1")[1]


# ----------------------------------------------------------------------- param groups


def test_param_groups_with_different_lrs():
    x, y, w, b = _problem()
    w_ref = w.detach().clone()
    b_ref = b.detach().clone()
    opt = torch.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.0)
    assert opt.param_groups[0]["lr"] == 0.1
    assert opt.param_groups[1]["lr"] == 0.01
    assert opt.param_groups[1]["momentum"] == 0.0
    opt.zero_grad()
    _loss(x, y, w, b).backward()
    gw = w.grad.detach().clone()
    gb = b.grad.detach().clone()
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), (w_ref - 0.1 * gw).numpy(), rtol=1e-14)
    np.testing.assert_allclose(b.detach().numpy(), (b_ref - 0.01 * gb).numpy(), rtol=1e-14)


def test_param_groups_match_separate_optimizers():
    """Adam with two groups (different lr and betas) == two Adams, one per tensor."""
    x, y, w, b = _problem()
    groups = [{"params": [w], "lr": 0.02}, {"params": [b], "betas": (0.5, 0.9)}]
    opt = torch.optim.Adam(groups, lr=0.01)
    ws, bs = _train(opt, x, y, w, b, 5)

    x2, y2, w2, b2 = _problem()
    opt_w = torch.optim.Adam([w2], lr=0.02)
    opt_b = torch.optim.Adam([b2], lr=0.01, betas=(0.5, 0.9))
    for step in range(5):
        opt_w.zero_grad()
        opt_b.zero_grad()
        _loss(x2, y2, w2, b2).backward()
        opt_w.step()
        opt_b.step()
        np.testing.assert_allclose(ws[step], w2.detach().numpy(), rtol=1e-14)
        np.testing.assert_allclose(bs[step], b2.detach().numpy(), rtol=1e-14)


def test_add_param_group():
    x, y, w, b = _problem()
    opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.05})  # a single tensor is accepted
    assert len(opt.param_groups) == 2
    group = opt.param_groups[1]
    assert group["params"][0] is b
    assert group["lr"] == 0.05
    assert group["momentum"] == 0.9  # filled from the defaults
    assert group["nesterov"] is False
    b_before = b.detach().clone()
    opt.zero_grad()
    _loss(x, y, w, b).backward()
    gb = b.grad.detach().clone()
    opt.step()
    np.testing.assert_allclose(b.detach().numpy(), (b_before - 0.05 * gb).numpy(), rtol=1e-14)
    assert "momentum_buffer" in opt.state[b]


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: torch.optim.SGD(ps, lr=0.1),
        lambda ps: torch.optim.Adam(ps),
        lambda ps: torch.optim.RMSprop(ps),
        lambda ps: torch.optim.Adagrad(ps),
    ],
)
def test_add_param_group_then_step(make):
    x, y, w, b = _problem()
    opt = make([w])
    opt.add_param_group({"params": [b]})
    opt.zero_grad()
    _loss(x, y, w, b).backward()
    b_before = b.detach().clone()
    opt.step()
    assert not np.allclose(b.detach().numpy(), b_before.numpy())


def test_add_param_group_errors():
    w = torch.zeros(2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        torch.optim.SGD([{"params": [w, b]}, {"params": [b]}], lr=0.1)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        torch.optim.SGD([w, w], lr=0.1)
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([b])
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {b}})
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        opt.add_param_group({"params": [1.0]})
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        opt.add_param_group({"params": [b * 2]})
    assert len(opt.param_groups) == 1


def test_constructor_errors():
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        torch.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        torch.optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        torch.optim.SGD([w], lr=-1)
    with pytest.raises(
        ValueError, match="Nesterov momentum requires a momentum and zero dampening"
    ):
        torch.optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        torch.optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Invalid epsilon value"):
        torch.optim.RMSprop([w], eps=-1.0)
    with pytest.raises(ValueError, match="Invalid lr_decay value"):
        torch.optim.Adagrad([w], lr_decay=-1.0)


def test_params_from_generator_and_named_tuples():
    w = torch.zeros(2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD((t for t in [w, b]), lr=0.1)
    assert opt.param_groups[0]["params"] == [w, b] or all(
        p is q for p, q in zip(opt.param_groups[0]["params"], [w, b])
    )
    named = torch.optim.SGD([("weight", w), ("bias", b)], lr=0.1)
    assert named.param_groups[0]["param_names"] == ["weight", "bias"]
    assert named.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]


# ------------------------------------------------------------------------- zero_grad


def test_zero_grad_set_to_none():
    x, y, w, b = _problem()
    opt = torch.optim.SGD([w, b], lr=0.1)
    _loss(x, y, w, b).backward()
    assert w.grad is not None
    opt.zero_grad()  # set_to_none=True is the default
    assert w.grad is None and b.grad is None
    _loss(x, y, w, b).backward()
    opt.zero_grad(set_to_none=True)
    assert w.grad is None and b.grad is None


def test_zero_grad_fill_zeros():
    x, y, w, b = _problem()
    opt = torch.optim.SGD([w, b], lr=0.1)
    _loss(x, y, w, b).backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    # Zeroed in place: the handle taken before sees the zeros too.
    np.testing.assert_array_equal(grad.numpy(), np.zeros((4, 3)))
    assert not w.grad.requires_grad
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((4, 3)))
    np.testing.assert_array_equal(b.grad.numpy(), np.zeros(3))
    # Gradients accumulate into the zeroed tensors and match a fresh backward.
    _loss(x, y, w, b).backward()
    accumulated = w.grad.detach().clone()
    opt.zero_grad()
    _loss(x, y, w, b).backward()
    np.testing.assert_allclose(accumulated.numpy(), w.grad.numpy(), rtol=1e-15)


def test_params_without_grad_are_skipped():
    x, y, w, b = _problem()
    frozen = torch.ones(3, requires_grad=True)
    opt = torch.optim.Adam([w, b, frozen], lr=0.1)
    opt.zero_grad()
    _loss(x, y, w, b).backward()
    opt.step()
    np.testing.assert_array_equal(frozen.detach().numpy(), np.ones(3))
    assert frozen not in opt.state
    assert len(opt.state) == 2


# ------------------------------------------------------------------------- state dicts


def test_state_dict_format():
    x, y, w, b = _problem()
    extra = torch.zeros(2, requires_grad=True)
    opt = torch.optim.Adam([{"params": [w]}, {"params": [extra, b], "lr": 0.5}], lr=0.01)
    opt.zero_grad()
    _loss(x, y, w, b).backward()
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1, 2]]
    assert sd["param_groups"][1]["lr"] == 0.5
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert "params" in sd["param_groups"][0] and "initial_lr" not in sd["param_groups"][0]
    assert set(sd["state"]) == {0, 2}  # `extra` has no grad, hence no state
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    step = sd["state"][0]["step"]
    assert isinstance(step, torch.Tensor) and step.dim() == 0 and step.item() == 1.0
    assert step.dtype == torch.float32
    assert sd["state"][2]["exp_avg"].shape == b.shape

    sgd = torch.optim.SGD([w, b], lr=0.1)
    sgd.step()
    assert sgd.state_dict()["state"] == {}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_dict_round_trip(name):
    """Save after 5 steps, load into a fresh optimizer over fresh tensors, continue: the
    trajectory is the uninterrupted reference one."""
    expr = OPTIMIZERS[name]["expr"]
    x, y, w, b = _problem()
    opt = _make(expr, [w, b])
    _train(opt, x, y, w, b, 5)
    saved = copy.deepcopy(opt.state_dict())

    w2 = w.detach().clone().requires_grad_(True)
    b2 = b.detach().clone().requires_grad_(True)
    opt2 = _make(expr, [w2, b2])
    opt2.load_state_dict(saved)
    assert opt2.state_dict()["param_groups"] == saved["param_groups"]
    ws, bs = _train(opt2, x, y, w2, b2, STEPS - 5)
    for i, step in enumerate(range(5, STEPS)):
        np.testing.assert_allclose(ws[i], ARR[f"{name}/w"][step], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bs[i], ARR[f"{name}/b"][step], rtol=1e-10, atol=1e-12)


def test_load_state_dict_restores_hyperparameters_and_casts():
    w = torch.zeros(3, requires_grad=True)  # float32
    opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = torch.ones(3)
    opt.step()
    sd = copy.deepcopy(opt.state_dict())
    sd["param_groups"][0]["lr"] = 0.25
    sd["state"][0]["momentum_buffer"] = sd["state"][0]["momentum_buffer"].double()

    w2 = torch.zeros(3, requires_grad=True)
    opt2 = torch.optim.SGD([w2], lr=0.1, momentum=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.25
    assert opt2.param_groups[0]["momentum"] == 0.9
    assert opt2.param_groups[0]["params"][0] is w2
    assert opt2.state[w2]["momentum_buffer"].dtype == torch.float32  # cast to the param's


def test_load_state_dict_errors():
    w = torch.zeros(3, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    sd = torch.optim.SGD([w, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        torch.optim.SGD([{"params": [w]}, {"params": [b]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        torch.optim.SGD([w], lr=0.1).load_state_dict(sd)


def test_deepcopy_optimizer():
    x, y, w, b = _problem()
    opt = torch.optim.Adam([w, b], lr=0.01)
    _train(opt, x, y, w, b, 2)
    clone = copy.deepcopy(opt)
    assert clone.param_groups[0]["lr"] == 0.01
    assert len(clone.state) == 2
    assert str(clone) == str(opt)


# ------------------------------------------------------------------------ step details


def test_step_with_closure():
    x, y, w, b = _problem()
    opt = torch.optim.SGD([w, b], lr=0.1)
    seen = []

    def closure():
        opt.zero_grad()
        loss = _loss(x, y, w, b)
        seen.append(torch.is_grad_enabled())
        loss.backward()
        return loss

    with torch.no_grad():
        loss = opt.step(closure)
    assert seen == [True]
    assert loss.item() == pytest.approx(_loss(*_problem()).item())
    np.testing.assert_allclose(w.detach().numpy(), ARR["sgd/w"][0], rtol=1e-10)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_closure_step_matches_reference(name):
    x, y, w, b = _problem()
    opt = _make(OPTIMIZERS[name]["expr"], [w, b])

    def closure():
        opt.zero_grad()
        loss = _loss(x, y, w, b)
        loss.backward()
        return loss

    for step in range(3):
        assert isinstance(opt.step(closure), torch.Tensor)
        np.testing.assert_allclose(
            w.detach().numpy(), ARR[f"{name}/w"][step], rtol=1e-10, atol=1e-12
        )


def test_step_runs_without_grad_recording():
    x, y, w, b = _problem()
    opt = torch.optim.Adam([w, b], lr=0.1)
    _train(opt, x, y, w, b, 1)
    assert w.grad_fn is None and w.is_leaf
    for state in opt.state.values():
        assert state["exp_avg"].grad_fn is None
        assert not state["exp_avg"].requires_grad


@pytest.mark.parametrize(
    "expr",
    [
        "torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=0.1, maximize={})",
        "torch.optim.Adam(params, lr=0.01, weight_decay=0.1, maximize={})",
        "torch.optim.AdamW(params, lr=0.01, maximize={})",
        "torch.optim.RMSprop(params, lr=0.01, momentum=0.5, centered=True, maximize={})",
        "torch.optim.Adagrad(params, lr=0.1, weight_decay=0.1, maximize={})",
    ],
)
def test_maximize_equals_minimizing_the_negation(expr):
    x, y, w, b = _problem()
    opt = _make(expr.format(False), [w, b])
    ws, _ = _train(opt, x, y, w, b, 4)

    x2, y2, w2, b2 = _problem()
    opt2 = _make(expr.format(True), [w2, b2])
    for step in range(4):
        opt2.zero_grad()
        (-_loss(x2, y2, w2, b2)).backward()
        opt2.step()
        np.testing.assert_allclose(w2.detach().numpy(), ws[step], rtol=1e-12, atol=1e-14)


def test_adagrad_lr_decay_and_initial_accumulator():
    w = _leaf([1.0, -2.0])
    opt = torch.optim.Adagrad([w], lr=0.5, lr_decay=0.1, initial_accumulator_value=0.2, eps=1e-10)
    value = np.array([1.0, -2.0])
    acc = np.full(2, 0.2)
    for step in range(1, 4):
        w.grad = torch.from_numpy(2 * value)
        opt.step()
        grad = 2 * value
        acc = acc + grad * grad
        clr = 0.5 / (1 + (step - 1) * 0.1)
        value = value - clr * grad / (np.sqrt(acc) + 1e-10)
        np.testing.assert_allclose(w.detach().numpy(), value, rtol=1e-14)


def test_step_hooks():
    w = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    calls = []
    pre = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o is opt)))
    post = opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", o is opt)))
    opt.step()
    assert calls == [("pre", True), ("post", True)]
    pre.remove()
    post.remove()
    opt.step()
    assert len(calls) == 2


# ------------------------------------------------ the private update functions (Rust swap)

UPDATE_SIGNATURES = {
    _sgd_update: [
        "params",
        "grads",
        "momentum_buffers",
        "*",
        "lr",
        "momentum",
        "dampening",
        "weight_decay",
        "nesterov",
        "maximize",
    ],
    _adam_update: [
        "params",
        "grads",
        "exp_avgs",
        "exp_avg_sqs",
        "max_exp_avg_sqs",
        "state_steps",
        "*",
        "amsgrad",
        "beta1",
        "beta2",
        "lr",
        "weight_decay",
        "eps",
        "maximize",
        "decoupled_weight_decay",
    ],
    _rmsprop_update: [
        "params",
        "grads",
        "square_avgs",
        "grad_avgs",
        "momentum_buffers",
        "state_steps",
        "*",
        "lr",
        "alpha",
        "eps",
        "weight_decay",
        "momentum",
        "centered",
        "maximize",
    ],
    _adagrad_update: [
        "params",
        "grads",
        "state_sums",
        "state_steps",
        "*",
        "lr",
        "weight_decay",
        "lr_decay",
        "eps",
        "maximize",
    ],
}


@pytest.mark.parametrize("func", list(UPDATE_SIGNATURES), ids=lambda f: f.__name__)
def test_update_function_signatures(func):
    """The contract a single Rust call per param group has to keep."""
    names = []
    for param in inspect.signature(func).parameters.values():
        if param.kind is inspect.Parameter.KEYWORD_ONLY and "*" not in names:
            names.append("*")
        names.append(param.name)
    assert names == UPDATE_SIGNATURES[func]


def test_sgd_update_fills_momentum_buffers_in_place():
    p = _leaf([1.0, 2.0])
    g = torch.tensor([0.5, -1.0], dtype=torch.float64)
    bufs = [None]
    with torch.no_grad():
        _sgd_update(
            [p],
            [g],
            bufs,
            lr=0.1,
            momentum=0.9,
            dampening=0.0,
            weight_decay=0.0,
            nesterov=False,
            maximize=False,
        )
    assert isinstance(bufs[0], torch.Tensor) and bufs[0] is not g
    np.testing.assert_allclose(bufs[0].numpy(), [0.5, -1.0])
    np.testing.assert_allclose(p.detach().numpy(), [0.95, 2.1])
    np.testing.assert_allclose(g.numpy(), [0.5, -1.0])  # grads untouched


def test_adam_update_increments_steps():
    p = _leaf([1.0])
    steps = [torch.tensor(0.0)]
    m, v = torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    with torch.no_grad():
        for _ in range(3):
            _adam_update(
                [p],
                [torch.tensor([1.0], dtype=torch.float64)],
                [m],
                [v],
                [],
                steps,
                amsgrad=False,
                beta1=0.9,
                beta2=0.999,
                lr=0.1,
                weight_decay=0.0,
                eps=1e-8,
                maximize=False,
                decoupled_weight_decay=False,
            )
    assert steps[0].item() == 3.0
    # A constant gradient moves Adam by ~lr per step.
    np.testing.assert_allclose(p.detach().numpy(), [0.7], rtol=1e-6)


# -------------------------------------------------------------------------- schedulers


def _sgd(lr=0.1, momentum=0.9):
    return torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=lr, momentum=momentum)


def _lrs(opt, sched, epochs):
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_scheduler_sets_initial_lr_and_last_epoch():
    opt = _sgd()
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    assert opt.param_groups[0]["initial_lr"] == 0.1
    assert sched.last_epoch == 0
    assert sched.base_lrs == [0.1]
    assert sched.get_last_lr() == [0.1]
    _lrs(opt, sched, 3)
    assert sched.last_epoch == 3
    assert sched.get_last_lr() == [0.05]
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 3


def test_scheduler_resume_requires_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(_sgd(), step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)


def test_scheduler_warns_when_stepped_before_optimizer():
    opt = _sgd()
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2 = _sgd()
    sched2 = lr_scheduler.ExponentialLR(opt2, gamma=0.9)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_get_lr_outside_step_warns():
    sched = lr_scheduler.StepLR(_sgd(), step_size=2)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_multiple_groups_and_lambda_per_group():
    p, q = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([{"params": [p]}, {"params": [q], "lr": 1.0}], lr=0.1)
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 0.5**e, lambda e: 1.0 / (e + 1)])
    for epoch in range(4):
        assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**epoch, rel=1e-15)
        assert opt.param_groups[1]["lr"] == pytest.approx(1.0 / (epoch + 1), rel=1e-15)
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])


def test_cosine_annealing_recursive_equals_closed_form():
    opt = _sgd(lr=0.2)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.01)
    lrs = _lrs(opt, sched, 30)  # past T_max: the cosine goes back up
    closed = [0.01 + (0.2 - 0.01) * (1 + math.cos(math.pi * e / 7)) / 2 for e in range(30)]
    np.testing.assert_allclose(lrs, closed, rtol=1e-10, atol=1e-15)


def test_step_and_multistep_closed_forms():
    opt = _sgd()
    lrs = _lrs(opt, lr_scheduler.MultiStepLR(opt, milestones=[3, 3, 6], gamma=0.5), 9)
    np.testing.assert_allclose(lrs, [0.1] * 3 + [0.025] * 3 + [0.0125] * 3, rtol=1e-15)
    opt = _sgd()
    lrs = _lrs(opt, lr_scheduler.StepLR(opt, step_size=4), 9)
    np.testing.assert_allclose(lrs, [0.1] * 4 + [0.01] * 4 + [0.001], rtol=1e-12)


def _one_cycle_reference(step, total, max_lr, div, final_div, pct, strategy, three_phase):
    initial = max_lr / div
    minimum = initial / final_div

    def anneal(start, end, frac):
        if strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * frac) + 1)
        return (end - start) * frac + start

    up_end = pct * total - 1
    if three_phase:
        down_end = 2 * pct * total - 2
        if step <= up_end:
            return anneal(initial, max_lr, step / up_end)
        if step <= down_end:
            return anneal(max_lr, initial, (step - up_end) / (down_end - up_end))
        return anneal(initial, minimum, (step - down_end) / (total - 1 - down_end))
    if step <= up_end:
        return anneal(initial, max_lr, step / up_end)
    return anneal(max_lr, minimum, (step - up_end) / (total - 1 - up_end))


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle(strategy, three_phase):
    total = 20
    opt = _sgd()
    sched = lr_scheduler.OneCycleLR(
        opt,
        max_lr=1.0,
        total_steps=total,
        pct_start=0.25,
        anneal_strategy=strategy,
        three_phase=three_phase,
        div_factor=10.0,
        final_div_factor=100.0,
    )
    lrs, momenta = [], []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        momenta.append(opt.param_groups[0]["momentum"])
        opt.step()
        if len(lrs) < total:
            sched.step()
    expected = [
        _one_cycle_reference(s, total, 1.0, 10.0, 100.0, 0.25, strategy, three_phase)
        for s in range(total)
    ]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert max(lrs) == pytest.approx(1.0)
    assert lrs[0] == pytest.approx(0.1)
    assert lrs[-1] == pytest.approx(0.001)
    # Momentum runs inversely: 0.95 at the start, 0.85 at the peak.
    assert momenta[0] == pytest.approx(0.95)
    assert momenta[int(np.argmax(lrs))] == pytest.approx(0.85)
    sched.step()  # the last step of the cycle
    with pytest.raises(ValueError, match="Tried to step 21 times"):
        sched.step()


def test_one_cycle_cycles_adam_beta1_and_validates():
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.1, betas=(0.9, 0.99))
    lr_scheduler.OneCycleLR(opt, max_lr=0.5, epochs=2, steps_per_epoch=5)
    assert opt.param_groups[0]["betas"] == (0.95, 0.99)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.02)
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.5)
    with pytest.raises(ValueError, match="momentum"):
        lr_scheduler.OneCycleLR(torch.optim.Adagrad([p]), max_lr=0.5, total_steps=5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=5, anneal_strategy="exp")


def test_reduce_lr_on_plateau_options():
    opt = _sgd(lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(
        opt, mode="max", factor=0.5, patience=0, threshold=0.1, threshold_mode="abs", cooldown=1
    )
    lrs = []
    for metric in [1.0, 1.05, 1.2, 1.2, 1.2, 1.2]:
        opt.step()
        sched.step(metric)
        lrs.append(opt.param_groups[0]["lr"])
    # 1.05 is not better than 1.0 + 0.1: reduce; then one epoch of cooldown; 1.2 improves.
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    assert sched.get_last_lr() == [0.125]

    opt = _sgd(lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=0, min_lr=0.05)
    for metric in [1.0, 1.0, 1.0, 1.0]:
        sched.step(torch.tensor(metric))
    assert opt.param_groups[0]["lr"] == 0.05  # clamped at min_lr

    opt = _sgd(lr=1e-8)
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    sched.step(1.0)
    sched.step(1.0)
    assert opt.param_groups[0]["lr"] == 1e-8  # the reduction is below eps: skipped

    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        lr_scheduler.ReduceLROnPlateau(_sgd(), factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown!"):
        lr_scheduler.ReduceLROnPlateau(_sgd(), mode="avg")


def test_other_chainable_schedulers():
    opt = _sgd(lr=1.0)
    lrs = _lrs(opt, lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3), 6)
    np.testing.assert_allclose(lrs, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0], rtol=1e-12)

    opt = _sgd(lr=1.0)
    lrs = _lrs(opt, lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2), 4)
    np.testing.assert_allclose(lrs, [0.5, 0.5, 1.0, 1.0], rtol=1e-12)

    opt = _sgd(lr=1.0)
    lrs = _lrs(opt, lr_scheduler.MultiplicativeLR(opt, lambda e: 0.5), 4)
    np.testing.assert_allclose(lrs, [1.0, 0.5, 0.25, 0.125], rtol=1e-12)

    opt = _sgd(lr=1.0)
    lrs = _lrs(opt, lr_scheduler.PolynomialLR(opt, total_iters=4, power=2.0), 6)
    np.testing.assert_allclose(lrs, [(1 - min(e, 4) / 4) ** 2 for e in range(6)], atol=1e-15)

    opt = _sgd(lr=1.0)
    warm = lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
    decay = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    lrs = _lrs(opt, lr_scheduler.SequentialLR(opt, [warm, decay], milestones=[2]), 5)
    np.testing.assert_allclose(lrs, [0.5, 0.75, 1.0, 0.5, 0.25], rtol=1e-12)

    opt = _sgd(lr=1.0)
    chained = lr_scheduler.ChainedScheduler(
        [
            lr_scheduler.ConstantLR(opt, factor=0.1, total_iters=2),
            lr_scheduler.ExponentialLR(opt, 0.9),
        ]
    )
    lrs = _lrs(opt, chained, 4)
    np.testing.assert_allclose(lrs, [0.1, 0.09, 0.81, 0.729], rtol=1e-12)

    opt = _sgd(lr=1.0)
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.0)
    lrs = _lrs(opt, sched, 10)
    t_cur = [0, 1, 2, 0, 1, 2, 3, 4, 5, 0]
    t_i = [3, 3, 3, 6, 6, 6, 6, 6, 6, 12]
    expected = [(1 + math.cos(math.pi * c / i)) / 2 for c, i in zip(t_cur, t_i)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)


def test_lambda_lr_state_dict_skips_functions():
    class Factor:
        def __init__(self):
            self.scale = 0.5

        def __call__(self, epoch):
            return self.scale**epoch

    opt = _sgd()
    factor = Factor()
    sched = lr_scheduler.LambdaLR(opt, factor)
    factor.scale = 0.25
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"scale": 0.25}]
    fresh = Factor()
    sched2 = lr_scheduler.LambdaLR(_sgd(), fresh)
    sched2.load_state_dict(sd)
    assert fresh.scale == 0.25
    assert lr_scheduler.LambdaLR(_sgd(), lambda e: 1.0).state_dict()["lr_lambdas"] == [None]
