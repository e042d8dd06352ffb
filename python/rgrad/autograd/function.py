"""``rgrad.autograd.Function``: user-defined forward and backward, recorded as one graph node
whose backward calls the Python ``backward``."""

import rgrad
from rgrad import _rgrad
from rgrad.autograd.grad_mode import no_grad

__all__ = ["Function", "FunctionCtx", "once_differentiable"]

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


class FunctionCtx:
    """The ``ctx`` passed to ``forward`` and ``backward``."""

    def __init__(self):
        self._saved = ()
        self._released = False
        self._non_differentiable = set()
        self.materialize_grads = True
        self.needs_input_grad = ()

    def save_for_backward(self, *tensors):
        self._saved = tuple(tensors)

    @property
    def saved_tensors(self):
        if self._released:
            raise RuntimeError(_FREED)
        return self._saved

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        """Accepted for compatibility: in-place outputs are handled like any output."""

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class _Backward:
    """Bridges the engine to ``cls.backward``: receives one gradient (or None) per recorded
    output, returns one gradient per tensor input."""

    def __init__(self, cls, ctx, n_args, tensor_positions, outputs):
        self.cls, self.ctx, self.n_args = cls, ctx, n_args
        self.tensor_positions = tensor_positions
        self.out_meta = [(o.shape, o.dtype) for o in outputs]

    def backward(self, grads):
        if self.ctx.materialize_grads:
            grads = [
                rgrad.zeros(shape, dtype=dtype if dtype.is_floating_point else rgrad.float32)
                if g is None
                else g
                for g, (shape, dtype) in zip(grads, self.out_meta)
            ]
        result = self.cls.backward(self.ctx, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        # Extra trailing None gradients are accepted, as in PyTorch.
        while len(result) > self.n_args and result[-1] is None:
            result = result[:-1]
        if len(result) != self.n_args:
            raise RuntimeError(
                f"function {self.cls.__name__}Backward returned an incorrect number of gradients "
                f"(expected {self.n_args}, got {len(result)})"
            )
        return [result[i] for i in self.tensor_positions]

    def release(self):
        self.ctx._saved = ()
        self.ctx._released = True


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``; call
    ``apply``."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement the backward function for custom autograd.Function."
        )

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, rgrad.Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        is_tuple = isinstance(out, tuple)
        outs = out if is_tuple else (out,)
        positions = [i for i, a in enumerate(args) if isinstance(a, rgrad.Tensor)]
        inputs = [args[i] for i in positions]
        if not (rgrad.is_grad_enabled() and any(t.requires_grad for t in inputs)):
            return out
        new_outs, recorded, constant = [], [], []
        for o in outs:
            if isinstance(o, rgrad.Tensor):
                if any(o is t for t in inputs):
                    with no_grad():
                        o = o.view_as(o)  # an input returned as-is gets its own history
                # Every tensor output is recorded, so backward gets one gradient per output;
                # the non-differentiable ones are then cut off from the graph.
                recorded.append(o)
                if id(o) in ctx._non_differentiable or not o.dtype.is_floating_point:
                    constant.append(o)
            new_outs.append(o)
        if len(recorded) > len(constant):
            backward = _Backward(cls, ctx, len(args), positions, recorded)
            _rgrad._record_function(backward, f"{cls.__name__}Backward", inputs, recorded)
            for o in constant:
                o.detach_()
        return tuple(new_outs) if is_tuple else new_outs[0]


def once_differentiable(fn):
    """Marks a backward as not differentiable twice (accepted for compatibility)."""
    return fn
