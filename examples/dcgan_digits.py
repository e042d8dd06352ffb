"""A DCGAN trained on scikit-learn's bundled digits (8x8 images upsampled to 16x16; nothing is
downloaded), written as PyTorch's DCGAN tutorial writes it: a generator of ConvTranspose2d +
BatchNorm2d + ReLU layers ending in Tanh, a discriminator of strided Conv2d + BatchNorm2d +
LeakyReLU ending in a sigmoid, weights drawn from N(0, 0.02), BCELoss and two Adam optimizers
with betas=(0.5, 0.999). Each step trains the discriminator on a real batch and on a fake one
(``fake.detach()``, so that step leaves the generator's gradients alone), then the generator to
make the discriminator answer "real". It prints both losses per epoch (with a tqdm bar) and
writes a grid of generated digits and the loss curves to --out (./outputs by default, which
git ignores).

    pip install ".[examples]"      # scikit-learn, tqdm, matplotlib
    python examples/dcgan_digits.py [--epochs 30] [--seed 0] [--out DIR]
"""

import argparse
import os
import time

import numpy as np
from sklearn.datasets import load_digits
from tqdm import tqdm

import rgrad as torch
import rgrad.nn as nn
import rgrad.nn.functional as F
import rgrad.optim as optim
from rgrad.utils.data import DataLoader, TensorDataset

NZ = 32  # size of the latent vector
NGF = 32  # generator feature maps
NDF = 32  # discriminator feature maps


class Generator(nn.Module):
    def __init__(self, nz=NZ, ngf=NGF):
        super().__init__()
        self.main = nn.Sequential(
            # nz x 1 x 1 -> (ngf*2) x 4 x 4
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # -> ngf x 8 x 8
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            # -> 1 x 16 x 16, in [-1, 1]
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self, ndf=NDF):
        super().__init__()
        self.main = nn.Sequential(
            # 1 x 16 x 16 -> ndf x 8 x 8
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # -> (ndf*2) x 4 x 4
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # -> 1 x 1 x 1: the probability that the image is real
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x).view(-1)


def weights_init(m):
    """The DCGAN paper's initialisation: convolutions from N(0, 0.02), BatchNorm scales from
    N(1, 0.02) and zero shifts."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def load_images():
    """The 1797 digits as N x 1 x 16 x 16 float32 in [-1, 1] (bilinear upsampling of 8x8)."""
    x = torch.tensor((load_digits().images / 16.0).astype(np.float32)).unsqueeze(1)
    x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    return x * 2 - 1


def save_grid(images, path, rows=8):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no image grid")
        return False
    imgs = ((images.squeeze(1) + 1) / 2).clamp(0, 1).numpy()
    cols = len(imgs) // rows
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.8, rows * 0.8))
    for ax, img in zip(axes.flat, imgs):
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
    fig.suptitle("DCGAN samples")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"generated digits written to {path}")
    return True


def save_losses(g_losses, d_losses, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(g_losses) + 1), g_losses, marker="o", label="generator")
    ax.plot(range(1, len(d_losses) + 1), d_losses, marker="o", label="discriminator")
    ax.set(xlabel="epoch", ylabel="BCE loss", title="DCGAN on digits")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"loss curves written to {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--limit", type=int, default=None, help="use only this many images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="outputs", help="default: ./outputs")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    data = load_images()[: args.limit]
    loader = DataLoader(
        TensorDataset(data), batch_size=args.batch_size, shuffle=True, drop_last=True
    )
    net_g, net_d = Generator(), Discriminator()
    net_g.apply(weights_init)
    net_d.apply(weights_init)
    criterion = nn.BCELoss()
    fixed_noise = torch.randn(64, NZ, 1, 1)
    real_label, fake_label = 1.0, 0.0
    opt_d = optim.Adam(net_d.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_g = optim.Adam(net_g.parameters(), lr=args.lr, betas=(0.5, 0.999))

    g_losses, d_losses = [], []
    start = time.perf_counter()
    for epoch in range(args.epochs):
        sum_d = sum_g = 0.0
        bar = tqdm(loader, desc=f"epoch {epoch + 1:2d}/{args.epochs}", leave=False)
        for (real,) in bar:
            b = real.size(0)
            # (1) the discriminator: maximize log(D(x)) + log(1 - D(G(z)))
            net_d.zero_grad()
            label = torch.full((b,), real_label)
            err_d_real = criterion(net_d(real), label)
            err_d_real.backward()
            fake = net_g(torch.randn(b, NZ, 1, 1))
            label.fill_(fake_label)
            err_d_fake = criterion(net_d(fake.detach()), label)
            err_d_fake.backward()
            opt_d.step()
            # (2) the generator: maximize log(D(G(z))) (real labels for the fakes)
            net_g.zero_grad()
            label.fill_(real_label)
            err_g = criterion(net_d(fake), label)
            err_g.backward()
            opt_g.step()
            sum_d += (err_d_real + err_d_fake).item()
            sum_g += err_g.item()
            bar.set_postfix(
                loss_d=f"{sum_d / (bar.n + 1):.3f}", loss_g=f"{sum_g / (bar.n + 1):.3f}"
            )
        d_losses.append(sum_d / len(loader))
        g_losses.append(sum_g / len(loader))
        tqdm.write(f"epoch {epoch + 1:3d}  loss_D {d_losses[-1]:.4f}  loss_G {g_losses[-1]:.4f}")
    minutes = (time.perf_counter() - start) / 60
    print(f"trained {args.epochs} epochs in {minutes:.1f} min")

    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    net_g.eval()
    with torch.no_grad():
        samples = net_g(fixed_noise)
    save_grid(samples, os.path.join(out_dir, "dcgan_digits.png"))
    save_losses(g_losses, d_losses, os.path.join(out_dir, "dcgan_digits_loss.png"))


if __name__ == "__main__":
    main()
