"""Writes the PyTorch checkpoints tests/test_torch_checkpoints.py loads, and checks that
PyTorch loads the files rgrad wrote.

Run with PyTorch's python (never a test dependency):

    /work/torchenv/bin/python tools/make_torch_checkpoints.py

It writes into tests/data/torch_ckpt/: checkpoints made by ``torch.save`` (a few KB each) and
``expected.npz`` with PyTorch's values for them. Then, for each ``rgrad_*.pt`` there (written by
``python tools/make_rgrad_checkpoints.py`` with rgrad), it runs ``torch.load(weights_only=True)``,
compares the values with the ``rgrad_*.npz`` rgrad wrote beside it, and records the file's
SHA-256 in ``rgrad_verified.json``: the test checks rgrad still writes those exact bytes.
"""

import hashlib
import json
import os
import pathlib

import numpy as np
import torch
from torch import nn

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "torch_ckpt"
expected = {}


def record(prefix, obj):
    """Stores the arrays of a (nested) object in ``expected`` as prefix/path."""
    if isinstance(obj, torch.Tensor):
        expected[prefix] = obj.detach().numpy()
    elif isinstance(obj, dict):
        for k, v in obj.items():
            record(f"{prefix}/{k}", v)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            record(f"{prefix}/{i}", v)


def save(name, obj, **kwargs):
    torch.save(obj, OUT / name, **kwargs)


def mlp_and_cnn():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    save("mlp_state.pt", mlp.state_dict())
    record("mlp", mlp.state_dict())
    cnn = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 8, 3, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 3 * 3, 10),
    )
    save("cnn_state.pt", cnn.state_dict())
    x = torch.randn(2, 1, 8, 8)
    expected["cnn_input"] = x.numpy()
    expected["cnn_output"] = cnn(x).detach().numpy()
    # The same state dict in the legacy format (pre-1.6, _use_new_zipfile_serialization=False).
    save("cnn_state_legacy.pt", cnn.state_dict(), _use_new_zipfile_serialization=False)


def views():
    base = torch.arange(24, dtype=torch.float32).view(4, 6)
    obj = {
        "base": base,
        "t": base.t(),
        "row": base[1],
        "col": base[:, 2],
        "block": base[1:3, 2:5],
        "step": base[:, ::2],
        "scalar": base[2, 3],
        "expanded": torch.tensor([1.0, 2.0, 3.0])[None].expand(2, 3),
        "permuted": torch.arange(24.0).view(2, 3, 4).permute(2, 0, 1),
        "empty": base[:0],
    }
    save("views.pt", obj)
    save("views_legacy.pt", obj, _use_new_zipfile_serialization=False)
    record("views", obj)


def dtypes():
    values = [0, 1, 2, 3]
    kinds = [torch.float32, torch.float64, torch.int64, torch.int32, torch.bool]
    obj = {str(dt).split(".")[1]: torch.tensor(values, dtype=dt) for dt in kinds}
    save("dtypes.pt", obj)
    record("dtypes", obj)
    for dt in (torch.float16, torch.bfloat16, torch.int16, torch.int8, torch.uint8):
        save(f"dtype_{str(dt).split('.')[1]}.pt", {"w": torch.tensor(values, dtype=dt)})


def optimizers():
    for name, make in (
        ("sgd", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
        ("adam", lambda p: torch.optim.Adam(p, lr=0.01)),
    ):
        torch.manual_seed(1)
        model = nn.Linear(3, 2)
        opt = make(model.parameters())
        x, y = torch.randn(5, 3), torch.randn(5, 2)

        def step(model=model, opt=opt, x=x, y=y):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()

        for _ in range(3):
            step()
        save(
            f"optim_{name}.pt",
            {"model": model.state_dict(), "optim": opt.state_dict(), "x": x, "y": y},
        )
        for _ in range(3):
            step()
        record(f"optim_{name}_after", model.state_dict())


def nested():
    torch.manual_seed(2)
    lin = nn.Linear(2, 2)
    obj = {
        "epoch": 3,
        "loss": 0.25,
        "name": "run-1",
        "none": None,
        "flags": {True, False},
        "raw": b"\x00\x01",
        "list": [torch.ones(2), (torch.zeros(1, dtype=torch.int64), "tag")],
        "deep": {"a": {"b": {"c": torch.full((2, 2), 7.0)}}},
        "state_dict": lin.state_dict(),
        "param": nn.Parameter(torch.tensor([1.0, -1.0])),
        "frozen": nn.Parameter(torch.tensor([2.0]), requires_grad=False),
        "size": torch.Size([2, 3]),
        "dtype": torch.float64,
        "grad_tensor": torch.tensor([3.0], requires_grad=True),
    }
    save("nested.pt", obj)
    record("nested", obj)


class _Eval:
    # What a malicious checkpoint pickles: builtins.eval of code writing a marker file.
    def __reduce__(self):
        return (eval, ("open('rgrad_pwned_marker', 'w').write('ran')",))


class _System:
    def __reduce__(self):
        return (os.system, ("touch rgrad_pwned_marker",))


def malicious():
    save("evil_eval.pt", {"w": torch.ones(2), "payload": _Eval()})
    save(
        "evil_system_legacy.pt",
        {"w": torch.ones(2), "payload": _System()},
        _use_new_zipfile_serialization=False,
    )


def verify_rgrad_files():
    verified = {}
    for path in sorted(OUT.glob("rgrad_*.pt")):
        want = np.load(path.with_suffix(".npz"))
        got = {}
        obj = torch.load(path, weights_only=True)
        flat = {}
        _flatten("", obj, flat)
        got = {k: v.numpy() for k, v in flat.items()}
        if sorted(got) != sorted(want.files):
            raise SystemExit(f"{path.name}: keys {sorted(got)} != {sorted(want.files)}")
        for k in want.files:
            np.testing.assert_array_equal(got[k], want[k], err_msg=f"{path.name}:{k}")
        verified[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"torch.load(weights_only=True) read {path.name}: {len(want.files)} tensors equal")
    (OUT / "rgrad_verified.json").write_text(json.dumps(verified, indent=1, sort_keys=True) + "\n")


def _flatten(prefix, obj, out):
    if isinstance(obj, torch.Tensor):
        out[prefix.strip("/") or "tensor"] = obj.detach()
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(f"{prefix}/{k}", v, out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _flatten(f"{prefix}/{i}", v, out)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    mlp_and_cnn()
    views()
    dtypes()
    optimizers()
    nested()
    malicious()
    np.savez(OUT / "expected.npz", **expected)
    verify_rgrad_files()
    for p in sorted(OUT.iterdir()):
        print(f"{p.name}: {p.stat().st_size} bytes")
