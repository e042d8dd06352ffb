"""Writes tests/data/sort_ops.json/.npz: PyTorch's sort, argsort, msort, topk, kthvalue,
median, nanmedian and mode on inputs full of ties, NaNs and infinities (so the tie indices
PyTorch's algorithms give are pinned down), over several dims, descending/stable, keepdim,
integer and bool inputs, rows long enough for the introsort and heap paths, 0-dim inputs and
empty dims; the gradients of the values; the grad_fn names; PyTorch's error types and texts.

    /work/torchenv/bin/python tools/make_reference_sort.py
"""

import json
import pathlib
import re

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
NAN, INF = float("nan"), float("inf")


def ties(shape, gen, levels=4, nan=0.1, inf=0.05):
    """Small integers (many ties), some NaN and +-inf; float64 (exact in float32 too)."""
    x = torch.randint(0, levels, shape, generator=gen).to(torch.float64) - levels // 2
    u = torch.rand(shape, generator=gen)
    x[u < nan] = NAN
    x[(u >= nan) & (u < nan + inf)] = INF
    x[(u >= nan + inf) & (u < nan + 2 * inf)] = -INF
    return x


def inputs(gen):
    xs = {
        "a": ties((5, 7), gen),
        "b": ties((3, 4, 6), gen),
        "long": ties((3, 40), gen, levels=5),
        "wide": ties((2, 300), gen, levels=7, nan=0.02),
        "plain": ties((4, 9), gen, nan=0.0, inf=0.0),
        "zero_signs": torch.tensor([[0.0, -0.0, 1.0, -0.0, 0.0, -1.0, 0.0]], dtype=torch.float64),
        "all_nan_rows": torch.tensor([[NAN, NAN, NAN, NAN], [1.0, NAN, 2.0, NAN]]),
        "scalar": torch.tensor(2.5, dtype=torch.float64),
        "empty": torch.zeros(3, 0, dtype=torch.float64),
        "i": torch.randint(-3, 3, (4, 11), generator=gen),
        "ilong": torch.randint(0, 6, (2, 50), generator=gen),
        "i32": torch.randint(-3, 3, (3, 20), generator=gen).to(torch.int32),
        "bo": torch.randint(0, 2, (3, 18), generator=gen).to(torch.bool),
    }
    xs["all_nan_rows"] = xs["all_nan_rows"].to(torch.float64)
    return xs


# (name, expr): each expr may use the inputs above by name.
CASES = [
    ("sort_last", "torch.sort(a)"),
    ("sort_dim0", "torch.sort(a, dim=0)"),
    ("sort_desc", "torch.sort(a, descending=True)"),
    ("sort_desc_dim0_stable", "torch.sort(a, dim=0, descending=True, stable=True)"),
    ("sort_stable", "torch.sort(a, stable=True)"),
    ("sort_3d_dim1", "torch.sort(b, 1)"),
    ("sort_3d_desc_dim0", "torch.sort(b, 0, True)"),
    ("sort_long", "torch.sort(long)"),
    ("sort_long_desc", "torch.sort(long, descending=True)"),
    ("sort_long_stable_desc", "torch.sort(long, descending=True, stable=True)"),
    ("sort_wide", "torch.sort(wide, dim=1)"),
    ("sort_zero_signs", "torch.sort(zero_signs)"),
    ("sort_zero_signs_desc", "torch.sort(zero_signs, descending=True)"),
    ("sort_method", "a.sort(0, True)"),
    ("sort_scalar", "torch.sort(scalar)"),
    ("sort_empty", "torch.sort(empty, 1)"),
    ("sort_int", "torch.sort(i)"),
    ("sort_int_desc_dim0", "torch.sort(i, 0, descending=True)"),
    ("sort_int_long", "torch.sort(ilong, descending=True)"),
    ("sort_int32", "torch.sort(i32)"),
    ("sort_bool", "torch.sort(bo, descending=True)"),
    ("sort_bool_asc", "torch.sort(bo)"),
    ("argsort", "torch.argsort(a, dim=1, descending=True)"),
    ("argsort_long", "torch.argsort(long)"),
    ("argsort_stable", "torch.argsort(long, stable=True, descending=True)"),
    ("argsort_int", "i.argsort(0)"),
    ("msort", "torch.msort(a)"),
    ("msort_3d", "b.msort()"),
    ("msort_int", "torch.msort(i)"),
    ("topk", "torch.topk(a, 3)"),
    ("topk_dim0_small", "torch.topk(a, 2, dim=0, largest=False)"),
    ("topk_unsorted", "torch.topk(a, 4, sorted=False)"),
    ("topk_long", "torch.topk(long, 7)"),
    ("topk_long_small", "torch.topk(long, 30, largest=False)"),
    ("topk_heap", "torch.topk(wide, 4)"),
    ("topk_heap_small", "torch.topk(wide, 3, largest=False)"),
    ("topk_heap_unsorted", "torch.topk(wide, 2, sorted=False)"),
    ("topk_k0", "torch.topk(a, 0)"),
    ("topk_all", "torch.topk(a, 7)"),
    ("topk_3d", "b.topk(2, 1)"),
    ("topk_scalar", "torch.topk(scalar, 1)"),
    ("topk_int", "torch.topk(i, 4)"),
    ("topk_int32", "torch.topk(i32, 5, largest=False)"),
    ("kthvalue", "torch.kthvalue(a, 2)"),
    ("kthvalue_dim0_keep", "torch.kthvalue(a, 3, dim=0, keepdim=True)"),
    ("kthvalue_long", "torch.kthvalue(long, 17)"),
    ("kthvalue_wide", "torch.kthvalue(wide, 151)"),
    ("kthvalue_last", "torch.kthvalue(a, 7)"),
    ("kthvalue_3d", "b.kthvalue(2, 0)"),
    ("kthvalue_scalar", "torch.kthvalue(scalar, 1)"),
    ("kthvalue_int", "torch.kthvalue(i, 5)"),
    ("median_all", "torch.median(plain)"),
    ("median_all_nan", "torch.median(a)"),
    ("median_all_int", "torch.median(i)"),
    ("median_dim", "torch.median(a, 1)"),
    ("median_dim0_keep", "torch.median(a, 0, keepdim=True)"),
    ("median_plain", "torch.median(plain, 1)"),
    ("median_long", "torch.median(long, 1)"),
    ("median_wide", "torch.median(wide, -1)"),
    ("median_zero_signs", "torch.median(zero_signs, 1)"),
    ("median_int", "i.median(1)"),
    ("median_scalar", "torch.median(scalar, 0)"),
    ("median_empty_all", "torch.median(empty)"),
    ("nanmedian_all", "torch.nanmedian(a)"),
    ("nanmedian_all_nan", "torch.nanmedian(all_nan_rows)"),
    ("nanmedian_dim", "torch.nanmedian(a, 1)"),
    ("nanmedian_dim0", "torch.nanmedian(a, 0, True)"),
    ("nanmedian_long", "torch.nanmedian(long, 1)"),
    ("nanmedian_rows", "torch.nanmedian(all_nan_rows, 1)"),
    ("nanmedian_int", "torch.nanmedian(i, 0)"),
    ("mode", "torch.mode(i)"),
    ("mode_dim0_keep", "torch.mode(i, 0, keepdim=True)"),
    ("mode_long", "torch.mode(ilong)"),
    ("mode_float", "torch.mode(a)"),
    ("mode_float_long", "torch.mode(long, 1)"),
    ("mode_plain", "torch.mode(plain, 0)"),
    ("mode_int32", "torch.mode(i32)"),
    ("mode_bool", "torch.mode(bo)"),
    ("mode_scalar", "torch.mode(scalar)"),
]

