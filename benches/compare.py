"""Times rgrad against NumPy and, when it is importable, PyTorch, in one run.

    python benches/compare.py              # full run (~1 minute), Markdown table on stdout
    python benches/compare.py --quick      # fewer repeats, shorter runs
    python benches/compare.py --json out.json

Every case is one statement written against the PyTorch API and run with `torch` bound to
rgrad (`import rgrad`) or to PyTorch; NumPy gets the equivalent array code. Each statement is
timed with `timeit` (time.perf_counter_ns, the statement inlined in the loop, so no function
call is added per iteration): the loop count is calibrated so one repeat lasts at least
--min-time seconds, and the table shows the median per-iteration time over the repeats.

Ratios are speed-ups of rgrad: "3.0x" means rgrad took a third of the other library's time;
"0.5x" means it took twice as long.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import statistics
import sys
import time
import timeit
from dataclasses import asdict, dataclass, field
from typing import Any

N_CHAIN = 1 << 20  # 1M elements


@dataclass
class Case:
    name: str
    setup: str  # run once; `torch` is bound to the library under test
    stmt: str  # the timed statement
    numpy_setup: str | None = None  # None: no NumPy equivalent
    numpy_stmt: str | None = None
    flops: int | None = None  # floating-point operations per statement, for GFLOP/s
    check: str | None = None  # an expression that must be true after the statement ran


def matmul_case(n: int) -> Case:
    return Case(
        name=f"matmul {n}x{n} float32",
        setup=f"torch.manual_seed(0); a = torch.randn({n}, {n}); b = torch.randn({n}, {n})",
        stmt="a @ b",
        numpy_setup=(
            "rng = np.random.default_rng(0); "
            f"a = rng.standard_normal(({n}, {n}), dtype=np.float32); "
            f"b = rng.standard_normal(({n}, {n}), dtype=np.float32)"
        ),
        numpy_stmt="a @ b",
        flops=2 * n**3,
        check=f"tuple((a @ b).shape) == ({n}, {n})",
    )


def mlp_case(sizes: tuple[int, ...], batch: int) -> Case:
    """One training step (forward, cross-entropy, backward, SGD with momentum) of an MLP."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(f"torch.nn.Linear({a}, {b})")
        if i < len(sizes) - 2:
            layers.append("torch.nn.ReLU()")
    setup = "\n".join(
        [
            "torch.manual_seed(0)",
            f"model = torch.nn.Sequential({', '.join(layers)})",
            "loss_fn = torch.nn.CrossEntropyLoss()",
            "opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)",
            f"x = torch.randn({batch}, {sizes[0]}); y = torch.randint(0, {sizes[-1]}, ({batch},))",
            "def step():",
            "    opt.zero_grad()",
            "    loss = loss_fn(model(x), y)",
            "    loss.backward()",
            "    opt.step()",
            "    return loss",
        ]
    )
    return Case(
        name=f"MLP {'-'.join(map(str, sizes))} train step, batch {batch}",
        setup=setup,
        stmt="step()",
        check="step().item() > 0",
    )


def loss_case(fn: str, n: int, c: int) -> Case:
    """Forward and backward of a loss on (n, c) float32 logits: class indices for
    cross_entropy, 0/1 targets for the BCE."""
    target = (
        f"torch.randint(0, {c}, ({n},))"
        if fn == "cross_entropy"
        else f"(torch.rand({n}, {c}) > 0.5).float()"
    )
    return Case(
        name=f"{fn} forward+backward ({n}, {c})",
        setup=(
            f"torch.manual_seed(0); x = torch.randn({n}, {c}, requires_grad=True); "
            f"t = {target}; loss_fn = torch.nn.functional.{fn}"
        ),
        stmt="x.grad = None; loss_fn(x, t).backward()",
        check="loss_fn(x, t).item() > 0",
    )


