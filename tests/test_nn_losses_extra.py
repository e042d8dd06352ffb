"""The losses added with the extra nn layers: values against NumPy closed forms under every
reduction, gradients against numbers computed with PyTorch 2.15 (hard-coded), float32
agreement, module options and reprs, and PyTorch's error messages."""

import warnings

import numpy as np
import pytest

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F

A = np.array([[0.5, -1.2, 2.0], [1.5, 0.3, -0.7]])
B = np.array([[-0.4, 0.8, 1.1], [0.2, -1.3, 0.9]])
C = np.array([[1.0, 0.1, -0.6], [-0.9, 0.4, 0.6]])
S = np.array([1.0, -1.0])
S2 = np.array([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]])
V = np.array([[0.5, 1.2, 0.1], [2.0, 0.3, 0.8]])
P = np.array([[0.4, 1.7, 3.0], [0.9, 2.2, 0.1]])
MH = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
W3 = np.array([0.5, 1.0, 2.0])
ML = [[2, 0, -1], [1, -1, 0]]


def T(a, dtype=rgrad.float64, grad=False):
    return rgrad.tensor(a, dtype=dtype, requires_grad=grad)


def _cos(a, b):
    return (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))


def _dist(a, b, p=2):
    return (np.abs(a - b + 1e-6) ** p).sum(-1) ** (1 / p)


def _multi_margin(x, y, p=1, margin=1.0, w=None):
    z = np.maximum(margin - x[np.arange(len(y)), y][:, None] + x, 0) ** p
    z[np.arange(len(y)), y] = 0
    if w is not None:
        z = z * w[y][:, None]
    return z.sum(1) / x.shape[1]


def _multilabel_margin(x, targets):
    out = []
    for row, t in zip(x, targets):
        listed = t[: t.index(-1)] if -1 in t else t
        others = [i for i in range(len(row)) if i not in listed]
        out.append(sum(max(0, 1 - (row[j] - row[i])) for j in listed for i in others))
    return np.array(out) / x.shape[1]


def _softplus(z):
    return np.log1p(np.exp(z))


