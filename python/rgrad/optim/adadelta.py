"""Adadelta, as ``torch.optim.Adadelta``."""

from __future__ import annotations

import rgrad
from rgrad import Tensor, _rgrad
from rgrad.optim._scalar_state import _ensure_tensor_steps, _increment_steps, _lr_value
from rgrad.optim.optimizer import (
    Optimizer,
    _check_lr,
    _check_nonneg,
    _default_scalar_dtype,
    _use_grad_for_differentiable,
)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Implements the Adadelta algorithm.

    .. math::
        v \leftarrow \rho v + (1-\rho) g^2,\quad
        \Delta = \frac{\sqrt{u + \epsilon}}{\sqrt{v + \epsilon}} g,\quad
        u \leftarrow \rho u + (1-\rho)\Delta^2,\quad
        \theta \leftarrow \theta - \gamma\Delta

    Args:
        params (iterable): tensors to optimize or dicts defining parameter groups.
        lr (float): coefficient that scales the delta before it is applied (default: 1.0).
        rho (float): coefficient of the running averages (default: 0.9).
        eps (float): term added to the denominator for numerical stability (default: 1e-6).
        weight_decay (float): weight decay, L2 penalty (default: 0).
        maximize (bool): maximize the objective instead of minimizing (default: False).
        foreach, capturable, differentiable: accepted for compatibility with PyTorch.
    """

    def __init__(
        self,
        params,
        lr=1.0,
        rho=0.9,
        eps=1e-6,
        weight_decay=0,
        foreach=None,
        *,
        capturable=False,
        maximize=False,
        differentiable=False,
    ):
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonneg(eps, "epsilon value")
        _check_nonneg(weight_decay, "weight_decay value")
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        self._set_group_defaults(
            foreach=None, maximize=False, differentiable=False, capturable=False
        )
        _ensure_tensor_steps(self)

    def _init_state(self, state, p, group):
        state["step"] = rgrad.tensor(0.0, dtype=_default_scalar_dtype())
        state["square_avg"] = rgrad.zeros_like(p)
        state["acc_delta"] = rgrad.zeros_like(p)

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the
                loss.
        """
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            params, grads, square_avgs, acc_deltas, steps = self._collect_group(
                group, ("square_avg", "acc_delta", "step")
            )
            _adadelta_update(
                params,
                grads,
                square_avgs,
                acc_deltas,
                steps,
                lr=group["lr"],
                rho=group["rho"],
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                maximize=group["maximize"],
            )
        return loss


def _adadelta_update(
    params: list[Tensor],
    grads: list[Tensor],
    square_avgs: list[Tensor],
    acc_deltas: list[Tensor],
    state_steps: list[Tensor],
    *,
    lr: float,
    rho: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    """One Adadelta step over a parameter group, in place (one Rust call for the group), in
    the operation order of PyTorch's ``_single_tensor_adadelta``; increments
    ``state_steps``."""
    _increment_steps(state_steps)
    _rgrad._adadelta_step(
        params, grads, square_avgs, acc_deltas, _lr_value(lr), rho, eps, weight_decay, maximize
    )
