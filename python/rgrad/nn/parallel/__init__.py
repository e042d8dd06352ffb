"""``rgrad.nn.parallel``: PyTorch's data-parallel wrappers, as they behave on a machine with
no CUDA device (rgrad has one device of each kind, so there is nothing to split a batch over).

``DataParallel(module)`` is then a pass-through: ``forward`` calls the module, which is kept
as ``.module`` (so state dict keys get PyTorch's ``module.`` prefix and checkpoints saved from
a ``DataParallel`` model load the same way). ``DistributedDataParallel`` needs a process
group (``rgrad.distributed.init_process_group``); without one it raises PyTorch's error.
"""

import contextlib

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
    """Data-parallel training over ``rgrad.distributed``'s process group. The group has one
    process (see ``rgrad.distributed``), so there are no gradients to average: the wrapper
    keeps the module as ``.module`` (PyTorch's ``module.`` state-dict prefix) and runs it."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, *args, **kwargs):
        import rgrad.distributed as dist

        super().__init__()
        if not dist.is_initialized():
            raise ValueError(dist._NOT_INITIALIZED)
        if device_ids:
            raise ValueError(
                f"rgrad.nn.parallel.DistributedDataParallel: no CUDA devices to run on "
                f"(device_ids={device_ids})"
            )
        self.module = module
        self.device_ids = None
        self.output_device = output_device
        self.dim = dim
        self.require_backward_grad_sync = True

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old
