"""The layers added with the extra nn layers: ParameterList/ParameterDict, the channel and
alpha dropouts, RMSNorm/GroupNorm and the distances, against NumPy closed forms and PyTorch
2.15's reprs and messages."""

import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F

RNG = np.random.default_rng(5)
X4 = RNG.standard_normal((2, 4, 3, 2))
X = RNG.standard_normal((4, 6))
X2 = RNG.standard_normal((4, 6))


def T(a, grad=False, dtype=rgrad.float64):
    return rgrad.tensor(a, dtype=dtype, requires_grad=grad)


# ---- ParameterList / ParameterDict -----------------------------------------------------------


def test_parameter_list_registers_wraps_and_indexes():
    p0 = nn.Parameter(rgrad.ones(3))
    pl = nn.ParameterList([p0, rgrad.zeros(2, 3, dtype=rgrad.float64)])
    pl.append(rgrad.ones(1)).extend([rgrad.ones(2)])
    pl += [rgrad.ones(4)]
    assert len(pl) == 5 and pl[0] is p0 and pl[-1].shape == (4,)
    assert all(isinstance(p, nn.Parameter) for p in pl)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2", "3", "4"]
    assert isinstance(pl[1:3], nn.ParameterList) and len(pl[::2]) == 3
    pl[1] = rgrad.full((2,), 7.0)
    assert pl[1].tolist() == [7.0, 7.0] and isinstance(pl[1], nn.Parameter)
    assert "0" not in dir(pl)


def test_parameter_list_in_a_module_trains():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([rgrad.ones(2) for _ in range(3)])

        def forward(self, x):
            for w in self.ws:
                x = x * w
            return x.sum()

    m = M()
    assert list(m.state_dict()) == ["ws.0", "ws.1", "ws.2"]
    opt = rgrad.optim.SGD(m.parameters(), lr=0.5)
    m(rgrad.tensor([1.0, 2.0])).backward()
    opt.step()
    assert m.ws[0].tolist() == [0.5, 0.0]


def test_parameter_list_repr_and_errors():
    pl = nn.ParameterList([nn.Parameter(rgrad.ones(3)), rgrad.zeros(2, 3), "x"])
    assert repr(pl) == (
        "ParameterList(\n"
        "    (0): Parameter containing: [rgrad.float32 of size 3]\n"
        "    (1): Parameter containing: [rgrad.float32 of size 2x3]\n"
        "    (2): Object of type: str\n"
        ")"
    )
    assert repr(nn.ParameterList()) == "ParameterList()"
    with pytest.raises(TypeError, match="ParameterList.extend should be called with an "):
        nn.ParameterList().extend(rgrad.ones(2))
    with pytest.raises(IndexError, match="index 3 is out of range"):
        nn.ParameterList([rgrad.ones(1)])[3]
    with pytest.raises(RuntimeError, match="ParameterList should not be called."):
        nn.ParameterList()(1)


def test_parameter_dict_orders_registers_and_updates():
    pd = nn.ParameterDict({"b": rgrad.ones(3), "a": nn.Parameter(rgrad.zeros(2))})
    assert list(pd) == ["a", "b"]  # a plain dict goes in sorted, as in PyTorch
    pd.update(OrderedDict([("z", rgrad.ones(1)), ("c", rgrad.ones(1))]))
    pd.update([("y", rgrad.ones(1))])
    assert list(pd.keys()) == ["a", "b", "z", "c", "y"]
    assert [n for n, _ in pd.named_parameters()] == ["a", "b", "z", "c", "y"]
    assert isinstance(pd["b"], nn.Parameter) and "c" in pd and len(pd) == 5
    assert pd.pop("z").shape == (1,) and "z" not in pd
    assert pd.popitem()[0] == "y"
    assert pd.get("nope", 3) == 3 and pd.setdefault("d", rgrad.ones(2)).shape == (2,)
    merged = pd | nn.ParameterDict({"e": rgrad.ones(1)})
    assert list(merged) == ["a", "b", "c", "d", "e"] and list(pd.copy()) == list(pd)
    del pd["a"]
    assert list(pd) == ["b", "c", "d"]
    pd.clear()
    assert len(pd) == 0 and list(pd.parameters()) == []


