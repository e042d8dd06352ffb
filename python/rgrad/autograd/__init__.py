"""``rgrad.autograd``: grad mode, graph nodes and gradient checks."""

from rgrad._legacy_tensors import Variable
from rgrad._rgrad import Tensor, _backward, _grad
from rgrad.autograd.anomaly_mode import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from rgrad.autograd.function import Function, FunctionCtx, once_differentiable
from rgrad.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from rgrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from rgrad.autograd.graph import Node


def backward(
    tensors,
    grad_tensors=None,
    retain_graph=None,
    create_graph=False,
    grad_variables=None,
    inputs=None,
):
    """Accumulates the gradients of ``tensors`` (one backward pass from all of them) into the
    leaves' ``.grad``, or only into ``inputs`` when given (non-leaf inputs get ``.grad`` too)."""
    if grad_variables is not None:
        grad_tensors = grad_variables
    if not isinstance(tensors, (Tensor, list, tuple)):
        tensors = tuple(tensors)
    _backward(tensors, grad_tensors, retain_graph, create_graph, inputs)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    only_inputs=True,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated)."""
    del only_inputs, is_grads_batched
    # Any iterable is accepted, as in PyTorch: grad(loss, model.parameters()) is common.
    if not isinstance(inputs, (Tensor, list, tuple)):
        inputs = tuple(inputs)
    if not isinstance(outputs, (Tensor, list, tuple)):
        outputs = tuple(outputs)
    result = _grad(
        outputs,
        inputs,
        grad_outputs,
        retain_graph,
        create_graph,
        True if materialize_grads else allow_unused,
    )
    if materialize_grads:
        from rgrad import zeros_like

        ins = (inputs,) if not isinstance(inputs, (list, tuple)) else inputs
        result = tuple(zeros_like(x) if g is None else g for g, x in zip(result, ins))
    return result


__all__ = [
    "Function",
    "Variable",
    "backward",
    "FunctionCtx",
    "detect_anomaly",
    "is_anomaly_enabled",
    "once_differentiable",
    "set_detect_anomaly",
    "GradcheckError",
    "Node",
    "enable_grad",
    "gradcheck",
    "grad",
    "gradgradcheck",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_grad_enabled",
]
