"""Side by side with PyTorch, when it is installed (skipped otherwise): ``nn.functional`` ops
over their options (forward and gradients in float64), error messages, and module behaviour
(state_dict loading, containers, conversions) compared as printed strings."""

import copy
import pickle
import warnings

import numpy as np
import pytest

import rgrad
import rgrad.nn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5))
Y = RNG.integers(0, 5, 4)
Y_IGN = np.where(np.arange(4) == 1, -100, Y)
W = RNG.random(5) + 0.5
P = RNG.random((4, 5))
T = RNG.random((4, 5))
X3 = RNG.standard_normal((2, 5, 3))
Y3 = RNG.integers(0, 5, (2, 3))
EDGES = np.concatenate([X.ravel() * 3, [0.0, 30.0, -30.0, 100.0, -100.0, 1e-30]])
IDX = np.array([[0, 2, 2], [1, 0, 2]])


def evaluate(lib, fn, inputs, grads):
    env = {}
    for name, value in inputs.items():
        if value.dtype.kind == "f":
            env[name] = lib.tensor(value, dtype=lib.float64, requires_grad=name in grads)
        else:
            env[name] = lib.tensor(value, dtype=lib.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(lib, lib.nn.functional, **env)
    if grads:
        out.sum().backward()
    return out.detach().numpy(), [env[n].grad.numpy() for n in grads]


F_CASES = {}


def case(name, fn, grads=(), **inputs):
    F_CASES[name] = (fn, inputs, grads)


for red in ("mean", "sum", "none"):
    for ls in (0.0, 0.2):
        case(
            f"ce-{red}-{ls}",
            lambda L, F, x, y, red=red, ls=ls: F.cross_entropy(
                x, y, reduction=red, label_smoothing=ls
            ),
            ["x"],
            x=X,
            y=Y,
        )
        case(
            f"ce-w-ign-{red}-{ls}",
            lambda L, F, x, y, w, red=red, ls=ls: F.cross_entropy(
                x, y, weight=w, reduction=red, label_smoothing=ls
            ),
            ["x"],
            x=X,
            y=Y_IGN,
            w=W,
        )
        case(
            f"ce-ign-{red}-{ls}",
            lambda L, F, x, y, red=red, ls=ls: F.cross_entropy(
                x, y, reduction=red, label_smoothing=ls
            ),
            ["x"],
            x=X,
            y=Y_IGN,
        )
        case(
            f"ce-prob-w-{red}-{ls}",
            lambda L, F, x, t, w, red=red, ls=ls: F.cross_entropy(
                x, t.softmax(1), weight=w, reduction=red, label_smoothing=ls
            ),
            ["x", "t"],
            x=X,
            t=T,
            w=W,
        )
    case(
        f"ce-3d-{red}",
        lambda L, F, x, y, red=red: F.cross_entropy(
            x, y, reduction=red, ignore_index=1, label_smoothing=0.1
        ),
        ["x"],
        x=X3,
        y=Y3,
    )
    case(
        f"ce-1d-{red}",
        lambda L, F, x, y, red=red: F.cross_entropy(x, y, reduction=red),
        ["x"],
        x=X[0],
        y=Y[0],
    )
    case(
        f"nll-{red}",
        lambda L, F, x, y, w, red=red: F.nll_loss(x, y, weight=w, reduction=red),
        ["x"],
        x=X,
        y=Y_IGN,
        w=W,
    )
    case(
        f"bce-{red}",
        lambda L, F, p, t, w, red=red: F.binary_cross_entropy(p, t, weight=w, reduction=red),
        ["p", "t"],
        p=P,
        t=T,
        w=W,
    )
    case(
        f"bcel-{red}",
        lambda L, F, x, t, w, pw, red=red: F.binary_cross_entropy_with_logits(
            x, t, weight=w, pos_weight=pw, reduction=red
        ),
        ["x", "t"],
        x=X * 30,
        t=T,
        w=W,
        pw=W[::-1].copy(),
    )
    case(
        f"mse-{red}",
        lambda L, F, x, t, red=red: F.mse_loss(x, t, reduction=red),
        ["x", "t"],
        x=X,
        t=T,
    )
    case(
        f"l1-{red}",
        lambda L, F, x, t, red=red: F.l1_loss(x, t, reduction=red),
        ["x", "t"],
        x=X,
        t=T,
    )
    case(
        f"sl1-{red}",
        lambda L, F, x, t, red=red: F.smooth_l1_loss(x, t, reduction=red, beta=0.5),
        ["x", "t"],
        x=X,
        t=T,
    )
    case(
        f"huber-{red}",
        lambda L, F, x, t, red=red: F.huber_loss(x, t, reduction=red, delta=0.7),
        ["x", "t"],
        x=X,
        t=T,
    )
for red in ("mean", "sum", "none", "batchmean"):
    case(
        f"kl-{red}",
        lambda L, F, x, t, red=red: F.kl_div(x.log_softmax(1), t.softmax(1), reduction=red),
        ["x", "t"],
        x=X,
        t=T,
    )
    case(
        f"kl-log-{red}",
        lambda L, F, x, t, red=red: F.kl_div(x, t, reduction=red, log_target=True),
        ["x", "t"],
        x=X,
        t=T,
    )
for name, fn in {
    "relu": lambda L, F, a: F.relu(a),
    "relu6": lambda L, F, a: F.relu6(a * 4),
    "leaky_relu": lambda L, F, a: F.leaky_relu(a, 0.2),
    "elu": lambda L, F, a: F.elu(a, 1.5),
    "gelu": lambda L, F, a: F.gelu(a),
    "gelu_tanh": lambda L, F, a: F.gelu(a, approximate="tanh"),
    "silu": lambda L, F, a: F.silu(a),
    "mish": lambda L, F, a: F.mish(a),
    "softplus": lambda L, F, a: F.softplus(a),
    "softplus_beta": lambda L, F, a: F.softplus(a, beta=2, threshold=5),
    "logsigmoid": lambda L, F, a: F.logsigmoid(a),
    "hardtanh": lambda L, F, a: F.hardtanh(a, -2, 2.5),
    "softmin": lambda L, F, a: F.softmin(a.reshape(2, -1), 1),
}.items():
    case(name, fn, ["a"], a=EDGES)
case(
    "layer_norm",
    lambda L, F, x, w, b: F.layer_norm(x, (5,), w, b),
    ["x", "w", "b"],
    x=X,
    w=W,
    b=W[::-1].copy(),
)
case("layer_norm_2d", lambda L, F, x: F.layer_norm(x, (4, 5)), ["x"], x=X)
case(
    "bilinear",
    lambda L, F, a, b, w: F.bilinear(a, b, w),
    ["a", "b", "w"],
    a=X3[..., :2].copy(),
    b=X3[..., 1:].copy(),
    w=RNG.standard_normal((4, 2, 2)),
)
case(
    "embedding_pad_freq",
    lambda L, F, i, w: F.embedding(i, w, padding_idx=0, scale_grad_by_freq=True),
    ["w"],
    i=IDX,
    w=X[:, :3].copy(),
)
for mode in ("constant", "reflect", "replicate", "circular"):
    case(f"pad_{mode}", lambda L, F, a, mode=mode: F.pad(a, (2, 1, 1, 2), mode=mode), ["a"], a=X3)
case("pad_negative", lambda L, F, a: F.pad(a, (-1, 2, 1, -2), value=3.5), ["a"], a=X3)
case("normalize", lambda L, F, a: F.normalize(a, p=3, dim=0), ["a"], a=X)
case(
    "batch_norm_train",
    lambda L, F, x, w, m, v: F.batch_norm(x, m, v, w, w, training=True, momentum=0.3),
    ["x", "w"],
    x=X,
    w=W,
    m=W,
    v=W[::-1].copy(),
)
case(
    "batch_norm_eval",
    lambda L, F, x, w, m, v: F.batch_norm(x, m, v, w, w),
    ["x", "w"],
    x=X,
    w=W,
    m=W,
    v=W[::-1].copy(),
)


@pytest.mark.parametrize("name", sorted(F_CASES))
def test_functional_matches_pytorch(name):
    fn, inputs, grads = F_CASES[name]
    ref_out, ref_grads = evaluate(torch, fn, inputs, grads)
    out, got = evaluate(rgrad, fn, inputs, grads)
    assert out.shape == ref_out.shape
    np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-12)
    for g, ref in zip(got, ref_grads):
        np.testing.assert_allclose(g, ref, rtol=1e-9, atol=1e-12)


