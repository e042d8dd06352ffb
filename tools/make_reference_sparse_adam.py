"""Writes tests/data/sparse_adam.json: what PyTorch's SparseAdam does on each case.

Run with PyTorch's interpreter: /work/torchenv/bin/python tools/make_reference_sparse_adam.py
Each case builds `SparseAdam([w], **kwargs)` on a dense parameter, gives it a dense gradient
(or none), and records the exception (type and message) raised by the constructor or by
`step`, or the closure's loss `step` returned when nothing raised."""

import json
import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "sparse_adam.json"

CASES = [
    ("defaults_dense_grad", {}, True),
    ("defaults_no_grad", {}, False),
    ("lr_zero", {"lr": 0.0}, False),
    ("lr_negative", {"lr": -0.5}, False),
    ("eps_zero", {"eps": 0.0}, False),
    ("beta0_one", {"betas": (1.0, 0.999)}, False),
    ("beta1_negative", {"betas": (0.9, -0.1)}, False),
    ("maximize_dense_grad", {"maximize": True, "lr": 0.1}, True),
]


def run(kwargs, with_grad):
    w = torch.nn.Parameter(torch.arange(6.0).reshape(2, 3))
    try:
        opt = torch.optim.SparseAdam([w], **kwargs)
        if with_grad:
            (w * w).sum().backward()
        loss = opt.step(lambda: torch.tensor(1.5))
    except Exception as e:  # the reference records what PyTorch raises
        return {"error": type(e).__name__, "message": str(e)}
    return {
        "loss": float(loss),
        "w": w.detach().tolist(),
        "defaults": {k: (list(v) if isinstance(v, tuple) else v) for k, v in opt.defaults.items()},
    }


def main():
    cases = [{"name": n, "kwargs": kw, "grad": g, **run(kw, g)} for n, kw, g in CASES]
    for c in cases:
        if "betas" in c["kwargs"]:
            c["kwargs"]["betas"] = list(c["kwargs"]["betas"])
    OUT.write_text(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    main()
