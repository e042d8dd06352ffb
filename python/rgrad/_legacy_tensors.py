"""PyTorch's legacy tensor types (``torch.FloatTensor(2, 3)``, ``torch.LongTensor([1, 2])``,
``isinstance(t, torch.FloatTensor)``) and ``torch.autograd.Variable``, which old tutorials and
checkpoints still use. They are not classes of their own: each makes plain tensors, and
``isinstance`` asks the tensor's dtype (and that it is on the CPU), as PyTorch's do."""

from rgrad import _rgrad
from rgrad._rgrad import Tensor

__all__ = [
    "BoolTensor",
    "BFloat16Tensor",
    "ByteTensor",
    "CharTensor",
    "DoubleTensor",
    "FloatTensor",
    "HalfTensor",
    "IntTensor",
    "LongTensor",
    "ShortTensor",
    "Variable",
]


class _TensorType(type):
    """The metaclass of the legacy types: calling one builds a tensor of its dtype."""

    def __instancecheck__(cls, obj):
        return (
            isinstance(obj, Tensor)
            and cls.dtype is not None
            and obj.dtype == cls.dtype
            and obj.device.type == "cpu"
        )

    def __call__(cls, *args, device=None):
        if cls.dtype is None:
            raise TypeError(
                f"rgrad has no {cls.dtype_name} dtype, so {cls.__name__} cannot be built"
            )
        if not args:
            return _rgrad.empty(0, dtype=cls.dtype, device=device)
        if all(type(a) is int for a in args) or (
            len(args) == 1 and type(args[0]).__name__ == "Size"
        ):
            dims = tuple(args[0]) if len(args) == 1 and not isinstance(args[0], int) else args
            return _rgrad.zeros(*dims, dtype=cls.dtype, device=device)
        if len(args) > 1:
            bad = next(a for a in args if type(a) is not int)
            raise TypeError(
                f"new(): argument 'size' failed to unpack the object at pos {args.index(bad)} "
                f'with error "type must be tuple of ints,but got {type(bad).__name__}"'
            )
        (data,) = args
        if isinstance(data, Tensor):
            if data.dtype != cls.dtype:
                raise TypeError(
                    f"expected {cls.__name__} (dtype {cls.dtype}), got a tensor of dtype "
                    f"{data.dtype}"
                )
            return data
        if isinstance(data, (str, bytes)):
            raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
        if not hasattr(data, "__len__") and not hasattr(data, "__array__"):
            raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
        return _rgrad.tensor(data, dtype=cls.dtype, device=device)


def _legacy(name, dtype_name):
    dtype = getattr(_rgrad, dtype_name, None)
    return _TensorType(
        name,
        (),
        {"dtype": dtype, "dtype_name": dtype_name, "is_cuda": False, "__module__": "rgrad"},
    )


FloatTensor = _legacy("FloatTensor", "float32")
DoubleTensor = _legacy("DoubleTensor", "float64")
LongTensor = _legacy("LongTensor", "int64")
IntTensor = _legacy("IntTensor", "int32")
BoolTensor = _legacy("BoolTensor", "bool")
ByteTensor = _legacy("ByteTensor", "uint8")
CharTensor = _legacy("CharTensor", "int8")
ShortTensor = _legacy("ShortTensor", "int16")
HalfTensor = _legacy("HalfTensor", "float16")
BFloat16Tensor = _legacy("BFloat16Tensor", "bfloat16")


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)

    def __call__(cls, data, requires_grad=False, volatile=False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        # A new leaf sharing ``data``'s values, as PyTorch's Variable(...) gives.
        return data.detach().requires_grad_(requires_grad)


class Variable(metaclass=_VariableMeta):
    """``Variable(tensor, requires_grad=False)``: since PyTorch 0.4 a Variable is a tensor;
    this returns a leaf tensor sharing ``tensor``'s data."""
