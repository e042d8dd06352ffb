"""Tests for rgrad's PyTorch-compatible tensor printing (python/rgrad/_tensor_str.py).

The module is loaded straight from its file so these tests run without the compiled
extension. Expected strings in ``CONFORMANCE`` are PyTorch's exact ``repr`` output (see
/work/shared/conformance/printing.json), with ``torch.`` turned into ``rgrad.``.
"""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parent.parent / "python" / "rgrad" / "_tensor_str.py"
_spec = importlib.util.spec_from_file_location("rgrad_tensor_str_under_test", _PATH)
ts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ts)

_JSON = Path("/work/shared/conformance/printing.json")

f32, f64, i64, i32 = np.float32, np.float64, np.int64, np.int32
nan, inf = math.nan, math.inf


def t(data, dtype=f32):
    return np.array(data, dtype=dtype)


def fmt(values, suffixes=()):
    """Like repr(torch.tensor) for a numpy array, deriving the dtype name from it."""
    return ts.format_tensor(values, values.dtype.name, list(suffixes))


@pytest.fixture(autouse=True)
def _reset_printoptions():
    ts.set_printoptions(profile="default")
    yield
    ts.set_printoptions(profile="default")


# (PyTorch expression, values, suffixes, PyTorch's repr)
CONFORMANCE = [
    ("torch.tensor(3.)", t(3.0), [], "tensor(3.)"),
    ("torch.tensor(3)", t(3, i64), [], "tensor(3)"),
    ("torch.tensor(-0.5)", t(-0.5), [], "tensor(-0.5000)"),
    ("torch.tensor(True)", t(True, bool), [], "tensor(True)"),
    ("torch.tensor([1., 2., 3.])", t([1, 2, 3]), [], "tensor([1., 2., 3.])"),
    (
        "torch.tensor([1.5, -2.25, 3.0])",
        t([1.5, -2.25, 3.0]),
        [],
        "tensor([ 1.5000, -2.2500,  3.0000])",
    ),
    ("torch.tensor([1, 2, 3])", t([1, 2, 3], i64), [], "tensor([1, 2, 3])"),
    ("torch.tensor([True, False])", t([True, False], bool), [], "tensor([ True, False])"),
    (
        "torch.tensor([[1., 2.], [3., 4.]])",
        t([[1, 2], [3, 4]]),
        [],
        "tensor([[1., 2.],\n        [3., 4.]])",
    ),
    (
        "torch.tensor([0.1, 0.123456789, 100.0])",
        t([0.1, 0.123456789, 100.0]),
        [],
        "tensor([  0.1000,   0.1235, 100.0000])",
    ),
    ("torch.tensor([1e-5, 1.0])", t([1e-5, 1.0]), [], "tensor([1.0000e-05, 1.0000e+00])"),
    ("torch.tensor([1e10, 1.0])", t([1e10, 1.0]), [], "tensor([1.0000e+10, 1.0000e+00])"),
    (
        "torch.tensor([123456.0, 1.5])",
        t([123456.0, 1.5]),
        [],
        "tensor([1.2346e+05, 1.5000e+00])",
    ),
    ("torch.tensor([1e-10])", t([1e-10]), [], "tensor([1.0000e-10])"),
    (
        "torch.tensor([float('nan'), float('inf'), -float('inf'), 1.0])",
        t([nan, inf, -inf, 1.0]),
        [],
        "tensor([nan, inf, -inf, 1.])",
    ),
    ("torch.tensor([-0.0, 0.0])", t([-0.0, 0.0]), [], "tensor([-0., 0.])"),
    (
        "torch.tensor([1., 2.], dtype=torch.float64)",
        t([1, 2], f64),
        [],
        "tensor([1., 2.], dtype=torch.float64)",
    ),
    (
        "torch.tensor([1, 2], dtype=torch.int32)",
        t([1, 2], i32),
        [],
        "tensor([1, 2], dtype=torch.int32)",
    ),
    (
        "torch.tensor(2.5, dtype=torch.float64)",
        t(2.5, f64),
        [],
        "tensor(2.5000, dtype=torch.float64)",
    ),
    (
        "torch.zeros(2, 3)",
        np.zeros((2, 3), f32),
        [],
        "tensor([[0., 0., 0.],\n        [0., 0., 0.]])",
    ),
    ("torch.zeros(0)", np.zeros(0, f32), [], "tensor([])"),
    ("torch.zeros(2, 0)", np.zeros((2, 0), f32), [], "tensor([], size=(2, 0))"),
    (
        "torch.arange(12).reshape(2, 2, 3)",
        np.arange(12, dtype=i64).reshape(2, 2, 3),
        [],
        "tensor([[[ 0,  1,  2],\n         [ 3,  4,  5]],\n\n"
        "        [[ 6,  7,  8],\n         [ 9, 10, 11]]])",
    ),
    (
        "torch.arange(2000.)",
        np.arange(2000, dtype=f32),
        [],
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
        "        1.9990e+03])",
    ),
    (
        "torch.arange(10000).reshape(100, 100)",
        np.arange(10000, dtype=i64).reshape(100, 100),
        [],
        "tensor([[   0,    1,    2,  ...,   97,   98,   99],\n"
        "        [ 100,  101,  102,  ...,  197,  198,  199],\n"
        "        [ 200,  201,  202,  ...,  297,  298,  299],\n"
        "        ...,\n"
        "        [9700, 9701, 9702,  ..., 9797, 9798, 9799],\n"
        "        [9800, 9801, 9802,  ..., 9897, 9898, 9899],\n"
        "        [9900, 9901, 9902,  ..., 9997, 9998, 9999]])",
    ),
    (
        "torch.tensor([[1e-3, 2.0], [3.0, 4e3]])",
        t([[1e-3, 2.0], [3.0, 4e3]]),
        [],
        "tensor([[1.0000e-03, 2.0000e+00],\n        [3.0000e+00, 4.0000e+03]])",
    ),
    (
        "torch.tensor(2.0, requires_grad=True)",
        t(2.0),
        ["requires_grad=True"],
        "tensor(2., requires_grad=True)",
    ),
    (
        "torch.tensor([1., 2.], requires_grad=True)",
        t([1, 2]),
        ["requires_grad=True"],
        "tensor([1., 2.], requires_grad=True)",
    ),
    (
        "torch.tensor([1., 2.], dtype=torch.float64, requires_grad=True)",
        t([1, 2], f64),
        ["requires_grad=True"],
        "tensor([1., 2.], dtype=torch.float64, requires_grad=True)",
    ),
    ("x * y + y ** 2", t(15.0), ["grad_fn=<AddBackward0>"], "tensor(15., grad_fn=<AddBackward0>)"),
    ("(x * 2).sum()", t(6.0), ["grad_fn=<SumBackward0>"], "tensor(6., grad_fn=<SumBackward0>)"),
    (
        "x.mean()",
        t(1.5),
        ["grad_fn=<MeanBackward0>"],
        "tensor(1.5000, grad_fn=<MeanBackward0>)",
    ),
    ("x[0]", t(1.0), ["grad_fn=<SelectBackward0>"], "tensor(1., grad_fn=<SelectBackward0>)"),
    ("x.detach()", t([1, 2]), [], "tensor([1., 2.])"),
    (
        "x.t()",
        t([[1], [2]]),
        ["grad_fn=<TBackward0>"],
        "tensor([[1.],\n        [2.]], grad_fn=<TBackward0>)",
    ),
    ("repr(torch.tensor(1.5))", t(1.5), [], "tensor(1.5000)"),
    ("torch.tensor([1, 2]).float()", t([1, 2]), [], "tensor([1., 2.])"),
    ("torch.tensor([3, 4]) / 2", t([1.5, 2.0]), [], "tensor([1.5000, 2.0000])"),
    ("torch.tensor([3, 4]) // 2", t([1, 2], i64), [], "tensor([1, 2])"),
    ("torch.tensor([3, 4]) * 1.5", t([4.5, 6.0]), [], "tensor([4.5000, 6.0000])"),
    (
        "torch.tensor([3, 4]) + torch.tensor(1.5, dtype=torch.float64)",
        t([4.5, 5.5], f64),
        [],
        "tensor([4.5000, 5.5000], dtype=torch.float64)",
    ),
    ("torch.tensor([1., 2.]) > 1", t([False, True], bool), [], "tensor([False,  True])"),
    (
        "torch.tensor([True, False]) + torch.tensor([True, True])",
        t([True, True], bool),
        [],
        "tensor([True, True])",
    ),
    ("torch.tensor([1, 2]).sum()", t(3, i64), [], "tensor(3)"),
    ("torch.tensor([True, True]).sum()", t(2, i64), [], "tensor(2)"),
    ("torch.tensor([1, 2]).mean(dtype=torch.float32)", t(1.5), [], "tensor(1.5000)"),
]


