"""torchvision's model layouts and two forward passes, for tests/test_vision_models.py (run
with /work/torchenv/bin/python).

tests/data/vision_models.json: for each model (and a few num_classes / width variants) the
state_dict keys in order with their shapes and dtypes.
tests/data/vision_model_forward.npz: squeezenet1_1(num_classes=10) and
mobilenet_v2(width_mult=0.25, num_classes=10) with seeded random weights (BatchNorm affine
parameters randomised, running statistics from one pass over the input), their state_dicts
rounded to float16 to stay small, two inputs and the eval-mode outputs computed from exactly
those rounded weights.
tests/data/vision_mobilenet_v2_w025_c10.pt: that MobileNetV2's state_dict, saved by torch.save.
"""

import json
import pathlib

import numpy as np
import torch
import torchvision.models as M

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"

VARIANTS = {
    "resnet18": {},
    "resnet34": {},
    "resnet50": {},
    "vgg11": {},
    "vgg11_bn": {},
    "vgg16": {},
    "vgg16_bn": {},
    "mobilenet_v2": {},
    "alexnet": {},
    "squeezenet1_1": {},
    "resnet18_c10": {"num_classes": 10},
    "mobilenet_v2_w025_c10": {"num_classes": 10, "width_mult": 0.25},
    "squeezenet1_1_c10": {"num_classes": 10},
    "vgg11_bn_c10": {"num_classes": 10},
}


def base_name(key):
    for name in sorted(VARIANTS, key=len, reverse=True):
        if key.startswith(name) and name in dir(M):
            return name
    raise KeyError(key)


def listing():
    out = {}
    for key, kwargs in VARIANTS.items():
        model = getattr(M, base_name(key))(weights=None, **kwargs)
        out[key] = {
            "builder": base_name(key),
            "kwargs": kwargs,
            "state": [
                [k, list(v.shape), str(v.dtype).replace("torch.", "")]
                for k, v in model.state_dict().items()
            ],
            "num_params": sum(p.numel() for p in model.parameters()),
        }
    (OUT / "vision_models.json").write_text(json.dumps(out, indent=0) + "\n")


def rounded_state(model, x):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
        for v in model.state_dict().values():
            if v.is_floating_point():
                v.copy_(v.half().float())
        # Running statistics from the data itself (one cumulative pass), so eval-mode
        # activations stay in range instead of saturating ReLU6 into a constant output.
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None
                m.reset_running_stats()
        model.train()
        model(x)
        for v in model.state_dict().values():
            if v.is_floating_point():
                v.copy_(v.half().float())
    return {
        k: v.numpy().astype(np.float16) if v.is_floating_point() else v.numpy()
        for k, v in model.state_dict().items()
    }


def forward_reference():
    torch.manual_seed(0)
    ref = {}
    # Two inputs with different statistics (i.i.d. noise images all look alike after global
    # pooling): uniform noise, and a smooth colour pattern with a wider range.
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    pattern = torch.stack([torch.sin(3 * xx), torch.cos(2 * yy + xx), xx * yy]) * 2.0
    x = torch.stack([torch.rand(3, 64, 64), pattern])
    ref["input"] = x.numpy()
    for tag, builder, kwargs in (
        ("squeezenet", M.squeezenet1_1, {"num_classes": 10}),
        ("mobilenet", M.mobilenet_v2, {"num_classes": 10, "width_mult": 0.25}),
    ):
        model = builder(weights=None, **kwargs)
        state = rounded_state(model, x)
        model.eval()
        with torch.no_grad():
            ref[f"{tag}_out"] = model(x).numpy()
        if tag == "mobilenet":
            # The same (rounded) weights as a torch.save file, for rgrad.load.
            torch.save(model.state_dict(), OUT / "vision_mobilenet_v2_w025_c10.pt")
        for k, v in state.items():
            ref[f"{tag}/{k}"] = v
    np.savez_compressed(OUT / "vision_model_forward.npz", **ref)


if __name__ == "__main__":
    listing()
    forward_reference()