ERRORS = [
    "torch.topk(a, 8)",
    "torch.topk(a, -1)",
    "torch.topk(scalar, 2)",
    "torch.topk(empty, 1)",
    "torch.topk(bo, 1)",
    "torch.kthvalue(a, 0)",
    "torch.kthvalue(a, 8)",
    "torch.kthvalue(empty, 1)",
    "torch.kthvalue(scalar, 2)",
    "torch.kthvalue(bo, 1)",
    "torch.sort(a, dim=5)",
    "torch.sort(a, dim=-3)",
    "torch.argsort(b, 3)",
    "torch.topk(a, 1, dim=2)",
    "torch.median(empty, 1)",
    "torch.median(a, 2)",
    "torch.median(bo)",
    "torch.median(bo, 0)",
    "torch.nanmedian(empty, 1)",
    "torch.nanmedian(bo, 0)",
    "torch.mode(empty, 1)",
    "torch.mode(scalar, 1)",
    "torch.kthvalue(a, 1, 3)",
]


def main():
    gen = torch.Generator().manual_seed(16)
    xs = inputs(gen)
    arrays, cases = {}, []
    for name, expr in CASES:
        env = {"torch": torch}
        used = {}
        for k, v in xs.items():
            if k in re.findall(r"[A-Za-z_0-9]+", expr):
                t = v.clone().requires_grad_(v.is_floating_point())
                env[k] = t
                used[k] = str(v.dtype).replace("torch.", "")
                arrays[f"{name}/in/{k}"] = v.numpy()
        out = eval(expr, env)
        case = {"name": name, "expr": expr, "inputs": used}
        if isinstance(out, tuple):
            values, indices = out
            case["kind"] = type(out).__name__
            arrays[f"{name}/out/indices"] = indices.numpy()
        else:
            values, indices = out, None
            case["kind"] = "tensor"
        arrays[f"{name}/out/values"] = values.detach().numpy()
        if values.requires_grad:
            case["grad_fn"] = values.grad_fn.name()
            cot = torch.randn(values.shape, generator=gen, dtype=values.dtype)
            (values * cot).sum().backward()
            arrays[f"{name}/cot"] = cot.numpy()
            for k in used:
                if env[k].grad is not None:
                    arrays[f"{name}/grad/{k}"] = env[k].grad.numpy()
            case["grads"] = [k for k in used if f"{name}/grad/{k}" in arrays]
        cases.append(case)
    errors = []
    for expr in ERRORS:
        env = {"torch": torch, **xs}
        try:
            eval(expr, env)
        except Exception as e:  # noqa: BLE001 - every error type is recorded
            errors.append(
                {"expr": expr, "type": type(e).__name__, "message": str(e).split("\n")[0]}
            )
        else:
            raise SystemExit(f"no error from {expr}")
    meta = {"reference": f"PyTorch {torch.__version__}", "cases": cases, "errors": errors}
    (OUT / "sort_ops.json").write_text(json.dumps(meta, indent=1) + "\n")
    np.savez_compressed(OUT / "sort_ops.npz", **arrays)
    print(f"{len(cases)} cases, {len(errors)} errors")


if __name__ == "__main__":
    main()
