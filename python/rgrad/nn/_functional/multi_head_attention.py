"""``multi_head_attention_forward`` of ``rgrad.nn.functional`` and the mask helpers the
attention and transformer modules share (``_canonical_mask``, ``_none_or_dtype``).

PyTorch's algorithm, laid out for speed: the heads are kept in a ``(batch, heads, length,
head_dim)`` view of the in-projection (no copy), which is the layout
``scaled_dot_product_attention`` takes, and the masks stay broadcastable 4-D views (a 2-D
``attn_mask`` is never expanded over batch and heads). A caller whose input is batch-first
(``nn.MultiheadAttention(batch_first=True)``) enters through ``_attention`` with
``batch_first=True`` and skips the transposes PyTorch makes. Self-attention (``query is key
is value``) projects with one fused matmul against the packed ``in_proj_weight``.
"""

import math
import warnings

import rgrad
from rgrad.nn._functional.activation import softmax
from rgrad.nn._functional.attention import scaled_dot_product_attention
from rgrad.nn._functional.layers import dropout, linear, pad

__all__ = ["multi_head_attention_forward"]


def _none_or_dtype(input):
    if input is None:
        return None
    if isinstance(input, rgrad.Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """A float mask as it is; a bool mask (True = masked out) as 0 / -inf of ``target_type``."""
    if mask is None:
        return None
    is_float = mask.is_floating_point()
    if mask.dtype != rgrad.bool and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(
            f"Support for mismatched {mask_name} and {other_name} "
            "is deprecated. Use same type for both instead.",
            stacklevel=3,
        )
    if not is_float:
        mask = rgrad.zeros(mask.shape, dtype=target_type, device=mask.device).masked_fill_(
            mask, float("-inf")
        )
    return mask


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """PyTorch's checks of the inputs' ranks; True when the input is batched (3-D)."""
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key` and `value` to be 3-D"
                f" but found {key.dim()}-D and {value.dim()}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D"
                f" but found {key_padding_mask.dim()}-D tensor instead"
            )
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                f" but found {attn_mask.dim()}-D tensor instead"
            )
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D"
                f" but found {key.dim()}-D and {value.dim()}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D"
                f" but found {key_padding_mask.dim()}-D tensor instead"
            )
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError(
                    "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                    f" but found {attn_mask.dim()}-D tensor instead"
                )
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(
                        f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}"
                    )
        return False
    raise AssertionError(
        "query should be unbatched 2D or batched 3D tensor but received "
        f"{query.dim()}-D query tensor"
    )


def _seq_first_shape(t, batch_first):
    """``t.shape`` as PyTorch's (sequence-first) code sees it, for its error messages."""
    return t.transpose(0, 1).shape if batch_first else t.shape


def _heads(t, num_heads):
    """(N, L, H * hd) -> a (N, H, L, hd) view."""
    n, length, e = t.shape
    return t.view(n, length, num_heads, e // num_heads).transpose(1, 2)


def _in_projection_packed(q, k, v, w, b, num_heads):
    """The three projections with the packed ``in_proj_weight`` (rows: q, k, v), as
    (N, H, L, hd) views. Self-attention is one matmul; encoder-decoder attention two."""
    e = q.size(-1)
    if k is v:
        if q is k:
            n, length, _ = q.shape
            proj = linear(q, w, b).view(n, length, 3, num_heads, e // num_heads)
            proj = proj.permute(2, 0, 3, 1, 4)
            return proj[0], proj[1], proj[2]
        w_q, w_kv = w.split([e, e * 2])
        b_q, b_kv = (None, None) if b is None else b.split([e, e * 2])
        n, length, _ = k.shape
        kv = linear(k, w_kv, b_kv).view(n, length, 2, num_heads, e // num_heads)
        kv = kv.permute(2, 0, 3, 1, 4)
        return _heads(linear(q, w_q, b_q), num_heads), kv[0], kv[1]
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return tuple(
        _heads(linear(x, wx, bx), num_heads)
        for x, wx, bx in ((q, w_q, b_q), (k, w_k, b_k), (v, w_v, b_v))
    )


def _in_projection(q, k, v, w_q, w_k, w_v, b_q, b_k, b_v, num_heads):
    """The three projections with separate weights (``kdim``/``vdim`` differ from
    ``embed_dim``), checked as PyTorch checks them."""
    eq, ek, ev = q.size(-1), k.size(-1), v.size(-1)
    for name, w, want in (
        ("query", w_q, (eq, eq)),
        ("key", w_k, (eq, ek)),
        ("value", w_v, (eq, ev)),
    ):
        if tuple(w.shape) != want:
            raise AssertionError(f"expecting {name} weights shape of {want}, but got {w.shape}")
    for name, b in (("query", b_q), ("key", b_k), ("value", b_v)):
        if b is not None and tuple(b.shape) != (eq,):
            raise AssertionError(f"expecting {name} bias shape of {(eq,)}, but got {b.shape}")
    return tuple(
        _heads(linear(x, wx, bx), num_heads)
        for x, wx, bx in ((q, w_q, b_q), (k, w_k, b_k), (v, w_v, b_v))
    )


def _static(t, name, bsz, num_heads, head_dim):
    if t.size(0) != bsz * num_heads:
        raise AssertionError(f"expecting {name}.size(0) of {bsz * num_heads}, but got {t.size(0)}")
    if t.size(2) != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got {t.size(2)}")
    return t.view(bsz, num_heads, t.size(1), head_dim)


def multi_head_attention_forward(
    query,
    key,
    value,
    embed_dim_to_check,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training=True,
    key_padding_mask=None,
    need_weights=True,
    attn_mask=None,
    use_separate_proj_weight=False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights=True,
    is_causal=False,
):
    """Multi-head attention over sequence-first inputs: query (L, N, E) or (L, E), key and
    value (S, N, E) or (S, E); returns the output (L, N, E) and, with ``need_weights``, the
    attention weights (N, L, S) averaged over heads, or (N, H, L, S) per head."""
    return _attention(
        query,
        key,
        value,
        embed_dim_to_check,
        num_heads,
        in_proj_weight,
        in_proj_bias,
        bias_k,
        bias_v,
        add_zero_attn,
        dropout_p,
        out_proj_weight,
        out_proj_bias,
        training,
        key_padding_mask,
        need_weights,
        attn_mask,
        use_separate_proj_weight,
        q_proj_weight,
        k_proj_weight,
        v_proj_weight,
        static_k,
        static_v,
        average_attn_weights,
        is_causal,
        batch_first=False,
    )


def _attention(
    query,
    key,
    value,
    embed_dim_to_check,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training,
    key_padding_mask,
    need_weights,
    attn_mask,
    use_separate_proj_weight,
    q_proj_weight,
    k_proj_weight,
    v_proj_weight,
    static_k,
    static_v,
    average_attn_weights,
    is_causal,
    batch_first,
):
    """``multi_head_attention_forward`` for inputs in either layout (``batch_first``: query
    (N, L, E)); the output has the input's layout, contiguous."""
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        # One batch element; ``batch_first`` puts the batch axis in front.
        axis = 0 if batch_first else 1
        query, key, value = query.unsqueeze(axis), key.unsqueeze(axis), value.unsqueeze(axis)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    if batch_first:
        bsz, tgt_len, embed_dim = query.shape
        src_len = key.shape[1]
    else:
        tgt_len, bsz, embed_dim = query.shape
        src_len = key.shape[0]

    key_padding_mask = _canonical_mask(
        key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask", query.dtype
    )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. "
            "You may use the Transformer module method "
            "`generate_square_subsequent_mask` to create this mask."
        )
    if is_causal and key_padding_mask is None and not need_weights:
        # The hint alone tells scaled_dot_product_attention to mask causally.
        attn_mask = None
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, False)
        if key_padding_mask is not None:
            # Merged with the padding, the mask is no longer causal.
            is_causal = False

    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise AssertionError(
                f"key's sequence and batch dims {_seq_first_shape(key, batch_first)[:2]} do not "
                f"match value's {_seq_first_shape(value, batch_first)[:2]}"
            )
    elif key.shape != value.shape:
        raise AssertionError(
            f"key shape {_seq_first_shape(key, batch_first)} does not match value shape "
            f"{_seq_first_shape(value, batch_first)}"
        )

    key_batch = key.shape[0 if batch_first else 1]
    if key_batch != bsz:
        # PyTorch fails here reshaping the projected keys into its batch of heads; the
        # (N, H, S, hd) views would broadcast a batch of one instead.
        raise RuntimeError(
            f"shape '[{src_len}, {bsz * num_heads}, {head_dim}]' is invalid for input of size "
            f"{src_len * key_batch * embed_dim}"
        )

    # The projections run on batch-first rows: (N, L, E) views of the inputs.
    if batch_first:
        q_in, k_in, v_in = query, key, value
    else:
        q_in = query.transpose(0, 1)
        k_in = q_in if key is query else key.transpose(0, 1)
        v_in = k_in if value is key else value.transpose(0, 1)
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(q_in, k_in, v_in, in_proj_weight, in_proj_bias, num_heads)
    else:
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(
                    f"use_separate_proj_weight is True but {name}_proj_weight is None"
                )
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = _in_projection(
            q_in, k_in, v_in, q_proj_weight, k_proj_weight, v_proj_weight, b_q, b_k, b_v, num_heads
        )

    # attn_mask as a 4-D view broadcasting over (N, H, L, S).
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                    f"{(tgt_len, src_len)}."
                )
            attn_mask = attn_mask.view(1, 1, tgt_len, src_len)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                    f"{(bsz * num_heads, tgt_len, src_len)}."
                )
            attn_mask = attn_mask.view(bsz, num_heads, tgt_len, src_len)
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        # One more key and value: the learnt biases, projected into the heads.
        k = rgrad.cat(
            [k, _heads(bias_k.view(1, 1, embed_dim).expand(bsz, 1, embed_dim), num_heads)], 2
        )
        v = rgrad.cat(
            [v, _heads(bias_v.view(1, 1, embed_dim).expand(bsz, 1, embed_dim), num_heads)], 2
        )
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")

    if static_k is not None:
        k = _static(static_k, "static_k", bsz, num_heads, head_dim)
    if static_v is not None:
        v = _static(static_v, "static_v", bsz, num_heads, head_dim)

    if add_zero_attn:
        zeros = rgrad.zeros((bsz, num_heads, 1, head_dim), dtype=k.dtype, device=k.device)
        k = rgrad.cat([k, zeros], 2)
        v = rgrad.cat([v, zeros.to(v.dtype)], 2)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))

    src_len = k.size(2)
    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(
                f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                f"{key_padding_mask.shape[0]}"
            )
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(
                f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                f"{key_padding_mask.shape[1]}"
            )
        key_padding_mask = key_padding_mask.view(bsz, 1, 1, src_len)
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask

    if not training:
        dropout_p = 0.0

    if need_weights:
        if is_causal and attn_mask is None:
            raise AssertionError("FIXME: is_causal not implemented for need_weights")
        scores = (q * math.sqrt(1.0 / float(head_dim))).matmul(k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, dim=-1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        attn = weights.matmul(v)
        if average_attn_weights:
            weights = weights.mean(dim=1)
    else:
        weights = None
        attn = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)

    # (N, H, L, hd) -> rows of (H * hd) in the caller's layout, then the output projection.
    if batch_first:
        rows = attn.transpose(1, 2).reshape(bsz, tgt_len, embed_dim)
    else:
        rows = attn.permute(2, 0, 1, 3).reshape(tgt_len, bsz, embed_dim)
    out = linear(rows, out_proj_weight, out_proj_bias)
    if not is_batched:
        out = out.squeeze(0 if batch_first else 1)
        if weights is not None:
            weights = weights.squeeze(0)
    return out, weights
