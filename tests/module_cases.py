"""PyTorch's module cases (tests/data/modules_*.json + .npz, copied from the shared
conformance files): build the module, load PyTorch's state_dict strictly, run the call, and
compare outputs, input and parameter gradients and the buffers after the call. Shared by the
CNN, normalization, resampling and recurrent test files."""

import json
import pathlib

import numpy as np

import rgrad
import rgrad.nn as nn

DATA = pathlib.Path(__file__).parent / "data"


def load(family):
    """The cases and arrays of tests/data/modules_<family>.*"""
    cases = json.loads((DATA / f"modules_{family}.json").read_text())["cases"]
    with np.load(DATA / f"modules_{family}.npz") as f:
        arrays = {k: f[k] for k in f.files}
    return cases, arrays


def host(t):
    return t.detach().cpu().numpy()


def flatten(out):
    """The call's tensors in order, as the reference flattened them: nested tuples depth
    first; a PackedSequence by its data."""
    if hasattr(out, "batch_sizes") and hasattr(out, "data"):
        return [out.data]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flatten(o)]
    return [out]


def run(case, arrays, dtype, tol, device="cpu"):
    name = case["name"]
    arr = lambda key: arrays[f"{name}/{key}"]  # noqa: E731
    close = lambda got, want: np.testing.assert_allclose(host(got), want, rtol=tol, atol=tol)  # noqa: E731
    m = eval(case["ctor"], {"nn": nn, "torch": rgrad}).to(dtype).to(device)
    state = {}
    for k in case["state"]:
        a = arr(f"state/{k}")  # num_batches_tracked stays int64
        state[k] = rgrad.tensor(a, dtype=rgrad.int64 if a.dtype.kind == "i" else dtype)
    m.load_state_dict(state, strict=True)
    if case["mode"] == "eval_after_train":
        m.eval()
    inputs = {}
    for k, kind in case["inputs"].items():
        if kind == "int64":  # lengths stay on the CPU, as PyTorch wants them
            inputs[k] = rgrad.tensor(arr(f"in/{k}"))
            continue
        if kind == "bool":  # attention masks keep their meaning (True = masked out)
            inputs[k] = rgrad.tensor(arr(f"in/{k}"), device=device)
            continue
        t = rgrad.tensor(arr(f"in/{k}"), dtype=dtype, device=device)
        inputs[k] = t.requires_grad_(k in case["grads"])
    outs = flatten(eval(case["call"], {"m": m, "torch": rgrad, **inputs}))
    if "outputs" in case:
        assert len(outs) == case["outputs"]
    loss = 0
    for i, o in enumerate(outs):
        assert str(o.device).startswith(device)
        want = arr(f"out/{i}")
        if want.dtype.kind in "iu":  # pooling indices: exact, and no gradient
            np.testing.assert_array_equal(host(o), want)
            continue
        close(o, want)
        loss = loss + (o * rgrad.tensor(arr(f"cot/{i}"), dtype=dtype, device=device)).sum()
    loss.backward()
    for k in case["grads"]:
        if inputs[k].grad is None:  # an input the call does not read: PyTorch's zeros
            assert not arr(f"grad/in/{k}").any()
        else:
            close(inputs[k].grad, arr(f"grad/in/{k}"))
    params = dict(m.named_parameters())
    for k in case["params"]:
        close(params[k].grad, arr(f"grad/param/{k}"))
    buffers = dict(m.named_buffers())
    for k in case.get("buffers", []):
        want = arr(f"buffer_after/{k}")
        if want.dtype.kind == "i":
            assert buffers[k].dtype == rgrad.int64
            assert host(buffers[k]).tolist() == want.tolist()
        else:
            close(buffers[k], want)
