"""API details checked item by item against PyTorch 2.15; the expected values are PyTorch's
behaviour, hard-coded (PyTorch is not needed to run these)."""

import math

import numpy as np
import pytest

import rgrad
import rgrad.nn.functional as F
import rgrad.optim.lr_scheduler as S
from rgrad.utils.data import DataLoader, TensorDataset


def test_nll_loss_mean_all_ignored_has_zero_gradient():
    # PyTorch: loss nan (0 / 0 total weight), gradient exactly 0 for ignored entries.
    x = rgrad.tensor([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], requires_grad=True)
    loss = F.nll_loss(x, rgrad.tensor([2, 2]), ignore_index=2)
    loss.backward()
    assert math.isnan(loss.item())
    assert x.grad.tolist() == [[0.0] * 3] * 2


def test_nll_loss_mean_zero_total_weight_nan_only_where_counted():
    # PyTorch: counted entries of weight 0 get 0 * inf = nan; the ignored one (target 0) gets 0.
    x = rgrad.tensor([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0.5, 0.1, 0.1]], requires_grad=True)
    w = rgrad.tensor([1.0, 0.0, 0.0])
    F.nll_loss(x, rgrad.tensor([2, 1, 0]), weight=w, ignore_index=0).backward()
    nan_at = [[math.isnan(v) for v in row] for row in x.grad.tolist()]
    assert nan_at == [[False, False, True], [False, True, False], [False, False, False]]


def _resumed_optimizer():
    opt = rgrad.optim.SGD([rgrad.nn.Parameter(rgrad.ones(1))], lr=0.1)
    opt.param_groups[0]["initial_lr"] = 0.2
    return opt


@pytest.mark.parametrize(
    "make, expected",
    [
        # PyTorch 2.15: constructing with last_epoch >= 0 keeps the current lr (0.1) instead
        # of advancing it one epoch; these are its lrs after construction and two steps.
        (lambda o: S.ExponentialLR(o, 0.5, last_epoch=2), [0.1, 0.05, 0.025]),
        (lambda o: S.CosineAnnealingLR(o, 4, last_epoch=1), [0.1, 0.029289321881345254, 0.0]),
        (lambda o: S.MultiplicativeLR(o, lambda e: 0.5, last_epoch=2), [0.1, 0.05, 0.025]),
        (
            lambda o: S.LinearLR(o, 0.5, 1.0, 4, last_epoch=1),
            [0.1, 0.11666666666666668, 0.13333333333333333],
        ),
        (lambda o: S.PolynomialLR(o, 4, 1.0, last_epoch=1), [0.1, 0.05, 0.0]),
    ],
)
def test_scheduler_resumed_with_last_epoch_keeps_current_lr(make, expected):
    opt = _resumed_optimizer()
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(2):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx(expected, abs=1e-15)
    assert "_is_initial" in sched.state_dict()


def test_scheduler_resume_without_initial_lr_message():
    opt = rgrad.optim.SGD([rgrad.nn.Parameter(rgrad.ones(1))], lr=0.1)
    with pytest.raises(KeyError) as info:
        S.StepLR(opt, 2, last_epoch=3)
    assert info.value.args[0].startswith(
        "param 'initial_lr' is not specified in param_groups[0] when resuming scheduler with "
        "last_epoch >= 0.\nThis typically happens when:\n1. You're trying to resume"
    )


# PyTorch warns here too: the nested scheduler's first step comes before an optimizer step.
@pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")
def test_sequential_lr_with_a_nested_chained_scheduler():
    # PyTorch's lrs after construction and each of five steps.
    opt = rgrad.optim.SGD([rgrad.nn.Parameter(rgrad.ones(1))], lr=0.1)
    chained = S.ChainedScheduler([S.ExponentialLR(opt, 0.5), S.StepLR(opt, 2)])
    sched = S.SequentialLR(opt, [chained, S.ExponentialLR(opt, 0.8)], [3])
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(5):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    expected = [0.05, 0.025, 0.00125, 0.1, 0.08, 0.064]
    assert lrs == pytest.approx(expected, abs=1e-15)


def test_reduce_lr_on_plateau_state_dict_key_order():
    opt = rgrad.optim.SGD([rgrad.nn.Parameter(rgrad.ones(1))], lr=0.1)
    assert list(S.ReduceLROnPlateau(opt).state_dict()) == [
        "factor", "default_min_lr", "min_lrs", "patience", "cooldown", "eps", "last_epoch",
        "_last_lr", "mode_worse", "mode", "threshold", "threshold_mode", "best",
        "cooldown_counter", "num_bad_epochs",
    ]  # fmt: skip


