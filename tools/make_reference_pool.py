"""Writes the pooling reference data into tests/data (run with PyTorch's python):

- modules_pool.json/.npz: PyTorch's max_pool*, max_unpool*, avg_pool*, adaptive_* module
  cases copied from the shared conformance set (modules.json/.npz);
- printing_pool.json: the pooling reprs, grad_fn names and errors of printing_tier3.json;
- pool_extra.json/.npz: more functional cases computed here (1-D/2-D/3-D, stride, padding,
  dilation, ceil_mode, count_include_pad, divisor_override, uneven adaptive sizes, unbatched
  inputs, NaN, integer inputs, lp_pool, unpooling), and PyTorch's error messages.

    /work/torchenv/bin/python tools/make_reference_pool.py /path/to/shared/conformance
"""

import json
import pathlib
import sys

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
PREFIXES = ("max_pool", "max_unpool", "avg_pool", "adaptive_")


def copy_conformance(src):
    mods = json.loads((src / "modules.json").read_text())
    cases = [c for c in mods["cases"] if c["name"].startswith(PREFIXES)]
    with np.load(src / "modules.npz") as f:
        arrays = {k: f[k] for k in f.files if k.split("/")[0] in {c["name"] for c in cases}}
    (OUT / "modules_pool.json").write_text(
        json.dumps({"reference": mods.get("reference"), "cases": cases}, indent=1) + "\n"
    )
    np.savez_compressed(OUT / "modules_pool.npz", **arrays)
    printing = json.loads((src / "printing_tier3.json").read_text())
    keep = [c for c in printing["cases"] if "ool" in json.dumps(c)]
    (OUT / "printing_pool.json").write_text(
        json.dumps({"reference": printing.get("reference"), "cases": keep}, indent=1) + "\n"
    )
    return len(cases), len(keep)


def distinct(shape, gen, dtype=torch.float64):
    """Values without ties (a random permutation, scaled), so max pooling's gradient is
    defined everywhere."""
    n = int(np.prod(shape))
    v = torch.randperm(n, generator=gen).to(torch.float64) / n - 0.5
    v = v + torch.rand(n, generator=gen, dtype=torch.float64) * (0.5 / n)
    return v.reshape(shape).to(dtype)


