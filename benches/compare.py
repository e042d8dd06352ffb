"""Times rgrad against NumPy and, when it is importable, PyTorch, in one run.

    python benches/compare.py              # full run (~1 minute), Markdown table on stdout
    python benches/compare.py --quick      # fewer repeats, shorter runs
    python benches/compare.py --json out.json
    python benches/compare.py -k max_pool  # only the cases whose name contains the text

    python benches/compare.py -k lenet --torch-python /work/torchenv/bin/python --no-numpy
    RAYON_NUM_THREADS=1 python benches/compare.py --cpu-time --torch-threads 1 ...  # loaded box

Every case is one statement written against the PyTorch API and run with `torch` bound to
rgrad (`import rgrad`) or to PyTorch; NumPy gets the equivalent array code. Each library runs
in its own worker process (PyTorch's may be another interpreter, --torch-python), alive for
the whole run; one repeat of one library runs at a time, and the repeats of the libraries are
interleaved round by round, so a shared machine's changing load falls on all of them alike.
Each statement is timed with `timeit` (time.perf_counter_ns, the statement inlined in the
loop, so no function call is added per iteration): the loop count is calibrated so one repeat
lasts at least --min-time seconds, and the table shows the median per-iteration time over the
repeats. A case that uses an API a library lacks (Case.needs) is reported as "missing".

Ratios are speed-ups of rgrad: "3.0x" means rgrad took a third of the other library's time;
"0.5x" means it took twice as long.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import statistics
import sys
import time
import timeit
from dataclasses import asdict, dataclass, field
from typing import Any

from prob_models import REINFORCE_EPISODE, VAE_STEP  # benches/ is this script's directory

N_CHAIN = 1 << 20  # 1M elements


@dataclass
class Case:
    name: str
    setup: str  # run once; `torch` is bound to the library under test
    stmt: str  # the timed statement
    numpy_setup: str | None = None  # None: no NumPy equivalent
    numpy_stmt: str | None = None
    flops: int | None = None  # floating-point operations per statement, for GFLOP/s
    check: str | None = None  # an expression that must be true after the statement ran
    # Attributes of `torch` the case uses (dotted, e.g. "nn.MaxPool2d"): a library without one
    # of them reports the case as "missing (...)" instead of failing it.
    needs: tuple[str, ...] = ()


def matmul_case(n: int) -> Case:
    return Case(
        name=f"matmul {n}x{n} float32",
        setup=f"torch.manual_seed(0); a = torch.randn({n}, {n}); b = torch.randn({n}, {n})",
        stmt="a @ b",
        numpy_setup=(
            "rng = np.random.default_rng(0); "
            f"a = rng.standard_normal(({n}, {n}), dtype=np.float32); "
            f"b = rng.standard_normal(({n}, {n}), dtype=np.float32)"
        ),
        numpy_stmt="a @ b",
        flops=2 * n**3,
        check=f"tuple((a @ b).shape) == ({n}, {n})",
    )


def mlp_case(sizes: tuple[int, ...], batch: int) -> Case:
    """One training step (forward, cross-entropy, backward, SGD with momentum) of an MLP."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(f"torch.nn.Linear({a}, {b})")
        if i < len(sizes) - 2:
            layers.append("torch.nn.ReLU()")
    setup = "\n".join(
        [
            "torch.manual_seed(0)",
            f"model = torch.nn.Sequential({', '.join(layers)})",
            "loss_fn = torch.nn.CrossEntropyLoss()",
            "opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)",
            f"x = torch.randn({batch}, {sizes[0]}); y = torch.randint(0, {sizes[-1]}, ({batch},))",
            "def step():",
            "    opt.zero_grad()",
            "    loss = loss_fn(model(x), y)",
            "    loss.backward()",
            "    opt.step()",
            "    return loss",
        ]
    )
    return Case(
        name=f"MLP {'-'.join(map(str, sizes))} train step, batch {batch}",
        setup=setup,
        stmt="step()",
        check="step().item() > 0",
    )


