"""The ``Tensor`` methods written in Python: the method forms of ``torch.*`` composites
(``roll``, ``diagonal``, ``addmm``, ``diff``, ``multinomial``, ...), and in-place or
alias glue PyTorch has as methods (``addcmul_``, ``squeeze_``, ``t_``, ``type_as``,
``data_ptr``); installed on ``Tensor`` where the compiled class has no such method.
"""

from __future__ import annotations

import inspect

from rgrad import _rgrad
from rgrad._errors import pytorch_errors
from rgrad._products import (
    _scaled,
    addcdiv,
    addcmul,
    addmm,
    addmv,
    addr,
    baddbmm,
    cross,
    inner,
    kron,
    lerp,
)
from rgrad._sampling import (
    _random_,
    multinomial,
)
from rgrad._shape_ops import (
    broadcast_to,
    diag,
    diag_embed,
    diagonal,
    fliplr,
    flipud,
    repeat_interleave,
    roll,
    rot90,
    swapaxes,
    tile,
    trace,
)
from rgrad._statistics import diff, nanmean, nansum

Tensor = _rgrad.Tensor


# ---- Tensor methods ---------------------------------------------------------------------------


def _type_as(self, other):
    return self.to(other.dtype)


def _addcmul_(self, tensor1, tensor2, *, value=1):
    return self.add_(_scaled(tensor1 * tensor2, value))


def _addcdiv_(self, tensor1, tensor2, *, value=1):
    return self.add_(_scaled(tensor1 / tensor2, value))


def _lerp_(self, end, weight):
    return self.add_(weight * (end - self))


def _view_(self, view):
    if self.is_leaf and self.requires_grad and _rgrad.is_grad_enabled():
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    return self._set_view(view)


def _squeeze_(self, dim=None):
    return _view_(self, self.squeeze() if dim is None else self.squeeze(dim))


def _unsqueeze_(self, dim):
    return _view_(self, self.unsqueeze(dim))


def _t_(self):
    return _view_(self, self.t())


def _transpose_(self, dim0, dim1):
    return _view_(self, self.transpose(dim0, dim1))


def _data_ptr(self):
    if self.numel() == 0:
        return 0
    if str(self.device) != "cpu":
        raise RuntimeError("data_ptr() is only available for CPU tensors in rgrad")
    return self.detach().numpy().__array_interface__["data"][0]


METHODS = {
    "roll": roll,
    "tile": tile,
    "repeat_interleave": repeat_interleave,
    "swapdims": swapaxes,
    "fliplr": fliplr,
    "flipud": flipud,
    "rot90": rot90,
    "diagonal": diagonal,
    "diag_embed": diag_embed,
    "diag": diag,
    "trace": trace,
    "inner": inner,
    "kron": kron,
    "cross": cross,
    "addmm": addmm,
    "addmv": addmv,
    "addr": addr,
    "baddbmm": baddbmm,
    "addcmul": addcmul,
    "addcdiv": addcdiv,
    "lerp": lerp,
    "broadcast_to": broadcast_to,
    "diff": diff,
    "nansum": nansum,
    "nanmean": nanmean,
    "multinomial": multinomial,
    "type_as": _type_as,
    "addcmul_": _addcmul_,
    "addcdiv_": _addcdiv_,
    "lerp_": _lerp_,
    "random_": _random_,
    "squeeze_": _squeeze_,
    "unsqueeze_": _unsqueeze_,
    "t_": _t_,
    "transpose_": _transpose_,
    "data_ptr": _data_ptr,
    "is_complex": lambda self: False,
    "nbytes": property(lambda self: self.numel() * self.element_size()),
    "itemsize": property(lambda self: self.element_size()),
}


def _install():
    for name, fn in METHODS.items():
        if not hasattr(Tensor, name):
            if callable(fn) and not isinstance(fn, property) and fn.__name__ == "<lambda>":
                fn.__name__ = fn.__qualname__ = name
            if inspect.isfunction(fn):
                fn = pytorch_errors(fn)
            setattr(Tensor, name, fn)


_install()
