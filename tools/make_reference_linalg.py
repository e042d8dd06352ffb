"""Reference vectors for tests/test_linalg_ops.py, computed with PyTorch.

Run with a Python that has torch (never a test dependency):
    /work/torchenv/bin/python tools/make_reference_linalg.py [CONFORMANCE_DIR]

Writes tests/data/linalg_conformance.json + .npz: the ``linalg_*`` cases of the shared
``distributions.json`` (same format as tests/data/ops.json) followed by cases of our own
(batched, upper/left/unitriangular variants, float32, the deprecated solves).
"""

import json
import pathlib
import sys

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SHARED = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/conformance")

SPD = "(A @ A.mT + 3 * torch.eye(A.shape[-1], dtype=A.dtype))"
TRI = "(torch.tril(A) + 3 * torch.eye(A.shape[-1], dtype=A.dtype))"
OWN = [
    # name, expr, {input: shape}, dtype
    ("own_cholesky_upper", f"torch.linalg.cholesky({SPD}, upper=True)", {"A": (4, 4)}),
    ("own_cholesky_batched", f"torch.linalg.cholesky({SPD})", {"A": (2, 3, 4, 4)}),
    ("own_cholesky_ex", f"torch.linalg.cholesky_ex({SPD}).L", {"A": (3, 3, 3)}),
    ("own_cholesky_f32", f"torch.linalg.cholesky({SPD})", {"A": (2, 5, 5)}, "float32"),
    (
        "own_solve_tri_upper",
        f"torch.linalg.solve_triangular({TRI}.mT, b, upper=True)",
        {"A": (3, 3), "b": (3, 2)},
    ),
    (
        "own_solve_tri_right",
        f"torch.linalg.solve_triangular({TRI}, b, upper=False, left=False)",
        {"A": (3, 3), "b": (4, 3)},
    ),
    (
        "own_solve_tri_right_upper",
        f"torch.linalg.solve_triangular({TRI}.mT, b, upper=True, left=False)",
        {"A": (2, 3, 3), "b": (2, 5, 3)},
    ),
    (
        "own_solve_tri_unit",
        "torch.linalg.solve_triangular(A, b, upper=False, unitriangular=True)",
        {"A": (3, 3), "b": (3, 2)},
    ),
    (
        "own_solve_tri_broadcast",
        f"torch.linalg.solve_triangular({TRI}, b, upper=False)",
        {"A": (3, 1, 3, 3), "b": (2, 3, 4)},
    ),
    (
        "own_solve_tri_f32",
        f"torch.linalg.solve_triangular({TRI}, b, upper=False)",
        {"A": (2, 4, 4), "b": (2, 4, 3)},
        "float32",
    ),
    (
        "own_triangular_solve",
        f"torch.triangular_solve(b, {TRI}.mT).solution",
        {"A": (3, 3), "b": (3, 2)},
    ),
    (
        "own_triangular_solve_transpose",
        f"torch.triangular_solve(b, {TRI}, upper=False, transpose=True).solution",
        {"A": (2, 3, 3), "b": (2, 3, 2)},
    ),
    (
        "own_cholesky_solve",
        f"torch.cholesky_solve(b, torch.linalg.cholesky({SPD}))",
        {"A": (3, 3), "b": (3, 2)},
    ),
    (
        "own_cholesky_solve_upper",
        f"torch.cholesky_solve(b, torch.linalg.cholesky({SPD}, upper=True), upper=True)",
        {"A": (2, 3, 3), "b": (2, 3, 4)},
    ),
    (
        "own_inv_batched",
        "torch.linalg.inv(A + 3 * torch.eye(4, dtype=A.dtype))",
        {"A": (2, 3, 4, 4)},
    ),
    (
        "own_inv_f32",
        "torch.linalg.inv(A + 3 * torch.eye(4, dtype=A.dtype))",
        {"A": (2, 4, 4)},
        "float32",
    ),
    (
        "own_solve_vector",
        "torch.linalg.solve(A + 3 * torch.eye(3, dtype=A.dtype), b)",
        {"A": (2, 3, 3), "b": (2, 3)},
    ),
    (
        "own_solve_right",
        "torch.linalg.solve(A + 3 * torch.eye(3, dtype=A.dtype), b, left=False)",
        {"A": (3, 3), "b": (4, 3)},
    ),
    ("own_det_batched", "torch.linalg.det(A)", {"A": (3, 4, 4)}),
    ("own_slogdet_batched", "torch.linalg.slogdet(A).logabsdet", {"A": (3, 4, 4)}),
    ("own_logdet", f"torch.logdet({SPD})", {"A": (2, 3, 3)}),
    ("own_det_f32", "torch.linalg.det(A)", {"A": (2, 3, 3)}, "float32"),
]


def main():
    spec = json.loads((SHARED / "distributions.json").read_text())
    src = np.load(SHARED / "distributions.npz")
    cases = [c for c in spec["cases"] if c["name"].startswith("linalg_")]
    arrays = {k: src[k] for k in src.files if k.split("/")[0] in {c["name"] for c in cases}}
    gen = torch.Generator().manual_seed(15)
    for row in OWN:
        name, expr, shapes = row[:3]
        dtype = row[3] if len(row) > 3 else "float64"
        tdt = getattr(torch, dtype)
        inputs = {
            k: torch.randn(s, generator=gen, dtype=torch.float64).to(tdt).requires_grad_()
            for k, s in shapes.items()
        }
        out = eval(expr, {"torch": torch}, dict(inputs))
        cot = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(tdt)
        grads = torch.autograd.grad((out * cot).sum(), list(inputs.values()))
        for (k, v), g in zip(inputs.items(), grads):
            arrays[f"{name}/in/{k}"] = v.detach().numpy()
            arrays[f"{name}/grad/{k}"] = g.numpy()
        arrays[f"{name}/out"] = out.detach().numpy()
        arrays[f"{name}/cot"] = cot.numpy()
        cases.append(
            {
                "tier": 4,
                "name": name,
                "expr": expr,
                "inputs": {k: dtype for k in shapes},
                "grads": list(shapes),
            }
        )
    DATA.mkdir(exist_ok=True)
    meta = {"reference": f"torch {torch.__version__}", "cases": cases}
    (DATA / "linalg_conformance.json").write_text(json.dumps(meta, indent=1) + "\n")
    np.savez_compressed(DATA / "linalg_conformance.npz", **arrays)
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
