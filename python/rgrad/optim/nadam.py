"""NAdam, as ``torch.optim.NAdam``."""

from __future__ import annotations

import rgrad
from rgrad import Tensor, _rgrad
from rgrad.optim._scalar_state import _ensure_tensor_steps, _increment_steps, _lr_value, _round_to
from rgrad.optim.optimizer import (
    Optimizer,
    _check_betas_eps_wd,
    _check_lr,
    _check_nonneg,
    _default_scalar_dtype,
    _use_grad_for_differentiable,
)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""Implements the NAdam algorithm (Adam with Nesterov momentum).

    With :math:`g` the gradient (negated with ``maximize``), :math:`t` the step count and
    :math:`\mu_t = \beta_1(1 - \tfrac12 0.96^{t\psi})`:

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\\
        \theta \leftarrow \theta - \gamma\Big(\frac{\mu_{t+1} m}{1-\prod_{i\le t+1}\mu_i}
        + \frac{(1-\mu_t) g}{1-\prod_{i\le t}\mu_i}\Big)\Big/
        \Big(\sqrt{v/(1-\beta_2^t)} + \epsilon\Big)

    Args:
        params (iterable): tensors to optimize or dicts defining parameter groups.
        lr (float): learning rate (default: 2e-3).
        betas (Tuple[float, float]): coefficients of the running averages (default:
            (0.9, 0.999)).
        eps (float): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float): weight decay (default: 0).
        momentum_decay (float): momentum decay :math:`\psi` (default: 4e-3).
        decoupled_weight_decay (bool): decay the weights directly as in AdamW (NAdamW)
            (default: False).
        maximize (bool): maximize the objective instead of minimizing (default: False).
        foreach, capturable, differentiable: accepted for compatibility with PyTorch.
    """

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
    ):
        _check_lr(lr)
        _check_betas_eps_wd(betas, eps, weight_decay)
        _check_nonneg(momentum_decay, "momentum_decay value")
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        self._set_group_defaults(
            maximize=False,
            foreach=None,
            capturable=False,
            differentiable=False,
            decoupled_weight_decay=False,
        )
        _ensure_tensor_steps(self, ("step", "mu_product"))

    def _init_state(self, state, p, group):
        state["step"] = rgrad.tensor(0.0, dtype=_default_scalar_dtype())
        state["mu_product"] = rgrad.tensor(1.0, dtype=_default_scalar_dtype())
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
            params, grads, exp_avgs, exp_avg_sqs, mu_products, steps = self._collect_group(
                group, ("exp_avg", "exp_avg_sq", "mu_product", "step")
            )
            beta1, beta2 = group["betas"]
            _nadam_update(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                mu_products,
                steps,
                beta1=beta1,
                beta2=beta2,
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                momentum_decay=group["momentum_decay"],
                eps=group["eps"],
                decoupled_weight_decay=group["decoupled_weight_decay"],
                maximize=group["maximize"],
            )
        return loss


def _nadam_update(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    mu_products: list[Tensor],
    state_steps: list[Tensor],
    *,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    momentum_decay: float,
    eps: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> None:
    """One NAdam step over a parameter group, in place (one Rust call for the group).

    Increments each ``state_steps[i]`` and multiplies each 0-dim ``mu_products[i]`` by this
    step's momentum coefficient, in the precision of that tensor (float32 by default, as
    PyTorch's); the update uses the new values, as PyTorch's ``_single_tensor_nadam``.
    """
    steps = _increment_steps(state_steps)
    products = []
    for step, mu_product in zip(steps, mu_products):
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        value = _round_to(
            _round_to(mu_product.item(), mu_product) * _round_to(mu, mu_product), mu_product
        )
        mu_product.fill_(value)
        products.append(value)
    _rgrad._nadam_step(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        steps,
        products,
        _lr_value(lr),
        beta1,
        beta2,
        eps,
        weight_decay,
        momentum_decay,
        decoupled_weight_decay,
        maximize,
    )
