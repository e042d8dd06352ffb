"""The calls of rgrad's hostile-input fuzz and the worker process that runs them.

Every call is Python source (a few statements ending in ``R = ...``) written against a small
prelude (``import rgrad``, ``nn``, ``F``, ``optim``, ``np`` and the helpers below), so a failing
call is printed as a paste-ready reproducer. The generator covers every public callable: the
functions of ``rgrad``, ``rgrad.linalg``, ``rgrad.nn.functional`` and ``rgrad.nn.init``,
``Tensor``'s methods, ``nn`` modules (constructor, then forward), optimizers (constructor, then
``step``) and lr schedulers (constructor, then ``step``). Arguments are chosen by parameter name
(a tensor for ``input``, a size for ``size``, ...) or at random, from pools of hostile values:
sizes around 2**31, 2**32, 2**62 and 2**63, negative sizes, NaN and infinite floats, lists
nested 100,000 deep or containing themselves, wrong types, empty, expanded (stride-0) and
non-contiguous tensors, int64 extremes, NumPy arrays and scalars.

The worker (``python tools/fuzz_calls.py --worker FD MODE ARG``) runs calls one by one under
an address-space limit (``resource.setrlimit(RLIMIT_AS)``) and reports on file descriptor FD:
``B <index> <json source>`` before each call and ``E <index> <json outcome>`` after it. The
supervisor (tools/fuzz_campaign.py) turns a missing ``E`` into a crash or a hang.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import random
import re
import sys

# ---- the prelude ---------------------------------------------------------------------------

HEADER = (
    "import numpy as np\n"
    "import rgrad\n"
    "import rgrad.nn as nn\n"
    "import rgrad.nn.functional as F\n"
    "import rgrad.optim as optim\n"
)

# Helpers a call may name; a reproducer includes those it names.
HELPERS = {
    "DEEP": "DEEP = [0.5]\nfor _ in range(100_000):\n    DEEP = [DEEP]\n",
    "SELF": "SELF = []\nSELF.append(SELF)\n",
    "opt_step": (
        "def opt_step(cls, params, *args, **kwargs):\n"
        "    opt = cls(params, *args, **kwargs)\n"
        "    for _ in range(2):\n"
        "        opt.zero_grad()\n"
        "        loss = sum((p * p).sum() for g in opt.param_groups for p in g['params'])\n"
        "        loss.backward()\n"
        "        opt.step()\n"
        "    return [p for g in opt.param_groups for p in g['params']]\n"
    ),
    "sched_steps": (
        "def sched_steps(cls, *args, **kwargs):\n"
        "    p = nn.Parameter(rgrad.ones(2))\n"
        "    opt = optim.SGD([p], lr=0.1)\n"
        "    sched = cls(opt, *args, **kwargs)\n"
        "    for _ in range(3):\n"
        "        opt.step()\n"
        "        sched.step(1.0) if cls is optim.lr_scheduler.ReduceLROnPlateau else sched.step()\n"
        "    return [g['lr'] for g in opt.param_groups]\n"
    ),
}


def reproducer(src: str) -> str:
    """The call as a script: the imports, the helpers it names, the call."""
    helpers = "".join(code for name, code in HELPERS.items() if re.search(rf"\b{name}\b", src))
    return HEADER + helpers + src


# ---- value pools (Python source) -----------------------------------------------------------

HUGE_INTS = [
    "2**31",
    "2**31 - 1",
    "2**32",
    "2**62",
    "2**62 + 1",
    "2**63 - 1",
    "2**63",
    "2**64",
    "-1",
    "-2",
    "-2**31",
    "-2**63",
]
SMALL_INTS = ["0", "1", "2", "3", "-1", "5"]
FLOATS = [
    "float('nan')",
    "float('inf')",
    "-float('inf')",
    "1e308",
    "-1e308",
    "5e-324",
    "1e18",
    "1e-18",
    "-0.0",
    "0.5",
    "2.5",
    "-3.0",
]
SHAPES = [
    "(2**31, 2**31)",
    "(2**32, 2**32)",
    "(2**62 + 1, 4)",
    "(2**63 - 1,)",
    "(0, 2**63 - 1)",
    "(2**63 - 1, 0)",
    "(2**31,)",
    "(2**32,)",
    "(2**33,)",
    "(2**62, 2**62)",
    "(2**31, 2)",
    "(-1,)",
    "(-2**63,)",
    "(3, -1)",
    "(2, 3)",
    "(1, 3)",
    "(6,)",
    "()",
    "[]",
    "[2, 3]",
    "(0,)",
]
MISC = [
    "None",
    "True",
    "False",
    "''",
    "'abc'",
    "'mean'",
    "'sum'",
    "'none'",
    "'cpu'",
    "rgrad.float32",
    "rgrad.float64",
    "rgrad.int64",
    "rgrad.int32",
    "rgrad.bool",
    "rgrad.float16",
    "rgrad.bfloat16",
    "rgrad.uint8",
    "rgrad.int8",
    "rgrad.int16",
    "int",
    "object()",
    "Ellipsis",
    "slice(None, 2**63)",
    "slice(-2**63, None, 2**62)",
    "slice(None, None, -1)",
    "slice(1, None, 2)",
    "(1+2j)",
    "b'x'",
    "{}",
    "lambda *a, **k: None",
]
LISTS = [
    "[]",
    "[[]]",
    "DEEP",
    "SELF",
    "[SELF]",
    "[[1, 2], [3]]",
    "[1, [2]]",
    "[2**63]",
    "[-2**63 - 1]",
    "[2**64, 1]",
    "[2**63 - 1, -2**63]",
    "[float('nan'), float('inf')]",
    "['a', 'b']",
    "[None]",
    "[[1.5, 2.0], [3.0, 4.0]]",
    "[True, 2.5]",
    "[0, 1, 2]",
    "[[0, 1], [1, 0]]",
    "[2**31] * 3",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
]
NUMPY = [
    "np.array([1, 2])",
    "np.zeros((2, 3), np.float32)",
    "np.arange(12.0).reshape(3, 4)[:, ::2]",
    "np.broadcast_to(np.ones(3), (4, 3))",
    "np.array(np.iinfo(np.uint64).max)",
    "np.array([np.iinfo(np.int64).min])",
    "np.float64('nan')",
    "np.int64(-2**63)",
    "np.uint64(2**64 - 1)",
    "np.int32(7)",
    "np.bool_(True)",
    "np.array(3.5)",
    "np.array(['a'])",
    "np.array([object()], dtype=object)",
    "np.ones(3, np.float16)",
    "np.array([1 + 2j])",
    "np.empty((0, 3))",
    "np.uint8(255)",
]
TENSORS = [
    "rgrad.tensor(2.0)",
    "rgrad.tensor(3)",
    "rgrad.tensor(True)",
    "rgrad.tensor(-2**63)",
    "rgrad.zeros(0)",
    "rgrad.zeros(2, 0, 3)",
    "rgrad.zeros(1, 0).expand(3, 0)",
    "rgrad.ones(1, 3).expand(4, 3)",
    "rgrad.tensor(1.5).expand(5)",
    "rgrad.zeros(3, 1).expand(3, 5)",
    "rgrad.arange(12.0).reshape(3, 4).t()",
    "rgrad.arange(12.0).reshape(3, 4)[:, ::2]",
    "rgrad.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1)",
    "rgrad.randn(4, 4)[1:, 1:]",
    "rgrad.tensor([-2**63, 2**63 - 1])",
    "rgrad.tensor([2**31 - 1, -2**31], dtype=rgrad.int32)",
    "rgrad.tensor([[1.0, float('nan')], [float('inf'), -float('inf')]])",
    "rgrad.tensor([1e308, -1e308, 5e-324], dtype=rgrad.float64)",
    "rgrad.randn(2, 3, requires_grad=True)",
    "(rgrad.randn(3, requires_grad=True) * 2)",
    "rgrad.randn(5, requires_grad=True)[::2]",
    "rgrad.randn(2, 3, dtype=rgrad.float64)",
    "rgrad.randn(1, 3, 4, 4)",
    "rgrad.randn(2, 3, 4)",
    "rgrad.tensor([True, False, True])",
    "rgrad.arange(6, dtype=rgrad.int32).reshape(2, 3)",
    "rgrad.tensor([0, 1, 2])",
    "rgrad.tensor([[0], [1]])",
    "rgrad.tensor([2, -1, 2**62])",
    "rgrad.randn(2, 3).half()",
    "rgrad.randn(3, 4, requires_grad=True).bfloat16()",
    "rgrad.tensor([[1.0, float('nan')], [65504.0, -float('inf')]], dtype=rgrad.float16)",
    "rgrad.tensor([0, 200, 255], dtype=rgrad.uint8)",
    "rgrad.tensor([-128, 5, 127], dtype=rgrad.int8)",
    "rgrad.arange(6, dtype=rgrad.int16).reshape(2, 3)",
]
# Derived from X, the tensor a method is called on: compatible shapes, dims in range.
SELF_DERIVED = [
    "X",
    "X.detach()",
    "X.shape",
    "X.dim()",
    "X.dim() - 1",
    "X.numel()",
    "X > 0",
    "(X * 0).long()",
    "[X, X]",
    "X.t() if X.dim() == 2 else X",
]
DTYPES = [
    "rgrad.float32",
    "rgrad.float64",
    "rgrad.int64",
    "rgrad.int32",
    "rgrad.bool",
    "rgrad.float16",
    "rgrad.bfloat16",
    "rgrad.uint8",
    "rgrad.int8",
    "rgrad.int16",
]

POOLS = {
    "tensor": TENSORS,
    "small": SMALL_INTS,
    "huge": HUGE_INTS,
    "float": FLOATS,
    "shape": SHAPES,
    "misc": MISC,
    "list": LISTS,
    "numpy": NUMPY,
    "self": SELF_DERIVED,
    "dtype": DTYPES,
}
ANY_WEIGHTS = {
    "tensor": 26,
    "small": 12,
    "huge": 14,
    "float": 10,
    "shape": 10,
    "misc": 8,
    "list": 8,
    "numpy": 6,
    "self": 6,
}

# Parameter names -> the pools a plausible value comes from.
NAME_POOLS = [
    (
        r"^(input\d?|self|other|tensors?\d?|x\d?|y|target|weight|bias|mask|src|index|indices"
        r"|source|values?|mat\d?|vec\d?|batch\d|anchor|positive|negative|var|end|boundaries"
        r"|sorted_sequence|elements|test_elements|running_mean|running_var|log_input|A|B)$",
        ["tensor", "self"],
    ),
    (
        r"^(dims?|axis|dim\d|start_dim|end_dim|diagonal|k|offset|groups|padding_idx"
        r"|ignore_index|chunks|sections|shifts|repeats|split_size_or_sections|num_classes"
        r"|steps|correction|n|generator)$",
        ["small", "huge"],
    ),
    (
        r"^(size|sizes|shape|normalized_shape|num_features|in_features\d?|out_features"
        r"|embedding_dim|num_embeddings|num_groups|num_channels|pad|unflattened_size"
        r"|output_size|high|low|start|T_max|T_0|step_size|milestones|total_steps)$",
        ["shape", "huge", "small"],
    ),
    (
        r"^(p|alpha|beta|lr|eps|momentum|value|fill_value|min|max|margin|negative_slope"
        r"|lambd|threshold|weight_decay|gamma|lower|upper|max_norm|norm_type|exponent"
        r"|scale_grad_by_freq|dampening|rho|lr_decay|initial_accumulator_value|betas|etas"
        r"|step_sizes|momentum_decay|t0|lambd|base_lr|max_lr|factor|end_factor"
        r"|start_factor|eta_min|power|total_iters|mean|std|rtol|atol)$",
        ["float", "small", "huge"],
    ),
    (r"^(data|obj|ndarray|array|sequence|seq)$", ["list", "numpy", "tensor", "float"]),
    (r"^dtype$", ["dtype", "misc"]),
    (r"^reduction$", ["misc"]),
    (
        r"^(keepdim|requires_grad|inplace|sorted|largest|descending|stable|unbiased|training"
        r"|amsgrad|nesterov|maximize|return_counts|return_inverse|right|out_int32|log_target"
        r"|full|elementwise_affine|affine|track_running_stats|upper|as_tuple)$",
        ["misc", "small"],
    ),
]
NAME_POOLS = [(re.compile(rx), pools) for rx, pools in NAME_POOLS]

# Never called: they reach outside the process or block (the wgpu device is fuzzed by the
# device tests, files are written only by save, in the worker's scratch directory).
SKIP = {
    "rgrad.compile",
    "rgrad.set_printoptions",  # changes every later repr; fuzzed with explicit cases instead
}


# ---- the callables --------------------------------------------------------------------------


def _public_functions(module, prefix):
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    out = []
    for name in sorted(set(names)):
        obj = getattr(module, name, None)
        if obj is None or inspect.ismodule(obj) or inspect.isclass(obj) or not callable(obj):
            continue
        if f"{prefix}.{name}" not in SKIP:
            out.append((f"{prefix}.{name}", obj))
    return out


def _tensor_methods(rgrad):
    skip = {
        "__new__",
        "__init__",
        "__init_subclass__",
        "__subclasshook__",
        "__getattribute__",
        "__setattr__",
        "__delattr__",
        "__dir__",
        "__sizeof__",
        "__reduce__",
        "__reduce_ex__",
        "__class__",
        "__format__",
        "__del__",
    }
    out = []
    for name in sorted(dir(rgrad.Tensor)):
        if name in skip or (name.startswith("_") and not name.startswith("__")):
            continue
        obj = getattr(rgrad.Tensor, name, None)
        if callable(obj):
            out.append((name, obj))
    return out


def _classes(module, base, prefix, skip=()):
    out = []
    for name in sorted(dir(module)):
        obj = getattr(module, name)
        if (
            inspect.isclass(obj)
            and issubclass(obj, base)
            and obj is not base
            and not name.startswith("_")
            and name not in skip
        ):
            out.append((f"{prefix}.{name}", obj))
    return out


class Callables:
    """Every public callable, grouped by how a call is written."""

    def __init__(self):
        import rgrad
        import rgrad.linalg
        import rgrad.nn as nn
        import rgrad.nn.functional as F
        import rgrad.nn.init
        import rgrad.optim as optim

        self.functions = (
            _public_functions(rgrad, "rgrad")
            + _public_functions(rgrad.linalg, "rgrad.linalg")
            + _public_functions(rgrad.autograd, "rgrad.autograd")
        )
        self.functional = _public_functions(F, "F") + _public_functions(nn.init, "nn.init")
        self.methods = _tensor_methods(rgrad)
        containers = {"Module", "ModuleDict", "ModuleList", "ParameterDict", "ParameterList"}
        self.modules = _classes(nn, nn.Module, "nn", containers) + [
            (f"nn.{n}", getattr(nn, n)) for n in ["Sequential", "ModuleList", "ParameterList"]
        ]
        self.optimizers = _classes(optim, optim.Optimizer, "optim")
        sched = optim.lr_scheduler
        self.schedulers = [
            (name, cls)
            for name, cls in _classes(sched, object, "optim.lr_scheduler")
            if hasattr(cls, "step") and name.split(".")[-1] not in {"Optimizer", "Tensor"}
        ]
        self._signatures = {}

    def signature(self, obj):
        key = id(obj)
        if key not in self._signatures:
            try:
                self._signatures[key] = list(inspect.signature(obj).parameters.values())
            except (TypeError, ValueError):
                self._signatures[key] = None
        return self._signatures[key]


# ---- call generation ------------------------------------------------------------------------


class Generator:
    def __init__(self, callables: Callables):
        self.c = callables

    def value(self, rng, pools=None):
        if pools is None or rng.random() < 0.3:
            names, weights = zip(*ANY_WEIGHTS.items())
            pool = rng.choices(names, weights)[0]
        else:
            pool = rng.choice(pools)
        return rng.choice(POOLS[pool])

    def for_param(self, rng, name):
        for rx, pools in NAME_POOLS:
            if rx.match(name):
                return self.value(rng, pools)
        return self.value(rng)

    def arguments(self, rng, obj, skip_first=False):
        """Positional and keyword arguments (source) for a call of obj."""
        params = self.c.signature(obj)
        if params is None or rng.random() < 0.15:
            args = [self.value(rng) for _ in range(rng.randint(0, 3))]
            return ", ".join(args)
        if skip_first and params:
            params = params[1:]
        args, kwargs = [], []
        for p in params:
            if p.kind is p.VAR_POSITIONAL:
                args += [self.for_param(rng, "size") for _ in range(rng.randint(0, 3))]
            elif p.kind is p.VAR_KEYWORD:
                continue
            elif p.default is p.empty and p.kind is not p.KEYWORD_ONLY:
                if rng.random() < 0.93:
                    args.append(self.for_param(rng, p.name))
            elif rng.random() < 0.25:
                kwargs.append(f"{p.name}={self.for_param(rng, p.name)}")
        if rng.random() < 0.05:
            args.append(self.value(rng))  # one too many
        return ", ".join(args + kwargs)

    def call(self, rng):
        """(op name, source) of one random call."""
        op, src = self._call(rng)
        if re.search(r"\bX\b", src) and not src.startswith("X = "):
            src = f"X = {rng.choice(TENSORS)}\n" + src
        return op, src

    def _call(self, rng):
        kind = rng.choices(
            ["function", "method", "functional", "module", "optimizer", "scheduler"],
            [34, 32, 12, 12, 5, 5],
        )[0]
        x = rng.choice(TENSORS)
        if kind == "method":
            name, obj = rng.choice(self.c.methods)
            return f"Tensor.{name}", f"X = {x}\nR = X.{name}({self.arguments(rng, obj, True)})\n"
        if kind in ("function", "functional"):
            name, obj = rng.choice(self.c.functions if kind == "function" else self.c.functional)
            return name, f"R = {name}({self.arguments(rng, obj)})\n"
        if kind == "module":
            name, cls = rng.choice(self.c.modules)
            inputs = ", ".join(
                rng.choice(TENSORS) if rng.random() < 0.85 else self.value(rng)
                for _ in range(rng.choice([1, 1, 1, 2, 2, 3]))
            )
            return name, f"M = {name}({self.arguments(rng, cls)})\nR = M({inputs})\n"
        if kind == "optimizer":
            name, cls = rng.choice(self.c.optimizers)
            p = rng.choice(["[P]", "[P]", "[P]", "[{'params': [P]}]", self.value(rng)])
            args = self.arguments(rng, cls, skip_first=True)
            param = rng.choice(
                ["nn.Parameter(rgrad.randn(3))", "nn.Parameter(rgrad.zeros(2, 0))"]
                + [f"nn.Parameter({t})" for t in TENSORS[:12]]
            )
            sep = ", " if args else ""
            return name, f"P = {param}\nR = opt_step({name}, {p}{sep}{args})\n"
        name, cls = rng.choice(self.c.schedulers)
        args = self.arguments(rng, cls, skip_first=True)
        return name, f"R = sched_steps({name}{', ' if args else ''}{args})\n"


def random_calls(seed, start, count):
    """Calls start .. start+count of the campaign with this seed (each index its own RNG, so
    any range can be regenerated)."""
    gen = Generator(Callables())
    for i in range(start, start + count):
        rng = random.Random(f"{seed}:{i}")
        yield i, *gen.call(rng)


# ---- checking what a call returned ----------------------------------------------------------

READ_LIMIT = 1 << 16  # elements read back in full through numpy() and tolist()


def _nested_shape(value, depth):
    """The shape of nested lists as far as it is visible (up to the first empty list)."""
    shape = []
    while depth and isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value, depth = value[0], depth - 1
    return tuple(shape)


def check_tensor(t, rgrad, np):
    """None, or (tag, detail) when t is not a consistent tensor."""
    shape = tuple(t.shape)
    if any(not isinstance(s, int) or not 0 <= s < 2**63 for s in shape):
        return "shape", f"shape {shape} has a size that is negative, past int64 or not an int"
    expected = math.prod(shape)
    n = t.numel()
    if n != expected:
        return "numel", f"numel() is {n} but shape {list(shape)} holds {expected} elements"
    if len(t.stride()) != len(shape) or t.dim() != len(shape):
        return "layout", f"stride() {t.stride()} / dim() {t.dim()} for shape {shape}"
    d = t.detach()
    if expected and d.device.type == "cpu":
        # The first and the last element read one by one (a layout past its storage would
        # read outside it; a huge expanded tensor is fine).
        try:
            d[(0,) * len(shape)].item()
            d[tuple(s - 1 for s in shape)].item()
        except Exception as e:
            return f"read:{type(e).__name__}", f"indexing its first/last element raised: {e!r}"
    # tolist() of shape (2**31, 0) is 2**31 empty lists, and NumPy refuses a dimension whose
    # bytes pass 2**63 even when the array is empty (PyTorch's behaviour too): read back only
    # what is small counted without its empty dims.
    if math.prod(s for s in shape if s) <= READ_LIMIT and d.device.type == "cpu":
        if d.dtype == rgrad_bfloat16():
            # NumPy has no bfloat16 (numpy() is PyTorch's TypeError): read its exact float32.
            d = d.float()
        try:
            a = d.numpy()
            listed = d.tolist()
        except Exception as e:
            return f"read:{type(e).__name__}", f"numpy()/tolist() raised {e!r}"
        if a.shape != shape:
            return "numpy", f"numpy() has shape {a.shape}, the tensor {shape}"
        listed_shape = _nested_shape(listed, len(shape))
        if listed_shape != shape[: len(listed_shape)] or (0 not in shape and listed_shape != shape):
            return "tolist", f"tolist() is nested as {listed_shape}, the tensor is {shape}"
        if expected and not np.array_equal(
            a, np.asarray(listed, dtype=a.dtype), equal_nan=a.dtype.kind in "fc"
        ):
            return "tolist", "numpy() and tolist() disagree"
    return None


def rgrad_bfloat16():
    import rgrad

    return rgrad.bfloat16


def check_result(value, rgrad, np, depth=0):
    if isinstance(value, rgrad.Tensor):
        bad = check_tensor(value, rgrad, np)
        if bad:
            return bad
        repr(value)
        return None
    if depth > 1:
        return None
    if isinstance(value, (tuple, list)):
        for v in list(value)[:8]:
            bad = check_result(v, rgrad, np, depth + 1)
            if bad:
                return bad
    elif isinstance(value, rgrad.nn.Module):
        for v in list(value.parameters())[:8] + list(value.buffers())[:8]:
            bad = check_result(v, rgrad, np, depth + 1)
            if bad:
                return bad
    return None


# ---- the worker ---------------------------------------------------------------------------

# 3 GiB: a worker's own address space is ~1.1 GiB, so every huge size the fuzz draws (the
# smallest is 2**31 - 1 one-byte bools, 2 GiB) fails fast with PyTorch's out-of-memory error
# instead of paging in 2 GiB, which took 25-80 s on a loaded 2-core machine (past the per-call
# timeout), while allocations of up to ~1.5 GiB still succeed.
MEMORY_LIMIT = int(os.environ.get("RGRAD_FUZZ_MEMORY", str(3 << 30)))


def _classify_exception(e):
    """'error' for an Exception (fine), 'panic' for a Rust panic or another BaseException."""
    if isinstance(e, Exception):
        return "error"
    return "panic"


def _reset(rgrad, defaults):
    rgrad.set_grad_enabled(True)
    rgrad.set_default_dtype(rgrad.float32)
    try:
        if rgrad.get_num_threads() != defaults["threads"]:
            rgrad.set_num_threads(defaults["threads"])
    except BaseException:
        pass
    try:
        rgrad.autograd.set_detect_anomaly(False)
        rgrad.use_deterministic_algorithms(False)
    except BaseException:
        pass


def worker(fd, mode, arg):
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import faulthandler
    import warnings

    faulthandler.enable()
    warnings.simplefilter("ignore")
    import numpy as np

    import rgrad

    prelude = {}
    exec(HEADER + "".join(HELPERS.values()), prelude)
    defaults = {"threads": rgrad.get_num_threads()}
    if mode == "random":
        seed, start, count = arg.split(":")
        calls = random_calls(seed, int(start), int(count))
    else:  # a JSON file: [[index, op, src], ...]
        with open(arg) as f:
            calls = [tuple(c) for c in json.load(f)]

    def report(tag, index, payload):
        os.write(fd, f"{tag} {index} {json.dumps(payload)}\n".encode())

    for index, op, src in calls:
        report("B", index, [op, src])
        ns = dict(prelude)
        outcome = {"kind": "ok"}
        try:
            exec(src, ns)
            bad = check_result(ns.get("R"), rgrad, np) or check_result(ns.get("X"), rgrad, np)
            if bad:
                outcome = {"kind": "inconsistent", "tag": bad[0], "detail": bad[1]}
            else:
                r = ns.get("R")
                if (
                    isinstance(r, rgrad.Tensor)
                    and r.requires_grad
                    and r.dtype.is_floating_point
                    and r.numel() <= READ_LIMIT  # a huge expanded view: legitimately slow
                ):
                    r.sum().backward()
        except BaseException as e:
            kind = _classify_exception(e)
            if kind == "error":
                outcome = {"kind": "error", "type": type(e).__name__}
            else:
                outcome = {"kind": "panic", "type": type(e).__name__, "detail": str(e)[:300]}
        finally:
            ns.clear()
            _reset(rgrad, defaults)
        report("E", index, outcome)
        if outcome["kind"] == "panic":
            # What the panic left behind (a poisoned lock, a broken pool) would be blamed on
            # the next calls: the supervisor starts a fresh worker for them.
            report("D", index, "restart")
            return
    report("D", 0, None)


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--worker":
    worker(int(sys.argv[2]), sys.argv[3], sys.argv[4])
