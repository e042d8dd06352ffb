"""Products of ``torch.*`` as composites of the compiled matmul and elementwise ops:
``inner``, ``tensordot``, ``kron``, ``cross``, the ``add*`` family (``addmm``, ``baddbmm``,
``addcmul``, ...), ``lerp`` and ``einsum`` (parsed here, contracted by ``matmul``/``sum``).
"""

from __future__ import annotations

import math
import string

from rgrad import _rgrad
from rgrad._errors import wrap_module
from rgrad._shape_ops import _dim, _is_float, broadcast_shapes, diagonal

Tensor = _rgrad.Tensor

__all__ = [
    "addcdiv",
    "addcmul",
    "addmm",
    "addmv",
    "addr",
    "baddbmm",
    "cross",
    "einsum",
    "inner",
    "kron",
    "lerp",
    "tensordot",
]


# ---- products --------------------------------------------------------------------------------


def inner(input, other):
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(
            f"inner() the last dimension must match on both input tensors but got shapes "
            f"{list(input.shape)} and {list(other.shape)}"
        )
    return tensordot(input, other, ([-1], [-1]))


def tensordot(a, b, dims=2, out=None):
    """Sum of products over ``dims`` of ``a`` and ``b`` (the last/first ``dims`` dims for an
    int), as one matrix product."""
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    da = [_dim(d, a.ndim) for d in da]
    db = [_dim(d, b.ndim) for d in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[x]} in dim "
                f"{x} and second has size {b.shape[y]} in dim {y}"
            )
    fa = [d for d in range(a.ndim) if d not in da]
    fb = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    sa = [a.shape[d] for d in fa]
    sb = [b.shape[d] for d in fb]
    am = a.permute(*(fa + da)).reshape(math.prod(sa), k)
    bm = b.permute(*(db + fb)).reshape(k, math.prod(sb))
    return am.mm(bm).reshape(tuple(sa + sb))


def kron(input, other):
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    sa = [s for d in a.shape for s in (d, 1)]
    sb = [s for d in b.shape for s in (1, d)]
    out = a.reshape(tuple(sa)) * b.reshape(tuple(sb))
    return out.reshape(tuple(x * y for x, y in zip(a.shape, b.shape)))


def cross(input, other, dim=None):
    shape = broadcast_shapes(input.shape, other.shape)
    a, b = input.expand(*shape), other.expand(*shape)
    if dim is None:
        dims = [i for i, s in enumerate(shape) if s == 3]
        if not dims:
            raise RuntimeError("no dimension of size 3 in input")
        dim = dims[0]
    dim = _dim(dim, len(shape))
    if shape[dim] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. "
            f"Got {a.shape[dim]} and {b.shape[dim]}"
        )
    a0, a1, a2 = (a.narrow(dim, i, 1) for i in range(3))
    b0, b1, b2 = (b.narrow(dim, i, 1) for i in range(3))
    return _rgrad.cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


def _scaled(t, s):
    return t if s == 1 else t * s


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    prod = _scaled(mat1.mm(mat2), alpha)
    return prod if beta == 0 else _scaled(input, beta) + prod


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    prod = _scaled(mat.mv(vec), alpha)
    return prod if beta == 0 else _scaled(input, beta) + prod


def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    prod = _scaled(vec1.unsqueeze(1) * vec2.unsqueeze(0), alpha)
    return prod if beta == 0 else _scaled(input, beta) + prod


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    prod = _scaled(batch1.bmm(batch2), alpha)
    return prod if beta == 0 else _scaled(input, beta) + prod


def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    return input + _scaled(tensor1 * tensor2, value)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    if not _is_float(tensor1) and not _is_float(tensor2):
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic "
            "addcdiv behavior can be implemented as (input + value * torch.trunc(tensor1 / "
            "tensor2)).to(input.dtype) for integer inputs and as (input + value * tensor1 / "
            "tensor2) for float inputs. The future addcdiv behavior is just the latter "
            "implementation: (input + value * tensor1 / tensor2), for all dtypes."
        )
    return input + _scaled(tensor1 / tensor2, value)


def lerp(input, end, weight):
    return input + weight * (end - input)


# ---- einsum ----------------------------------------------------------------------------------


