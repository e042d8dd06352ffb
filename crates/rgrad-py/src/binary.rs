//! The binary ops as `Tensor` methods (rgrad_core::ops::binary): the Python operators (`+`,
//! `-`, `*`, `/`, `//`, `%`, `**`, comparisons, `+=` ...), the named arithmetic (`add(alpha=)`,
//! `mul`, `maximum`, ...), the comparisons (`eq`, `lt`, ...), the binary math ops (atan2,
//! hypot, logaddexp, xlogy, fmod, remainder, ...) with their in-place forms, `where`, and
//! `rgrad._binary_op` for the functions whose either side may be a number.
//!
//! A uniform op is one line in a table: `binary_methods!` (a method, and its in-place form
//! if it has one), `binary_math_ops!` (also `rgrad._binary_op`'s name for it),
//! `inplace_binary_methods!` and `inplace_operators!` (in-place forms of the arithmetic).

use crate::convert::{operand, require_operand, Arg};
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, wrap_any, PyTensor};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use rgrad_core::ops::binary::{binary, BinaryOp};
use rgrad_core::{Operand, Scalar, Tensor};

/// `a op b` for a Python operator; NotImplemented for unsupported operand types.
#[inline]
fn bin(
    py: Python<'_>,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    op: BinaryOp,
    reflected: bool,
) -> PyResult<Py<PyAny>> {
    let Some(arg) = operand(other)? else {
        return Ok(py.NotImplemented());
    };
    let (x, y) = match &arg {
        Arg::T(b) => (Operand::T(a), Operand::T(b)),
        Arg::S(s) => (Operand::T(a), Operand::S(*s)),
    };
    let work = match &arg {
        Arg::T(b) => a.numel().max(b.numel()),
        Arg::S(_) => a.numel(),
    };
    let r = run(py, work, || if reflected { binary(op, y, x) } else { binary(op, x, y) })?;
    wrap_any(py, r)
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

/// `name(other)`, and `name_(other)` when given: `self op other` for a tensor or a number.
macro_rules! binary_methods {
    ($($name:ident $(, $inplace:ident)? => $op:ident;)*) => {
        #[rgrad_py_macros::boundary]
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
                    wrap(py, bin_arg(&self.t, other, BinaryOp::$op, stringify!($name))?)
                }
                $(
                    fn $inplace(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
                        bin_inplace(slf, other, BinaryOp::$op, stringify!($inplace))
                    }
                )?
            )*
        }
    };
}

binary_methods! {
    mul => Mul;
    div => Div;
    maximum => Maximum;
    minimum => Minimum;
    eq => Eq;
    ne => Ne;
    lt => Lt;
    le => Le;
    gt => Gt;
    ge => Ge;
}

/// The binary math ops: `name(other)`, `name_(other)`, and the name `rgrad._binary_op` takes
/// for the function form.
macro_rules! binary_math_ops {
    ($($name:ident, $inplace:ident => $op:ident;)*) => {
        binary_methods! { $($name, $inplace => $op;)* }

        /// The op `rgrad._binary_op` calls `name`.
        fn function_op(name: &str) -> Option<BinaryOp> {
            match name {
                $(stringify!($name) => Some(BinaryOp::$op),)*
                _ => None,
            }
        }
    };
}

binary_math_ops! {
    atan2, atan2_ => Atan2;
    hypot, hypot_ => Hypot;
    logaddexp, logaddexp_ => LogAddExp;
    xlogy, xlogy_ => Xlogy;
    fmod, fmod_ => Fmod;
    remainder, remainder_ => Rem;
    floor_divide, floor_divide_ => FloorDiv;
    true_divide, true_divide_ => Div;
}

// The Python operators and their reflected forms (NotImplemented for operands that are
// neither tensors nor numbers). Written out: PyO3's operator slots are not generated from a
// macro_rules table without unsafe-call warnings.
#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    fn __add__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Add, false)
    }
    fn __radd__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Add, true)
    }
    fn __sub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Sub, false)
    }
    fn __rsub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Sub, true)
    }
    fn __mul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Mul, false)
    }
    fn __rmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Mul, true)
    }
    fn __truediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Div, false)
    }
    fn __rtruediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Div, true)
    }
    fn __floordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::FloorDiv, false)
    }
    fn __rfloordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::FloorDiv, true)
    }
    fn __mod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Rem, false)
    }
    fn __rmod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bin(py, &self.t, o, BinaryOp::Rem, true)
    }
}

/// `name_(other)`: the in-place arithmetic (a TypeError for an unsupported operand).
macro_rules! inplace_binary_methods {
    ($($inplace:ident => $op:ident;)*) => {
        #[rgrad_py_macros::boundary]
        #[pymethods]
        impl PyTensor {
            $(
                fn $inplace(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
                    Self::inplace_op(slf, other, BinaryOp::$op)
                }
            )*
        }
    };
}

inplace_binary_methods! {
    mul_ => Mul;
    div_ => Div;
    pow_ => Pow;
}

