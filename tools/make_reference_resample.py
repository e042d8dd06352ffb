"""Reference vectors for tests/test_resample.py, computed with PyTorch.

Run with a Python that has torch (never a test dependency):
    /work/torchenv/bin/python tools/make_reference_resample.py [CONFORMANCE_DIR]

Writes tests/data/resample.json + .npz (cases in the format of tests/data/ops.json, with
``F`` bound to ``torch.nn.functional``), and copies the resampling cases of the shared
conformance files into tests/data/modules_resample.* and tests/data/printing_resample.json.
"""

import json
import pathlib
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SHARED = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/conformance")
MODULE_CASES = [
    "upsample_nearest",
    "upsample_bilinear",
    "upsample_bilinear_ac",
    "pixel_shuffle",
    "unfold",
    "fold",
]
PRINT_KEYS = ["Upsample(", "PixelShuffle(", "F.interpolate("]

gen = torch.Generator().manual_seed(0)
cases, arrays = [], {}


def rand(*shape, lo=-1.0, hi=1.0):
    return (torch.rand(*shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo).numpy()


def case(name, expr, grads=("x",), **inputs):
    env = {"F": F, "torch": torch}
    for k, v in inputs.items():
        t = torch.tensor(v)
        env[k] = t.requires_grad_(k in grads)
    out = eval(expr, env)
    arrays[f"{name}/out"] = out.detach().numpy()
    for k, v in inputs.items():
        arrays[f"{name}/in/{k}"] = v
    if grads:
        cot = torch.tensor(rand(*out.shape))
        arrays[f"{name}/cot"] = cot.numpy()
        gs = torch.autograd.grad((out * cot).sum(), [env[k] for k in grads], allow_unused=True)
        for k, g in zip(grads, gs):
            arrays[f"{name}/grad/{k}"] = (torch.zeros_like(env[k]) if g is None else g).numpy()
    grad_fn = type(out.grad_fn).__name__ if out.grad_fn is not None else None
    cases.append(
        {
            "name": name,
            "expr": expr,
            "inputs": {k: "float64" for k in inputs},
            "grads": list(grads),
            "grad_fn": grad_fn,
        }
    )


# ---- interpolate: every mode x align_corners x size / scale ------------------------------
X = {3: rand(2, 2, 5), 4: rand(1, 2, 4, 5), 5: rand(1, 1, 3, 4, 3)}
MODES = {
    3: ["nearest", "nearest-exact", "linear"],
    4: ["nearest", "nearest-exact", "bilinear", "bicubic"],
    5: ["nearest", "nearest-exact", "trilinear"],
}
SIZES = {
    3: [7, 3, "(5,)"],
    4: ["(7, 9)", "(3, 2)", "(4, 5)", "(1, 1)"],
    5: ["(5, 7, 4)", "(2, 3, 2)"],
}
SCALES = {
    3: ["2", "1.7", "0.6", "(2.5,)"],
    4: ["2", "(1.5, 0.75)", "0.5", "3.3", "(2.0001, 2)"],
    5: ["2", "(1.5, 0.7, 2.2)"],
}
for nd, modes in MODES.items():
    for mode in modes:
        acs = [None] if "nearest" in mode else [False, True]
        for ac in acs:
            tag = f"interp{nd}d_{mode}" + ("" if ac is None else f"_ac{int(ac)}")
            ac_arg = "" if ac is None else f", align_corners={ac}"
            for i, s in enumerate(SIZES[nd]):
                case(
                    f"{tag}_size{i}", f"F.interpolate(x, size={s}, mode='{mode}'{ac_arg})", x=X[nd]
                )
            for i, s in enumerate(SCALES[nd]):
                case(
                    f"{tag}_scale{i}",
                    f"F.interpolate(x, scale_factor={s}, mode='{mode}'{ac_arg})",
                    x=X[nd],
                )
                case(
                    f"{tag}_scale{i}_rsf",
                    f"F.interpolate(x, scale_factor={s}, mode='{mode}'{ac_arg}, "
                    "recompute_scale_factor=True)",
                    x=X[nd],
                )

# ---- pad: reflect / replicate / circular on 2-5-D ----------------------------------------
PADS = {
    2: (rand(3, 5), ["(2, 1)", "(0, 4)"]),
    3: (rand(2, 3, 5), ["(2, 3)", "(-1, 2)", "(1, 2, 2, 0)"]),
    4: (rand(2, 2, 4, 5), ["(1, 2, 3, 0)", "(-1, 1, 2, -1)", "(1, 1, 1, 1, 1, 0)"]),
    5: (rand(1, 2, 3, 4, 5), ["(1, 2, 0, 3, 2, 1)", "(0, -1, 1, 1, -1, 2)"]),
}
for nd, (x, pads) in PADS.items():
    for mode in ("reflect", "replicate", "circular"):
        for i, p in enumerate(pads):
            case(f"pad{nd}d_{mode}_{i}", f"F.pad(x, {p}, mode='{mode}')", x=x)
case("pad_constant_negative", "F.pad(x, (-1, 2, 1, -2), value=1.5)", x=rand(2, 3, 4))

# ---- fold / unfold with stride, padding, dilation ----------------------------------------
UNFOLD = [
    ("(2, 3)", "1", "0", "1", (2, 3, 5, 6)),
    ("3", "(1, 2)", "1", "(2, 1)", (1, 2, 6, 7)),
    ("2", "2", "(2, 1)", "3", (2, 1, 5, 5)),
    ("(1, 2)", "1", "0", "1", (2, 4, 3)),  # unbatched
]
for i, (k, d, p, s, shape) in enumerate(UNFOLD):
    case(f"unfold_{i}", f"F.unfold(x, {k}, dilation={d}, padding={p}, stride={s})", x=rand(*shape))
    x = torch.tensor(rand(*shape))
    cols = F.unfold(x, eval(k), dilation=eval(d), padding=eval(p), stride=eval(s))
    out = tuple(shape[-2:])
    case(
        f"fold_{i}",
        f"F.fold(x, {out}, {k}, dilation={d}, padding={p}, stride={s})",
        x=rand(*cols.shape),
    )

# ---- pixel shuffle -----------------------------------------------------------------------
case("pixel_shuffle_5d", "F.pixel_shuffle(x, 2)", x=rand(2, 1, 8, 2, 3))
case("pixel_unshuffle", "F.pixel_unshuffle(x, 3)", x=rand(2, 2, 6, 3))

# ---- grid_sample / affine_grid -----------------------------------------------------------
gx = rand(2, 3, 4, 5)
grid = rand(2, 3, 4, 2, lo=-1.3, hi=1.3)
for mode in ("bilinear", "nearest"):
    for pm in ("zeros", "border", "reflection"):
        for ac in (False, True):
            grads = ("x", "g") if mode == "bilinear" else ("x",)
            case(
                f"grid_{mode}_{pm}_ac{int(ac)}",
                f"F.grid_sample(x, g, mode='{mode}', padding_mode='{pm}', align_corners={ac})",
                grads=grads,
                x=gx,
                g=grid,
            )
theta = rand(2, 2, 3)
for ac in (False, True):
    case(
        f"affine_grid_2d_ac{int(ac)}",
        f"F.affine_grid(t, (2, 3, 4, 5), align_corners={ac})",
        grads=("t",),
        t=theta,
    )
    case(
        f"affine_grid_3d_ac{int(ac)}",
        f"F.affine_grid(t, (2, 1, 2, 3, 4), align_corners={ac})",
        grads=("t",),
        t=rand(2, 3, 4),
    )
case(
    "affine_then_sample",
    "F.grid_sample(x, F.affine_grid(t, (2, 3, 5, 4), align_corners=False), align_corners=False)",
    grads=("x", "t"),
    x=gx,
    t=theta,
)

DATA.mkdir(parents=True, exist_ok=True)
meta = {"reference": f"torch {torch.__version__}", "cases": cases}
(DATA / "resample.json").write_text(json.dumps(meta, indent=1) + "\n")
np.savez_compressed(DATA / "resample.npz", **arrays)

# ---- the shared module and printing cases ------------------------------------------------
mods = json.loads((SHARED / "modules.json").read_text())
picked = [c for c in mods["cases"] if c["name"] in MODULE_CASES]
assert [c["name"] for c in picked] == MODULE_CASES
out = {k: v for k, v in mods.items() if k != "cases"}
out["cases"] = picked
(DATA / "modules_resample.json").write_text(json.dumps(out, indent=1) + "\n")
with np.load(SHARED / "modules.npz") as f:
    arrs = {k: f[k] for k in f.files if k.split("/")[0] in MODULE_CASES}
np.savez_compressed(DATA / "modules_resample.npz", **arrs)
pr = json.loads((SHARED / "printing_tier3.json").read_text())
keep = [
    c for c in pr["cases"] if any(c["expr"].startswith(k) or k in c["expr"] for k in PRINT_KEYS)
]
(DATA / "printing_resample.json").write_text(
    json.dumps({"reference": pr["reference"], "cases": keep}, indent=1) + "\n"
)
print(len(cases), "cases;", len(picked), "module cases;", len(keep), "printing cases")
