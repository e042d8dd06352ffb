"""No op computes in NumPy: every public op runs on small tensors under ``sys.setprofile`` and
fails if a call enters NumPy while it runs (NumPy is for interop, printing and file I/O only).

What runs: the reference cases of tests/data (ops.json, table.json: their expressions and the
backward of each), then every public callable (``rgrad.*`` functions, ``Tensor`` methods,
``nn.functional``, ``linalg``, ``special``) called with the first of a few generic argument
patterns it accepts, then the calls of ``CALLS`` for what those patterns cannot run. A failing
attempt counts too: an error path that goes through NumPy is a finding as well. The coverage
test fails on a public callable that none of these ran and ``EXEMPT`` does not name, so a new
op cannot skip the check.
"""

from __future__ import annotations

import inspect
import json
import os
import pathlib
import sys

import numpy as np
import pytest

import rgrad
import rgrad.linalg
import rgrad.nn.functional as F
import rgrad.special

DATA = pathlib.Path(__file__).parent / "data"
NUMPY_DIR = os.path.dirname(np.__file__)

# Public callables that are not ops computing on tensors, by why. Everything else must run.
_INTEROP = "interop: converts to or from NumPy/DLPack by design"
_IO = "file I/O or pickling"
_PRINT = "printing"
_CONFIG = "process-wide configuration or state, not an op (calling it would change other tests)"
_MODULE = "a class, module or type, not an op"
EXEMPT = {
    "numpy": _INTEROP,
    "from_numpy": _INTEROP,
    "__array__": _INTEROP,
    "__array_wrap__": _INTEROP,
    "__array_priority__": _INTEROP,
    "__dlpack__": _INTEROP,
    "__dlpack_device__": _INTEROP,
    "from_dlpack": _INTEROP,
    "asarray": _INTEROP,
    "as_tensor": _INTEROP,
    "tolist": _INTEROP,
    "save": _IO,
    "load": _IO,
    "__reduce__": _IO,
    "__reduce_ex__": _IO,
    "__getstate__": _IO,
    "__setstate__": _IO,
    "__repr__": _PRINT,
    "__str__": _PRINT,
    "__format__": _PRINT,
    "set_printoptions": _PRINT,
    "manual_seed": _CONFIG,
    "seed": _CONFIG,
    "initial_seed": _CONFIG,
    "get_rng_state": _CONFIG,
    "set_rng_state": _CONFIG,
    "set_default_dtype": _CONFIG,
    "set_default_tensor_type": _CONFIG,
    "set_default_device": _CONFIG,
    "set_num_threads": _CONFIG,
    "set_num_interop_threads": _CONFIG,
    "set_grad_enabled": _CONFIG,
    "set_anomaly_enabled": _CONFIG,
    "set_detect_anomaly": _CONFIG,
    "use_deterministic_algorithms": _CONFIG,
    "set_deterministic_debug_mode": _CONFIG,
    "set_float32_matmul_precision": _CONFIG,
    "set_warn_always": _CONFIG,
    "set_flush_denormal": _CONFIG,
    "compile": _CONFIG,
}


def _is_numpy_frame(frame) -> bool:
    return frame.f_code.co_filename.startswith(NUMPY_DIR)


def _is_numpy_builtin(fn) -> bool:
    module = getattr(fn, "__module__", None) or ""
    if module.startswith("numpy"):
        return True
    owner = getattr(fn, "__self__", None)
    return owner is not None and type(owner).__module__.startswith("numpy")


# Printing may use NumPy (a tensor shown in an error message, e.g.): calls made while a frame
# of the printing module is on the stack are not findings.
PRINTING = os.path.join(os.path.dirname(rgrad.__file__), "_tensor_str.py")


