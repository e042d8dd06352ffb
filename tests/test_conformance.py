"""Tier-1 reference cases (tests/data/ops.json, made with PyTorch): forward values and the
gradients of (out * cot).sum(), in float64 (~1e-10) and float32 (~1e-4)."""

import pytest
from reference_cases import check_case, tier

TIER1 = tier(1)

# Tier-1 cases the current op set does not cover yet. test_gap_is_real keeps this list honest:
# a case listed here that starts passing fails that test until it is removed from the list.
NOT_YET: set = set()


def check(case, precision, tol):
    check_case(case, precision, tol)


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
