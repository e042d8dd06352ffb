"""The linear algebra the Gaussian families use, by PyTorch's ``torch.linalg`` names.

``rgrad.linalg.cholesky`` and ``rgrad.linalg.solve_triangular`` come from the core (with
their backward rules); until a build has them, the Gaussian families raise a clear error
instead of factorising in Python.
"""

import rgrad


def _op(name):
    fn = getattr(rgrad.linalg, name, None)
    if fn is None:
        raise NotImplementedError(
            f"rgrad.linalg.{name} is not available in this build; MultivariateNormal and "
            "LowRankMultivariateNormal need it"
        )
    return fn


def cholesky(a):
    return _op("cholesky")(a)


def solve_triangular(a, b, upper):
    return _op("solve_triangular")(a, b, upper=upper)


def batch_mv(bmat, bvec):
    return rgrad.matmul(bmat, bvec.unsqueeze(-1)).squeeze(-1)


def batch_mahalanobis(bL, bx):
    """Squared Mahalanobis distance x^T (L L^T)^-1 x, batched over broadcast batch dims."""
    n = bx.size(-1)
    batch = tuple(rgrad.broadcast_shapes(tuple(bL.shape[:-2]), tuple(bx.shape[:-1])))
    L = bL.expand(batch + (n, n))
    x = bx.expand(batch + (n,))
    return solve_triangular(L, x.unsqueeze(-1), upper=False).squeeze(-1).pow(2).sum(-1)


def batch_trace_xxt(bmat):
    """trace(X X^T) for each matrix of a batch."""
    n = bmat.size(-1)
    m = bmat.size(-2)
    return bmat.reshape(-1, m * n).pow(2).sum(-1).reshape(tuple(bmat.shape[:-2]))


def tril_inverse(L):
    eye = rgrad.eye(L.shape[-1], dtype=L.dtype, device=L.device).expand(tuple(L.shape))
    return solve_triangular(L, eye, upper=False)
