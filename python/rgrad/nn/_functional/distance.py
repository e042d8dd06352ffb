"""Distances of ``rgrad.nn.functional``: ``cosine_similarity``, ``pairwise_distance`` and
``pdist``, with PyTorch's formulas (and so its gradients where a norm vanishes)."""

import rgrad
from rgrad._errors import wrap_module

__all__ = ["cosine_similarity", "pairwise_distance", "pdist"]


def _broadcast(x1, x2):
    """Both inputs expanded to their broadcast shape; a mismatch is the elementwise ops'
    error (PyTorch's text: these compute ``x1 - x2`` first)."""
    a, b = tuple(x1.shape), tuple(x2.shape)
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    for d, (p, q) in enumerate(zip(a, b)):
        if p != q and p != 1 and q != 1:
            raise RuntimeError(
                f"The size of tensor a ({p}) must match the size of tensor b ({q}) at "
                f"non-singleton dimension {d}"
            )
    shape = tuple(max(p, q) if p and q else 0 for p, q in zip(a, b))
    return x1.expand(*shape), x2.expand(*shape)


def _as_common(x1, x2):
    try:
        return _broadcast(x1, x2)
    except ValueError:
        x1 + x2  # raises the core's message, which names the mismatched dimension
        raise


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim``.

    As PyTorch's, each input is divided by its own clamped norm first (the result stays in
    [-1, 1]) and the clamp is applied outside autograd, so the gradient is that of
    ``x / ||x||`` even where the norm was raised to ``eps``.
    """
    if eps < 0:
        raise RuntimeError(f"eps must be non-negative, got: {eps:g}")
    x1, x2 = _as_common(x1, x2)
    norms = []
    for x in (x1, x2):
        n = x.norm(2, dim, keepdim=True).clone()
        with rgrad.no_grad():
            n.clamp_min_(eps)
        norms.append(n)
    return ((x1 / norms[0]) * (x2 / norms[1])).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` over the last dim (of the broadcast shape)."""
    diff = x1 - x2 + eps
    if diff.dim() == 0:
        # The p-norm of one number: |x| (0 for p = 0 and x = 0).
        return diff.ne(0).to(diff.dtype) if p == 0 else diff.abs()
    return diff.norm(p, diff.dim() - 1, keepdim=keepdim)


def pdist(input, p=2):
    """The ``p``-norm distances between all pairs of rows of an (N, M) input, in the order of
    the upper triangle of the distance matrix: N (N - 1) / 2 values."""
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if not input.is_floating_point():
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    if n <= 1:
        return input.new_zeros(0)
    i, j = rgrad.triu_indices(n, n, 1, device=input.device)
    diff = input.index_select(0, i) - input.index_select(0, j)
    return diff.norm(p, 1)


# Non-tensor arguments and NumPy failures raise PyTorch's errors (see rgrad._errors).
wrap_module(globals(), __all__)
