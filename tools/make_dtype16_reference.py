"""Reference data for tests/test_dtypes_reduced.py, made with real PyTorch:

    /work/torchenv/bin/python tools/make_dtype16_reference.py

Writes tests/data/dtype16_reference.json (promotion table, result_type with Python numbers
and 0-dim tensors, conversion bits, op results on float16/bfloat16, reprs, a bf16 autocast
MLP step) and tests/data/dtype16_checkpoint.pt (a small checkpoint of every 8/16-bit dtype).
"""

import json
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
NAMES = [
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
]
DT = {n: getattr(torch, n) for n in NAMES}


def name(d):
    return str(d).replace("torch.", "")


def bits(t):
    """The raw bits of a 16-bit float tensor as a list of ints."""
    return t.contiguous().view(torch.int16).to(torch.int32).bitwise_and(0xFFFF).tolist()


def main():
    ref = {}
    ref["promote"] = {a: {b: name(torch.promote_types(DT[a], DT[b])) for b in NAMES} for a in NAMES}
    scalars = {"int": 3, "float": 2.5, "bool": True}
    rt = {}
    for a in NAMES:
        x = torch.ones(2, dtype=DT[a])
        z = torch.ones((), dtype=DT[a])
        for sname, s in scalars.items():
            rt[f"{a}|{sname}"] = name(torch.result_type(x, s))
            rt[f"0d:{a}|{sname}"] = name(torch.result_type(z, s))
        for b in NAMES:
            rt[f"{a}|0d:{b}"] = name(torch.result_type(x, torch.ones((), dtype=DT[b])))
    ref["result_type"] = rt

    # Conversions float32 -> float16/bfloat16: rounding to nearest even, overflow, subnormals.
    rng = np.random.default_rng(0)
    vals = np.concatenate(
        [
            rng.standard_normal(200).astype(np.float32) * 100,
            np.array(
                [
                    0.0,
                    -0.0,
                    1.0,
                    65504.0,
                    65519.0,
                    65520.0,
                    1e6,
                    -1e6,
                    6e-8,
                    3e-8,
                    1e-5,
                    5.96e-8,
                    1.0 + 2**-11,
                    1.0 + 3 * 2**-11,
                    1.0 + 2**-8,
                    1.0 + 3 * 2**-8,
                    3.4e38,
                    1e-40,
                    float("inf"),
                    float("-inf"),
                    float("nan"),
                ],
                dtype=np.float32,
            ),
        ]
    )
    src = torch.from_numpy(vals)
    ref["convert_src"] = [float(v) if np.isfinite(v) else str(v) for v in vals]
    ref["convert_f16"] = bits(src.half())
    ref["convert_bf16"] = bits(src.bfloat16())
    ref["convert_src_bits"] = vals.view(np.uint32).tolist()
    # float64 -> 16-bit goes through float32 (double rounding) in PyTorch
    d64 = torch.tensor(
        [1.0 + 2**-11 + 2**-40, 1.0 + 2**-8 + 2**-40, 0.1, 1 / 3], dtype=torch.float64
    )
    ref["convert64_src"] = d64.tolist()
    ref["convert64_f16"] = bits(d64.half())
    ref["convert64_bf16"] = bits(d64.bfloat16())
    f2i = torch.tensor([-3.7, -1.0, 0.5, 127.9, 200.5, 255.0, 300.0, -129.0], dtype=torch.float32)
    ref["f2i_src"] = f2i.tolist()
    ref["f2i"] = {n: f2i.to(DT[n]).tolist() for n in ("uint8", "int8", "int16")}

    # Ops on float16/bfloat16 (inputs given as bits).
    g = torch.Generator().manual_seed(1)
    a32 = torch.randn(6, 8, generator=g)
    b32 = torch.randn(8, 5, generator=g)
    c32 = torch.randn(6, 8, generator=g).abs() + 0.1
    ops = {}
    for dn in ("float16", "bfloat16"):
        d = DT[dn]
        a, b, c = a32.to(d), b32.to(d), c32.to(d)
        ops[dn] = {
            "a": bits(a),
            "b": bits(b),
            "c": bits(c),
            "add": bits(a + c),
            "mul": bits(a * c),
            "div": bits(a / c),
            "sub_scalar": bits(a - 0.3),
            "add_scalar": bits(a + 0.1),
            "mul_scalar": bits(a * 0.3),
            "div_scalar": bits(a / 0.3),
            "rdiv_scalar": bits(0.3 / c),
            "rsub_scalar": bits(0.3 - a),
            "floordiv_scalar": bits(a // 0.3),
            "lt_scalar": (a < 0.1).tolist(),
            "pow2": bits(a**2),
            "exp": bits(a.exp()),
            "log": bits(c.log()),
            "sqrt": bits(c.sqrt()),
            "tanh": bits(a.tanh()),
            "sigmoid": bits(a.sigmoid()),
            "gelu": bits(torch.nn.functional.gelu(a)),
            "relu": bits(a.relu()),
            "sum": bits(a.sum()),
            "sum0": bits(a.sum(0)),
            "mean1": bits(a.mean(1)),
            "var1": bits(a.var(1)),
            "amax1": bits(a.amax(1)),
            "softmax1": bits(a.softmax(1)),
            "log_softmax1": bits(a.log_softmax(1)),
            "cumsum1": bits(a.cumsum(1)),
            "mm": bits(a @ b),
            "layer_norm": bits(torch.nn.functional.layer_norm(a, (8,))),
            "norm": bits(a.norm()),
        }
    ref["ops"] = ops

    ints = {}
    for n in ("uint8", "int8", "int16"):
        x = torch.tensor([0, 1, 100, 127, -5 if n != "uint8" else 200], dtype=DT[n])
        y = torch.tensor([3, 7, 100, 2, 9], dtype=DT[n])
        ints[n] = {
            "x": x.tolist(),
            "y": y.tolist(),
            "add": (x + y).tolist(),
            "mul": (x * y).tolist(),
            "sub": (x - y).tolist(),
            "floordiv": (x // y).tolist(),
            "rem": (x % y).tolist(),
            "add_scalar": (x + 200).tolist(),
            "add_scalar_dtype": name((x + 200).dtype),
            "true_div": (x / y).tolist(),
            "sum": x.sum().item(),
            "sum_dtype": name(x.sum().dtype),
            "neg": (-x).tolist(),
        }
    ref["ints"] = ints

    reprs = {}
    samples = {
        "f16": torch.tensor([1.0, 2.0], dtype=torch.float16),
        "f16b": torch.tensor([1.1, -2.5, 1000.0], dtype=torch.float16),
        "bf16": torch.tensor([1.1, 2.7], dtype=torch.bfloat16),
        "bf16b": torch.tensor([[3.14159, -0.001], [1e10, 2.0]], dtype=torch.bfloat16),
        "u8": torch.tensor([1, 2, 255], dtype=torch.uint8),
        "i8": torch.tensor([-128, 5], dtype=torch.int8),
        "i16": torch.tensor([[1, -300]], dtype=torch.int16),
        "f16_0d": torch.tensor(0.5, dtype=torch.float16),
        "bf16_empty": torch.zeros(0, dtype=torch.bfloat16),
    }
    for k, t in samples.items():
        reprs[k] = {"repr": repr(t), "values": t.float().tolist(), "dtype": name(t.dtype)}
    ref["reprs"] = reprs

    # A small MLP forward + backward under CPU bf16 autocast.
    torch.manual_seed(0)
    x = torch.randn(4, 6)
    w1, b1 = torch.randn(8, 6) * 0.3, torch.randn(8) * 0.1
    w2, b2 = torch.randn(3, 8) * 0.3, torch.randn(3) * 0.1
    tgt = torch.tensor([0, 2, 1, 1])
    params = [p.clone().requires_grad_() for p in (w1, b1, w2, b2)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = torch.nn.functional.linear(x, params[0], params[1]).relu()
        logits = torch.nn.functional.linear(h, params[2], params[3])
        loss = torch.nn.functional.cross_entropy(logits, tgt)
    loss.backward()
    ref["autocast_mlp"] = {
        "x": x.tolist(),
        "params": [p.detach().tolist() for p in params],
        "target": tgt.tolist(),
        "h_dtype": name(h.dtype),
        "logits_dtype": name(logits.dtype),
        "loss_dtype": name(loss.dtype),
        "logits": logits.float().tolist(),
        "loss": loss.item(),
        "grads": [p.grad.tolist() for p in params],
        "grad_dtypes": [name(p.grad.dtype) for p in params],
    }

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "dtype16_reference.json").write_text(json.dumps(ref))
    ck = {
        "f16": torch.tensor([1.5, -2.25, 65504.0, 6e-8], dtype=torch.float16),
        "bf16": torch.tensor([[1.1, -3.0e38], [1e-39, 7.0]], dtype=torch.bfloat16),
        "u8": torch.arange(0, 256, 51, dtype=torch.uint8),
        "i8": torch.tensor([-128, -1, 0, 127], dtype=torch.int8),
        "i16": torch.tensor([-32768, 1234, 32767], dtype=torch.int16),
        "f16_view": torch.arange(12, dtype=torch.float16).reshape(3, 4)[:, 1],
    }
    torch.save(ck, OUT / "dtype16_checkpoint.pt")
    expect = {
        k: {
            "dtype": name(v.dtype),
            "shape": list(v.shape),
            "bits": bits(v) if v.dtype in (torch.float16, torch.bfloat16) else v.tolist(),
        }
        for k, v in ck.items()
    }
    (OUT / "dtype16_checkpoint.json").write_text(json.dumps(expect))


if __name__ == "__main__":
    main()