def _printing(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_filename == PRINTING:
            return True
        frame = frame.f_back
    return False


class NumpyWatch:
    """A profile function that records the NumPy calls made while it is installed."""

    def __init__(self):
        self.entered: list[str] = []

    def __call__(self, frame, event, arg):
        if event == "call" and _is_numpy_frame(frame) and not _printing(frame):
            self.entered.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename})")
        elif event == "c_call" and _is_numpy_builtin(arg) and not _printing(frame):
            self.entered.append(getattr(arg, "__qualname__", repr(arg)))

    def run(self, fn):
        """``fn()`` under the watch: (result or None, the exception or None)."""
        self.entered = []
        sys.setprofile(self)
        try:
            return fn(), None
        except Exception as e:  # noqa: BLE001 - a refused call is fine, NumPy in it is not
            return None, e
        finally:
            sys.setprofile(None)


# ---- the reference cases --------------------------------------------------------------------


def _cases(name):
    cases = json.loads((DATA / f"{name}.json").read_text())["cases"]
    with np.load(DATA / f"{name}.npz") as f:
        arrays = {k: f[k] for k in f.files}
    return [(c, arrays) for c in cases]


REFERENCE = _cases("ops") + _cases("table")


def _inputs(case, arrays):
    env = {"torch": rgrad}
    for name, kind in case["inputs"].items():
        arr = arrays[f"{case['name']}/in/{name}"]
        dt = {"float64": rgrad.float64, "int64": rgrad.int64}.get(kind, rgrad.bool)
        t = rgrad.tensor(arr, dtype=dt)
        if kind == "float64" and name in case.get("grads", ()):
            t.requires_grad_(True)
        env[name] = t
    return env


@pytest.mark.parametrize("case, arrays", REFERENCE, ids=[c["name"] for c, _ in REFERENCE])
def test_reference_case_runs_without_numpy(case, arrays):
    env = _inputs(case, arrays)  # made from NumPy arrays before the watch starts
    watch = NumpyWatch()
    out, err = watch.run(lambda: eval(case["expr"], env))
    assert not watch.entered, f"{case['expr']} entered NumPy: {watch.entered[:5]}"
    if err is None and case.get("grads") and isinstance(out, rgrad.Tensor) and out.requires_grad:
        _, err = watch.run(lambda: out.float().sum().backward())
        assert not watch.entered, f"backward of {case['expr']} entered NumPy: {watch.entered[:5]}"


# ---- every public callable ------------------------------------------------------------------


def _public(namespace, names):
    out = {}
    for name in names:
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            continue
        fn = getattr(namespace, name, None)
        if fn is None or inspect.isclass(fn) or inspect.ismodule(fn):
            continue
        if callable(fn):
            out[name] = fn
    return out


def public_callables():
    """(label, callable, bound-to-Tensor?) of every public op."""
    found = []
    spaces = (("rgrad", rgrad), ("F", F), ("linalg", rgrad.linalg), ("special", rgrad.special))
    for label, ns in spaces:
        names = getattr(ns, "__all__", None) or dir(ns)
        for name, fn in _public(ns, names).items():
            found.append((f"{label}.{name}", name, fn, False))
    methods = [n for n in dir(rgrad.Tensor) if not n.startswith("_") or n in _DUNDER_OPS]
    for name in methods:
        attr = inspect.getattr_static(rgrad.Tensor, name, None)
        if isinstance(attr, property) or type(attr).__name__ == "getset_descriptor":
            continue
        if callable(getattr(rgrad.Tensor, name, None)):
            found.append((f"Tensor.{name}", name, name, True))
    return found


_DUNDER_OPS = {
    "__add__", "__sub__", "__mul__", "__truediv__", "__floordiv__", "__mod__", "__pow__",
    "__matmul__", "__and__", "__or__", "__xor__", "__invert__", "__neg__", "__abs__",
    "__lshift__", "__rshift__", "__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__",
    "__getitem__", "__setitem__", "__len__", "__bool__", "__float__", "__int__", "__index__",
    "__contains__", "__iter__", "__radd__", "__rsub__", "__rmul__", "__rtruediv__",
}  # fmt: skip