def loss_case(fn: str, n: int, c: int) -> Case:
    """Forward and backward of a loss on (n, c) float32 logits: class indices for
    cross_entropy, 0/1 targets for the BCE."""
    target = (
        f"torch.randint(0, {c}, ({n},))"
        if fn == "cross_entropy"
        else f"(torch.rand({n}, {c}) > 0.5).float()"
    )
    return Case(
        name=f"{fn} forward+backward ({n}, {c})",
        setup=(
            f"torch.manual_seed(0); x = torch.randn({n}, {c}, requires_grad=True); "
            f"t = {target}; loss_fn = torch.nn.functional.{fn}"
        ),
        stmt="x.grad = None; loss_fn(x, t).backward()",
        check="loss_fn(x, t).item() > 0",
    )


SEED_NET = "\n".join(
    [
        "torch.manual_seed(0)",
        "class SimpleNN(torch.nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        "        self.fc1 = torch.nn.Linear(2, 4); self.fc2 = torch.nn.Linear(4, 1)",
        "        self.sigmoid = torch.nn.Sigmoid()",
        "    def forward(self, x):",
        "        return self.sigmoid(self.fc2(self.sigmoid(self.fc1(x))))",
        "model = SimpleNN(); criterion = torch.nn.BCELoss()",
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)",
        "X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])",
        "Y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])",
        "def step():",
        "    loss = criterion(model(X), Y)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
        "    return loss",
    ]
)


def conv_case(batch: int, channels: int, size: int) -> Case:
    """One 3x3 convolution forward (padding 1, with bias) on float32 NCHW input."""
    n, c, hw = batch, channels, size
    return Case(
        name=f"conv2d 3x3 {c}->{c} forward {n}x{c}x{hw}x{hw} float32",
        setup=(
            f"torch.manual_seed(0); x = torch.randn({n}, {c}, {hw}, {hw}); "
            f"conv = torch.nn.Conv2d({c}, {c}, 3, padding=1)"
        ),
        stmt="conv(x)",
        flops=2 * n * c * c * 9 * hw * hw,
        check=f"tuple(conv(x).shape) == ({n}, {c}, {hw}, {hw})",
    )


def train_step_case(
    name: str,
    model: str,
    batch: str,
    loss: str,
    opt: str,
    needs: tuple[str, ...] = (),
    prelude: str = "",
) -> Case:
    """One training step of `model` (an expression, after the definitions in `prelude`) on a
    fixed batch: zero_grad, forward, `loss` (an expression in `out` and `y`), backward,
    optimizer step."""
    setup = "\n".join(
        [
            prelude,
            "torch.manual_seed(0)",
            f"model = {model}",
            f"opt = {opt}",
            batch,
            "def step():",
            "    opt.zero_grad()",
            "    out = model(x)",
            f"    loss = {loss}",
            "    loss.backward()",
            "    opt.step()",
            "    return loss",
        ]
    )
    return Case(name=name, setup=setup, stmt="step()", check="step().item() > 0", needs=needs)


LENET = (
    "torch.nn.Sequential(torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), "
    "torch.nn.MaxPool2d(2), torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), "
    "torch.nn.Flatten(), torch.nn.Linear(16 * 5 * 5, 120), torch.nn.ReLU(), "
    "torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))"
)

# The CIFAR-10 net of PyTorch's 60-minute blitz, as the tutorial writes it.
BLITZ_NET = "\n".join(
    [
        "class Net(torch.nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        "        self.conv1 = torch.nn.Conv2d(3, 6, 5)",
        "        self.pool = torch.nn.MaxPool2d(2, 2)",
        "        self.conv2 = torch.nn.Conv2d(6, 16, 5)",
        "        self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)",
        "        self.fc2 = torch.nn.Linear(120, 84)",
        "        self.fc3 = torch.nn.Linear(84, 10)",
        "    def forward(self, x):",
        "        F = torch.nn.functional",
        "        x = self.pool(F.relu(self.conv1(x)))",
        "        x = self.pool(F.relu(self.conv2(x)))",
        "        x = torch.flatten(x, 1)",
        "        x = F.relu(self.fc1(x))",
        "        x = F.relu(self.fc2(x))",
        "        return self.fc3(x)",
    ]
)

RESNET_BLOCK = "\n".join(
    [
        "class BasicBlock(torch.nn.Module):",
        "    def __init__(self, c):",
        "        super().__init__()",
        "        self.conv1 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)",
        "        self.bn1 = torch.nn.BatchNorm2d(c)",
        "        self.conv2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)",
        "        self.bn2 = torch.nn.BatchNorm2d(c)",
        "    def forward(self, x):",
        "        out = torch.relu(self.bn1(self.conv1(x)))",
        "        out = self.bn2(self.conv2(out))",
        "        return torch.relu(out + x)",
    ]
)

