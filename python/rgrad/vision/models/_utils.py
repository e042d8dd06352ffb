"""Helpers shared by the models: the ``weights=`` argument, torchvision's
``_make_divisible`` and ``Conv2dNormActivation``."""

from __future__ import annotations

import os
from collections.abc import Mapping

import rgrad
from rgrad import nn

__all__ = ["Conv2dNormActivation", "load_weights"]


def load_weights(model, weights, progress=True):
    """Loads ``weights`` into ``model`` and returns it.

    ``weights`` is ``None`` (keep the random initialisation), a path to a checkpoint that
    ``rgrad.load`` reads (a state dict, or a dict holding one under ``"state_dict"``), or a
    state dict itself. There is no download: torchvision's pretrained weight enums are not
    available, so pass the path of a saved state dict. ``progress`` is accepted for
    torchvision's signature and unused.
    """
    del progress
    if weights is None:
        return model
    if isinstance(weights, (str, os.PathLike)):
        state = rgrad.load(weights, map_location="cpu")
    elif isinstance(weights, Mapping):
        state = weights
    else:
        raise TypeError(
            "weights should be None, the path of a checkpoint file or a state dict, got "
            f"{type(weights).__name__} (torchvision's weight enums are not available in rgrad)"
        )
    if (
        isinstance(state, Mapping)
        and "state_dict" in state
        and isinstance(state["state_dict"], Mapping)
    ):
        state = state["state_dict"]
    model.load_state_dict(state)
    return model


def _make_divisible(v, divisor, min_value=None):
    # torchvision's rounding of channel counts to a multiple of `divisor` (never 10% lower).
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class Conv2dNormActivation(nn.Sequential):
    """Conv2d, then a norm layer, then an activation, as torchvision.ops.misc's (keys
    ``0.weight``, ``1.weight``, ``1.running_mean``, ...)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        stride=1,
        padding=None,
        groups=1,
        norm_layer="default",
        activation_layer="default",
        dilation=1,
        inplace=True,
        bias=None,
    ):
        # torchvision's defaults are BatchNorm2d and ReLU; None means none. They are looked up
        # when a layer is built, not at import.
        if norm_layer == "default":
            norm_layer = nn.BatchNorm2d
        if activation_layer == "default":
            activation_layer = nn.ReLU
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                dilation=dilation,
                groups=groups,
                bias=bias,
            )
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels
