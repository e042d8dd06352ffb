"""Trains an MLP on scikit-learn's bundled digits data (8x8 images, 10 classes; nothing is
downloaded) with rgrad, the way a PyTorch user writes it: Dataset/DataLoader, nn.Sequential,
CrossEntropyLoss, SGD with momentum, a tqdm bar per epoch. Then it reports test accuracy, saves
the model, reloads it into a fresh network, checks the predictions are identical, and (when
matplotlib is installed) writes the loss curve to digits_loss.png, both in --out (./outputs by
default, which git ignores).

    pip install ".[examples]"      # scikit-learn, tqdm, matplotlib
    python examples/train_digits.py [--epochs 30] [--out DIR]
"""

import argparse
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import rgrad as torch
import rgrad.nn as nn
from rgrad.utils.data import DataLoader, TensorDataset


def make_model():
    return nn.Sequential(
        nn.Linear(64, 128),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = model(x).argmax(dim=1)
    return (pred == y).float().mean().item(), pred


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--out", default="outputs", help="where the model and the plot go (default: ./outputs)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # pixel values 0..16 -> 0..1
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=args.seed, stratify=digits.target
    )
    train = TensorDataset(torch.tensor(x_train), torch.tensor(y_train))
    loader = DataLoader(train, batch_size=32, shuffle=True)
    x_test, y_test = torch.tensor(x_test), torch.tensor(y_test)

    model = make_model()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)

    losses = []
    for epoch in range(args.epochs):
        model.train()
        total, seen = 0.0, 0
        # The bar is advanced by hand: iterating `tqdm(loader)` keeps its count to itself
        # between its own (time-throttled) redraws, so the postfix refresh after each batch
        # redrew `0/43` all epoch long. Here each batch counts, then redraws with its loss.
        with tqdm(
            total=len(loader), desc=f"epoch {epoch + 1:2d}/{args.epochs}", leave=False
        ) as bar:
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = criterion(model(xb), yb)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(xb)
                seen += len(xb)
                bar.update()
                bar.set_postfix(loss=f"{total / seen:.4f}")
        scheduler.step()
        losses.append(total / seen)

    acc, pred = accuracy(model, x_test, y_test)
    print(f"final training loss {losses[-1]:.4f}; test accuracy {acc * 100:.2f}%")

    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "digits_mlp.safetensors")
    torch.save(model.state_dict(), path)
    reloaded = make_model()
    reloaded.load_state_dict(torch.load(path))
    _, pred2 = accuracy(reloaded, x_test, y_test)
    same = bool((pred == pred2).all())
    print(f"saved to {path}; reloaded model gives the same predictions: {same}")
    if not same:
        raise SystemExit("reloaded model disagrees with the trained one")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no loss curve")
        return
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(range(1, len(losses) + 1), losses, marker="o")
    ax.set(xlabel="epoch", ylabel="training loss", title="rgrad MLP on digits")
    fig.tight_layout()
    png = os.path.join(out_dir, "digits_loss.png")
    fig.savefig(png, dpi=100)
    print(f"loss curve written to {png}")


if __name__ == "__main__":
    main()
