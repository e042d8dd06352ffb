"""Small training programs written the way PyTorch tutorials and projects write them, run with
``import rgrad as torch``. Each one once failed under rgrad, or behaved differently from
PyTorch; the expected values are closed forms, self-consistency (a resumed run against an
uninterrupted one), or numbers printed by PyTorch 2.15 for the same program (said so where
they are).
"""

import argparse
import copy
import pickle

import numpy as np
import pytest

import rgrad as torch
import rgrad.nn as nn
import rgrad.nn.functional as F

# ------------------------------------------------------------- checks around the training loop


def test_nan_check_and_model_comparison_helpers():
    loss = torch.tensor(float("nan"))
    if torch.isnan(loss) or torch.isinf(loss):  # the usual "stop on divergence" guard
        stopped = True
    assert stopped
    assert not torch.isfinite(torch.tensor([1.0, float("inf")])).all()
    a = nn.Linear(3, 2)
    b = nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 3)
    assert torch.allclose(a(x), b(x)) and torch.equal(a(x), b(x))
    assert a(x).allclose(b(x) + 1e-9) and not torch.allclose(a(x), b(x) + 1.0)
    assert not torch.equal(torch.ones(2), torch.ones(3))
    assert torch.isclose(
        torch.tensor([float("inf"), 1.0]), torch.tensor([float("inf"), 1.1])
    ).tolist() == [True, False]


def test_masks_combine_with_invert_and_or():
    x = torch.tensor([-2.0, -0.5, 0.5, 2.0])
    mask = x > 0
    assert x[~mask].tolist() == [-2.0, -0.5]
    assert (mask & (x < 1)).tolist() == [False, False, True, False]
    assert (mask | (x < -1)).tolist() == [True, False, True, True]
    assert (mask ^ (x > -1)).tolist() == [False, True, False, False]
    assert torch.logical_not(mask).tolist() == [True, True, False, False]
    assert (torch.tensor([6, 3]) & 2).tolist() == [2, 2]
    with pytest.raises(TypeError):
        _ = ~x


def test_topk_accuracy_loop():
    # Top-1 and top-2 accuracy as image-classification scripts compute them.
    logits = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    target = torch.tensor([1, 2, 0, 0])
    _, pred = logits.topk(2, dim=1, largest=True, sorted=True)
    pred = pred.t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    top1 = correct[:1].reshape(-1).float().sum(0, keepdim=True)
    top2 = correct[:2].reshape(-1).float().sum(0)
    assert top1.item() == 2 and top2.item() == 3
    values, order = torch.sort(torch.tensor([3.0, 1.0, 2.0]), descending=True)
    assert values.tolist() == [3.0, 2.0, 1.0] and order.tolist() == [0, 2, 1]
    assert torch.argsort(torch.tensor([3, 1, 2])).tolist() == [1, 2, 0]


def test_topk_passes_gradients_to_the_chosen_entries():
    x = torch.tensor([[3.0, 1.0, 2.0]], requires_grad=True)
    x.topk(2).values.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 1.0]]
    assert torch.square(torch.tensor([3.0])).item() == 9.0


# -------------------------------------------------------------------------------- checkpoints


def _regression_data():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((48, 6)).astype(np.float32)
    y = (x @ rng.standard_normal((6, 1)) + 0.1 * rng.standard_normal((48, 1))).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y)


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.BatchNorm1d(12), nn.Linear(12, 1))


