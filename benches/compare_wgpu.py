"""Times rgrad on its wgpu device against rgrad on the CPU and against simple CPU loops.

    python benches/compare_wgpu.py            # Markdown table on stdout
    python benches/compare_wgpu.py --quick    # fewer repeats
    python benches/compare_wgpu.py --no-loops # skip the Rust simple-loop baseline (needs cargo)

On a machine without a GPU, set VK_ICD_FILENAMES to Mesa's llvmpipe ICD file
(/usr/share/vulkan/icd.d/lvp_icd.x86_64.json) and the figures are llvmpipe's: a software
rasterizer's compute path on the same CPU cores, useful to check that each kernel is within
reach of a simple CPU loop (the `simple loop` column: benches/examples/simple_loops.rs, one
thread). On a real GPU the same command measures the GPU. Each timed statement ends with a
synchronisation (`torch.wgpu.synchronize()` or `.item()`), so queued work is counted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (shared timing and formatting)

ROOT = Path(__file__).resolve().parent.parent


def matmul(n: int) -> compare.Case:
    return compare.Case(
        name=f"matmul {n}x{n} float32",
        setup=f"torch.manual_seed(0); a = torch.randn({n}, {n}, device=DEV); "
        f"b = torch.randn({n}, {n}, device=DEV)",
        stmt="c = a @ b; sync()",
        flops=2 * n**3,
    )


def mlp(sizes: tuple[int, ...], batch: int) -> compare.Case:
    case = compare.mlp_case(sizes, batch)
    setup = case.setup.replace("opt = ", "model.to(DEV)\nopt = ").replace(
        f"x = torch.randn({batch}, {sizes[0]}); y = torch.randint(0, {sizes[-1]}, ({batch},))",
        f"x = torch.randn({batch}, {sizes[0]}, device=DEV); "
        f"y = torch.randint(0, {sizes[-1]}, ({batch},), device=DEV)",
    )
    return compare.Case(name=case.name, setup=setup, stmt="step().item()")


CASES = [
    matmul(256),
    matmul(1024),
    matmul(2048),
    compare.Case(
        name="elementwise chain 1M float32",
        setup=f"torch.manual_seed(0); a = torch.randn({compare.N_CHAIN}, device=DEV); "
        f"b = torch.randn({compare.N_CHAIN}, device=DEV)",
        stmt="((a * b) + a).exp().sum().item()",
    ),
    mlp((784, 64, 64, 10), 32),
    mlp((784, 512, 512, 10), 256),
]

COLUMNS = {"wgpu": "rgrad wgpu", "cpu": "rgrad CPU", "loops": "simple loop"}


def worker(device: str, cases: list[compare.Case], repeats: int, min_time: float) -> dict:
    import rgrad

    sync = rgrad.wgpu.synchronize if device == "wgpu" else (lambda: None)
    env = {"torch": rgrad, "DEV": device, "sync": sync}
    out = {}
    for case in cases:
        try:
            t = compare.measure(case.stmt, case.setup, env, repeats, min_time)
        except Exception as e:
            out[case.name] = f"error: {type(e).__name__}"
            print(f"{case.name} [{device}]: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        if case.flops:
            t.gflops = case.flops / t.median_ns
        out[case.name] = t.__dict__
        print(f"  measured {case.name} [{device}]", file=sys.stderr)
    return out


def simple_loops() -> dict:
    cmd = ["cargo", "run", "--release", "-q", "-p", "rgrad-benches", "--example", "simple_loops"]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    flops = {c.name: c.flops for c in CASES}
    out = {}
    for name, ns in json.loads(res.stdout).items():
        t = compare.Timing(median_ns=ns, min_ns=ns, number=1)
        if flops.get(name):
            t.gflops = flops[name] / ns
        out[name] = t.__dict__
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", choices=["wgpu", "cpu"], help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-loops", action="store_true", help="skip the simple-loop column")
    p.add_argument("-k", metavar="SUBSTRING", help="only cases whose name contains this")
    args = p.parse_args(argv)
    repeats, min_time = (3, 0.05) if args.quick else (7, 0.2)
    cases = [c for c in CASES if not args.k or args.k.lower() in c.name.lower()]
    if args.worker:
        print(json.dumps(worker(args.worker, cases, repeats, min_time)))
        return 0

    import rgrad

    if not rgrad.wgpu.is_available():
        print("compare_wgpu.py: no wgpu adapter (see the docstring for llvmpipe)", file=sys.stderr)
        return 1
    fwd = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--no-loops"]
    results = {}
    for dev in ("wgpu", "cpu"):
        cmd = [sys.executable, __file__, *fwd, "--worker", dev]
        results[dev] = json.loads(
            subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        )
    results["loops"] = {} if args.no_loops else simple_loops()

    print(f"machine: {compare.cpu_model()}, {compare.core_count()}")
    print(f"wgpu adapter: {rgrad.wgpu.adapter_name()}")
    print(f"command: `python benches/compare_wgpu.py {' '.join(fwd)}` (medians of {repeats})")
    print()
    print("| benchmark | rgrad wgpu | rgrad CPU | simple loop | wgpu vs loop | wgpu vs CPU |")
    print("|---|---:|---:|---:|---:|---:|")
    for case in cases:
        cells = {}
        for col in COLUMNS:
            raw = results[col].get(case.name)
            cells[col] = compare.Timing(**raw) if isinstance(raw, dict) else raw
        row = [compare.fmt_cell(cells[c]) for c in COLUMNS]
        row += [
            compare.fmt_ratio(cells["wgpu"], cells["loops"]),
            compare.fmt_ratio(cells["wgpu"], cells["cpu"]),
        ]
        print(f"| {case.name} | " + " | ".join(row) + " |")
    print()
    print("Ratios are the wgpu device's speed-up (>1: wgpu faster).")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    sys.exit(main())
