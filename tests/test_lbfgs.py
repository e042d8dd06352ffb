"""optim.LBFGS against PyTorch's trajectories (tests/data/lbfgs.*, made by
tools/make_reference_lbfgs.py): plain steps and the strong-Wolfe line search, short
histories, gradient/change tolerances and evaluation budgets, in float64."""

import json
import pathlib

import numpy as np
import pytest

import rgrad

DATA = pathlib.Path(__file__).parent / "data"
CASES = json.loads((DATA / "lbfgs.json").read_text())["cases"]
with np.load(DATA / "lbfgs.npz") as _f:
    ARRAYS = {k: _f[k] for k in _f.files}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_trajectory_matches_pytorch(case):
    arr = lambda k: ARRAYS[f"{case['name']}/{k}"]  # noqa: E731
    x = rgrad.tensor(arr("x0"), requires_grad=True)
    A, b = rgrad.tensor(arr("A")), rgrad.tensor(arr("b"))
    opt = rgrad.optim.LBFGS([x], **case["kwargs"])

    def closure():
        opt.zero_grad()
        loss = eval(case["problem"], {"torch": rgrad, "x": x, "A": A, "b": b})
        loss.backward()
        return loss

    for step in range(case["steps"]):
        loss = float(opt.step(closure))
        np.testing.assert_allclose(loss, arr("loss")[step], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(x.detach().numpy(), arr("x")[step], rtol=1e-7, atol=1e-9)


def test_converges_and_counts_evaluations():
    x = rgrad.tensor([-1.2, 1.0], dtype=rgrad.float64, requires_grad=True)
    opt = rgrad.optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=100)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    opt.step(closure)
    # PyTorch 2.15 stops at the same point after 35 iterations and 43 evaluations.
    want = [0.9999814210791366, 0.9999619651810989]
    np.testing.assert_allclose(x.detach().numpy(), want, rtol=1e-9)
    assert opt.state[x]["func_evals"] == len(calls) == 43 and opt.state[x]["n_iter"] == 35


def test_argument_errors():
    p = rgrad.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        rgrad.optim.LBFGS([p], lr=-1)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        rgrad.optim.LBFGS([{"params": [p]}, {"params": [rgrad.zeros(1, requires_grad=True)]}])
    opt = rgrad.optim.LBFGS([p], line_search_fn="armijo")

    def closure():
        opt.zero_grad()
        loss = ((p - 1) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
