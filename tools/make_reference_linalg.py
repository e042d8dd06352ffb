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
RANK2 = "torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=A.dtype))"
EIGH_RECON = (
    "(lambda r: r.eigenvectors @ torch.diag_embed(r.eigenvalues.exp()) @ r.eigenvectors.mT)"
    "(torch.linalg.eigh(A + A.mT))"
)
SVD_RECON = (
    "(lambda r: (r.U * r.S.exp().unsqueeze(-2)) @ r.Vh)(torch.linalg.svd(A, full_matrices=False))"
)
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
    # LU, solve (issue 15 item 2): pivoting is deterministic, so the factors compare directly.
    ("own_lu_factor", "torch.linalg.lu_factor(A).LU", {"A": (4, 4)}),
    ("own_lu_factor_batched", "torch.linalg.lu_factor(A).LU", {"A": (2, 3, 4, 4)}),
    ("own_lu_factor_wide", "torch.linalg.lu_factor(A).LU", {"A": (3, 5)}),
    ("own_lu_factor_tall", "torch.linalg.lu_factor(A).LU", {"A": (2, 5, 3)}),
    ("own_lu_factor_f32", "torch.linalg.lu_factor(A).LU", {"A": (2, 4, 4)}, "float32"),
    ("own_lu_L", "torch.linalg.lu(A).L", {"A": (5, 3)}),
    ("own_lu_U", "torch.linalg.lu(A).U", {"A": (3, 5)}),
    ("own_lu_P", "torch.linalg.lu(A).P @ torch.linalg.lu(A).L", {"A": (2, 4, 4)}),
    (
        "own_lu_solve",
        "torch.linalg.lu_solve(*torch.linalg.lu_factor(A), b)",
        {"A": (4, 4), "b": (4, 2)},
    ),
    (
        "own_lu_solve_adjoint",
        "torch.linalg.lu_solve(*torch.linalg.lu_factor(A), b, adjoint=True)",
        {"A": (2, 4, 4), "b": (2, 4, 3)},
    ),
    (
        "own_lu_solve_right",
        "torch.linalg.lu_solve(*torch.linalg.lu_factor(A), b, left=False)",
        {"A": (4, 4), "b": (3, 4)},
    ),
    (
        "own_lu_solve_right_adjoint",
        "torch.linalg.lu_solve(*torch.linalg.lu_factor(A), b, left=False, adjoint=True)",
        {"A": (4, 4), "b": (3, 4)},
    ),
    (
        "own_solve_broadcast",
        "torch.linalg.solve(A + 3 * torch.eye(3, dtype=A.dtype), b)",
        {"A": (2, 1, 3, 3), "b": (3, 3, 2)},
    ),
    (
        "own_solve_right_batched",
        "torch.linalg.solve(A + 3 * torch.eye(3, dtype=A.dtype), b, left=False)",
        {"A": (2, 3, 3), "b": (2, 4, 3)},
    ),
    ("own_solve_f32", "torch.linalg.solve(A, b)", {"A": (2, 4, 4), "b": (2, 4, 2)}, "float32"),
    ("own_det_singular", f"torch.linalg.det(A @ {RANK2} @ A.mT)", {"A": (3, 3)}),
    # eigh / SVD: only quantities that do not depend on the vectors' signs.
    ("own_eigvalsh", "torch.linalg.eigvalsh(A + A.mT)", {"A": (2, 4, 4)}),
    ("own_eigvalsh_upper", "torch.linalg.eigvalsh(A, UPLO='U')", {"A": (4, 4)}),
    ("own_eigh_abs_vectors", "torch.linalg.eigh(A + A.mT).eigenvectors.abs()", {"A": (2, 4, 4)}),
    ("own_eigh_upper_vectors", "torch.linalg.eigh(A, UPLO='U').eigenvectors.abs()", {"A": (3, 3)}),
    ("own_eigh_recon", f"{EIGH_RECON}", {"A": (3, 3)}),
    ("own_eigh_f32", "torch.linalg.eigvalsh(A + A.mT)", {"A": (2, 5, 5)}, "float32"),
    ("own_svd_S", "torch.linalg.svd(A).S", {"A": (2, 5, 3)}),
    ("own_svd_U_tall", "torch.linalg.svd(A, full_matrices=False).U.abs()", {"A": (5, 3)}),
    ("own_svd_Vh_tall", "torch.linalg.svd(A, full_matrices=False).Vh.abs()", {"A": (5, 3)}),
    ("own_svd_U_wide", "torch.linalg.svd(A, full_matrices=False).U.abs()", {"A": (2, 3, 5)}),
    ("own_svd_Vh_wide", "torch.linalg.svd(A, full_matrices=False).Vh.abs()", {"A": (3, 5)}),
    ("own_svd_full_U", "torch.linalg.svd(A).U[..., :3].abs()", {"A": (5, 3)}),
    ("own_svd_full_Vh", "torch.linalg.svd(A).Vh[..., :3, :].abs()", {"A": (3, 5)}),
    ("own_svd_recon", f"{SVD_RECON}", {"A": (4, 3)}),
    ("own_svdvals_f32", "torch.linalg.svdvals(A)", {"A": (2, 4, 6)}, "float32"),
    ("own_pinv_wide", "torch.linalg.pinv(A)", {"A": (2, 3, 5)}),
    (
        "own_pinv_hermitian",
        "torch.linalg.pinv(A @ A.mT + torch.eye(4, dtype=A.dtype), hermitian=True)",
        {"A": (4, 4)},
    ),
    ("own_pinv_rtol", "torch.linalg.pinv(A, rtol=0.3)", {"A": (4, 3)}),
    ("own_lstsq", "torch.linalg.lstsq(A, b).solution", {"A": (5, 3), "b": (5, 2)}),
    ("own_lstsq_batched", "torch.linalg.lstsq(A, b).solution", {"A": (2, 4, 4), "b": (2, 4, 3)}),
    (
        "own_lstsq_residuals",
        "torch.linalg.lstsq(A, b, driver='gelsd').residuals",
        {"A": (6, 3), "b": (6, 2)},
    ),
    ("own_matrix_norm_2", "torch.linalg.matrix_norm(A, 2)", {"A": (2, 3, 4)}),
    ("own_matrix_norm_nuc", "torch.linalg.matrix_norm(A, 'nuc')", {"A": (3, 4)}),
    ("own_matrix_norm_m2", "torch.linalg.matrix_norm(A, -2, dim=(0, 2))", {"A": (3, 2, 4)}),
    ("own_norm_nuc", "torch.norm(A, 'nuc')", {"A": (3, 3)}),
    ("own_cond", "torch.linalg.cond(A)", {"A": (2, 3, 3)}),
    ("own_cond_m2", "torch.linalg.cond(A, -2)", {"A": (3, 3)}),
    # QR: R's diagonal signs are LAPACK's (Householder reflections), which faer shares.
    ("own_qr_Q", "torch.linalg.qr(A).Q", {"A": (5, 3)}),
    ("own_qr_R", "torch.linalg.qr(A).R", {"A": (2, 5, 3)}),
    ("own_qr_square", "torch.linalg.qr(A).Q", {"A": (4, 4)}),
    ("own_qr_wide_Q", "torch.linalg.qr(A).Q", {"A": (3, 5)}),
    ("own_qr_wide_R", "torch.linalg.qr(A).R", {"A": (3, 5)}),
    ("own_qr_complete_wide", "torch.linalg.qr(A, mode='complete').R", {"A": (3, 4)}),
    ("own_qr_f32", "torch.linalg.qr(A).R", {"A": (2, 4, 3)}, "float32"),
    # Compositions.
    (
        "own_matrix_power_neg",
        "torch.linalg.matrix_power(A + 3 * torch.eye(3, dtype=A.dtype), -2)",
        {"A": (2, 3, 3)},
    ),
    ("own_matrix_power_5", "torch.linalg.matrix_power(A, 5)", {"A": (3, 3)}),
    ("own_matrix_exp", "torch.linalg.matrix_exp(A)", {"A": (3, 3)}),
    ("own_matrix_exp_large", "torch.linalg.matrix_exp(3 * A)", {"A": (2, 4, 4)}),
    ("own_cross_dim", "torch.linalg.cross(a, b, dim=0)", {"a": (3, 4), "b": (3, 1)}),
    ("own_vecdot", "torch.linalg.vecdot(a, b, dim=0)", {"a": (3, 4), "b": (3, 4)}),
    ("own_multi_dot", "torch.linalg.multi_dot([a, b, c])", {"a": (3,), "b": (3, 4), "c": (4, 2)}),
    ("own_householder", "torch.linalg.householder_product(A, tau)", {"A": (5, 3), "tau": (2,)}),
    ("own_torch_svd_S", "torch.svd(A).S", {"A": (4, 3)}),
    ("own_torch_svd_V", "torch.svd(A, some=False).V.abs()", {"A": (3, 4)}),
    ("own_lu_unpack", "torch.lu_unpack(*torch.linalg.lu_factor(A)).L", {"A": (2, 4, 3)}),
    ("own_vander", "torch.linalg.vander(a)", {"a": (2, 4)}),
    ("own_vander_n", "torch.linalg.vander(a, N=2)", {"a": (3,)}),
    ("own_linalg_diagonal", "torch.linalg.diagonal(A, offset=1)", {"A": (2, 3, 4)}),
    ("own_tensorinv", "torch.linalg.tensorinv(A, ind=1)", {"A": (4, 2, 2)}),
    ("own_tensorsolve", "torch.linalg.tensorsolve(A, b)", {"A": (2, 3, 6), "b": (2, 3)}),
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
        try:
            grads = torch.autograd.grad((out * cot).sum(), list(inputs.values()))
        except RuntimeError as e:
            raise RuntimeError(f"{name}: {e}") from e
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