def _samples():
    x = rgrad.tensor([[0.5, -1.25, 2.0, 0.0], [3.0, 0.25, -0.75, 1.5], [1.0, 2.5, -2.0, 0.5]])
    sq = rgrad.tensor([[2.0, 0.5, 0.1], [0.5, 3.0, 0.2], [0.1, 0.2, 1.5]], dtype=rgrad.float64)
    i = rgrad.tensor([[2, 0, 1, 3], [1, 3, 3, 0], [0, 1, 2, 2]])
    b = rgrad.tensor([[True, False, True, True], [False, False, True, False], [True] * 4])
    v = rgrad.tensor([0.3, 0.1, 0.6])
    return x, sq, i, b, v


def _patterns():
    x, sq, i, b, v = _samples()
    g = rgrad.Generator().manual_seed(0)
    iv = rgrad.tensor([0, 2])
    ix = rgrad.tensor([[2, 0, 1, 1], [1, 2, 0, 0]])
    v64 = v.double()
    s, si = rgrad.tensor([1.5]), rgrad.tensor(2)
    b3 = (rgrad.arange(18.0).reshape(2, 3, 3) - 8) / 9
    x3, x4, x5 = (rgrad.arange(float(2 * 4**k)).reshape(1, 2, *(4,) * k) / 7 - 1 for k in (1, 2, 3))
    x4c = rgrad.arange(64.0).reshape(1, 4, 4, 4) / 30 - 1
    w3, w4, w5 = (rgrad.arange(float(6 * 2**k)).reshape(3, 2, *(2,) * k) / 9 for k in (1, 2, 3))
    wt3, wt4, wt5 = (rgrad.arange(float(6 * 2**k)).reshape(2, 3, *(2,) * k) / 9 for k in (1, 2, 3))
    return [
        (x,), (x, x), (x, 1), (x, 0), (sq,), (sq, sq), (v,), (v, v), (i,), (i, i), (b,), (b, b),
        (x, 2, 1), (x, i), (x, 1, i), (x, b), (x, b, x), (b, x, x), (x, x, x), (v, 2),
        (x, (2, 6)), (x, 0.5), (i, 4), (x, [0, 1]), (sq, v64), (x.t(), x), (x, x.t()),
        (), (s,), (si,), (iv,), (b3, b3), (b3, b3, b3), (sq, sq, sq), (v64, sq, v64), (sq, 2),
        (x, (3, 4)), (x, 0, 1), (x, 0, iv), (x, 0, iv, x[:2]), (x, 0, iv, 1.5), (x, 0, i, x),
        (x, 0, ix, x), (x, 0, ix, x, "sum"), (x, 0, 0, 2), (x, 1, 2, 1), (x, b, 0.5), (x, (4,)),
        ([x, x],),
        (x3, 2), (x4, 2), (x5, 2), (x4, 2, 2), (x3, w3), (x4, w4), (x5, w5), (x3, wt3),
        (x4, wt4), (x5, wt5), (x4c, 2), (x4,), (x5,), (x3,), (2, 3), (5,), (0, 5, (3,)),
        (0.0, 1.0, 5), ((2, 3), 1.5), (rgrad.float32, rgrad.int64), (x, 1, g), (v, 4, True, g),
    ]  # fmt: skip


def _call(entry, args):
    label, name, fn, is_method = entry
    if is_method:
        return getattr(args[0].clone(), name)(*args[1:])
    return fn(*args)


