"""The optimizers added after the first five: NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD.

Trajectories against numbers computed with PyTorch 2.15 (CPU, float64) and hard-coded in
``optim_extra_reference.py`` (PyTorch is not needed to run these tests), option combinations,
state dict round trips, defaults as shown by ``repr``, state entries and argument errors.
"""

import copy

import numpy as np
import pytest
from optim_extra_reference import NADAM_RESUMED, REFERENCE

import rgrad as torch
import rgrad.optim  # noqa: F401  (makes torch.optim available)

X = [[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]]
Y = [[1.0, 0.0], [-0.5, 2.0], [0.25, -1.0]]
W0 = [[0.3, -0.2], [0.1, 0.4]]
B0 = [0.05, -0.1]


def _problem(dtype=torch.float64):
    x = torch.tensor(X, dtype=dtype)
    y = torch.tensor(Y, dtype=dtype)
    w = torch.tensor(W0, dtype=dtype).requires_grad_(True)
    b = torch.tensor(B0, dtype=dtype).requires_grad_(True)
    return x, y, w, b


def _loss(x, y, w, b):
    return ((x @ w + b - y) ** 2).mean() + 0.05 * w.abs().sum()


def _make(expr, params):
    return eval(expr, {"torch": torch, "params": params})


def _flat(w, b):
    return w.detach().reshape(-1).tolist() + b.detach().tolist()


def _train(opt, x, y, w, b, steps, sign=1.0):
    """``steps`` steps of zero_grad/backward/step; ``[w.flatten(), b]`` after each."""
    out = []
    for _ in range(steps):
        opt.zero_grad()
        (sign * _loss(x, y, w, b)).backward()
        opt.step()
        out.append(_flat(w, b))
    return np.array(out)


def _cases():
    return sorted(REFERENCE)


# ------------------------------------------------------------------ reference trajectories


