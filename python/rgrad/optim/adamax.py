"""Adamax, as ``torch.optim.Adamax``."""

from __future__ import annotations

import rgrad
from rgrad import Tensor, _rgrad
from rgrad.optim._scalar_state import _ensure_tensor_steps, _increment_steps, _lr_value
from rgrad.optim.optimizer import (
    Optimizer,
    _check_betas_eps_wd,
    _check_lr,
    _default_scalar_dtype,
    _use_grad_for_differentiable,
)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Implements the Adamax algorithm (Adam with the infinity norm).

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g,\quad
        u \leftarrow \max(\beta_2 u, |g| + \epsilon),\quad
        \theta \leftarrow \theta - \frac{\gamma}{1-\beta_1^t}\frac{m}{u}

    Args:
        params (iterable): tensors to optimize or dicts defining parameter groups.
        lr (float): learning rate (default: 2e-3).
        betas (Tuple[float, float]): coefficients of the running average of the gradient and
            of the infinity norm (default: (0.9, 0.999)).
        eps (float): term added for numerical stability (default: 1e-8).
        weight_decay (float): weight decay, L2 penalty (default: 0).
        maximize (bool): maximize the objective instead of minimizing (default: False).
        foreach, differentiable, capturable: accepted for compatibility with PyTorch.
    """

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        capturable=False,
    ):
        _check_lr(lr)
        _check_betas_eps_wd(betas, eps, weight_decay)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
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
        state["exp_avg"] = rgrad.zeros_like(p)
        state["exp_inf"] = rgrad.zeros_like(p)

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the
                loss.
        """
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            params, grads, exp_avgs, exp_infs, steps = self._collect_group(
                group, ("exp_avg", "exp_inf", "step")
            )
            beta1, beta2 = group["betas"]
            _adamax_update(
                params,
                grads,
                exp_avgs,
                exp_infs,
                steps,
                eps=group["eps"],
                beta1=beta1,
                beta2=beta2,
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                maximize=group["maximize"],
            )
        return loss


def _adamax_update(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_infs: list[Tensor],
    state_steps: list[Tensor],
    *,
    eps: float,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    """One Adamax step over a parameter group, in place (one Rust call for the group), in the
    operation order of PyTorch's ``_single_tensor_adamax``; increments ``state_steps``."""
    _rgrad._adamax_step(
        params,
        grads,
        exp_avgs,
        exp_infs,
        _increment_steps(state_steps),
        _lr_value(lr),
        beta1,
        beta2,
        eps,
        weight_decay,
        maximize,
    )
