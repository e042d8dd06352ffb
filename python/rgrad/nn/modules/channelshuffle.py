"""``ChannelShuffle``: regroups the channels of (N, C, *) inputs (``F.channel_shuffle``)."""

from rgrad.nn import functional as F
from rgrad.nn.modules.module import Module

__all__ = ["ChannelShuffle"]


class ChannelShuffle(Module):
    """Splits the C channels into ``groups`` groups and interleaves them."""

    __constants__ = ["groups"]

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
