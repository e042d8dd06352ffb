"""``rgrad.accelerator``: PyTorch's device-agnostic probe (``torch.accelerator``). rgrad's
accelerator is its wgpu backend, so code written as

    device = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else "cpu"

runs on the GPU (or Mesa's llvmpipe) wherever a wgpu adapter exists, and on the CPU elsewhere.
"""

from rgrad import _rgrad

__all__ = [
    "current_accelerator",
    "current_device_index",
    "device_count",
    "is_available",
    "synchronize",
]


def is_available():
    """Whether a wgpu adapter can be opened (the first call opens it)."""
    return _rgrad._wgpu_is_available()


def device_count():
    return 1 if is_available() else 0


def current_accelerator(check_available=False):
    """``rgrad.device("wgpu")`` when an adapter is present, else ``None`` (as PyTorch on a
    machine without an accelerator)."""
    return _rgrad.device("wgpu") if is_available() else None


def current_device_index():
    return 0 if is_available() else -1


def synchronize(device=None):
    """Waits until every queued wgpu kernel has run."""
    if is_available():
        _rgrad._wgpu_synchronize()
