"""Adagrad, as ``torch.optim.Adagrad``."""

from __future__ import annotations

import rgrad
from rgrad import Tensor, _rgrad
from rgrad.optim.optimizer import (
    Optimizer,
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
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")

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

        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

        # As in PyTorch, the state of the parameters given here is created eagerly.
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = rgrad.tensor(0.0, dtype=_default_scalar_dtype())
        state["sum"] = rgrad.full_like(p, group["initial_accumulator_value"])

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("fused", None)
            for p in group["params"]:
                p_state = self.state.get(p, [])
                if len(p_state) != 0 and not isinstance(p_state["step"], Tensor):
                    p_state["step"] = rgrad.tensor(
                        float(p_state["step"]), dtype=_default_scalar_dtype()
                    )

    def share_memory(self):
        """No-op kept for API compatibility (there is no inter-process sharing here)."""

    def _init_group(self, group, params_with_grad, grads, state_sums, state_steps):
        for p in group["params"]:
            if p.grad is not None:
                params_with_grad.append(p)
                grads.append(p.grad)
                state = self.state[p]
                if len(state) == 0:
                    # A parameter added with add_param_group after construction.
                    self._init_state(p, group)
                state_sums.append(state["sum"])
                state_steps.append(state["step"])

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the
                loss.
        """
        loss = self._evaluate_closure(closure)

        for group in self.param_groups:
            params_with_grad = []
            grads = []
            state_sums = []
            state_steps = []

            self._init_group(group, params_with_grad, grads, state_sums, state_steps)

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