# (name, expr over x, input shape, differentiable)
CASES = [
    ("mp1d_pad_dil", "F.max_pool1d(x, 3, 2, 1, 2)", (2, 3, 11), True),
    ("mp1d_ceil", "F.max_pool1d(x, 2, 2, 1, ceil_mode=True)", (2, 2, 7), True),
    ("mp1d_unbatched", "F.max_pool1d(x, 3, 1)", (3, 9), True),
    ("mp1d_idx", "F.max_pool1d(x, 2, return_indices=True)", (2, 2, 8), True),
    ("mp2d_rect", "F.max_pool2d(x, (2, 3), (1, 2), (1, 1))", (2, 3, 7, 8), True),
    ("mp2d_dil_ceil", "F.max_pool2d(x, 3, 2, 1, 2, ceil_mode=True)", (1, 2, 9, 10), True),
    ("mp2d_unbatched", "F.max_pool2d(x, 2, return_indices=True)", (3, 6, 5), True),
    ("mp2d_with_indices", "F.max_pool2d_with_indices(x, 3, 2, 1)", (2, 2, 7, 7), True),
    ("mp3d", "F.max_pool3d(x, 2, return_indices=True)", (2, 2, 4, 5, 6), True),
    (
        "mp3d_pad_dil",
        "F.max_pool3d(x, (2, 3, 3), (1, 2, 2), (1, 1, 0), (1, 1, 2))",
        (1, 2, 5, 7, 8),
        True,
    ),
    ("mp3d_ceil_unbatched", "F.max_pool3d(x, 2, 2, 1, ceil_mode=True)", (2, 5, 4, 5), True),
    ("mp2d_nan", "F.max_pool2d(x, 2, return_indices=True)", (1, 1, 4, 4), False),
    ("mp2d_int", "F.max_pool2d(x, 2, 1, return_indices=True)", (2, 2, 5, 5), False),
    ("mp2d_inf", "F.max_pool2d(x, 2)", (1, 2, 4, 4), False),
    ("ap1d_pad", "F.avg_pool1d(x, 3, 2, 1)", (2, 3, 10), True),
    (
        "ap1d_nopad_ceil",
        "F.avg_pool1d(x, 4, 3, 2, ceil_mode=True, count_include_pad=False)",
        (2, 2, 11),
        True,
    ),
    ("ap1d_unbatched", "F.avg_pool1d(x, 2)", (3, 8), True),
    ("ap2d_rect", "F.avg_pool2d(x, (3, 2), (2, 1), (1, 1))", (2, 2, 7, 6), True),
    (
        "ap2d_ceil_nopad",
        "F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)",
        (1, 3, 8, 9),
        True,
    ),
    ("ap2d_divisor", "F.avg_pool2d(x, 3, 2, 1, divisor_override=5)", (2, 1, 7, 7), True),
    ("ap2d_unbatched", "F.avg_pool2d(x, 2, 1)", (2, 5, 5), True),
    ("ap3d", "F.avg_pool3d(x, 2)", (2, 2, 4, 4, 6), True),
    (
        "ap3d_pad_ceil",
        "F.avg_pool3d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)",
        (1, 2, 5, 6, 7),
        True,
    ),
    (
        "ap3d_divisor",
        "F.avg_pool3d(x, (2, 2, 3), 1, (1, 0, 1), divisor_override=7)",
        (1, 1, 4, 5, 6),
        True,
    ),
    ("aap1d_uneven", "F.adaptive_avg_pool1d(x, 4)", (2, 3, 10), True),
    ("aap1d_grow", "F.adaptive_avg_pool1d(x, 7)", (2, 5), True),
    ("aap2d_uneven", "F.adaptive_avg_pool2d(x, (3, 5))", (2, 2, 7, 11), True),
    ("aap2d_none", "F.adaptive_avg_pool2d(x, (None, 2))", (1, 2, 5, 7), True),
    ("aap2d_unbatched", "F.adaptive_avg_pool2d(x, 3)", (2, 8, 5), True),
    ("aap3d", "F.adaptive_avg_pool3d(x, (2, 3, 4))", (1, 2, 5, 7, 9), True),
    ("amp1d", "F.adaptive_max_pool1d(x, 4, return_indices=True)", (2, 3, 10), True),
    ("amp2d_uneven", "F.adaptive_max_pool2d(x, (3, 4), return_indices=True)", (2, 2, 7, 9), True),
    ("amp2d_grow", "F.adaptive_max_pool2d(x, (None, 6))", (1, 2, 4, 5), True),
    ("amp3d", "F.adaptive_max_pool3d(x, 2, return_indices=True)", (1, 2, 5, 4, 7), True),
    ("amp3d_unbatched", "F.adaptive_max_pool3d(x, (3, 2, 2))", (2, 4, 5, 3), True),
    ("lp1d", "F.lp_pool1d(x, 2, 3, 2)", (2, 3, 9), True),
    ("lp2d", "F.lp_pool2d(x, 3, 2)", (1, 2, 6, 6), True),
    ("lp2d_ceil", "F.lp_pool2d(x, 1.5, (2, 3), 2, ceil_mode=True)", (1, 2, 7, 8), True),
    ("lp3d", "F.lp_pool3d(x, 2, 2)", (1, 2, 4, 4, 4), True),
    ("lp1d_inf", "F.lp_pool1d(x, float('inf'), 2)", (2, 2, 6), True),
    ("unpool1d", "F.max_unpool1d(*F.max_pool1d(x, 2, return_indices=True), 2)", (2, 2, 8), True),
    (
        "unpool2d_size",
        "F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2, output_size=(7, 9))",
        (2, 2, 7, 9),
        True,
    ),
    (
        "unpool2d_stride",
        "F.max_unpool2d(*F.max_pool2d(x, 3, 2, 1, return_indices=True), 3, 2, 1)",
        (1, 2, 7, 7),
        True,
    ),
    (
        "unpool3d",
        "F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2)",
        (1, 2, 4, 4, 6),
        True,
    ),
    (
        "unpool2d_unbatched",
        "F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2)",
        (2, 4, 6),
        True,
    ),
]

