"""Glue the families share: expanding parameters for ``expand`` and drawing base noise."""

import rgrad

_NUMBER = (bool, int, float)


def is_number(x):
    return isinstance(x, _NUMBER)


def expand_params(self, cls, batch_shape, _instance, names, extra_shape=()):
    """A new ``cls`` whose tensors ``names`` are this one's expanded to ``batch_shape`` (plus
    ``extra_shape`` for per-event parameters), unvalidated, as PyTorch's ``expand``."""
    new = self._get_checked_instance(cls, _instance)
    batch_shape = rgrad.Size(batch_shape)
    for name in names:
        if name in self.__dict__:
            setattr(new, name, getattr(self, name).expand(batch_shape + rgrad.Size(extra_shape)))
    super(cls, new).__init__(batch_shape, self.event_shape, validate_args=False)
    new._validate_args = self._validate_args
    return new


def empty_like_param(param, shape):
    return rgrad.empty(tuple(shape), dtype=param.dtype, device=param.device)
