"""The non-convolution parts of compare.py's CNN training steps (LeNet-5, the blitz CIFAR net,
the ResNet basic block, the DCGAN generator), one row each at the step's shapes: ReLU,
max-pooling, BatchNorm2d, the Linear head with its loss, the loss of the conv nets without a
head, the optimizer step, each forward+backward where it has one; and each step
at batch 1 (its fixed cost: Python, module calls and per-op dispatch). benches/conv_parts.py
has the convolutions. Run through compare.py, which times rgrad and PyTorch interleaved:

    python benches/compare.py --suite cnn-parts --torch-python /work/torchenv/bin/python \\
        --torch-threads 2 --no-numpy [-k LeNet]

Run directly, it prints per step the Python calls cProfile sees (rgrad, or PyTorch with
--torch) and, with --torch, torch.profiler's self-CPU split of one step by op:

    python benches/cnn_parts.py                                   # rgrad's call counts
    /work/torchenv/bin/python benches/cnn_parts.py --torch [--threads 2]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats

from compare import CNN_CASES, Case

GRAD = "torch.manual_seed(0); F = torch.nn.functional\n"


def fwd_bwd(name: str, shape: tuple[int, ...], expr: str, setup: str = "") -> Case:
    """`expr` (in `a`, a leaf of `shape`) forward and backward with a fixed output gradient."""
    dims = ", ".join(map(str, shape))
    return Case(
        name=name,
        setup=GRAD
        + setup
        + f"\na = torch.randn({dims}, requires_grad=True)\ng = torch.randn_like({expr}.detach())",
        stmt=f"a.grad = None; ({expr}).backward(g)",
    )


def head_case(name: str, sizes: tuple[int, ...], batch: int) -> Case:
    """Flattened features through Linear+ReLU layers and cross entropy, forward+backward."""
    layers = []
    for i, (m, n) in enumerate(zip(sizes, sizes[1:])):
        layers.append(f"torch.nn.Linear({m}, {n})")
        if i < len(sizes) - 2:
            layers.append("torch.nn.ReLU()")
    return Case(
        name=name,
        setup=GRAD
        + f"head = torch.nn.Sequential({', '.join(layers)})\n"
        + f"a = torch.randn({batch}, {sizes[0]}, requires_grad=True)\n"
        + f"y = torch.randint(0, {sizes[-1]}, ({batch},))",
        stmt="a.grad = None; F.cross_entropy(head(a), y).backward()",
    )


def optim_cases(label: str, step: Case) -> list[Case]:
    """The optimizer step of a compare.py step's model, its gradients present."""
    return [Case(name=f"{label}: optimizer step", setup=step.setup + "\nstep()", stmt="opt.step()")]


def batch1_case(label: str, step: Case, old: str, new: str) -> Case:
    """The step with its batch cut to one sample: what a step costs besides its arithmetic.
    The learning rate is 0, so the weights stay put: trained over and over on one sample, the
    gradients and momentum buffers sink into denormal floats, whose arithmetic is many times
    slower (the SGD step then took half of rgrad's batch-1 LeNet step)."""
    assert old in step.setup, old
    return Case(
        name=f"{label}: whole step at batch 1",
        setup=step.setup.replace(old, new) + "\nfor group in opt.param_groups: group['lr'] = 0.0",
        stmt="step()",
    )


LENET, BLITZ, RESNET, DCGAN = CNN_CASES


