"""NumPy only at the edges, driven by the reference data (the generic-pattern coverage, the
samplers with ``generator=`` and the image transforms are in test_numpy_free_ops.py): every
public op runs on small tensors under
``sys.setprofile`` and fails if any call enters NumPy while the op (and its backward) runs: a
'call' into a file of NumPy's package, or a 'c_call' of a function NumPy defines. Interop,
printing and file I/O are excepted by name (EXEMPT).

The ops are driven from data: the reference cases of tests/data (ops, table, linalg, sort,
sdpa, resample and the module cases), then CALLS below for what those files do not reach,
then one generic call per remaining public callable (``f(x)``, ``f(x, x)``, ``x.f()``, ...).
test_every_public_callable_is_exercised fails when a public function, Tensor method,
``nn.functional``, ``linalg`` or ``special`` function is neither run nor listed in EXEMPT, so a
new op must come with a way to run it."""

import inspect
import json
import math
import os
import pathlib
import sys
import traceback

import numpy as np
import pytest
from module_cases import load as load_modules

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F

DATA = pathlib.Path(__file__).parent / "data"
NUMPY_DIR = os.path.dirname(np.__file__) + os.sep
RGRAD_DIR = os.path.dirname(rgrad.__file__) + os.sep
T = rgrad.Tensor
# The extension's first conversion of a Python sequence checks NumPy's version once (its NumPy
# C-API binding initializes lazily): done here, outside any watch. A watch sees Python-level
# entries only; NumPy's C API called from the extension stays invisible to it.
rgrad.tensor([1])

# ---- the watch -------------------------------------------------------------------------------


