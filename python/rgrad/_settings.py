"""Process-wide settings that training scripts set up front (threads, determinism, default
dtype, matmul precision). rgrad's kernels are deterministic and float32 is its only default
float dtype, so most of them are recorded for the getters and change nothing."""

import os

from rgrad import _rgrad

__all__ = [
    "are_deterministic_algorithms_enabled",
    "get_default_dtype",
    "get_float32_matmul_precision",
    "get_num_threads",
    "is_deterministic_algorithms_warn_only_enabled",
    "set_default_dtype",
    "set_float32_matmul_precision",
    "set_num_threads",
    "use_deterministic_algorithms",
]

_state = {"deterministic": False, "warn_only": False, "precision": "highest", "threads": None}


def use_deterministic_algorithms(mode, *, warn_only=False):
    _state["deterministic"] = bool(mode)
    _state["warn_only"] = bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    return _state["warn_only"]


def set_float32_matmul_precision(precision):
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid precision: {precision}")
    _state["precision"] = precision


def get_float32_matmul_precision():
    return _state["precision"]


def set_num_threads(num):
    """The kernels' pool is sized once, at its first use: the count applies if that is later
    (capped at the number of cores, which compute kernels cannot use more than)."""
    if not isinstance(num, int) or num < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    if num > 2**63 - 1:
        raise ValueError("Overflow when unpacking long long")  # PyTorch's int64 argument
    _rgrad._set_num_threads(num)
    _state["threads"] = num


def get_num_threads():
    if _state["threads"] is not None:
        return _state["threads"]
    return int(os.environ.get("RAYON_NUM_THREADS") or os.cpu_count() or 1)


def get_default_dtype():
    return _rgrad.float32


def set_default_dtype(d):
    """Only float32 is supported: the core's factories create float32 tensors."""
    if d != _rgrad.float32:
        if isinstance(d, _rgrad.dtype) and d.is_floating_point:
            raise NotImplementedError(
                f"rgrad cannot change the default dtype; pass dtype=rgrad.{str(d)[6:]} to the "
                "factories (or convert the model, e.g. .double() or .half()) instead"
            )
        raise TypeError("only floating-point types are supported as the default type")