def test_clip_grad_norm_zero_norm_counts_nonzero_tensors():
    # PyTorch: per-tensor 0-norms (nonzero counts) 2 and 1; their 0-norm is 2 (tensors with
    # any nonzero gradient). The gradients are scaled by 1 / (2 + 1e-6).
    a, b = rgrad.nn.Parameter(rgrad.ones(3)), rgrad.nn.Parameter(rgrad.ones(2))
    a.grad, b.grad = rgrad.tensor([3.0, 0.0, -4.0]), rgrad.tensor([0.0, 1.0])
    total = rgrad.nn.utils.clip_grad_norm_([a, b], 1.0, norm_type=0)
    assert total.item() == 2.0
    assert a.grad.tolist() == pytest.approx([1.5, 0.0, -2.0], rel=1e-5)


def test_dataloader_iterator_has_len():
    # PyTorch: iter(loader) is a _SingleProcessDataLoaderIter with len() == len(loader).
    loader = DataLoader(TensorDataset(rgrad.arange(10)), batch_size=3)
    it = iter(loader)
    assert len(it) == 4
    assert iter(it) is it
    assert next(it)[0].tolist() == [0, 1, 2]
    assert [b[0].tolist() for b in it] == [[3, 4, 5], [6, 7, 8], [9]]
    with pytest.raises(StopIteration):
        next(it)


def test_tensor_dataset_size_mismatch_is_an_assertion_error():
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(rgrad.zeros(3), rgrad.zeros(4))


# PyTorch's messages for bad shapes and dtypes, which rgrad used to report from deep inside
# the computation (or not at all: a short class weight was read without complaint).
@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: F.bilinear(rgrad.ones(2, 3), rgrad.ones(2, 3), rgrad.ones(1, 3, 2)),
            RuntimeError,
            "bilinear(): input2 size does not match weight size: got 3 but expected 2",
        ),
        (
            lambda: F.bilinear(rgrad.ones(2, 3), rgrad.ones(3, 2), rgrad.ones(1, 3, 2)),
            RuntimeError,
            "bilinear(): input batch dimensions do not match at dim 0: got 2 and 3",
        ),
        (
            lambda: F.bilinear(rgrad.ones(3), rgrad.ones(2, 2), rgrad.ones(1, 3, 2)),
            RuntimeError,
            "bilinear(): input dimensions do not match: got 1 and 2",
        ),
        (
            lambda: F.bilinear(rgrad.ones(3), rgrad.ones(2), rgrad.ones(1, 3, 2), rgrad.ones(2)),
            RuntimeError,
            "bilinear(): bias size does not match weight size: got 2 but expected 1",
        ),
        (
            lambda: rgrad.nn.BatchNorm1d(3)(rgrad.ones(2, 4)),
            RuntimeError,
            "running_mean should contain 4 elements not 3",
        ),
        (
            lambda: F.batch_norm(rgrad.ones(2, 4), None, None, rgrad.ones(3), training=True),
            RuntimeError,
            "weight should contain 4 elements not 3",
        ),
        (
            lambda: rgrad.nn.Embedding(3, 2)(rgrad.tensor([1.0])),
            RuntimeError,
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            "types: Long, Int; but got torch.FloatTensor instead (while checking arguments "
            "for embedding)",
        ),
        (
            lambda: rgrad.nn.Unflatten(1, (2, 2))(rgrad.ones(2, 3)),
            RuntimeError,
            "unflatten: Provided sizes [2, 2] don't multiply up to the size of dim 1 (3) in "
            "the input tensor",
        ),
        (
            lambda: rgrad.nn.Unflatten(-1, ())(rgrad.ones(2, 3)),
            RuntimeError,
            "unflatten: sizes must be non-empty",
        ),
        (
            lambda: rgrad.nn.Unflatten(1, [2, "x"]),
            TypeError,
            "unflattened_size must be tuple of ints, but found element of type str at pos 1",
        ),
        (
            lambda: rgrad.nn.Unflatten(1, 4),
            TypeError,
            "unflattened_size must be a tuple of ints, but found type int",
        ),
        (
            lambda: F.cross_entropy(rgrad.ones(2, 3), rgrad.tensor([0, 1]), rgrad.ones(2)),
            RuntimeError,
            "weight tensor should be defined either for all 3 classes or no classes but got "
            "weight tensor of shape: [2]",
        ),
        (
            lambda: F.cross_entropy(rgrad.ones(2, 3), rgrad.ones(2, 3), rgrad.ones(2)),
            RuntimeError,
            "cross_entropy: weight tensor should be defined either for all 3 classes or no "
            "classes but got weight tensor of shape: [2]",
        ),
        (
            lambda: F.nll_loss(rgrad.ones(2, 3), rgrad.tensor([0, 1]), rgrad.ones(3, 1)),
            RuntimeError,
            "weight tensor should be defined either for all 3 classes or no classes but got "
            "weight tensor of shape: [3, 1]",
        ),
        (
            lambda: F.cross_entropy(rgrad.ones(2, 3), rgrad.ones(2, 3), ignore_index=1),
            RuntimeError,
            "ignore_index is not supported for floating point target",
        ),
    ],
)
def test_layer_and_loss_argument_errors(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_unflatten_still_infers_one_size():
    assert rgrad.nn.Unflatten(-1, (-1, 3))(rgrad.ones(2, 6)).shape == (2, 2, 3)
    assert rgrad.nn.Unflatten(1, (2, 3))(rgrad.ones(2, 6, 1)).shape == (2, 2, 3, 1)


def _truncated_normal_moments(mean, std, a, b):
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: (1 + math.erf(x / math.sqrt(2))) / 2  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    shift = (pdf(alpha) - pdf(beta)) / z
    var = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - shift**2
    return mean + shift * std, std * math.sqrt(var)


# Both of PyTorch's sampling regimes: mostly-inside (redraw) and a small mass in [a, b].
@pytest.mark.parametrize(
    "args", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 3.0), (0.0, 1.0, 2.0, 4.0)]
)
def test_trunc_normal_bounds_and_moments(args):
    rgrad.manual_seed(0)
    values = rgrad.nn.init.trunc_normal_(rgrad.empty(100_000, dtype=rgrad.float64), *args)
    values = values.numpy()
    mean, std = _truncated_normal_moments(*args)
    assert values.min() >= args[2] and values.max() <= args[3]
    assert abs(values.mean() - mean) < 0.01 and abs(values.std() - std) < 0.01


