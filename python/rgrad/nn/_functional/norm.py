"""Batch-style normalization of ``rgrad.nn.functional``: ``batch_norm``, ``instance_norm``,
``local_response_norm`` and ``channel_shuffle``.

``batch_norm`` is one core op (``native_batch_norm``: fused forward, running statistics and
backward); ``instance_norm`` folds the batch into the channels and runs the same op, as
PyTorch's ``at::instance_norm`` does; ``local_response_norm`` is PyTorch's composite (the
window average over channels as a convolution with a ones kernel) and ``channel_shuffle`` a
reshape. This layer only adds the checks PyTorch makes in Python."""

import rgrad
from rgrad import _rgrad
from rgrad.nn._functional.conv import conv2d
from rgrad.nn._functional.layers import pad

__all__ = [
    "batch_norm",
    "channel_shuffle",
    "instance_norm",
    "local_response_norm",
    "native_channel_shuffle",
]


def _float_arg(value, func, name, pos):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if not hasattr(value, "__float__") or hasattr(value, "shape"):
            raise TypeError(
                f"{func}(): argument '{name}' (position {pos}) must be float, not "
                f"{type(value).__name__}"
            )
    return float(value)


def _verify_batch_size(size):
    prod = size[0]
    for d in size[2:]:
        prod *= d
    if prod == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {size}"
        )


def _verify_spatial_size(size):
    prod = 1
    for d in size[2:]:
        prod *= d
    if prod == 1:
        raise ValueError(
            f"Expected more than 1 spatial element when training, got input size {size}"
        )


def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
):
    """Normalizes each channel (dim 1) over the batch and any trailing dims, then applies
    the per-channel affine ``weight``/``bias``.

    In training the batch statistics are used (biased variance) and the running statistics,
    when given, are updated in place: ``running = (1 - momentum) * running + momentum *
    batch`` with the unbiased batch variance. Otherwise the running statistics are used.
    """
    if training:
        _verify_batch_size(input.size())
    momentum = _float_arg(momentum, "batch_norm", "momentum", 7)
    value = _float_arg(eps, "batch_norm", "eps", 8)
    if training and value <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if value < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    return _rgrad.native_batch_norm(
        input, weight, bias, running_mean, running_var, bool(training), momentum, value
    )[0]


def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats=True,
    momentum=0.1,
    eps=1e-5,
):
    """Normalizes each channel of each sample over its trailing dims.

    As PyTorch: the input is viewed as one sample of ``N * C`` channels for the batch-norm op,
    with ``weight``, ``bias`` and the running statistics repeated ``N`` times; the running
    statistics then become the mean over the batch of their updated copies.
    """
    if use_input_stats:
        _verify_spatial_size(input.size())
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError(
            "Expected running_mean and running_var to be defined when use_input_stats is false"
        )
    shape = tuple(input.shape)
    b, c = shape[0], shape[1]

    def repeated(t):
        return None if t is None else t.repeat(b)

    stats = [repeated(running_mean), repeated(running_var)]
    folded = input.contiguous().view(1, b * c, *shape[2:])
    out = _rgrad.native_batch_norm(
        folded,
        repeated(weight),
        repeated(bias),
        stats[0],
        stats[1],
        bool(use_input_stats),
        _float_arg(momentum, "instance_norm", "momentum", 7),
        _float_arg(eps, "instance_norm", "eps", 8),
    )[0]
    with rgrad.no_grad():
        for target, updated in zip((running_mean, running_var), stats):
            if target is not None:
                target.copy_(updated.view(b, c).mean(0))
    return out.view(shape)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """``input / (k + alpha * avg(input^2 over size neighbouring channels)) ** beta``, the
    window zero-padded by ``size // 2`` channels before and ``(size - 1) // 2`` after."""
    dim = input.dim()
    if dim < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality                          input (got {dim} "
            "dimensions)"
        )
    if size <= 0:
        kernel = f"kH: {size} kW: 1" if dim == 3 else f"kT: {size} kH: 1 kW: 1"
        raise RuntimeError(f"kernel size should be greater than zero, but got {kernel}")
    if input.numel() == 0:
        return input
    sizes = tuple(input.shape)
    # (N, 1, C, rest): the channel window is a (size, 1) convolution with a ones kernel.
    div = input.mul(input).reshape(sizes[0], 1, sizes[1], -1)
    div = pad(div, (0, 0, size // 2, (size - 1) // 2))
    ones = rgrad.ones(1, 1, size, 1, dtype=input.dtype, device=input.device)
    div = conv2d(div, ones).div(size).reshape(sizes)
    div = div.mul(alpha).add(k).pow(beta)
    return input / div


def native_channel_shuffle(input, groups):
    """Splits the channels (dim 1) into ``groups`` groups and interleaves them."""
    if input.dim() <= 2:
        raise RuntimeError(
            "channel_shuffle expects input with > 2 dims, but got input with sizes "
            f"{list(input.shape)}"
        )
    if groups <= 0:
        raise RuntimeError(
            f"Number of groups to divide channels in must be positive. Value of groups:{groups}"
        )
    n, c = input.shape[0], input.shape[1]
    if c % groups:
        raise RuntimeError(
            f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups."
        )
    rest = tuple(input.shape[2:])
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


def channel_shuffle(input, groups):
    """``native_channel_shuffle``: the channels of (N, C, *) regrouped by ``groups``."""
    return native_channel_shuffle(input, groups)
