"""``norm`` (one node for p = 2 and general p, PyTorch's zero gradient at a zero norm, p = 0
counting nonzeros) and the index ranges of ``index_select`` / ``Embedding`` / ``gather``, which
do not wrap negative indices as ``[]`` does."""

import numpy as np
import pytest

import rgrad
from rgrad.autograd import gradcheck, gradgradcheck


def leaf(values):
    return rgrad.tensor(values, dtype=rgrad.float64, requires_grad=True)


@pytest.mark.parametrize("p", [2.0, 3.0, 1.5, 1.0, float("inf")])
@pytest.mark.parametrize("dim", [None, 0, 1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_norm_values_and_gradients(p, dim, keepdim):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((3, 4))
    x = leaf(xs)
    out = x.norm(p=p, dim=dim, keepdim=keepdim)
    want = np.linalg.norm(xs.ravel(), ord=p) if dim is None else None
    if dim is not None:
        want = (np.abs(xs) ** p).sum(axis=dim, keepdims=keepdim) ** (1 / p)
        if p == float("inf"):
            want = np.abs(xs).max(axis=dim, keepdims=keepdim)
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12)
    fn = lambda t: t.norm(p=p, dim=dim, keepdim=keepdim)
    assert gradcheck(fn, (x,))
    if p != float("inf"):
        assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("p", [2.0, 3.0])
def test_norm_gradient_is_zero_where_the_norm_is_zero(p):
    # PyTorch 2.15: x = [[1, 2], [0, 0]], x.norm(dim=1).sum() -> grad [[.4472, .8944], [0, 0]]
    x = leaf([[1.0, 2.0], [0.0, 0.0]])
    x.norm(p=p, dim=1).sum().backward()
    assert x.grad[1].tolist() == [0.0, 0.0]
    assert np.isfinite(x.grad.numpy()).all()
    z = leaf([0.0, 0.0])
    z.norm(p=p).backward()
    assert z.grad.tolist() == [0.0, 0.0]
    if p == 2.0:
        np.testing.assert_allclose(x.grad[0].numpy(), [1 / 5**0.5, 2 / 5**0.5], rtol=1e-12)


def test_norm_zero_counts_nonzeros():
    x = leaf([[3.0, -4.0], [0.0, 12.0]])
    assert x.norm(0).item() == 3.0
    assert x.norm(0, dim=1).tolist() == [2.0, 1.0]
    x.norm(0).backward()
    assert x.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_index_select_and_embedding_reject_negative_indices():
    t = rgrad.ones(3, 2)
    with pytest.raises(IndexError, match="index out of range in self"):
        t.index_select(0, rgrad.tensor([-1]))
    with pytest.raises(IndexError, match="index out of range in self"):
        t.index_select(0, rgrad.tensor([3]))
    with pytest.raises(IndexError, match="index out of range in self"):
        rgrad.nn.Embedding(3, 2)(rgrad.tensor([0, -1]))
    assert t[rgrad.tensor([-1])].shape == (1, 2)  # [] still wraps


@pytest.mark.parametrize("bad", [-1, 3])
def test_gather_and_scatter_reject_out_of_range_indices(bad):
    msg = f"index {bad} is out of bounds for dimension 0 with size 3"
    with pytest.raises(RuntimeError, match=msg):
        rgrad.gather(rgrad.ones(3), 0, rgrad.tensor([bad]))
    with pytest.raises(RuntimeError, match=msg):
        rgrad.zeros(3).scatter_add(0, rgrad.tensor([bad]), rgrad.ones(1))