@pytest.mark.parametrize(
    "values, suffixes, expected",
    [case[1:] for case in CONFORMANCE],
    ids=[case[0] for case in CONFORMANCE],
)
def test_conformance(values, suffixes, expected):
    assert fmt(values, suffixes) == expected.replace("torch.", "rgrad.")


def test_conformance_table_matches_reference_file():
    """Guard against transcription errors in CONFORMANCE (only where the file exists)."""
    if not _JSON.exists():
        pytest.skip("reference file not available")
    reference = {c["expr"]: c["str"] for c in json.loads(_JSON.read_text())["cases"] if "str" in c}
    for expr, _, _, expected in CONFORMANCE:
        assert reference[expr] == expected, expr


def test_return_types_and_parameter_reprs():
    # torch.max(torch.tensor([[1., 5.], [3., 2.]]), dim=1) and nn.Parameter(...)
    values, indices = fmt(t([5, 3])), fmt(t([1, 0], i64))
    assert f"torch.return_types.max(\nvalues={values},\nindices={indices})" == (
        "torch.return_types.max(\nvalues=tensor([5., 3.]),\nindices=tensor([1, 0]))"
    )
    param = "Parameter containing:\n" + fmt(t([1, 2]), ["requires_grad=True"])
    assert param == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"


# ---- further cases, derived from PyTorch's algorithm -------------------------------------