DCGAN_GENERATOR = (
    "torch.nn.Sequential(torch.nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False), "
    "torch.nn.BatchNorm2d(32), torch.nn.ReLU(), "
    "torch.nn.ConvTranspose2d(32, 1, 4, 2, 1, bias=False), torch.nn.Tanh())"
)

SGD_MOMENTUM = "torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)"

CNN_CASES = [
    train_step_case(
        "LeNet-5 train step, batch 64x1x28x28",
        LENET,
        "x = torch.randn(64, 1, 28, 28); y = torch.randint(0, 10, (64,))",
        "torch.nn.functional.cross_entropy(out, y)",
        SGD_MOMENTUM,
        needs=("nn.MaxPool2d",),
    ),
    train_step_case(
        "blitz CIFAR net train step, batch 32x3x32x32",
        "Net()",
        "x = torch.randn(32, 3, 32, 32); y = torch.randint(0, 10, (32,))",
        "torch.nn.functional.cross_entropy(out, y)",
        "torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)",
        needs=("nn.MaxPool2d",),
        prelude=BLITZ_NET,
    ),
    train_step_case(
        "ResNet basic block train step, 32x64x16x16",
        "BasicBlock(64)",
        "x = torch.randn(32, 64, 16, 16); y = None",
        "out.pow(2).mean()",
        SGD_MOMENTUM,
        needs=("nn.BatchNorm2d",),
        prelude=RESNET_BLOCK,
    ),
    train_step_case(
        "DCGAN generator train step (Adam), 32x64x7x7",
        DCGAN_GENERATOR,
        "x = torch.randn(32, 64, 7, 7); y = torch.rand(32, 1, 28, 28) * 2 - 1",
        "torch.nn.functional.mse_loss(out, y)",
        "torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))",
        needs=("nn.BatchNorm2d",),
    ),
]


def rnn_case(cell: str) -> Case:
    """One training step of `cell`(64, 128, batch_first=True) + Linear(128, 10) on the last
    step's output: batch 32, 32 steps, cross entropy, Adam (the issue's RNN benchmark)."""
    prelude = "\n".join(
        [
            "class Net(torch.nn.Module):",
            "    def __init__(self):",
            "        super().__init__()",
            f"        self.rnn = torch.nn.{cell}(64, 128, batch_first=True)",
            "        self.fc = torch.nn.Linear(128, 10)",
            "    def forward(self, x):",
            "        out, _ = self.rnn(x)",
            "        return self.fc(out[:, -1])",
        ]
    )
    return train_step_case(
        f"{cell}(64, 128) + Linear train step, batch 32, 32 steps, Adam",
        "Net()",
        "x = torch.randn(32, 32, 64); y = torch.randint(0, 10, (32,))",
        "torch.nn.functional.cross_entropy(out, y)",
        "torch.optim.Adam(model.parameters(), lr=1e-3)",
        needs=(f"nn.{cell}",),
        prelude=prelude,
    )


# A character GPT as the tutorials write it with PyTorch's modules: token + position
# embeddings, pre-norm causal encoder layers (gelu), a final LayerNorm and a linear head.
CHAR_GPT = "\n".join(
    [
        "class CharGPT(torch.nn.Module):",
        "    def __init__(self, vocab=65, block=64, d=128, heads=4, layers=2):",
        "        super().__init__()",
        "        self.tok = torch.nn.Embedding(vocab, d)",
        "        self.pos = torch.nn.Embedding(block, d)",
        "        layer = torch.nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0,",
        "            activation='gelu', batch_first=True, norm_first=True)",
        "        self.blocks = torch.nn.TransformerEncoder(",
        "            layer, layers, enable_nested_tensor=False)",
        "        self.norm = torch.nn.LayerNorm(d)",
        "        self.head = torch.nn.Linear(d, vocab)",
        "        mask = torch.nn.Transformer.generate_square_subsequent_mask(block)",
        "        self.register_buffer('causal', mask)",
        "        self.register_buffer('positions', torch.arange(block))",
        "    def forward(self, idx):",
        "        h = self.tok(idx) + self.pos(self.positions)",
        "        h = self.blocks(h, mask=self.causal, is_causal=True)",
        "        return self.head(self.norm(h))",
    ]
)

