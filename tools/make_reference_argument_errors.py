"""PyTorch's TypeError texts for calls with a wrong argument type, into
tests/data/argument_errors.json (run with the reference PyTorch:
``/work/torchenv/bin/python tools/make_reference_argument_errors.py``).

Each call is a Python expression over ``a`` (a float tensor of 4 elements) and ``T`` (the
module); the test evaluates the same text with ``T = rgrad``."""

import json
import pathlib

import torch as T

CALLS = [
    # one signature: the argument named, with its position when passed positionally
    "a.diff(n='x')",
    "a.diff(1, dim='x')",
    "a.sum(0, 'x')",
    "a.sum(0, keepdim='x')",
    "a.mean(0, 'x')",
    "a.cumsum('x')",
    "a.cumsum(dim='x')",
    "a.flatten(0, 'x')",
    "a.flatten(end_dim='x')",
    "a.transpose(0, 'x')",
    "a.unsqueeze('x')",
    "a.softmax('x')",
    "a.split('x')",
    "T.split(a, 'x')",
    "a.split(2.5)",
    "a.split([1.5, 2.5])",
    "a.split([1, 3], 'x')",
    "a.split([1, 3], True)",
    "a.diff('x')",
    "a.diff(1, 'x')",
    "a.diff(1, 0, 'x')",
    "a.diff(1, 0, None, 'x')",
    "a.diff(True)",
    "a.diff(prepend=[1.0])",
    "T.diff(a, 'x')",
    "T.diff(a, 1, 'x')",
    "T.diff(a, 1, 0, 'x')",
    "T.diff(a, 1, 0, None, 1.5)",
    "T.diff(a, n='x')",
    # several signatures: "received an invalid combination of arguments"
    "a.clamp(min='x')",
    "a.clamp('x')",
    "a.clamp(0, 'x')",
    "T.clamp(a, 'x')",
    "T.clamp(a, min='x')",
    "a.sum(dim='x')",
    "a.sum('x')",
    "T.sum(a, 'x')",
    "a.max('x')",
    "a.min('x')",
    "a.max(dim='x')",
    "T.max(a, 'x')",
    "T.min(a, 'x')",
    # Tensor.split(int, dim) goes to torch._VF.split positionally: a combination error
    "a.split(2, 'x')",
    "a.split(2, dim='x')",
    "a.split(2, 1.5)",
    "T.split(a, 2, 'x')",
    "a.split(2, None)",
    "a.split(2, dim=None)",
    "a.split([1, 3], None)",
    "T.split(a, 2, None)",
]


def main():
    a = T.ones(4)
    rows = []
    for call in CALLS:
        try:
            eval(call, {"T": T, "a": a})
        except TypeError as e:
            rows.append({"call": call, "message": str(e)})
        else:
            raise SystemExit(f"{call} did not raise")
    out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "argument_errors.json"
    out.write_text(json.dumps({"torch": T.__version__, "cases": rows}, indent=1) + "\n")
    print(f"{len(rows)} cases -> {out}")


if __name__ == "__main__":
    main()
