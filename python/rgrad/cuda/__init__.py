"""``rgrad.cuda``: rgrad has no CUDA backend, so code that probes for one falls back to the CPU
(``device = "cuda" if torch.cuda.is_available() else "cpu"``)."""

__all__ = [
    "amp",
    "current_device",
    "device_count",
    "empty_cache",
    "is_available",
    "is_bf16_supported",
    "manual_seed",
    "manual_seed_all",
    "max_memory_allocated",
    "memory_allocated",
    "memory_reserved",
    "reset_peak_memory_stats",
    "synchronize",
]


def is_available():
    return False


def device_count():
    return 0


def manual_seed(seed):
    """Accepted and ignored: there is no CUDA generator to seed."""


def manual_seed_all(seed):
    """Accepted and ignored: there is no CUDA generator to seed."""


def synchronize(device=None):
    """Nothing to wait for."""


def empty_cache():
    """Nothing is cached: there is no CUDA memory."""


def memory_allocated(device=None):
    return 0


def max_memory_allocated(device=None):
    return 0


def memory_reserved(device=None):
    return 0


def reset_peak_memory_stats(device=None):
    """Nothing to reset."""


def current_device():
    # PyTorch raises here too when no CUDA device exists.
    raise RuntimeError("No CUDA GPUs are available")


def is_bf16_supported(including_emulation=True):
    return False


from rgrad.cuda import amp  # noqa: E402  (GradScaler/autocast, which disable themselves)