def test_float64_fixed_point():
    assert fmt(t([0.1, 0.2], f64)) == "tensor([0.1000, 0.2000], dtype=rgrad.float64)"


def test_scalars_of_other_dtypes():
    assert fmt(t(2.5, f64)) == "tensor(2.5000, dtype=rgrad.float64)"
    assert fmt(t(7, i32)) == "tensor(7, dtype=rgrad.int32)"
    assert fmt(t(nan)) == "tensor(nan)"
    assert fmt(t(-inf)) == "tensor(-inf)"
    assert fmt(t(1e-7)) == "tensor(1.0000e-07)"


def test_matrix_with_negatives():
    assert fmt(t([[1, -2, 3], [-4, 5, -6], [7, -8, 9]])) == (
        "tensor([[ 1., -2.,  3.],\n        [-4.,  5., -6.],\n        [ 7., -8.,  9.]])"
    )
    assert fmt(t([[0.5, -1.25], [2.0, -3.75]])) == (
        "tensor([[ 0.5000, -1.2500],\n        [ 2.0000, -3.7500]])"
    )


def test_long_vector_wraps_at_linewidth():
    # width 3 ("29.") + 2 per element, (80 - 7) // 5 = 14 elements per line
    assert fmt(np.arange(30, dtype=f32)) == (
        "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n"
        "        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n"
        "        28., 29.])"
    )
    # width 2 + 2 per element, (80 - 7) // 4 = 18 per line
    rows = [np.arange(i, min(i + 18, 40)) for i in range(0, 40, 18)]
    body = ",\n        ".join(", ".join(f"{v:2d}" for v in row) for row in rows)
    assert fmt(np.arange(40, dtype=i64)) == f"tensor([{body}])"


def test_integers():
    assert fmt(t([1, 1000000000000], i64)) == "tensor([            1, 1000000000000])"
    assert fmt(t([-5, 10], i64)) == "tensor([-5, 10])"
    assert fmt(t([[1, 2], [3, 4]], i32)) == "tensor([[1, 2],\n        [3, 4]], dtype=rgrad.int32)"


