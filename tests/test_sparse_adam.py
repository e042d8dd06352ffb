"""optim.SparseAdam against PyTorch's (tests/data/sparse_adam.json, from
tools/make_reference_sparse_adam.py): the constructor's checks and messages, a step without
gradients, and PyTorch's error for the dense gradients rgrad has (it has no sparse layout, so
SparseAdam's masked update never runs; ``nn.Embedding(sparse=True)`` gives dense gradients)."""

import json
import pathlib

import numpy as np
import pytest

import rgrad

DATA = pathlib.Path(__file__).parent / "data"
CASES = json.loads((DATA / "sparse_adam.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_matches_pytorch(case):
    kwargs = dict(case["kwargs"])
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    w = rgrad.nn.Parameter(rgrad.arange(6.0).reshape(2, 3))

    def run():
        opt = rgrad.optim.SparseAdam([w], **kwargs)
        if case["grad"]:
            (w * w).sum().backward()
        return opt, opt.step(lambda: rgrad.tensor(1.5))

    if "error" in case:
        kind = {"RuntimeError": RuntimeError, "ValueError": ValueError}[case["error"]]
        with pytest.raises(kind) as e:
            run()
        assert type(e.value) is kind and str(e.value) == case["message"]
        return
    opt, loss = run()
    assert float(loss) == case["loss"]
    np.testing.assert_array_equal(w.detach().numpy(), np.array(case["w"]))
    want = dict(case["defaults"])
    got = {k: (list(v) if isinstance(v, tuple) else v) for k, v in opt.defaults.items()}
    assert got == want


def test_embedding_sparse_gradients_are_dense_so_step_raises():
    emb = rgrad.nn.Embedding(5, 3, sparse=True)
    opt = rgrad.optim.SparseAdam(emb.parameters())
    emb(rgrad.tensor([1, 3])).sum().backward()
    with pytest.raises(RuntimeError, match="does not support dense gradients"):
        opt.step()