def test_parameter_dict_repr_and_errors():
    pd = nn.ParameterDict({"w": rgrad.ones(2, 3), "s": 1})
    assert repr(pd) == (
        "ParameterDict(\n"
        "    (s): Object of type: int\n"
        "    (w): Parameter containing: [torch.FloatTensor of size 2x3]\n"
        ")"
    )
    with pytest.raises(TypeError, match=r"not a string \(type is 'int'\). Open an issue"):
        nn.ParameterDict()[1]
    with pytest.raises(TypeError, match="ParametersDict.update should be called with an "):
        nn.ParameterDict().update(3)
    with pytest.raises(ValueError, match="element #0 has length 1; 2 is required"):
        nn.ParameterDict().update([(1,)])
    with pytest.raises(TypeError, match="element #0 should be Iterable; isint"):
        nn.ParameterDict().update([3])
    with pytest.raises(RuntimeError, match="ParameterDict should not be called."):
        nn.ParameterDict()(1)


# ---- dropout variants -------------------------------------------------------------------------


def test_channel_dropout_drops_whole_channels():
    rgrad.manual_seed(0)
    x = rgrad.ones(8, 16, 5)
    y = F.dropout1d(x, 0.25).numpy()
    per_channel = y.reshape(8, 16, 5)
    assert set(np.unique(per_channel)) <= {0.0, np.float32(1 / 0.75)}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()  # constant along L
    assert 0 < (per_channel[..., 0] == 0).mean() < 0.6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z = F.dropout2d(rgrad.ones(4, 8, 3, 3), 0.5).numpy()
    assert (z.reshape(4, 8, 9).min(-1) == z.reshape(4, 8, 9).max(-1)).all()
    unbatched = F.dropout1d(rgrad.ones(6, 4), 0.5)
    assert unbatched.shape == (6, 4)
    assert F.dropout3d(rgrad.ones(2, 3, 2, 2), 0.5).shape == (2, 3, 2, 2)


def test_dropout_variants_are_the_identity_in_eval_and_zero_at_p_one():
    x = rgrad.tensor(X)
    for module in (nn.Dropout1d(), nn.Dropout2d(), nn.AlphaDropout(), nn.FeatureAlphaDropout()):
        assert module.eval()(x.unsqueeze(0)).tolist() == x.unsqueeze(0).tolist()
    assert F.alpha_dropout(x, 1.0, True).abs().sum().item() == 0
    assert F.alpha_dropout(x, 0.3) is x  # training defaults to False here, as in PyTorch


def test_inplace_channel_dropout_writes_into_the_input():
    rgrad.manual_seed(1)
    x = rgrad.ones(6, 4)
    assert F.dropout1d(x, 0.5, inplace=True) is x
    assert set(np.unique(x.numpy())) <= {0.0, 2.0}


def test_alpha_dropout_keeps_mean_and_variance_and_its_affine_map():
    rgrad.manual_seed(2)
    x = rgrad.randn(400_000, dtype=rgrad.float64)
    y = F.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01
    alpha = 1.7580993408473766
    a = 1 / math.sqrt((alpha**2 * 0.2 + 1) * 0.8)
    kept = np.isclose(y, a * x.numpy() + alpha * a * 0.2)
    dropped = np.isclose(y, -alpha * a + alpha * a * 0.2)
    assert (kept | dropped).all() and abs(dropped.mean() - 0.2) < 0.005


DROPOUT_ERRORS = [
    (lambda: F.dropout1d(rgrad.ones(2, 3, 4, 5)), RuntimeError, "dropout1d: Expected 2D or 3D"),
    (lambda: F.dropout1d(rgrad.ones(2, 3), 1.5), ValueError, "between 0 and 1, but got 1.5"),
    (lambda: nn.AlphaDropout(-0.1), ValueError, "between 0 and 1, but got -0.1"),
]


@pytest.mark.parametrize("case", range(len(DROPOUT_ERRORS)))
def test_dropout_errors(case):
    fn, kind, message = DROPOUT_ERRORS[case]
    with pytest.raises(kind, match=message):
        fn()


def test_dropout2d_warns_as_pytorch():
    with pytest.warns(UserWarning, match="dropout2d: Received a 3D input to dropout2d and "):
        F.dropout2d(rgrad.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="dropout2d: Received a 2-D input to dropout2d, which"):
        F.dropout2d(rgrad.ones(2, 3))


# ---- RMSNorm / GroupNorm ----------------------------------------------------------------------


def test_rms_norm_matches_numpy_and_uses_finfo_eps_by_default():
    w = RNG.random((3, 2)) + 0.5
    ms = (X4**2).mean((-2, -1), keepdims=True)
    for dtype, eps, tol in ((rgrad.float64, 2.0**-52, 1e-10), (rgrad.float32, 2.0**-23, 1e-5)):
        out = F.rms_norm(T(X4, dtype=dtype), (3, 2), T(w, dtype=dtype))
        np.testing.assert_allclose(out.numpy(), X4 / np.sqrt(ms + eps) * w, rtol=tol, atol=tol)
    m = nn.RMSNorm([3, 2], eps=0.1, dtype=rgrad.float64)
    np.testing.assert_allclose(m(T(X4)).detach().numpy(), X4 / np.sqrt(ms + 0.1), rtol=1e-10)
    assert [n for n, _ in m.named_parameters()] == ["weight"]


