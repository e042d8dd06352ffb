"""Named pairs returned by ``max(dim)``, ``min(dim)``, ``sort``, ``topk``, ``kthvalue``,
``median(dim)``, ``nanmedian(dim)`` and ``mode``
(``rgrad.return_types``)."""

__all__ = [
    "aminmax",
    "cummax",
    "cummin",
    "kthvalue",
    "max",
    "median",
    "min",
    "mode",
    "nanmedian",
    "sort",
    "topk",
]


class _ValuesIndices(tuple):
    __slots__ = ()

    def __new__(cls, pair):
        return super().__new__(cls, pair)

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self):
        return (
            f"rgrad.return_types.{type(self).__name__}(\nvalues={self[0]!r},\nindices={self[1]!r})"
        )

    def __reduce__(self):
        return (type(self), (tuple(self),))


class max(_ValuesIndices):  # noqa: A001
    __slots__ = ()


class min(_ValuesIndices):  # noqa: A001
    __slots__ = ()


class sort(_ValuesIndices):
    __slots__ = ()


class topk(_ValuesIndices):
    __slots__ = ()


class median(_ValuesIndices):
    __slots__ = ()


class nanmedian(_ValuesIndices):
    __slots__ = ()


class kthvalue(_ValuesIndices):
    __slots__ = ()


class mode(_ValuesIndices):
    __slots__ = ()


class cummax(_ValuesIndices):
    __slots__ = ()


class cummin(_ValuesIndices):
    __slots__ = ()


class aminmax(tuple):
    """``(min, max)`` of ``torch.aminmax``."""

    __slots__ = ()

    def __new__(cls, pair):
        return super().__new__(cls, pair)

    @property
    def min(self):
        return self[0]

    @property
    def max(self):
        return self[1]

    def __repr__(self):
        return f"rgrad.return_types.aminmax(\nmin={self[0]!r},\nmax={self[1]!r})"

    def __reduce__(self):
        return (type(self), (tuple(self),))