def part_cases() -> list[Case]:
    cases: list[Case] = [LENET]
    # LeNet: conv1 out [64, 6, 28, 28], conv2 out [64, 16, 10, 10].
    cases += [
        fwd_bwd(
            "LeNet: relu + max_pool2d 2 on 64x6x28x28",
            (64, 6, 28, 28),
            "F.max_pool2d(F.relu(a), 2)",
        ),
        fwd_bwd(
            "LeNet: relu + max_pool2d 2 on 64x16x10x10",
            (64, 16, 10, 10),
            "F.max_pool2d(F.relu(a), 2)",
        ),
        head_case("LeNet: Linear 400-120-84-10 + cross entropy, batch 64", (400, 120, 84, 10), 64),
        *optim_cases("LeNet", LENET),
        batch1_case(
            "LeNet",
            LENET,
            "(64, 1, 28, 28); y = torch.randint(0, 10, (64,))",
            "(1, 1, 28, 28); y = torch.randint(0, 10, (1,))",
        ),
    ]
    cases += [BLITZ]
    cases += [
        fwd_bwd(
            "CIFAR: relu + max_pool2d 2 on 32x6x28x28",
            (32, 6, 28, 28),
            "F.max_pool2d(F.relu(a), 2)",
        ),
        fwd_bwd(
            "CIFAR: relu + max_pool2d 2 on 32x16x10x10",
            (32, 16, 10, 10),
            "F.max_pool2d(F.relu(a), 2)",
        ),
        head_case("CIFAR: Linear 400-120-84-10 + cross entropy, batch 32", (400, 120, 84, 10), 32),
        *optim_cases("CIFAR", BLITZ),
        batch1_case(
            "CIFAR",
            BLITZ,
            "(32, 3, 32, 32); y = torch.randint(0, 10, (32,))",
            "(1, 3, 32, 32); y = torch.randint(0, 10, (1,))",
        ),
    ]
    cases += [RESNET]
    bn64 = "bn = torch.nn.BatchNorm2d(64)"
    cases += [
        fwd_bwd("ResNet: BatchNorm2d(64) train on 32x64x16x16", (32, 64, 16, 16), "bn(a)", bn64),
        fwd_bwd("ResNet: relu on 32x64x16x16", (32, 64, 16, 16), "torch.relu(a)"),
        fwd_bwd(
            "ResNet: relu(a + x) on 32x64x16x16",
            (32, 64, 16, 16),
            "torch.relu(a + x)",
            "x = torch.randn(32, 64, 16, 16)",
        ),
        Case(
            name="ResNet: out.pow(2).mean() fwd+bwd on 32x64x16x16",
            setup=GRAD + "a = torch.randn(32, 64, 16, 16, requires_grad=True)",
            stmt="a.grad = None; a.pow(2).mean().backward()",
        ),
        *optim_cases("ResNet", RESNET),
        batch1_case("ResNet", RESNET, "torch.randn(32, 64, 16, 16)", "torch.randn(1, 64, 16, 16)"),
    ]
    cases += [DCGAN]
    bn32 = "bn = torch.nn.BatchNorm2d(32)"
    cases += [
        fwd_bwd(
            "DCGAN: BatchNorm2d(32) train + relu on 32x32x14x14",
            (32, 32, 14, 14),
            "torch.relu(bn(a))",
            bn32,
        ),
        Case(
            name="DCGAN: tanh + mse_loss fwd+bwd on 32x1x28x28",
            setup=GRAD
            + "a = torch.randn(32, 1, 28, 28, requires_grad=True)\n"
            + "y = torch.rand(32, 1, 28, 28) * 2 - 1",
            stmt="a.grad = None; F.mse_loss(torch.tanh(a), y).backward()",
        ),
        *optim_cases("DCGAN", DCGAN),
        batch1_case(
            "DCGAN",
            DCGAN,
            "torch.randn(32, 64, 7, 7); y = torch.rand(32, 1, 28, 28)",
            "torch.randn(1, 64, 7, 7); y = torch.rand(1, 1, 28, 28)",
        ),
    ]
    return cases


CASES = part_cases()


def call_counts(step) -> tuple[int, int]:
    """(Python-level calls, distinct functions) cProfile sees in one call of `step`."""
    prof = cProfile.Profile()
    prof.enable()
    step()
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    return sum(v[1] for v in stats.stats.values()), len(stats.stats)


def torch_split(torch, step, rows: int = 14) -> None:
    """torch.profiler's self-CPU time of one step (after warm-up), by op, largest first."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(10):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def run_steps(cases: list[Case], use_torch: bool, threads: int | None) -> None:
    if use_torch:
        import torch

        if threads:
            torch.set_num_threads(threads)
    else:
        import rgrad as torch
    for case in cases:
        env = {"torch": torch}
        exec(case.setup, env)
        step = env["step"]
        step()
        calls, funcs = call_counts(step)
        print(f"{case.name}: {calls} Python calls per step ({funcs} distinct functions)")
        if use_torch:
            torch_split(torch, step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", action="store_true", help="PyTorch instead of rgrad")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (PyTorch only)")
    parser.add_argument("-k", help="only the steps whose name contains this")
    args = parser.parse_args()
    steps = [c for c in CNN_CASES if not args.k or args.k.lower() in c.name.lower()]
    run_steps(steps, args.torch, args.threads)


if __name__ == "__main__":
    main()
