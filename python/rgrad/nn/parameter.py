"""``nn.Parameter``: the tensors a module registers as its trainable state."""

import rgrad
from rgrad import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A tensor that is a module parameter.

    Assigning a ``Parameter`` to a module attribute registers it, so it appears in
    :meth:`Module.parameters` and the module's ``state_dict``. It shares its data with the tensor
    it is made from, is always a leaf (any autograd history of ``data`` is dropped) and requires
    grad by default.

    Args:
        data: the tensor to wrap (an empty float tensor when ``None``).
        requires_grad: whether the parameter requires gradient. Default: ``True``.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = rgrad.empty(0)
        if requires_grad and isinstance(data, Tensor) and not data.is_floating_point():
            # PyTorch's message for this path (the core's requires_grad_ words it differently).
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients"
            )
        return Tensor.__new__(cls, data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __format__(self, spec):
        # As PyTorch: only plain tensors format 0-d values as numbers.
        return object.__format__(self, spec)

    def __reduce__(self):
        # Pickling and deepcopy rebuild a Parameter (the data pickles as a plain tensor).
        return (type(self), (self.data, self.requires_grad))
