"""Bad inputs never crash: a hypothesis fuzz throws random shapes, dtypes, dims (also out of
range), indices, None, strings, nested lists and keyword arguments at every public op that it
can enumerate -- the methods and properties of rgrad.Tensor and the functions in rgrad's
namespace -- and checks that each call returns or raises an ``Exception``. A Rust panic
surfaces as pyo3's ``PanicException``, a ``BaseException`` that is not an ``Exception``: that
fails, and so does a crash (the fuzz runs in a subprocess) or a hang (the subprocess has a
time limit).

Each call is generated as Python source, logged before it runs: a failure message quotes it,
ready to paste as a reproducer. Sizes and ints are kept small so that no call can allocate much.

    RGRAD_FUZZ_EXAMPLES=20000 RGRAD_FUZZ_SEED=7 pytest tests/test_bad_inputs.py   # explore
"""

import math
import os
import re
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

import rgrad

EXAMPLES = int(os.environ.get("RGRAD_FUZZ_EXAMPLES", "2500"))
SEED = os.environ.get("RGRAD_FUZZ_SEED")  # unset: the same calls on every run
TIMEOUT = float(os.environ.get("RGRAD_FUZZ_TIMEOUT", "150"))

# ---- what is called -------------------------------------------------------------------------

# Never called: they write files, or take the process' global state somewhere the next calls
# cannot undo.
SKIP_FUNCTIONS = {"save", "load"}
SKIP_TENSOR_ATTRS = {
    "__new__",
    "__init__",
    "__dict__",
    "__doc__",
    "__module__",
    "__weakref__",
    "__getattribute__",
    "__setattr__",
    "__delattr__",
    "__init_subclass__",
    "__subclasshook__",
    "__class__",
    "__dir__",
    "__sizeof__",
    "__array_priority__",
}
# Ops whose int arguments are sizes: only small ints for them (a huge int would be a huge
# allocation, not a bad input).
ALLOCATING = {
    "arange",
    "empty",
    "FloatTensor",
    "DoubleTensor",
    "LongTensor",
    "IntTensor",
    "BoolTensor",
    "ByteTensor",
    "eye",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "randperm",
    "zeros",
    "zeros_like",
    "tensor",
    "Tensor",
    "Size",
    "expand",
    "repeat",
    "new_empty",
    "new_full",
    "new_ones",
    "new_tensor",
    "new_zeros",
    "view",
    "reshape",
    "resize_",
    "__mul__",
    "__rmul__",
    "__imul__",
    "tile",
    "repeat_interleave",
    "tril_indices",
    "triu_indices",
    "diag",
    "diag_embed",
    "multinomial",
    "normal",
    "broadcast_to",
    "random_",
}
SETTABLE = ["grad", "data", "requires_grad", "retains_grad", "shape", "dtype", "grad_fn"]


def tensor_methods():
    names = []
    for name in sorted(vars(rgrad.Tensor)):
        if name in SKIP_TENSOR_ATTRS:
            continue
        if name.startswith("_") and not name.startswith("__"):
            continue
        names.append(name)
    return names


def tensor_properties():
    return [n for n in tensor_methods() if not callable(getattr(rgrad.Tensor, n, None))]


def namespace_functions():
    names = []
    for name in sorted(rgrad.__all__):
        if name in SKIP_FUNCTIONS:
            continue
        obj = getattr(rgrad, name)
        if callable(obj) and not isinstance(obj, type(rgrad)):
            names.append(name)
    return names


# ---- call generation (as Python source) -----------------------------------------------------

DTYPE_NAMES = ["float32", "float64", "int64", "int32", "bool"]
SPECIAL_FLOATS = ["float('nan')", "float('inf')", "-float('inf')"]


