"""What the globals named in a PyTorch checkpoint's pickle become in rgrad.

``torch.save`` pickles tensors as calls of ``torch._utils._rebuild_tensor_v2(storage, offset,
size, stride, ...)`` with the storage given as a persistent id, dtypes as ``torch.float32``,
shapes as ``torch.Size``. This module holds rgrad's counterparts of those names (the table
:data:`TORCH_GLOBALS`), the storage objects the loader makes, and the building of a tensor
from a storage slice. The file readers and writers are in ``_torch_format``.
"""

import codecs
from collections import Counter, OrderedDict

import numpy as np

import rgrad
from rgrad import _rgrad
from rgrad._rgrad import Tensor
from rgrad._size import Size

# Storage class name -> (dtype name, element size, NumPy dtype of the little-endian bytes or
# None where NumPy has none). PyTorch writes one of these per storage.
STORAGE_TYPES = {
    "FloatStorage": ("float32", 4, "<f4"),
    "DoubleStorage": ("float64", 8, "<f8"),
    "HalfStorage": ("float16", 2, "<f2"),
    "BFloat16Storage": ("bfloat16", 2, "<i2"),  # NumPy has no bfloat16: read as its bits
    "LongStorage": ("int64", 8, "<i8"),
    "IntStorage": ("int32", 4, "<i4"),
    "ShortStorage": ("int16", 2, "<i2"),
    "CharStorage": ("int8", 1, "i1"),
    "ByteStorage": ("uint8", 1, "u1"),
    "BoolStorage": ("bool", 1, "u1"),
    "ComplexFloatStorage": ("complex64", 8, "<c8"),
    "ComplexDoubleStorage": ("complex128", 16, "<c16"),
    "UntypedStorage": ("uint8", 1, "u1"),
}
# The dtypes rgrad has, by PyTorch's name.
RGRAD_DTYPES = {
    "float32": _rgrad.float32,
    "float64": _rgrad.float64,
    "int64": _rgrad.int64,
    "int32": _rgrad.int32,
    "bool": _rgrad.bool,
    "float16": _rgrad.float16,
    "bfloat16": _rgrad.bfloat16,
    "uint8": _rgrad.uint8,
    "int8": _rgrad.int8,
    "int16": _rgrad.int16,
}
STORAGE_OF_DTYPE = {
    "float32": "FloatStorage",
    "float64": "DoubleStorage",
    "int64": "LongStorage",
    "int32": "IntStorage",
    "bool": "BoolStorage",
    "float16": "HalfStorage",
    "bfloat16": "BFloat16Storage",
    "uint8": "ByteStorage",
    "int8": "CharStorage",
    "int16": "ShortStorage",
}


def _no_dtype(name):
    return RuntimeError(
        f"rgrad.load: the checkpoint holds a tensor of dtype torch.{name}, which rgrad does not "
        "have (rgrad has float64, float32, float16, bfloat16, int64, int32, int16, int8, uint8 "
        "and bool). Convert it with PyTorch "
        "first, e.g. torch.save({k: v.float() for k, v in torch.load(path).items()}, path)."
    )


class StorageType:
    """Stands for ``torch.FloatStorage`` and its kin in a pickle: the storage's dtype."""

    def __init__(self, name):
        self.name = name
        self.dtype_name, self.itemsize, self.np_dtype = STORAGE_TYPES[name]

    def __repr__(self):
        return f"torch.{self.name}"


STORAGE_TYPE_OBJECTS = {name: StorageType(name) for name in STORAGE_TYPES}


