"""Trains a small CNN on scikit-learn's bundled digits data (8x8 images, 10 classes; nothing is
downloaded) with rgrad, the way a PyTorch user writes it: images as N x 1 x 8 x 8 tensors,
nn.Conv2d layers (a stride-2 convolution downsamples), Adam, a tqdm bar per epoch. It reports
test accuracy, saves the model in PyTorch's format (``torch.load`` reads the file) and (when
matplotlib is installed) writes the loss curve to cnn_digits_loss.png, both in --out
(./outputs by default, which git ignores).

    pip install ".[examples]"      # scikit-learn, tqdm, matplotlib
    python examples/cnn_digits.py [--epochs 10] [--out DIR] [--device cpu|wgpu]
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


def make_model(num_classes=10):
    """Two 3x3 convolutions at 8x8, a stride-2 one down to 4x4, then a linear head on the
    4x4x64 features."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1),  # 8x8 -> 4x4
        nn.ReLU(),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(64 * 4 * 4, num_classes),
    )


def load_images(seed, classes=None):
    """(x_train, x_test, y_train, y_test) as N x 1 x 8 x 8 float arrays in 0..1, of ``classes``
    only when given."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target
    if classes is not None:
        keep = np.isin(y, classes)
        x, y = x[keep], y[keep]
    return train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = model(x).argmax(dim=1)
    return (pred == y).float().mean().item()


def train(model, loader, optimizer, epochs, device, desc="epoch"):
    criterion = nn.CrossEntropyLoss()
    # The learning rate falls to 0 along a cosine: big steps first, fine ones at the end.
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    losses = []
    for epoch in range(epochs):
        model.train()
        total, seen = 0.0, 0
        with tqdm(total=len(loader), desc=f"{desc} {epoch + 1:2d}/{epochs}", leave=False) as bar:
            for xb, yb in loader:
                xb, yb = xb.to(device), yb.to(device)
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
    return losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default="outputs", help="default: ./outputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or wgpu")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    x_train, x_test, y_train, y_test = load_images(args.seed)
    loader = DataLoader(
        TensorDataset(torch.tensor(x_train), torch.tensor(y_train)), batch_size=32, shuffle=True
    )
    model = make_model().to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = train(model, loader, optimizer, args.epochs, args.device)
    acc = accuracy(
        model, torch.tensor(x_test).to(args.device), torch.tensor(y_test).to(args.device)
    )
    print(f"final training loss {losses[-1]:.4f}; test accuracy {acc * 100:.2f}%")

    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "cnn_digits.pt")
    torch.save(model.state_dict(), path)  # PyTorch's zip format: torch.load reads it
    print(f"saved to {path}")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no loss curve")
        return
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(range(1, len(losses) + 1), losses, marker="o")
    ax.set(xlabel="epoch", ylabel="training loss", title="rgrad CNN on digits")
    fig.tight_layout()
    png = os.path.join(out_dir, "cnn_digits_loss.png")
    fig.savefig(png, dpi=100)
    print(f"loss curve written to {png}")


if __name__ == "__main__":
    main()
