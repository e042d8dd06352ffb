"""A character-level GPT trained on the Python standard library's own source (it ships with
every Python: nothing is downloaded), written as a PyTorch user writes a minimal GPT: token and
position embeddings, pre-norm blocks of causal self-attention (one fused q/k/v projection and
F.scaled_dot_product_attention with is_causal=True) and a GELU MLP, a final LayerNorm and a
head whose weight is the token embedding's (weight tying); AdamW with a cosine schedule,
gradient clipping and a tqdm bar. It reports the validation loss against the unigram baseline
(the loss of predicting every character from its frequency alone), writes the loss curves to
--out (./outputs by default, which git ignores) and prints text sampled from the model.

    pip install ".[examples]"      # tqdm, matplotlib
    python examples/tiny_gpt.py [--steps 600] [--seed 0] [--out DIR]
"""

import argparse
import collections
import math
import os
import pathlib
import time

from tqdm import tqdm

import rgrad as torch
import rgrad.nn as nn
import rgrad.nn.functional as F

# Modules of the standard library's top directory (where os.py and inspect.py live).
SOURCES = [
    "inspect.py",
    "argparse.py",
    "dataclasses.py",
    "functools.py",
    "textwrap.py",
    "string.py",
    "bisect.py",
    "heapq.py",
    "contextlib.py",
    "abc.py",
]


def load_text():
    lib = pathlib.Path(os.__file__).parent
    parts = [(lib / name).read_text(encoding="utf-8") for name in SOURCES if (lib / name).exists()]
    return "\n".join(parts)


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, n_head, dropout):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        # (B, T, C) -> (B, heads, T, head_dim)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, d_model, n_head, dropout):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_head, dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model),
            nn.GELU(approximate="tanh"),  # GPT-2's GELU
            nn.Linear(4 * d_model, d_model),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(self, vocab, block_size, d_model=128, n_head=4, n_layer=4, dropout=0.0):
        super().__init__()
        self.block_size = block_size
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(block_size, d_model)
        self.blocks = nn.Sequential(*[Block(d_model, n_head, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)
        self.head.weight = self.tok.weight  # weight tying: one matrix embeds and un-embeds
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual outputs
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layer))

    @staticmethod
    def _init_weights(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(t))
        return self.head(self.ln_f(self.blocks(x)))


def batch(data, size, block_size):
    starts = torch.randint(0, len(data) - block_size - 1, (size,))
    idx = starts.unsqueeze(1) + torch.arange(block_size + 1)
    chunk = data[idx]
    return chunk[:, :-1], chunk[:, 1:]


def evaluate(model, data, block_size, batches=8, size=32):
    model.eval()
    with torch.no_grad():
        g = torch.Generator().manual_seed(1234)  # the same validation batches every time
        total = 0.0
        for _ in range(batches):
            starts = torch.randint(0, len(data) - block_size - 1, (size,), generator=g)
            chunk = data[starts.unsqueeze(1) + torch.arange(block_size + 1)]
            logits = model(chunk[:, :-1])
            total += F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1)
            ).item()
    model.train()
    return total / batches


def unigram_loss(train_text, val, stoi):
    """Cross entropy of the validation text under the training text's character frequencies
    (add-one smoothed): what a model that ignores the context achieves."""
    freq = collections.Counter(train_text)
    counts = torch.tensor([freq[c] + 1.0 for c in sorted(stoi, key=stoi.get)], dtype=torch.float64)
    logp = (counts / counts.sum()).log()
    return -logp[val].mean().item()


def sample(model, stoi, itos, prompt, length, temperature=0.8):
    model.eval()
    with torch.no_grad():
        idx = torch.tensor([[stoi[c] for c in prompt]])
        for _ in range(length):
            logits = model(idx[:, -model.block_size :])[0, -1]
            probs = F.softmax(logits / temperature, dim=-1)
            nxt = torch.multinomial(probs, 1)
            idx = torch.cat([idx, nxt.view(1, 1)], dim=1)
    model.train()
    return "".join(itos[i] for i in idx[0].tolist())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--block", type=int, default=64, help="context length")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--sample", type=int, default=400, help="characters to sample at the end")
    parser.add_argument("--out", default="outputs", help="where the plot goes (default: ./outputs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    text = load_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    itos = dict(enumerate(chars))
    data = torch.tensor([stoi[c] for c in text])
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    baseline = unigram_loss(text[:split], val, stoi)
    print(f"{len(text)} characters of standard-library source, {len(chars)} distinct")
    print(f"unigram baseline: validation loss {baseline:.4f}")

    model = TinyGPT(len(chars), args.block, args.d_model, args.heads, args.layers)
    print(f"{sum(p.numel() for p in model.parameters())} parameters")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps, eta_min=args.lr / 10)
    losses, evals = [], []
    start = time.perf_counter()
    bar = tqdm(range(args.steps), desc="training")
    for step in bar:
        x, y = batch(train, args.batch, args.block)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if (step + 1) % args.eval_every == 0 or step == args.steps - 1:
            evals.append((step + 1, evaluate(model, val, args.block)))
            tqdm.write(f"step {step + 1:5d}  train {losses[-1]:.4f}  validation {evals[-1][1]:.4f}")
    minutes = (time.perf_counter() - start) / 60
    final = evals[-1][1]
    print(f"trained {args.steps} steps in {minutes:.1f} min")
    print(f"validation loss {final:.4f} against the unigram baseline {baseline:.4f}")

    os.makedirs(args.out, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        plt.figure(figsize=(6, 4))
        plt.plot(range(1, len(losses) + 1), losses, label="train", alpha=0.7)
        plt.plot(*zip(*evals), "o-", label="validation")
        plt.axhline(baseline, color="gray", linestyle="--", label="unigram baseline")
        plt.xlabel("step")
        plt.ylabel("cross entropy (nats)")
        plt.title("tiny GPT on stdlib source")
        plt.legend()
        path = os.path.join(args.out, "tiny_gpt_loss.png")
        plt.savefig(path, dpi=100)
        print(f"wrote {path}")
    print("sampled text:")
    print(sample(model, stoi, itos, "def ", args.sample))


if __name__ == "__main__":
    main()