def test_bool_matrix():
    assert fmt(t([[True, False], [False, True]], bool)) == (
        "tensor([[ True, False],\n        [False,  True]])"
    )


def test_nonfinite_in_fixed_and_int_modes():
    assert fmt(t([nan, 1.5])) == "tensor([   nan, 1.5000])"
    assert fmt(t([inf, 10.0])) == "tensor([inf, 10.])"
    assert fmt(t([nan, nan])) == "tensor([nan, nan])"


def test_three_dimensional_zeros():
    assert fmt(np.zeros((2, 2, 2), f32)) == (
        "tensor([[[0., 0.],\n         [0., 0.]],\n\n        [[0., 0.],\n         [0., 0.]]])"
    )


def test_summarised_three_dimensional():
    row = "[0, 0, 0,  ..., 0, 0, 0]"
    block = "[" + ",\n         ".join([row] * 3 + ["..."] + [row] * 3) + "]"
    expected = "tensor([" + ",\n\n        ".join([block] * 3 + ["..."] + [block] * 3) + "])"
    assert fmt(np.zeros((10, 10, 11), i64)) == expected


def test_empty_tensors():
    assert fmt(np.zeros(0, i64)) == "tensor([], dtype=rgrad.int64)"
    assert fmt(np.zeros(0, bool)) == "tensor([], dtype=rgrad.bool)"
    assert fmt(np.zeros((2, 0), f64)) == "tensor([], size=(2, 0), dtype=rgrad.float64)"
    assert fmt(np.zeros((0, 3), f32), ["requires_grad=True"]) == (
        "tensor([], size=(0, 3), requires_grad=True)"
    )


def test_suffix_ordering_and_wrapping():
    suffixes = ["device='wgpu:0'", "requires_grad=True"]
    assert ts.format_tensor(t([1, 2], f64), "float64", suffixes) == (
        "tensor([1., 2.], device='wgpu:0', dtype=rgrad.float64, requires_grad=True)"
    )
    # a full first line (79 chars) pushes the suffix onto its own line, aligned with "tensor("
    values = t([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    line = "tensor([0.1000, 0.2000, 0.3000, 0.4000, 0.5000, 0.6000, 0.7000, 0.8000, 0.9000]"
    assert len(line) == 79
    assert fmt(values, ["requires_grad=True"]) == line + ",\n       requires_grad=True)"
    assert fmt(values[:8], ["grad_fn=<MulBackward0>"]) == (
        "tensor([0.1000, 0.2000, 0.3000, 0.4000, 0.5000, 0.6000, 0.7000, 0.8000],\n"
        "       grad_fn=<MulBackward0>)"
    )
    # PyTorch counts two characters too many for the current line, so a suffix is moved
    # even when the result would have been exactly 80 characters wide
    assert fmt(values[:6], ["grad_fn=<MulBackward0>"]) == (
        "tensor([0.1000, 0.2000, 0.3000, 0.4000, 0.5000, 0.6000],\n       grad_fn=<MulBackward0>)"
    )
    assert fmt(values[:5], ["grad_fn=<MulBackward0>"]) == (
        "tensor([0.1000, 0.2000, 0.3000, 0.4000, 0.5000], grad_fn=<MulBackward0>)"
    )


def test_set_printoptions():
    ts.set_printoptions(precision=2)
    assert fmt(t([1.12345])) == "tensor([1.12])"
    ts.set_printoptions(profile="default", threshold=5)
    assert fmt(np.arange(10, dtype=i64)) == "tensor([0, 1, 2,  ..., 7, 8, 9])"
    ts.set_printoptions(profile="default")
    assert fmt(t([1.12345])) == "tensor([1.1235])"
    assert fmt(np.arange(10, dtype=i64)) == "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])"
    ts.set_printoptions(sci_mode=True)
    assert fmt(t([1, 2])) == "tensor([1.0000e+00, 2.0000e+00])"
    # the width is still the one computed for the automatic (scientific) choice
    ts.set_printoptions(sci_mode=False)
    assert fmt(t([1e-5, 1.0])) == "tensor([    0.0000,     1.0000])"
    ts.set_printoptions(profile="full")
    assert "..." not in fmt(np.arange(2000, dtype=i64))
