"""``rgrad.cuda``: rgrad has no CUDA backend, so code that probes for one falls back to the CPU
(``device = "cuda" if torch.cuda.is_available() else "cpu"``)."""

__all__ = ["device_count", "is_available", "manual_seed", "manual_seed_all", "synchronize"]


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