# name: (rgrad call with reduction r, NumPy per-element loss)
CLOSED = {
    "margin_ranking": (
        lambda r: F.margin_ranking_loss(T(A[:, 0]), T(B[:, 0]), T(S), 0.5, reduction=r),
        np.maximum(0, -S * (A[:, 0] - B[:, 0]) + 0.5),
    ),
    "hinge_embedding": (
        lambda r: F.hinge_embedding_loss(T(A), T(S2), margin=0.8, reduction=r),
        np.where(S2 == 1, A, np.maximum(0, 0.8 - A)),
    ),
    "soft_margin": (
        lambda r: F.soft_margin_loss(T(A), T(S2), reduction=r),
        _softplus(-S2 * A),
    ),
    "multilabel_soft_margin": (
        lambda r: F.multilabel_soft_margin_loss(T(A), T(MH), T(W3), reduction=r),
        (W3 * (MH * _softplus(-A) + (1 - MH) * _softplus(A))).mean(1),
    ),
    "cosine_embedding": (
        lambda r: F.cosine_embedding_loss(T(A), T(B), T(S), margin=0.1, reduction=r),
        np.where(S == 1, 1 - _cos(A, B), np.maximum(0, _cos(A, B) - 0.1)),
    ),
    "triplet": (
        lambda r: F.triplet_margin_loss(T(A), T(B), T(C), margin=1.0, reduction=r),
        np.maximum(0, 1.0 + _dist(A, B) - _dist(A, C)),
    ),
    "triplet_swap_p1": (
        lambda r: F.triplet_margin_loss(T(A), T(B), T(C), 2.0, p=1, swap=True, reduction=r),
        np.maximum(0, 2.0 + _dist(A, B, 1) - np.minimum(_dist(A, C, 1), _dist(B, C, 1))),
    ),
    "poisson_log": (
        lambda r: F.poisson_nll_loss(T(A), T(P), reduction=r),
        np.exp(A) - P * A,
    ),
    "poisson_full": (
        lambda r: F.poisson_nll_loss(T(V), T(P), log_input=False, full=True, reduction=r),
        V
        - P * np.log(V + 1e-8)
        + np.where(P > 1, P * np.log(P) - P + 0.5 * np.log(2 * np.pi * P), 0),
    ),
    "gaussian": (
        lambda r: F.gaussian_nll_loss(T(A), T(B), T(V), reduction=r),
        0.5 * (np.log(V) + (A - B) ** 2 / V),
    ),
    "gaussian_full_clamped": (
        lambda r: F.gaussian_nll_loss(T(A), T(B), T(V), full=True, eps=0.4, reduction=r),
        0.5 * (np.log(np.maximum(V, 0.4)) + (A - B) ** 2 / np.maximum(V, 0.4) + np.log(2 * np.pi)),
    ),
    "gaussian_shared_var": (
        lambda r: F.gaussian_nll_loss(T(A), T(B), T(V[:, :1]), reduction=r),
        0.5 * (np.log(V[:, :1]) + (A - B) ** 2 / V[:, :1]),
    ),
    "gaussian_float_var": (
        lambda r: F.gaussian_nll_loss(T(A), T(B), 0.7, reduction=r),
        0.5 * (np.log(0.7) + (A - B) ** 2 / 0.7),
    ),
    "multi_margin": (
        lambda r: F.multi_margin_loss(T(A), rgrad.tensor([1, 2]), reduction=r),
        _multi_margin(A, np.array([1, 2])),
    ),
    "multi_margin_p2_weighted": (
        lambda r: F.multi_margin_loss(
            T(A), rgrad.tensor([1, 2]), p=2, margin=0.7, weight=T(W3), reduction=r
        ),
        _multi_margin(A, np.array([1, 2]), 2, 0.7, W3),
    ),
    "multilabel_margin": (
        lambda r: F.multilabel_margin_loss(T(A), rgrad.tensor(ML), reduction=r),
        _multilabel_margin(A, ML),
    ),
}


@pytest.mark.parametrize("name", sorted(CLOSED))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_values_match_the_closed_forms(name, reduction):
    fn, per_element = CLOSED[name]
    expected = {"none": per_element, "mean": per_element.mean(), "sum": per_element.sum()}
    out = fn(reduction)
    assert out.shape == np.shape(expected[reduction])
    np.testing.assert_allclose(out.numpy(), expected[reduction], rtol=1e-10, atol=1e-12)