# Calls for the public ops no generic pattern runs: label -> a function of the samples.
CALLS = {
    "rgrad.cat": lambda x, sq, i, b, v: rgrad.cat([x, x]),
    "rgrad.stack": lambda x, sq, i, b, v: rgrad.stack([x, x]),
    "rgrad.einsum": lambda x, sq, i, b, v: rgrad.einsum("ij,kj->ik", x, x),
    "rgrad.tril_indices": lambda x, sq, i, b, v: rgrad.tril_indices(3, 4, 1),
    "rgrad.triu_indices": lambda x, sq, i, b, v: rgrad.triu_indices(4, 3, -1),
    "rgrad.zeros": lambda x, sq, i, b, v: rgrad.zeros(2, 3),
    "rgrad.ones": lambda x, sq, i, b, v: rgrad.ones(2, 3),
    "rgrad.arange": lambda x, sq, i, b, v: rgrad.arange(5),
    "rgrad.eye": lambda x, sq, i, b, v: rgrad.eye(3),
    "rgrad.tensor": lambda x, sq, i, b, v: rgrad.tensor([1.0, 2.0]),
    "rgrad.repeat_interleave": lambda x, sq, i, b, v: rgrad.repeat_interleave(
        x, rgrad.tensor([1, 0, 2]), dim=0
    ),
    "F.pdist": lambda x, sq, i, b, v: F.pdist(x),
    "F.embedding": lambda x, sq, i, b, v: F.embedding(
        i, x.t().contiguous(), padding_idx=0, max_norm=1.0, scale_grad_by_freq=True
    ),
    "F.embedding_bag": lambda x, sq, i, b, v: F.embedding_bag(
        rgrad.tensor([0, 1, 1]), x.t().contiguous(), rgrad.tensor([0, 2]), max_norm=1.0
    ),
    "F.multilabel_margin_loss": lambda x, sq, i, b, v: F.multilabel_margin_loss(
        x, rgrad.tensor([[3, 0, -1, 1], [1, -1, 0, 0], [0, 1, 2, 3]])
    ),
    "F.multi_margin_loss": lambda x, sq, i, b, v: F.multi_margin_loss(x, rgrad.tensor([0, 3, 1])),
    "F.one_hot": lambda x, sq, i, b, v: F.one_hot(i.reshape(-1)),
    "F.nll_loss": lambda x, sq, i, b, v: F.nll_loss(x, rgrad.tensor([0, 3, 1])),
    "F.cross_entropy": lambda x, sq, i, b, v: F.cross_entropy(x, rgrad.tensor([0, 3, 1])),
    "F.ctc_loss": lambda x, sq, i, b, v: F.ctc_loss(
        x.unsqueeze(1).log_softmax(2), rgrad.tensor([[1, 2]]), rgrad.tensor([3]), rgrad.tensor([2])
    ),
    "rgrad.ctc_loss": lambda x, sq, i, b, v: rgrad.ctc_loss(
        x.log_softmax(1), rgrad.tensor([1, 2]), [3], [2], 0, 2
    ),
    "linalg.lu_factor": lambda x, sq, i, b, v: rgrad.linalg.lu_factor(sq),
    "rgrad.lu_unpack": lambda x, sq, i, b, v: rgrad.lu_unpack(*rgrad.linalg.lu_factor(sq)),
    "rgrad.multinomial": lambda x, sq, i, b, v: rgrad.multinomial(v, 4, True),
    "rgrad.bernoulli": lambda x, sq, i, b, v: rgrad.bernoulli(v),
    "F.affine_grid": lambda x, sq, i, b, v: F.affine_grid(
        rgrad.eye(2, 3).unsqueeze(0), [1, 1, 3, 4], align_corners=False
    ),
    "F.grid_sample": lambda x, sq, i, b, v: F.grid_sample(
        x.reshape(1, 1, 3, 4),
        F.affine_grid(rgrad.eye(2, 3).unsqueeze(0) * 0.5, [1, 1, 2, 2], align_corners=False),
        align_corners=False,
    ),
    "F.batch_norm": lambda x, sq, i, b, v: F.batch_norm(
        x, rgrad.zeros(4), rgrad.ones(4), training=True
    ),
    "F.cosine_embedding_loss": lambda x, sq, i, b, v: F.cosine_embedding_loss(
        x, x.flip(0), rgrad.tensor([1, -1, 1])
    ),
    "F.max_unpool1d": lambda x, sq, i, b, v: F.max_unpool1d(
        *F.max_pool1d(x.unsqueeze(0), 2, return_indices=True), 2
    ),
    "F.max_unpool2d": lambda x, sq, i, b, v: F.max_unpool2d(
        *F.max_pool2d(x.reshape(1, 1, 3, 4), 2, return_indices=True), 2
    ),
    "F.max_unpool3d": lambda x, sq, i, b, v: F.max_unpool3d(
        *F.max_pool3d(x.reshape(1, 1, 1, 3, 4).expand(1, 1, 2, 3, 4), 2, return_indices=True), 2
    ),
    "F.multi_head_attention_forward": lambda x, sq, i, b, v: rgrad.nn.MultiheadAttention(4, 2)(
        x.unsqueeze(1), x.unsqueeze(1), x.unsqueeze(1)
    ),
    "Tensor.backward": lambda x, sq, i, b, v: (x.requires_grad_() * 2).sum().backward(),
    "Tensor.index_put": lambda x, sq, i, b, v: x.index_put((rgrad.tensor([0, 2]),), x[0]),
    "Tensor.index_put_": lambda x, sq, i, b, v: x.clone().index_put_(
        (rgrad.tensor([0, 2]),), x[0], accumulate=True
    ),
    "Tensor.register_hook": lambda x, sq, i, b, v: x.requires_grad_().register_hook(lambda g: g),
    "Tensor.retain_grad": lambda x, sq, i, b, v: (x.requires_grad_() * 2).retain_grad(),
    "linalg.lu_solve": lambda x, sq, i, b, v: rgrad.linalg.lu_solve(
        *rgrad.linalg.lu_factor(sq), sq
    ),
    "linalg.multi_dot": lambda x, sq, i, b, v: rgrad.linalg.multi_dot([sq, sq, sq]),
    "linalg.solve_triangular": lambda x, sq, i, b, v: rgrad.linalg.solve_triangular(
        sq.triu(), sq, upper=True
    ),
}


