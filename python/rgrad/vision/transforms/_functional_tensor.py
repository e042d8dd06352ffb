"""The tensor side of ``transforms.functional`` (torchvision's ``_functional_tensor``): images
are rgrad tensors of shape ``[..., C, H, W]`` and every step is a tensor op."""

from __future__ import annotations

import rgrad
import rgrad.nn.functional as _nnF

__all__ = [
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "convert_image_dtype",
    "crop",
    "get_dimensions",
    "hflip",
    "normalize",
    "pad",
    "resize",
    "rgb_to_grayscale",
    "vflip",
]

_FLOAT_DTYPES = (rgrad.float32, rgrad.float64)


def _is_tensor_a_torch_image(x):
    return x.ndim >= 2


def _assert_image_tensor(img):
    if not _is_tensor_a_torch_image(img):
        raise TypeError("Tensor is not a torch image.")


def get_dimensions(img):
    _assert_image_tensor(img)
    channels = 1 if img.ndim == 2 else img.shape[-3]
    height, width = img.shape[-2:]
    return [channels, height, width]


def _max_value(dtype):
    # rgrad has no 8- or 16-bit integer dtypes; these are torchvision's values for the rest.
    if dtype == rgrad.int32:
        return 2147483647
    if dtype == rgrad.int64:
        return 9223372036854775807
    return 1


def _assert_channels(img, permitted):
    c = get_dimensions(img)[0]
    if c not in permitted:
        raise TypeError(
            f"Input image tensor permitted channel values are {permitted}, but found {c}"
        )


