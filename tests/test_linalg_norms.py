"""``rgrad.linalg`` norms, ``rgrad.norm``, ``rgrad.dist`` and ``rgrad.cdist``: values against
NumPy, float64 gradients, a zero gradient at a zero norm/distance, and PyTorch's errors."""

import math

import numpy as np
import pytest

import rgrad
from rgrad.autograd import gradcheck


def rnd(*shape, seed=0, requires_grad=True):
    rng = np.random.default_rng(7 + seed)
    return rgrad.tensor(
        rng.uniform(-2, 2, size=shape), dtype=rgrad.float64, requires_grad=requires_grad
    )


def host(t):
    return t.detach().numpy()


@pytest.mark.parametrize("ord", [2, 1, 3.5, 0, math.inf, -math.inf, -1])
@pytest.mark.parametrize("dim", [None, 1, (0, 2), -1])
def test_vector_norm(ord, dim):
    x = rnd(2, 3, 4)
    a = host(x)
    axis = dim if dim is None or isinstance(dim, int) else tuple(dim)
    flat = a.reshape(-1) if dim is None else a
    want = np.linalg.norm(flat, ord=ord) if dim is None else _vnorm(a, ord, axis)
    got = rgrad.linalg.vector_norm(x, ord, dim)
    np.testing.assert_allclose(host(got), want, rtol=1e-12)
    kept = rgrad.linalg.vector_norm(x, ord, dim, keepdim=True)
    assert kept.ndim == 3
    if ord != 0:
        assert gradcheck(lambda t: rgrad.linalg.vector_norm(t, ord, dim), (x,))


def _vnorm(a, ord, axis):
    if ord == 0:
        return (a != 0).sum(axis=axis).astype(float)
    if ord == math.inf:
        return np.abs(a).max(axis=axis)
    if ord == -math.inf:
        return np.abs(a).min(axis=axis)
    return (np.abs(a) ** ord).sum(axis=axis) ** (1 / ord)


def test_vector_norm_dtype_and_errors():
    x = rgrad.tensor([3, 4])
    with pytest.raises(
        RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"
    ):
        rgrad.linalg.vector_norm(x)
    assert rgrad.linalg.vector_norm(x, dtype=rgrad.float64).item() == 5.0
    z = rgrad.zeros(3, dtype=rgrad.float64, requires_grad=True)
    rgrad.linalg.vector_norm(z).backward()
    assert host(z.grad).tolist() == [0.0, 0.0, 0.0]


def test_matrix_norm():
    A = rnd(2, 3, 4)
    a = host(A)
    np.testing.assert_allclose(
        host(rgrad.linalg.matrix_norm(A)), np.linalg.norm(a, "fro", axis=(-2, -1))
    )
    for ord in [1, -1, math.inf, -math.inf]:
        np.testing.assert_allclose(
            host(rgrad.linalg.matrix_norm(A, ord)), np.linalg.norm(a, ord, axis=(-2, -1))
        )
        assert gradcheck(lambda t, o=ord: rgrad.linalg.matrix_norm(t, o), (A,))
    assert rgrad.linalg.matrix_norm(A, keepdim=True).shape == (2, 1, 1)
    assert gradcheck(lambda t: rgrad.linalg.matrix_norm(t, dim=(0, 2)), (A,))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        rgrad.linalg.matrix_norm(rnd(3))
    for ord in ["nuc", 2, -2]:
        np.testing.assert_allclose(
            host(rgrad.linalg.matrix_norm(A, ord)), np.linalg.norm(a, ord, axis=(-2, -1))
        )
        assert gradcheck(lambda t, o=ord: rgrad.linalg.matrix_norm(t, o), (A,))
    assert rgrad.linalg.matrix_norm(A, 2, keepdim=True).shape == (2, 1, 1)


