"""``rgrad.nn``: modules, parameters, initialisation and functional ops, shaped like
``torch.nn`` (``import rgrad as torch; import rgrad.nn as nn``)."""

from rgrad.nn import (
    functional,
    init,
    parallel,  # noqa: E402  (its modules subclass Module)
    utils,
)
from rgrad.nn.modules import *  # noqa: F403
from rgrad.nn.modules import __all__ as _modules_all
from rgrad.nn.parallel import DataParallel
from rgrad.nn.parameter import Parameter

__all__ = ["DataParallel", "Parameter", "functional", "init", "parallel", "utils", *_modules_all]
