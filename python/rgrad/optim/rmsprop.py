"""RMSprop, as ``torch.optim.RMSprop``."""

from __future__ import annotations

import rgrad
from rgrad import Tensor, _rgrad
from rgrad.optim._scalar_state import _ensure_tensor_steps
from rgrad.optim.optimizer import (
    Optimizer,
    _check_lr,
    _check_nonneg,
    _default_scalar_dtype,
    _use_grad_for_differentiable,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""Implements the RMSprop algorithm.

    With :math:`g` the gradient (negated with ``maximize``):

    .. math::
        g \leftarrow g + \lambda\theta,\quad
        v \leftarrow \alpha v + (1-\alpha) g^2,\quad
        \bar g \leftarrow \alpha \bar g + (1-\alpha) g \ (\text{centered}),\\
        d = \sqrt{v - \bar g^2} \ (\text{centered}) \text{ or } \sqrt{v},\ \ d \leftarrow d +
        \epsilon,\quad
        b \leftarrow \mu b + g/d,\ \theta \leftarrow \theta - \gamma b \ (\mu > 0)
        \text{ or } \theta \leftarrow \theta - \gamma g/d

    Args:
        params (iterable): tensors to optimize or dicts defining parameter groups.
        lr (float): learning rate (default: 1e-2).
        alpha (float): smoothing constant (default: 0.99).
        eps (float): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float): weight decay, L2 penalty (default: 0).
        momentum (float): momentum factor (default: 0).
        centered (bool): normalize by an estimate of the gradient's variance (default: False).
        maximize (bool): maximize the objective instead of minimizing (default: False).
        capturable, foreach, differentiable: accepted for compatibility with PyTorch.
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0,
        momentum=0,
        centered=False,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
    ):
        _check_lr(lr)
        _check_nonneg(eps, "epsilon value")
        _check_nonneg(momentum, "momentum value")
        _check_nonneg(weight_decay, "weight_decay value")
        _check_nonneg(alpha, "alpha value")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        self._set_group_defaults(
            momentum=0,
            centered=False,
            foreach=None,
            maximize=False,
            differentiable=False,
            capturable=False,
        )
        _ensure_tensor_steps(self)

    def _init_state(self, state, p, group):
        state["step"] = rgrad.tensor(0.0, dtype=_default_scalar_dtype())
        state["square_avg"] = rgrad.zeros_like(p)
        if group["momentum"] > 0:
            state["momentum_buffer"] = rgrad.zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = rgrad.zeros_like(p)

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the
                loss.
        """
        loss = self._evaluate_closure(closure)

        for group in self.param_groups:
            keys = (
                "square_avg",
                "grad_avg" if group["centered"] else None,
                "momentum_buffer" if group["momentum"] > 0 else None,
                "step",
            )
            params_with_grad, grads, square_avgs, grad_avgs, momentum_buffer_list, state_steps = (
                self._collect_group(group, keys)
            )

            _rmsprop_update(
                params_with_grad,
                grads,
                square_avgs,
                grad_avgs,
                momentum_buffer_list,
                state_steps,
                lr=group["lr"],
                alpha=group["alpha"],
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                momentum=group["momentum"],
                centered=group["centered"],
                maximize=group["maximize"],
            )

        return loss


def _rmsprop_update(
    params: list[Tensor],
    grads: list[Tensor],
    square_avgs: list[Tensor],
    grad_avgs: list[Tensor],
    momentum_buffers: list[Tensor],
    state_steps: list[Tensor],
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> None:
    """One RMSprop step over a parameter group, in place.

    Updates ``params`` and ``square_avgs``; ``grad_avgs`` (one per parameter when ``centered``,
    else empty) and ``momentum_buffers`` (one per parameter when ``momentum > 0``, else empty)
    are updated in place too; each 0-dim ``state_steps[i]`` is incremented by one. ``grads``
    are not modified.

    Same operation order as PyTorch's ``_single_tensor_rmsprop``. To be replaced by one Rust
    call.
    """
    for step in state_steps:
        step += 1
    _rgrad._rmsprop_step(
        params,
        grads,
        square_avgs,
        grad_avgs,
        momentum_buffers,
        lr,
        alpha,
        eps,
        weight_decay,
        momentum,
        centered,
        maximize,
    )
