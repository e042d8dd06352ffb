"""The Python side of the binding boundary: the composites written in Python (over NumPy or
over tensor methods) raise what PyTorch raises for the same mistake. Wrapped with
:func:`pytorch_errors`, a function re-raises

* NumPy's errors as PyTorch's: an out-of-range axis is PyTorch's IndexError, a failed
  allocation PyTorch's RuntimeError with the byte count, a broadcasting failure a RuntimeError;
* an AttributeError from calling a tensor method on an argument that is not a tensor
  (``'list' object has no attribute 'tanh'``), or a TypeError from an operator on a
  non-tensor ``input``, as PyTorch's TypeError naming the function and the argument
  (``tanh(): argument 'input' (position 1) must be Tensor, not list``).

Only the error path does any work; the wrapper is one Python call on the way in.
"""

from __future__ import annotations

import functools
import inspect
import math

import numpy as np

from rgrad import _call_site

_AxisError = np.exceptions.AxisError


def _numpy_error(e: BaseException) -> BaseException | None:
    if isinstance(e, _AxisError):
        ndim = max(e.ndim, 1) if e.ndim is not None else 1
        expected = f"expected to be in range of [{-ndim}, {ndim - 1}]"
        return IndexError(f"Dimension out of range ({expected}, but got {e.axis})")
    if isinstance(e, MemoryError):
        shape, dtype = getattr(e, "shape", None), getattr(e, "dtype", None)
        if shape is not None and dtype is not None:
            nbytes = math.prod(shape) * np.dtype(dtype).itemsize
            return RuntimeError(
                "DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                f"{nbytes} bytes. Error code 12 (Cannot allocate memory)"
            )
        return RuntimeError("DefaultCPUAllocator: can't allocate memory: out of memory")
    if type(e) is ValueError and "could not be broadcast" in str(e):
        return RuntimeError(f"shape mismatch: objects cannot be broadcast to a single shape ({e})")
    return None


def _not_a_tensor(fn, e: Exception, bound: dict) -> BaseException | None:
    """PyTorch's TypeError when `e` comes from using a non-tensor argument as a tensor: the
    object whose attribute was missing, or else a non-tensor `input` (the parameter every
    composite computes on) behind a TypeError from an operator."""
    from rgrad._rgrad import Tensor

    obj = getattr(e, "obj", None) if isinstance(e, AttributeError) else None
    if obj is None and "input" in bound:
        obj = bound["input"]
    if obj is None or isinstance(obj, Tensor):
        return None
    position = 0
    for p in inspect.signature(fn).parameters.values():
        positional = p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        position += positional
        if bound.get(p.name, e) is obj:
            at = f" (position {position})" if positional else ""
            return TypeError(
                f"{fn.__name__}(): argument '{p.name}'{at} must be Tensor, not {type(obj).__name__}"
            )
    return None


def _translate(fn, e: BaseException, bound: dict) -> BaseException | None:
    if isinstance(e, (AttributeError, TypeError)):
        return _not_a_tensor(fn, e, bound)
    return _numpy_error(e)


_TEMPLATE = """
def {name}({params}):{prologue}
    try:
        return __fn({args})
    except (AttributeError, TypeError, __AxisError, MemoryError, ValueError) as __e:
        __mapped = __translate(__fn, __e, {bound})
        if __mapped is None:
            raise
        raise __mapped from None
"""


def pytorch_errors(fn, cast_state=None, cast=None):
    """`fn` raising PyTorch's exceptions where NumPy's or an AttributeError would escape.

    The wrapper is generated with `fn`'s own parameters (no ``*args`` packing), so a call
    costs one extra Python frame and nothing else until an exception is raised. With
    ``cast_state`` (autocast's thread state) each argument first goes through ``cast`` while
    CPU autocast is on: the fp32-list losses get both in that one frame."""
    if getattr(fn, "__pytorch_errors__", False) and cast_state is None:
        return fn
    params, args, names, casts = [], [], [], []
    star_done = False
    for p in inspect.signature(fn).parameters.values():
        names.append(p.name)
        default = "=None" if p.default is not p.empty else ""
        if p.kind is p.VAR_POSITIONAL:
            params.append(f"*{p.name}")
            args.append(f"*{p.name}")
            casts.append(f"{p.name} = tuple(map(__cast, {p.name}))")
            star_done = True
        elif p.kind is p.VAR_KEYWORD:
            params.append(f"**{p.name}")
            args.append(f"**{p.name}")
            casts.append(f"{p.name} = {{__k: __cast(__v) for __k, __v in {p.name}.items()}}")
        elif p.kind is p.KEYWORD_ONLY:
            if not star_done:
                params.append("*")
                star_done = True
            params.append(p.name + default)
            args.append(f"{p.name}={p.name}")
            casts.append(f"{p.name} = __cast({p.name})")
        else:
            if p.kind is p.POSITIONAL_ONLY:
                raise TypeError("positional-only parameters are not supported")
            params.append(p.name + default)
            args.append(p.name)
            casts.append(f"{p.name} = __cast({p.name})")
    bound = "{" + ", ".join(f"{n!r}: {n}" for n in names) + "}"
    namespace = {"__fn": fn, "__translate": _translate, "__AxisError": _AxisError}
    prologue = ""
    if cast_state is not None:
        namespace.update(__cast_state=cast_state, __cast=cast)
        body = "".join(f"\n        {c}" for c in casts) or "\n        pass"
        prologue = '\n    if __cast_state.enabled.get("cpu"):' + body
    source = _TEMPLATE.format(
        name=fn.__name__,
        params=", ".join(params),
        prologue=prologue,
        args=", ".join(args),
        bound=bound,
    )
    exec(compile(source, _call_site.WRAPPER_FILENAME, "exec"), namespace)
    wrapper = namespace[fn.__name__]
    wrapper.__defaults__ = fn.__defaults__
    wrapper.__kwdefaults__ = fn.__kwdefaults__
    functools.update_wrapper(wrapper, fn)
    wrapper.__pytorch_errors__ = True
    return wrapper


def wrap_module(namespace: dict, names) -> None:
    """Wraps the named Python functions of a module namespace in place."""
    for name in names:
        fn = namespace.get(name)
        if inspect.isfunction(fn):
            namespace[name] = pytorch_errors(fn)