# Error cases: (setup, expr) evaluated with x2 = randn(2, 3, 8, 8) etc.
ERRORS = [
    "F.max_pool2d(x2, 3, padding=2)",
    "F.max_pool2d(x2, 3, padding=2, dilation=2)",
    "F.max_pool1d(x1, 3, padding=2)",
    "F.max_pool3d(x3, 3, padding=2)",
    "F.avg_pool2d(x2, 3, padding=2)",
    "F.avg_pool1d(x1, 3, padding=2)",
    "F.max_pool2d(x2, 0)",
    "F.max_pool2d(x2, 2, stride=0)",
    "F.max_pool2d(x2, 2, dilation=0)",
    "F.max_pool2d(x2, -1)",
    "F.max_pool2d(x2, 2, padding=-1)",
    "F.max_pool1d(x1, 0)",
    "F.max_pool1d(x1, 2, stride=0)",
    "F.max_pool3d(x3, 2, stride=0)",
    "F.avg_pool2d(x2, 2, divisor_override=0)",
    "F.max_pool2d(x2, 20)",
    "F.max_pool1d(x1, 20)",
    "F.max_pool3d(x3, 20)",
    "F.avg_pool2d(x2, 20)",
    "F.avg_pool1d(x1, 20)",
    "F.avg_pool3d(x3, 20)",
    "F.max_pool2d(torch.ones(2, 3), 2)",
    "F.max_pool2d(torch.ones(2, 3, 4, 5, 6), 2)",
    "F.max_pool1d(torch.ones(2), 2)",
    "F.max_pool3d(torch.ones(2, 2, 2), 2)",
    "F.avg_pool2d(torch.ones(2, 3), 2)",
    "F.avg_pool1d(torch.ones(2), 2)",
    "F.max_pool2d(torch.ones(2, 0, 4, 4), 2)",
    "F.max_pool2d(torch.ones(2, 3, 0, 4), 2)",
    "F.max_pool1d(torch.ones(2, 0, 4), 2)",
    "F.max_pool3d(torch.ones(1, 0, 4, 4, 4), 2)",
    "F.adaptive_avg_pool2d(torch.ones(2, 3), 2)",
    "F.adaptive_avg_pool2d(x2, (2, 3, 4))",
    "F.adaptive_avg_pool2d(x2, -1)",
    "F.adaptive_max_pool2d(x2, -1)",
    "F.adaptive_avg_pool1d(x1, -1)",
    "F.adaptive_max_pool2d(torch.ones(2, 3, 0, 4), 2)",
    "F.adaptive_avg_pool2d(torch.ones(2, 3, 0, 4), 2)",
    "F.max_pool2d(x2.bool(), 2)",
    "F.adaptive_avg_pool2d(x2.long(), 2)",
    "F.max_pool2d(x2, 2**62)",
    "F.avg_pool2d(x2, 2**62)",
    "F.max_pool2d(x2, 2, stride=2**62)",
    "F.max_pool2d(x2, (2, 2, 2))",
    "F.avg_pool2d(x2, (2, 2, 2))",
    "F.max_pool2d(x2, 2, stride=(1, 1, 1))",
    "F.max_pool2d(x2, 2.5)",
    "F.max_unpool2d(*F.max_pool2d(x2, 2, return_indices=True), 2, output_size=(20, 20))",
    "F.max_unpool2d(F.max_pool2d(x2, 2), torch.full((2, 3, 4, 4), 100), 2)",
    "F.max_unpool2d(F.max_pool2d(x2, 2), torch.full((2, 3, 4, 4), -1), 2)",
    "F.max_unpool2d(F.max_pool2d(x2, 2), torch.zeros(2, 3, 4, 4), 2)",
    "F.max_unpool2d(F.max_pool2d(x2, 2), torch.zeros(2, 3, 4, 3, dtype=torch.long), 2)",
    "F.max_unpool1d(F.max_pool1d(x1, 2), torch.full((2, 3, 4), 100), 2)",
    "F.max_unpool3d(F.max_pool3d(x3, 2), torch.full((2, 3, 3, 3, 3), 1000), 2)",
    "F.lp_pool2d(x2, 0, 2)",
]


def flatten(out):
    return list(out) if isinstance(out, tuple) else [out]


def extra():
    F = torch.nn.functional
    gen = torch.Generator().manual_seed(0)
    cases, arrays = [], {}
    for name, expr, shape, diff in CASES:
        if name == "mp2d_int":
            x = torch.randint(-50, 50, shape, generator=gen)
        else:
            x = distinct(shape, gen)
        if name == "mp2d_nan":
            x.view(-1)[[1, 6, 7, 10]] = float("nan")
        if name == "mp2d_inf":
            x.view(-1)[[0, 1, 4, 5, 10]] = float("-inf")
        if name.startswith("lp"):
            x = x.abs() + 0.1  # fractional powers of negatives are NaN in both libraries
        x.requires_grad_(diff)
        outs = flatten(eval(expr, {"F": F, "x": x, "torch": torch}))
        arrays[f"{name}/in/x"] = x.detach().numpy()
        loss = 0
        for i, o in enumerate(outs):
            arrays[f"{name}/out/{i}"] = o.detach().numpy()
            if o.is_floating_point() and diff:
                cot = torch.randn(o.shape, generator=gen, dtype=o.dtype)
                arrays[f"{name}/cot/{i}"] = cot.numpy()
                loss = loss + (o * cot).sum()
        if diff:
            loss.backward()
            arrays[f"{name}/grad/x"] = x.grad.numpy()
        cases.append(
            {
                "name": name,
                "expr": expr,
                "dtype": str(x.dtype).replace("torch.", ""),
                "outputs": len(outs),
                "grad": diff,
            }
        )
    errors = []
    env = {
        "F": F,
        "torch": torch,
        "x1": torch.randn(2, 3, 8),
        "x2": torch.randn(2, 3, 8, 8),
        "x3": torch.randn(2, 3, 6, 6, 6),
    }
    for expr in ERRORS:
        try:
            eval(expr, env)
        except Exception as e:  # noqa: BLE001
            errors.append(
                {"expr": expr, "raises": type(e).__name__, "message": str(e).split("\n")[0]}
            )
        else:
            raise SystemExit(f"expected an error from {expr}")
    (OUT / "pool_extra.json").write_text(
        json.dumps({"reference": torch.__version__, "cases": cases, "errors": errors}, indent=1)
        + "\n"
    )
    np.savez_compressed(OUT / "pool_extra.npz", **arrays)
    return len(cases), len(errors)


if __name__ == "__main__":
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/conformance")
    print("conformance (modules, printing):", copy_conformance(src))
    print("extra (cases, errors):", extra())