class MissingDtype:
    """A PyTorch dtype rgrad does not have (``torch.float16``, ...): loads as a value, fails
    clearly when a tensor needs it."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


class Storage:
    """One storage of a checkpoint: its dtype, element count and location, and (once read)
    a 1-D rgrad tensor of its elements on the device ``place`` chose. Tensors of the file are
    views of that tensor, so tensors that shared a storage in PyTorch share it in rgrad."""

    def __init__(self, storage_type, numel, location, place):
        self.type = storage_type
        self.numel = numel
        self.location = location
        self.place = place
        self.base = None
        self.filled = False
        self.fixups = []  # (tensor, offset, size, stride) copied in once the data is known

    def _check_dtype(self):
        if self.type.dtype_name not in RGRAD_DTYPES:
            raise _no_dtype(self.type.dtype_name)
        return RGRAD_DTYPES[self.type.dtype_name]

    def values(self, raw):
        """The storage's elements as an rgrad tensor on the CPU, from its little-endian bytes."""
        dtype = self._check_dtype()
        need = self.numel * self.type.itemsize
        if len(raw) < need:
            raise RuntimeError(
                f"rgrad.load: a storage of {self.numel} elements has only {len(raw)} bytes of "
                "data (the file is truncated or corrupted)"
            )
        arr = np.frombuffer(raw, dtype=self.type.np_dtype, count=self.numel)
        if dtype is _rgrad.bool:
            if arr.size and arr.max() > 1:
                raise RuntimeError("rgrad.load: a bool storage holds bytes that are not 0 or 1")
            arr = arr.astype(np.bool_)
        # A writable copy the tensor owns (the file's bytes are read-only and may be mapped).
        out = rgrad.from_numpy(np.array(arr, copy=True))
        if dtype is _rgrad.bfloat16:
            out = out.view(_rgrad.bfloat16)  # the int16 bits reinterpreted, exactly
        return out

    def set_data(self, raw):
        """Fills the storage from its bytes (zip files: when first used; legacy files: after
        the pickle, as PyTorch does, into the tensor the views already share)."""
        values = self.values(raw)
        self.filled = True
        if self.base is None:
            self.base = self.place(values, self.location)
            return
        with rgrad.no_grad():
            self.base.copy_(values.to(self.base.device))
            for tensor, offset, size, stride in self.fixups:
                tensor.copy_(_strided_copy(self.base, offset, size, stride))
        self.fixups.clear()

    def allocate(self):
        """An uninitialized base for a legacy file, whose bytes come after the pickle."""
        dtype = self._check_dtype()
        self.base = self.place(rgrad.zeros(self.numel, dtype=dtype), self.location)


def _contiguous_strides(size):
    strides, acc = [], 1
    for s in reversed(size):
        strides.append(acc)
        acc *= max(s, 1)
    return strides[::-1]


def _strided_copy(base, offset, size, stride):
    """The values of a layout that no view chain expresses (a step, an expand): read through
    NumPy's strided view of the storage, then one tensor of rgrad's."""
    arr = base.detach().cpu().numpy()
    item = arr.itemsize
    view = np.lib.stride_tricks.as_strided(
        arr[offset:], shape=tuple(size), strides=tuple(s * item for s in stride), writeable=False
    )
    return rgrad.from_numpy(np.ascontiguousarray(view)).to(base.device)


def tensor_from_storage(storage, offset, size, stride):
    """The tensor of ``size``/``stride`` at ``offset`` elements into ``storage``: a view of the
    storage's tensor when the layout is a (permuted) contiguous block, else a copy."""
    if not isinstance(storage, Storage):
        raise RuntimeError(f"rgrad.load: expected a storage, got {type(storage).__name__}")
    ints = (offset, *size, *stride)
    if any(type(v) is not int for v in ints) or len(size) != len(stride):
        raise RuntimeError("rgrad.load: a tensor's size, stride or offset is not a list of ints")
    if any(v < 0 for v in ints):
        raise RuntimeError("rgrad.load: a tensor has a negative size, stride or offset")
    if storage.base is None:
        storage.allocate()
    base = storage.base
    numel = 1
    for s in size:
        numel *= s
    if numel == 0:
        return rgrad.zeros(tuple(size), dtype=base.dtype).to(base.device)
    extent = offset + 1 + sum((s - 1) * st for s, st in zip(size, stride))
    if extent > storage.numel:
        raise RuntimeError(
            f"rgrad.load: a tensor of size {list(size)} and stride {list(stride)} at offset "
            f"{offset} reaches past its storage of {storage.numel} elements (corrupted file)"
        )
    # Dims of size 1 take any stride; order the others by stride to find a permutation.
    order = sorted(range(len(size)), key=lambda d: (-stride[d] if size[d] > 1 else 0, d))
    permuted = [size[d] for d in order]
    want = _contiguous_strides(permuted)
    if all(permuted[i] == 1 or stride[d] == want[i] for i, d in enumerate(order)):
        flat = base[offset : offset + numel].view(tuple(permuted))
        inverse = sorted(range(len(order)), key=lambda i: order[i])
        return flat.permute(*inverse) if order != sorted(order) else flat
    if not storage.filled:
        out = rgrad.zeros(tuple(size), dtype=base.dtype).to(base.device)
        storage.fixups.append((out, offset, size, stride))
        return out
    return _strided_copy(base, offset, size, stride)


def rebuild_tensor(storage, storage_offset, size, stride):
    return tensor_from_storage(storage, storage_offset, tuple(size), tuple(stride))


def rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None
):
    t = tensor_from_storage(storage, storage_offset, tuple(size), tuple(stride))
    if requires_grad:
        t.requires_grad_(True)
    return t


def rebuild_parameter(data, requires_grad, backward_hooks):
    from rgrad.nn import Parameter

    if not isinstance(data, Tensor):
        raise RuntimeError("rgrad.load: a Parameter's data is not a tensor")
    return Parameter(data, requires_grad=bool(requires_grad))


def rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    param = rebuild_parameter(data, requires_grad, backward_hooks)
    if isinstance(state, dict):
        for k, v in state.items():
            setattr(param, k, v)
    return param


