"""The torch.linalg factorizations, forward and forward + backward, on small batches and one
larger matrix, in float64. Run through compare.py, which times rgrad and PyTorch
interleaved:

    python benches/compare.py --suite linalg --torch-python /work/torchenv/bin/python \\
        --torch-threads 2 --no-numpy [-k 'svd']
"""

from __future__ import annotations

from compare import Case

# (label, setup expression of A, the op on A returning one tensor)
OPS = [
    ("solve", "A + 64 * torch.eye(A.shape[-1], dtype=A.dtype)", "torch.linalg.solve(X, B)"),
    ("lu_factor", "A", "torch.linalg.lu_factor(X).LU"),
    ("det", "A", "torch.linalg.det(X)"),
    ("qr", "A", "torch.linalg.qr(X).R"),
    ("eigh", "A + A.mT", "torch.linalg.eigh(X).eigenvectors"),
    ("svd", "A", "torch.linalg.svd(X, full_matrices=False).U"),
]
SHAPES = [(64, 8), (8, 64), (1, 256)]  # (batch, n)


def _case(op, prep, expr, batch, n, backward):
    setup = (
        f"torch.manual_seed(0); A = torch.randn({batch}, {n}, {n}, dtype=torch.float64); "
        f"X = ({prep}).detach().requires_grad_({backward}); "
        f"B = torch.randn({batch}, {n}, 4, dtype=torch.float64)"
    )
    stmt = f"({expr}).square().sum().backward()" if backward else expr
    kind = "fwd+bwd" if backward else "fwd"
    return Case(
        name=f"linalg.{op} {batch}x{n}x{n} float64 {kind}",
        setup=setup,
        stmt=stmt,
        needs=("linalg." + expr.split("(")[0].split(".")[-1],),
    )


CASES = [
    _case(op, prep, expr, b, n, bwd)
    for op, prep, expr in OPS
    for b, n in SHAPES
    for bwd in (False, True)
]
