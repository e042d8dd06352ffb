"""Argument type errors read as PyTorch's: the argument named, "(position N)" exactly when it
was passed positionally, and "received an invalid combination of arguments" for functions
with several signatures. The texts are PyTorch's own (tests/data/argument_errors.json, made by
tools/make_reference_argument_errors.py)."""

import json
import pathlib

import pytest

import rgrad as T

CASES = json.loads((pathlib.Path(__file__).parent / "data" / "argument_errors.json").read_text())[
    "cases"
]


@pytest.mark.parametrize("case", CASES, ids=[c["call"] for c in CASES])
def test_message_is_pytorchs(case):
    a = T.ones(4)
    with pytest.raises(TypeError) as info:
        eval(case["call"], {"T": T, "a": a})
    assert str(info.value) == case["message"]


def test_position_follows_the_call_inside_functions_and_comprehensions():
    a = T.ones(4)

    def positional():
        return a.sum(0, "x")

    def keyword():
        return [a.sum(0, keepdim="x") for _ in range(1)]

    with pytest.raises(
        TypeError, match=r"^sum\(\): argument 'keepdim' \(position 2\) must be bool"
    ):
        positional()
    with pytest.raises(TypeError, match=r"^sum\(\): argument 'keepdim' must be bool"):
        keyword()


def test_unreadable_call_keeps_a_plain_message():
    # f(*args, **kwargs) cannot be read: the message names the argument without a position.
    a = T.ones(4)
    args, kwargs = (0,), {"keepdim": "x"}
    with pytest.raises(TypeError) as info:
        a.sum(*args, **kwargs)
    assert str(info.value) == "sum(): argument 'keepdim' must be bool, not str"


def test_valid_calls_still_work():
    a = T.arange(6.0)
    assert [t.tolist() for t in a.split(2)] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert [t.numel() for t in a.split([1, 5])] == [1, 5]
    assert a.clamp(min=1, max=3).tolist() == [1.0, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert a.max(0).values.item() == 5.0
    assert a.diff(n=1).tolist() == [1.0] * 5
    assert T.sum(a, 0).item() == 15.0


def test_negative_split_sizes_are_runtime_errors_with_pytorchs_text():
    a = T.arange(6.0)
    with pytest.raises(RuntimeError) as info:
        a.split(-1)
    assert str(info.value) == "split expects split_size be non-negative, but got split_size=-1"
    with pytest.raises(RuntimeError) as info:
        a.split([-1, 7])
    assert str(info.value) == (
        "split_with_sizes expects split_sizes have only non-negative entries, "
        "but got split_sizes=[-1, 7]"
    )
    # A 0-d tensor is an int split size, as in PyTorch.
    assert [t.numel() for t in a.split(T.tensor(2))] == [2, 2, 2]
    assert [t.numel() for t in a.split(2, -1)] == [2, 2, 2]
    assert [t.tolist() for t in a.diff(prepend=T.zeros(1), append=T.tensor([9.0]))] == [
        0.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        4.0,
    ]
