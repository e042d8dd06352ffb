"""Forward hooks of ``nn.Module`` (a mixin of it), the handles that remove them, and small
helpers the module classes share."""

import warnings
import weakref
from collections import namedtuple

__all__ = ["RemovableHandle"]


class RemovableHandle:
    """Removes a registered hook: ``handle.remove()``, or leave a ``with handle:`` block.

    The handle refers to the hook dictionaries weakly, so it keeps no module alive.
    """

    next_id = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        extra = [] if extra_dict is None else extra_dict
        extra = extra if isinstance(extra, (list, tuple)) else [extra]
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra)

    def remove(self):
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            hooks = ref()
            if hooks is not None and self.id in hooks:
                del hooks[self.id]

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it missed and the keys it did not expect."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(s, num_spaces):
    """Indents every line of ``s`` but the first by ``num_spaces`` (nested module reprs)."""
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    pad = " " * num_spaces
    return lines[0] + "\n" + "\n".join(pad + line for line in lines[1:])


_TENSOR_TYPES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "bool": "BoolTensor",
}


def _typename(obj):
    """The type name PyTorch's messages use: ``rgrad.FloatTensor``, ``int``, ``pkg.Class``."""
    from rgrad import Tensor

    if isinstance(obj, Tensor):
        dtype = repr(obj.dtype).rpartition(".")[2]
        return "rgrad." + _TENSOR_TYPES.get(dtype, "Tensor")
    cls = type(obj)
    module = cls.__module__
    if module in (None, "builtins"):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


class _ForwardHooksMixin:
    """Registration and running of forward pre-hooks and hooks, and of full backward hooks
    (set up around the call); ``Module.__call__`` takes the plain ``forward`` path unless one
    is registered."""

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Registers ``hook(module, args)`` (or ``hook(module, args, kwargs)``) to run before
        ``forward``; a non-None result replaces the arguments. Returns a removable handle."""
        handle = RemovableHandle(
            self._forward_pre_hooks, extra_dict=self._forward_pre_hooks_with_kwargs
        )
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """Registers ``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``)
        to run after ``forward``; a non-None result replaces the output. Returns a handle."""
        handle = RemovableHandle(
            self._forward_hooks,
            extra_dict=[self._forward_hooks_with_kwargs, self._forward_hooks_always_called],
        )
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        """Registers ``hook(module, grad_input, grad_output)``, called once the gradients
        with respect to the module's inputs are computed; a non-None result replaces
        ``grad_input``. Returns a removable handle."""
        return self._register_backward(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Registers ``hook(module, grad_output)``, called once the gradients with respect to
        the module's outputs are computed; a non-None result replaces ``grad_output``."""
        return self._register_backward(self._backward_pre_hooks, hook, prepend)

    def _register_backward(self, hooks, hook, prepend):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def _call_with_hooks(self, args, kwargs):
        called, result = set(), None
        backward_hook = None
        if self._backward_hooks or self._backward_pre_hooks:
            from rgrad.nn.modules._backward_hooks import BackwardHook

            backward_hook = BackwardHook(self, args)
        try:
            for hook_id, hook in list(self._forward_pre_hooks.items()):
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    out = hook(self, args, kwargs)
                    if out is not None:
                        if not (isinstance(out, tuple) and len(out) == 2):
                            raise RuntimeError(
                                "forward pre-hook must return None or a tuple of "
                                f"(new_args, new_kwargs), but got {out}."
                            )
                        args, kwargs = out
                else:
                    out = hook(self, args)
                    if out is not None:
                        args = out if isinstance(out, tuple) else (out,)
            if backward_hook is not None:
                args = backward_hook.setup_input_hook(args)
            result = self.forward(*args, **kwargs)
            for hook_id, hook in list(self._forward_hooks.items()):
                called.add(hook_id)
                out = self._run_forward_hook(hook_id, hook, args, kwargs, result)
                if out is not None:
                    result = out
            if backward_hook is not None:
                result = backward_hook.setup_output_hook(result)
            return result
        except Exception:
            for hook_id, hook in list(self._forward_hooks.items()):
                if hook_id in self._forward_hooks_always_called and hook_id not in called:
                    try:
                        out = self._run_forward_hook(hook_id, hook, args, kwargs, result)
                        result = result if out is None else out
                    except Exception as e:
                        warnings.warn(
                            "module forward hook with ``always_call=True`` raised an exception "
                            f"that was silenced as another error was raised in forward: {e}",
                            stacklevel=2,
                        )
            raise

    def _run_forward_hook(self, hook_id, hook, args, kwargs, result):
        if hook_id in self._forward_hooks_with_kwargs:
            return hook(self, args, kwargs, result)
        return hook(self, args, result)
