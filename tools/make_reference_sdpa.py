"""Writes tests/data/sdpa.json + sdpa.npz: PyTorch's scaled_dot_product_attention on shapes
that exercise the fused kernel (tiles, causal alignment, GQA, broadcast masks, empty rows).

Run with a Python that has PyTorch: /work/torchenv/bin/python tools/make_reference_sdpa.py
Each case is ``{name, expr, inputs, grads}`` as in ops.json: ``expr`` over ``F`` and the named
inputs; npz holds ``<name>/in/<x>``, ``<name>/out``, ``<name>/cot``, ``<name>/grad/<x>``."""

import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
gen = torch.Generator().manual_seed(1234)


def randn(*shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def bool_mask(*shape, empty_row=True):
    m = torch.rand(*shape, generator=gen) > 0.4
    if empty_row:
        m[..., 1, :] = False  # a query that no key may attend to
    return m


def float_mask(*shape):
    m = randn(*shape)
    m[torch.rand(*shape, generator=gen) > 0.7] = float("-inf")
    m[..., 0, :] = float("-inf")  # every key masked for the first query
    return m


SDPA = "F.scaled_dot_product_attention"
CASES = []


def case(name, expr, grads=("q", "k", "v"), **inputs):
    CASES.append((name, expr, list(grads), inputs))


def qkv(qs, ks, vs=None):
    return {"q": randn(*qs), "k": randn(*ks), "v": randn(*(vs or ks))}


case("basic", f"{SDPA}(q, k, v)", **qkv((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6)))
case("odd_tiles", f"{SDPA}(q, k, v)", **qkv((1, 2, 37, 16), (1, 2, 71, 16)))
case("long_keys", f"{SDPA}(q, k, v)", **qkv((1, 1, 65, 8), (1, 1, 130, 8), (1, 1, 130, 5)))
case("causal_square", f"{SDPA}(q, k, v, is_causal=True)", **qkv((1, 2, 100, 16), (1, 2, 100, 16)))
case("causal_l_lt_s", f"{SDPA}(q, k, v, is_causal=True)", **qkv((1, 2, 33, 8), (1, 2, 70, 8)))
case("causal_l_gt_s", f"{SDPA}(q, k, v, is_causal=True)", **qkv((1, 2, 70, 8), (1, 2, 33, 8)))
case(
    "causal_tiles_l_lt_s", f"{SDPA}(q, k, v, is_causal=True)", **qkv((1, 2, 70, 8), (1, 2, 150, 8))
)
case(
    "causal_tiles_l_gt_s", f"{SDPA}(q, k, v, is_causal=True)", **qkv((1, 1, 150, 8), (1, 1, 70, 8))
)
case("gqa", f"{SDPA}(q, k, v, enable_gqa=True)", **qkv((2, 4, 9, 8), (2, 2, 11, 8), (2, 1, 11, 8)))
case(
    "gqa_causal",
    f"{SDPA}(q, k, v, is_causal=True, enable_gqa=True)",
    **qkv((1, 6, 40, 8), (1, 3, 40, 8)),
)
case(
    "bool_mask_2d",
    f"{SDPA}(q, k, v, attn_mask=m)",
    m=bool_mask(5, 7),
    **qkv((2, 3, 5, 8), (2, 3, 7, 8)),
)
case(
    "float_mask_3d",
    f"{SDPA}(q, k, v, attn_mask=m)",
    m=float_mask(3, 5, 7),
    **qkv((2, 3, 5, 8), (2, 3, 7, 8)),
)
case(
    "bool_mask_4d",
    f"{SDPA}(q, k, v, attn_mask=m)",
    m=bool_mask(2, 1, 5, 7),
    **qkv((2, 3, 5, 8), (2, 3, 7, 8)),
)
case(
    "float_mask_4d_tiles",
    f"{SDPA}(q, k, v, attn_mask=m)",
    m=float_mask(1, 2, 40, 70),
    **qkv((2, 2, 40, 8), (2, 2, 70, 8)),
)
case(
    "bool_mask_bcast_keys",
    f"{SDPA}(q, k, v, attn_mask=m)",
    m=bool_mask(1, 7, empty_row=False),
    **qkv((2, 3, 5, 8), (2, 3, 7, 8)),
)
case("scale", f"{SDPA}(q, k, v, scale=0.3)", **qkv((1, 2, 6, 4), (1, 2, 9, 4)))
case("three_d", f"{SDPA}(q, k, v)", **qkv((3, 6, 4), (3, 9, 4), (3, 9, 5)))
case("two_d", f"{SDPA}(q, k, v, is_causal=True)", **qkv((6, 4), (9, 4), (9, 5)))
case("head_dim_1", f"{SDPA}(q, k, v)", **qkv((1, 2, 10, 1), (1, 2, 12, 1)))
case("head_dim_96", f"{SDPA}(q, k, v, is_causal=True)", **qkv((1, 1, 20, 96), (1, 1, 40, 96)))
case("broadcast_batch", f"{SDPA}(q, k, v)", **qkv((2, 3, 5, 8), (1, 3, 7, 8), (2, 1, 7, 8)))
case("five_d", f"{SDPA}(q, k, v)", **qkv((2, 2, 2, 5, 4), (2, 1, 2, 6, 4)))
case(
    "blhe_layout",
    f"{SDPA}(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)",
    **qkv((2, 40, 3, 8), (2, 40, 3, 8)),
)
case(
    "float_mask_grad",
    f"{SDPA}(q, k, v, attn_mask=m)",
    grads=("q", "k", "v", "m"),
    m=randn(5, 7),
    **qkv((1, 2, 5, 8), (1, 2, 7, 8)),
)
nan_q = randn(1, 2, 5, 4)
nan_q[0, 0, 2, 1] = float("nan")
case(
    "nan_query_row", f"{SDPA}(q, k, v)", grads=(), q=nan_q, k=randn(1, 2, 6, 4), v=randn(1, 2, 6, 4)
)


def main():
    meta, arrays = [], {}
    for name, expr, grads, inputs in CASES:
        env = {"F": F}
        kinds = {}
        for k, t in inputs.items():
            t = t.clone().requires_grad_(k in grads)
            env[k] = t
            kinds[k] = "bool" if t.dtype == torch.bool else "float64"
            arrays[f"{name}/in/{k}"] = t.detach().numpy()
        out = eval(expr, env)
        arrays[f"{name}/out"] = out.detach().numpy()
        if grads:
            cot = randn(*out.shape)
            (out * cot).sum().backward()
            arrays[f"{name}/cot"] = cot.numpy()
            for k in grads:
                arrays[f"{name}/grad/{k}"] = env[k].grad.numpy()
        meta.append({"name": name, "expr": expr, "inputs": kinds, "grads": grads})
    ref = {"reference": f"torch {torch.__version__}", "cases": meta}
    (OUT / "sdpa.json").write_text(json.dumps(ref, indent=1) + "\n")
    np.savez_compressed(OUT / "sdpa.npz", **arrays)
    print(f"{len(meta)} cases")


if __name__ == "__main__":
    main()
