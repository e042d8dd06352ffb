"""Transfer learning with rgrad, as a PyTorch user does it: pretrain a small CNN on the digits
0-4 (scikit-learn's 8x8 images; nothing is downloaded), save it in PyTorch's checkpoint format,
load it back, freeze the backbone with ``requires_grad_(False)``, replace the head, and
fine-tune on the digits 5-9, the last convolution unfrozen and trained with a smaller learning
rate than the new head (two parameter groups). Prints both accuracies.

    pip install ".[examples]"
    python examples/transfer_learning.py [--epochs 8] [--out DIR]

With ``--weights resnet18.pth`` (a torchvision ResNet-18 checkpoint you have, e.g. saved with
``torch.save(torchvision.models.resnet18(weights="DEFAULT").state_dict(), "resnet18.pth")``)
it fine-tunes ``rgrad.vision.models.resnet18`` with those weights on the digits 5-9 instead:
its ``fc`` replaced, everything but ``layer4`` frozen.
"""

import argparse
import os
import sys

import numpy as np

import rgrad as torch
import rgrad.nn as nn
from rgrad.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnn_digits import accuracy, load_images, make_model, train  # noqa: E402


def loader_of(x, y, shuffle=True):
    return DataLoader(
        TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=32, shuffle=shuffle
    )


def small_cnn(args):
    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)

    # 1. Pretrain on 0-4.
    x_tr, x_te, y_tr, y_te = load_images(args.seed, classes=[0, 1, 2, 3, 4])
    model = make_model(num_classes=5)
    train(
        model,
        loader_of(x_tr, y_tr),
        torch.optim.Adam(model.parameters(), lr=2e-3),
        args.epochs,
        "cpu",
        "pretrain",
    )
    acc_pre = accuracy(model, torch.tensor(x_te), torch.tensor(y_te))
    path = os.path.join(out_dir, "pretrained_digits_0to4.pt")
    torch.save(model.state_dict(), path)  # PyTorch's zip format
    print(f"pretrained on 0-4: test accuracy {acc_pre * 100:.2f}%; saved to {path}")

    # 2. Load it back into a fresh network.
    model = make_model(num_classes=5)
    model.load_state_dict(torch.load(path, map_location="cpu"))
    backbone_before = model[0].weight.detach().clone()

    # 3. Freeze the backbone, replace the head, unfreeze the last convolution.
    for p in model.parameters():
        p.requires_grad_(False)
    model[8] = nn.Linear(64 * 4 * 4, 5)  # new head for the digits 5-9 (labels 0-4)
    last_conv = model[4]
    for p in last_conv.parameters():
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(
        [
            {"params": model[8].parameters(), "lr": 2e-3},
            {"params": last_conv.parameters(), "lr": 2e-4},  # pretrained: small steps
        ]
    )
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(f"fine-tuning {trainable} of {total} parameters (head lr 2e-3, last conv lr 2e-4)")

    # 4. Fine-tune on 5-9.
    x_tr, x_te, y_tr, y_te = load_images(args.seed, classes=[5, 6, 7, 8, 9])
    train(model, loader_of(x_tr, y_tr - 5), optimizer, args.epochs, "cpu", "fine-tune")
    acc_ft = accuracy(model, torch.tensor(x_te), torch.tensor(y_te - 5))
    frozen = torch.equal(model[0].weight, backbone_before)
    print(
        f"fine-tuned on 5-9: test accuracy {acc_ft * 100:.2f}%; frozen layers unchanged: {frozen}"
    )
    if not frozen:
        raise SystemExit("a frozen layer changed during fine-tuning")


def resnet18(args):
    try:
        from rgrad.vision import models
    except ImportError:
        raise SystemExit(
            "--weights needs rgrad.vision (rgrad.vision.models.resnet18), which this rgrad "
            "does not have; run without --weights for the small CNN"
        ) from None
    try:
        model = models.resnet18()
    except AttributeError as e:  # a layer this rgrad lacks (nn.MaxPool2d, nn.BatchNorm2d)
        raise SystemExit(f"rgrad.vision.models.resnet18 cannot be built here: {e}") from None
    model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    print(f"loaded {args.weights}")
    for p in model.parameters():
        p.requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, 5)
    for p in model.layer4.parameters():
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(
        [
            {"params": model.fc.parameters(), "lr": 1e-3},
            {"params": model.layer4.parameters(), "lr": 1e-4},
        ]
    )
    x_tr, x_te, y_tr, y_te = load_images(args.seed, classes=[5, 6, 7, 8, 9])

    def rgb(x):  # grey 8x8 -> 3 x 32 x 32, ImageNet's normalisation
        x = np.repeat(np.repeat(np.repeat(x, 3, axis=1), 4, axis=2), 4, axis=3)
        mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
        std = np.array([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]
        return ((x - mean) / std).astype(np.float32)

    train(model, loader_of(rgb(x_tr), y_tr - 5), optimizer, args.epochs, "cpu", "fine-tune")
    acc = accuracy(model, torch.tensor(rgb(x_te)), torch.tensor(y_te - 5))
    print(f"resnet18 fine-tuned on 5-9: test accuracy {acc * 100:.2f}%")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", default="outputs", help="default: ./outputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", help="a torchvision resnet18 checkpoint (.pth)")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    if args.weights:
        resnet18(args)
    else:
        small_cnn(args)


if __name__ == "__main__":
    main()