def test_batch_norm_running_stats_match_pytorch():
    stats = []
    for lib in (torch, rgrad):
        m, v = lib.tensor(W), lib.tensor(W[::-1].copy())
        lib.nn.functional.batch_norm(lib.tensor(X3), m, v, training=True, momentum=0.3)
        stats.append(np.concatenate([m.numpy(), v.numpy()]))
    np.testing.assert_allclose(stats[1], stats[0], rtol=1e-12)


# ---- behaviour compared as printed text ----------------------------------------------------

# Programs separated by "---" lines; each sets `out`, or raises.
PROGRAMS = """
m = nn.Linear(2, 3)
out = m.load_state_dict(
    {'weight': torch.ones(3, 2), 'bias': torch.ones(2), 'foo': torch.ones(1)})
---
m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
sd = {'1.foo': torch.ones(1), 'bar.x': torch.ones(1), '0.weight': torch.ones(3, 2)}
out = m.load_state_dict(sd, strict=False)
---
m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
out = m.load_state_dict(m.state_dict())
---
out = nn.Linear(2, 3).load_state_dict({'weight': torch.ones(3, 2)}, strict=False)
---
out = nn.Linear(2, 3).register_buffer('weight', torch.ones(1))
---
nn.Linear(2, 3).weight = torch.ones(1)
---
out = nn.Sequential(nn.Linear(2, 3))[3]
---
out = nn.Module()(1)
---
out = nn.Linear(2, 3).to(torch.int64)
---
out = nn.Sequential(nn.Linear(2, 3)).get_submodule('0.b')
---
m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
out = [m[1:], m[::2], m[-1], len(m)]
---
m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
del m[1]
m.insert(1, nn.Tanh())
m.append(nn.Sigmoid())
out = (m.pop(0), m)
---
m = nn.ModuleList([nn.ReLU(), nn.Tanh()])
m.insert(1, nn.Sigmoid())
m += [nn.ReLU(), nn.ReLU()]
del m[0]
out = (m, m[1:])
---
m = nn.ModuleDict({'a': nn.ReLU(), 'b': nn.Linear(1, 2)})
m['c'] = nn.Tanh()
del m['a']
out = (m, list(m), len(m))
---
out = [nn.ReLU(inplace=True), nn.LeakyReLU(0.2, inplace=True), nn.ELU(alpha=0.5),
       nn.GELU('tanh'), nn.SiLU(), nn.Softmax(1), nn.LogSoftmax(dim=-1), nn.Softplus(2, 10),
       nn.Hardtanh(-2, 2), nn.Mish(), nn.ReLU6(), nn.Softmin(0)]
---
out = [nn.Identity(3), nn.Flatten(0, 2), nn.Unflatten(1, (2, 3)),
       nn.Bilinear(2, 3, 4, bias=False),
       nn.Embedding(5, 2, padding_idx=-1, max_norm=1.0, norm_type=1.0,
                    scale_grad_by_freq=True),
       nn.LayerNorm([2, 3], elementwise_affine=False),
       nn.BatchNorm1d(3, momentum=None, affine=False, track_running_stats=False)]
---
out = [nn.MSELoss(), nn.SmoothL1Loss(beta=0.5), nn.HuberLoss(delta=2.0),
       nn.BCEWithLogitsLoss(), nn.NLLLoss(), nn.KLDivLoss(reduction='batchmean')]
---
m = nn.BatchNorm1d(3)
out = (list(m.state_dict()), [n for n, _ in m.named_buffers()])
---
class N(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(2, 2)
        self.b = self.a
        self.register_buffer('t', torch.zeros(1), persistent=False)
        self.p = nn.Parameter(torch.ones(1))
m = N()
out = ([n for n, _ in m.named_parameters()], list(m.state_dict()),
       [n for n, _ in m.named_modules()], [n for n, _ in m.named_buffers()],
       [n for n, _ in m.named_parameters(remove_duplicate=False)], m)
---
m = nn.Linear(2, 2)
w = m.weight
m.double()
out = (m.weight is w, m.weight.dtype, type(m.weight).__name__, m.weight.requires_grad)
---
m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
m2 = copy.deepcopy(m)
out = (m2, list(m2.state_dict()), m2[0].weight is m[0].weight, type(m2[0].weight).__name__)
---
q = pickle.loads(pickle.dumps(nn.Parameter(torch.tensor([1., 2.]))))
out = (type(q).__name__, q)
---
out = nn.Parameter(torch.tensor([1., 2.]), requires_grad=False)
---
import math
out = [nn.init.calculate_gain(n) for n in ['linear', 'tanh', 'relu', 'leaky_relu', 'selu']]
out.append(nn.init.calculate_gain('leaky_relu', math.sqrt(5)))
---
p = [nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(2))]
p[0].grad = torch.tensor([3., 4., 0.])
p[1].grad = torch.tensor([-12., 0.])
out = (nn.utils.clip_grad_norm_(p, 1.0), p[0].grad, p[1].grad)
---
p = [nn.Parameter(torch.ones(3))]
p[0].grad = torch.tensor([3., -4., 0.])
nn.utils.clip_grad_value_(p, 1.5)
out = p[0].grad
---
F = torch.nn.functional
out = (F.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 2])),
       F.binary_cross_entropy(torch.tensor([0., 1.]), torch.tensor([1., 0.])))
""".strip().split("\n---\n")


def printed(lib, program):
    env = {"torch": lib, "nn": lib.nn, "copy": copy, "pickle": pickle}
    try:
        exec(program, env)
        text = str(env.get("out"))
    except Exception as e:
        text = f"{type(e).__name__}: {e}"
    return text.replace("torch.", "rgrad.")


@pytest.mark.parametrize("program", PROGRAMS, ids=range(len(PROGRAMS)))
def test_module_behaviour_prints_as_pytorch(program):
    assert printed(rgrad, program) == printed(torch, program)
