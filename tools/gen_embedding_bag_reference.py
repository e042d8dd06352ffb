"""Writes tests/data/embedding_bag.json: PyTorch's `nn.functional.embedding_bag` outputs and
gradients (weight and per_sample_weights) for the cases tests/test_embedding_bag.py checks.

Run with a PyTorch install (the tests never import torch):
    /work/torchenv/bin/python tools/gen_embedding_bag_reference.py
"""

import json
from pathlib import Path

import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "embedding_bag.json"

# name -> (rows, dim, input, offsets, options); inputs are nested lists, offsets a list or None.
CASES = {
    "sum_1d": (5, 3, [0, 2, 4, 1, 2], [0, 2], {"mode": "sum"}),
    "mean_1d": (5, 3, [0, 2, 4, 1, 2], [0, 2], {"mode": "mean"}),
    "max_1d": (5, 3, [0, 2, 4, 1, 2], [0, 2], {"mode": "max"}),
    "sum_2d": (6, 4, [[0, 1, 2], [5, 5, 3]], None, {"mode": "sum"}),
    "mean_2d": (6, 4, [[0, 1, 2], [5, 5, 3]], None, {"mode": "mean"}),
    "max_2d": (6, 4, [[0, 1, 2], [5, 5, 3]], None, {"mode": "max"}),
    "empty_bags_sum": (4, 2, [1, 2, 3, 1], [0, 0, 3, 3], {"mode": "sum"}),
    "empty_bags_mean": (4, 2, [1, 2, 3, 1], [0, 0, 3, 3], {"mode": "mean"}),
    "empty_bags_max": (4, 2, [1, 2, 3, 1], [0, 0, 3, 3], {"mode": "max"}),
    "last_offset_sum": (
        5,
        3,
        [0, 1, 2, 3, 4],
        [0, 2, 5],
        {"mode": "sum", "include_last_offset": True},
    ),
    "last_offset_mean": (
        5,
        3,
        [0, 1, 2, 3, 4],
        [0, 1, 5],
        {"mode": "mean", "include_last_offset": True},
    ),
    "last_offset_max": (
        5,
        3,
        [0, 1, 2, 3, 4],
        [0, 3, 5],
        {"mode": "max", "include_last_offset": True},
    ),
    "padding_sum": (5, 3, [0, 1, 1, 2, 1], [0, 2, 3], {"mode": "sum", "padding_idx": 1}),
    "padding_mean": (5, 3, [0, 1, 1, 2, 1, 3], [0, 2, 3], {"mode": "mean", "padding_idx": 1}),
    "padding_max": (5, 3, [0, 1, 1, 2, 1, 3], [0, 2, 3], {"mode": "max", "padding_idx": 1}),
    "padding_negative": (5, 3, [4, 0, 4, 2], [0, 1], {"mode": "mean", "padding_idx": -1}),
    "psw_sum_1d": (5, 3, [0, 2, 4, 1, 2], [0, 2], {"mode": "sum", "psw": True}),
    "psw_sum_2d": (5, 3, [[0, 2], [4, 4]], None, {"mode": "sum", "psw": True}),
    "psw_padding": (5, 3, [0, 1, 2, 1], [0, 2], {"mode": "sum", "psw": True, "padding_idx": 1}),
    "psw_freq": (
        5,
        3,
        [0, 0, 2, 0],
        [0, 2],
        {"mode": "sum", "psw": True, "scale_grad_by_freq": True},
    ),
    "freq_sum": (5, 3, [0, 0, 2, 0, 3], [0, 2], {"mode": "sum", "scale_grad_by_freq": True}),
    "freq_mean": (5, 3, [0, 0, 2, 0, 3], [0, 2], {"mode": "mean", "scale_grad_by_freq": True}),
    "freq_padding": (
        4,
        2,
        [0, 0, 1, 0],
        [0, 2],
        {"mode": "sum", "scale_grad_by_freq": True, "padding_idx": 1},
    ),
    "int32_mean": (5, 3, [0, 2, 4, 1, 2], [0, 2], {"mode": "mean", "int32": True}),
    "empty_input": (3, 2, [], [0, 0], {"mode": "mean"}),
}

# Ties in max mode: equal rows, equal features; the first row in the bag gets the gradient.
TIES = {
    "weight": [[1.0, 2.0], [1.0, 2.0], [0.0, 5.0], [1.0, -1.0]],
    "input": [0, 1, 2, 1, 3, 3, 0],
    "offsets": [0, 3, 4],
}


def run(weight, inp, offsets, opts, grad_out_seed):
    idx_dtype = torch.int32 if opts.get("int32") else torch.int64
    w = weight.clone().requires_grad_()
    x = torch.tensor(inp, dtype=idx_dtype)
    if x.numel() == 0:
        x = x.reshape(0)
    o = None if offsets is None else torch.tensor(offsets, dtype=idx_dtype)
    psw = None
    if opts.get("psw"):
        g = torch.Generator().manual_seed(grad_out_seed + 1)
        psw = torch.rand(x.shape, generator=g, dtype=torch.float64).requires_grad_()
    kw = {
        k: v
        for k, v in opts.items()
        if k in ("mode", "padding_idx", "include_last_offset", "scale_grad_by_freq")
    }
    out = F.embedding_bag(x, w, o, per_sample_weights=psw, **kw)
    g = torch.Generator().manual_seed(grad_out_seed)
    gout = torch.randn(out.shape, generator=g, dtype=torch.float64)
    out.backward(gout)
    rec = {
        "weight": w.detach().tolist(),
        "input": inp,
        "offsets": offsets,
        "options": opts,
        "grad_out": gout.tolist(),
        "out": out.detach().tolist(),
        "out_shape": list(out.shape),
        "grad_weight": w.grad.tolist(),
    }
    if psw is not None:
        rec["psw"] = psw.detach().tolist()
        rec["grad_psw"] = psw.grad.tolist()
    return rec


def main():
    data = {}
    for seed, (name, (rows, dim, inp, offsets, opts)) in enumerate(sorted(CASES.items())):
        g = torch.Generator().manual_seed(100 + seed)
        weight = torch.randn(rows, dim, generator=g, dtype=torch.float64)
        data[name] = run(weight, inp, offsets, opts, 1000 + seed)
    ties = torch.tensor(TIES["weight"], dtype=torch.float64)
    data["max_ties"] = run(ties, TIES["input"], TIES["offsets"], {"mode": "max"}, 7)
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {len(data)} cases to {OUT}")


if __name__ == "__main__":
    main()