def _train(model, opt, sched, x, y, epochs):
    losses = []
    for _ in range(epochs):
        for i in range(0, len(x), 16):
            opt.zero_grad()
            loss = F.mse_loss(model(x[i : i + 16]), y[i : i + 16])
            loss.backward()
            opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def test_resuming_from_a_checkpoint_repeats_the_uninterrupted_run(tmp_path):
    x, y = _regression_data()
    model = _model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, 0.5)
    _train(model, opt, sched, x, y, 3)
    path = tmp_path / "ckpt.pt"
    torch.save(
        {
            "epoch": 3,
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "loss": 0.5,
        },
        path,
    )
    reference = _train(model, opt, sched, x, y, 3)

    ckpt = torch.load(path)
    resumed = _model(seed=1)
    opt2 = torch.optim.AdamW(resumed.parameters(), lr=1e-2)
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, 2, 0.5)
    resumed.load_state_dict(ckpt["model_state_dict"])
    opt2.load_state_dict(ckpt["optimizer_state_dict"])
    sched2.load_state_dict(ckpt["scheduler"])
    assert ckpt["epoch"] == 3 and _train(resumed, opt2, sched2, x, y, 3) == reference


def test_whole_model_save_needs_weights_only_false_to_load(tmp_path):
    # torch.save(model, path) pickles the module; since PyTorch 2.6 torch.load refuses it
    # unless weights_only=False.
    model = _model()
    model.eval()
    torch.save(model, tmp_path / "whole.pt")
    with pytest.raises(pickle.UnpicklingError, match="weights_only"):
        torch.load(tmp_path / "whole.pt")
    back = torch.load(tmp_path / "whole.pt", weights_only=False)
    x, _ = _regression_data()
    assert type(back) is nn.Sequential and not back.training
    assert torch.equal(back(x), model(x))


def test_checkpoint_with_training_arguments(tmp_path):
    args = argparse.Namespace(lr=0.1, epochs=3)
    model = nn.Linear(2, 1)
    torch.save({"args": args, "state_dict": model.state_dict()}, tmp_path / "c.pt")
    weights = torch.load(tmp_path / "c.pt", map_location="cpu", weights_only=False)
    assert weights["args"] == args
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / "c.pt", weights_only=True)


def test_early_stopping_keeps_a_deep_copy_of_the_best_weights():
    model = _model()
    best = copy.deepcopy(model.state_dict())
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.load_state_dict(best)
    assert torch.equal(model[0].weight, best["0.weight"])
    clone = copy.deepcopy(model)
    assert clone[0].weight is not model[0].weight and torch.equal(clone[0].weight, model[0].weight)


# ------------------------------------------------------------------------ init and schedules


def test_transformer_style_init_with_trunc_normal():
    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64)).apply(init_weights)
    w = model[0].weight
    assert w.abs().max().item() <= 2.0  # a and b are absolute bounds, not multiples of std
    assert abs(w.std().item() - 0.02) < 0.001 and model[0].bias.abs().sum().item() == 0
    narrow = nn.init.trunc_normal_(torch.empty(1000), mean=0.0, std=1.0, a=-0.5, b=0.5)
    assert narrow.abs().max().item() <= 0.5 and narrow.std().item() > 0.2
    torch.manual_seed(3)
    first = nn.init.trunc_normal_(torch.empty(50))
    torch.manual_seed(3)
    assert torch.equal(first, nn.init.trunc_normal_(torch.empty(50)))


def _lrs_and_momenta(make, steps=10):
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = make(opt)
    lrs, momenta = [], []
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(round(opt.param_groups[0]["lr"], 10))
        momenta.append(round(opt.param_groups[0]["momentum"], 10))
    return lrs, momenta