TRANSFORMER_CASES = [
    train_step_case(
        "TransformerEncoderLayer(128, 4, 512) train step, 16x64x128, AdamW",
        "torch.nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True)",
        "x = torch.randn(16, 64, 128); y = None",
        "out.pow(2).mean()",
        "torch.optim.AdamW(model.parameters(), lr=1e-3)",
        needs=("nn.TransformerEncoderLayer",),
    ),
    train_step_case(
        "char GPT (TransformerEncoder, 2 pre-norm causal gelu layers) train step, 16x64 tokens",
        "CharGPT()",
        "x = torch.randint(0, 65, (16, 64)); y = torch.randint(0, 65, (16, 64))",
        "torch.nn.functional.cross_entropy(out.reshape(-1, 65), y.reshape(-1))",
        "torch.optim.AdamW(model.parameters(), lr=1e-3)",
        needs=("nn.TransformerEncoder",),
        prelude=CHAR_GPT,
    ),
]


def max_pool_case(batch: int, channels: int, size: int) -> Case:
    """max_pool2d 2x2 (stride 2) forward and backward on float32 NCHW input."""
    n, c, hw = batch, channels, size
    return Case(
        name=f"max_pool2d 2x2 forward+backward {n}x{c}x{hw}x{hw} float32",
        setup=(
            f"torch.manual_seed(0); x = torch.randn({n}, {c}, {hw}, {hw}, requires_grad=True); "
            "F = torch.nn.functional"
        ),
        stmt="x.grad = None; F.max_pool2d(x, 2).sum().backward()",
        check=(
            "x.grad is not None and "
            f"tuple(F.max_pool2d(x, 2).shape) == ({n}, {c}, {hw // 2}, {hw // 2})"
        ),
    )


def batch_norm_case(batch: int, channels: int, size: int) -> Case:
    """BatchNorm2d in training mode: forward (batch statistics, running-stat update) and
    backward to the input and the affine parameters, on float32 NCHW input."""
    n, c, hw = batch, channels, size
    return Case(
        name=f"BatchNorm2d({c}) train fwd+bwd {n}x{c}x{hw}x{hw} float32",
        setup=(
            f"torch.manual_seed(0); x = torch.randn({n}, {c}, {hw}, {hw}, requires_grad=True); "
            f"bn = torch.nn.BatchNorm2d({c}); g = torch.randn({n}, {c}, {hw}, {hw})"
        ),
        stmt="bn(x).backward(g)",
        check=f"x.grad is not None and tuple(bn.weight.grad.shape) == ({c},)",
    )


def sdpa_case(batch: int, heads: int, length: int, dim: int) -> Case:
    """Causal scaled_dot_product_attention forward and backward to q, k, v (float32)."""
    shape = f"{batch}, {heads}, {length}, {dim}"
    return Case(
        name=f"sdpa causal fwd+bwd {batch}x{heads}x{length}x{dim} float32",
        setup=(
            "torch.manual_seed(0); F = torch.nn.functional; "
            f"q, k, v = (torch.randn({shape}, requires_grad=True) for _ in range(3)); "
            f"g = torch.randn({shape})"
        ),
        stmt=(
            "q.grad = k.grad = v.grad = None; "
            "F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(g)"
        ),
        check=f"q.grad is not None and tuple(v.grad.shape) == ({shape})",
        needs=("nn.functional.scaled_dot_product_attention",),
    )


SORT_CASES = [
    Case(
        name="sort 1M float32",
        setup=f"torch.manual_seed(0); a = torch.randn({N_CHAIN})",
        stmt="torch.sort(a)",
        numpy_setup=f"a = np.random.default_rng(0).standard_normal({N_CHAIN}, dtype=np.float32)",
        numpy_stmt="np.sort(a)",
        check="bool((torch.sort(a).values[1:] >= torch.sort(a).values[:-1]).all())",
    ),
    Case(
        name="topk(1000) of 1M float32",
        setup=f"torch.manual_seed(0); a = torch.randn({N_CHAIN})",
        stmt="torch.topk(a, 1000)",
        numpy_setup=f"a = np.random.default_rng(0).standard_normal({N_CHAIN}, dtype=np.float32)",
        numpy_stmt="np.partition(a, -1000)[-1000:]",
        check="torch.topk(a, 1000).values[0].item() == a.max().item()",
    ),
]