def _einsum_parse(equation, operands):
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(
            "einsum(): more operands were provided than specified in the equation"
            if len(operands) > len(terms)
            else "einsum(): fewer operands were provided than specified in the equation"
        )
    used = set(c for c in eq if c.isalpha())
    spare = [c for c in string.ascii_letters if c not in used]
    ell_nd = 0
    for t, x in zip(terms, operands):
        if "..." in t:
            ell_nd = max(ell_nd, x.ndim - (len(t) - 3))
    ell = "".join(spare[:ell_nd])
    out_terms = []
    for t, x in zip(terms, operands):
        if "..." in t:
            k = x.ndim - (len(t) - 3)
            t = t.replace("...", ell[ell_nd - k :] if k else "")
        if len(t) != x.ndim:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({len(t)}) does not match "
                f"the number of dimensions ({x.ndim}) for operand {len(out_terms)}"
                + ("" if "..." in eq else " and no ellipsis was given")
            )
        for c in t:
            if not c.isalpha():
                raise RuntimeError(
                    f"einsum(): invalid subscript given at index {eq.index(c)} in the equation "
                    "string, subscripts must be in [a-zA-Z]"
                )
        out_terms.append(t)
    if arrow:
        out = rhs.replace("...", ell)
        for c in out:
            if not any(c in t for t in out_terms):
                raise RuntimeError(
                    f"einsum(): output subscript {c} does not appear in the equation for any "
                    "input operand"
                )
    else:
        counts = {}
        for t in out_terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return out_terms, out


def _einsum_diag(x, t):
    """Takes repeated labels of one operand down to one (the diagonal)."""
    while True:
        dup = next((c for c in t if t.count(c) > 1), None)
        if dup is None:
            return x, t
        i = t.index(dup)
        j = t.index(dup, i + 1)
        x = diagonal(x, 0, i, j)
        t = t[:i] + t[i + 1 : j] + t[j + 1 :] + dup


def _einsum_sum(x, t, keep):
    drop = [i for i, c in enumerate(t) if c not in keep]
    if drop:
        x = x.sum(drop)
        t = "".join(c for c in t if c in keep)
    return x, t


def einsum(equation, *operands):
    """Einstein summation, contracting the operands pairwise (left to right) with one batched
    matrix product each."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    terms, out = _einsum_parse(equation, operands)
    sizes = {}
    for x, t in zip(operands, terms):
        for c, s in zip(t, x.shape):
            if sizes.get(c, 1) != 1 and s != 1 and sizes[c] != s:
                raise RuntimeError(
                    "einsum(): operands do not broadcast with remapped shapes (original->remapped)"
                )
            sizes[c] = max(sizes.get(c, 1), s)
    xs = []
    for i, (x, t) in enumerate(zip(operands, terms)):
        x, t = _einsum_diag(x, t)
        rest = out + "".join(terms[j] for j in range(len(terms)) if j != i)
        x, t = _einsum_sum(x, t, rest)
        xs.append((x, t))
    x, t = xs[0]
    for k in range(1, len(xs)):
        y, u = xs[k]
        later = out + "".join(v for _, v in xs[k + 1 :])
        x, t = _einsum_sum(x, t, later + u)
        y, u = _einsum_sum(y, u, later + t)
        batch = [c for c in t if c in u and c in later]
        contr = [c for c in t if c in u and c not in later]
        a_only = [c for c in t if c not in u]
        b_only = [c for c in u if c not in t]
        sz = {
            c: max(x.shape[t.index(c)] if c in t else 1, y.shape[u.index(c)] if c in u else 1)
            for c in t + u
        }
        xa = x.permute(*[t.index(c) for c in batch + a_only + contr])
        yb = y.permute(*[u.index(c) for c in batch + contr + b_only])
        xa = xa.expand(*[sz[c] for c in batch + a_only + contr])
        yb = yb.expand(*[sz[c] for c in batch + contr + b_only])
        nb = math.prod(sz[c] for c in batch)
        na = math.prod(sz[c] for c in a_only)
        nk = math.prod(sz[c] for c in contr)
        nn = math.prod(sz[c] for c in b_only)
        prod = xa.reshape(nb, na, nk).bmm(yb.reshape(nb, nk, nn))
        x = prod.reshape(tuple(sz[c] for c in batch + a_only + b_only))
        t = "".join(batch + a_only + b_only)
    x, t = _einsum_sum(x, t, out)
    if t != out:
        x = x.permute(*[t.index(c) for c in out])
    shape = tuple(sizes[c] for c in out)
    return x if tuple(x.shape) == shape else x.expand(*shape)


wrap_module(globals(), __all__)