SEED_NET = "\n".join(
    [
        "torch.manual_seed(0)",
        "class SimpleNN(torch.nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        "        self.fc1 = torch.nn.Linear(2, 4); self.fc2 = torch.nn.Linear(4, 1)",
        "        self.sigmoid = torch.nn.Sigmoid()",
        "    def forward(self, x):",
        "        return self.sigmoid(self.fc2(self.sigmoid(self.fc1(x))))",
        "model = SimpleNN(); criterion = torch.nn.BCELoss()",
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)",
        "X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])",
        "Y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])",
        "def step():",
        "    loss = criterion(model(X), Y)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
        "    return loss",
    ]
)


def conv_case(batch: int, channels: int, size: int) -> Case:
    """One 3x3 convolution forward (padding 1, with bias) on float32 NCHW input."""
    n, c, hw = batch, channels, size
    return Case(
        name=f"conv2d 3x3 {c}->{c} forward {n}x{c}x{hw}x{hw} float32",
        setup=(
            f"torch.manual_seed(0); x = torch.randn({n}, {c}, {hw}, {hw}); "
            f"conv = torch.nn.Conv2d({c}, {c}, 3, padding=1)"
        ),
        stmt="conv(x)",
        flops=2 * n * c * c * 9 * hw * hw,
        check=f"tuple(conv(x).shape) == ({n}, {c}, {hw}, {hw})",
    )


def batch_norm_case(batch: int, channels: int, size: int) -> Case:
    """BatchNorm2d in training mode: forward (batch statistics, running-stat update) and
    backward to the input and the affine parameters, on float32 NCHW input."""
    n, c, hw = batch, channels, size
    return Case(
        name=f"BatchNorm2d({c}) train fwd+bwd {n}x{c}x{hw}x{hw} float32",
        setup=(
            f"torch.manual_seed(0); x = torch.randn({n}, {c}, {hw}, {hw}, requires_grad=True); "
            f"bn = torch.nn.BatchNorm2d({c}); g = torch.randn({n}, {c}, {hw}, {hw})"
        ),
        stmt="bn(x).backward(g)",
        check=f"x.grad is not None and tuple(bn.weight.grad.shape) == ({c},)",
    )


CASES = [
    Case(
        name="scalar add (0-dim)",
        setup="a = torch.tensor(2.0); b = torch.tensor(3.0)",
        stmt="a + b",
        numpy_setup="a = np.array(2.0, dtype=np.float32); b = np.array(3.0, dtype=np.float32)",
        numpy_stmt="a + b",
        check="(a + b).item() == 5.0",
    ),
    Case(
        name="Example 1 forward+backward",
        setup=(
            "x = torch.tensor(2.0, requires_grad=True); y = torch.tensor(3.0, requires_grad=True)"
        ),
        stmt="x.grad = None; y.grad = None; z = x * y + y ** 2; z.backward()",
        check="x.grad.item() == 3.0 and y.grad.item() == 8.0",
    ),
    Case(
        name="elementwise chain 1M float32",
        setup=f"torch.manual_seed(0); a = torch.randn({N_CHAIN}); b = torch.randn({N_CHAIN})",
        stmt="((a * b) + a).exp().sum()",
        numpy_setup=(
            "rng = np.random.default_rng(0); "
            f"a = rng.standard_normal({N_CHAIN}, dtype=np.float32); "
            f"b = rng.standard_normal({N_CHAIN}, dtype=np.float32)"
        ),
        numpy_stmt="np.exp((a * b) + a).sum()",
        check="((a * b) + a).exp().sum().dtype == torch.float32",
    ),
    matmul_case(256),
    matmul_case(1024),
    Case(
        name="seed training step (2-4-1, BCE, SGD)",
        setup=SEED_NET,
        stmt="step()",
        check="step().item() > 0",
    ),
    mlp_case((784, 64, 64, 10), 32),
    mlp_case((784, 512, 512, 10), 256),
    loss_case("cross_entropy", 256, 10),
    loss_case("cross_entropy", 32, 10),
    loss_case("binary_cross_entropy_with_logits", 256, 1),
    conv_case(32, 64, 32),
    batch_norm_case(32, 64, 16),
]


