"""``rgrad.backends``: the switches that reproducibility boilerplate sets
(``torch.backends.cudnn.deterministic = True``) and the probes that pick a device
(``torch.backends.mps.is_available()``). rgrad has neither cuDNN nor MPS, so the flags are
kept but change nothing. Each is a module, so ``import torch.backends.cudnn`` works too."""

from rgrad.backends import cuda, cudnn, mha, mps

__all__ = ["cuda", "cudnn", "mha", "mps"]
