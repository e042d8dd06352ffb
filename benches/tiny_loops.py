"""Tiny-graph loops for counting instructions with callgrind, which does not depend on the
machine's load (wall-clock figures of sub-microsecond ops do):

    valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file=out.ex1.5000 \\
        python benches/tiny_loops.py ex1 5000
    valgrind ... python benches/tiny_loops.py ex1 0      # the startup, to subtract

(instructions per iteration = (total(N) - total(0)) / N; `callgrind_annotate` splits them by
function). Cases: ex1 (the course's Example 1 forward+backward), add (0-dim add), seed (the
2-4-1 BCE + SGD training step), ce32 (cross_entropy (32, 10) fwd+bwd), bce
(binary_cross_entropy_with_logits (256, 1) fwd+bwd). PYTHONPATH selects the build.
"""

import sys

import rgrad as torch


def main(case: str, n: int) -> None:
    if case == "ex1":
        x = torch.tensor(2.0, requires_grad=True)
        y = torch.tensor(3.0, requires_grad=True)
        for _ in range(n):
            x.grad = None
            y.grad = None
            z = x * y + y**2
            z.backward()
    elif case == "add":
        a, b = torch.tensor(2.0), torch.tensor(3.0)
        for _ in range(n):
            a + b
    elif case == "seed":
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Linear(2, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 1), torch.nn.Sigmoid()
        )
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
        loss_fn = torch.nn.BCELoss()
        for _ in range(n):
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()
    elif case in ("ce32", "bce"):
        torch.manual_seed(0)
        if case == "ce32":
            logits, target = torch.randn(32, 10, requires_grad=True), torch.randint(0, 10, (32,))
            loss = torch.nn.functional.cross_entropy
        else:
            logits, target = torch.randn(256, 1, requires_grad=True), torch.rand(256, 1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits
        for _ in range(n):
            logits.grad = None
            loss(logits, target).backward()
    else:
        raise SystemExit(f"unknown case {case!r}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
