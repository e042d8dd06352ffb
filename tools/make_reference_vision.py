"""Reference numbers for tests/test_vision.py from torchvision (run with /work/torchenv/bin/python).

Writes tests/data/vision_transforms.npz (functional transforms on a PIL image, an ndarray and a
tensor image) and tests/data/vision_utils.npz (make_grid / save_image). Inputs are stored too,
so the tests feed rgrad exactly what torchvision got.
"""

import io
import pathlib

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
import torchvision.utils as U
from PIL import Image

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"


def arr(x):
    if isinstance(x, Image.Image):
        return np.asarray(x).copy()
    if isinstance(x, torch.Tensor):
        return x.detach().numpy().copy()
    return np.asarray(x)


def transforms_reference():
    rng = np.random.RandomState(1234)
    rgb = rng.randint(0, 256, (23, 31, 3), dtype=np.uint8)
    gray = rng.randint(0, 256, (9, 7), dtype=np.uint8)
    img = Image.fromarray(rgb)
    gimg = Image.fromarray(gray)
    timg = F.to_tensor(img)
    signed = torch.from_numpy(rng.randn(3, 5, 6).astype(np.float32))  # FakeData-like floats
    ref = {"rgb": rgb, "gray": gray, "signed": signed.numpy()}

    ref["to_tensor_pil"] = arr(F.to_tensor(img))
    ref["to_tensor_gray"] = arr(F.to_tensor(gimg))
    ref["to_tensor_ndarray"] = arr(F.to_tensor(rgb))
    ref["to_tensor_ndarray2d"] = arr(F.to_tensor(gray))
    ref["to_tensor_float_ndarray"] = arr(F.to_tensor(rgb.astype(np.float64) / 7))
    ref["pil_to_tensor"] = arr(F.pil_to_tensor(img))
    ref["to_pil_float"] = arr(F.to_pil_image(timg))
    ref["to_pil_signed"] = arr(F.to_pil_image(signed))
    ref["to_pil_gray_float"] = arr(F.to_pil_image(timg[:1]))
    ref["normalize"] = arr(F.normalize(timg, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))
    ref["convert_float_int32"] = arr(F.convert_image_dtype(timg.double(), torch.int32))
    for name, size in (("resize_int", 12), ("resize_tuple", (9, 17)), ("resize_up", 40)):
        ref[name] = arr(F.resize(img, size))
    ref["resize_nearest"] = arr(F.resize(img, (10, 13), T.InterpolationMode.NEAREST))
    ref["resize_bicubic"] = arr(F.resize(img, (10, 13), T.InterpolationMode.BICUBIC))
    ref["resize_max_size"] = arr(F.resize(img, 12, max_size=14))
    ref["center_crop"] = arr(F.center_crop(img, 10))
    ref["center_crop_rect"] = arr(F.center_crop(img, (7, 12)))
    ref["center_crop_pad"] = arr(F.center_crop(img, (30, 40)))
    ref["center_crop_tensor"] = arr(F.center_crop(timg, (30, 12)))
    ref["crop"] = arr(F.crop(img, 3, 4, 10, 12))
    ref["crop_tensor_outside"] = arr(F.crop(timg, -2, 25, 8, 9))
    ref["hflip"] = arr(F.hflip(img))
    ref["vflip"] = arr(F.vflip(img))
    ref["hflip_tensor"] = arr(F.hflip(timg))
    ref["vflip_tensor"] = arr(F.vflip(timg))
    for mode in ("constant", "edge", "reflect", "symmetric"):
        ref[f"pad_{mode}"] = arr(F.pad(img, [1, 2, 3, 4], fill=7, padding_mode=mode))
        ref[f"pad_{mode}_tensor"] = arr(F.pad(timg, [3, 1], fill=0.5, padding_mode=mode))
    ref["pad_fill_rgb"] = arr(F.pad(img, 2, fill=(10, 20, 30)))
    ref["resized_crop"] = arr(F.resized_crop(img, 2, 3, 15, 20, [8, 8]))
    for f in (0.0, 0.5, 1.7):
        tag = str(f).replace(".", "_")
        ref[f"brightness_{tag}"] = arr(F.adjust_brightness(img, f))
        ref[f"contrast_{tag}"] = arr(F.adjust_contrast(img, f))
        ref[f"saturation_{tag}"] = arr(F.adjust_saturation(img, f))
        ref[f"brightness_{tag}_tensor"] = arr(F.adjust_brightness(timg, f))
        ref[f"contrast_{tag}_tensor"] = arr(F.adjust_contrast(timg, f))
        ref[f"saturation_{tag}_tensor"] = arr(F.adjust_saturation(timg, f))
    for h in (-0.3, 0.1, 0.5):
        ref[f"hue_{str(h).replace('.', '_').replace('-', 'm')}"] = arr(F.adjust_hue(img, h))
    ref["contrast_gray"] = arr(F.adjust_contrast(gimg, 0.3))
    ref["grayscale_tensor"] = arr(F.rgb_to_grayscale(timg))
    # RandomResizedCrop's deterministic fallback (no try fits): a wide and a tall image.
    wide = torch.zeros(3, 10, 50)
    tall = torch.zeros(3, 50, 10)
    ref["rrc_fallback_wide"] = np.array(
        T.RandomResizedCrop.get_params(wide, [2.0, 3.0], [0.75, 4 / 3])
    )
    ref["rrc_fallback_tall"] = np.array(
        T.RandomResizedCrop.get_params(tall, [2.0, 3.0], [0.75, 4 / 3])
    )
    ref["rrc_fallback_square"] = np.array(
        T.RandomResizedCrop.get_params(torch.zeros(3, 9, 9), [2.0, 3.0], [0.75, 4 / 3])
    )
    reprs = [
        T.Compose([T.ToTensor(), T.Normalize(mean=[0.5, 0.25], std=(0.1, 0.2))]),
        T.Resize((3, 4)),
        T.Resize(5, interpolation=T.InterpolationMode.NEAREST, max_size=9, antialias=False),
        T.CenterCrop(4),
        T.RandomCrop(5, padding=2, pad_if_needed=True),
        T.RandomResizedCrop((5, 6), scale=(0.3, 0.9), ratio=(0.5, 2.0)),
        T.RandomHorizontalFlip(),
        T.RandomVerticalFlip(0.3),
        T.ColorJitter(brightness=0.2, contrast=(0.5, 1.5), saturation=0, hue=0.1),
        T.Lambda(lambda x: x),
        T.ToPILImage(),
        T.ToPILImage(mode="RGB"),
        T.PILToTensor(),
        T.ConvertImageDtype(torch.float64),
        T.Pad((1, 2), fill=3, padding_mode="edge"),
    ]
    ref["reprs"] = np.array([repr(r) for r in reprs])
    np.savez_compressed(OUT / "vision_transforms.npz", **ref)


