"""ASGD, as ``torch.optim.ASGD``."""

from __future__ import annotations

import rgrad
from rgrad import Tensor, _rgrad
from rgrad.optim._scalar_state import (
    _ensure_tensor_steps,
    _increment_steps,
    _lr_value,
    _round_to_float32,
)
from rgrad.optim.optimizer import (
    Optimizer,
    _check_lr,
    _check_nonneg,
    _default_scalar_dtype,
    _use_grad_for_differentiable,
)

__all__ = ["ASGD"]


class ASGD(Optimizer):
    r"""Implements averaged stochastic gradient descent.

    .. math::
        \theta \leftarrow (1 - \lambda\eta_t)\theta - \eta_t g,\quad
        a \leftarrow a + \mu_t(\theta - a) \ (\text{or } a \leftarrow \theta \text{ while }
        \mu_t = 1),\\
        \eta_{t+1} = \frac{\gamma}{(1 + \lambda\gamma t)^\alpha},\quad
        \mu_{t+1} = \frac{1}{\max(1, t - t_0)}

    The state keeps ``eta``, ``mu`` (0-dim tensors, float32 as PyTorch's), ``ax`` (the
    average) and ``step``.

    Args:
        params (iterable): tensors to optimize or dicts defining parameter groups.
        lr (float): learning rate (default: 1e-2).
        lambd (float): decay term (default: 1e-4).
        alpha (float): power for the eta update (default: 0.75).
        t0 (float): point at which to start averaging (default: 1e6).
        weight_decay (float): weight decay, L2 penalty (default: 0).
        maximize (bool): maximize the objective instead of minimizing (default: False).
        foreach, differentiable, capturable: accepted for compatibility with PyTorch.
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        lambd=1e-4,
        alpha=0.75,
        t0=1e6,
        weight_decay=0,
        foreach=None,
        maximize=False,
        differentiable=False,
        capturable=False,
    ):
        _check_lr(lr)
        _check_nonneg(lambd, "lambd value")
        _check_nonneg(alpha, "alpha value")
        _check_nonneg(weight_decay, "weight_decay value")
        defaults = dict(
            lr=lr,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
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
        _ensure_tensor_steps(self, ("step", "eta", "mu"))

    def _init_state(self, state, p, group):
        state["step"] = rgrad.tensor(0.0, dtype=_default_scalar_dtype())
        state["eta"] = rgrad.tensor(_lr_value(group["lr"]), dtype=_default_scalar_dtype())
        state["mu"] = rgrad.tensor(1.0, dtype=_default_scalar_dtype())
        state["ax"] = rgrad.zeros_like(p)

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the
                loss.
        """
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            params, grads, axs, mus, etas, steps = self._collect_group(
                group, ("ax", "mu", "eta", "step")
            )
            _asgd_update(
                params,
                grads,
                axs,
                mus,
                etas,
                steps,
                lambd=group["lambd"],
                lr=group["lr"],
                t0=group["t0"],
                alpha=group["alpha"],
                weight_decay=group["weight_decay"],
                maximize=group["maximize"],
            )
        return loss


def _asgd_update(
    params: list[Tensor],
    grads: list[Tensor],
    axs: list[Tensor],
    mus: list[Tensor],
    etas: list[Tensor],
    state_steps: list[Tensor],
    *,
    lambd: float,
    lr: float,
    t0: float,
    alpha: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    """One ASGD step over a parameter group, in place (one Rust call for the group).

    Uses the current ``etas``/``mus`` (0-dim tensors), then increments ``state_steps`` and
    advances ``etas`` and ``mus`` in their own precision, as PyTorch's ``_single_tensor_asgd``.
    """
    steps = _increment_steps(state_steps)
    eta_values = [float(e.item()) for e in etas]
    mu_values = [float(m.item()) for m in mus]
    _rgrad._asgd_step(params, grads, axs, eta_values, mu_values, lambd, weight_decay, maximize)
    lr = _lr_value(lr)
    for step, eta, mu in zip(steps, etas, mus):
        # PyTorch builds the new values with ``torch.as_tensor(float)``, a float32 tensor, so
        # they are float32 numbers even in state loaded as float64.
        eta.fill_(_round_to_float32(lr / ((1 + lambd * lr * step) ** alpha)))
        mu.fill_(_round_to_float32(1 / max(1, step - t0)))
