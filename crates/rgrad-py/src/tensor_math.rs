//! The elementwise math methods beyond the basic arithmetic: inverse trigonometric and
//! hyperbolic functions, logarithms and exponentials of other bases, special functions, and
//! the binary math ops (atan2, hypot, logaddexp, xlogy, fmod, remainder, ...), each with its
//! in-place form.

use crate::convert::{require_operand, Arg};
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rgrad_core::ops::binary::{binary, BinaryOp};
use rgrad_core::ops::unary::UnaryOp;
use rgrad_core::{Operand, Tensor};

fn apply_(
    slf: &Bound<'_, PyTensor>,
    f: impl FnOnce(&Tensor) -> rgrad_core::Result<Tensor>,
) -> PyResult<Py<PyTensor>> {
    slf.borrow().t.apply_inplace(&[], f).py()?;
    Ok(slf.clone().unbind())
}

fn bin_arg(a: &Tensor, other: &Bound<'_, PyAny>, op: BinaryOp, what: &str) -> PyResult<Tensor> {
    let py = other.py();
    match require_operand(other, what)? {
        Arg::T(b) => run(py, a.numel().max(b.numel()), || binary(op, Operand::T(a), Operand::T(&b))),
        Arg::S(s) => run(py, a.numel(), || binary(op, Operand::T(a), Operand::S(s))),
    }
}

fn bin_inplace(
    slf: &Bound<'_, PyTensor>,
    other: &Bound<'_, PyAny>,
    op: BinaryOp,
    what: &str,
) -> PyResult<Py<PyTensor>> {
    let arg = require_operand(other, what)?;
    slf.borrow()
        .t
        .binary_(
            op,
            match &arg {
                Arg::T(b) => Operand::T(b),
                Arg::S(s) => Operand::S(*s),
            },
        )
        .py()?;
    Ok(slf.clone().unbind())
}

macro_rules! unary_methods {
    ($($name:ident, $inplace:ident => $op:ident;)*) => {
        #[rgrad_py_macros::boundary]
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
                    wrap(py, run(py, self.t.numel(), || self.t.unary(UnaryOp::$op))?)
                }
                fn $inplace(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
                    apply_(slf, |b| b.unary(UnaryOp::$op))
                }
            )*
        }
    };
}

unary_methods! {
    asin, asin_ => Asin;
    acos, acos_ => Acos;
    atan, atan_ => Atan;
    sinh, sinh_ => Sinh;
    cosh, cosh_ => Cosh;
    asinh, asinh_ => Asinh;
    acosh, acosh_ => Acosh;
    atanh, atanh_ => Atanh;
    log2, log2_ => Log2;
    log10, log10_ => Log10;
    exp2, exp2_ => Exp2;
    erfinv, erfinv_ => Erfinv;
    lgamma, lgamma_ => Lgamma;
    digamma, digamma_ => Digamma;
    frac, frac_ => Frac;
    sinc, sinc_ => Sinc;
}

macro_rules! inplace_methods {
    ($($inplace:ident => $op:ident;)*) => {
        #[rgrad_py_macros::boundary]
        #[pymethods]
        impl PyTensor {
            $(
                fn $inplace(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
                    apply_(slf, |b| b.unary(UnaryOp::$op))
                }
            )*
        }
    };
}

inplace_methods! {
    sin_ => Sin;
    cos_ => Cos;
    tan_ => Tan;
    rsqrt_ => Rsqrt;
    log1p_ => Log1p;
    expm1_ => Expm1;
    ceil_ => Ceil;
    trunc_ => Trunc;
    erf_ => Erf;
}

macro_rules! binary_methods {
    ($($name:ident, $inplace:ident => $op:ident;)*) => {
        #[rgrad_py_macros::boundary]
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
                    wrap(py, bin_arg(&self.t, other, BinaryOp::$op, stringify!($name))?)
                }
                fn $inplace(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
                    bin_inplace(slf, other, BinaryOp::$op, stringify!($inplace))
                }
            )*
        }
    };
}

binary_methods! {
    atan2, atan2_ => Atan2;
    hypot, hypot_ => Hypot;
    logaddexp, logaddexp_ => LogAddExp;
    xlogy, xlogy_ => Xlogy;
    fmod, fmod_ => Fmod;
    remainder, remainder_ => Rem;
    floor_divide, floor_divide_ => FloorDiv;
    true_divide, true_divide_ => Div;
}

/// The binary op called `name` (`rgrad.xlogy(2.0, t)`: either side may be a number).
#[rgrad_py_macros::boundary]
#[pyfunction]
pub fn _binary_op(
    py: Python<'_>,
    name: &str,
    input: &Bound<'_, PyAny>,
    other: &Bound<'_, PyAny>,
) -> PyResult<Py<PyTensor>> {
    let op = match name {
        "atan2" => BinaryOp::Atan2,
        "hypot" => BinaryOp::Hypot,
        "logaddexp" => BinaryOp::LogAddExp,
        "xlogy" => BinaryOp::Xlogy,
        "fmod" => BinaryOp::Fmod,
        "remainder" => BinaryOp::Rem,
        "floor_divide" => BinaryOp::FloorDiv,
        "true_divide" => BinaryOp::Div,
        _ => return Err(PyValueError::new_err(format!("unknown binary op {name}"))),
    };
    let (a, b) = (require_operand(input, name)?, require_operand(other, name)?);
    let out = match (&a, &b) {
        (Arg::T(x), Arg::T(y)) => binary(op, Operand::T(x), Operand::T(y)),
        (Arg::T(x), Arg::S(s)) => binary(op, Operand::T(x), Operand::S(*s)),
        (Arg::S(s), Arg::T(y)) => binary(op, Operand::S(*s), Operand::T(y)),
        (Arg::S(_), Arg::S(_)) => {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{name}() received an invalid combination of arguments - got (number, number)"
            )))
        }
    };
    wrap(py, out.py()?)
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    /// Makes `self` the tensor `view` (a view of it, with history): the in-place view ops
    /// (`squeeze_`, `unsqueeze_`, `t_`) are written in Python with it.
    fn _set_view(slf: &Bound<'_, Self>, view: PyRef<'_, PyTensor>) -> Py<PyTensor> {
        let t = view.t.clone();
        drop(view);
        slf.borrow_mut().replace_tensor(t);
        slf.clone().unbind()
    }
}
