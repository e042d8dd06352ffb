"""A character-level LSTM language model trained on the Python standard library's own source
files (they ship with every Python: nothing is downloaded), written as a PyTorch user writes
it: nn.Embedding -> nn.LSTM (2 layers) -> nn.Linear, cross entropy on the next character,
Adam, gradient clipping, a tqdm bar. It prints the loss as it falls, writes the loss curve
(when matplotlib is installed) to --out (./outputs by default, which git ignores), and prints
text sampled from the trained model at the end.

    pip install ".[examples]"      # tqdm, matplotlib
    python examples/char_lstm.py [--steps 300] [--out DIR]
"""

import argparse
import os
import pathlib

from tqdm import tqdm

import rgrad as torch
import rgrad.nn as nn
import rgrad.nn.functional as F

SOURCES = ["textwrap.py", "string.py", "bisect.py", "heapq.py", "colorsys.py", "keyword.py"]


def load_text():
    """A few standard-library modules, concatenated (their path comes with the interpreter)."""
    lib = pathlib.Path(os.__file__).parent
    return "\n".join(
        (lib / name).read_text(encoding="utf-8") for name in SOURCES if (lib / name).exists()
    )


class CharLSTM(nn.Module):
    def __init__(self, vocab, embed=32, hidden=128, layers=2, dropout=0.1):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def sample(model, stoi, itos, prompt, length, temperature=0.8):
    """Feeds `prompt`, then draws `length` characters one at a time, carrying the state."""
    model.eval()
    with torch.no_grad():
        x = torch.tensor([[stoi[c] for c in prompt]])
        logits, state = model(x)
        out = list(prompt)
        for _ in range(length):
            probs = F.softmax(logits[0, -1] / temperature, dim=-1)
            nxt = int(torch.multinomial(probs, 1).item())
            out.append(itos[nxt])
            logits, state = model(torch.tensor([[nxt]]), state)
    model.train()
    return "".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--sample", type=int, default=300, help="characters to sample at the end")
    parser.add_argument("--out", default="outputs", help="where the plot goes (default: ./outputs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    text = load_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    itos = dict(enumerate(chars))
    data = torch.tensor([stoi[c] for c in text])
    print(f"{len(text)} characters of standard-library source, {len(chars)} distinct")

    model = CharLSTM(len(chars))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    bar = tqdm(range(args.steps), desc="training")
    for step in bar:
        starts = torch.randint(0, len(data) - args.seq - 1, (args.batch,))
        idx = starts.unsqueeze(1) + torch.arange(args.seq + 1)
        chunk = data[idx]
        x, y = chunk[:, :-1], chunk[:, 1:]
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if step % max(1, args.steps // 10) == 0 or step == args.steps - 1:
            tqdm.write(f"step {step:4d}  loss {losses[-1]:.4f}")
    first = sum(losses[: max(1, len(losses) // 10)]) / max(1, len(losses) // 10)
    last = sum(losses[-max(1, len(losses) // 10) :]) / max(1, len(losses) // 10)
    print(f"loss fell from {first:.4f} to {last:.4f}")

    os.makedirs(args.out, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        plt.figure(figsize=(6, 4))
        plt.plot(losses)
        plt.xlabel("step")
        plt.ylabel("cross entropy")
        plt.title("char-LSTM on stdlib source")
        path = os.path.join(args.out, "char_lstm_loss.png")
        plt.savefig(path, dpi=100)
        print(f"wrote {path}")
    print("sampled text:")
    print(sample(model, stoi, itos, "def ", args.sample))


if __name__ == "__main__":
    main()
