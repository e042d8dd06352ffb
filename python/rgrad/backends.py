"""``rgrad.backends``: the switches that reproducibility boilerplate sets
(``torch.backends.cudnn.deterministic = True``) and the probes that pick a device
(``torch.backends.mps.is_available()``). rgrad has neither cuDNN nor MPS, so the flags are
kept but change nothing."""

from types import SimpleNamespace

__all__ = ["cuda", "cudnn", "mps"]


def _false():
    return False


class _CudnnModule:
    def __init__(self):
        self.enabled = True
        self.benchmark = False
        self.deterministic = False
        self.allow_tf32 = True

    is_available = staticmethod(_false)

    @staticmethod
    def version():
        return None


cudnn = _CudnnModule()
mps = SimpleNamespace(is_available=_false, is_built=_false)
cuda = SimpleNamespace(
    is_built=_false,
    matmul=SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True),
)
