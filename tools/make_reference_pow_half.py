"""PyTorch's ``x ** e`` for the exponents it computes by other functions (0.5 is sqrt, -0.5
rsqrt, 2 square, ...) at the special values, into tests/data/pow_special.json (run with the
reference PyTorch: ``/work/torchenv/bin/python tools/make_reference_pow_half.py``)."""

import json
import math
import pathlib

import torch

VALUES = [-math.inf, -4.0, -1.0, -0.0, 0.0, 0.25, 1.0, 4.0, math.inf, math.nan]
EXPONENTS = [0.5, -0.5, 2.0, 3.0, -1.0, -2.0, 1.5, 0.0, 1.0]


def encode(v):
    # JSON has no inf/nan/-0.0: keep them as text.
    if math.isnan(v) or math.isinf(v) or (v == 0.0 and math.copysign(1.0, v) < 0):
        return repr(v)
    return v


def main():
    rows = []
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor(VALUES, dtype=dtype)
        for e in EXPONENTS:
            rows.append(
                {
                    "dtype": str(dtype).removeprefix("torch."),
                    "exponent": e,
                    "x": [encode(v) for v in VALUES],
                    "out": [encode(v) for v in (x**e).tolist()],
                }
            )
    out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "pow_special.json"
    out.write_text(json.dumps({"torch": torch.__version__, "cases": rows}, indent=1) + "\n")
    print(f"{len(rows)} cases -> {out}")


if __name__ == "__main__":
    main()
