"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``."""

from __future__ import annotations

from rgrad import Tensor, _rgrad
from rgrad.optim.optimizer import Optimizer, _use_grad_for_differentiable

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Implements stochastic gradient descent (optionally with momentum).

    With :math:`g` the gradient (negated with ``maximize``), each step does

    .. math::
        g \leftarrow g + \lambda\theta,\quad
        b \leftarrow \mu b + (1-\tau) g \ (b = g \text{ at the first step}),\quad
        g \leftarrow g + \mu b \ (\text{nesterov}) \text{ or } b,\quad
        \theta \leftarrow \theta - \gamma g

    Args:
        params (iterable): tensors to optimize or dicts defining parameter groups.
        lr (float): learning rate (default: 1e-3).
        momentum (float): momentum factor (default: 0).
        dampening (float): dampening for momentum (default: 0).
        weight_decay (float): weight decay, L2 penalty (default: 0).
        nesterov (bool): enables Nesterov momentum (default: False).
        maximize (bool): maximize the objective instead of minimizing (default: False).
        foreach, differentiable, fused: accepted for compatibility with PyTorch and shown in
            the param groups; the update always runs as one fused pass per group.
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0,
        dampening=0,
        weight_decay=0,
        nesterov=False,
        *,
        maximize=False,
        foreach=None,
        differentiable=False,
        fused=None,
    ):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")

        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def _init_group(self, group, params, grads, momentum_buffer_list):
        momentum = group["momentum"] != 0
        for p in group["params"]:
            grad = p.grad
            if grad is not None:
                params.append(p)
                grads.append(grad)
                if momentum:
                    momentum_buffer_list.append(self.state[p].get("momentum_buffer"))

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the
                loss.
        """
        loss = self._evaluate_closure(closure)

        for group in self.param_groups:
            params = []
            grads = []
            momentum_buffer_list = []
            self._init_group(group, params, grads, momentum_buffer_list)

            _sgd_update(
                params,
                grads,
                momentum_buffer_list,
                lr=group["lr"],
                momentum=group["momentum"],
                dampening=group["dampening"],
                weight_decay=group["weight_decay"],
                nesterov=group["nesterov"],
                maximize=group["maximize"],
            )

            if group["momentum"] != 0:
                for p, momentum_buffer in zip(params, momentum_buffer_list):
                    self.state[p]["momentum_buffer"] = momentum_buffer

        return loss


def _sgd_update(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffers: list[Tensor | None],
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
) -> None:
    """One SGD step over a parameter group, in place.

    ``params[i]`` is updated in place. When ``momentum != 0``, ``momentum_buffers`` has one entry
    per parameter: an existing buffer is updated in place; a ``None`` entry (first step) is
    replaced in the list by a new buffer, a copy of the (decayed) gradient. When
    ``momentum == 0`` the list is empty and unused. ``grads`` are not modified.

    Same operation order as PyTorch's ``_single_tensor_sgd``, as one Rust call for the group.
    """
    bufs = momentum_buffers if momentum != 0 else [None] * len(params)
    new = _rgrad._sgd_step(
        params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov, maximize
    )
    if momentum != 0:
        momentum_buffers[:] = new
