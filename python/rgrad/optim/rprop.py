"""Rprop, as ``torch.optim.Rprop``."""

from __future__ import annotations

import rgrad
from rgrad import Tensor, _rgrad
from rgrad.optim._scalar_state import _ensure_tensor_steps, _increment_steps, _lr_value
from rgrad.optim.optimizer import (
    Optimizer,
    _check_lr,
    _default_scalar_dtype,
    _use_grad_for_differentiable,
)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""Implements the resilient backpropagation algorithm.

    Each element keeps its own step size :math:`\eta`: multiplied by ``etaplus`` when the
    gradient kept its sign, by ``etaminus`` when it changed (and then that element does not
    move this step and its gradient is forgotten), clamped to ``step_sizes``;
    :math:`\theta \leftarrow \theta - \eta\,\mathrm{sign}(g)`.

    Args:
        params (iterable): tensors to optimize or dicts defining parameter groups.
        lr (float): initial step size (default: 1e-2).
        etas (Tuple[float, float]): (etaminus, etaplus), the decrease and increase factors
            (default: (0.5, 1.2)).
        step_sizes (Tuple[float, float]): the minimal and maximal step sizes (default:
            (1e-6, 50)).
        maximize (bool): maximize the objective instead of minimizing (default: False).
        capturable, foreach, differentiable: accepted for compatibility with PyTorch.
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        etas=(0.5, 1.2),
        step_sizes=(1e-6, 50),
        *,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
    ):
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(
            lr=lr,
            etas=etas,
            step_sizes=step_sizes,
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
        state["prev"] = rgrad.zeros_like(p)
        state["step_size"] = rgrad.full_like(p.grad, _lr_value(group["lr"]))

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the
                loss.
        """
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            params, grads, prevs, step_sizes, steps = self._collect_group(
                group, ("prev", "step_size", "step")
            )
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            _rprop_update(
                params,
                grads,
                prevs,
                step_sizes,
                steps,
                step_size_min=step_size_min,
                step_size_max=step_size_max,
                etaminus=etaminus,
                etaplus=etaplus,
                maximize=group["maximize"],
            )
        return loss


def _rprop_update(
    params: list[Tensor],
    grads: list[Tensor],
    prevs: list[Tensor],
    step_sizes: list[Tensor],
    state_steps: list[Tensor],
    *,
    step_size_min: float,
    step_size_max: float,
    etaminus: float,
    etaplus: float,
    maximize: bool,
) -> None:
    """One Rprop step over a parameter group, in place (one Rust call for the group), as
    PyTorch's ``_single_tensor_rprop``; increments ``state_steps``."""
    _increment_steps(state_steps)
    _rgrad._rprop_step(
        params,
        grads,
        prevs,
        step_sizes,
        float(step_size_min),
        float(step_size_max),
        float(etaminus),
        float(etaplus),
        maximize,
    )