# The reference schedules were printed by PyTorch 2.15 for the same calls.
@pytest.mark.parametrize(
    "kwargs, lrs, momenta",
    [
        (
            {"step_size_up": 3},
            [0.04, 0.07, 0.1, 0.07, 0.04, 0.01, 0.04, 0.07, 0.1, 0.07],
            [0.8666666667, 0.8333333333, 0.8, 0.8333333333, 0.8666666667, 0.9]
            + [0.8666666667, 0.8333333333, 0.8, 0.8333333333],
        ),
        (
            {"step_size_up": 2, "step_size_down": 3, "mode": "triangular2"},
            [0.055, 0.1, 0.07, 0.04, 0.01, 0.0325, 0.055, 0.04, 0.025, 0.01],
            [0.85, 0.8, 0.8333333333, 0.8666666667, 0.9, 0.875, 0.85, 0.8666666667]
            + [0.8833333333, 0.9],
        ),
        (
            {"step_size_up": 2, "mode": "exp_range", "gamma": 0.9},
            [0.0505, 0.0829, 0.042805, 0.01, 0.03657205, 0.05782969, 0.0315233605, 0.01]
            + [0.027433922, 0.0413810596],
            [0.855, 0.819, 0.86355, 0.9, 0.8704755, 0.8468559, 0.876085155, 0.9]
            + [0.8806289755, 0.865132156],
        ),
    ],
)
def test_cyclic_lr_matches_pytorch(kwargs, lrs, momenta):
    def make(opt):
        return torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, **kwargs)

    got_lrs, got_momenta = _lrs_and_momenta(make)
    assert got_lrs == pytest.approx(lrs, abs=1e-9)
    assert got_momenta == pytest.approx(momenta, abs=1e-9)


def test_cyclic_lr_cycles_adams_beta1_and_checkpoints():
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=0.1)
    sched = torch.optim.lr_scheduler.CyclicLR(opt, 0.001, 0.01, step_size_up=2)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["betas"] == pytest.approx((0.85, 0.999))
    state = sched.state_dict()
    again = torch.optim.lr_scheduler.CyclicLR(opt, 0.001, 0.01, step_size_up=2)
    again.load_state_dict(state)
    assert again.get_last_lr() == sched.get_last_lr() == [pytest.approx(0.0055)]
    with pytest.raises(ValueError, match="momentum"):
        torch.optim.lr_scheduler.CyclicLR(torch.optim.Adagrad([p]), 0.1, 1.0)


# --------------------------------------------------------------------------- reproducibility


def _epoch_orders(generator, epochs=2):
    ds = torch.utils.data.TensorDataset(torch.arange(20))
    loader = torch.utils.data.DataLoader(ds, batch_size=5, shuffle=True, generator=generator)
    return [[i for (b,) in loader for i in b.tolist()] for _ in range(epochs)]


def test_dataloader_and_random_split_with_a_seeded_generator():
    g = torch.Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    first = _epoch_orders(g)
    assert first[0] != first[1] and sorted(first[0]) == list(range(20))
    g.manual_seed(7)  # re-seeding the same object restarts its stream, as in PyTorch
    assert _epoch_orders(g) == first
    assert _epoch_orders(torch.Generator().manual_seed(7)) == first

    def split():
        gen = torch.Generator().manual_seed(42)
        return torch.utils.data.random_split(range(10), [0.8, 0.2], generator=gen)

    train, val = split()
    assert list(train) == list(split()[0]) and sorted(list(train) + list(val)) == list(range(10))


def test_factories_draw_from_a_generator_object():
    g = torch.Generator().manual_seed(1)
    draws = [torch.randn(2, 3, generator=g), torch.rand(4, generator=g, dtype=torch.float64)]
    draws += [torch.randint(3, 9, (5,), generator=g), torch.randperm(6, generator=g)]
    g.manual_seed(1)
    again = [torch.randn(2, 3, generator=g), torch.rand(4, generator=g, dtype=torch.float64)]
    again += [torch.randint(3, 9, (5,), generator=g), torch.randperm(6, generator=g)]
    assert all(torch.equal(a, b) and a.dtype == b.dtype for a, b in zip(draws, again))
    assert draws[1].dtype == torch.float64 and draws[2].dtype == torch.int64
    assert ((draws[2] >= 3) & (draws[2] < 9)).all() and sorted(draws[3].tolist()) == list(range(6))
    state = g.get_state()
    w = nn.init.normal_(torch.empty(3), generator=g)
    g.set_state(state)
    assert torch.equal(w, torch.empty(3).normal_(generator=g))
    assert torch.randn(2, generator=g, requires_grad=True).requires_grad


