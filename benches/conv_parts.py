"""The convolution parts of the CNN training steps of compare.py, one row each: forward, data
gradient and weight (+ bias) gradient of every convolution those steps run, with their shapes.
Run through compare.py, which times rgrad and PyTorch interleaved:

    python benches/compare.py --suite conv-parts --torch-python /work/torchenv/bin/python \\
        --torch-threads 2 --no-numpy [-k 'dgrad']

The gradients are taken with `torch.autograd.grad` on a recorded convolution (retain_graph),
so each library runs exactly the backward its training step runs (PyTorch:
`convolution_backward` with one output mask; rgrad: its transposed convolution or its
`conv_weight` op); the autograd call itself is a few microseconds in both.
"""

from __future__ import annotations

from compare import Case

# (label, batch, in channels, out channels, kernel, stride, padding, input size, transposed)
SHAPES = [
    ("LeNet conv1 1->6 5x5 p2 on 64x28x28", 64, 1, 6, 5, 1, 2, 28, False),
    ("LeNet conv2 6->16 5x5 on 64x14x14", 64, 6, 16, 5, 1, 0, 14, False),
    ("blitz conv1 3->6 5x5 on 32x32x32", 32, 3, 6, 5, 1, 0, 32, False),
    ("blitz conv2 6->16 5x5 on 32x14x14", 32, 6, 16, 5, 1, 0, 14, False),
    ("ResNet 64->64 3x3 p1 on 32x16x16", 32, 64, 64, 3, 1, 1, 16, False),
    ("DCGAN convT 64->32 4/2/1 on 32x7x7", 32, 64, 32, 4, 2, 1, 7, True),
    ("DCGAN convT 32->1 4/2/1 on 32x14x14", 32, 32, 1, 4, 2, 1, 14, True),
    ("conv 64->64 3x3 p1 on 32x32x32", 32, 64, 64, 3, 1, 1, 32, False),
]


def part_cases() -> list[Case]:
    cases = []
    for label, n, cin, cout, k, s, p, hw, transposed in SHAPES:
        fn = "conv_transpose2d" if transposed else "conv2d"
        # PyTorch's weight layouts: [out, in, k, k], transposed [in, out, k, k].
        wshape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
        bias = "None" if transposed else f"torch.randn({cout}) * 0.1"
        common = "\n".join(
            [
                "torch.manual_seed(0)",
                "F = torch.nn.functional",
                f"x = torch.randn({n}, {cin}, {hw}, {hw})",
                f"w = torch.randn{wshape} * 0.1",
                f"b = {bias}",
                f"def conv(x, w, b): return F.{fn}(x, w, b, stride={s}, padding={p})",
            ]
        )
        cases.append(Case(name=f"{label}: forward", setup=common, stmt="conv(x, w, b)"))
        cases.append(
            Case(
                name=f"{label}: data grad",
                setup=common
                + "\nx.requires_grad_(True); y = conv(x, w, b); gy = torch.randn_like(y)",
                stmt="torch.autograd.grad(y, x, gy, retain_graph=True)",
            )
        )
        grad_of = "w" if transposed else "(w, b)"
        cases.append(
            Case(
                name=f"{label}: weight grad",
                setup=common
                + "\nw.requires_grad_(True)"
                + ("" if transposed else "; b.requires_grad_(True)")
                + "\ny = conv(x, w, b); gy = torch.randn_like(y)",
                stmt=f"torch.autograd.grad(y, {grad_of}, gy, retain_graph=True)",
            )
        )
    return cases


CASES = part_cases()