def test_rms_norm_gradient_closed_form():
    x = T(X[0], grad=True)
    F.rms_norm(x, (6,)).mul(T(X2[0])).sum().backward()
    n = X.shape[1]
    r = 1 / np.sqrt((X[0] ** 2).mean() + 2.0**-52)
    expected = r * X2[0] - r**3 * X[0] * (X[0] * X2[0]).sum() / n
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-10)


def test_group_norm_matches_numpy():
    w, b = RNG.random(4) + 0.5, RNG.standard_normal(4)
    g = X4.reshape(2, 2, -1)
    norm = (g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-3)
    expected = norm.reshape(X4.shape) * w[:, None, None] + b[:, None, None]
    for dtype, tol in ((rgrad.float64, 1e-10), (rgrad.float32, 1e-5)):
        out = F.group_norm(T(X4, dtype=dtype), 2, T(w, dtype=dtype), T(b, dtype=dtype), 1e-3)
        np.testing.assert_allclose(out.numpy(), expected, rtol=tol, atol=tol)
    m = nn.GroupNorm(2, 4, eps=1e-3, dtype=rgrad.float64)
    np.testing.assert_allclose(
        m(T(X4)).detach().numpy(), norm.reshape(X4.shape), rtol=1e-10, atol=1e-12
    )
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert nn.GroupNorm(2, 4, affine=False).weight is None
    assert nn.GroupNorm(2, 4, bias=False).bias is None


NORM_REPRS = [
    (nn.RMSNorm(3), "RMSNorm((3,), eps=None, elementwise_affine=True)"),
    (
        nn.RMSNorm([2, 3], eps=1e-5, elementwise_affine=False),
        "RMSNorm((2, 3), eps=1e-05, elementwise_affine=False)",
    ),
    (nn.GroupNorm(2, 4), "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"),
    (
        nn.GroupNorm(1, 3, affine=False, eps=1e-3),
        "GroupNorm(1, 3, eps=0.001, affine=False, bias=False)",
    ),
    (nn.Dropout1d(), "Dropout1d(p=0.5, inplace=False)"),
    (nn.Dropout2d(0.2, True), "Dropout2d(p=0.2, inplace=True)"),
    (nn.AlphaDropout(), "AlphaDropout(p=0.5, inplace=False)"),
    (nn.FeatureAlphaDropout(), "FeatureAlphaDropout(p=0.5, inplace=False)"),
    (nn.CosineSimilarity(), "CosineSimilarity()"),
    (nn.PairwiseDistance(1, 1e-3, True), "PairwiseDistance()"),
]


@pytest.mark.parametrize("case", range(len(NORM_REPRS)))
def test_reprs_are_pytorchs(case):
    module, text = NORM_REPRS[case]
    assert repr(module) == text


NORM_ERRORS = [
    (
        lambda: F.rms_norm(rgrad.ones(2, 3), (2,)),
        RuntimeError,
        r"Given normalized_shape=\[2\], expected input with shape \[\*2\], but got input of "
        r"size\[2, 3\]",
    ),
    (
        lambda: F.rms_norm(rgrad.ones(2, 3), (2, 3, 4)),
        RuntimeError,
        "Input tensor must have at least 3 dimensions, but got 2",
    ),
    (
        lambda: F.rms_norm(rgrad.ones(2, 3), (3,), rgrad.ones(2)),
        RuntimeError,
        r"Expected weight to be of same shape as normalized_shape, but got weight of shape \[2\] "
        r"and normalized_shape = \[3\]",
    ),
    (
        lambda: F.group_norm(rgrad.ones(2, 3, 4), 2),
        RuntimeError,
        r"Expected number of channels in input to be divisible by num_groups, but got input of "
        r"shape \[2, 3, 4\] and num_groups=2",
    ),
    (
        lambda: nn.GroupNorm(2, 3),
        ValueError,
        r"num_channels \(3\) must be divisible by num_groups \(2\)",
    ),
    (
        lambda: F.group_norm(rgrad.ones(2, 4, 4), 2, rgrad.ones(3)),
        RuntimeError,
        r"Expected weight to be a vector of size equal to the number of channels in input, but "
        r"got weight of shape \[3\] and input of shape \[2, 4, 4\]",
    ),
    (
        lambda: F.group_norm(rgrad.ones(4), 2),
        RuntimeError,
        "Expected at least 2 dimensions for input tensor but received 1",
    ),
    (
        lambda: F.group_norm(rgrad.ones(1, 4), 4),
        ValueError,
        r"Expected more than 1 value per channel when training, got input size \[1, 4\]",
    ),
    (
        lambda: F.cosine_similarity(rgrad.ones(2, 3), rgrad.ones(4, 3)),
        RuntimeError,
        r"The size of tensor a \(2\) must match the size of tensor b \(4\) at non-singleton",
    ),
    (
        lambda: F.cosine_similarity(rgrad.ones(2, 3), rgrad.ones(2, 3), eps=-1),
        RuntimeError,
        "eps must be non-negative, got: -1",
    ),
    (lambda: F.pdist(rgrad.ones(2, 3, 4)), RuntimeError, "pdist only supports 2D tensors, got: 3D"),
    (lambda: F.pdist(rgrad.ones(2, 3), -1), RuntimeError, "pdist only supports non-negative p"),
]