def convert_image_dtype(image, dtype=rgrad.float):
    if image.dtype == dtype:
        return image
    if image.is_floating_point():
        if dtype in _FLOAT_DTYPES:
            return image.to(dtype)
        if (image.dtype == rgrad.float32 and dtype in (rgrad.int32, rgrad.int64)) or (
            image.dtype == rgrad.float64 and dtype == rgrad.int64
        ):
            raise RuntimeError(
                f"The cast from {image.dtype} to {dtype} cannot be performed safely."
            )
        # max + 1 - eps spreads [0, 1] evenly over the integers (torchvision PR 2078).
        eps = 1e-3
        max_val = float(_max_value(dtype))
        return image.mul(max_val + 1.0 - eps).to(dtype)
    input_max = float(_max_value(image.dtype))
    if dtype in _FLOAT_DTYPES:
        return image.to(dtype) / input_max
    output_max = float(_max_value(dtype))
    if input_max > output_max:
        factor = int((input_max + 1) // (output_max + 1))
        return (image // factor).to(dtype)
    factor = int((output_max + 1) // (input_max + 1))
    return image.to(dtype) * factor


def normalize(tensor, mean, std, inplace=False):
    _assert_image_tensor(tensor)
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError(
            "Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = "
            f"{tensor.size()}"
        )
    if not inplace:
        tensor = tensor.clone()
    dtype = tensor.dtype
    mean = rgrad.as_tensor(mean, dtype=dtype, device=tensor.device)
    std = rgrad.as_tensor(std, dtype=dtype, device=tensor.device)
    if (std == 0).any():
        raise ValueError(
            f"std evaluated to zero after conversion to {dtype}, leading to division by zero."
        )
    if mean.ndim == 1:
        mean = mean.view(-1, 1, 1)
    if std.ndim == 1:
        std = std.view(-1, 1, 1)
    return tensor.sub_(mean).div_(std)


def hflip(img):
    _assert_image_tensor(img)
    return img.flip(-1)


def vflip(img):
    _assert_image_tensor(img)
    return img.flip(-2)


def _parse_pad_padding(padding):
    if isinstance(padding, int):
        pad_left = pad_right = pad_top = pad_bottom = padding
    elif len(padding) == 1:
        pad_left = pad_right = pad_top = pad_bottom = padding[0]
    elif len(padding) == 2:
        pad_left = pad_right = padding[0]
        pad_top = pad_bottom = padding[1]
    else:
        pad_left, pad_top, pad_right, pad_bottom = padding
    return [pad_left, pad_right, pad_top, pad_bottom]


def _pad_symmetric(img, padding):
    # Gathers with edge-repeating reflected indices, as torchvision's _pad_symmetric.
    if padding[0] < 0 or padding[1] < 0 or padding[2] < 0 or padding[3] < 0:
        neg_min_padding = [-min(x, 0) for x in padding]
        crop_left, crop_right, crop_top, crop_bottom = neg_min_padding
        img = img[
            ..., crop_top : img.shape[-2] - crop_bottom, crop_left : img.shape[-1] - crop_right
        ]
        padding = [max(x, 0) for x in padding]
    in_sizes = img.size()
    out = img
    for dim, (left, right) in ((-1, padding[0:2]), (-2, padding[2:4])):
        n = in_sizes[dim]
        idx = rgrad.arange(-left, n + right, dtype=rgrad.int64, device=img.device)
        idx = idx.where(idx >= 0, -idx - 1)
        idx = idx.where(idx < n, 2 * n - idx - 1)
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
            # torchvision's index lists run out of the image too (an IndexError there).
            raise IndexError(f"symmetric padding {left, right} is wider than the image ({n})")
        out = out.index_select(out.ndim + dim, idx)
    return out


def pad(img, padding, fill=0, padding_mode="constant"):
    _assert_image_tensor(img)
    if fill is None:
        fill = 0
    if not isinstance(padding, (int, tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if not isinstance(fill, (int, float)):
        raise TypeError("Got inappropriate fill arg")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if isinstance(padding, tuple):
        padding = list(padding)
    if isinstance(padding, list) and len(padding) not in [1, 2, 4]:
        raise ValueError(
            "Padding must be an int or a 1, 2, or 4 element tuple, "
            f"not a {len(padding)} element tuple"
        )
    if padding_mode not in ["constant", "edge", "reflect", "symmetric"]:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    p = _parse_pad_padding(padding)
    if padding_mode == "symmetric":
        return _pad_symmetric(img, p)
    mode = "replicate" if padding_mode == "edge" else padding_mode
    if mode == "constant":
        return _nnF.pad(img, p, mode="constant", value=float(fill))
    return _nnF.pad(img, p, mode=mode)


def crop(img, top, left, height, width):
    _assert_image_tensor(img)
    _, h, w = get_dimensions(img)
    right = left + width
    bottom = top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        padding_ltrb = [
            max(-left + min(0, right), 0),
            max(-top + min(0, bottom), 0),
            max(right - max(w, left), 0),
            max(bottom - max(h, top), 0),
        ]
        return pad(img[..., max(top, 0) : bottom, max(left, 0) : right], padding_ltrb, fill=0)
    return img[..., top:bottom, left:right]


def resize(img, size, interpolation="bilinear", antialias=True):
    _assert_image_tensor(img)
    interpolate = getattr(_nnF, "interpolate", None)
    if interpolate is None:
        raise NotImplementedError(
            "resizing a tensor image needs rgrad.nn.functional.interpolate, which rgrad does not "
            "have yet; resize the PIL image before ToTensor()"
        )
    size = list(size)
    squeeze = img.ndim == 3
    if squeeze:
        img = img.unsqueeze(0)
    elif img.ndim == 2:
        img = img.unsqueeze(0).unsqueeze(0)
    align_corners = False if interpolation in ("bilinear", "bicubic") else None
    kwargs = {"antialias": antialias} if interpolation in ("bilinear", "bicubic") else {}
    out = interpolate(img, size=size, mode=interpolation, align_corners=align_corners, **kwargs)
    if interpolation == "bicubic" and not out.is_floating_point():
        out = out.clamp(min=0, max=255)
    if squeeze:
        out = out.squeeze(0)
    return out


def rgb_to_grayscale(img, num_output_channels=1):
    if img.ndim < 3:
        raise TypeError(
            f"Input image tensor should have at least 3 dimensions, but found {img.ndim}"
        )
    _assert_channels(img, [1, 3])
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if img.shape[-3] == 3:
        r, g, b = img.unbind(dim=-3)
        l_img = (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype).unsqueeze(dim=-3)
    else:
        l_img = img.clone()
    if num_output_channels == 3:
        return l_img.expand(img.shape)
    return l_img


def _blend(img1, img2, ratio):
    ratio = float(ratio)
    bound = _max_value(img1.dtype)
    return (ratio * img1 + (1.0 - ratio) * img2).clamp(0, bound).to(img1.dtype)


def adjust_brightness(img, brightness_factor):
    if brightness_factor < 0:
        raise ValueError(f"brightness_factor ({brightness_factor}) is not non-negative.")
    _assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    return _blend(img, rgrad.zeros_like(img), brightness_factor)


def adjust_contrast(img, contrast_factor):
    if contrast_factor < 0:
        raise ValueError(f"contrast_factor ({contrast_factor}) is not non-negative.")
    _assert_image_tensor(img)
    _assert_channels(img, [3, 1])
    c = get_dimensions(img)[0]
    dtype = img.dtype if img.is_floating_point() else rgrad.float32
    gray = rgb_to_grayscale(img) if c == 3 else img
    mean = rgrad.mean(gray.to(dtype), dim=(-3, -2, -1), keepdim=True)
    return _blend(img, mean, contrast_factor)


def adjust_saturation(img, saturation_factor):
    if saturation_factor < 0:
        raise ValueError(f"saturation_factor ({saturation_factor}) is not non-negative.")
    _assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    if get_dimensions(img)[0] == 1:  # as Pillow: a grey image has no saturation
        return img
    return _blend(img, rgb_to_grayscale(img), saturation_factor)
