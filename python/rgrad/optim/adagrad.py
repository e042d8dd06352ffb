"""Adagrad, as ``torch.optim.Adagrad``."""

from __future__ import annotations

import rgrad
from rgrad import Tensor, _rgrad
from rgrad.optim._scalar_state import _ensure_tensor_steps
from rgrad.optim.optimizer import (
    Optimizer,
    _check_fused,
    _check_lr,
    _check_nonneg,
    _default_scalar_dtype,
    _use_grad_for_differentiable,
)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Implements the Adagrad algorithm.

    With :math:`g` the gradient (negated with ``maximize``) and :math:`t` the step count:

    .. math::
        \tilde\gamma = \frac{\gamma}{1 + (t-1)\eta},\quad
        g \leftarrow g + \lambda\theta,\quad
        s \leftarrow s + g^2,\quad
        \theta \leftarrow \theta - \tilde\gamma\frac{g}{\sqrt{s} + \epsilon}

    Args:
        params (iterable): tensors to optimize or dicts defining parameter groups.
        lr (float): learning rate (default: 1e-2).
        lr_decay (float): learning rate decay :math:`\eta` (default: 0).
        weight_decay (float): weight decay, L2 penalty (default: 0).
        initial_accumulator_value (float): initial value of the sum of squared gradients
            (default: 0).
        eps (float): term added to the denominator for numerical stability (default: 1e-10).
        maximize (bool): maximize the objective instead of minimizing (default: False).
        foreach, differentiable, fused: accepted for compatibility with PyTorch.
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0,
        weight_decay=0,
        initial_accumulator_value=0,
        eps=1e-10,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        fused=None,
    ):
        _check_lr(lr)
        _check_nonneg(lr_decay, "lr_decay value")
        _check_nonneg(weight_decay, "weight_decay value")
        _check_nonneg(initial_accumulator_value, "initial_accumulator_value value")
        _check_nonneg(eps, "epsilon value")
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        _check_fused(fused, differentiable, foreach)

        # As in PyTorch, the state of the parameters given here is created eagerly (state of a
        # parameter added later with add_param_group is created at its first step).
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(self.state[p], p, group)

    def _init_state(self, state, p, group):
        state["step"] = rgrad.tensor(0.0, dtype=_default_scalar_dtype())
        state["sum"] = rgrad.full_like(p, group["initial_accumulator_value"])

    def __setstate__(self, state):
        super().__setstate__(state)
        self._set_group_defaults(foreach=None, maximize=False, differentiable=False, fused=None)
        _ensure_tensor_steps(self)

    def share_memory(self):
        """No-op kept for API compatibility (there is no inter-process sharing here)."""

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the
                loss.
        """
        loss = self._evaluate_closure(closure)

        for group in self.param_groups:
            params_with_grad, grads, state_sums, state_steps = self._collect_group(
                group, ("sum", "step")
            )

            _adagrad_update(
                params_with_grad,
                grads,
                state_sums,
                state_steps,
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                lr_decay=group["lr_decay"],
                eps=group["eps"],
                maximize=group["maximize"],
            )

        return loss


def _adagrad_update(
    params: list[Tensor],
    grads: list[Tensor],
    state_sums: list[Tensor],
    state_steps: list[Tensor],
    *,
    lr: float,
    weight_decay: float,
    lr_decay: float,
    eps: float,
    maximize: bool,
) -> None:
    """One Adagrad step over a parameter group, in place.

    Updates ``params`` and ``state_sums`` in place and increments each 0-dim
    ``state_steps[i]`` by one; the learning-rate decay uses the incremented count. ``grads``
    are not modified.

    Same operation order as PyTorch's ``_single_tensor_adagrad``. To be replaced by one Rust
    call.
    """
    for step in state_steps:
        step += 1
    _rgrad._adagrad_step(
        params,
        grads,
        state_sums,
        [float(s) for s in state_steps],
        lr,
        lr_decay,
        weight_decay,
        eps,
        maximize,
    )