class Watch:
    """Records the first NumPy entry and the names of rgrad functions called while active."""

    def __init__(self):
        self.numpy = None
        self.called = set()

    def _profile(self, frame, event, arg):
        if event == "call":
            path = frame.f_code.co_filename
            if path.startswith(NUMPY_DIR) and self.numpy is None:
                where = traceback.format_stack(frame, limit=6)
                self.numpy = f"{frame.f_code.co_name} ({path}), from:\n" + "".join(where)
            elif path.startswith(RGRAD_DIR) or path.startswith("<rgrad"):
                self.called.add(frame.f_code.co_name)
        elif event == "c_call":
            name = getattr(arg, "__name__", "")
            module = getattr(arg, "__module__", None) or ""
            owner = type(getattr(arg, "__self__", None))
            if (module.startswith("numpy") or owner.__module__.startswith("numpy")) and (
                self.numpy is None
            ):
                self.numpy = f"{module or owner.__module__}.{name}"
            else:
                self.called.add(name)

    def run(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` watched; returns (result, exception)."""
        previous = sys.getprofile()
        sys.setprofile(self._profile)
        try:
            return fn(*args, **kwargs), None
        except Exception as e:  # noqa: BLE001 - the checker only looks for NumPy entries
            return None, e
        finally:
            sys.setprofile(previous)


CALLED: set = set()  # every rgrad function name run by a checked case (for the coverage test)
RUN: set = set()  # the names of the generic and explicit calls that ran


def watched(fn, *args, **kwargs):
    w = Watch()
    out, err = w.run(fn, *args, **kwargs)
    CALLED.update(w.called)
    assert w.numpy is None, f"entered NumPy: {w.numpy}"
    return out, err


# ---- the reference cases ---------------------------------------------------------------------

EXPR_FILES = ["ops", "table", "linalg_conformance", "sort_ops", "sdpa", "resample"]
KINDS = {"int64": rgrad.int64, "bool": rgrad.bool, "float64": rgrad.float64}


def _expr_cases():
    out = []
    for stem in EXPR_FILES:
        cases = json.loads((DATA / f"{stem}.json").read_text())["cases"]
        with np.load(DATA / f"{stem}.npz") as f:
            arrays = {k: f[k] for k in f.files}
        out += [(stem, c, arrays) for c in cases if "expr" in c and "inputs" in c]
    return out


EXPR_CASES = _expr_cases()


def _inputs(case, arrays):
    env = {"torch": rgrad, "F": F, "nn": nn}
    for name, kind in case["inputs"].items():
        t = rgrad.tensor(arrays[f"{case['name']}/in/{name}"], dtype=KINDS.get(kind))
        env[name] = t.requires_grad_(name in case.get("grads", ()))
    return env


def _tensors(out):
    if isinstance(out, T):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    return []


def _backward(outs):
    """The gradient of the sum of the differentiable outputs, watched."""
    outs = [o for o in outs if o.requires_grad]
    if outs:
        watched(lambda: sum(o.sum() for o in outs).backward())


@pytest.mark.parametrize("item", EXPR_CASES, ids=[f"{s}/{c['name']}" for s, c, _ in EXPR_CASES])
def test_reference_case_stays_out_of_numpy(item):
    _, case, arrays = item
    env = _inputs(case, arrays)
    out, _ = watched(eval, case["expr"], env)
    _backward(_tensors(out))


MODULE_FAMILIES = ["conv", "norm", "pool", "resample", "rnn", "sdpa", "transformer"]
MODULE_CASES = []
for _family in MODULE_FAMILIES:
    _cases, _arrays = load_modules(_family)
    MODULE_CASES += [(_family, c, _arrays) for c in _cases]


@pytest.mark.parametrize("item", MODULE_CASES, ids=[f"{f}/{c['name']}" for f, c, _ in MODULE_CASES])
def test_module_case_stays_out_of_numpy(item):
    _, case, arrays = item
    m = eval(case["ctor"], {"nn": nn, "torch": rgrad}).double()
    if case["mode"] == "eval_after_train":
        m.eval()
    env = {"m": m, "torch": rgrad}
    for k, kind in case["inputs"].items():
        t = rgrad.tensor(arrays[f"{case['name']}/in/{k}"], dtype=KINDS.get(kind))
        env[k] = t.requires_grad_(k in case["grads"])
    out, _ = watched(eval, case["call"], env)
    outs = _tensors(out.data if hasattr(out, "batch_sizes") else out)
    _backward(outs)


# ---- explicit calls for what the reference files do not reach ---------------------------------


def _x(*shape):
    return rgrad.arange(1, 1 + math.prod(shape), dtype=rgrad.float64).reshape(shape) / 7


def _lu_unpack():
    LU, piv = rgrad.linalg.lu_factor(_x(2, 3, 3) + rgrad.eye(3, dtype=rgrad.float64))
    return rgrad.lu_unpack(LU, piv)


def _embedding():
    w = _x(5, 3).requires_grad_()
    idx = rgrad.tensor([[0, 2, 2], [4, 0, 1]])
    out = F.embedding(idx, w, padding_idx=1, max_norm=0.5, scale_grad_by_freq=True)
    out.sum().backward()
    return out


def _raises(kind, fn, *args):
    """An error path: the call must raise ``kind`` (and stay out of NumPy doing it)."""
    with pytest.raises(kind):
        fn(*args)


def _orthogonal():
    return nn.init.orthogonal_(rgrad.empty(3, 5), gain=2)


def _vision_pad():
    from rgrad.vision.transforms import functional as VF

    return VF.pad(_x(1, 3, 4), [2, 1, 1, 3], padding_mode="symmetric")


class _WrongGrad(rgrad.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2

    @staticmethod
    def backward(ctx, g):
        return g * 3


CALLS = {
    "scatter_add": lambda: rgrad.scatter_add(_x(3, 2), 0, rgrad.tensor([[2, 0]]), _x(1, 2)),
    "masked_scatter": lambda: (
        rgrad.masked_scatter(
            _x(2, 3).requires_grad_(), rgrad.tensor([True, False, True]), _x(5).requires_grad_()
        )
        .sum()
        .backward()
    ),
    "masked_scatter_": lambda: _x(2, 3).masked_scatter_(rgrad.tensor([True, False, True]), _x(4)),
    "tril_indices": lambda: rgrad.tril_indices(3, 4, 1),
    "triu_indices": lambda: rgrad.triu_indices(4, 3, -1),
    "repeat_interleave": lambda: (
        rgrad.repeat_interleave(rgrad.tensor([2, 0, 3])),
        _x(2, 3).repeat_interleave(rgrad.tensor([1, 2]), dim=0),
        _x(2, 3).repeat_interleave(2),
    ),
    "diag": lambda: (rgrad.diag(_x(3), -1), rgrad.diag(_x(3, 4), 1)),
    "diag_embed": lambda: rgrad.diag_embed(_x(2, 3), 1),
    "diagonal": lambda: rgrad.diagonal(_x(2, 3, 4), -1, 1, 2),
    "lu_unpack": _lu_unpack,
    "pdist": lambda: F.pdist(_x(4, 3).requires_grad_()).sum().backward(),
    "embedding": _embedding,
    "one_hot": lambda: F.one_hot(rgrad.tensor([0, 3, 1])),
    "multi_margin_loss": lambda: F.multi_margin_loss(_x(2, 4), rgrad.tensor([1, 3]), p=2),
    "multilabel_margin_loss": lambda: (
        F.multilabel_margin_loss(
            _x(2, 4).requires_grad_(), rgrad.tensor([[3, 0, -1, 1], [1, 2, 3, 0]])
        )
        .sum()
        .backward()
    ),
    "multilabel_soft_margin_loss": lambda: F.multilabel_soft_margin_loss(
        _x(2, 4), rgrad.tensor([[1.0, 0, 0, 1], [0, 1, 1, 0]], dtype=rgrad.float64)
    ),
    "nll_loss": lambda: F.nll_loss(_x(3, 4), rgrad.tensor([1, -100, 3]), ignore_index=-100),
    "cross_entropy": lambda: _raises(
        IndexError, F.cross_entropy, _x(3, 4), rgrad.tensor([1, 2, 5])
    ),  # the out-of-range target's message
    "binary_cross_entropy": lambda: F.binary_cross_entropy(_x(2, 3) / 2, _x(2, 3) / 3),
    "softshrink": lambda: _raises(RuntimeError, F.softshrink, _x(3), -1.0),  # its finfo
    "orthogonal_": _orthogonal,
    "pad": _vision_pad,
    # public callables none of the reference files reaches
    "addmv": lambda: rgrad.addmv(_x(2), _x(2, 3), _x(3)),
    "baddbmm": lambda: rgrad.baddbmm(_x(2, 2, 2), _x(2, 2, 3), _x(2, 3, 2)),
    "bitwise": lambda: [
        f(rgrad.tensor([5, 3]), rgrad.tensor([6, 1]))
        for f in (rgrad.bitwise_and, rgrad.bitwise_or, rgrad.bitwise_xor)
    ],
    "broadcast_to": lambda: rgrad.broadcast_to(_x(3), (2, 3)),
    "stacks": lambda: (
        [f([_x(2, 3), _x(2, 3)]) for f in (rgrad.column_stack, rgrad.dstack, rgrad.hstack)]
        + [rgrad.vstack([_x(3), _x(3)])]
    ),
    "logspace": lambda: rgrad.logspace(0, 2, 5),
    "promote_types": lambda: rgrad.promote_types(rgrad.int64, rgrad.float32),
    "randint": lambda: rgrad.randint(0, 5, (3,)),
    "Tensor.geometric_": lambda: rgrad.empty(3).geometric_(0.5),
    "Tensor.index_ops_": lambda: [
        _x(3, 2).index_add_(0, rgrad.tensor([0, 2]), _x(2, 2)),
        _x(3, 2).index_copy_(0, rgrad.tensor([0, 2]), _x(2, 2)),
        _x(3, 2).index_fill_(0, rgrad.tensor([1]), -1.0),
        _x(3, 2).scatter_(0, rgrad.tensor([[2, 0]]), _x(1, 2)),
        _x(3, 2).scatter_add_(0, rgrad.tensor([[2, 0]]), _x(1, 2)),
    ],
    "Tensor.views": lambda: [
        _x(2, 3).moveaxis(0, 1),
        _x(2, 3).transpose_(0, 1),
        _x(2, 3).unsqueeze_(0),
        (_x(2).requires_grad_() * 2).retain_grad(),
    ],
    "pools3d": lambda: [
        F.max_pool3d(_x(1, 1, 4, 4, 4), 2),
        F.avg_pool3d(_x(1, 1, 4, 4, 4), 2),
        F.adaptive_avg_pool3d(_x(1, 1, 4, 4, 4), 2),
        F.adaptive_max_pool3d(_x(1, 1, 4, 4, 4), 2),
        F.adaptive_max_pool3d_with_indices(_x(1, 1, 4, 4, 4), 2),
        F.max_pool3d_with_indices(_x(1, 1, 4, 4, 4), 2),
        F.lp_pool3d(_x(1, 1, 4, 4, 4), 2, 2),
        rgrad.max_pool3d(_x(1, 1, 4, 4, 4), 2),
    ],
    "pools2d": lambda: [
        F.adaptive_max_pool2d_with_indices(_x(1, 1, 4, 4), 2),
        F.max_pool2d_with_indices(_x(1, 1, 4, 4), 2),
        F.lp_pool2d(_x(1, 1, 4, 4), 2, 2),
    ],
    "max_unpool": lambda: [
        F.max_unpool1d(*F.max_pool1d(_x(1, 1, 4), 2, return_indices=True), 2),
        F.max_unpool3d(*F.max_pool3d(_x(1, 1, 2, 2, 2), 2, return_indices=True), 2),
    ],
    "conv_transpose3d": lambda: F.conv_transpose3d(_x(1, 1, 2, 2, 2), _x(1, 1, 2, 2, 2)),
    "bilinear": lambda: F.bilinear(_x(2, 3), _x(2, 4), _x(5, 3, 4)),
    "channel_shuffle": lambda: F.channel_shuffle(_x(1, 4, 2, 2), 2),
    "cosine_embedding_loss": lambda: F.cosine_embedding_loss(
        _x(2, 3), _x(2, 3).flip(0), rgrad.tensor([1, -1])
    ),
    "glu": lambda: F.glu(_x(2, 4)),
    "prelu": lambda: F.prelu(_x(2, 3) - 1, rgrad.tensor([0.25], dtype=rgrad.float64)),
    "rms_norm": lambda: F.rms_norm(_x(2, 3), (3,)),
    "upsample": lambda: [
        F.upsample(_x(1, 1, 2, 2), scale_factor=2),
        F.upsample_bilinear(_x(1, 1, 2, 2), scale_factor=2),
        F.upsample_nearest(_x(1, 1, 2, 2), scale_factor=2),
    ],
    "multi_head_attention_forward": lambda: nn.MultiheadAttention(4, 2).double()(
        _x(2, 1, 4), _x(2, 1, 4), _x(2, 1, 4)
    ),
    "gradcheck": lambda: [
        rgrad.autograd.gradcheck(lambda a: (a * a).sum(1), (_x(2, 3).requires_grad_(),)),
        # a wrong gradient: the mismatch path (its message prints the Jacobians) stays out too
        rgrad.autograd.gradcheck(
            _WrongGrad.apply, (_x(3).requires_grad_(),), raise_exception=False
        ),
    ],
    "gradgradcheck": lambda: rgrad.autograd.gradgradcheck(
        lambda a: (a * a * a).sum(), (_x(2, 2).requires_grad_(),)
    ),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_explicit_call_stays_out_of_numpy(name):
    _, err = watched(CALLS[name])
    assert err is None, repr(err)
    RUN.add(name)


# ---- every public callable -------------------------------------------------------------------

INTEROP = "interop with NumPy, DLPack or Python containers (NumPy allowed there)"
PRINTING = "printing (NumPy allowed in _tensor_str)"
IO = "file I/O and serialization"
NOT_AN_OP = "not an op: global state, configuration or a query of it"

EXEMPT = {
    **dict.fromkeys(
        ["numpy", "from_numpy", "from_dlpack", "tolist", "as_tensor", "data_ptr", "item"],
        INTEROP,
    ),
    **dict.fromkeys(["set_printoptions"], PRINTING),
    **dict.fromkeys(["save", "load"], IO),
    **dict.fromkeys(
        [
            "compile",
            "manual_seed",
            "seed",
            "initial_seed",
            "get_rng_state",
            "set_rng_state",
            "set_default_dtype",
            "set_num_threads",
            "set_float32_matmul_precision",
            "use_deterministic_algorithms",
            "register_hook",
            "backward",
        ],
        NOT_AN_OP,
    ),
}


def _public(owner):
    out = {}
    for name in dir(owner):
        if name.startswith("_"):
            continue
        obj = getattr(owner, name, None)
        if obj is None or inspect.isclass(obj) or inspect.ismodule(obj) or not callable(obj):
            continue
        out[name] = obj
    return out


SURFACES = {
    "rgrad": (rgrad, False),
    "Tensor": (T, True),
    "nn.functional": (F, False),
    "linalg": (rgrad.linalg, False),
    "special": (rgrad.special, False),
}


def _arguments():
    """Small argument lists tried in turn: the first that the callable accepts counts."""
    x = _x(3, 3) + 0.25
    return [
        (),
        (x,),
        (x, x.clone()),
        (x, 1),
        (x, 0),
        (x, 1, 1),
        (rgrad.tensor([2, 0, 1]),),
        (rgrad.tensor([True, False, True]),),
        (x, x.clone(), x.clone()),
        (x, rgrad.tensor([[0, 1, 2], [2, 1, 0], [1, 1, 1]])),
        (3,),
        (3, 3),
        (x, (1, 3)),
    ]


def _generic(surface, name, obj, method):
    """Calls ``obj`` with the first argument list it takes (on a fresh tensor as ``self``
    for a method), every attempt watched. True when one ran without raising."""
    for args in _arguments():
        if method:
            fn, args = getattr(_x(3, 3) + 0.25, name), args
        else:
            fn = obj
        try:
            _, err = watched(fn, *args)
        except AssertionError as e:
            raise AssertionError(f"{surface}.{name}{args!r:.60}: {e}") from None
        if err is None:
            return True
    return False


def _covered(name, obj):
    return name in CALLED or name in RUN or getattr(obj, "__name__", name) in CALLED


def _exercise_reference_cases():
    """The reference cases again when this test runs alone (``-k``), so CALLED is complete."""
    for item in EXPR_CASES:
        test_reference_case_stays_out_of_numpy(item)
    for item in MODULE_CASES:
        test_module_case_stays_out_of_numpy(item)
    for name in CALLS:
        test_explicit_call_stays_out_of_numpy(name)


def test_every_public_callable_is_exercised():
    if len(RUN) < len(CALLS):
        _exercise_reference_cases()
    missing, numpy = [], []
    for surface, (owner, method) in SURFACES.items():
        for name, obj in sorted(_public(owner).items()):
            if name in EXEMPT or _covered(name, obj):
                continue
            try:
                ran = _generic(surface, name, obj, method)
            except AssertionError as e:
                numpy.append(str(e).split(", from:")[0])
                continue
            if ran:
                RUN.add(name)
            else:
                missing.append(f"{surface}.{name}")
    assert not numpy, f"{len(numpy)} public callables enter NumPy: {numpy}"
    assert not missing, (
        f"{len(missing)} public callables are neither run by the NumPy checker nor EXEMPT "
        f"(add a case to CALLS or a reason to EXEMPT): {missing}"
    )


def test_exempt_names_exist():
    """EXEMPT lists only callables that exist (a stale entry hides nothing)."""
    public = set()
    for owner, _ in SURFACES.values():
        public |= set(_public(owner))
    assert set(EXEMPT) <= public, sorted(set(EXEMPT) - public)


# ---- the moved ops on wgpu: the same values, computed on the device ---------------------------

NO_WGPU = pytest.mark.skipif(
    os.environ.get("RGRAD_REQUIRE_WGPU") != "1" and not rgrad.wgpu.is_available(),
    reason="no wgpu adapter",
)

DEVICE_CALLS = {
    "tril_indices": lambda d, x: rgrad.tril_indices(3, 4, 1, device=d),
    "triu_indices": lambda d, x: rgrad.triu_indices(4, 3, -1, device=d),
    "repeat_interleave": lambda d, x: x.repeat_interleave(rgrad.tensor([1, 0, 2], device=d), 0),
    "repeat_interleave_counts": lambda d, x: rgrad.repeat_interleave(
        rgrad.tensor([2, 0, 3], device=d)
    ),
    "diagonal": lambda d, x: x.diagonal(-1),
    "diag_embed": lambda d, x: rgrad.diag_embed(x, 1),
    "pdist": lambda d, x: F.pdist(x),
    "one_hot": lambda d, x: F.one_hot(rgrad.tensor([0, 3, 1], device=d)),
    "multilabel_margin_loss": lambda d, x: F.multilabel_margin_loss(
        x, rgrad.tensor([[2, 0, -1], [1, -1, 0], [0, 1, 2]], device=d)
    ),
    "multi_margin_loss": lambda d, x: F.multi_margin_loss(x, rgrad.tensor([1, 0, 2], device=d)),
}


@pytest.mark.wgpu
@NO_WGPU
@pytest.mark.parametrize("name", sorted(DEVICE_CALLS))
def test_moved_op_on_wgpu_stays_on_the_device(name):
    x = _x(3, 3).float()
    want = DEVICE_CALLS[name]("cpu", x)
    got = DEVICE_CALLS[name]("wgpu", x.to("wgpu"))
    assert str(got.device).startswith("wgpu")
    assert got.dtype == want.dtype and got.shape == want.shape
    assert rgrad.allclose(got.cpu(), want, atol=1e-6), (got, want)