CASES = [
    Case(
        name="scalar add (0-dim)",
        setup="a = torch.tensor(2.0); b = torch.tensor(3.0)",
        stmt="a + b",
        numpy_setup="a = np.array(2.0, dtype=np.float32); b = np.array(3.0, dtype=np.float32)",
        numpy_stmt="a + b",
        check="(a + b).item() == 5.0",
    ),
    Case(
        name="Example 1 forward+backward",
        setup=(
            "x = torch.tensor(2.0, requires_grad=True); y = torch.tensor(3.0, requires_grad=True)"
        ),
        stmt="x.grad = None; y.grad = None; z = x * y + y ** 2; z.backward()",
        check="x.grad.item() == 3.0 and y.grad.item() == 8.0",
    ),
    Case(
        name="elementwise chain 1M float32",
        setup=f"torch.manual_seed(0); a = torch.randn({N_CHAIN}); b = torch.randn({N_CHAIN})",
        stmt="((a * b) + a).exp().sum()",
        numpy_setup=(
            "rng = np.random.default_rng(0); "
            f"a = rng.standard_normal({N_CHAIN}, dtype=np.float32); "
            f"b = rng.standard_normal({N_CHAIN}, dtype=np.float32)"
        ),
        numpy_stmt="np.exp((a * b) + a).sum()",
        check="((a * b) + a).exp().sum().dtype == torch.float32",
    ),
    matmul_case(256),
    matmul_case(1024),
    Case(
        name="seed training step (2-4-1, BCE, SGD)",
        setup=SEED_NET,
        stmt="step()",
        check="step().item() > 0",
    ),
    mlp_case((784, 64, 64, 10), 32),
    mlp_case((784, 512, 512, 10), 256),
    loss_case("cross_entropy", 256, 10),
    loss_case("cross_entropy", 32, 10),
    loss_case("binary_cross_entropy_with_logits", 256, 1),
    conv_case(32, 64, 32),
    *CNN_CASES,
    rnn_case("LSTM"),
    rnn_case("GRU"),
    *TRANSFORMER_CASES,
    max_pool_case(32, 64, 32),
    batch_norm_case(32, 64, 16),
    sdpa_case(8, 4, 128, 32),
    Case(
        name="REINFORCE step: 4-128-2 policy, Categorical, 200-step episode, Adam",
        setup=REINFORCE_EPISODE,
        stmt="episode()",
        check="abs(episode().item()) < 1e4",
        needs=("distributions.Categorical",),
    ),
    Case(
        name="digits VAE step (64-256-8, Normal rsample, kl_divergence), batch 64, Adam",
        setup=VAE_STEP,
        stmt="step()",
        check="step().item() > 0",
        needs=("distributions.kl_divergence",),
    ),
    *SORT_CASES,
    Case(
        name="unique 1M int64 return_counts",
        setup=f"torch.manual_seed(0); a = torch.randint(0, 100000, ({N_CHAIN},))",
        stmt="torch.unique(a, return_counts=True)",
        numpy_setup=f"rng = np.random.default_rng(0); a = rng.integers(0, 100000, {N_CHAIN})",
        numpy_stmt="np.unique(a, return_counts=True)",
        check="int(torch.unique(a, return_counts=True)[1].sum()) == a.numel()",
    ),
    *(
        Case(
            name=f"multinomial 64x50000, {n} sample{'s' if n > 1 else ''} with replacement",
            setup="torch.manual_seed(0); w = torch.rand(64, 50000)",
            stmt=f"torch.multinomial(w, {n}, replacement=True)",
            numpy_setup="rng = np.random.default_rng(0); w = rng.random((64, 50000))",
            numpy_stmt=(
                "c = np.cumsum(w, 1); "
                f"u = rng.random((64, {n})) * c[:, -1:]; "
                "[np.searchsorted(r, x, side='right') for r, x in zip(c, u)]"
            ),
            check=f"tuple(torch.multinomial(w, {n}, replacement=True).shape) == (64, {n})",
        )
        for n in (1, 64)
    ),
    Case(
        name="logical_and 1M bool",
        setup=(
            f"torch.manual_seed(0); a = torch.rand({N_CHAIN}) > 0.5; "
            f"b = torch.rand({N_CHAIN}) > 0.5"
        ),
        stmt="torch.logical_and(a, b)",
        numpy_setup=(
            f"rng = np.random.default_rng(0); a = rng.random({N_CHAIN}) > 0.5; "
            f"b = rng.random({N_CHAIN}) > 0.5"
        ),
        numpy_stmt="np.logical_and(a, b)",
        check="torch.logical_and(a, b).dtype == torch.bool",
    ),
]


