"""The reference cases of tests/data/ops.json (made with PyTorch), shared by the conformance,
functional and cross-backend tests: each case is an expression over named inputs, with the
expected output and the gradients of ``(out * cot).sum()``."""

import json
import pathlib

import numpy as np

import rgrad
import rgrad.nn  # noqa: F401  (binds rgrad.nn for the `torch.nn.functional...` expressions)

DATA = pathlib.Path(__file__).parent / "data"
CASES = json.loads((DATA / "ops.json").read_text())["cases"]
with np.load(DATA / "ops.npz") as _f:
    ARRAYS = {k: _f[k] for k in _f.files}

FLOAT = {"float64": rgrad.float64, "float32": rgrad.float32}


def tier(n):
    return [c for c in CASES if c["tier"] == n]


def run_case(case, precision, device="cpu", arrays=None):
    """Evaluates ``expr`` with ``torch`` bound to rgrad and the inputs on ``device``; returns
    the output and the gradients of ``(out * cot).sum()`` for the inputs named in ``grads``.
    ``arrays`` holds the inputs (another reference file's, e.g. table.npz); default ops.npz."""
    arrays = ARRAYS if arrays is None else arrays
    env = {"torch": rgrad}
    for name, kind in case["inputs"].items():
        arr = arrays[f"{case['name']}/in/{name}"]
        if kind == "float64":
            t = rgrad.tensor(arr, dtype=FLOAT[precision], device=device)
            t.requires_grad_(name in case["grads"])
        else:
            dt = rgrad.int64 if kind == "int64" else rgrad.bool
            t = rgrad.tensor(arr, dtype=dt, device=device)
        env[name] = t
    out = eval(case["expr"], env)
    grads = {}
    if case["grads"]:
        cot = rgrad.tensor(arrays[f"{case['name']}/cot"], dtype=out.dtype, device=out.device)
        (out * cot).sum().backward()
        grads = {n: env[n].grad for n in case["grads"]}
    return out, grads


def host(t):
    return t.detach().cpu().numpy()


def check_case(case, precision, tol, device="cpu"):
    """Runs ``case`` on ``device`` and compares output and gradients with the reference."""
    out, grads = run_case(case, precision, device)
    expected = ARRAYS[f"{case['name']}/out"]
    assert str(out.device).startswith(device)
    got = host(out)
    assert got.shape == expected.shape
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    for name, g in grads.items():
        ref = ARRAYS[f"{case['name']}/grad/{name}"]
        if g is None:  # no path from this input (PyTorch leaves .grad None; the data has 0)
            assert not ref.any(), f"no gradient for {name}"
            continue
        assert g.dtype == FLOAT[precision]
        assert str(g.device).startswith(device)
        np.testing.assert_allclose(host(g), ref, rtol=tol, atol=tol)
