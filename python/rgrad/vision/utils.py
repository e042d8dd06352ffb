"""``make_grid`` and ``save_image`` with torchvision's arguments and numbers
(``torchvision.utils``)."""

from __future__ import annotations

import math

import rgrad
import rgrad.nn.functional as _nnF

__all__ = ["make_grid", "save_image"]


def _as_batch(tensor):
    if not isinstance(tensor, rgrad.Tensor):
        if isinstance(tensor, list):
            for t in tensor:
                if not isinstance(t, rgrad.Tensor):
                    raise TypeError(
                        f"tensor or list of tensors expected, got a list containing {type(t)}"
                    )
        else:
            raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if isinstance(tensor, list):
        tensor = rgrad.stack(tensor, dim=0)
    if tensor.dim() == 2:  # one H x W image
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 3:  # one image; a grey one becomes three channels
        if tensor.size(0) == 1:
            tensor = rgrad.cat((tensor, tensor, tensor), 0)
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 4 and tensor.size(1) == 1:
        tensor = rgrad.cat((tensor, tensor, tensor), 1)
    return tensor


def _normalize(tensor, value_range, scale_each):
    if value_range is not None and not isinstance(value_range, tuple):
        raise TypeError(
            "value_range has to be a tuple (min, max) if specified. min and max are numbers"
        )
    if value_range is not None:
        low, high = value_range
        return tensor.clamp(min=low, max=high).sub(low).div(max(high - low, 1e-5))
    if scale_each:
        # Each image to its own [min, max], in one pass over the batch.
        flat = tensor.reshape(tensor.size(0), -1)
        low = flat.amin(dim=1).view(-1, 1, 1, 1)
        high = flat.amax(dim=1).view(-1, 1, 1, 1)
        return tensor.sub(low).div((high - low).clamp(min=1e-5))
    low, high = float(tensor.min()), float(tensor.max())
    return tensor.sub(low).div(max(high - low, 1e-5))


@rgrad.no_grad()
def make_grid(
    tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0
):
    """Tiles a ``B x C x H x W`` batch (or a list of images) into one ``C x H' x W'`` image,
    ``nrow`` images a row, ``padding`` pixels of ``pad_value`` around each; ``normalize``
    maps ``value_range`` (default: the min and max, per image with ``scale_each``) to [0, 1]."""
    tensor = _as_batch(tensor)
    if normalize is True:
        tensor = _normalize(tensor, value_range, scale_each)
    if tensor.size(0) == 1:
        return tensor.squeeze(0)

    nmaps, num_channels, h, w = (int(s) for s in tensor.shape)
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    # Each tile is the image with `padding` before it on both axes; the missing tiles of the
    # last row and the closing border are pad_value. The tiles are laid out by one reshape.
    fill = float(pad_value)
    tiles = _nnF.pad(tensor, (padding, 0, padding, 0), mode="constant", value=fill)
    missing = xmaps * ymaps - nmaps
    if missing:
        blank = rgrad.full(
            (missing, num_channels, h + padding, w + padding),
            fill,
            dtype=tensor.dtype,
            device=tensor.device,
        )
        tiles = rgrad.cat((tiles, blank), 0)
    grid = tiles.reshape(ymaps, xmaps, num_channels, h + padding, w + padding)
    grid = grid.permute(2, 0, 3, 1, 4).reshape(
        num_channels, ymaps * (h + padding), xmaps * (w + padding)
    )
    return _nnF.pad(grid, (0, padding, 0, padding), mode="constant", value=fill)


@rgrad.no_grad()
def save_image(tensor, fp, format=None, **kwargs):
    """Saves ``make_grid(tensor, **kwargs)`` (values in [0, 1]) as an 8-bit image with
    Pillow; ``format`` as ``PIL.Image.save``'s."""
    from PIL import Image

    grid = make_grid(tensor, **kwargs)
    # +0.5 rounds to the nearest integer after scaling to [0, 255]; the int64 cast truncates
    # as PyTorch's uint8 cast does for values in range (rgrad has no uint8).
    scaled = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu").to(rgrad.int64)
    ndarr = scaled.numpy().astype("uint8")
    im = Image.fromarray(ndarr)
    im.save(fp, format=format)