def test_global_rng_state_save_and_restore():
    assert torch.manual_seed(5) is torch.default_generator and torch.initial_seed() == 5
    state = torch.get_rng_state()
    a = torch.rand(3)
    torch.set_rng_state(state)
    assert torch.equal(a, torch.rand(3))
    torch.manual_seed(5)
    state_again = torch.get_rng_state()
    assert torch.equal(state, state_again)  # the state after a seed is a function of the seed
    # As in PyTorch, a Generator's state is a state of the global generator too.
    g = torch.Generator().manual_seed(8)
    torch.set_rng_state(g.get_state())
    assert torch.initial_seed() == 8
    assert torch.equal(torch.rand(3), torch.rand(3, generator=g))
    with pytest.raises(RuntimeError):
        torch.set_rng_state(torch.zeros(4, dtype=torch.uint8))
    assert torch.seed() == torch.initial_seed()


def test_reproducibility_boilerplate_runs():
    def set_seed(seed):
        np.random.seed(seed)
        torch.manual_seed(seed)
        torch.cuda.manual_seed_all(seed)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)

    set_seed(0)
    assert torch.backends.cudnn.deterministic and torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)
    torch.set_float32_matmul_precision("high")
    assert torch.get_float32_matmul_precision() == "high"
    torch.set_float32_matmul_precision("highest")
    if torch.cuda.is_available():
        device = torch.device("cuda")
    elif torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    assert device.type == "cpu" and not torch.backends.cudnn.is_available()
    torch.cuda.empty_cache()
    assert torch.cuda.memory_allocated() == 0
    assert torch.get_num_threads() >= 1 and torch.get_default_dtype() == torch.float32
    torch.set_default_dtype(torch.float32)
    with pytest.raises(NotImplementedError, match="dtype=rgrad.float64"):
        torch.set_default_dtype(torch.float64)
    torch.set_printoptions(precision=2)
    try:
        assert repr(torch.tensor([1.23456])) == "tensor([1.23])"
    finally:
        torch.set_printoptions(precision=4)
    x = torch.as_tensor([1, 2])
    assert x.dtype == torch.int64 and torch.as_tensor(x) is x
    assert torch.as_tensor(x, dtype=torch.float32).dtype == torch.float32
    assert torch.empty_like(torch.ones(2, 3)).shape == (2, 3)
    assert torch.is_floating_point(torch.ones(1)) and not torch.is_floating_point(x)


# --------------------------------------------------------------------------------- autograd


def test_autograd_grad_over_model_parameters_generator():
    # Meta-learning and gradient-penalty code passes model.parameters() (a generator).
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0]]))
        model.bias.fill_(0.5)
    loss = model(torch.tensor([[3.0, 4.0]])).pow(2).sum()  # (3 - 8 + 0.5)^2
    grads = torch.autograd.grad(loss, model.parameters(), create_graph=True)
    assert grads[0].tolist() == [[-27.0, -36.0]] and grads[1].tolist() == [-9.0]
    fast = [p - 0.1 * g for p, g in zip(model.parameters(), grads)]
    assert fast[1].item() == pytest.approx(1.4)


def test_compile_and_small_factories():
    model = torch.nn.Linear(2, 2)
    assert torch.compile(model) is model  # eager: compile hands the model back

    @torch.compile(mode="max-autotune")
    def double(a):
        return a * 2

    assert double(torch.ones(2)).tolist() == [2.0, 2.0]
    x = torch.zeros(3, 4, dtype=torch.float64)
    r = torch.randint_like(x, 3, 7)
    assert tuple(r.shape) == (3, 4) and r.dtype == torch.float64
    assert ((r >= 3) & (r < 7)).all().item()
    assert torch.logspace(0, 2, 3).tolist() == [1.0, 10.0, 100.0]
    assert torch.deg2rad(torch.tensor([180.0])).item() == pytest.approx(3.14159265, rel=1e-6)
    assert torch.rad2deg(torch.tensor([3.14159265])).item() == pytest.approx(180.0, rel=1e-6)
