"""``scaled_dot_product_attention`` of ``rgrad.nn.functional``.

Without dropout it is one fused core op (``_rgrad._scaled_dot_product_attention``: a tiled
online-softmax kernel, a backward recomputing the probabilities from the saved log-sum-exp,
and under ``create_graph`` the same attention as core tensor ops). The composite below,
written in core tensor ops, runs for dropout and for masks that take a gradient, and is the
reference the fused op is tested against. Its semantics are PyTorch's:
a bool mask says which keys take part, a float mask is added to the scores, ``is_causal``
keeps the lower triangle aligned top-left, a row with no key taking part gives zeros (and
zero gradients), and with ``enable_gqa`` each group of query heads shares one key/value head.
"""

import math

import rgrad
from rgrad import _rgrad

__all__ = ["scaled_dot_product_attention"]


def _check_inputs(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa):
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(
            "Expected query, key, and value to all be  at least 2 dimensional, but got "
            f"query.dim: {query.dim()} key.dim: {key.dim()} and value.dim: {value.dim()} "
            "instead."
        )
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{_c_name(query.dtype)} key.dtype: {_c_name(key.dtype)} and value.dtype: "
            f"{_c_name(value.dtype)} instead."
        )
    if is_causal and attn_mask is not None:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
            "is_causal=True"
        )
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if key.size(-2) != value.size(-2):
        raise RuntimeError(
            "Expected key and value to have the same sequence length, but got "
            f"key.size(-2): {key.size(-2)} and value.size(-2): {value.size(-2)} instead."
        )
    if query.size(-1) != key.size(-1):
        raise RuntimeError(
            "Expected query and key to have the same embedding dimension, but got "
            f"query.size(-1): {query.size(-1)} and key.size(-1): {key.size(-1)} instead."
        )
    if enable_gqa and query.dim() >= 3:
        hq, hk, hv = query.size(-3), key.size(-3), value.size(-3)
        if hq % hk != 0 or hq % hv != 0:
            raise RuntimeError(
                "Number of heads in key and value must divide the number of heads in query"
            )


def _c_name(dtype):
    return {"float64": "double", "float32": "float", "float16": "c10::Half"}.get(
        str(dtype).replace("rgrad.", ""), str(dtype).replace("rgrad.", "")
    )


def _share_heads(tensor, query_heads):
    """Repeats each of ``tensor``'s heads (dim -3) so that it has ``query_heads`` of them,
    consecutive query heads sharing one (PyTorch's ``repeat_interleave`` along dim -3)."""
    heads = tensor.size(-3)
    if heads == query_heads:
        return tensor
    shape = list(tensor.shape)
    grouped = tensor.unsqueeze(-3).expand(
        *shape[:-3], heads, query_heads // heads, shape[-2], shape[-1]
    )
    return grouped.reshape(*shape[:-3], query_heads, shape[-2], shape[-1])


def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
):
    """``softmax(query @ key^T * scale + mask) @ value`` over the last two dims, batched and
    broadcast over the leading ones."""
    mask_grad = (
        isinstance(attn_mask, rgrad.Tensor) and attn_mask.requires_grad and rgrad.is_grad_enabled()
    )
    if dropout_p == 0.0 and not mask_grad:
        if all(isinstance(t, rgrad.Tensor) and t.dim() == 3 for t in (query, key, value)):
            # PyTorch runs 3-D inputs as one batch of heads (its grad_fn is a squeeze).
            out = _rgrad._scaled_dot_product_attention(
                query.unsqueeze(0),
                key.unsqueeze(0),
                value.unsqueeze(0),
                attn_mask,
                is_causal,
                scale,
                enable_gqa,
            )
            return out.squeeze(0)
        return _rgrad._scaled_dot_product_attention(
            query, key, value, attn_mask, is_causal, scale, enable_gqa
        )
    return _composite(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)


def _composite(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa):
    """The attention in core tensor ops (dropout on the weights, gradients for the mask)."""
    _check_inputs(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    target, source = query.size(-2), key.size(-2)
    scale_factor = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
    if enable_gqa and query.dim() >= 3:
        key = _share_heads(key, query.size(-3))
        value = _share_heads(value, query.size(-3))
    scores = query.matmul(key.transpose(-2, -1)) * scale_factor
    if is_causal:
        attn_mask = rgrad.ones(target, source, dtype=rgrad.bool, device=query.device).tril()
    if attn_mask is not None:
        if attn_mask.dtype == rgrad.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask
    # A row whose every score is -inf attends to nothing: PyTorch gives zeros there. Filling
    # those rows with 0 before the softmax keeps NaN out of both the values and the gradients.
    empty = (scores == float("-inf")).all(dim=-1, keepdim=True)
    weights = scores.masked_fill(empty, 0.0).softmax(-1).masked_fill(empty, 0.0)
    if dropout_p > 0.0:
        weights = rgrad.nn.functional.dropout(weights, dropout_p, training=True)
    return weights.matmul(value)
