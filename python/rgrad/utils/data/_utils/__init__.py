"""As ``torch.utils.data._utils``: the collate functions."""

from rgrad.utils.data._utils import collate

__all__ = ["collate"]