def _exercise(entry, watch):
    """Runs the entry under the watch: the first call that succeeds, or all attempts."""
    label = entry[0]
    samples = _samples()
    attempts = [lambda: CALLS[label](*samples)] if label in CALLS else []
    attempts += [lambda args=args: _call(entry, args) for args in _patterns()]
    findings = []
    for attempt in attempts:
        _, err = watch.run(attempt)
        if watch.entered:
            findings.append(watch.entered[:3])
        if err is None:
            return True, findings
    return False, findings


def _exempt(label):
    return label.split(".", 1)[1] in EXEMPT


ENTRIES = [e for e in public_callables() if not _exempt(e[0])]


SAMPLERS_WITH_A_GENERATOR = {
    "rand": lambda g: rgrad.rand(3, generator=g),
    "randn": lambda g: rgrad.randn(3, generator=g),
    "randint": lambda g: rgrad.randint(0, 5, (3,), generator=g),
    "randperm": lambda g: rgrad.randperm(5, generator=g),
    "normal": lambda g: rgrad.normal(rgrad.zeros(3), 1.0, generator=g),
    "bernoulli": lambda g: rgrad.bernoulli(rgrad.full((3,), 0.5), generator=g),
    "multinomial": lambda g: rgrad.multinomial(rgrad.ones(4), 2, generator=g),
    "uniform_": lambda g: rgrad.empty(3).uniform_(generator=g),
    "normal_": lambda g: rgrad.empty(3).normal_(generator=g),
    "exponential_": lambda g: rgrad.empty(3).exponential_(generator=g),
    "geometric_": lambda g: rgrad.empty(3).geometric_(0.5, generator=g),
    "random_": lambda g: rgrad.empty(3).random_(0, 5, generator=g),
    "bernoulli_": lambda g: rgrad.empty(3).bernoulli_(0.5, generator=g),
    "bernoulli_ (tensor p)": lambda g: rgrad.empty(3).bernoulli_(
        rgrad.full((3,), 0.5), generator=g
    ),
    "bernoulli (p)": lambda g: rgrad.bernoulli(rgrad.zeros(3), 0.5, generator=g),
    "Tensor.bernoulli": lambda g: rgrad.full((3,), 0.5).bernoulli(generator=g),
    "normal (numbers)": lambda g: rgrad.normal(0.0, 2.0, (3,), generator=g),
    "normal (tensors)": lambda g: rgrad.normal(rgrad.zeros(3), rgrad.ones(3), generator=g),
    "log_normal_": lambda g: rgrad.empty(3).log_normal_(generator=g),
    "cauchy_": lambda g: rgrad.empty(3).cauchy_(generator=g),
    "random_ (dtype range)": lambda g: rgrad.empty(3, dtype=rgrad.int32).random_(generator=g),
    "randperm (DataLoader shuffle)": lambda g: list(
        rgrad.utils.data.RandomSampler(range(5), generator=g)
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS_WITH_A_GENERATOR))
def test_samplers_with_a_generator_run_without_numpy(name):
    g = rgrad.Generator().manual_seed(0)
    watch = NumpyWatch()
    _, err = watch.run(lambda: SAMPLERS_WITH_A_GENERATOR[name](g))
    assert err is None, err
    assert not watch.entered, watch.entered[:5]


