"""Finite-difference checks of analytical gradients (float64 recommended). The Jacobians are
rgrad float64 tensors on the host, built with rgrad's own ops."""

import rgrad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(func, inputs):
    return tuple(o for o in _as_tuple(func(*inputs)) if isinstance(o, rgrad.Tensor))


def _flat_host(t):
    """``t``'s elements as a new float64 vector on the host (a copy: an output may be a view of
    the input that the next step perturbs)."""
    return t.detach().reshape(-1).to(device="cpu", dtype=rgrad.float64).clone()


def _coordinates(k, shape):
    """The row-major coordinates of flat position ``k`` in ``shape``."""
    coords = []
    for size in reversed(shape):
        k, c = divmod(k, size)
        coords.append(c)
    return tuple(reversed(coords))


def _out_numel(func, inputs):
    return sum(o.numel() for o in _outputs(func, inputs))


def _numerical_jacobian(func, inputs, i, eps):
    """Central differences: d outputs / d inputs[i], one column per input element."""
    x = inputs[i].detach()
    cols = []
    for k in range(x.numel()):
        elem = x[_coordinates(k, tuple(x.shape))]
        orig = elem.item()
        with rgrad.no_grad():
            elem.fill_(orig + eps)
            plus = [_flat_host(o) for o in _outputs(func, inputs)]
            elem.fill_(orig - eps)
            minus = [_flat_host(o) for o in _outputs(func, inputs)]
            elem.fill_(orig)
        diffs = [(p - m) / (2 * eps) for p, m in zip(plus, minus)]
        cols.append(rgrad.cat(diffs) if diffs else rgrad.zeros(0, dtype=rgrad.float64))
    if not cols:
        return rgrad.zeros((_out_numel(func, inputs), 0), dtype=rgrad.float64)
    return rgrad.stack(cols, dim=1)


def _analytical_jacobian(func, inputs, i):
    """Rows of d outputs / d inputs[i] from one backward pass per output element, with
    ``autograd.grad`` so that inputs that are not leaves (views, results) work too."""
    x = inputs[i]
    rows = []
    for o in _outputs(func, inputs):
        for k in range(o.numel()):
            g = None
            if o.requires_grad:
                onehot = rgrad.zeros(o.numel(), dtype=o.dtype, device=o.device)
                onehot[k].fill_(1.0)
                (g,) = rgrad.autograd.grad(
                    o, x, onehot.reshape(o.shape), retain_graph=True, allow_unused=True
                )
            rows.append(rgrad.zeros(x.numel(), dtype=rgrad.float64) if g is None else _flat_host(g))
    if not rows:
        return rgrad.zeros((0, x.numel()), dtype=rgrad.float64)
    return rgrad.stack(rows, dim=0)


def _output_of_row(func, inputs, row):
    """The index of the output that a row of the Jacobians belongs to."""
    for n, o in enumerate(_outputs(func, inputs)):
        if row < o.numel():
            return n
        row -= o.numel()
    return 0


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_ignored):
    """Compares gradients from backward with central finite differences for every input
    that requires grad. Returns True, or raises GradcheckError (or returns False)."""
    inputs = _as_tuple(inputs)
    for i, x in enumerate(inputs):
        if not (isinstance(x, rgrad.Tensor) and x.requires_grad):
            continue
        analytical = _analytical_jacobian(func, inputs, i)
        numerical = _numerical_jacobian(func, inputs, i, eps)
        if analytical.shape != numerical.shape or not rgrad.allclose(
            analytical, numerical, atol=atol, rtol=rtol
        ):
            if not raise_exception:
                return False
            out = 0
            if analytical.shape == numerical.shape:
                bad = (~rgrad.isclose(analytical, numerical, atol=atol, rtol=rtol)).nonzero()
                out = _output_of_row(func, inputs, int(bad[0][0])) if len(bad) else 0
            raise GradcheckError(
                f"Jacobian mismatch for output {out} with respect to input {i},\n"
                f"numerical:{numerical}\nanalytical:{analytical}\n"
            )
    return True


def gradgradcheck(func, inputs, grad_outputs=None, **kwargs):
    """gradcheck applied to the gradients themselves (built with create_graph=True)."""
    inputs = _as_tuple(inputs)

    def first_grads(*args):
        with rgrad.enable_grad():  # also under the numerical Jacobian's no_grad
            return _first_grads(args)

    def _first_grads(args):
        outs = _outputs(func, args)
        total = None
        for n, o in enumerate(outs):
            cot = (
                grad_outputs[n] if grad_outputs is not None else rgrad.ones(o.shape, dtype=o.dtype)
            )
            term = (o * cot).sum()
            total = term if total is None else total + term
        wrt = [x for x in args if isinstance(x, rgrad.Tensor) and x.requires_grad]
        grads = rgrad.autograd.grad(total, wrt, create_graph=True, allow_unused=True)
        return tuple(rgrad.zeros_like(x) if g is None else g for x, g in zip(wrt, grads))

    return gradcheck(first_grads, inputs, **kwargs)
