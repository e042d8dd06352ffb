"""Writes tests/data/norm_steps.json + .npz: PyTorch's normalization layers over several
calls (running statistics after each, momentum=None's cumulative average, train/eval
switches), functional cases the conformance files do not reach, and LRN/channel shuffle.

Run with PyTorch's python: /work/torchenv/bin/python tools/make_reference_norm.py
With ``--conformance DIR`` it also copies the normalization cases of the shared reference
files (DIR/modules.*, DIR/printing_tier3.json) into tests/data/modules_norm.* and
printing_norm.json.
"""

import json
import pathlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"

# name -> (constructor, [(mode, input shape), ...])
MODULE_CASES = {
    "bn2d_momentum": (
        "nn.BatchNorm2d(3, momentum=0.2)",
        [("train", (4, 3, 2, 3))] * 3 + [("eval", (2, 3, 2, 3))],
    ),
    "bn1d_cumulative": (
        "nn.BatchNorm1d(4, momentum=None)",
        [("train", (5, 4))] * 4 + [("eval", (3, 4))],
    ),
    "bn1d_3d_cumulative": (
        "nn.BatchNorm1d(2, momentum=None, affine=False)",
        [("train", (3, 2, 4))] * 3,
    ),
    "bn3d": (
        "nn.BatchNorm3d(2, momentum=0.5)",
        [("train", (2, 2, 2, 3, 2))] * 2 + [("eval", (1, 2, 2, 2, 2))],
    ),
    "bn2d_untracked_eval": (
        "nn.BatchNorm2d(2, track_running_stats=False)",
        [("train", (2, 2, 3, 3)), ("eval", (2, 2, 3, 3))],
    ),
    "bn2d_no_bias": ("nn.BatchNorm2d(3, bias=False)", [("train", (2, 3, 2, 2))] * 2),
    "sync_bn": ("nn.SyncBatchNorm(3)", [("train", (4, 3, 5))] * 2 + [("eval", (2, 3, 5))]),
    "in1d_tracked": (
        "nn.InstanceNorm1d(3, affine=True, track_running_stats=True)",
        [("train", (2, 3, 5))] * 3 + [("eval", (2, 3, 5))],
    ),
    "in2d_tracked_none": (
        "nn.InstanceNorm2d(2, momentum=None, track_running_stats=True)",
        [("train", (3, 2, 3, 3))] * 2 + [("eval", (3, 2, 3, 3))],
    ),
    "in3d_unbatched": ("nn.InstanceNorm3d(2, affine=True)", [("train", (2, 3, 2, 2))]),
    "in2d_unbatched_tracked": (
        "nn.InstanceNorm2d(3, track_running_stats=True)",
        [("train", (3, 4, 4))] * 2 + [("eval", (3, 4, 4))],
    ),
    "lrn_odd": ("nn.LocalResponseNorm(3, alpha=0.1, beta=0.6, k=2.0)", [("train", (2, 5, 4))]),
    "lrn_even_5d": ("nn.LocalResponseNorm(4)", [("train", (2, 6, 2, 3, 2))]),
    "lrn_4d_wide": ("nn.LocalResponseNorm(7, alpha=0.5)", [("train", (1, 4, 3, 3))]),
    "channel_shuffle": ("nn.ChannelShuffle(3)", [("train", (2, 6, 2, 2))]),
}

# Functional cases: name -> (expression over x, w, b, rm, rv, input shapes)
FUNCTIONAL_CASES = {
    "bn_2d_input_train": ("F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.3)", (6, 3)),
    "bn_5d_input_train": ("F.batch_norm(x, rm, rv, w, b, training=True)", (2, 2, 2, 2, 3)),
    "bn_eval": ("F.batch_norm(x, rm, rv, w, b, training=False, eps=1e-3)", (3, 3, 4)),
    "bn_train_no_stats": ("F.batch_norm(x, None, None, w, None, training=True)", (4, 3, 2)),
    "in_use_running": ("F.instance_norm(x, rm, rv, w, b, use_input_stats=False)", (2, 3, 4)),
    "in_update_running": (
        "F.instance_norm(x, rm, rv, w, b, use_input_stats=True, momentum=0.4)",
        (2, 3, 4),
    ),
    "in_no_affine": ("F.instance_norm(x)", (2, 3, 3, 3)),
}


