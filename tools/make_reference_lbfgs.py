"""Writes tests/data/lbfgs.json + lbfgs.npz: PyTorch's L-BFGS trajectories (float64).

Run with PyTorch's interpreter: /work/torchenv/bin/python tools/make_reference_lbfgs.py
Each case minimises `problem` from `x0` with `LBFGS(**kwargs)`; the npz holds the
parameters after every `step(closure)` and the loss each step returned."""

import json
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"

PROBLEMS = {
    # Rosenbrock in 2-D and 6-D, and a least-squares fit with an L2 term.
    "rosenbrock": "((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()",
    "quadratic": "((A @ x - b) ** 2).sum() + 0.1 * (x ** 2).sum()",
    "logcosh": "torch.log(torch.cosh(A @ x - b)).sum()",
}

CASES = [
    ("rosenbrock_plain", "rosenbrock", 2, {"lr": 1, "max_iter": 20}, 5),
    (
        "rosenbrock_wolfe",
        "rosenbrock",
        6,
        {"lr": 1, "max_iter": 20, "line_search_fn": "strong_wolfe"},
        4,
    ),
    (
        "rosenbrock_wolfe_hist3",
        "rosenbrock",
        2,
        {"history_size": 3, "max_iter": 10, "line_search_fn": "strong_wolfe"},
        4,
    ),
    ("quadratic_plain_lr", "quadratic", 5, {"lr": 0.5, "max_iter": 7, "history_size": 4}, 4),
    (
        "quadratic_wolfe_tol",
        "quadratic",
        5,
        {"line_search_fn": "strong_wolfe", "tolerance_grad": 1e-5, "tolerance_change": 1e-7},
        3,
    ),
    (
        "logcosh_wolfe_maxeval",
        "logcosh",
        4,
        {"line_search_fn": "strong_wolfe", "max_iter": 8, "max_eval": 9},
        3,
    ),
]


def main():
    rng = np.random.default_rng(0)
    arrays, cases = {}, []
    for name, problem, n, kwargs, steps in CASES:
        x0 = rng.uniform(-1.5, 1.5, n)
        A = rng.standard_normal((n + 2, n))
        b = rng.standard_normal(n + 2)
        x = torch.tensor(x0, requires_grad=True)
        At, bt = torch.tensor(A), torch.tensor(b)
        opt = torch.optim.LBFGS([x], **kwargs)

        env = {"torch": torch, "x": x, "A": At, "b": bt}

        def closure(opt=opt, env=env, expr=PROBLEMS[problem]):
            opt.zero_grad()
            loss = eval(expr, env)
            loss.backward()
            return loss

        xs, losses = [], []
        for _ in range(steps):
            losses.append(float(opt.step(closure)))
            xs.append(x.detach().numpy().copy())
        arrays[f"{name}/x0"], arrays[f"{name}/A"], arrays[f"{name}/b"] = x0, A, b
        arrays[f"{name}/x"], arrays[f"{name}/loss"] = np.stack(xs), np.array(losses)
        cases.append({"name": name, "problem": PROBLEMS[problem], "kwargs": kwargs, "steps": steps})
    (OUT / "lbfgs.json").write_text(
        json.dumps({"reference": f"torch {torch.__version__}", "cases": cases}, indent=1) + "\n"
    )
    np.savez_compressed(OUT / "lbfgs.npz", **arrays)


if __name__ == "__main__":
    main()