@dataclass
class Timing:
    median_ns: float
    min_ns: float
    number: int  # statements per repeat
    samples_ns: list[float] = field(default_factory=list)  # per-statement time of each repeat
    gflops: float | None = None


def lacking(lib: Any, needs: tuple[str, ...]) -> list[str]:
    """The attributes of `needs` that `lib` does not have."""
    out = []
    for dotted in needs:
        obj = lib
        for part in dotted.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                out.append(dotted)
                break
    return out


class Bench:
    """One case set up in a worker: checked, warmed up and calibrated, then timed one repeat
    at a time as the driver asks (so the libraries' repeats can be interleaved)."""

    def __init__(
        self,
        stmt: str,
        setup: str,
        env: dict[str, Any],
        chk: str | None,
        min_time: float,
        cpu_time: bool = False,
    ):
        namespace = dict(env)
        exec(setup, namespace)
        if chk is not None:
            exec(stmt, namespace)
            if not eval(chk, namespace):
                raise AssertionError(f"sanity check failed: {chk}")
        # --cpu-time: the process's CPU time (all its threads), which a loaded machine's other
        # processes do not inflate the way they do the wall clock.
        clock = time.process_time_ns if cpu_time else time.perf_counter_ns
        self.timer = timeit.Timer(stmt, globals=namespace, timer=clock)
        self.timer.timeit(number=3)  # warm-up: thread pools, allocator, caches
        number = 1
        while True:  # calibrate like timeit.autorange, against min_time
            total = self.timer.timeit(number=number)
            if total >= min_time * 1e9:
                break
            number = max(number * 2, int(number * min_time * 1e9 / max(total, 1) * 1.2))
        self.number = number

    def repeat(self) -> float:
        """Nanoseconds per statement over one repeat."""
        return self.timer.timeit(number=self.number) / self.number


# ---- environment ---------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def core_count() -> str:
    n = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = n
    return f"{n} cores" if usable == n else f"{n} cores ({usable} usable)"


def version_of(module: Any, dist: str) -> str:
    v = getattr(module, "__version__", None)
    if v:
        return str(v)
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "unknown version"


# ---- formatting ----------------------------------------------------------------------------


def fmt_time(ns: float) -> str:
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.3g} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.3g} ms"
    return f"{ns / 1e9:.3g} s"


def fmt_cell(t: Timing | str | None) -> str:
    if t is None:
        return "—"
    if isinstance(t, str):
        return t
    cell = fmt_time(t.median_ns)
    if t.gflops is not None:
        cell += f" ({t.gflops:.0f} GFLOP/s)"
    return cell


def fmt_ratio(ours: Timing | str | None, theirs: Timing | str | None) -> str:
    if not isinstance(ours, Timing) or not isinstance(theirs, Timing):
        return "—"
    return f"{theirs.median_ns / ours.median_ns:.2f}x"


MODULES = {"rgrad": "rgrad", "rgrad base": "rgrad", "PyTorch": "torch", "NumPy": "numpy"}


def case_source(col: str, case: Case) -> tuple[str, str, str | None] | None:
    """(setup, stmt, check) of `case` for one column, or None when it has no such code."""
    if col == "NumPy":
        if case.numpy_stmt is None:
            return None
        return case.numpy_setup or "", case.numpy_stmt, None
    return case.setup, case.stmt, case.check


def suite_cases(suite: str) -> list[Case]:
    """The cases of a suite: this file's or benches/<suite>_parts.py's (conv, cnn, rnn, linalg)."""
    if suite == "cnn-parts":
        import cnn_parts  # benches/ is on the path: it is this script's directory

        return cnn_parts.CASES
    if suite == "rnn-parts":
        import rnn_parts  # benches/ is on the path: it is this script's directory

        return rnn_parts.CASES
    if suite == "conv-parts":
        import conv_parts  # benches/ is on the path: it is this script's directory

        return conv_parts.CASES
    if suite == "linalg":
        import linalg_parts  # benches/ is on the path: it is this script's directory

        return linalg_parts.CASES
    return CASES