def utils_reference():
    g = torch.Generator().manual_seed(7)
    batch = torch.randn(5, 3, 4, 6, generator=g, dtype=torch.float64)
    gray = torch.rand(3, 1, 5, 5, generator=g, dtype=torch.float64)
    ref = {"batch": batch.numpy(), "gray": gray.numpy()}
    ref["grid_default"] = arr(U.make_grid(batch))
    ref["grid_nrow2"] = arr(U.make_grid(batch, nrow=2, padding=1, pad_value=0.5))
    ref["grid_pad0"] = arr(U.make_grid(batch, nrow=3, padding=0))
    ref["grid_norm"] = arr(U.make_grid(batch, nrow=2, normalize=True))
    ref["grid_range"] = arr(U.make_grid(batch, normalize=True, value_range=(-1.0, 0.5)))
    ref["grid_each"] = arr(U.make_grid(batch, nrow=4, normalize=True, scale_each=True))
    ref["grid_gray"] = arr(U.make_grid(gray, nrow=2))
    ref["grid_single"] = arr(U.make_grid(gray[0]))
    ref["grid_list"] = arr(U.make_grid(list(batch[:3]), padding=3))
    buf = io.BytesIO()
    U.save_image(batch[:4].clamp(-0.2, 1.2), buf, format="png", nrow=2, padding=1)
    ref["saved_png"] = np.asarray(Image.open(io.BytesIO(buf.getvalue()))).copy()
    buf = io.BytesIO()
    U.save_image(batch, buf, format="png", normalize=True)
    ref["saved_png_norm"] = np.asarray(Image.open(io.BytesIO(buf.getvalue()))).copy()
    np.savez_compressed(OUT / "vision_utils.npz", **ref)


if __name__ == "__main__":
    transforms_reference()
    utils_reference()
