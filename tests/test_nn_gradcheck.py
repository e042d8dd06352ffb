"""Finite-difference gradient checks (``rgrad.autograd.gradcheck``, float64) of every public
``rgrad.nn.functional`` op, over its main options."""

import numpy as np
import pytest

import rgrad
import rgrad.nn.functional as F
from rgrad.autograd import gradcheck


def rnd(*shape, low=-2.0, high=2.0, seed=0, requires_grad=True):
    arr = np.random.default_rng(100 + seed).uniform(low, high, size=shape)
    return rgrad.tensor(arr, dtype=rgrad.float64, requires_grad=requires_grad)


def const(*shape, low=-2.0, high=2.0, seed=1):
    return rnd(*shape, low=low, high=high, seed=seed, requires_grad=False)


def labels(n, classes, seed=2):
    return rgrad.tensor(np.random.default_rng(seed).integers(0, classes, n), dtype=rgrad.int64)


def dropped(x):
    rgrad.manual_seed(3)  # the same mask on every evaluation
    return F.dropout(x, 0.4)


def seeded(fn):
    """``fn`` drawing the same random numbers on every evaluation."""

    def run(*args):
        rgrad.manual_seed(3)
        return fn(*args)

    return run


def signs(*shape, seed=4):
    arr = np.where(np.random.default_rng(seed).random(shape) < 0.5, -1.0, 1.0)
    return rgrad.tensor(arr, dtype=rgrad.float64)


W5 = const(5, low=0.5, high=2.0, seed=7)
Y_IGNORED = rgrad.tensor([0, -100, 4, 2], dtype=rgrad.int64)