def worker_main(col: str, torch_threads: int | None, suite: str, cpu_time: bool = False) -> int:
    """The worker loop: one JSON command per stdin line, one JSON answer per line on the
    original stdout (the libraries' own prints go to stderr)."""
    reply_to = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def reply(**kw: Any) -> None:
        reply_to.write(json.dumps(kw) + "\n")
        reply_to.flush()

    try:
        lib = importlib.import_module(MODULES[col])
    except Exception as e:  # the extension may not be built
        reply(ok=False, note=f"cannot import {MODULES[col]} ({type(e).__name__}: {e})")
        return 0
    threads = None
    if col == "PyTorch":
        if torch_threads:
            lib.set_num_threads(torch_threads)
        threads = lib.get_num_threads()
    reply(ok=True, version=version_of(lib, MODULES[col]), threads=threads, python=sys.executable)
    cases = {c.name: c for c in suite_cases(suite)}
    bench: Bench | None = None
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "prepare":
            bench = None
            gc.collect()
            case = cases[cmd["case"]]
            src = case_source(col, case)
            if src is None:
                reply(ok=False, status=None)
                continue
            missing = lacking(lib, case.needs) if col != "NumPy" else []
            if missing:
                reply(ok=False, status=f"missing ({', '.join(missing)})")
                continue
            env = {"np": lib} if col == "NumPy" else {"torch": lib}
            try:
                bench = Bench(src[1], src[0], env, src[2], cmd["min_time"], cpu_time)
            except Exception as e:  # an op a library lacks must not hide the other rows
                print(f"{case.name} [{col}]: {type(e).__name__}: {e}", file=sys.stderr)
                reply(ok=False, status=f"error: {type(e).__name__}")
                continue
            reply(ok=True, number=bench.number)
        elif cmd["cmd"] == "repeat":
            assert bench is not None
            reply(ns=bench.repeat())
    return 0


class Worker:
    """A library's worker process, alive for the whole run."""

    def __init__(
        self,
        col: str,
        python: str,
        torch_threads: int | None,
        suite: str,
        path: str | None,
        cpu_time: bool = False,
    ):
        import subprocess

        cmd = [python, os.path.abspath(__file__), "--worker", col, "--suite", suite]
        if torch_threads:
            cmd += ["--torch-threads", str(torch_threads)]
        if cpu_time:
            cmd += ["--cpu-time"]
        env = dict(os.environ)
        if path:  # another build of rgrad, imported from this directory first
            env["PYTHONPATH"] = os.pathsep.join([path, env.get("PYTHONPATH", "")])
        self.col = col
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.hello = self.read()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.col} worker exited (see its stderr above)")
        return json.loads(line)

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


