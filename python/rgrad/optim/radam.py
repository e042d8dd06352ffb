"""RAdam, as ``torch.optim.RAdam``."""

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

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""Implements the RAdam algorithm (Adam with a rectified adaptive learning rate).

    With :math:`\rho_\infty = 2/(1-\beta_2) - 1` and
    :math:`\rho_t = \rho_\infty - 2t\beta_2^t/(1-\beta_2^t)`, the step is
    :math:`\gamma\,\hat m\, r_t \sqrt{1-\beta_2^t}/(\sqrt v + \epsilon)` when
    :math:`\rho_t > 5` (:math:`r_t` the variance rectification term) and :math:`\gamma \hat m`
    before, :math:`\hat m = m/(1-\beta_1^t)`.

    Args:
        params (iterable): tensors to optimize or dicts defining parameter groups.
        lr (float): learning rate (default: 1e-3).
        betas (Tuple[float, float]): coefficients of the running averages (default:
            (0.9, 0.999)).
        eps (float): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float): weight decay (default: 0).
        decoupled_weight_decay (bool): decay the weights directly as in AdamW (default: False).
        maximize (bool): maximize the objective instead of minimizing (default: False).
        foreach, capturable, differentiable: accepted for compatibility with PyTorch.
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        decoupled_weight_decay=False,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
    ):
        _check_lr(lr)
        _check_betas_eps_wd(betas, eps, weight_decay)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        self._set_group_defaults(
            foreach=None,
            maximize=False,
            differentiable=False,
            decoupled_weight_decay=False,
            capturable=False,
        )
        _ensure_tensor_steps(self)

    def _init_state(self, state, p, group):
        state["step"] = rgrad.tensor(0.0, dtype=_default_scalar_dtype())
        state["exp_avg"] = rgrad.zeros_like(p)
        state["exp_avg_sq"] = rgrad.zeros_like(p)

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the
                loss.
        """
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, steps = self._collect_group(
                group, ("exp_avg", "exp_avg_sq", "step")
            )
            beta1, beta2 = group["betas"]
            _radam_update(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                steps,
                beta1=beta1,
                beta2=beta2,
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                decoupled_weight_decay=group["decoupled_weight_decay"],
                maximize=group["maximize"],
            )
        return loss


def _radam_update(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    state_steps: list[Tensor],
    *,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    eps: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> None:
    """One RAdam step over a parameter group, in place (one Rust call for the group), in the
    operation order of PyTorch's ``_single_tensor_radam``; increments ``state_steps``."""
    _rgrad._radam_step(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        _increment_steps(state_steps),
        _lr_value(lr),
        beta1,
        beta2,
        eps,
        weight_decay,
        decoupled_weight_decay,
        maximize,
    )
