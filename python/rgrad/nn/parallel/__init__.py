"""``rgrad.nn.parallel``: PyTorch's data-parallel wrappers, as they behave on a machine with
no CUDA device (rgrad has one device of each kind, so there is nothing to split a batch over).

``DataParallel(module)`` is then a pass-through: ``forward`` calls the module, which is kept
as ``.module`` (so state dict keys get PyTorch's ``module.`` prefix and checkpoints saved from
a ``DataParallel`` model load the same way). ``DistributedDataParallel`` needs a process
group, which rgrad has not: building one raises PyTorch's error for a missing group.
"""

from rgrad.nn.modules.module import Module

__all__ = ["DataParallel", "DistributedDataParallel"]


class DataParallel(Module):
    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if device_ids:
            raise ValueError(
                f"rgrad.nn.DataParallel: no CUDA devices to run on (device_ids={device_ids})"
            )
        self.module = module
        self.device_ids = []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


class DistributedDataParallel(Module):
    def __init__(self, module, *args, **kwargs):
        super().__init__()
        raise ValueError(
            "Default process group has not been initialized, please make sure to call "
            "init_process_group."
        )
