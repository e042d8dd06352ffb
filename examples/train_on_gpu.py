"""Trains a small MLP on scikit-learn's digits on the GPU (rgrad's wgpu device) when one is
available, else on the CPU: the same PyTorch-style program, with the model and each batch moved
to `device`.

    python examples/train_on_gpu.py            # wgpu if available, else cpu
    python examples/train_on_gpu.py --device cpu

Without a GPU, Mesa's software Vulkan driver serves as the adapter (Debian:
`apt-get install mesa-vulkan-drivers`, then
`VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json`).
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import rgrad as torch
import rgrad.nn as nn
from rgrad.utils.data import DataLoader, TensorDataset


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", help="wgpu or cpu (default: wgpu if an adapter opens)")
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    # Probed only when no device is named: `--device cpu` never starts the GPU driver.
    device = torch.device(args.device or ("wgpu" if torch.wgpu.is_available() else "cpu"))
    if device.type == "wgpu":
        print(f"device: wgpu ({torch.wgpu.adapter_name()})")
    else:
        print("device: cpu")

    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        (x / 16.0).astype(np.float32), y, test_size=0.25, random_state=0
    )
    train = TensorDataset(torch.tensor(x_train), torch.tensor(y_train))
    loader = DataLoader(train, batch_size=64, shuffle=True)

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        total = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        if epoch % 5 == 4 or epoch == args.epochs - 1:
            print(f"epoch {epoch + 1}: loss {total / len(train):.4f}")

    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor(x_test).to(device))
        pred = logits.argmax(dim=1).cpu().numpy()
    accuracy = (pred == y_test).mean()
    print(f"test accuracy on {device}: {accuracy:.1%}")
    assert accuracy > 0.9, "the model should have learned the digits"


if __name__ == "__main__":
    main()
