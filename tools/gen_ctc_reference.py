"""Writes tests/data/ctc_loss.json: PyTorch's ctc_loss values and gradients for
tests/test_ctc_loss.py (the tests never import torch).

Each case holds logits ``x`` (T, N, C) or (T, C), targets, lengths and options; the reference
is ``ctc_loss(log_softmax(x), ...)``, the gradient of ``(out * cot).sum()`` with respect to
``x`` and to the log probabilities themselves (PyTorch's gradient formula, which assumes
log_softmax outputs), in the case's dtype.

Usage: /work/torchenv/bin/python tools/gen_ctc_reference.py
"""

import json
import math
import pathlib

import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "ctc_loss.json"


def num(v):
    """JSON has no infinities or NaN: they are written as strings."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def nums(t):
    flat = t.detach().double().reshape(-1).tolist()
    return {"shape": list(t.shape), "data": [num(v) for v in flat]}


def case(
    name,
    gen,
    t,
    n,
    c,
    tlen,
    ilen,
    *,
    blank=0,
    reduction="mean",
    zero_infinity=False,
    fmt="padded",
    dtype="float64",
    targets=None,
    smax=None,
):
    dt = getattr(torch, dtype)
    unbatched = fmt == "unbatched"
    x = torch.randn(t, c, generator=gen) if unbatched else torch.randn(t, n, c, generator=gen)
    x = x.to(dt).requires_grad_()
    if targets is None:
        smax = max(tlen + [0]) if smax is None else smax
        labels = [c_ for c_ in range(c) if c_ != blank]
        rows = [
            [labels[int(v)] for v in torch.randint(len(labels), (smax,), generator=gen)]
            for _ in range(n)
        ]
    else:
        rows = targets
    if fmt == "concat":
        tg = torch.tensor([v for r, k in zip(rows, tlen) for v in r[:k]], dtype=torch.long)
    elif unbatched:
        tg = torch.tensor(rows[0][: tlen[0]], dtype=torch.long)
    else:
        tg = torch.tensor(rows, dtype=torch.long).reshape(n, -1)
    lp = F.log_softmax(x, -1)
    lp.retain_grad()
    out = F.ctc_loss(
        lp, tg, ilen, tlen, blank=blank, reduction=reduction, zero_infinity=zero_infinity
    )
    cot = torch.rand(out.shape, generator=gen).to(dt) + 0.5
    (out * cot).sum().backward()
    return {
        "name": name,
        "dtype": dtype,
        "format": fmt,
        "blank": blank,
        "reduction": reduction,
        "zero_infinity": zero_infinity,
        "x": nums(x),
        "targets": {"shape": list(tg.shape), "data": tg.reshape(-1).tolist()},
        "input_lengths": ilen,
        "target_lengths": tlen,
        "cot": nums(cot),
        "out": nums(out),
        "grad_x": nums(x.grad),
        "grad_lp": nums(lp.grad),
    }


def main():
    gen = torch.Generator().manual_seed(1216)
    cases = []
    for red in ("none", "sum", "mean"):
        cases.append(case(f"basic_{red}", gen, 7, 3, 5, [3, 2, 4], [7, 6, 7], reduction=red))
    cases.append(case("blank_last", gen, 6, 2, 4, [2, 3], [6, 5], blank=3, reduction="none"))
    cases.append(case("blank_middle", gen, 6, 2, 5, [3, 1], [6, 4], blank=2, reduction="sum"))
    cases.append(
        case(
            "repeats",
            gen,
            8,
            3,
            4,
            [4, 3, 2],
            [8, 8, 5],
            reduction="none",
            targets=[[1, 1, 2, 2], [3, 3, 3, 0], [2, 2, 0, 0]],
        )
    )
    cases.append(case("empty_targets", gen, 5, 3, 4, [0, 2, 0], [5, 5, 3], reduction="none"))
    cases.append(case("empty_targets_mean", gen, 5, 2, 4, [0, 2], [5, 5]))
    for zi in (False, True):
        cases.append(
            case(
                f"infeasible_zi{int(zi)}",
                gen,
                6,
                3,
                4,
                [3, 2, 4],
                [4, 6, 3],
                reduction="none",
                zero_infinity=zi,
                targets=[[1, 1, 1, 0], [2, 3, 0, 0], [1, 2, 3, 1]],
            )
        )
        cases.append(
            case(
                f"infeasible_mean_zi{int(zi)}",
                gen,
                6,
                2,
                4,
                [3, 2],
                [4, 6],
                zero_infinity=zi,
                targets=[[1, 1, 1], [2, 3, 0]],
            )
        )
    cases.append(case("input_length_zero", gen, 4, 3, 3, [0, 1, 0], [0, 0, 4], reduction="none"))
    cases.append(
        case("concat_none", gen, 7, 3, 5, [3, 0, 4], [7, 5, 6], fmt="concat", reduction="none")
    )
    cases.append(case("concat_mean", gen, 7, 3, 5, [2, 1, 3], [7, 5, 6], fmt="concat"))
    cases.append(case("padded_wider", gen, 6, 2, 4, [2, 1], [6, 6], smax=5, reduction="sum"))
    cases.append(
        case(
            "target_is_blank",
            gen,
            6,
            2,
            4,
            [2, 2],
            [6, 6],
            reduction="none",
            targets=[[0, 1], [2, 0]],
        )
    )
    cases.append(case("unbatched_none", gen, 6, 1, 4, [3], [6], fmt="unbatched", reduction="none"))
    cases.append(case("unbatched_mean", gen, 6, 1, 4, [2], [5], fmt="unbatched"))
    # Large enough for the kernels' parallel path (batch x time x states >= 2^14).
    cases.append(
        case(
            "parallel",
            gen,
            32,
            16,
            5,
            [16] + [int(v) for v in torch.randint(0, 17, (15,), generator=gen)],
            [32] + [int(v) for v in torch.randint(20, 33, (15,), generator=gen)],
            reduction="none",
        )
    )
    cases.append(
        case(
            "f32_none", gen, 9, 4, 6, [4, 3, 0, 5], [9, 8, 4, 9], reduction="none", dtype="float32"
        )
    )
    cases.append(
        case("f32_mean_zi", gen, 6, 3, 4, [3, 2, 4], [6, 6, 3], zero_infinity=True, dtype="float32")
    )
    cases.append(
        case(
            "f32_parallel",
            gen,
            32,
            16,
            5,
            [16] + [int(v) for v in torch.randint(0, 17, (15,), generator=gen)],
            [32] + [int(v) for v in torch.randint(20, 33, (15,), generator=gen)],
            reduction="sum",
            dtype="float32",
        )
    )
    OUT.write_text(json.dumps({"torch": torch.__version__, "cases": cases}, separators=(",", ":")))
    print(f"wrote {len(cases)} cases to {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
