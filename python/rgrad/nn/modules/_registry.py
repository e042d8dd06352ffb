"""The dicts that hold a module's parameters, buffers and submodules.

PyTorch keeps them out of the instance ``__dict__`` and finds them with ``Module.__getattr__``,
a Python-level call on every ``self.weight`` of every forward. rgrad's registries mirror each
entry into the instance ``__dict__`` instead, so those reads are plain attribute lookups, and
every way of changing a registry keeps the mirror in step.
"""

__all__ = ["Registry"]

_MISSING = object()


class Registry(dict):
    """A dict of a module's registered entries that mirrors them into ``attrs`` (the module's
    instance ``__dict__``)."""

    __slots__ = ("_attrs",)

    def __init__(self, attrs, entries=()):
        super().__init__()
        self._attrs = attrs
        self.update(entries)

    def __setitem__(self, key, value):
        dict.__setitem__(self, key, value)
        self._attrs[key] = value

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        self._attrs.pop(key, None)

    def pop(self, key, default=_MISSING):
        if key in self:
            self._attrs.pop(key, None)
            return dict.pop(self, key)
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self):
        key, value = dict.popitem(self)
        self._attrs.pop(key, None)
        return key, value

    def clear(self):
        for key in self:
            self._attrs.pop(key, None)
        dict.clear(self)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, other=(), /, **kwargs):
        for key, value in dict(other, **kwargs).items():
            self[key] = value

    def __ior__(self, other):
        self.update(other)
        return self

    def __reduce__(self):
        # Pickled and copied as a plain dict: the module's __setstate__ links it to its new
        # owner (the old one's __dict__ must not come along).
        return dict, (dict(self),)

    def copy(self):
        return dict(self)
