"""The padding layers: ``ZeroPad*``, ``ConstantPad*``, ``ReflectionPad*``,
``ReplicationPad*`` and ``CircularPad*`` (1d/2d/3d), ``F.pad`` as modules with PyTorch's
attributes and reprs."""

from rgrad.nn import functional as F
from rgrad.nn.modules.conv import _ntuple
from rgrad.nn.modules.module import Module

__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
]


class _PadNd(Module):
    """A fixed ``F.pad(input, padding, mode)``; ``_widths`` padding values per layer."""

    _mode = "constant"
    _widths = 2

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(self._widths)(padding)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input):
        lo = self._widths // 2 + 1
        if input.dim() not in (lo, lo + 1):
            raise ValueError(f"expected {lo}D or {lo + 1}D input (got {input.dim()}D input)")
        return super().forward(input)


class CircularPad1d(_CircularPadNd):
    _widths = 2


class CircularPad2d(_CircularPadNd):
    _widths = 4


class CircularPad3d(_CircularPadNd):
    _widths = 6


class _ReflectionPadNd(_PadNd):
    _mode = "reflect"


class ReflectionPad1d(_ReflectionPadNd):
    _widths = 2


class ReflectionPad2d(_ReflectionPadNd):
    _widths = 4


class ReflectionPad3d(_ReflectionPadNd):
    _widths = 6


class _ReplicationPadNd(_PadNd):
    _mode = "replicate"


class ReplicationPad1d(_ReplicationPadNd):
    _widths = 2


class ReplicationPad2d(_ReplicationPadNd):
    _widths = 4


class ReplicationPad3d(_ReplicationPadNd):
    _widths = 6


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    _widths = 2


class ConstantPad2d(_ConstantPadNd):
    _widths = 4


class ConstantPad3d(_ConstantPadNd):
    _widths = 6


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"
