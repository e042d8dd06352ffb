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
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, rgrad.Tensor):
                raise TypeError(
                    f"save_for_backward can only save variables, but argument {i} is of type "
                    f"{type(t).__name__}"
                )
        self._saved = tuple(tensors)

    @property
    def saved_tensors(self):
        if self._released:
            raise RuntimeError(_FREED)
        # Once the node is recorded the tensors are held as checked handles (see
        # ``Function.apply``): unpacking raises if one was modified in place since.
        return tuple(s.unpack() if isinstance(s, _rgrad._SavedTensor) else s for s in self._saved)

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        """Accepted for compatibility: in-place outputs are handled like any output."""

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class _Backward:
    """Bridges the engine to ``cls.backward``: receives one gradient (or None) per recorded
    output, returns one gradient per tensor input."""

    def __init__(self, cls, ctx, n_args, tensor_positions, inputs, outputs):
        self.cls, self.ctx, self.n_args = cls, ctx, n_args
        self.tensor_positions = tensor_positions
        self.in_meta = [(t.shape, t.dtype, t.device) for t in inputs]
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
        return [
            self._validate(i, result[pos], meta)
            for i, (pos, meta) in enumerate(zip(self.tensor_positions, self.in_meta))
        ]

    def _validate(self, index, grad, meta):
        """PyTorch's ``validate_outputs``: a gradient must fit its input. A broadcast one is
        summed back to the input's shape, another dtype is cast; anything else is an error."""
        if grad is None:
            return None
        if not isinstance(grad, rgrad.Tensor):
            raise RuntimeError(f"expected Variable or None (got {type(grad).__name__})")
        shape, dtype, device = meta
        name = f"{self.cls.__name__}Backward"
        if grad.shape != shape:
            if not _expandable_to(shape, grad.shape):
                raise RuntimeError(
                    f"Function {name} returned an invalid gradient at index {index} - got "
                    f"{list(grad.shape)} but expected shape compatible with {list(shape)}"
                )
            grad = _sum_to(grad, shape)
        if grad.dtype != dtype:
            grad = grad.to(dtype)
        if grad.device != device:
            raise RuntimeError(
                f"Function {name} returned an invalid gradient at index {index} - expected "
                f"device {device} but got {grad.device}"
            )
        return grad

    def release(self):
        self.ctx._saved = ()
        self.ctx._released = True


def _expandable_to(shape, desired):
    """Whether ``shape`` broadcasts to ``desired`` (PyTorch's ``is_expandable_to``)."""
    if len(shape) > len(desired):
        return False
    return all(s == d or s == 1 for s, d in zip(reversed(shape), reversed(desired)))


def _sum_to(grad, shape):
    """Sums a broadcast gradient back to ``shape``."""
    lead = grad.dim() - len(shape)
    if lead:
        grad = grad.sum(dim=tuple(range(lead)))
    dims = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    if dims:
        grad = grad.sum(dim=dims, keepdim=True)
    return grad


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
            backward = _Backward(cls, ctx, len(args), positions, inputs, recorded)
            _rgrad._record_function(backward, f"{cls.__name__}Backward", inputs, recorded)
            ctx._saved = _checked_saves(ctx._saved, recorded)
            for o in constant:
                o.detach_()
        return tuple(new_outs) if is_tuple else new_outs[0]


def _checked_saves(saved, outputs):
    """Holds the saved tensors as handles that check their version when unpacked; saved
    outputs lose their history there (no cycle output -> node -> ctx -> output)."""
    tensors = [t for t in saved if t is not None]
    handles = iter(_rgrad._save_for_node(tensors, outputs))
    return tuple(None if t is None else next(handles) for t in saved)


def once_differentiable(fn):
    """Marks a backward as not differentiable twice (accepted for compatibility)."""
    return fn