@dataclass
class Timing:
    median_ns: float
    min_ns: float
    number: int  # statements per repeat
    samples_ns: list[float] = field(default_factory=list)  # per-statement time of each repeat
    gflops: float | None = None


def measure(stmt: str, setup: str, env: dict[str, Any], repeats: int, min_time: float) -> Timing:
    namespace = dict(env)
    exec(setup, namespace)
    timer = timeit.Timer(stmt, globals=namespace, timer=time.perf_counter_ns)
    timer.timeit(number=3)  # warm-up: thread pools, allocator, caches
    number = 1
    while True:  # calibrate like timeit.autorange, against min_time
        total = timer.timeit(number=number)
        if total >= min_time * 1e9:
            break
        number = max(number * 2, int(number * min_time * 1e9 / max(total, 1) * 1.2))
    samples = [t / number for t in timer.repeat(repeat=repeats, number=number)]
    return Timing(statistics.median(samples), min(samples), number, samples)


def check(expr: str | None, stmt: str, setup: str, env: dict[str, Any]) -> None:
    if expr is None:
        return
    namespace = dict(env)
    exec(setup, namespace)
    exec(stmt, namespace)
    if not eval(expr, namespace):
        raise AssertionError(f"sanity check failed: {expr}")


# ---- environment ---------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def core_count() -> str:
    n = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = n
    return f"{n} cores" if usable == n else f"{n} cores ({usable} usable)"


def version_of(module: Any, dist: str) -> str:
    v = getattr(module, "__version__", None)
    if v:
        return str(v)
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "unknown version"


def load_libraries() -> tuple[dict[str, Any], dict[str, str]]:
    """The libraries to compare, by column name, and notes on those that are missing."""
    libs: dict[str, Any] = {}
    notes: dict[str, str] = {}
    try:
        libs["rgrad"] = importlib.import_module("rgrad")
    except Exception as e:  # the extension may not be built
        notes["rgrad"] = f"cannot import rgrad ({type(e).__name__}: {e})"
    try:
        libs["PyTorch"] = importlib.import_module("torch")
    except Exception as e:
        notes["PyTorch"] = f"not importable ({type(e).__name__})"
    libs["NumPy"] = importlib.import_module("numpy")
    return libs, notes


# ---- formatting ----------------------------------------------------------------------------


def fmt_time(ns: float) -> str:
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.3g} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.3g} ms"
    return f"{ns / 1e9:.3g} s"


def fmt_cell(t: Timing | str | None) -> str:
    if t is None:
        return "—"
    if isinstance(t, str):
        return t
    cell = fmt_time(t.median_ns)
    if t.gflops is not None:
        cell += f" ({t.gflops:.0f} GFLOP/s)"
    return cell


def fmt_ratio(ours: Timing | str | None, theirs: Timing | str | None) -> str:
    if not isinstance(ours, Timing) or not isinstance(theirs, Timing):
        return "—"
    return f"{theirs.median_ns / ours.median_ns:.2f}x"