def main():
    torch.manual_seed(0)
    arrays, cases = {}, []
    for name, (ctor, steps) in MODULE_CASES.items():
        m = eval(ctor, {"nn": nn}).double()
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(torch.randn_like(p) * 0.5 + 1.0)
        for k, v in m.state_dict().items():
            arrays[f"{name}/state/{k}"] = v.numpy().copy()
        for i, (mode, shape) in enumerate(steps):
            m.train(mode == "train")
            x = (torch.randn(shape, dtype=torch.float64) * 2 + 0.5).requires_grad_()
            out = m(x)
            cot = torch.randn_like(out)
            m.zero_grad()
            (out * cot).sum().backward()
            arrays[f"{name}/in/{i}"] = x.detach().numpy()
            arrays[f"{name}/out/{i}"] = out.detach().numpy()
            arrays[f"{name}/cot/{i}"] = cot.numpy()
            arrays[f"{name}/grad/{i}"] = x.grad.numpy()
            for k, p in m.named_parameters():
                arrays[f"{name}/grad_param/{i}/{k}"] = p.grad.numpy()
            for k, v in m.named_buffers():
                arrays[f"{name}/buffer/{i}/{k}"] = v.numpy().copy()
        cases.append(
            {
                "name": name,
                "kind": "module",
                "ctor": ctor,
                "modes": [s[0] for s in steps],
                "params": [k for k, _ in m.named_parameters()],
                "buffers": [k for k, _ in m.named_buffers()],
                "state": list(m.state_dict()),
            }
        )
    for name, (expr, shape) in FUNCTIONAL_CASES.items():
        c = shape[1]
        env = {
            "F": F,
            "x": (torch.randn(shape, dtype=torch.float64) + 1).requires_grad_(),
            "w": (torch.rand(c, dtype=torch.float64) + 0.5).requires_grad_(),
            "b": torch.randn(c, dtype=torch.float64).requires_grad_(),
            "rm": torch.randn(c, dtype=torch.float64),
            "rv": torch.rand(c, dtype=torch.float64) + 0.5,
        }
        for k in ("x", "w", "b", "rm", "rv"):
            arrays[f"{name}/in/{k}"] = env[k].detach().numpy().copy()
        out = eval(expr, env)
        cot = torch.randn_like(out)
        (out * cot).sum().backward()
        arrays[f"{name}/out"] = out.detach().numpy()
        arrays[f"{name}/cot"] = cot.numpy()
        grads = [k for k in ("x", "w", "b") if env[k].grad is not None]
        for k in grads:
            arrays[f"{name}/grad/{k}"] = env[k].grad.numpy()
        for k in ("rm", "rv"):
            arrays[f"{name}/after/{k}"] = env[k].numpy().copy()
        cases.append({"name": name, "kind": "functional", "expr": expr, "grads": grads})
    meta = {"reference": f"torch {torch.__version__}", "cases": cases}
    (OUT / "norm_steps.json").write_text(json.dumps(meta, indent=1) + "\n")
    np.savez_compressed(OUT / "norm_steps.npz", **arrays)


def copy_conformance(src):
    src = pathlib.Path(src)
    prefixes = ("batch_norm", "instance_norm", "local_response_norm")
    mods = json.loads((src / "modules.json").read_text())
    keep = [c for c in mods["cases"] if c["name"].startswith(prefixes)]
    names = {c["name"] for c in keep}
    (OUT / "modules_norm.json").write_text(json.dumps({**mods, "cases": keep}, indent=1) + "\n")
    with np.load(src / "modules.npz") as f:
        arrays = {k: f[k] for k in f.files if k.split("/")[0] in names}
    np.savez_compressed(OUT / "modules_norm.npz", **arrays)
    words = ("BatchNorm", "InstanceNorm", "batch_norm", "running_mean", "value per channel")
    pr = json.loads((src / "printing_tier3.json").read_text())
    cases = [
        c
        for c in pr["cases"]
        if any(w in c["setup"] + c["expr"] + c.get("message", "") for w in words)
    ]
    (OUT / "printing_norm.json").write_text(json.dumps({**pr, "cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--conformance":
        copy_conformance(sys.argv[2])
    main()