def test_linalg_norm_dispatch():
    v, M = rnd(5), rnd(3, 4, seed=1)
    np.testing.assert_allclose(host(rgrad.linalg.norm(v)), np.linalg.norm(host(v)))
    np.testing.assert_allclose(host(rgrad.linalg.norm(M)), np.linalg.norm(host(M)))
    np.testing.assert_allclose(host(rgrad.linalg.norm(M, 1)), np.linalg.norm(host(M), 1))
    np.testing.assert_allclose(
        host(rgrad.linalg.norm(M, 3, dim=1)), np.linalg.norm(host(M), 3, axis=1)
    )
    np.testing.assert_allclose(host(rgrad.linalg.norm(M, dim=(0, 1))), np.linalg.norm(host(M)))
    with pytest.raises(RuntimeError, match="the input must be 1D or 2D. Got 3D"):
        rgrad.linalg.norm(rnd(2, 2, 2), 2)


def test_torch_norm():
    x = rnd(3, 4)
    a = host(x)
    np.testing.assert_allclose(host(rgrad.norm(x)), np.linalg.norm(a))
    np.testing.assert_allclose(host(rgrad.norm(x, "fro", dim=(0, 1))), np.linalg.norm(a))
    np.testing.assert_allclose(host(rgrad.norm(x, 1, dim=1)), np.abs(a).sum(1))
    np.testing.assert_allclose(
        host(rgrad.norm(x, p=2, dim=0, keepdim=True)), np.linalg.norm(a, axis=0, keepdims=True)
    )
    np.testing.assert_allclose(host(x.norm()), np.linalg.norm(a))
    assert gradcheck(lambda t: rgrad.norm(t, 3, dim=1), (x,))


def test_dist():
    a, b = rnd(3, 4), rnd(4, seed=1)
    for p in [2, 1, 3, math.inf, 0]:
        np.testing.assert_allclose(
            host(rgrad.dist(a, b, p)), _vnorm((host(a) - host(b)).reshape(-1), p, None)
        )
    assert gradcheck(lambda x, y: rgrad.dist(x, y, 3), (a, b))


def _cdist(a, b, p):
    d = np.abs(a[..., :, None, :] - b[..., None, :, :])
    if p == math.inf:
        return d.max(-1)
    if p == 0:
        return (d != 0).sum(-1).astype(float)
    return (d**p).sum(-1) ** (1 / p)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf])
def test_cdist(p):
    a, b = rnd(4, 3), rnd(5, 3, seed=1)
    np.testing.assert_allclose(host(rgrad.cdist(a, b, p)), _cdist(host(a), host(b), p), rtol=1e-10)
    assert gradcheck(lambda x, y: rgrad.cdist(x, y, p), (a, b))
    ba, bb = rnd(2, 4, 3, seed=2), rnd(2, 5, 3, seed=3)
    np.testing.assert_allclose(
        host(rgrad.cdist(ba, bb, p)), _cdist(host(ba), host(bb), p), rtol=1e-10
    )


def test_cdist_matmul_path_and_zero_distance():
    a, b = rnd(30, 3), rnd(27, 3, seed=1)
    np.testing.assert_allclose(host(rgrad.cdist(a, b)), _cdist(host(a), host(b), 2), rtol=1e-9)
    assert gradcheck(lambda x, y: rgrad.cdist(x, y), (a, b))
    x = rgrad.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=rgrad.float64, requires_grad=True)
    for mode in ["use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"]:
        d = rgrad.cdist(x, x.detach(), compute_mode=mode)
        d.sum().backward()
        assert np.isfinite(host(x.grad)).all()
        x.grad = None


def test_cdist_errors():
    with pytest.raises(RuntimeError, match="cdist only supports at least 2D tensors, X1 got: 1D"):
        rgrad.cdist(rnd(3), rnd(2, 3))
    with pytest.raises(RuntimeError, match="X1 and X2 must have the same number of columns"):
        rgrad.cdist(rnd(2, 3), rnd(2, 4))
    with pytest.raises(RuntimeError, match="non-negative p"):
        rgrad.cdist(rnd(2, 3), rnd(2, 3), -1.0)
