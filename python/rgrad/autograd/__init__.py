"""``rgrad.autograd``: grad mode, graph nodes and gradient checks."""

from rgrad.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from rgrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from rgrad.autograd.graph import Node

__all__ = [
    "GradcheckError",
    "Node",
    "enable_grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]