GRADCHECK = {
    "linear": (lambda x, w, b: F.linear(x, w, b), [rnd(3, 4), rnd(2, 4, seed=1), rnd(2, seed=2)]),
    "bilinear": (
        lambda a, b, w, bias: F.bilinear(a, b, w, bias),
        [rnd(2, 3), rnd(2, 2, seed=1), rnd(4, 3, 2, seed=2), rnd(4, seed=3)],
    ),
    "relu": (F.relu, [rnd(8)]),
    "relu6": (F.relu6, [rnd(8, low=-3, high=8)]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), [rnd(8)]),
    "elu": (lambda x: F.elu(x, 1.3), [rnd(8)]),
    "gelu": (F.gelu, [rnd(8)]),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [rnd(8)]),
    "silu": (F.silu, [rnd(8)]),
    "mish": (F.mish, [rnd(8)]),
    "softplus": (lambda x: F.softplus(x, beta=2.0, threshold=3.0), [rnd(8)]),
    "logsigmoid": (F.logsigmoid, [rnd(8, low=-30, high=30)]),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5), [rnd(8)]),
    # The in-place spellings, on a copy (a leaf that requires grad cannot be overwritten).
    "relu_": (lambda x: F.relu_(x.clone()), [rnd(8)]),
    "leaky_relu_": (lambda x: F.leaky_relu_(x.clone(), 0.2), [rnd(8)]),
    "elu_": (lambda x: F.elu_(x.clone(), 1.3), [rnd(8)]),
    "hardtanh_": (lambda x: F.hardtanh_(x.clone(), -0.5, 1.5), [rnd(8)]),
    "sigmoid": (F.sigmoid, [rnd(8)]),
    "tanh": (F.tanh, [rnd(8)]),
    "softmax": (lambda x: F.softmax(x, dim=1), [rnd(2, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0), [rnd(3, 2)]),
    "softmin": (lambda x: F.softmin(x, dim=1), [rnd(2, 3)]),
    "dropout": (dropped, [rnd(10)]),
    "mse_loss": (F.mse_loss, [rnd(2, 3), rnd(2, 3, seed=1)]),
    "l1_loss": (lambda a, b: F.l1_loss(a, b, reduction="sum"), [rnd(6), rnd(6, seed=1)]),
    "smooth_l1_loss": (lambda a, b: F.smooth_l1_loss(a, b, beta=0.7), [rnd(8), rnd(8, seed=1)]),
    "huber_loss": (
        lambda a, b: F.huber_loss(a, b, reduction="none", delta=0.6),
        [rnd(8), rnd(8, seed=1)],
    ),
    "binary_cross_entropy": (
        lambda p, t: F.binary_cross_entropy(p, t, weight=W5[:3]),
        [rnd(2, 3, low=0.05, high=0.95), rnd(2, 3, low=0, high=1, seed=1)],
    ),
    "binary_cross_entropy_with_logits": (
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=W5[:3], weight=W5[2:]),
        [rnd(2, 3, low=-6, high=6), rnd(2, 3, low=0, high=1, seed=1)],
    ),
    "cross_entropy": (lambda x: F.cross_entropy(x, labels(4, 5)), [rnd(4, 5)]),
    "cross_entropy_options": (
        lambda x: F.cross_entropy(x, Y_IGNORED, weight=W5, label_smoothing=0.2),
        [rnd(4, 5)],
    ),
    "cross_entropy_probs": (
        lambda x, t: F.cross_entropy(x, t.softmax(1), weight=W5, label_smoothing=0.1),
        [rnd(3, 5), rnd(3, 5, seed=1)],
    ),
    "cross_entropy_kdim": (
        lambda x: F.cross_entropy(x, labels(6, 3).reshape(2, 3), reduction="sum"),
        [rnd(2, 3, 3)],
    ),
    "nll_loss": (
        lambda x: F.nll_loss(x.log_softmax(1), Y_IGNORED, weight=W5, reduction="mean"),
        [rnd(4, 5)],
    ),
    "kl_div": (
        lambda x, t: F.kl_div(x.log_softmax(1), t.softmax(1), reduction="batchmean"),
        [rnd(2, 4), rnd(2, 4, seed=1)],
    ),
    "kl_div_log_target": (
        lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True),
        [rnd(2, 4), rnd(2, 4, seed=1)],
    ),
    "scaled_dot_product_attention": (
        # The composite path (float masks added, one fully masked row) with GQA sharing.
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, enable_gqa=True),
        [
            rnd(1, 2, 3, 4, low=-1, high=1),
            rnd(1, 1, 5, 4, low=-1, high=1, seed=1),
            rnd(1, 1, 5, 4, seed=2),
            rnd(3, 5, low=-1, high=1, seed=3),
        ],
    ),
    "scaled_dot_product_attention_causal": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.7),
        [
            rnd(2, 4, 3, low=-1, high=1),
            rnd(2, 5, 3, low=-1, high=1, seed=1),
            rnd(2, 5, 3, seed=2),
        ],
    ),
    "multi_head_attention_forward": (
        # Sequence-first (L=3, N=2, E=4), 2 heads; the weights path (need_weights) and both
        # outputs: packed in-projection weights, out projection, a key padding mask.
        lambda q, kv, w, b, ow, ob: F.multi_head_attention_forward(
            q,
            kv,
            kv,
            4,
            2,
            w,
            b,
            None,
            None,
            False,
            0.0,
            ow,
            ob,
            key_padding_mask=rgrad.tensor([[False, True], [False, False]]),
        ),  # fmt: skip
        [
            rnd(3, 2, 4, low=-1, high=1),
            rnd(2, 2, 4, low=-1, high=1, seed=1),
            rnd(12, 4, low=-0.5, high=0.5, seed=2),
            rnd(12, low=-0.5, high=0.5, seed=3),
            rnd(4, 4, low=-0.5, high=0.5, seed=4),
            rnd(4, seed=5),
        ],
    ),
    "layer_norm": (
        lambda x, w, b: F.layer_norm(x, (2, 3), w, b),
        [rnd(2, 2, 3), rnd(2, 3, seed=1), rnd(2, 3, seed=2)],
    ),
    "batch_norm_train": (
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [rnd(4, 3, 2), rnd(3, seed=1), rnd(3, seed=2)],
    ),
    "batch_norm_eval": (
        lambda x, w: F.batch_norm(x, const(3), const(3, low=0.5, high=2), w, training=False),
        [rnd(4, 3), rnd(3, seed=1)],
    ),
    "embedding": (
        lambda w: F.embedding(rgrad.tensor([[0, 2], [2, 3]]), w),
        [rnd(4, 3)],
    ),
    "embedding_bag_sum": (
        lambda w, p: F.embedding_bag(
            rgrad.tensor([0, 2, 2, 3]), w, rgrad.tensor([0, 1]), mode="sum", per_sample_weights=p
        ),
        [rnd(4, 3), rnd(4, seed=1)],
    ),
    "normalize": (lambda x: F.normalize(x, p=3.0, dim=0), [rnd(3, 4)]),
    "one_hot_mul": (lambda x: F.one_hot(labels(4, 3), 3).double() * x, [rnd(4, 3)]),
    "pad_constant": (lambda x: F.pad(x, (1, 2, -1, 1), value=0.5), [rnd(2, 3, 3)]),
    "pad_reflect": (lambda x: F.pad(x, (2, 1), mode="reflect"), [rnd(2, 4)]),
    "pad_replicate": (lambda x: F.pad(x, (2, 1, 1, 0), mode="replicate"), [rnd(1, 2, 3)]),
    "pad_circular": (lambda x: F.pad(x, (1, 3), mode="circular"), [rnd(2, 3)]),
    # Resampling (tests/test_resample.py has the full grids).
    "interpolate": (lambda x: F.interpolate(x, size=5, mode="linear"), [rnd(1, 2, 3)]),
    "upsample": (lambda x: F.interpolate(x, scale_factor=2), [rnd(1, 1, 3)]),
    "upsample_nearest": (lambda x: F.interpolate(x, scale_factor=2), [rnd(1, 1, 2, 2)]),
    "upsample_bilinear": (
        lambda x: F.interpolate(x, size=3, mode="bilinear", align_corners=True),
        [rnd(1, 1, 2, 2)],
    ),
    "pixel_shuffle": (lambda x: F.pixel_shuffle(x, 2), [rnd(1, 4, 2, 2)]),
    "pixel_unshuffle": (lambda x: F.pixel_unshuffle(x, 2), [rnd(1, 1, 2, 4)]),
    "unfold": (lambda x: F.unfold(x, 2, padding=1), [rnd(1, 1, 3, 3)]),
    "fold": (lambda x: F.fold(x, (3, 3), 2), [rnd(1, 4, 4)]),
    "grid_sample": (
        lambda x, g: F.grid_sample(x, g, align_corners=False),
        [rnd(1, 1, 3, 3), rnd(1, 2, 2, 2, low=-0.9, high=0.9, seed=1)],
    ),
    "affine_grid": (lambda t: F.affine_grid(t, (1, 1, 2, 3), align_corners=False), [rnd(1, 2, 3)]),
    # Activations added with the extra nn layers (rnd's inputs avoid the kinks).
    "selu": (F.selu, [rnd(8)]),
    "selu_": (lambda x: F.selu_(x.clone()), [rnd(8)]),
    "celu": (lambda x: F.celu(x, 0.7), [rnd(8)]),
    "celu_": (lambda x: F.celu_(x.clone(), 1.4), [rnd(8)]),
    "glu": (lambda x: F.glu(x, 0), [rnd(4, 3)]),
    "hardswish": (F.hardswish, [rnd(12, low=-5, high=5)]),
    "hardsigmoid": (F.hardsigmoid, [rnd(12, low=-5, high=5)]),
    "hardshrink": (lambda x: F.hardshrink(x, 0.3), [rnd(8)]),
    "softshrink": (lambda x: F.softshrink(x, 0.3), [rnd(8)]),
    "tanhshrink": (F.tanhshrink, [rnd(8)]),
    "softsign": (F.softsign, [rnd(8)]),
    "threshold": (lambda x: F.threshold(x, 0.2, -1.5), [rnd(8)]),
    "threshold_": (lambda x: F.threshold_(x.clone(), 0.2, -1.5), [rnd(8)]),
    "prelu": (F.prelu, [rnd(2, 3, 2), rnd(3, seed=1)]),
    "rrelu_eval": (lambda x: F.rrelu(x, 0.1, 0.4), [rnd(8)]),
    "rrelu_train": (seeded(lambda x: F.rrelu(x, 0.1, 0.4, training=True)), [rnd(8)]),
    "rrelu_": (seeded(lambda x: F.rrelu_(x.clone(), training=True)), [rnd(8)]),
    "dropout1d": (seeded(lambda x: F.dropout1d(x, 0.4)), [rnd(2, 4, 3)]),
    "dropout2d": (seeded(lambda x: F.dropout2d(x, 0.4)), [rnd(2, 4, 2, 2)]),
    "dropout3d": (seeded(lambda x: F.dropout3d(x, 0.4)), [rnd(3, 2, 1, 2)]),
    "alpha_dropout": (seeded(lambda x: F.alpha_dropout(x, 0.3, True)), [rnd(8)]),
    "feature_alpha_dropout": (
        seeded(lambda x: F.feature_alpha_dropout(x, 0.3, True)),
        [rnd(3, 4, 2)],
    ),
    "rms_norm": (lambda x, w: F.rms_norm(x, (2, 3), w), [rnd(2, 2, 3), rnd(2, 3, seed=1)]),
    "instance_norm": (
        lambda x, w, b: F.instance_norm(x, None, None, w, b),
        [rnd(2, 3, 4), rnd(3, seed=1), rnd(3, seed=2)],
    ),
    "local_response_norm": (
        lambda x: F.local_response_norm(x, 3, alpha=0.2, k=1.5),
        [rnd(2, 5, 3)],
    ),
    "channel_shuffle": (lambda x: F.channel_shuffle(x, 2), [rnd(2, 4, 3)]),
    "native_channel_shuffle": (lambda x: F.native_channel_shuffle(x, 2), [rnd(1, 6, 2)]),
    "group_norm": (
        lambda x, w, b: F.group_norm(x, 2, w, b),
        [rnd(2, 4, 3), rnd(4, seed=1), rnd(4, seed=2)],
    ),
    "cosine_similarity": (
        lambda a, b: F.cosine_similarity(a, b, dim=0),
        [rnd(3, 2), rnd(3, 2, seed=1)],
    ),
    "pairwise_distance": (lambda a, b: F.pairwise_distance(a, b, p=3), [rnd(3, 4), rnd(4, seed=1)]),
    "pdist": (F.pdist, [rnd(4, 3)]),
    "pdist_p1": (lambda x: F.pdist(x, 1), [rnd(3, 2)]),
    # Losses added with the extra nn layers.
    "margin_ranking_loss": (
        lambda a, b: F.margin_ranking_loss(a, b, signs(6), margin=0.2),
        [rnd(6), rnd(6, seed=1)],
    ),
    "hinge_embedding_loss": (
        lambda x: F.hinge_embedding_loss(x, signs(2, 4), margin=1.5),
        [rnd(2, 4)],
    ),
    "soft_margin_loss": (lambda x: F.soft_margin_loss(x, signs(3, 2)), [rnd(3, 2)]),
    "multilabel_soft_margin_loss": (
        lambda x, w: F.multilabel_soft_margin_loss(x, signs(3, 4).clamp_min(0), w),
        [rnd(3, 4), rnd(4, seed=1)],
    ),
    "cosine_embedding_loss": (
        lambda a, b: F.cosine_embedding_loss(a, b, signs(4), margin=-0.5),
        [rnd(4, 3), rnd(4, 3, seed=1)],
    ),
    "triplet_margin_loss": (
        lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0, swap=True),
        [rnd(3, 4), rnd(3, 4, seed=1), rnd(3, 4, seed=2)],
    ),
    "poisson_nll_loss": (
        lambda x, t: F.poisson_nll_loss(x, t, log_input=False, full=True),
        [rnd(5, low=0.5, high=2), rnd(5, low=0, high=4, seed=1)],
    ),
    "gaussian_nll_loss": (
        lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=True),
        [rnd(3, 2), rnd(3, 2, seed=1), rnd(3, 1, low=0.5, high=2, seed=2)],
    ),
    "multi_margin_loss": (
        lambda x: F.multi_margin_loss(x, labels(4, 5), p=2, weight=W5, margin=1.2),
        [rnd(4, 5)],
    ),
    "conv1d": (
        lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1),
        [rnd(2, 2, 5), rnd(3, 2, 3, seed=1), rnd(3, seed=2)],
    ),
    "conv2d": (
        lambda x, w: F.conv2d(x, w, padding="same", groups=2),
        [rnd(1, 4, 4, 4), rnd(2, 2, 2, 3, seed=1)],
    ),
    "conv3d": (
        lambda x, w: F.conv3d(x, w, dilation=(1, 2, 1)),
        [rnd(1, 2, 3, 5, 3), rnd(2, 2, 2, 2, 2, seed=1)],
    ),
    "conv_transpose1d": (
        lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, output_padding=1),
        [rnd(2, 2, 3), rnd(2, 3, 3, seed=1), rnd(3, seed=2)],
    ),
    "conv_transpose2d": (
        lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, groups=2),
        [rnd(1, 4, 3, 3), rnd(4, 1, 3, 3, seed=1)],
    ),
    "conv_transpose3d": (
        lambda x, w: F.conv_transpose3d(x, w),
        [rnd(1, 2, 2, 2, 2), rnd(2, 2, 2, 2, 2, seed=1)],
    ),
    "multilabel_margin_loss": (
        lambda x: F.multilabel_margin_loss(x, rgrad.tensor([[3, 0, -1, 1], [1, 2, 3, 0]])),
        [rnd(2, 4)],
    ),
    # Poolings (their grid of configurations is in tests/test_pool.py).
    "max_pool1d": (lambda x: F.max_pool1d(x, 3, 2, 1), [rnd(2, 2, 7)]),
    "max_pool1d_with_indices": (lambda x: F.max_pool1d_with_indices(x, 2)[0], [rnd(2, 6)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2, 1, ceil_mode=True), [rnd(1, 2, 4, 5)]),
    "max_pool2d_with_indices": (lambda x: F.max_pool2d_with_indices(x, 2)[0], [rnd(2, 4, 4)]),
    "max_pool3d": (lambda x: F.max_pool3d(x, 2, padding=1), [rnd(1, 1, 3, 4, 3)]),
    "max_pool3d_with_indices": (lambda x: F.max_pool3d_with_indices(x, 2)[0], [rnd(1, 4, 4, 2)]),
    "avg_pool1d": (lambda x: F.avg_pool1d(x, 3, 2, 1), [rnd(2, 2, 7)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [rnd(1, 2, 5, 5)]),
    "avg_pool3d": (lambda x: F.avg_pool3d(x, 2, divisor_override=3), [rnd(1, 1, 4, 3, 4)]),
    "adaptive_avg_pool1d": (lambda x: F.adaptive_avg_pool1d(x, 3), [rnd(2, 2, 7)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [rnd(1, 2, 5, 7)]),
    "adaptive_avg_pool3d": (lambda x: F.adaptive_avg_pool3d(x, 2), [rnd(1, 1, 3, 5, 3)]),
    "adaptive_max_pool1d": (lambda x: F.adaptive_max_pool1d(x, 3), [rnd(2, 2, 7)]),
    "adaptive_max_pool1d_with_indices": (
        lambda x: F.adaptive_max_pool1d_with_indices(x, 3)[0],
        [rnd(2, 7)],
    ),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, (2, 3)), [rnd(1, 2, 5, 7)]),
    "adaptive_max_pool2d_with_indices": (
        lambda x: F.adaptive_max_pool2d_with_indices(x, 2)[0],
        [rnd(2, 5, 5)],
    ),
    "adaptive_max_pool3d": (lambda x: F.adaptive_max_pool3d(x, 2), [rnd(1, 1, 3, 5, 3)]),
    "adaptive_max_pool3d_with_indices": (
        lambda x: F.adaptive_max_pool3d_with_indices(x, 2)[0],
        [rnd(1, 3, 4, 3)],
    ),
    "lp_pool1d": (lambda x: F.lp_pool1d(x.abs() + 0.5, 2, 2), [rnd(2, 2, 6)]),
    "lp_pool2d": (lambda x: F.lp_pool2d(x.abs() + 0.5, 3, 2), [rnd(1, 2, 4, 4)]),
    "lp_pool3d": (lambda x: F.lp_pool3d(x.abs() + 0.5, 2, 2), [rnd(1, 1, 4, 4, 2)]),
    # through log_softmax: PyTorch's ctc gradient is the one with respect to the logits
    "ctc_loss": (
        lambda x: F.ctc_loss(
            x.log_softmax(2), rgrad.tensor([[1, 2, 2], [3, 1, 0]]), [5, 4], [3, 2]
        ),
        [rnd(5, 2, 4)],
    ),
    "max_unpool1d": (
        lambda x: F.max_unpool1d(x, rgrad.tensor([[[1, 2, 5]]]), 2),
        [rnd(1, 1, 3)],
    ),
    "max_unpool2d": (
        lambda x: F.max_unpool2d(x, rgrad.tensor([[[[0, 3], [9, 14]]]]), 2),
        [rnd(1, 1, 2, 2)],
    ),
    "max_unpool3d": (
        lambda x: F.max_unpool3d(x, rgrad.tensor([[[[[0]]], [[[7]]]]]), 2),
        [rnd(1, 2, 1, 1, 1)],
    ),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck(name):
    fn, inputs = GRADCHECK[name]
    assert all(x.dtype == rgrad.float64 for x in inputs)
    assert gradcheck(fn, inputs)


def test_every_public_op_has_a_gradcheck():
    missing = [n for n in F.__all__ if not any(k == n or k.startswith(n + "_") for k in GRADCHECK)]
    assert missing == []
