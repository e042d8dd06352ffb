"""Tensor printing that reproduces PyTorch's ``repr(tensor)`` output.

A NumPy-only re-implementation of the algorithm in ``torch/_tensor_str.py``: a single
``_Formatter`` decides a common width and notation (integer-valued, fixed or scientific)
for every element, the values are laid out as nested brackets wrapped at ``linewidth``,
large tensors are summarised with ``...`` and the ``key=value`` suffixes are appended.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["format_tensor", "set_printoptions", "get_printoptions"]

# dtypes that ``repr`` does not name (PyTorch: the default float dtype, int64 and bool).
_DEFAULT_DTYPES = ("float32", "int64", "bool")
_DEFAULT_FLOAT = "float32"


class _PrinterOptions:
    def __init__(self) -> None:
        self.precision: int = 4
        self.threshold: float = 1000
        self.edgeitems: int = 3
        self.linewidth: int = 80
        self.sci_mode: bool | None = None


PRINT_OPTS = _PrinterOptions()

_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
):
    """Set printing options, like ``torch.set_printoptions``.

    ``profile`` is one of ``"default"``, ``"short"`` or ``"full"``; explicit arguments
    override it. As in PyTorch, ``sci_mode`` is always reset (``None`` means automatic).
    """
    if profile is not None:
        for key, value in _PROFILES[profile].items():
            setattr(PRINT_OPTS, key, value)
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict:
    """Return the current printing options as a dict."""
    return dict(vars(PRINT_OPTS))


class _Formatter:
    """Chooses one notation and width for all (possibly summarised) values of a tensor."""

    def __init__(self, values: np.ndarray, floating: bool):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        # float16/float32 widen exactly; PyTorch also formats Python floats (via .item())
        flat = values.reshape(-1).astype(np.float64) if floating else values.reshape(-1)

        if not floating:
            for value in flat.tolist():
                self.max_width = max(self.max_width, len(str(value)))
            return

        nonzero_finite = flat[np.isfinite(flat) & (flat != 0)]
        if nonzero_finite.size == 0:
            # PyTorch returns early here, so a user sci_mode is ignored for such tensors.
            return
        abs_vals = np.abs(nonzero_finite)
        vmin, vmax = float(abs_vals.min()), float(abs_vals.max())
        vals = nonzero_finite.tolist()
        self.int_mode = bool(np.all(nonzero_finite == np.ceil(nonzero_finite)))
        precision = PRINT_OPTS.precision

        if self.int_mode:
            # integer-valued floats print as "1." so reserve room for the trailing dot
            self.sci_mode = vmax / vmin > 1000.0 or vmax > 1.0e8
            if self.sci_mode:
                widths = [len(f"{v:.{precision}e}") for v in vals]
            else:
                widths = [len(f"{v:.0f}") + 1 for v in vals]
        else:
            self.sci_mode = vmax / vmin > 1000.0 or vmax > 1.0e8 or vmin < 1.0e-4
            spec = "e" if self.sci_mode else "f"
            widths = [len(f"{v:.{precision}{spec}}") for v in vals]
        self.max_width = max(self.max_width, *widths)

        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode

    def width(self) -> int:
        return self.max_width

    def format(self, value) -> str:
        precision = PRINT_OPTS.precision
        if not self.floating:
            ret = str(value)
        elif self.sci_mode:
            ret = f"{value:{self.max_width}.{precision}e}"
        elif self.int_mode:
            ret = f"{value:.0f}"
            if not (math.isinf(value) or math.isnan(value)):
                ret += "."
        else:
            ret = f"{value:.{precision}f}"
        return (self.max_width - len(ret)) * " " + ret


def _summarized_data(values: np.ndarray) -> np.ndarray:
    """Keep only the ``edgeitems`` leading and trailing entries along every dimension."""
    edge = PRINT_OPTS.edgeitems
    if values.ndim == 0:
        return values
    if values.shape[0] > 2 * edge:
        values = np.concatenate((values[:edge], values[-edge:]))
    if values.ndim == 1:
        return values
    return np.stack([_summarized_data(row) for row in values])


def _vector_str(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    # each element takes its width plus ", "
    element_length = fmt.width() + 2
    per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / element_length)))
    edge = PRINT_OPTS.edgeitems
    if summarize and values.shape[0] > 2 * edge:
        data = (
            [fmt.format(v) for v in values[:edge].tolist()]
            + [" ..."]
            + [fmt.format(v) for v in values[-edge:].tolist()]
        )
    else:
        data = [fmt.format(v) for v in values.tolist()]
    lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(
    values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter
) -> str:
    dim = values.ndim
    if dim == 0:
        return fmt.format(values.item())
    if dim == 1:
        return _vector_str(values, indent, summarize, fmt)

    def sub(i: int) -> str:
        return _tensor_str_with_formatter(values[i], indent + 1, summarize, fmt)

    n, edge = values.shape[0], PRINT_OPTS.edgeitems
    if summarize and n > 2 * edge:
        slices = [sub(i) for i in range(edge)] + ["..."] + [sub(i) for i in range(n - edge, n)]
    else:
        slices = [sub(i) for i in range(n)]
    return "[" + ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices) + "]"


def _tensor_str(values: np.ndarray, indent: int, floating: bool) -> str:
    summarize = values.size > PRINT_OPTS.threshold
    fmt = _Formatter(_summarized_data(values) if summarize else values, floating)
    return _tensor_str_with_formatter(values, indent, summarize, fmt)


def _add_suffixes(tensor_str: str, suffixes: list[str], indent: int) -> str:
    parts = [tensor_str]
    # mirrors PyTorch's computation (which counts two extra characters)
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def _is_floating(values: np.ndarray, dtype_name: str) -> bool:
    return dtype_name.startswith(("float", "bfloat", "half", "double")) or values.dtype.kind == "f"


def format_tensor(values, dtype_name: str, suffixes: list[str]) -> str:
    """Return the PyTorch-style ``repr`` of a tensor, e.g. ``tensor([1., 2.])``.

    ``values`` holds the tensor's data, ``dtype_name`` is the rgrad dtype name (e.g.
    ``"float64"``) and ``suffixes`` are preformatted ``key=value`` strings such as
    ``"requires_grad=True"``. As in PyTorch, ``device=`` suffixes come first, then
    ``size=``/``dtype=``, then the remaining suffixes.
    """
    values = np.asarray(values)
    floating = _is_floating(values, dtype_name)
    prefix = "tensor("
    indent = len(prefix)
    device = [s for s in suffixes if s.startswith("device=")]
    extra: list[str] = []
    if values.size == 0:
        # the shape is printed unless it is (0,); the dtype of an empty tensor cannot be
        # inferred from its elements, so only the default float dtype goes unnamed
        if values.ndim != 1:
            extra.append("size=" + str(tuple(values.shape)))
        if dtype_name != _DEFAULT_FLOAT:
            extra.append("dtype=rgrad." + dtype_name)
        tensor_str = "[]"
    else:
        if dtype_name not in _DEFAULT_DTYPES:
            extra.append("dtype=rgrad." + dtype_name)
        tensor_str = _tensor_str(values, indent, floating)
    rest = [s for s in suffixes if not s.startswith("device=")]
    return _add_suffixes(prefix + tensor_str, device + extra + rest, indent)
