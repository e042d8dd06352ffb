"""Python views of autograd graph nodes (``tensor.grad_fn``)."""

from rgrad import _rgrad

__all__ = ["Node"]


class Node:
    """A node of the backward graph. Each op has its own subclass (``MulBackward0``...)."""

    __slots__ = ("_raw",)

    def __init__(self, raw):
        self._raw = raw

    def name(self):
        return self._raw.name()

    @property
    def next_functions(self):
        return tuple(self._raw.next_functions())

    def __eq__(self, other):
        return isinstance(other, Node) and self._raw.key() == other._raw.key()

    def __hash__(self):
        return self._raw.key()

    def __repr__(self):
        return f"<{type(self).__name__} object at {self._raw.key():#x}>"


class AccumulateGrad(Node):
    """Accumulates gradients into a leaf tensor's ``.grad``."""

    __slots__ = ()

    @property
    def variable(self):
        return self._raw.variable()


_classes = {"AccumulateGrad": AccumulateGrad}


def _make_node(raw):
    name = raw.name()
    cls = _classes.get(name)
    if cls is None:
        cls = _classes[name] = type(name, (Node,), {"__slots__": ()})
    return cls(raw)


_rgrad._set_node_factory(_make_node)
