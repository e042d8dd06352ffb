"""Full backward hooks of ``nn.Module`` (PyTorch's ``BackwardHook``).

For a call of a module with such hooks, the tensor arguments and the tensor results pass
through an identity ``autograd.Function`` each. In the backward pass the results' identity
receives ``grad_output`` first (backward pre-hooks may replace it); the arguments' identity then
receives ``grad_input``, and the full backward hooks see ``(module, grad_input, grad_output)``
and may return a replacement ``grad_input``. ``grad_input`` has one entry per positional
argument (None for those that are not tensors requiring grad).
"""

import warnings

import rgrad
from rgrad.autograd.function import Function


class _BackwardHookFunction(Function):
    """Identity on ``tensors``; its backward hands the gradients to ``on_grads``."""

    @staticmethod
    def forward(ctx, on_grads, *tensors):
        ctx.on_grads = on_grads
        ctx.set_materialize_grads(False)
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.on_grads(grads))


def _check_count(result, expected, what):
    if not isinstance(result, (tuple, list)) or len(result) != expected:
        got = len(result) if isinstance(result, (tuple, list)) else type(result).__name__
        raise RuntimeError(
            f"Backward hook returned an invalid number of {what}, got {got}, but expected "
            f"{expected}"
        )
    return tuple(result)


class BackwardHook:
    """The state of one module call: where the tensor arguments sit, and ``grad_output`` once
    the backward pass has computed it."""

    def __init__(self, module, args):
        self.module = module
        self.n_inputs = len(args)
        self.input_positions = None  # set when an argument requires grad
        self.grad_outputs = None

    def _run_hooks(self, grad_inputs):
        for hook in tuple(self.module._backward_hooks.values()):
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is not None:
                grad_inputs = _check_count(result, len(grad_inputs), "grad_input")
        return grad_inputs

    def _on_input_grads(self, grads):
        full = [None] * self.n_inputs
        for position, g in zip(self.input_positions, grads):
            full[position] = g
        full = self._run_hooks(tuple(full))
        return tuple(full[p] for p in self.input_positions)

    def _on_output_grads(self, grads):
        grads = tuple(grads)
        for hook in tuple(self.module._backward_pre_hooks.values()):
            result = hook(self.module, grads)
            if result is not None:
                grads = _check_count(result, len(grads), "grad_output")
        self.grad_outputs = grads
        if self.input_positions is None:
            # No argument requires grad: the hooks run now, with no gradient to replace.
            if self.module._backward_hooks:
                warnings.warn(
                    "Full backward hook is firing when gradients are computed with respect to "
                    "module outputs since no inputs require gradients. See "
                    "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                    "#torch.nn.Module.register_full_backward_hook for more details.",
                    UserWarning,
                    stacklevel=2,
                )
            result = self._run_hooks((None,) * self.n_inputs)
            if any(g is not None for g in result):
                raise RuntimeError(
                    "Backward hook for Modules where no input requires gradient should always "
                    "return None or None for all gradients."
                )
        return grads

    def setup_input_hook(self, args):
        # As PyTorch: every tensor argument passes through, once one of them requires grad.
        positions = [i for i, a in enumerate(args) if isinstance(a, rgrad.Tensor)]
        if not any(args[i].requires_grad for i in positions) or not rgrad.is_grad_enabled():
            return args
        self.input_positions = positions
        wrapped = _BackwardHookFunction.apply(self._on_input_grads, *(args[i] for i in positions))
        args = list(args)
        for i, t in zip(positions, wrapped):
            args[i] = t
        return tuple(args)

    def setup_output_hook(self, result):
        is_tensor = isinstance(result, rgrad.Tensor)
        items = (result,) if is_tensor else result
        if not isinstance(items, (tuple, list)):
            return result
        positions = [
            i for i, a in enumerate(items) if isinstance(a, rgrad.Tensor) and a.requires_grad
        ]
        if not positions or not rgrad.is_grad_enabled():
            return result
        wrapped = _BackwardHookFunction.apply(self._on_output_grads, *(items[i] for i in positions))
        new = list(items)
        for i, t in zip(positions, wrapped):
            new[i] = t
        if is_tensor:
            return new[0]
        return type(result)(new) if isinstance(result, list) else tuple(new)
