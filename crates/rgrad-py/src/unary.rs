//! The elementwise unary ops as `Tensor` methods, each with its in-place form
//! (rgrad_core::ops::unary), and the `-x` and `abs(x)` operators.
//!
//! An op is one line of a table: `unary_methods!` for a `UnaryOp` variant,
//! `unary_core_methods!` for the ops the core has as their own `Tensor` method.

use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;
use rgrad_core::ops::unary::UnaryOp;

/// `name()` and `name_()` for a `UnaryOp`.
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
                    Self::apply_(slf, |b| b.unary(UnaryOp::$op))
                }
            )*
        }
    };
}

unary_methods! {
    exp, exp_ => Exp;
    log, log_ => Log;
    sqrt, sqrt_ => Sqrt;
    rsqrt, rsqrt_ => Rsqrt;
    sin, sin_ => Sin;
    cos, cos_ => Cos;
    tan, tan_ => Tan;
    tanh, tanh_ => Tanh;
    sigmoid, sigmoid_ => Sigmoid;
    log1p, log1p_ => Log1p;
    expm1, expm1_ => Expm1;
    reciprocal, reciprocal_ => Reciprocal;
    floor, floor_ => Floor;
    ceil, ceil_ => Ceil;
    round, round_ => Round;
    trunc, trunc_ => Trunc;
    erf, erf_ => Erf;
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

/// `name()`, and `name_()` when given, for an op that is its own core `Tensor` method.
macro_rules! unary_core_methods {
    ($($name:ident $(, $inplace:ident)? => $method:ident;)*) => {
        #[rgrad_py_macros::boundary]
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
                    wrap(py, self.t.$method().py()?)
                }
                $(
                    fn $inplace(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
                        Self::apply_(slf, |b| b.$method())
                    }
                )?
            )*
        }
    };
}

unary_core_methods! {
    neg, neg_ => neg;
    abs, abs_ => abs;
    relu, relu_ => relu;
    sign => sign;
    __neg__ => neg;
    __abs__ => abs;
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    fn __pos__(slf: &Bound<'_, Self>) -> Py<PyTensor> {
        slf.clone().unbind()
    }
}