/// `a op= b`.
macro_rules! inplace_operators {
    ($($name:ident => $op:ident;)*) => {
        #[rgrad_py_macros::boundary]
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
                    Self::inplace_op(slf, o, BinaryOp::$op).map(drop)
                }
            )*
        }
    };
}

inplace_operators! {
    __iadd__ => Add;
    __isub__ => Sub;
    __imul__ => Mul;
    __itruediv__ => Div;
}

// The ops with their own arguments (alpha, an exponent, a condition) or result.
#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    fn __pow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = modulo;
        bin(py, &self.t, o, BinaryOp::Pow, false)
    }

    fn __rpow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = modulo;
        bin(py, &self.t, o, BinaryOp::Pow, true)
    }

    fn __richcmp__(&self, py: Python<'_>, o: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let bop = match op {
            CompareOp::Eq => BinaryOp::Eq,
            CompareOp::Ne => BinaryOp::Ne,
            CompareOp::Lt => BinaryOp::Lt,
            CompareOp::Le => BinaryOp::Le,
            CompareOp::Gt => BinaryOp::Gt,
            CompareOp::Ge => BinaryOp::Ge,
        };
        bin(py, &self.t, o, bop, false)
    }

    #[pyo3(signature = (other, *, alpha=None))]
    fn add(&self, py: Python<'_>, other: &Bound<'_, PyAny>, alpha: Option<f64>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.add_sub(other, alpha, BinaryOp::Add)?)
    }

    #[pyo3(signature = (other, *, alpha=None))]
    fn sub(&self, py: Python<'_>, other: &Bound<'_, PyAny>, alpha: Option<f64>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.add_sub(other, alpha, BinaryOp::Sub)?)
    }

    fn pow(&self, py: Python<'_>, exponent: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, bin_arg(&self.t, exponent, BinaryOp::Pow, "pow")?)
    }

    #[pyo3(signature = (other, *, alpha=None))]
    fn add_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, alpha: Option<f64>) -> PyResult<Py<PyTensor>> {
        Self::inplace_scaled(slf, other, alpha, BinaryOp::Add)
    }

    #[pyo3(signature = (other, *, alpha=None))]
    fn sub_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, alpha: Option<f64>) -> PyResult<Py<PyTensor>> {
        Self::inplace_scaled(slf, other, alpha, BinaryOp::Sub)
    }

    /// `where(condition, other)`: self where condition, else other.
    #[pyo3(name = "where")]
    fn where_(
        &self,
        py: Python<'_>,
        condition: PyRef<'_, PyTensor>,
        other: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTensor>> {
        let out = match require_operand(other, "where")? {
            Arg::T(o) => rgrad_core::ops::binary::where_(&condition.t, Operand::T(&self.t), Operand::T(&o)),
            Arg::S(s) => rgrad_core::ops::binary::where_(&condition.t, Operand::T(&self.t), Operand::S(s)),
        };
        wrap(py, out.py()?)
    }
}

impl PyTensor {
    fn add_sub(&self, other: &Bound<'_, PyAny>, alpha: Option<f64>, op: BinaryOp) -> PyResult<Tensor> {
        match (require_operand(other, "add")?, alpha) {
            (Arg::T(b), Some(a)) if a != 1.0 => {
                binary(op, Operand::T(&self.t), Operand::T(&b.mul_scalar(a).py()?)).py()
            }
            (Arg::T(b), _) => binary(op, Operand::T(&self.t), Operand::T(&b)).py(),
            (Arg::S(s), a) => {
                let s = match a {
                    Some(a) => Scalar::Float(s.to_f64() * a),
                    None => s,
                };
                binary(op, Operand::T(&self.t), Operand::S(s)).py()
            }
        }
    }

    fn inplace_op(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, op: BinaryOp) -> PyResult<Py<PyTensor>> {
        let Some(arg) = operand(other)? else {
            return Err(PyTypeError::new_err(format!(
                "unsupported operand type(s) for in-place op: 'Tensor' and '{}'",
                other.get_type().name()?
            )));
        };
        let me = slf.borrow().t.clone();
        run(slf.py(), me.numel(), || match &arg {
            Arg::T(b) => me.binary_(op, Operand::T(b)),
            Arg::S(s) => me.binary_(op, Operand::S(*s)),
        })?;
        Ok(slf.clone().unbind())
    }

    fn inplace_scaled(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        alpha: Option<f64>,
        op: BinaryOp,
    ) -> PyResult<Py<PyTensor>> {
        match alpha {
            Some(a) if a != 1.0 => {
                let scaled = match require_operand(other, "add_")? {
                    Arg::T(b) => Arg::T(b.mul_scalar(a).py()?),
                    Arg::S(s) => Arg::S(Scalar::Float(s.to_f64() * a)),
                };
                Self::inplace(slf, |t| match &scaled {
                    Arg::T(b) => t.binary_(op, Operand::T(b)),
                    Arg::S(s) => t.binary_(op, Operand::S(*s)),
                })
            }
            _ => Self::inplace_op(slf, other, op),
        }
    }
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
    let op = function_op(name).ok_or_else(|| PyValueError::new_err(format!("unknown binary op {name}")))?;
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