def rebuild_from_type_v2(func, new_type, args, state):
    """A tensor saved with its Python type and attributes (``torch.Tensor`` subclasses and
    tensors with attributes set); only plain tensors and Parameters exist in rgrad."""
    from rgrad.nn import Parameter

    if not callable(func) or not isinstance(args, tuple):
        raise RuntimeError("rgrad.load: a tensor's rebuild call is corrupted")
    ret = func(*args)
    if new_type is Parameter and not isinstance(ret, Parameter):
        ret = Parameter(ret, requires_grad=ret.requires_grad)
    elif new_type is not Tensor and new_type is not Parameter:
        raise RuntimeError(
            f"rgrad.load: the checkpoint holds a tensor of the subclass {new_type!r}, which "
            "rgrad cannot build"
        )
    if isinstance(state, dict):
        for k, v in state.items():
            setattr(ret, k, v)
    return ret


def _unsupported(kind):
    def build(*args, **kwargs):
        raise RuntimeError(f"rgrad.load: the checkpoint holds a {kind}, which rgrad cannot load")

    build.__name__ = build.__qualname__ = f"_rebuild_{kind.replace(' ', '_')}"
    return build


def torch_device(*args):
    try:
        return _rgrad.device(*args)
    except Exception as e:  # noqa: BLE001 - any failure: say which device the file names
        raise RuntimeError(
            f"rgrad.load: the checkpoint names a device rgrad has not: {args}"
        ) from e


def torch_size(dims=()):
    return Size(dims)


def get_layout(name):
    if name != "torch.strided":
        raise RuntimeError(f"rgrad.load: the checkpoint holds a tensor of layout {name}")
    return name


def codecs_encode(obj, encoding="utf-8"):
    # How protocol 2 pickles bytes: _codecs.encode(str, "latin1").
    if type(obj) is not str or encoding not in ("latin1", "latin-1"):
        raise RuntimeError("rgrad.load: _codecs.encode is allowed for bytes (latin1) only")
    return codecs.encode(obj, encoding)


def safe_bytearray(data=b""):
    # bytearray(n) of a huge int would allocate n bytes: only data is accepted.
    if isinstance(data, int):
        raise RuntimeError("rgrad.load: bytearray of a size is not loaded, only of data")
    return bytearray(data)


def _build_table():
    from rgrad.nn import Parameter

    table = {
        "collections.OrderedDict": OrderedDict,
        "collections.Counter": Counter,
        "torch.nn.parameter.Parameter": Parameter,
        "torch.serialization._get_layout": get_layout,
        "torch.Size": torch_size,
        "torch.Tensor": Tensor,
        "torch.device": torch_device,
        "_codecs.encode": codecs_encode,
        "builtins.bytearray": safe_bytearray,
        "builtins.set": set,
        "builtins.complex": complex,
        "torch._utils._rebuild_tensor": rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
        "torch._utils._rebuild_parameter": rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": rebuild_parameter_with_state,
        "torch._tensor._rebuild_from_type_v2": rebuild_from_type_v2,
        "torch._utils._rebuild_tensor_v3": _unsupported("tensor of rebuild version 3"),
        "torch._utils._rebuild_qtensor": _unsupported("quantized tensor"),
        "torch._utils._rebuild_sparse_tensor": _unsupported("sparse tensor"),
        "torch._utils._rebuild_meta_tensor_no_storage": _unsupported("meta tensor"),
        "torch._utils._rebuild_wrapper_subclass": _unsupported("tensor subclass"),
    }
    for name, obj in STORAGE_TYPE_OBJECTS.items():
        table[f"torch.{name}"] = obj
    table["torch.storage.UntypedStorage"] = STORAGE_TYPE_OBJECTS["UntypedStorage"]
    names = {v[0] for v in STORAGE_TYPES.values()}
    names |= {f"uint{i}" for i in range(1, 8)} | {f"int{i}" for i in range(1, 8)}
    names |= {"float8_e4m3fn", "float8_e5m2", "complex32"}
    for name in names:
        table[f"torch.{name}"] = RGRAD_DTYPES.get(name) or MissingDtype(name)
    for name in (
        "FloatTensor",
        "DoubleTensor",
        "LongTensor",
        "IntTensor",
        "BoolTensor",
        "HalfTensor",
        "BFloat16Tensor",
        "ByteTensor",
        "CharTensor",
        "ShortTensor",
    ):
        legacy = getattr(rgrad, name, None)
        if legacy is not None:
            table[f"torch.{name}"] = legacy
    return table


_TABLE = None


def torch_globals():
    """``{"torch._utils._rebuild_tensor_v2": ..., ...}``: the default allow-list."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _build_table()
    return _TABLE


def buildable_types():
    from rgrad.nn import Parameter

    return (Tensor, Parameter)
