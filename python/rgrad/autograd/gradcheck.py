"""Finite-difference checks of analytical gradients (float64 recommended)."""

import numpy as np

import rgrad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(func, inputs):
    return tuple(o for o in _as_tuple(func(*inputs)) if isinstance(o, rgrad.Tensor))


def _numerical_jacobian(func, inputs, i, eps):
    """Central differences: d outputs / d inputs[i], one column per input element."""
    x = inputs[i].detach()
    cols = []
    for k in range(x.numel()):
        elem = x[tuple(int(j) for j in np.unravel_index(k, tuple(x.shape)))]
        orig = elem.item()
        with rgrad.no_grad():
            elem.fill_(orig + eps)
            plus = [o.detach().numpy().ravel().copy() for o in _outputs(func, inputs)]
            elem.fill_(orig - eps)
            minus = [o.detach().numpy().ravel().copy() for o in _outputs(func, inputs)]
            elem.fill_(orig)
        cols.append(np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)]))
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


def _analytical_jacobian(func, inputs, i):
    """Rows of d outputs / d inputs[i] from one backward pass per output element, with
    ``autograd.grad`` so that inputs that are not leaves (views, results) work too."""
    x = inputs[i]
    rows = []
    for o in _outputs(func, inputs):
        for k in range(o.numel()):
            g = None
            if o.requires_grad:
                onehot = rgrad.zeros(o.numel(), dtype=o.dtype)
                onehot[k].fill_(1.0)
                (g,) = rgrad.autograd.grad(
                    o, x, onehot.reshape(o.shape), retain_graph=True, allow_unused=True
                )
            rows.append(np.zeros(x.numel()) if g is None else g.numpy().ravel().copy())
    return np.stack(rows, axis=0) if rows else np.zeros((0, 0))


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
        if analytical.shape != numerical.shape or not np.allclose(
            analytical, numerical, atol=atol, rtol=rtol
        ):
            if not raise_exception:
                return False
            bad = np.argwhere(~np.isclose(analytical, numerical, atol=atol, rtol=rtol))
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