@pytest.mark.parametrize("case", range(len(NORM_ERRORS)))
def test_error_messages_are_pytorchs(case):
    fn, kind, message = NORM_ERRORS[case]
    with pytest.raises(kind, match=message):
        fn()


# ---- distances ---------------------------------------------------------------------------------


def test_cosine_similarity_matches_numpy():
    expected = (X * X2).sum(1) / (np.linalg.norm(X, axis=1) * np.linalg.norm(X2, axis=1))
    for dtype, tol in ((rgrad.float64, 1e-10), (rgrad.float32, 1e-5)):
        out = F.cosine_similarity(T(X, dtype=dtype), T(X2, dtype=dtype))
        np.testing.assert_allclose(out.numpy(), expected, rtol=tol)
    out = nn.CosineSimilarity(dim=-1)(T(X), T(X2[0]))  # broadcasting
    x2n = X2[0] / np.linalg.norm(X2[0])
    np.testing.assert_allclose(out.numpy(), X @ x2n / np.linalg.norm(X, axis=1), rtol=1e-10)


def test_cosine_similarity_clamps_the_norm_outside_autograd():
    # As PyTorch: value (a / eps) . b_hat, gradient that of a / ||a|| evaluated with ||a|| = eps.
    a = T([[1e-9, 0.0, 0.0]], grad=True)
    b = T([[1.0, 2.0, 0.0]], grad=True)
    y = F.cosine_similarity(a, b, eps=1e-3)
    y.backward()
    bhat = np.array([1.0, 2.0, 0.0]) / math.sqrt(5)
    np.testing.assert_allclose(y.item(), 1e-6 * bhat[0], rtol=1e-10)
    expected = bhat / 1e-3 - (1e-9 * bhat[0]) / 1e-6 * np.array([1.0, 0, 0])
    np.testing.assert_allclose(a.grad.numpy()[0], expected, rtol=1e-10)


def test_pairwise_distance_matches_numpy():
    for p in (1, 2, 3.5):
        expected = (np.abs(X - X2 + 1e-6) ** p).sum(-1) ** (1 / p)
        np.testing.assert_allclose(F.pairwise_distance(T(X), T(X2), p).numpy(), expected, 1e-10)
    inf = F.pairwise_distance(T(X), T(X2), float("inf"))
    np.testing.assert_allclose(inf.numpy(), np.abs(X - X2 + 1e-6).max(-1), rtol=1e-12)
    kept = nn.PairwiseDistance(keepdim=True)(T(X), T(X2[0]))
    assert kept.shape == (4, 1)
    assert F.pairwise_distance(T(1.0), T(3.0)).item() == pytest.approx(2 - 1e-6)


def test_pdist_is_the_upper_triangle_of_the_distance_matrix():
    x = T(X, grad=True)
    out = F.pdist(x, 2)
    i, j = np.triu_indices(4, 1)
    expected = np.linalg.norm(X[i] - X[j], axis=1)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10)
    out.sum().backward()
    grad = np.zeros_like(X)
    for k, (a, b) in enumerate(zip(i, j)):
        unit = (X[a] - X[b]) / expected[k]
        grad[a] += unit
        grad[b] -= unit
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-10)
    assert F.pdist(T(X[:1])).shape == (0,)
    same = T([[1.0, 2.0], [1.0, 2.0]], grad=True)
    F.pdist(same).sum().backward()
    assert same.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]  # PyTorch's zero at zero distance
