"""The parts of compare.py's two RNN training steps (LSTM(64, 128) or GRU(64, 128) with
batch_first, batch 32, 32 steps, Linear(128, 10) on the last step, cross entropy, Adam), one
row each at the step's shapes: the layer's training forward, its backward (BPTT, to the
weights, with the gradient the step sends: the last step's only), the Linear with the loss,
the Adam step, the whole step at batch 1 (its fixed cost), and the GEMMs the layer is made
of, as plain matmuls (the input projection of all steps, the 32 per-step hidden products).
Run through compare.py, which times rgrad and PyTorch interleaved:

    python benches/compare.py --suite rnn-parts --torch-python /work/torchenv/bin/python \\
        --torch-threads 2 --no-numpy [-k LSTM]

Run directly, it prints cProfile's Python call count per step and, with --torch,
torch.profiler's self-CPU split of one step by op (PyTorch's LSTM runs as oneDNN's
`mkldnn_rnn_layer`, its GRU as per-step ATen ops):

    python benches/rnn_parts.py
    /work/torchenv/bin/python benches/rnn_parts.py --torch [--threads 2]
"""

from __future__ import annotations

import argparse

from cnn_parts import run_steps
from compare import Case, rnn_case

B, T, IN, H = 32, 32, 64, 128
GATES = {"LSTM": 4, "GRU": 3}


def part_cases(cell: str) -> list[Case]:
    step = rnn_case(cell)
    g = GATES[cell] * H
    layer = "\n".join(
        [
            "torch.manual_seed(0); F = torch.nn.functional",
            f"rnn = torch.nn.{cell}({IN}, {H}, batch_first=True)",
            f"x = torch.randn({B}, {T}, {IN})",
        ]
    )
    # The step's backward reaches the layer as the gradient of out[:, -1] only.
    bwd = (
        layer
        + "\nout, _ = rnn(x)\ngout = torch.zeros_like(out)"
        + f"\ngout[:, -1] = torch.randn({B}, {H})\nparams = list(rnn.parameters())"
    )
    fwd_flops = 2 * T * B * (IN + H) * g
    return [
        step,
        Case(
            name=f"{cell}: layer forward (training, weights need grad)",
            setup=layer,
            stmt="rnn(x)",
            flops=fwd_flops,
        ),
        Case(
            name=f"{cell}: layer backward to the weights (BPTT)",
            setup=bwd,
            stmt="torch.autograd.grad(out, params, gout, retain_graph=True)",
            flops=2 * fwd_flops,
        ),
        Case(
            name=f"{cell}: Linear(128, 10) + cross entropy fwd+bwd, batch 32",
            setup="torch.manual_seed(0); F = torch.nn.functional\n"
            + "fc = torch.nn.Linear(128, 10); y = torch.randint(0, 10, (32,))\n"
            + f"h = torch.randn({B}, {H}, requires_grad=True)",
            stmt="h.grad = None; F.cross_entropy(fc(h), y).backward()",
        ),
        Case(
            name=f"{cell}: Adam step (4 + 2 tensors)",
            setup=step.setup + "\nstep()",
            stmt="opt.step()",
        ),
        Case(
            name=f"{cell}: whole step at batch 1, 32 steps",
            setup=step.setup.replace("torch.randn(32, 32, 64)", "torch.randn(1, 32, 64)").replace(
                "torch.randint(0, 10, (32,))", "torch.randint(0, 10, (1,))"
            )
            + "\nfor group in opt.param_groups: group['lr'] = 0.0",  # cnn_parts.batch1_case
            stmt="step()",
        ),
        Case(
            name=f"{cell}: input projection [{B * T}, {IN}] x [{IN}, {g}] matmul",
            setup=f"torch.manual_seed(0); a = torch.randn({B * T}, {IN}); "
            + f"w = torch.randn({IN}, {g})",
            stmt="a @ w",
            flops=2 * B * T * IN * g,
        ),
        Case(
            name=f"{cell}: {T} hidden products [{B}, {H}] x [{H}, {g}] (a Python loop)",
            setup=f"torch.manual_seed(0); a = torch.randn({B}, {H}); w = torch.randn({H}, {g})",
            stmt=f"for _ in range({T}): a @ w",
            flops=2 * T * B * H * g,
        ),
    ]


CASES = part_cases("LSTM") + part_cases("GRU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", action="store_true", help="PyTorch instead of rgrad")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (PyTorch only)")
    args = parser.parse_args()
    run_steps([rnn_case("LSTM"), rnn_case("GRU")], args.torch, args.threads)


if __name__ == "__main__":
    main()