def measure_column(col: str, lib: Any, cases: list[Case], repeats: int, min_time: float) -> dict:
    """Times every case with one library; a failing case is reported, not fatal."""
    out: dict[str, Any] = {}
    for case in cases:
        if col == "NumPy":
            if case.numpy_stmt is None:
                out[case.name] = None
                continue
            env, setup, stmt, chk = {"np": lib}, case.numpy_setup or "", case.numpy_stmt, None
        else:
            env, setup, stmt, chk = {"torch": lib}, case.setup, case.stmt, case.check
        try:
            check(chk, stmt, setup, env)
            timing = measure(stmt, setup, env, repeats, min_time)
        except Exception as e:  # an op a library lacks must not hide the other rows
            out[case.name] = f"error: {type(e).__name__}"
            print(f"{case.name} [{col}]: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        finally:
            gc.collect()
        if case.flops:
            timing.gflops = case.flops / timing.median_ns
        out[case.name] = asdict(timing)
        print(f"  measured {case.name} [{col}]", file=sys.stderr)
    return out


MODULES = {"rgrad": "rgrad", "PyTorch": "torch", "NumPy": "numpy"}


def run_worker(col: str, argv: list[str]) -> dict:
    """Runs this script as `--worker COL` in a fresh process and returns its results."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            *argv,
            "--worker",
            col,
            "--worker-out",
            f.name,
        ]
        subprocess.run(cmd, check=True)
        with open(f.name, encoding="utf-8") as src:
            return json.load(src)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, shorter runs")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--repeats", type=int, help="repeats per case (default 15, quick 5)")
    parser.add_argument(
        "--min-time", type=float, help="seconds per repeat (default 0.1, quick 0.02)"
    )
    parser.add_argument("-k", metavar="SUBSTRING", help="only cases whose name contains this")
    args = parser.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 15)
    min_time = args.min_time or (0.02 if args.quick else 0.1)
    if args.worker:
        cases = [c for c in CASES if not args.k or args.k.lower() in c.name.lower()]
        lib = importlib.import_module(MODULES[args.worker])
        with open(args.worker_out, "w", encoding="utf-8") as f:
            json.dump(measure_column(args.worker, lib, cases, repeats, min_time), f)
        return 0

    libs, notes = load_libraries()
    if "rgrad" not in libs:
        print(f"compare.py: {notes['rgrad']}; build it first (`pip install .`)", file=sys.stderr)
        return 1
    np = libs["NumPy"]
    columns = ["rgrad", "PyTorch", "NumPy"]
    versions = {
        "python": platform.python_version(),
        "rgrad": version_of(libs["rgrad"], "rgrad"),
        "numpy": np.__version__,
        "torch": version_of(libs["PyTorch"], "torch") if "PyTorch" in libs else "not installed",
    }
    threads = ""
    if "PyTorch" in libs:
        threads = f"; torch threads: {libs['PyTorch'].get_num_threads()}"
    command = "python " + " ".join(["benches/compare.py", *(argv or sys.argv[1:])])
    machine = f"{cpu_model()}, {core_count()}, {platform.system()} {platform.machine()}"

    print(f"machine: {machine}{threads}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"command: `{command}` ({repeats} repeats of >= {min_time} s each; medians)")
    for lib, note in notes.items():
        print(f"note: {lib} {note}")
    print()

    cases = [c for c in CASES if not args.k or args.k.lower() in c.name.lower()]
    # Each library runs in its own process, one after the other: thread pools that spin after
    # work (rayon, OpenMP, OpenBLAS) must not steal the cores another library is timed on.
    per_col = {col: run_worker(col, argv or sys.argv[1:]) if col in libs else {} for col in columns}
    rows = []
    for case in cases:
        results = {}
        for col in columns:
            raw = per_col[col].get(case.name)
            results[col] = Timing(**raw) if isinstance(raw, dict) else raw
        rows.append((case, results))

    header = "| benchmark | rgrad | PyTorch | NumPy | rgrad vs PyTorch | rgrad vs NumPy |"
    print(header)
    print("|---|---:|---:|---:|---:|---:|")
    for case, r in rows:
        cells = [fmt_cell(r["rgrad"]), fmt_cell(r["PyTorch"]), fmt_cell(r["NumPy"])]
        ratios = [fmt_ratio(r["rgrad"], r["PyTorch"]), fmt_ratio(r["rgrad"], r["NumPy"])]
        print(f"| {case.name} | " + " | ".join(cells + ratios) + " |")
    print()
    print("Times are medians per statement; ratios are rgrad's speed-up (>1: rgrad faster).")

    if args.json:
        payload = {
            "machine": machine,
            "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count(),
            "versions": versions,
            "command": command,
            "repeats": repeats,
            "min_time_s": min_time,
            "notes": notes,
            "results": [
                {
                    "name": case.name,
                    "stmt": case.stmt,
                    "numpy_stmt": case.numpy_stmt,
                    "flops": case.flops,
                    "timings": {
                        col: (asdict(t) if isinstance(t, Timing) else t) for col, t in r.items()
                    },
                }
                for case, r in rows
            ],
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
