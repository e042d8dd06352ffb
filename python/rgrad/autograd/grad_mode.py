"""Grad-mode switches, usable as context managers and as decorators (with or without
parentheses for the ones that take no argument)."""

import functools

from rgrad._rgrad import _set_grad_enabled, _set_inference_mode, is_grad_enabled

__all__ = [
    "enable_grad",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_grad_enabled",
]

_inference_depth = 0


class _DecoratorContextManager:
    """Decorating a function runs each call of it inside a fresh copy of the manager."""

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)

        return wrapper

    def clone(self):
        return self.__class__()


class _NoParamDecoratorContextManager(_DecoratorContextManager):
    """Also usable as a bare decorator: ``@no_grad`` as well as ``@no_grad()``."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamDecoratorContextManager):
    """Disables gradient recording inside the block (or the decorated function)."""

    def __enter__(self):
        self._prev = _set_grad_enabled(False)

    def __exit__(self, *exc):
        _set_grad_enabled(self._prev)


class enable_grad(_NoParamDecoratorContextManager):
    """Enables gradient recording inside the block (or the decorated function)."""

    def __enter__(self):
        self._prev = _set_grad_enabled(True)

    def __exit__(self, *exc):
        _set_grad_enabled(self._prev)


class set_grad_enabled(_DecoratorContextManager):
    """``set_grad_enabled(mode)`` sets grad mode at once; as a context manager it restores the
    previous mode on exit, and as a decorator it applies only to the decorated function."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = _set_grad_enabled(self.mode)

    def __call__(self, func):
        _set_grad_enabled(self._prev)
        return super().__call__(func)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _set_grad_enabled(self._prev)

    def clone(self):
        return self.__class__(self.mode)


class inference_mode(_DecoratorContextManager):
    """Like ``no_grad``: nothing inside records history (``inference_mode(False)`` is a no-op)."""

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        global _inference_depth
        if self.mode:
            _inference_depth += 1
            self._prev = _set_grad_enabled(False)
            self._prev_inference = _set_inference_mode(True)

    def __exit__(self, *exc):
        global _inference_depth
        if self.mode:
            _inference_depth -= 1
            _set_inference_mode(self._prev_inference)
            _set_grad_enabled(self._prev)

    def clone(self):
        return self.__class__(self.mode)


def is_inference_mode_enabled():
    return _inference_depth > 0
