"""Tier-5 reference cases (tests/data/table.json, made with PyTorch 2.15): the op-table families
(sorting and selection, set ops, searching, scans, NaN tests, logical and bitwise ops, index
ops, a few losses), with NaN, infinities and ties in the inputs. Forward values and the
gradients of (out * cot).sum(), in float64 (~1e-10) and float32 (~1e-4), on every backend (float64
on wgpu where the adapter has it)."""

import json
import os
import pathlib

import numpy as np
import pytest
from reference_cases import run_case

import rgrad
import rgrad.nn  # noqa: F401  (binds rgrad.nn for the `torch.nn.functional...` expressions)

DATA = pathlib.Path(__file__).parent / "data"
CASES = json.loads((DATA / "table.json").read_text())["cases"]
with np.load(DATA / "table.npz") as _f:
    ARRAYS = {k: _f[k] for k in _f.files}

FLOAT = {"float64": rgrad.float64, "float32": rgrad.float32}

# Cases the op table does not cover yet. test_gap_is_real keeps this list honest: a case listed
# here that starts passing fails that test until it is removed from the list.
NOT_YET: set = set()

# Also failing on wgpu only (none now: the device's float comparisons and NaN tests read NaN
# from the bits, as a WGSL compiler may fold `x != x` to false).
WGPU_NOT_YET: set = set()


def check(case, precision, tol, device="cpu"):
    out, grads = run_case(case, precision, device, ARRAYS)
    expected = ARRAYS[f"{case['name']}/out"]
    # a factory case (tril_indices) has no inputs and makes its result on the CPU
    assert str(out.device).startswith(device if case["inputs"] else "cpu")
    got = out.detach().cpu().numpy()
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if expected.dtype.kind in "biu":
        assert got.dtype.kind == expected.dtype.kind, (got.dtype, expected.dtype)
        np.testing.assert_array_equal(got, expected)
    else:
        # an expected NaN must be NaN in the same place; infinities must match exactly
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, equal_nan=True)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    for name, g in grads.items():
        ref = ARRAYS[f"{case['name']}/grad/{name}"]
        if g is None:
            assert not ref.any(), f"no gradient for {name}"
            continue
        assert g.dtype == FLOAT[precision]
        np.testing.assert_allclose(g.cpu().numpy(), ref, rtol=tol, atol=tol, equal_nan=True)


SUPPORTED = [c for c in CASES if c["name"] not in NOT_YET]
IDS = lambda c: c["name"]  # noqa: E731


@pytest.mark.parametrize("case", SUPPORTED, ids=IDS)
def test_float64(case):
    check(case, "float64", 1e-10)


@pytest.mark.parametrize("case", SUPPORTED, ids=IDS)
def test_float32(case):
    check(case, "float32", 1e-4)


# `nox -s cross` sets RGRAD_REQUIRE_WGPU so that a missing adapter fails instead of skipping.
WGPU = pytest.mark.skipif(
    os.environ.get("RGRAD_REQUIRE_WGPU") != "1" and not rgrad.wgpu.is_available(),
    reason="no wgpu adapter",
)


@pytest.mark.wgpu
@WGPU
@pytest.mark.parametrize("case", [c for c in SUPPORTED if c["name"] not in WGPU_NOT_YET], ids=IDS)
def test_wgpu_float32(case):
    check(case, "float32", 1e-4, device="wgpu")


@pytest.mark.wgpu
@WGPU
@pytest.mark.parametrize("case", [c for c in SUPPORTED if c["name"] not in WGPU_NOT_YET], ids=IDS)
def test_wgpu_float64(case):
    if not rgrad.wgpu.supports_dtype(rgrad.float64):
        pytest.skip("the adapter has no float64")
    check(case, "float64", 1e-10, device="wgpu")


@pytest.mark.wgpu
@WGPU
@pytest.mark.parametrize("case", [c for c in CASES if c["name"] in WGPU_NOT_YET], ids=IDS)
def test_wgpu_gap_is_real(case):
    with pytest.raises(Exception):  # noqa: B017 - any failure keeps it on the list
        check(case, "float32", 1e-4, device="wgpu")


@pytest.mark.parametrize("case", [c for c in CASES if c["name"] in NOT_YET], ids=IDS)
def test_gap_is_real(case):
    """Each case in NOT_YET must still fail; remove it from the list once it passes."""
    with pytest.raises(Exception):  # noqa: B017 - any failure keeps it on the list
        check(case, "float64", 1e-10)


def test_gap_is_listed():
    names = {c["name"] for c in CASES}
    assert NOT_YET <= names and WGPU_NOT_YET <= names
    assert len(names) == len(CASES)
