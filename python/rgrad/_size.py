"""``rgrad.Size``: the tuple subclass that ``Tensor.shape`` returns."""


class Size(tuple):
    __slots__ = ()

    def __repr__(self):
        return f"rgrad.Size({list(self)})"

    __str__ = __repr__

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, key):
        out = super().__getitem__(key)
        return Size(out) if isinstance(key, slice) else out

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __reduce__(self):
        return (Size, (tuple(self),))