# The sum-reduced loss and its gradients with respect to the inputs, from PyTorch 2.15; each
# function takes the constructor of its constant tensors first.
TORCH_GRADS = {
    "margin_ranking": (
        lambda c, a, b: F.margin_ranking_loss(a, b, c(S), margin=0.5, reduction="sum"),
        [A[:, 0], B[:, 0]],
        1.8,
        [[0.0, 1.0], [0.0, -1.0]],
    ),
    "cosine_embedding": (
        lambda c, a, b: F.cosine_embedding_loss(a, b, c(S), margin=0.1, reduction="sum"),
        [A, B],
        0.6924758849709163,
        [
            [[0.14530171448244053, -0.30141271244569057, -0.21717305608805143], [0, 0, 0]],
            [[-0.20904696108699977, 0.4772331750642079, -0.42309574953301743], [0, 0, 0]],
        ],
    ),
    "triplet": (
        lambda c, a, p, n: F.triplet_margin_loss(a, p, n, margin=1.0, reduction="sum"),
        [A, B, C],
        1.299375067310757,
        [
            [
                [0.5491580431692757, -0.4029077916237132, -0.5018402907992786],
                [-0.3805413089537128, 0.6497338286129695, -0.1371574450166944],
            ],
            [
                [-0.37964252188348757, 0.8436486894175154, -0.37964252188348757],
                [-0.4981613705094235, -0.6131215983498844, 0.6131208319483655],
            ],
            [
                [-0.16951552128578812, -0.44074089779380216, 0.8814828126827662],
                [0.8787026794631363, -0.036612230263084966, -0.4759633869316711],
            ],
        ],
    ),
    "multi_margin": (
        lambda c, a: F.multi_margin_loss(
            a, rgrad.tensor([1, 2]), p=2, weight=c(W3), reduction="sum"
        ),
        [A],
        17.803333333333335,
        [[[1.8, -4.6, 2.8], [4.266666666666667, 2.6666666666666665, -6.933333333333334]]],
    ),
    "multilabel_margin": (
        lambda c, a: F.multilabel_margin_loss(a, rgrad.tensor(ML), reduction="sum"),
        [A],
        0.7333333333333334,
        [[[0, 0, 0], [1 / 3, -1 / 3, 0]]],
    ),
    "gaussian_nll_clamped_var": (
        # The clamp to eps changes the value only: the gradient is that of the raw variance.
        lambda c, a, v: F.gaussian_nll_loss(a, c(B), v, eps=0.2, reduction="sum"),
        [A, V],
        9.363716977693189,
        [
            [[1.8, -1.6666666666666667, 4.5], [0.65, 5.333333333333334, -2.0]],
            [
                [-0.6200000000000001, -0.9722222222222223, -7.6249999999999964],
                [0.03874999999999998, -12.555555555555559, -1.3750000000000004],
            ],
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(TORCH_GRADS))
@pytest.mark.parametrize("dtype, tol", [(rgrad.float64, 1e-10), (rgrad.float32, 1e-5)])
def test_gradients_match_pytorch(name, dtype, tol):
    fn, arrays, value, grads = TORCH_GRADS[name]
    inputs = [T(a, dtype, grad=True) for a in arrays]
    out = fn(lambda a: T(a, dtype), *inputs)  # constants (targets, weights) in dtype too
    out.backward()
    np.testing.assert_allclose(out.item(), value, rtol=tol)
    for x, g in zip(inputs, grads):
        np.testing.assert_allclose(x.grad.numpy(), g, rtol=tol, atol=tol)


def test_multilabel_targets_stop_at_the_first_minus_one_and_1d_inputs():
    x = rgrad.tensor([0.1, 0.2, 0.4, 0.8], dtype=rgrad.float64)
    y = rgrad.tensor([3, 0, -1, 1])  # classes 3 and 0; the 1 after -1 is ignored
    out = F.multilabel_margin_loss(x, y, reduction="none")
    assert out.shape == ()
    np.testing.assert_allclose(out.item(), _multilabel_margin(x.numpy()[None], [[3, 0, -1, 1]]))


def test_multi_margin_shapes_follow_the_target():
    x = rgrad.tensor([0.1, 0.9, 0.3])
    assert F.multi_margin_loss(x, rgrad.tensor(1), reduction="none").shape == ()
    assert F.multi_margin_loss(x, rgrad.tensor([1]), reduction="none").shape == (1,)


def test_soft_margin_loss_does_not_overflow():
    big = rgrad.tensor([-1000.0, 1000.0], dtype=rgrad.float64, requires_grad=True)
    out = F.soft_margin_loss(big, rgrad.tensor([1.0, 1.0], dtype=rgrad.float64), reduction="sum")
    out.backward()
    np.testing.assert_allclose(out.item(), 1000.0)
    np.testing.assert_allclose(big.grad.numpy(), [-1.0, 0.0], atol=1e-12)


def test_deprecated_size_average_and_reduce():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = F.margin_ranking_loss(T(A[:, 0]), T(B[:, 0]), T(S), 0.5, size_average=False)
    np.testing.assert_allclose(out.item(), CLOSED["margin_ranking"][1].sum())


MODULES = [
    (nn.MarginRankingLoss(0.5), "MarginRankingLoss()", {"margin": 0.5}),
    (nn.CosineEmbeddingLoss(0.2), "CosineEmbeddingLoss()", {"margin": 0.2}),
    (nn.HingeEmbeddingLoss(), "HingeEmbeddingLoss()", {"margin": 1.0}),
    (nn.SoftMarginLoss(reduction="sum"), "SoftMarginLoss()", {"reduction": "sum"}),
    (nn.MultiLabelSoftMarginLoss(), "MultiLabelSoftMarginLoss()", {"weight": None}),
    (nn.MultiLabelMarginLoss(), "MultiLabelMarginLoss()", {"reduction": "mean"}),
    (nn.MultiMarginLoss(p=2, margin=0.5), "MultiMarginLoss()", {"p": 2, "margin": 0.5}),
    (nn.TripletMarginLoss(swap=True), "TripletMarginLoss()", {"margin": 1.0, "p": 2.0}),
    (nn.PoissonNLLLoss(log_input=False), "PoissonNLLLoss()", {"eps": 1e-8, "full": False}),
    (nn.GaussianNLLLoss(full=True), "GaussianNLLLoss()", {"eps": 1e-6, "full": True}),
]


@pytest.mark.parametrize("case", range(len(MODULES)))
def test_module_reprs_and_options(case):
    module, text, options = MODULES[case]
    assert repr(module) == text
    for name, value in options.items():
        assert getattr(module, name) == value


def test_modules_call_the_functional_forms():
    y = rgrad.tensor([1, 2])
    pairs = [
        (nn.MarginRankingLoss(0.5)(T(A[:, 0]), T(B[:, 0]), T(S)), CLOSED["margin_ranking"]),
        (nn.HingeEmbeddingLoss(0.8)(T(A), T(S2)), CLOSED["hinge_embedding"]),
        (nn.SoftMarginLoss()(T(A), T(S2)), CLOSED["soft_margin"]),
        (nn.MultiLabelSoftMarginLoss(T(W3))(T(A), T(MH)), CLOSED["multilabel_soft_margin"]),
        (nn.CosineEmbeddingLoss(0.1)(T(A), T(B), T(S)), CLOSED["cosine_embedding"]),
        (nn.TripletMarginLoss()(T(A), T(B), T(C)), CLOSED["triplet"]),
        (nn.PoissonNLLLoss()(T(A), T(P)), CLOSED["poisson_log"]),
        (nn.GaussianNLLLoss()(T(A), T(B), T(V)), CLOSED["gaussian"]),
        (nn.MultiMarginLoss()(T(A), y), CLOSED["multi_margin"]),
        (nn.MultiLabelMarginLoss()(T(A), rgrad.tensor(ML)), CLOSED["multilabel_margin"]),
    ]
    for out, (_, per_element) in pairs:
        np.testing.assert_allclose(out.item(), per_element.mean(), rtol=1e-10)
    weighted = nn.MultiMarginLoss(weight=T(W3))
    assert "weight" in dict(weighted.named_buffers())


X23 = rgrad.ones(2, 3)
# PyTorch 2.15's exception types and messages, verbatim (rgrad spells Size as rgrad.Size).
ERRORS = [
    (
        lambda: F.margin_ranking_loss(rgrad.ones(3), rgrad.ones(3, 1), rgrad.ones(3)),
        RuntimeError,
        r"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
        r"input1: \w+.Size\(\[3\]\), input2: \w+.Size\(\[3, 1\]\), target: \w+.Size\(\[3\]\) ",
    ),
    (
        lambda: F.soft_margin_loss(X23, X23, reduction="foo"),
        ValueError,
        "foo is not a valid value for reduction",
    ),
    (
        lambda: F.cosine_embedding_loss(X23, X23, rgrad.ones(2, 3)),
        RuntimeError,
        "0D or 1D target tensor expected, multi-target not supported",
    ),
    (
        lambda: F.cosine_embedding_loss(rgrad.ones(3), rgrad.ones(3), rgrad.ones(2)),
        RuntimeError,
        r"1D target tensor expects 2D input tensors, but found inputs with sizes \[3\] and \[3\].",
    ),
    (
        lambda: F.cosine_embedding_loss(X23, X23, rgrad.tensor(1.0)),
        RuntimeError,
        r"0D target tensor expects 1D input tensors, but found inputs with sizes \[2, 3\] and",
    ),
    (
        lambda: F.triplet_margin_loss(X23, rgrad.ones(3), X23),
        RuntimeError,
        "The anchor, positive, and negative tensors are expected to have the same number of "
        "dimensions, but got: anchor 2D, positive 1D, and negative 2D inputs",
    ),
    (
        lambda: F.triplet_margin_loss(X23, X23, X23, margin=-1),
        ValueError,
        "margin must be greater than 0, got -1",
    ),
    (
        lambda: nn.TripletMarginLoss(margin=0),
        ValueError,
        "TripletMarginLoss: expected margin to be greater than 0, got 0 instead",
    ),
    (
        lambda: F.gaussian_nll_loss(X23, X23, rgrad.ones(3, 3)),
        ValueError,
        "var is of incorrect size",
    ),
    (
        lambda: F.gaussian_nll_loss(X23, X23, -X23),
        ValueError,
        "var has negative entry/entries",
    ),
    (lambda: F.gaussian_nll_loss(X23, X23, X23, reduction="x"), ValueError, "x is not valid"),
    (
        lambda: F.poisson_nll_loss(X23, X23, reduction="x"),
        ValueError,
        "x is not a valid value for reduction",
    ),
    (
        lambda: F.multi_margin_loss(X23, rgrad.tensor([0, 1]), p=3),
        ValueError,
        "only p == 1 and p == 2 supported",
    ),
    (
        lambda: nn.MultiMarginLoss(weight=rgrad.ones(2, 2)),
        ValueError,
        "MultiMarginLoss: expected weight to be None or 1D tensor, got 2D instead",
    ),
    (
        lambda: F.multi_margin_loss(rgrad.ones(2, 3, 4), rgrad.tensor([0, 1])),
        RuntimeError,
        r"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
        r"\[2, 3, 4\]",
    ),
    (
        lambda: F.multi_margin_loss(X23, rgrad.tensor([0, 1, 2])),
        RuntimeError,
        r"multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
        r"samples \(batch size\). Expected target size \[2\], but got \[3\]. Input has shape "
        r"\[2, 3\].",
    ),
    (lambda: F.multi_margin_loss(X23, rgrad.tensor([0, 3])), RuntimeError, "target out of range"),
    (
        lambda: F.multi_margin_loss(X23, rgrad.tensor([0, 1]), weight=rgrad.ones(2)),
        RuntimeError,
        r"inconsistent weight size, expected 3 but got \[2\]",
    ),
    (
        lambda: F.multi_margin_loss(X23, rgrad.tensor([0.0, 1.0])),
        RuntimeError,
        "expected scalar type Long but found Float",
    ),
    (
        lambda: F.multilabel_margin_loss(X23, rgrad.tensor([[0, 1, -1]])),
        RuntimeError,
        r"inconsistent target size: \[1, 3\] for input of size: \[2, 3\]",
    ),
    (
        lambda: F.multilabel_margin_loss(X23, rgrad.tensor([[0, 3, -1], [0, 1, 2]])),
        RuntimeError,
        "argument #2 'target' is out of range",
    ),
    (
        lambda: F.multilabel_margin_loss(X23, rgrad.zeros(2, 3)),
        RuntimeError,
        "expected scalar type Long but found Float",
    ),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_error_messages_are_pytorchs(case):
    fn, kind, message = ERRORS[case]
    with pytest.raises(kind, match=message):
        fn()
