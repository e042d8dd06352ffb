"""Anomaly detection: with it on, a NaN produced in backward raises an error naming the
backward function (and so the forward op) that produced it."""

from rgrad._rgrad import _set_anomaly, is_anomaly_enabled

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


class detect_anomaly:
    """Context manager (and decorator) enabling anomaly detection."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = _set_anomaly(self.check_nan)

    def __exit__(self, *exc):
        _set_anomaly(self._prev)

    def __call__(self, func):
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return func(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    """``set_detect_anomaly(mode)`` sets it now; as a context manager it restores on exit."""

    def __init__(self, mode, check_nan=True):
        self._prev = _set_anomaly(bool(mode) and check_nan)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _set_anomaly(self._prev)