def test_tensor_image_transforms_run_without_numpy():
    from rgrad.vision.transforms import functional as TF

    img = rgrad.arange(48.0).reshape(3, 4, 4) / 47
    TF.pad(img, [1, 2])  # the first call imports PIL (whose import reads NumPy's version)
    watch = NumpyWatch()
    for mode in ("constant", "edge", "reflect", "symmetric"):
        _, err = watch.run(lambda mode=mode: TF.pad(img, [1, 2], padding_mode=mode))
        assert err is None and not watch.entered, (mode, err, watch.entered[:5])
    for fn in (
        lambda: TF.resize(img, [6, 6], antialias=False),
        lambda: TF.normalize(img, [0.5] * 3, [0.25] * 3),
        lambda: TF.hflip(img),
        lambda: TF.vflip(img),
        lambda: TF.center_crop(img, [2, 2]),
        lambda: TF.adjust_brightness(img, 1.5),
        lambda: TF.rgb_to_grayscale(img),
    ):
        fn()  # a first call may import what it needs (PIL reads NumPy's version)
        _, err = watch.run(fn)
        assert err is None and not watch.entered, (err, watch.entered[:5])


def test_init_orthogonal_has_no_numpy():
    w = rgrad.empty(3, 5)
    watch = NumpyWatch()
    watch.run(lambda: rgrad.nn.init.orthogonal_(w))
    assert not watch.entered, watch.entered[:5]


@pytest.fixture(scope="module")
def exercised():
    watch = NumpyWatch()
    ran, entered = {}, {}
    prev = rgrad.get_rng_state()
    try:
        for entry in ENTRIES:
            ok, findings = _exercise(entry, watch)
            ran[entry[0]] = ok
            if findings:
                entered[entry[0]] = findings
    finally:
        rgrad.set_rng_state(prev)
    return ran, entered


def test_public_callables_run_without_numpy(exercised):
    _, entered = exercised
    assert not entered, "these entered NumPy while running: " + "; ".join(
        f"{k}: {v[0]}" for k, v in sorted(entered.items())
    )


# Public callables whose generic attempts all fail and that have no entry in CALLS yet; each is
# a gap in this check, named so it stays visible (and the test below fails when one starts
# running, so the list only shrinks).
NOT_EXERCISED: set = set()


def test_every_public_callable_is_exercised_or_exempt(exercised):
    ran, _ = exercised
    missing = sorted(k for k, ok in ran.items() if not ok and k not in NOT_EXERCISED)
    assert not missing, f"{len(missing)} public callables never ran (add a CALLS entry): {missing}"
    stale = sorted(k for k in NOT_EXERCISED if ran.get(k))
    assert not stale, f"these run now; remove them from NOT_EXERCISED: {stale}"


def test_the_watch_sees_numpy():
    watch = NumpyWatch()
    watch.run(lambda: np.triu_indices(3, 1))
    assert watch.entered
    watch.run(lambda: np.add(np.ones(2), 1))
    assert watch.entered
    watch.run(lambda: rgrad.ones(2) + 1)
    assert not watch.entered
