"""Tier-1 reference cases (tests/data/ops.json, made with PyTorch): forward values and the
gradients of (out * cot).sum(), in float64 (~1e-10) and float32 (~1e-4)."""

import json
import pathlib

import numpy as np
import pytest

import rgrad as torch

DATA = pathlib.Path(__file__).parent / "data"
CASES = json.loads((DATA / "ops.json").read_text())["cases"]
with np.load(DATA / "ops.npz") as _f:
    ARRAYS = {k: _f[k] for k in _f.files}

TIER1 = [c for c in CASES if c["tier"] == 1]

# Tier-1 cases the current op set does not cover yet. test_gap_is_real keeps this list honest:
# a case listed here that starts passing fails that test until it is removed from the list.
NOT_YET: set = set()

FLOAT = {"float64": torch.float64, "float32": torch.float32}


def run_case(case, precision):
    env = {"torch": torch}
    for name, kind in case["inputs"].items():
        arr = ARRAYS[f"{case['name']}/in/{name}"]
        if kind == "float64":
            t = torch.tensor(arr, dtype=FLOAT[precision])
            t.requires_grad_(name in case["grads"])
        elif kind == "int64":
            t = torch.tensor(arr, dtype=torch.int64)
        else:
            t = torch.tensor(arr, dtype=torch.bool)
        env[name] = t
    out = eval(case["expr"], env)
    grads = {}
    if case["grads"]:
        cot = torch.tensor(ARRAYS[f"{case['name']}/cot"], dtype=out.dtype)
        (out * cot).sum().backward()
        grads = {n: env[n].grad for n in case["grads"]}
    return out, grads


def check(case, precision, tol):
    out, grads = run_case(case, precision)
    expected = ARRAYS[f"{case['name']}/out"]
    got = out.detach().numpy()
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
        np.testing.assert_allclose(g.numpy(), ref, rtol=tol, atol=tol)


SUPPORTED = [c for c in TIER1 if c["name"] not in NOT_YET]


@pytest.mark.parametrize("case", SUPPORTED, ids=lambda c: c["name"])
def test_float64(case):
    check(case, "float64", 1e-10)


@pytest.mark.parametrize("case", SUPPORTED, ids=lambda c: c["name"])
def test_float32(case):
    check(case, "float32", 1e-4)


@pytest.mark.parametrize(
    "case", [c for c in TIER1 if c["name"] in NOT_YET], ids=lambda c: c["name"]
)
def test_gap_is_real(case):
    """Each case in NOT_YET must still fail; remove it from the list once it passes."""
    with pytest.raises(Exception):  # noqa: B017 - any failure keeps it on the list
        check(case, "float64", 1e-10)


def test_gap_is_listed():
    names = {c["name"] for c in TIER1}
    assert NOT_YET <= names
    print(f"tier-1 coverage: {len(names) - len(NOT_YET)}/{len(names)}; not yet: {sorted(NOT_YET)}")