def run_cases(
    workers: list[Worker], cases: list[Case], repeats: int, min_time: float, pause: float
) -> list[tuple[Case, dict[str, Timing | str | None]]]:
    """Every case in every worker, the repeats interleaved: round r times one repeat of each
    library (the order rotating between rounds), so load that comes and goes on a shared
    machine falls on all of them alike. Only one worker runs at a time, with `pause` seconds
    between them so thread pools that spin after work (rayon, OpenMP) have gone to sleep."""
    rows = []
    for case in cases:
        results: dict[str, Timing | str | None] = {}
        live = []
        for w in workers:
            ans = w.ask(cmd="prepare", case=case.name, min_time=min_time)
            if ans["ok"]:
                live.append((w, ans["number"]))
            else:
                results[w.col] = ans["status"]
        samples: dict[str, list[float]] = {w.col: [] for w, _ in live}
        for r in range(repeats):
            for i in range(len(live)):
                w, _ = live[(i + r) % len(live)]
                time.sleep(pause)
                samples[w.col].append(w.ask(cmd="repeat")["ns"])
        for w, number in live:
            s = samples[w.col]
            t = Timing(statistics.median(s), min(s), number, s)
            if case.flops:
                t.gflops = case.flops / t.median_ns
            results[w.col] = t
        print(f"  measured {case.name}", file=sys.stderr)
        rows.append((case, results))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, shorter runs")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--repeats", type=int, help="repeats per case (default 15, quick 5)")
    parser.add_argument(
        "--min-time", type=float, help="seconds per repeat (default 0.1, quick 0.02)"
    )
    parser.add_argument("-k", metavar="SUBSTRING", help="only cases whose name contains this")
    parser.add_argument(
        "--torch-python",
        metavar="PYTHON",
        help="the interpreter that runs the PyTorch column (default: this one)",
    )
    parser.add_argument("--torch-threads", type=int, help="torch.set_num_threads(N) first")
    parser.add_argument(
        "--suite",
        choices=["main", "conv-parts", "cnn-parts", "rnn-parts", "linalg"],
        default="main",
        help="the cases: this file's (main), the CNN steps' convolutions (conv-parts) or their "
        "other parts (cnn-parts), the RNN steps' parts (rnn-parts) or the linalg "
        "factorizations (linalg)",
    )
    parser.add_argument(
        "--base",
        metavar="DIR",
        help="add a column 'rgrad base': the rgrad package found in DIR (another build, A/B)",
    )
    parser.add_argument("--no-numpy", action="store_true", help="leave out the NumPy column")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time the worker's process CPU time (all threads) instead of the wall clock: on a "
        "loaded machine, with RAYON_NUM_THREADS=1 and --torch-threads 1, the work itself",
    )
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker, args.torch_threads, args.suite, args.cpu_time)
    repeats = args.repeats or (5 if args.quick else 15)
    min_time = args.min_time or (0.02 if args.quick else 0.1)

    columns = ["rgrad"] + (["rgrad base"] if args.base else []) + ["PyTorch"]
    columns += [] if args.no_numpy else ["NumPy"]
    workers, notes, versions = [], {}, {"python": platform.python_version()}
    threads = ""
    for col in columns:
        python = args.torch_python if col == "PyTorch" and args.torch_python else sys.executable
        path = args.base if col == "rgrad base" else None
        w = Worker(col, python, args.torch_threads, args.suite, path, args.cpu_time)
        versions[col if col == "rgrad base" else MODULES[col]] = w.hello.get("version", "-")
        if not w.hello["ok"]:
            notes[col] = w.hello["note"]
            w.close()
            continue
        if w.hello.get("threads"):
            threads = f"; torch threads: {w.hello['threads']}"
        workers.append(w)
    if not any(w.col == "rgrad" for w in workers):
        print(f"compare.py: {notes['rgrad']}; build it first (`pip install .`)", file=sys.stderr)
        for w in workers:
            w.close()
        return 1
    command = "python " + " ".join(["benches/compare.py", *(argv or sys.argv[1:])])
    machine = f"{cpu_model()}, {core_count()}, {platform.system()} {platform.machine()}"

    print(f"machine: {machine}{threads}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    clock = "process CPU time" if args.cpu_time else "wall clock"
    print(
        f"command: `{command}` ({repeats} interleaved repeats of >= {min_time} s each; "
        f"medians; {clock})"
    )
    for lib, note in notes.items():
        print(f"note: {lib} {note}")
    print()

    cases = [c for c in suite_cases(args.suite) if not args.k or args.k.lower() in c.name.lower()]
    try:
        rows = run_cases(workers, cases, repeats, min_time, pause=0.01)
    finally:
        for w in workers:
            w.close()
    for col in columns:
        for _, r in rows:
            r.setdefault(col, None)

    others = [c for c in columns if c != "rgrad"]
    header = "| benchmark | " + " | ".join(columns)
    header += " | " + " | ".join(f"rgrad vs {c}" for c in others) + " |"
    print(header)
    print("|---|" + "---:|" * (len(columns) + len(others)))
    for case, r in rows:
        cells = [fmt_cell(r[c]) for c in columns]
        ratios = [fmt_ratio(r["rgrad"], r[c]) for c in others]
        print(f"| {case.name} | " + " | ".join(cells + ratios) + " |")
    print()
    print("Times are medians per statement; ratios are rgrad's speed-up (>1: rgrad faster).")

    if args.json:
        payload = {
            "machine": machine,
            "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count(),
            "versions": versions,
            "command": command,
            "repeats": repeats,
            "min_time_s": min_time,
            "notes": notes,
            "results": [
                {
                    "name": case.name,
                    "stmt": case.stmt,
                    "numpy_stmt": case.numpy_stmt,
                    "flops": case.flops,
                    "timings": {
                        col: (asdict(t) if isinstance(t, Timing) else t) for col, t in r.items()
                    },
                }
                for case, r in rows
            ],
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
