"""The reference cases of tests/data/set_search_ops.json (tools/make_reference_set_search.py,
PyTorch 2.15) and the check that runs one: same outputs (dtype, shape, values, NaN in the same
places) or the same error (type and message)."""

import builtins
import json
import pathlib

import numpy as np
import pytest

import rgrad

DATA = pathlib.Path(__file__).parent / "data"
CASES = json.loads((DATA / "set_search_ops.json").read_text())["cases"]

DT = {
    "float64": rgrad.float64,
    "float32": rgrad.float32,
    "int64": rgrad.int64,
    "int32": rgrad.int32,
    "bool": rgrad.bool,
}
NP = {
    "float64": np.float64,
    "float32": np.float32,
    "int64": np.int64,
    "int32": np.int32,
    "bool": bool,
}


def family(name):
    return [c for c in CASES if c["family"] == name]


def make_input(spec, device="cpu"):
    a = np.asarray(spec["data"], dtype=NP[spec["dtype"]]).reshape(spec["shape"])
    return rgrad.tensor(a, dtype=DT[spec["dtype"]], device=device)


def flatten(out):
    if not isinstance(out, tuple):
        return [out]
    flat = []
    for o in out:
        flat.extend(o if isinstance(o, tuple) else [o])
    return flat


def run(case, device="cpu"):
    env = {"torch": rgrad, **{k: make_input(v, device) for k, v in case["inputs"].items()}}
    return flatten(eval(case["expr"], env))


def check_value(got, ref, device="cpu"):
    if "bool" in ref:
        assert got is ref["bool"] or got == ref["bool"]
        return
    assert isinstance(got, rgrad.Tensor), type(got)
    assert str(got.dtype) == "rgrad." + ref["dtype"], (got.dtype, ref["dtype"])
    assert str(got.device).startswith(device)
    assert list(got.shape) == ref["shape"], (list(got.shape), ref["shape"])
    expected = np.asarray(ref["data"], dtype=NP[ref["dtype"]]).reshape(ref["shape"])
    host = got.cpu().numpy()
    if expected.dtype.kind == "f":
        np.testing.assert_array_equal(np.isnan(host), np.isnan(expected))
        tol = 1e-6 if ref["dtype"] == "float32" else 1e-12
        np.testing.assert_allclose(host, expected, rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(host, expected)


def check(case, device="cpu"):
    if "error" in case:
        err = case["error"]
        with pytest.raises(getattr(builtins, err["type"])) as info:
            run(case, device)
        assert str(info.value) == err["message"], (str(info.value), err["message"])
        return
    got = run(case, device)
    assert len(got) == len(case["out"]), (len(got), len(case["out"]))
    for g, r in zip(got, case["out"]):
        check_value(g, r, device)
