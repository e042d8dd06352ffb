"""Python-side parts of ``rgrad.Tensor`` (printing, iteration): attached to the compiled class
at import, so no Python wrapper sits on the per-op path."""

from rgrad import _rgrad
from rgrad._tensor_str import format_tensor

Tensor = _rgrad.Tensor

_DEFAULT_DTYPES = {"float32", "int64", "bool"}


def _suffixes(t):
    out = []
    if t.device.type != "cpu":
        out.append(f"device='{t.device}'")
    if t.requires_grad:
        fn = t.grad_fn
        out.append(f"grad_fn=<{type(fn).__name__}>" if fn is not None else "requires_grad=True")
    return out


def _host_values(t):
    """The tensor's values as a NumPy array; bfloat16 (which NumPy lacks) widened exactly
    to float32."""
    t = t.detach().cpu()
    if t.dtype == _rgrad.bfloat16:
        t = t.float()
    return t.numpy()


def _repr(self):
    return format_tensor(
        _host_values(self), self.dtype.__repr__()[len("rgrad.") :], _suffixes(self)
    )


def _format(self, spec):
    if self.dim() == 0:
        return self.item().__format__(spec)
    return format(_repr(self), spec)


def _iter(self):
    if self.dim() == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in range(self.shape[0]))


def _reduce(self):
    device = str(self.device)
    if self.dtype == _rgrad.bfloat16:
        return (_rebuild, (_host_values(self).copy(), self.requires_grad, device, "bfloat16"))
    return (_rebuild, (self.detach().cpu().numpy().copy(), self.requires_grad, device))


def _rebuild(array, requires_grad, device="cpu", dtype=None):
    dtype = getattr(_rgrad, dtype) if dtype is not None else None
    return _rgrad.tensor(array, dtype=dtype, requires_grad=requires_grad, device=device)


def _dlpack(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    """Exports the tensor's memory (no copy) through NumPy's DLPack producer."""
    if self.requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    kwargs = {
        k: v
        for k, v in (("max_version", max_version), ("dl_device", dl_device), ("copy", copy))
        if v is not None
    }
    return self.detach().numpy().__dlpack__(stream=stream, **kwargs)


def _dlpack_device(self):
    return (1, 0)  # kDLCPU, device 0


def _array(self, dtype=None, copy=None):
    if self.requires_grad:
        raise RuntimeError(
            "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
        )
    return _compiled_array(self, dtype, copy)


def _dtype_by_name(name):
    return getattr(_rgrad, name)


def _dtype_reduce(self):
    return (_dtype_by_name, (repr(self)[len("rgrad.") :],))


def _device_reduce(self):
    return (_rgrad.device, (str(self),))


_compiled_array = Tensor.__array__


def _install():
    # The compiled class has no module in its type name, so messages say 'Tensor' as PyTorch's do.
    Tensor.__module__ = "rgrad"
    Tensor.__name__ = Tensor.__qualname__ = "Tensor"
    Tensor.__repr__ = _repr
    Tensor.__str__ = _repr
    Tensor.__format__ = _format
    Tensor.__iter__ = _iter
    Tensor.__reduce__ = _reduce
    Tensor.__array_priority__ = 1000
    Tensor.__dlpack__ = _dlpack
    Tensor.__dlpack_device__ = _dlpack_device
    Tensor.__array__ = _array
    # PyTorch's device probes: rgrad has no XPU or MPS backend (is_cuda is compiled).
    Tensor.is_xpu = property(lambda self: False, doc="False: rgrad has no XPU backend.")
    Tensor.is_mps = property(lambda self: False, doc="False: rgrad has no MPS backend.")
    Tensor.is_cpu = property(lambda self: self.device.type == "cpu", doc="On the CPU?")
    _rgrad.dtype.__reduce__ = _dtype_reduce
    _rgrad.device.__reduce__ = _device_reduce


_install()