def test_sparse_and_dirac_init():
    w = rgrad.nn.init.sparse_(rgrad.empty(10, 6), 0.35)
    assert (w.numpy() == 0).sum(0).tolist() == [4] * 6  # ceil(0.35 * 10) zeros per column
    d = rgrad.nn.init.dirac_(rgrad.empty(6, 3, 3, 3), groups=2)
    idx = [list(map(int, c)) for c in zip(*d.numpy().nonzero())]
    assert idx == [[g * 3 + k, k, 1, 1] for g in range(2) for k in range(3)]
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions"):
        rgrad.nn.init.dirac_(rgrad.empty(3, 3))


def test_deprecated_init_aliases_warn():
    with pytest.warns(FutureWarning, match=r"`nn.init.xavier_uniform` is now deprecated in favor "):
        w = rgrad.nn.init.xavier_uniform(rgrad.empty(3, 4))
    assert w.shape == (3, 4) and rgrad.nn.init.kaiming_normal.__name__ == "kaiming_normal"


def test_collate_and_convert_keep_0d_numpy_values_0d():
    # PyTorch: 0-d arrays collate to shape (2,) and a NumPy scalar converts to a 0-d tensor.
    from rgrad.utils.data import default_collate, default_convert

    assert default_collate([np.array(1.5), np.array(2.5)]).shape == (2,)
    assert default_convert(np.float64(1.0)).shape == ()
    assert default_convert([np.int64(3)])[0].shape == ()


def test_integer_parameter_message():
    with pytest.raises(RuntimeError) as info:
        rgrad.nn.Parameter(rgrad.tensor([1, 2]))
    message = "Only Tensors of floating point and complex dtype can require gradients"
    assert str(info.value) == message
    assert not rgrad.nn.Parameter(rgrad.tensor([1, 2]), requires_grad=False).requires_grad


@pytest.mark.parametrize(
    "name, args, expected",
    [
        ("relu_", (), [0.0, 0.0, 3.0]),
        ("elu_", (0.5,), [0.5 * math.expm1(-2.0), 0.0, 3.0]),
        ("leaky_relu_", (0.2,), [-0.4, 0.0, 3.0]),
        ("hardtanh_", (-0.5, 0.7), [-0.5, 0.0, 0.7]),
    ],
)
def test_functional_inplace_activations(name, args, expected):
    x = rgrad.tensor([-2.0, 0.0, 3.0], dtype=rgrad.float64)
    out = getattr(F, name)(x, *args)
    assert out is x
    assert x.tolist() == pytest.approx(expected, abs=1e-15)
