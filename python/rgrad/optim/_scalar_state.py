"""Helpers for the 0-dim tensors optimizers keep in their state (``step``, NAdam's
``mu_product``, ASGD's ``eta`` and ``mu``), read and written once per parameter and step."""

from __future__ import annotations

import struct

import rgrad
from rgrad import Tensor
from rgrad.optim.optimizer import _default_scalar_dtype


def _round_to_float32(value: float) -> float:
    """The float32 number nearest to ``value``."""
    return struct.unpack("f", struct.pack("f", value))[0]


def _round_to(value: float, like: Tensor) -> float:
    """``value`` as the 0-dim tensor ``like`` stores it (float32 state rounds to nearest)."""
    if like.dtype == rgrad.float32:
        return _round_to_float32(value)
    return value


def _ensure_tensor_steps(optimizer, keys=("step",)) -> None:
    """Turns plain-number state entries ``keys`` (old state dicts) into 0-dim tensors."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            p_state = optimizer.state.get(p, [])
            if len(p_state) == 0:
                continue
            for key in keys:
                if key in p_state and not isinstance(p_state[key], Tensor):
                    p_state[key] = rgrad.tensor(float(p_state[key]), dtype=_default_scalar_dtype())


def _increment_steps(state_steps: list[Tensor]) -> list[float]:
    """Adds one to each step counter in place; the new counts as floats."""
    out = []
    for step in state_steps:
        step += 1
        out.append(float(step))
    return out


def _lr_value(lr) -> float:
    return float(lr.item()) if isinstance(lr, Tensor) else float(lr)
