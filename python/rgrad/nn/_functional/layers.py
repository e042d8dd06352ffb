"""Layer functions of ``rgrad.nn.functional``: linear maps, dropout, embedding, normalization,
one-hot encoding and padding."""

import math
import warnings

import rgrad
from rgrad import _rgrad
from rgrad._errors import wrap_module

__all__ = [
    "bilinear",
    "dropout",
    "embedding",
    "embedding_bag",
    "group_norm",
    "layer_norm",
    "linear",
    "normalize",
    "one_hot",
    "pad",
    "rms_norm",
]


# ``input @ weight.T + bias``: straight into Rust, one fused product and one graph node for a
# CPU input with a bias (PyTorch's ``addmm``).
linear = _rgrad.linear


def bilinear(input1, input2, weight, bias=None):
    """``y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]``."""
    _check_bilinear(input1, input2, weight, bias)
    out_features, in1, in2 = weight.shape
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # (B, in1) @ (in1, out * in2) -> (B, out, in2), then contract in2 against input2.
    t = x1.matmul(weight.permute(1, 0, 2).reshape(in1, out_features * in2))
    out = (t.reshape(-1, out_features, in2) * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(*lead, out_features)


def _check_bilinear(input1, input2, weight, bias):
    """PyTorch's shape checks and messages (a bad shape would otherwise fail, or silently
    broadcast, deep inside the contraction)."""
    if input1.dim() != input2.dim():
        raise RuntimeError(
            f"bilinear(): input dimensions do not match: got {input1.dim()} and {input2.dim()}"
        )
    for i in range(input1.dim() - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(
                f"bilinear(): input batch dimensions do not match at dim {i}: got "
                f"{input1.shape[i]} and {input2.shape[i]}"
            )
    for k, x in ((1, input1), (2, input2)):
        if x.shape[-1] != weight.shape[k]:
            raise RuntimeError(
                f"bilinear(): input{k} size does not match weight size: got {x.shape[-1]} "
                f"but expected {weight.shape[k]}"
            )
    if bias is not None and bias.shape[0] != weight.shape[0]:
        raise RuntimeError(
            f"bilinear(): bias size does not match weight size: got {bias.shape[0]} but "
            f"expected {weight.shape[0]}"
        )


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability ``p`` and scales the rest by ``1 / (1 - p)``
    during training; the identity otherwise."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    keep = 1.0 - p
    if keep == 0.0:
        mask = rgrad.zeros(input.shape, dtype=input.dtype, device=input.device)
    else:
        mask = (rgrad.rand(input.shape, dtype=input.dtype, device=input.device) < keep).to(
            input.dtype
        )
        mask.mul_(1.0 / keep)
    return input.mul_(mask) if inplace else input * mask


def _embedding_renorm_(weight, input, max_norm, norm_type):
    """Rescales, in place, the rows of ``weight`` that ``input`` uses to norm <= max_norm."""
    rows = rgrad.unique(input.detach().reshape(-1)).to(dtype=rgrad.int64, device=weight.device)
    with rgrad.no_grad():
        selected = weight.index_select(0, rows)
        norms = selected.norm(norm_type, dim=1, keepdim=True)
        scale = (max_norm / (norms + 1e-7)).where(norms > max_norm, 1.0)
        weight.index_put_((rows,), selected * scale)


def embedding(
    input,
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
):
    """Rows of ``weight`` picked by the integer tensor ``input`` (shape ``input.shape + (D,)``).

    The ``padding_idx`` row gets no gradient; ``scale_grad_by_freq`` divides each row's
    gradient by how often it occurs in ``input``; ``max_norm`` renormalizes used rows in place.
    """
    if input.dtype not in (rgrad.int64, rgrad.int32):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {input.type()} instead (while checking arguments for "
            "embedding)"
        )
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= num
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    flat = input.reshape(-1)
    try:
        out = weight.index_select(0, flat)
    except IndexError:
        raise IndexError("index out of range in self") from None
    if out.requires_grad and (padding_idx is not None or scale_grad_by_freq):
        idx = flat.detach().to(device=weight.device, dtype=rgrad.int64)
        scale = rgrad.ones(idx.shape, dtype=weight.dtype, device=weight.device)
        if scale_grad_by_freq:
            scale = scale / rgrad.bincount(idx, minlength=num).index_select(0, idx).to(weight.dtype)
        if padding_idx is not None:
            scale = scale.masked_fill(idx == padding_idx, 0.0)
        # Same values, gradient scaled per row: d + (out - d) * s is exactly d forward.
        s = scale.unsqueeze(1)
        frozen = out.detach()
        out = frozen + (out - frozen) * s
    return out.reshape(*input.shape, weight.shape[1])


def embedding_bag(
    input,
    weight,
    offsets=None,
    max_norm=None,
    norm_type=2,
    scale_grad_by_freq=False,
    mode="mean",
    sparse=False,
    per_sample_weights=None,
    include_last_offset=False,
    padding_idx=None,
):
    """Sums, averages or takes the per-feature max of the ``weight`` rows each bag of indices
    picks: ``(B, embedding_dim)`` for ``B`` bags.

    A 1-D ``input`` is split by ``offsets`` (bag ``i`` is ``input[offsets[i]:offsets[i+1]]``,
    the last one to the end unless ``include_last_offset``); a 2-D ``(B, N)`` input is ``B``
    bags of ``N``. Empty bags give zeros; ``padding_idx`` entries are skipped (not counted in
    a mean). ``per_sample_weights`` (mode ``'sum'`` only) scales each entry. ``max_norm``
    renormalizes the used rows in place first, as :func:`embedding`. rgrad has no sparse
    tensors: ``sparse=True`` is accepted and the weight gets a dense gradient.
    """
    # The old argument order embedding_bag(weight, input, ...), as PyTorch still accepts it.
    if weight.dtype == rgrad.int64 and input.is_floating_point():
        warnings.warn(
            "Argument order of nn.functional.embedding_bag was changed. "
            "Usage `embedding_bag(weight, input, ...)` is deprecated, "
            "and should now be `embedding_bag(input, weight, ...)`.",
            stacklevel=2,
        )
        weight, input = input, weight
    # The checks PyTorch makes before renormalizing (the rest are the core op's).
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if max_norm is not None and weight.dim() == 2:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    return _rgrad.embedding_bag(
        weight,
        input,
        offsets,
        mode,
        per_sample_weights,
        padding_idx,
        include_last_offset,
        scale_grad_by_freq,
    )


def _normalized(x, dims, eps):
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dims, keepdim=True)
    return centered * (var + eps).rsqrt(), mean, var


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalizes over the trailing ``normalized_shape`` dims to zero mean and unit (biased)
    variance, then applies the elementwise affine ``weight``/``bias``."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or tuple(input.shape[input.dim() - len(shape) :]) != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size{list(input.shape)}"
        )
    params = [t for t in (weight, bias) if t is not None]
    fused = (
        input.numel() > 0
        and input.dtype in (rgrad.float32, rgrad.float64, rgrad.float16, rgrad.bfloat16)
        and all(isinstance(t, rgrad.Tensor) and t.dtype == input.dtype for t in params)
    )
    if fused:
        # One core op (native_layer_norm): fused forward, saved row statistics, fused backward.
        return _rgrad.native_layer_norm(input, list(shape), weight, bias, float(eps))[0]
    out, _, _ = _normalized(input, tuple(range(-len(shape), 0)), eps)
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def _finfo_eps(dtype):
    return float(rgrad.finfo(rgrad.float64 if dtype == rgrad.float64 else rgrad.float32).eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``x / sqrt(mean(x**2) + eps)`` over the trailing ``normalized_shape`` dims, times
    ``weight``; ``eps=None`` is the machine epsilon of the input's dtype."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(shape) > input.dim():
        raise RuntimeError(
            f"Input tensor must have at least {len(shape)} dimensions, but got {input.dim()}"
        )
    if not shape or tuple(input.shape[input.dim() - len(shape) :]) != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*{', '.join(map(str, shape))}], but got input of size{list(input.shape)}"
        )
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(
            "Expected weight to be of same shape as normalized_shape, but got weight of shape "
            f"{list(weight.shape)} and normalized_shape = {list(shape)}"
        )
    if eps is None:
        eps = _finfo_eps(input.dtype)
    dims = tuple(range(-len(shape), 0))
    out = input * (input * input).mean(dims, keepdim=True).add(eps).rsqrt()
    return out if weight is None else out * weight


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalizes each of ``num_groups`` groups of channels (dim 1) of each sample over its
    channels and trailing dims, then applies the per-channel affine ``weight``/``bias``."""
    if input.dim() < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.dim()}"
        )
    n, channels = input.shape[0], input.shape[1]
    size = [n * channels // num_groups, num_groups, *input.shape[2:]]
    if size[0] * math.prod(size[2:]) == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {size}"
        )
    if channels % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {list(input.shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.numel() != channels):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {list(t.shape)} and input of shape "
                f"{list(input.shape)}"
            )
    grouped = input.reshape(n, num_groups, -1)
    out = _normalized(grouped, -1, eps)[0].reshape(input.shape)
    view = (channels,) + (1,) * (input.dim() - 2)
    if weight is not None:
        out = out * weight.reshape(view)
    return out if bias is None else out + bias.reshape(view)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(||input||_p, eps)`` along ``dim``."""
    result = input / input.norm(p, dim, keepdim=True).clamp_min(eps)
    return result if out is None else out.copy_(result)


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding of the class indices in ``tensor`` (new last dim)."""
    if tensor.dtype != rgrad.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    values = tensor.detach()
    if num_classes == -1:
        if values.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(values.max()) + 1
    if values.numel() and int(values.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    if values.numel() and int(values.max()) >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return tensor.unsqueeze(-1).eq(rgrad.arange(num_classes, device=tensor.device)).long()


_NON_CONSTANT_RANKS = {2: (2, 3), 4: (3, 4), 6: (4, 5)}


def _pad_map(input, pad, mode):
    """Reflection, replication and circular padding: one core op over the last
    ``len(pad) // 2`` dims, for the rank/length combinations PyTorch supports."""
    if input.dim() not in _NON_CONSTANT_RANKS.get(len(pad), ()):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.dim()}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
        )
    return _rgrad._pad_map(input, [int(p) for p in pad], mode)


def pad(input, pad, mode="constant", value=None):
    """Pads the last ``len(pad) // 2`` dims: ``pad = (last_left, last_right, prev_left, ...)``.

    Modes: ``'constant'`` (``value``, default 0; negative pads crop), ``'reflect'``,
    ``'replicate'`` and ``'circular'``.
    """
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pad)} and input of dimension {input.dim()}"
        )
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant":
        return _pad_map(input, pad, mode)
    out = input
    for i in range(len(pad) // 2):
        dim = input.dim() - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        n = out.shape[dim]
        if left < 0 or right < 0:
            start, stop = max(-left, 0), n - max(-right, 0)
            if stop < start:
                raise RuntimeError("narrow(): length must be non-negative.")
            out = out.narrow(dim, start, stop - start)
        parts = []
        for width in (left, right):
            shape = list(out.shape)
            shape[dim] = max(width, 0)
            fill = 0.0 if value is None else value
            parts.append(rgrad.full(shape, fill, dtype=out.dtype, device=out.device))
        if left > 0 or right > 0:
            out = rgrad.cat([parts[0], out, parts[1]], dim)
    return out if out is not input else input.clone()


# Non-tensor arguments and NumPy failures raise PyTorch's errors (see rgrad._errors).
wrap_module(globals(), __all__)
