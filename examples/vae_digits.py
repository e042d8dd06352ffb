"""A variational autoencoder on scikit-learn's bundled digits (8x8 images, nothing is
downloaded), written against torch.distributions: the encoder gives the mean and log-variance
of q(z|x) as a ``Normal``, ``rsample()`` draws z with the reparameterisation trick (so the loss
differentiates through the sample), the decoder gives Bernoulli pixel probabilities, and the
loss is the negative ELBO: the binary cross entropy of the reconstruction plus
``kl_divergence(q, Normal(0, 1))``. Adam, a tqdm bar per epoch, the training and test loss per
epoch; writes test reconstructions next to their originals, digits sampled from the prior and
the loss curves to --out (./outputs by default, which git ignores).

    pip install ".[examples]"      # scikit-learn, tqdm, matplotlib
    python examples/vae_digits.py [--epochs 40] [--latent 8] [--seed 0] [--out DIR]
"""

import argparse
import os
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import rgrad as torch
import rgrad.nn as nn
import rgrad.nn.functional as F
from rgrad.distributions import Normal, kl_divergence
from rgrad.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self, pixels=64, hidden=256, latent=8):
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(nn.Linear(pixels, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, pixels), nn.Sigmoid()
        )

    def posterior(self, x):
        """q(z|x), a diagonal Normal."""
        h = self.encoder(x)
        return Normal(self.mu(h), torch.exp(0.5 * self.logvar(h)))

    def forward(self, x):
        q = self.posterior(x)
        z = q.rsample()  # mu + sigma * eps: gradients flow to mu and sigma
        return self.decoder(z), q


def vae_loss(recon, x, q):
    """The negative ELBO per image: reconstruction BCE plus the KL to the N(0, I) prior."""
    prior = Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kl = kl_divergence(q, prior).sum()
    return (bce + kl) / x.size(0)


def save_figures(model, x_test, out_dir, n=10):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no pictures")
        return
    model.eval()
    with torch.no_grad():
        recon = model.decoder(model.posterior(x_test[:n]).loc)  # the mean of q(z|x)
        samples = model.decoder(torch.randn(4 * n, model.latent))
    rows = [("original", x_test[:n]), ("reconstruction", recon)]
    fig, axes = plt.subplots(2, n, figsize=(n * 0.9, 2.2))
    for r, (title, imgs) in enumerate(rows):
        for c, img in enumerate(imgs.view(-1, 8, 8).numpy()):
            axes[r, c].imshow(img, cmap="gray_r", vmin=0, vmax=1)
            axes[r, c].axis("off")
        axes[r, 0].set_title(title, fontsize=8, loc="left")
    fig.tight_layout()
    path = os.path.join(out_dir, "vae_reconstructions.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"reconstructions written to {path}")
    fig, axes = plt.subplots(4, n, figsize=(n * 0.9, 4 * 0.9))
    for ax, img in zip(axes.flat, samples.view(-1, 8, 8).numpy()):
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
    fig.suptitle("sampled from the prior")
    fig.tight_layout()
    path = os.path.join(out_dir, "vae_samples.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"samples written to {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="outputs", help="default: ./outputs")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    x = (load_digits().data / 16.0).astype(np.float32)
    x_train, x_test = train_test_split(x, test_size=0.2, random_state=args.seed)
    x_train, x_test = torch.tensor(x_train), torch.tensor(x_test)
    loader = DataLoader(TensorDataset(x_train), batch_size=args.batch_size, shuffle=True)
    model = VAE(latent=args.latent)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    train_losses, test_losses = [], []
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        with tqdm(
            total=len(loader), desc=f"epoch {epoch + 1:2d}/{args.epochs}", leave=False
        ) as bar:
            for (xb,) in loader:
                recon, q = model(xb)
                loss = vae_loss(recon, xb, q)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(xb)
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.2f}")
        model.eval()
        with torch.no_grad():
            recon, q = model(x_test)
            test_losses.append(vae_loss(recon, x_test, q).item())
        train_losses.append(total / len(x_train))
        tqdm.write(
            f"epoch {epoch + 1:3d}  train loss {train_losses[-1]:.3f}  "
            f"test loss {test_losses[-1]:.3f}"
        )
    minutes = (time.perf_counter() - start) / 60
    print(
        f"trained {args.epochs} epochs in {minutes:.1f} min; test loss (negative ELBO, nats "
        f"per image) {test_losses[-1]:.3f}"
    )

    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    save_figures(model, x_test, out_dir)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, args.epochs + 1), train_losses, label="train")
    ax.plot(range(1, args.epochs + 1), test_losses, label="test")
    ax.set(xlabel="epoch", ylabel="negative ELBO (nats/image)", title="VAE on digits")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(out_dir, "vae_digits_loss.png")
    fig.savefig(path, dpi=100)
    print(f"loss curves written to {path}")


if __name__ == "__main__":
    main()
