"""Grad-mode switches, usable as context managers and as decorators."""

import functools

from rgrad._rgrad import _set_grad_enabled, is_grad_enabled

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]


class _GradMode:
    """Base: enter sets ``self._mode``; exit restores the previous mode."""

    _mode = True

    def __enter__(self):
        self._prev = _set_grad_enabled(self._mode)
        return self

    def __exit__(self, *exc):
        _set_grad_enabled(self._prev)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__() if type(self) is not set_grad_enabled else self._clone():
                return func(*args, **kwargs)

        return wrapper

    def _clone(self):
        return self


class no_grad(_GradMode):
    """Disables gradient recording inside the block (or the decorated function)."""

    _mode = False


class enable_grad(_GradMode):
    """Enables gradient recording inside the block (or the decorated function)."""

    _mode = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(mode)`` sets grad mode now; as a context manager it also restores
    the previous mode on exit."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = _set_grad_enabled(self._mode)

    def __enter__(self):
        return self

    def _clone(self):
        return _Scoped(self._mode)


class _Scoped(_GradMode):
    def __init__(self, mode):
        self._mode = mode
