"""PyTorch's ``gelu`` (both forms) and ``layer_norm`` values and gradients, into
tests/data/gelu_layer_norm.npz (run with the reference PyTorch:
``/work/torchenv/bin/python tools/make_reference_gelu_layer_norm.py``).

gelu: float32 and float64 over a wide range (a dense grid, tiny and huge magnitudes, +-0,
+-inf, NaN), the output and the input gradient for an upstream gradient of ones.
layer_norm: a few shapes (one or two normalized dims, with and without weight and bias), the
output, the saved mean and rstd, and the gradients of input, weight and bias for a given
upstream gradient."""

import pathlib

import numpy as np
import torch

F = torch.nn.functional


def gelu_inputs():
    grid = np.linspace(-12.0, 12.0, 4801)
    tiny = np.concatenate([10.0 ** np.arange(-38, -2, 0.5), -(10.0 ** np.arange(-38, -2, 0.5))])
    huge = np.array([20.0, 40.0, 1e3, 1e6, 1e15, 1e20, 1e30, 3e38])
    special = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 0.9277343, -0.9277343, 3.92, -3.92, 5.5, -5.5]
    )
    return np.concatenate([grid, tiny, huge, -huge, special])


LAYER_NORM_CASES = [
    # name, input shape, normalized shape, weight, bias
    ("rows_affine", (4, 5, 16), (16,), True, True),
    ("two_dims_weight_only", (3, 2, 6), (2, 6), True, False),
    ("bias_only", (6, 9), (9,), False, True),
    ("plain", (7, 33), (33,), False, False),
    ("wide_rows", (2, 3, 300), (300,), True, True),
]


def main():
    arrays = {}
    xs = gelu_inputs()
    arrays["gelu_x"] = xs
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).removeprefix("torch.")
        for form in ("none", "tanh"):
            x = torch.tensor(xs, dtype=dtype, requires_grad=True)
            y = F.gelu(x, approximate=form)
            (dx,) = torch.autograd.grad(y.sum(), x)
            arrays[f"gelu_{form}_{name}_y"] = y.detach().numpy()
            arrays[f"gelu_{form}_{name}_dx"] = dx.numpy()
    # The exact values at the float32 inputs (float64 arithmetic): PyTorch's own float32 gelu
    # is off by up to ~8 ulp of x/2 where `1 + erf` cancels (its vectorized erf).
    for form in ("none", "tanh"):
        x = torch.tensor(xs.astype(np.float32).astype(np.float64), requires_grad=True)
        y = F.gelu(x, approximate=form)
        (dx,) = torch.autograd.grad(y.sum(), x)
        arrays[f"gelu_{form}_float32_exact_y"] = y.detach().numpy()
        arrays[f"gelu_{form}_float32_exact_dx"] = dx.numpy()
    gen = torch.Generator().manual_seed(0)
    for name, shape, norm, has_w, has_b in LAYER_NORM_CASES:
        x = torch.randn(shape, generator=gen, dtype=torch.float64) * 3 + 1.5
        w = torch.randn(norm, generator=gen, dtype=torch.float64) if has_w else None
        b = torch.randn(norm, generator=gen, dtype=torch.float64) if has_b else None
        g = torch.randn(shape, generator=gen, dtype=torch.float64)
        arrays[f"ln_{name}_x"] = x.numpy()
        arrays[f"ln_{name}_g"] = g.numpy()
        if has_w:
            arrays[f"ln_{name}_w"] = w.numpy()
        if has_b:
            arrays[f"ln_{name}_b"] = b.numpy()
        xr = x.clone().requires_grad_()
        wr = w.clone().requires_grad_() if has_w else None
        br = b.clone().requires_grad_() if has_b else None
        out, mean, rstd = torch.ops.aten.native_layer_norm(xr, list(norm), wr, br, 1e-5)
        params = [t for t in (xr, wr, br) if t is not None]
        grads = torch.autograd.grad(out, params, g)
        arrays[f"ln_{name}_out"] = out.detach().numpy()
        arrays[f"ln_{name}_mean"] = mean.detach().numpy()
        arrays[f"ln_{name}_rstd"] = rstd.detach().numpy()
        for key, grad in zip(["dx"] + ["dw"] * has_w + ["db"] * has_b, grads):
            arrays[f"ln_{name}_{key}"] = grad.numpy()
    out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "gelu_layer_norm.npz"
    np.savez_compressed(out, torch_version=np.array(torch.__version__), **arrays)
    print(f"{len(arrays)} arrays -> {out}")


if __name__ == "__main__":
    main()