def lit(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "float('nan')" if math.isnan(v) else ("float('inf')" if v > 0 else "-float('inf')")
    return repr(v)


@st.composite
def tensor_src(draw):
    dtype = draw(st.sampled_from(DTYPE_NAMES))
    shape = draw(st.lists(st.integers(0, 3), max_size=3))
    n = int(np.prod(shape)) if shape else 1
    if dtype == "bool":
        vals = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif dtype.startswith("int"):
        vals = draw(st.lists(st.integers(-3, 5), min_size=n, max_size=n))
    else:
        pool = [-2.0, -0.5, 0.0, 0.5, 1.0, 3.0, math.nan, math.inf]
        vals = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    src = f"rgrad.tensor([{', '.join(lit(v) for v in vals)}], dtype=rgrad.{dtype})"
    src += f".reshape({tuple(shape)!r})"
    if dtype.startswith("float") and draw(st.integers(0, 2)) == 0:
        src += ".requires_grad_()"
        if draw(st.booleans()):
            src = f"({src} * 1)"  # a non-leaf
    if len(shape) >= 2 and draw(st.integers(0, 4)) == 0:
        src += ".transpose(0, -1)"
    elif shape and shape[0] > 0 and draw(st.integers(0, 4)) == 0:
        src += "[1:]"
    return src


SMALL_INTS = st.integers(-4, 6).map(str)
BIG_INTS = st.sampled_from(["2**31", "-2**31 - 1", "2**62", "2**63 - 1", "-2**63", "2**64"])
FLOATS = st.sampled_from(["-2.5", "-1.0", "-0.5", "0.0", "0.5", "1.0", "3.5"] + SPECIAL_FLOATS)
MISC = st.sampled_from(
    [
        "None",
        "True",
        "False",
        "''",
        "'abc'",
        "'cpu'",
        "'cuda'",
        "'float32'",
        "'sum'",
        "rgrad.float32",
        "rgrad.float64",
        "rgrad.int64",
        "rgrad.int32",
        "rgrad.bool",
        "float",
        "int",
        "bool",
        "object()",
        "Ellipsis",
        "slice(None, 2)",
        "slice(1, None, 2)",
        "slice(None, None, -1)",
        "slice(0, 0)",
        "(1+2j)",
        "b'x'",
        "{}",
        "()",
        "[]",
        "[[]]",
        "[[1, 2], [3]]",
        "[1, [2]]",
        "[[1.5, 2], [3, 4]]",
        "[True, 2.5]",
        "[[[0]]]",
        "['a', 'b']",
        "[None]",
        "np.array([1, 2])",
        "np.array([[0.5], [1.5]])",
        "np.array([True, False])",
        "np.float64(2.5)",
        "np.int64(3)",
        "rgrad.device('cpu')",
        "rgrad.Size([2, 3])",
        "(0, slice(None), None, Ellipsis)",
        "(Ellipsis, None)",
        "(None, None, None, None)",
        "(0, 0, 0, 0)",
        "(slice(None), [0, 1])",
        "[[0, 1], [1, 0]]",
        "lambda *a, **k: None",
    ]
)
INT_SEQS = st.lists(st.integers(-3, 4), max_size=4).flatmap(
    lambda xs: st.sampled_from([repr(xs), repr(tuple(xs))])
)


# Arguments derived from the tensor the op is called on (X): compatible shapes and dtypes,
# valid index tensors, dims in range -- calls that get past the argument checks.
SELF_DERIVED = st.sampled_from(
    [
        "X",
        "X.detach()",
        "X > 0",
        "(X * 0).long()",
        "X.bool()",
        "X.double()",
        "X.sum()",
        "X.shape",
        "X.dim()",
        "X.dim() - 1",
        "-X.dim()",
        "X.numel()",
        "[X, X]",
        "(X, X.detach())",
    ]
)


def arg_src(big_ints):
    tensors = tensor_src()
    tensor_lists = st.lists(tensor_src(), min_size=0, max_size=3).map(
        lambda xs: "[" + ", ".join(xs) + "]"
    )
    options = [tensors, SMALL_INTS, SMALL_INTS, FLOATS, MISC, MISC, INT_SEQS, tensor_lists]
    options += [SELF_DERIVED, SELF_DERIVED]
    if big_ints:
        options.append(BIG_INTS)
    return st.one_of(*options)


KW_NAMES = [
    "dim",
    "keepdim",
    "dtype",
    "out",
    "alpha",
    "value",
    "index",
    "src",
    "mask",
    "min",
    "max",
    "p",
    "correction",
    "unbiased",
    "diagonal",
    "start_dim",
    "end_dim",
    "requires_grad",
    "device",
    "size",
    "other",
    "fill_value",
    "gradient",
    "retain_graph",
    "create_graph",
    "inputs",
    "exponent",
    "generator",
    "force",
    "copy",
    "accumulate",
    "bogus",
]


@st.composite
def call_src(draw, methods, properties, functions):
    kind = draw(st.sampled_from(["method"] * 6 + ["function"] * 3 + ["getattr", "setattr", "grad"]))
    if kind == "getattr":
        return f"({draw(tensor_src())}).{draw(st.sampled_from(properties))}", "getattr"
    if kind == "setattr":
        name = draw(st.sampled_from(SETTABLE))
        value = draw(arg_src(False))
        return f"(lambda X: setattr(X, {name!r}, {value}))({draw(tensor_src())})", "setattr"
    name = draw(st.sampled_from(methods if kind == "method" else functions))
    if kind == "grad":
        name = "autograd.grad"
    big = name not in ALLOCATING and draw(st.integers(0, 5)) == 0
    args = [draw(arg_src(big)) for _ in range(draw(st.integers(0, 3)))]
    kwargs = [
        f"{k}={draw(arg_src(big))}"
        for k in draw(st.lists(st.sampled_from(KW_NAMES), max_size=2, unique=True))
    ]
    arglist = ", ".join(args + kwargs)
    x = draw(tensor_src())
    if kind == "method":
        return f"(lambda X: X.{name}({arglist}))({x})", name
    if draw(st.booleans()):  # the tensor as the first argument
        arglist = "X" + (", " if arglist else "") + arglist
    return f"(lambda X: rgrad.{name}({arglist}))({x})", name


# ---- known bugs -----------------------------------------------------------------------------
# Panics already reported, each with its own xfail test below: (op, panic message regex).
# The fuzz counts them and moves on; any other panic fails it.

# None are known at present: a dim of a 0-d tensor (chunk, split, narrow, ...) used to panic
# and is covered by test_dim_of_0d_tensor_does_not_panic.
KNOWN_PANICS: list[tuple[str, str]] = []


def known_panic(op, message):
    return any(op == k_op and re.search(k_msg, message) for k_op, k_msg in KNOWN_PANICS)


# ---- the worker (runs in a subprocess) ------------------------------------------------------


def _touch(result, depth=0):
    """Use a result the way a caller would: print it, differentiate it."""
    if isinstance(result, rgrad.Tensor):
        repr(result)
        if result.requires_grad and result.dtype.is_floating_point:
            result.sum().backward()
    elif isinstance(result, (tuple, list)) and depth < 1:
        for r in result[:3]:
            _touch(r, depth + 1)


def run_worker(log_path, collect_path=None):
    methods = [n for n in tensor_methods() if callable(getattr(rgrad.Tensor, n, None))]
    functions = namespace_functions()
    properties = tensor_properties()
    namespace = {"rgrad": rgrad, "np": np}
    log = open(log_path, "w", buffering=1)  # one line per call, written before it runs
    collected = open(collect_path, "a", buffering=1) if collect_path else None
    counts = {"calls": 0, "errors": 0, "known_panics": 0}

    phases = [Phase.generate] if collected else [Phase.generate, Phase.shrink]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=SEED is None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(call_src(methods, properties, functions))
    def fuzz(call):
        src, op = call
        log.write(src + "\n")
        counts["calls"] += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _touch(eval(src, dict(namespace)))
        except Exception:
            counts["errors"] += 1
        except BaseException as e:  # a Rust panic (PanicException) or worse
            message = f"{type(e).__name__}: {e}"
            if known_panic(op, str(e)):
                counts["known_panics"] += 1
                return
            if collected:
                collected.write(f"{op}\t{message}\t{src}\n")
                return
            raise AssertionError(f"{src}\n  raised {message}") from None
        finally:
            rgrad.set_grad_enabled(True)

    if SEED is not None:
        fuzz = seed(int(SEED))(fuzz)
    fuzz()
    print(
        f"fuzz: {counts['calls']} calls, {counts['errors']} raised an Exception, "
        f"{counts['known_panics']} known panics"
    )


# A systematic sweep next to the random fuzz: every op on 0-d, empty, non-contiguous and
# grad-requiring tensors, with each of a fixed set of small argument lists (dims in and just
# out of range, empty sizes, index tensors).

SWEEP_TENSORS = [
    "rgrad.tensor(2.0)",
    "rgrad.tensor(3)",
    "rgrad.tensor(True)",
    "rgrad.tensor(1.5, dtype=rgrad.float64, requires_grad=True)",
    "rgrad.zeros(0)",
    "rgrad.zeros(2, 0, 3, requires_grad=True)",
    "rgrad.zeros(3, 0, dtype=rgrad.int32).t()[1:]",
    "rgrad.arange(6.0).reshape(2, 3)",
    "rgrad.arange(6).reshape(3, 2).t()",
    "(rgrad.ones(1, 3, dtype=rgrad.float64, requires_grad=True) * 2)",
    "rgrad.tensor([True, False])",
]
SWEEP_ARGS = [
    "",
    "0",
    "-1",
    "1",
    "2",
    "-3",
    "0, 0",
    "0, 1",
    "1, 0",
    "-1, 1",
    "0, 0, 1",
    "0, 1, 1",
    "1, 1, 1",
    "()",
    "(0,)",
    "(0, 0)",
    "[]",
    "[0]",
    "None",
    "0.5",
    "rgrad.tensor(0)",
    "rgrad.tensor([0])",
    "rgrad.tensor([True])",
    "rgrad.zeros(0, dtype=rgrad.int64)",
    "0, rgrad.tensor(0)",
    "0, rgrad.tensor([0, 0])",
    "-1, rgrad.zeros(0, dtype=rgrad.int64)",
    "0, rgrad.tensor([[0]]), 1.0",
    "rgrad.tensor([True]), 1.0",
    "X",
    "X, X",
    "[X, X]",
    "[X]",
    "rgrad.ones(2, 1)",
    "rgrad.zeros(0, 3)",
    "rgrad.tensor(1)",
    "rgrad.tensor([True, False])",
    "rgrad.arange(3)",
    "rgrad.tensor(0.5, dtype=rgrad.float64)",
    "(rgrad.tensor([0]),), rgrad.tensor(1.0)",
    "(rgrad.tensor([True, False]),), 1.0, True",
    "0, X",
    "X, 0",
]


def sweep_calls():
    methods = [n for n in tensor_methods() if callable(getattr(rgrad.Tensor, n, None))]
    # RGRAD_SWEEP_DEVICE=wgpu runs the same sweep on device tensors (tests/test_wgpu.py).
    device = os.environ.get("RGRAD_SWEEP_DEVICE")
    tensors = [f"({t}).to('{device}')" for t in SWEEP_TENSORS] if device else SWEEP_TENSORS
    for t in tensors:
        for args in SWEEP_ARGS:
            for name in methods:
                yield name, f"(lambda X: X.{name}({args}))({t})"
            for name in namespace_functions():
                if name not in ALLOCATING:
                    sep = ", " if args else ""
                    yield name, f"(lambda X: rgrad.{name}(X{sep}{args}))({t})"


def run_sweep(log_path, collect_path=None):
    namespace = {"rgrad": rgrad, "np": np}
    log = open(log_path, "w", buffering=1)
    collected = open(collect_path, "a", buffering=1) if collect_path else None
    counts = {"calls": 0, "known_panics": 0}
    failures = []
    warnings.simplefilter("ignore")
    for op, src in sweep_calls():
        log.write(src + "\n")
        counts["calls"] += 1
        try:
            _touch(eval(src, dict(namespace)))
        except Exception:
            pass
        except BaseException as e:
            if known_panic(op, str(e)):
                counts["known_panics"] += 1
            elif collected:
                collected.write(f"{op}\t{type(e).__name__}: {e}\t{src}\n")
            else:
                failures.append(f"{src}\n  raised {type(e).__name__}: {e}")
        finally:
            rgrad.set_grad_enabled(True)
    print(f"sweep: {counts['calls']} calls, {counts['known_panics']} known panics")
    if failures:
        print(f"{len(failures)} calls panicked:\n" + "\n".join(failures[:30]))
        raise SystemExit(1)


# ---- the tests ------------------------------------------------------------------------------


def test_every_public_op_is_enumerated():
    methods = tensor_methods()
    functions = namespace_functions()
    for name in ["gather", "scatter_", "__getitem__", "__setitem__", "backward", "index_put_"]:
        assert name in methods
    for name in ["cat", "stack", "tensor", "zeros", "where", "from_numpy", "arange"]:
        assert name in functions
    assert len(methods) > 150 and len(functions) > 80


@pytest.mark.parametrize("mode", ["--fuzz", "--sweep"])
def test_public_ops_with_bad_inputs_never_panic_crash_or_hang(mode):
    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.path.join(tmp, "calls.log")
        env = dict(os.environ, RUST_BACKTRACE="0", PYTHONFAULTHANDLER="1")
        try:
            proc = subprocess.run(
                [sys.executable, os.path.abspath(__file__), mode, log_path],
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                env=env,
                cwd=tmp,  # anything written by a call lands in the temporary directory
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{mode} hung for {TIMEOUT} s; last call:\n{_last_line(log_path)}")
        out = proc.stdout[-4000:] + proc.stderr[-8000:]
        if proc.returncode < 0:
            pytest.fail(
                f"{mode} process crashed (signal {-proc.returncode}) in:\n"
                f"{_last_line(log_path)}\n\n{out}"
            )
        assert proc.returncode == 0, out
        assert mode.strip("-") + ":" in proc.stdout


def _last_line(path):
    try:
        with open(path) as f:
            lines = f.read().splitlines()
        return lines[-1] if lines else "(no call logged)"
    except OSError:
        return "(no log)"


def _run_isolated(code, timeout=60):
    """Runs code in a fresh interpreter: returns (returncode, output)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import rgrad, numpy as np\n" + code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, RUST_BACKTRACE="0"),
    )
    return proc.returncode, proc.stdout + proc.stderr


def assert_raises_exception(src):
    """`src` must raise an Exception (not a panic), or return."""
    code = (
        "try:\n"
        f"    r = {src}\n"
        "    repr(r)\n"
        "except Exception as e:\n"
        "    print('EXCEPTION', type(e).__name__)\n"
        "except BaseException as e:\n"
        "    print('PANIC', type(e).__name__, e)\n"
        "    raise SystemExit(3)\n"
    )
    rc, out = _run_isolated(code)
    assert rc == 0, f"{src}\n{out[-3000:]}"


# Panics the fuzz and the sweep found, with PyTorch's behaviour for the same call: an
# exception type, or the value returned.
ZERO_D_REPRODUCERS = [
    ("rgrad.tensor(2.0).chunk(1)", RuntimeError),
    ("rgrad.tensor(2.0).split(1)", RuntimeError),
    ("rgrad.tensor(2.0).split([1])", RuntimeError),
    ("rgrad.tensor(2.0).narrow(0, 0, 1)", RuntimeError),
    ("rgrad.tensor(2.0).unbind(0)", IndexError),
    ("rgrad.tensor(2.0).size(0)", IndexError),
    ("rgrad.tensor(2.0).stride(0)", IndexError),
    ("rgrad.tensor(2.0).flip(0)", 2.0),
    ("rgrad.tensor(2.0).movedim(0, 0)", 2.0),
    ("rgrad.tensor(2.0).moveaxis(-1, 0)", 2.0),
    ("rgrad.tensor(2.0).prod(0)", 2.0),
    ("rgrad.prod(rgrad.tensor(3), -1)", 3),
]


@pytest.mark.parametrize("src,expected", ZERO_D_REPRODUCERS, ids=[r[0] for r in ZERO_D_REPRODUCERS])
def test_dim_of_0d_tensor_does_not_panic(src, expected):
    try:
        result = eval(src, {"rgrad": rgrad})
    except Exception as e:
        assert isinstance(expected, type) and isinstance(e, expected), repr(e)
        return
    except BaseException as e:
        pytest.fail(f"{src} raised {type(e).__name__}: {e}")
    assert not isinstance(expected, type), f"{src} returned {result!r}"
    assert tuple(result.shape) == () and result.item() == expected


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cumulative_ops_keep_0d_shape(name):
    out = getattr(rgrad.tensor(2.0), name)(0)
    assert tuple(out.shape) == ()
    assert out.item() == 2.0


@pytest.mark.xfail(
    strict=True,
    reason="bug: index_select on a 0-d tensor raises 'too many indices for tensor of "
    "dimension 0'; PyTorch returns the 0-d tensor for index [0]",
)
def test_index_select_on_0d_tensor():
    out = rgrad.tensor(2.0).index_select(0, rgrad.tensor([0]))
    assert tuple(out.shape) == () and out.item() == 2.0


if __name__ == "__main__" and len(sys.argv) >= 3:
    {"--fuzz": run_worker, "--sweep": run_sweep}[sys.argv[1]](*sys.argv[2:4])
