"""Writes tests/data/torch_ckpt/rgrad_*.pt with rgrad.save (PyTorch's formats) and the values
they hold as rgrad_*.npz; ``/work/torchenv/bin/python tools/make_torch_checkpoints.py`` then
loads them with ``torch.load(weights_only=True)`` and records their hashes.

    python tools/make_rgrad_checkpoints.py

``objects()`` is shared with tests/test_torch_checkpoints.py, which checks rgrad.save still
writes the bytes PyTorch read. Values are made without matmuls, so they are the same bits on
every machine.
"""

import pathlib
import sys
from collections import OrderedDict

import numpy as np

import rgrad
from rgrad import nn

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "torch_ckpt"


def _model():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with rgrad.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(rgrad.linspace(-1.0, 1.0, p.numel()).view(p.shape) * (i + 1))
    return model


def objects():
    """``{file name: (object, save keyword arguments)}``."""
    model = _model()
    opt = rgrad.optim.Adam(model.parameters(), lr=0.01)
    for step in range(2):
        for p in model.parameters():
            p.grad = rgrad.full(p.shape, 0.5 + step)
        opt.step()
    base = rgrad.arange(12, dtype=rgrad.float64).view(3, 4)
    nested = {
        "epoch": 7,
        "name": "rgrad",
        "list": [rgrad.tensor([1, 2, 3]), (rgrad.tensor([True, False]), 2.5)],
        "deep": {"a": OrderedDict([("b", rgrad.tensor([4, 5], dtype=rgrad.int32))])},
        "transposed": base.t(),
        "column": base[:, 1],
        "scalar": rgrad.tensor(3.0),
        "param": nn.Parameter(rgrad.tensor([1.0, 2.0])),
        "same_twice": [base, base],
    }
    return {
        "rgrad_state.pt": (model.state_dict(), {}),
        "rgrad_optim.pt": ({"model": model.state_dict(), "optim": opt.state_dict()}, {}),
        "rgrad_nested.pt": (nested, {}),
        "rgrad_legacy.pt": (model.state_dict(), {"_use_new_zipfile_serialization": False}),
    }


def flatten(prefix, obj, out):
    """Tensors of a nested object by their "/"-joined path (as the PyTorch script does)."""
    if isinstance(obj, rgrad.Tensor):
        out[prefix.strip("/") or "tensor"] = obj.detach().numpy()
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(f"{prefix}/{k}", v, out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(f"{prefix}/{i}", v, out)
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (obj, kwargs) in objects().items():
        rgrad.save(obj, OUT / name, **kwargs)
        np.savez(OUT / name.replace(".pt", ".npz"), **flatten("", obj, {}))
        print(f"{name}: {(OUT / name).stat().st_size} bytes")


if __name__ == "__main__":
    sys.exit(main())
