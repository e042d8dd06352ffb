"""The README's Example 1 (forward and backward of a tiny graph) N times, for instruction
counts: ``valgrind --tool=callgrind python benches/example1_loop.py 2000`` against two builds
(subtract a run with N=0 to remove start-up); ``--op neg`` runs ``a.neg()`` instead."""

import sys

import rgrad as torch


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    op = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--op" else "example1"
    x = torch.tensor(2.0, requires_grad=True)
    y = torch.tensor(3.0, requires_grad=True)
    a = torch.ones(4)
    for _ in range(n):
        if op == "neg":
            a.neg()
        elif op == "add":
            torch.add(a, a)
        else:
            x.grad = None
            y.grad = None
            z = x * y + y**2
            z.backward()
    if op == "example1":
        assert n == 0 or (x.grad.item() == 3.0 and y.grad.item() == 8.0)


if __name__ == "__main__":
    main()