@pytest.mark.parametrize("name", _cases())
def test_trajectory_float64(name):
    expr, expected = REFERENCE[name]
    x, y, w, b = _problem()
    got = _train(_make(expr, [w, b]), x, y, w, b, len(expected))
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", _cases())
def test_trajectory_float32(name):
    expr, expected = REFERENCE[name]
    x, y, w, b = _problem(torch.float32)
    opt = _make(expr, [w, b])
    got = _train(opt, x, y, w, b, len(expected))
    for state in opt.state.values():
        for key, value in state.items():
            if value.dim() > 0:
                assert value.dtype == torch.float32, key
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", _cases())
def test_state_dict_round_trip(name):
    """Save after 4 steps, load into a fresh optimizer over fresh tensors, go on: PyTorch's
    trajectory. (NAdam's resumed run is PyTorch's resumed run, see NADAM_RESUMED.)"""
    expr, expected = REFERENCE[name]
    x, y, w, b = _problem()
    opt = _make(expr, [w, b])
    _train(opt, x, y, w, b, 4)
    saved = copy.deepcopy(opt.state_dict())

    w2 = w.detach().clone().requires_grad_(True)
    b2 = b.detach().clone().requires_grad_(True)
    opt2 = _make(expr, [w2, b2])
    opt2.load_state_dict(saved)
    assert opt2.state_dict()["param_groups"] == saved["param_groups"]
    assert set(opt2.state[w2]) == set(saved["state"][0])
    got = _train(opt2, x, y, w2, b2, len(expected) - 4)
    if name == "nadam":
        np.testing.assert_allclose(got, np.array(NADAM_RESUMED), rtol=1e-12, atol=1e-12)
    # PyTorch's NAdam keeps mu_product in float32 until a load casts it to float64.
    tol = 1e-10 if name.startswith("nadam") else 1e-12
    np.testing.assert_allclose(got, np.array(expected[4:]), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", _cases())
def test_closure_step(name):
    expr, expected = REFERENCE[name]
    x, y, w, b = _problem()
    opt = _make(expr, [w, b])

    def closure():
        opt.zero_grad()
        loss = _loss(x, y, w, b)
        loss.backward()
        return loss

    for step in range(3):
        assert isinstance(opt.step(closure), torch.Tensor)
        np.testing.assert_allclose(_flat(w, b), expected[step], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "expr",
    [
        "torch.optim.NAdam(params, lr=0.05, weight_decay=0.1, maximize={})",
        "torch.optim.NAdam(params, lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, "
        "maximize={})",
        "torch.optim.RAdam(params, lr=0.05, weight_decay=0.1, maximize={})",
        "torch.optim.Adamax(params, lr=0.05, weight_decay=0.1, maximize={})",
        "torch.optim.Adadelta(params, weight_decay=0.1, maximize={})",
        "torch.optim.Rprop(params, lr=0.05, maximize={})",
        "torch.optim.ASGD(params, lr=0.05, t0=1, weight_decay=0.1, maximize={})",
    ],
)
def test_maximize_equals_minimizing_the_negation(expr):
    x, y, w, b = _problem()
    plain = _train(_make(expr.format(False), [w, b]), x, y, w, b, 8)
    x, y, w, b = _problem()
    maxed = _train(_make(expr.format(True), [w, b]), x, y, w, b, 8, sign=-1.0)
    np.testing.assert_allclose(maxed, plain, rtol=1e-14, atol=1e-15)


def test_param_groups_match_separate_optimizers():
    x, y, w, b = _problem()
    opt = torch.optim.NAdam([{"params": [w]}, {"params": [b], "lr": 0.01}], lr=0.05)
    together = _train(opt, x, y, w, b, 5)
    x, y, w, b = _problem()
    first = torch.optim.NAdam([w], lr=0.05)
    second = torch.optim.NAdam([b], lr=0.01)
    apart = []
    for _ in range(5):
        first.zero_grad()
        second.zero_grad()
        _loss(x, y, w, b).backward()
        first.step()
        second.step()
        apart.append(_flat(w, b))
    np.testing.assert_array_equal(together, np.array(apart))


def test_params_without_grad_are_skipped():
    x, y, w, b = _problem()
    frozen = torch.ones(3, dtype=torch.float64, requires_grad=True)
    for cls in (
        torch.optim.NAdam,
        torch.optim.RAdam,
        torch.optim.Adamax,
        torch.optim.Adadelta,
        torch.optim.Rprop,
        torch.optim.ASGD,
    ):
        opt = cls([w, frozen, b])
        _train(opt, x, y, w, b, 1)
        assert frozen not in opt.state and len(opt.state) == 2
        np.testing.assert_array_equal(frozen.detach().numpy(), np.ones(3))


def test_lr_as_a_tensor():
    x, y, w, b = _problem()
    expr, expected = REFERENCE["adamax"]
    opt = torch.optim.Adamax([w, b], lr=torch.tensor(0.05, dtype=torch.float64))
    got = _train(opt, x, y, w, b, 3)
    np.testing.assert_allclose(got, np.array(expected[:3]), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ defaults, state, reprs


def _group_lines(opt):
    return str(opt).splitlines()[2:-1]


# As printed by PyTorch 2.15.
REPRS = {
    "NAdam": [
        "betas: (0.9, 0.999)",
        "capturable: False",
        "decoupled_weight_decay: False",
        "differentiable: False",
        "eps: 1e-08",
        "foreach: None",
        "lr: 0.002",
        "maximize: False",
        "momentum_decay: 0.004",
        "weight_decay: 0",
    ],
    "RAdam": [
        "betas: (0.9, 0.999)",
        "capturable: False",
        "decoupled_weight_decay: False",
        "differentiable: False",
        "eps: 1e-08",
        "foreach: None",
        "lr: 0.001",
        "maximize: False",
        "weight_decay: 0",
    ],
    "Adamax": [
        "betas: (0.9, 0.999)",
        "capturable: False",
        "differentiable: False",
        "eps: 1e-08",
        "foreach: None",
        "lr: 0.002",
        "maximize: False",
        "weight_decay: 0",
    ],
    "Adadelta": [
        "capturable: False",
        "differentiable: False",
        "eps: 1e-06",
        "foreach: None",
        "lr: 1.0",
        "maximize: False",
        "rho: 0.9",
        "weight_decay: 0",
    ],
    "Rprop": [
        "capturable: False",
        "differentiable: False",
        "etas: (0.5, 1.2)",
        "foreach: None",
        "lr: 0.01",
        "maximize: False",
        "step_sizes: (1e-06, 50)",
    ],
    "ASGD": [
        "alpha: 0.75",
        "capturable: False",
        "differentiable: False",
        "foreach: None",
        "lambd: 0.0001",
        "lr: 0.01",
        "maximize: False",
        "t0: 1000000.0",
        "weight_decay: 0",
    ],
}

# PyTorch's state entries; the 0-dim ones are float32 tensors.
STATE_KEYS = {
    "NAdam": ["step", "mu_product", "exp_avg", "exp_avg_sq"],
    "RAdam": ["step", "exp_avg", "exp_avg_sq"],
    "Adamax": ["step", "exp_avg", "exp_inf"],
    "Adadelta": ["step", "square_avg", "acc_delta"],
    "Rprop": ["step", "prev", "step_size"],
    "ASGD": ["step", "eta", "mu", "ax"],
}


@pytest.mark.parametrize("cls", sorted(REPRS))
def test_repr_defaults_and_state(cls):
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, cls)([p])
    assert str(opt).startswith(f"{cls} (\nParameter Group 0\n")
    assert _group_lines(opt) == ["    " + line for line in REPRS[cls]]
    p.grad = torch.ones(2, dtype=torch.float64)
    opt.step()
    sd = opt.state_dict()
    assert list(sd["state"][0]) == STATE_KEYS[cls]
    for key, value in sd["state"][0].items():
        assert isinstance(value, torch.Tensor)
        if value.dim() == 0:
            assert value.dtype == torch.float32, key
        else:
            assert value.dtype == torch.float64 and value.shape == p.shape, key
    assert sd["state"][0]["step"].item() == 1.0
    assert sd["param_groups"][0]["params"] == [0]


def test_state_values_after_a_step():
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor([1.0, -2.0], dtype=torch.float64)
    opt = torch.optim.NAdam([p])
    opt.step()
    mu = 0.9 * (1 - 0.5 * 0.96**0.004)
    assert opt.state[p]["mu_product"].item() == pytest.approx(mu, rel=1e-7)
    opt = torch.optim.Rprop([p], lr=0.25)
    opt.step()
    np.testing.assert_array_equal(opt.state[p]["step_size"].numpy(), [0.25, 0.25])
    np.testing.assert_array_equal(opt.state[p]["prev"].numpy(), [1.0, -2.0])
    opt = torch.optim.ASGD([p], lr=0.5, t0=0)
    opt.step()
    assert opt.state[p]["mu"].item() == 1.0
    assert opt.state[p]["eta"].item() == pytest.approx(0.5 / (1 + 1e-4 * 0.5) ** 0.75, rel=1e-7)
    opt.step()
    assert opt.state[p]["mu"].item() == 0.5


def test_load_state_dict_with_plain_number_steps():
    """Old state dicts kept ``step`` (and ASGD's ``eta``/``mu``) as numbers."""
    x, y, w, b = _problem()
    expr, expected = REFERENCE["asgd_avg"]
    opt = _make(expr, [w, b])
    _train(opt, x, y, w, b, 4)
    saved = copy.deepcopy(opt.state_dict())
    for state in saved["state"].values():
        for key in ("step", "eta", "mu"):
            state[key] = state[key].item()
    opt2 = _make(expr, [w, b])
    opt2.load_state_dict(saved)
    assert all(isinstance(s["step"], torch.Tensor) for s in opt2.state.values())
    got = _train(opt2, x, y, w, b, 6)
    np.testing.assert_allclose(got, np.array(expected[4:]), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "expr, message",
    [
        ("torch.optim.NAdam(params, lr=-1)", "Invalid learning rate: -1"),
        ("torch.optim.NAdam(params, eps=-1)", "Invalid epsilon value: -1"),
        ("torch.optim.NAdam(params, betas=(1.0, 0.9))", "Invalid beta parameter at index 0: 1.0"),
        ("torch.optim.NAdam(params, betas=(0.9, -0.1))", "Invalid beta parameter at index 1: -0.1"),
        ("torch.optim.NAdam(params, weight_decay=-1)", "Invalid weight_decay value: -1"),
        ("torch.optim.NAdam(params, momentum_decay=-1)", "Invalid momentum_decay value: -1"),
        ("torch.optim.RAdam(params, lr=-0.5)", "Invalid learning rate: -0.5"),
        ("torch.optim.RAdam(params, betas=(0.9, 1.0))", "Invalid beta parameter at index 1: 1.0"),
        ("torch.optim.Adamax(params, eps=-1e-8)", "Invalid epsilon value: -1e-08"),
        ("torch.optim.Adamax(params, weight_decay=-1)", "Invalid weight_decay value: -1"),
        ("torch.optim.Adadelta(params, rho=1.5)", "Invalid rho value: 1.5"),
        ("torch.optim.Adadelta(params, eps=-1)", "Invalid epsilon value: -1"),
        ("torch.optim.Rprop(params, etas=(1.0, 1.2))", "Invalid eta values: 1.0, 1.2"),
        ("torch.optim.Rprop(params, etas=(0.5, 1.0))", "Invalid eta values: 0.5, 1.0"),
        ("torch.optim.ASGD(params, lambd=-1)", "Invalid lambd value: -1"),
        ("torch.optim.ASGD(params, alpha=-1)", "Invalid alpha value: -1"),
        ("torch.optim.ASGD(params, weight_decay=-1)", "Invalid weight_decay value: -1"),
        (
            "torch.optim.Adamax(params, lr=torch.tensor([0.1, 0.2]))",
            "Tensor lr must be 1-element",
        ),
    ],
)
def test_constructor_errors(expr, message):
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError) as info:
        _make(expr, [p])
    assert str(info.value) == message


def test_empty_and_non_leaf_params():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        torch.optim.RAdam([])
    leaf = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        torch.optim.Rprop([leaf * 2])


def test_state_of_the_wrong_shape_is_refused():
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adadelta([p])
    p.grad = torch.ones(2, dtype=torch.float64)
    opt.step()
    opt.state[p]["acc_delta"] = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="optimizer state must match its parameter"):
        opt.step()
