"""Adam and AdamW, as ``torch.optim.Adam`` and ``torch.optim.AdamW``."""

from __future__ import annotations

import rgrad
from rgrad import Tensor, _rgrad
from rgrad.optim._scalar_state import _ensure_tensor_steps
from rgrad.optim.optimizer import (
    Optimizer,
    _check_betas_eps_wd,
    _check_fused,
    _check_lr,
    _default_scalar_dtype,
    _use_grad_for_differentiable,
)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Implements the Adam algorithm.

    With :math:`g` the gradient (negated with ``maximize``) and :math:`t` the step count:

    .. math::
        g \leftarrow g + \lambda\theta \ (\text{or } \theta \leftarrow (1-\gamma\lambda)\theta
        \text{ with decoupled weight decay}),\quad
        m \leftarrow \beta_1 m + (1-\beta_1) g,\quad
        v \leftarrow \beta_2 v + (1-\beta_2) g^2,\\
        \theta \leftarrow \theta - \frac{\gamma}{1-\beta_1^t}\,
        \frac{m}{\sqrt{\hat v}/\sqrt{1-\beta_2^t} + \epsilon}

    where :math:`\hat v` is :math:`v`, or with ``amsgrad`` the running maximum of :math:`v`.

    Args:
        params (iterable): tensors to optimize or dicts defining parameter groups.
        lr (float): learning rate (default: 1e-3).
        betas (Tuple[float, float]): coefficients of the running averages of the gradient and
            its square (default: (0.9, 0.999)).
        eps (float): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float): weight decay (default: 0).
        amsgrad (bool): use the AMSGrad variant (default: False).
        maximize (bool): maximize the objective instead of minimizing (default: False).
        decoupled_weight_decay (bool): decay the weights directly, as AdamW does (default:
            False).
        foreach, capturable, differentiable, fused: accepted for compatibility with PyTorch
            and shown in the param groups; the update always runs as one pass per group.
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
        fused=None,
        decoupled_weight_decay=False,
    ):
        _check_lr(lr)
        _check_betas_eps_wd(betas, eps, weight_decay)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)
        _check_fused(fused, differentiable, foreach)

    def __setstate__(self, state):
        super().__setstate__(state)
        self._set_group_defaults(
            amsgrad=False,
            maximize=False,
            foreach=None,
            capturable=False,
            differentiable=False,
            decoupled_weight_decay=False,
            fused=None,
        )
        _ensure_tensor_steps(self)

    def _init_state(self, state, p, group):
        state["step"] = rgrad.tensor(0.0, dtype=_default_scalar_dtype())
        # Exponential moving average of gradient values
        state["exp_avg"] = rgrad.zeros_like(p)
        # Exponential moving average of squared gradient values
        state["exp_avg_sq"] = rgrad.zeros_like(p)
        if group["amsgrad"]:
            # Maximum of all exp. moving avg. of sq. grad. values
            state["max_exp_avg_sq"] = rgrad.zeros_like(p)

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the
                loss.
        """
        loss = self._evaluate_closure(closure)

        for group in self.param_groups:
            amsgrad_key = "max_exp_avg_sq" if group["amsgrad"] else None
            params_with_grad, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps = (
                self._collect_group(group, ("exp_avg", "exp_avg_sq", amsgrad_key, "step"))
            )
            beta1, beta2 = group["betas"]

            _adam_update(
                params_with_grad,
                grads,
                exp_avgs,
                exp_avg_sqs,
                max_exp_avg_sqs,
                state_steps,
                amsgrad=group["amsgrad"],
                beta1=beta1,
                beta2=beta2,
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                maximize=group["maximize"],
                decoupled_weight_decay=group["decoupled_weight_decay"],
            )

        return loss


class AdamW(Adam):
    r"""Implements AdamW: Adam with decoupled weight decay
    (:math:`\theta \leftarrow (1-\gamma\lambda)\theta` before the Adam update).

    Same arguments as :class:`Adam`, with ``weight_decay`` defaulting to 1e-2.
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=1e-2,
        amsgrad=False,
        *,
        maximize=False,
        foreach=None,
        capturable=False,
        differentiable=False,
        fused=None,
    ):
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    # decoupled_weight_decay is always True for state loaded into AdamW.
    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def _adam_update(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    state_steps: list[Tensor],
    *,
    amsgrad: bool,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> None:
    """One Adam/AdamW step over a parameter group, in place.

    Updates ``params``, ``exp_avgs``, ``exp_avg_sqs``, ``max_exp_avg_sqs`` (only used, and
    then one per parameter, when ``amsgrad``) and increments each 0-dim ``state_steps[i]`` by
    one; the bias corrections use the incremented count. ``grads`` are not modified.

    Same operation order as PyTorch's ``_single_tensor_adam``, as one Rust call for the group.
    """
    for step in state_steps:
        step += 1
    _rgrad._adam_step(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        max_exp_avg_sqs,
        [float(s) for s in state_steps],
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        amsgrad,
        maximize,
        decoupled_weight_decay,
    )
