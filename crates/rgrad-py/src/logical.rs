//! NaN tests, logical and bitwise ops (with the `&`, `|`, `^`, `~`, `<<`, `>>` operators),
//! `isclose`, `allclose` and `equal`: `rgrad_core::ops::logical`.

use crate::convert::{operand, require_operand, tensor_param, Arg};
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use rgrad_core::ops::logical::{bitwise, BitwiseOp, FloatTest, LogicalOp};
use rgrad_core::{DType, Operand, Tensor};

fn bit_op(
    py: Python<'_>,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    op: BitwiseOp,
    reflected: bool,
) -> PyResult<Py<PyAny>> {
    let Some(arg) = operand(other)? else {
        return Ok(py.NotImplemented());
    };
    let out = match &arg {
        Arg::T(b) if reflected => run(py, a.numel(), || bitwise(op, Operand::T(b), Operand::T(a)))?,
        Arg::T(b) => run(py, a.numel(), || bitwise(op, Operand::T(a), Operand::T(b)))?,
        Arg::S(s) if reflected => run(py, a.numel(), || bitwise(op, Operand::S(*s), Operand::T(a)))?,
        Arg::S(s) => run(py, a.numel(), || bitwise(op, Operand::T(a), Operand::S(*s)))?,
    };
    Ok(wrap(py, out)?.into_any())
}

fn bit_method(
    py: Python<'_>,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    op: BitwiseOp,
    what: &str,
) -> PyResult<Py<PyTensor>> {
    let out = match require_operand(other, what)? {
        Arg::T(b) => run(py, a.numel(), || bitwise(op, Operand::T(a), Operand::T(&b)))?,
        Arg::S(s) => run(py, a.numel(), || bitwise(op, Operand::T(a), Operand::S(s)))?,
    };
    wrap(py, out)
}

fn logical(
    py: Python<'_>,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    op: LogicalOp,
    name: &str,
) -> PyResult<Py<PyTensor>> {
    let b = tensor_param(other, name, "other", 1)?;
    wrap(py, run(py, a.numel().max(b.numel()), || a.logical(op, &b))?)
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    fn isnan(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.float_test(FloatTest::IsNan))?)
    }
    fn isinf(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.float_test(FloatTest::IsInf))?)
    }
    fn isposinf(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.float_test(FloatTest::IsPosInf))?)
    }
    fn isneginf(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.float_test(FloatTest::IsNegInf))?)
    }
    fn isfinite(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.float_test(FloatTest::IsFinite))?)
    }

    fn logical_and(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        logical(py, &self.t, other, LogicalOp::And, "logical_and")
    }
    fn logical_or(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        logical(py, &self.t, other, LogicalOp::Or, "logical_or")
    }
    fn logical_xor(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        logical(py, &self.t, other, LogicalOp::Xor, "logical_xor")
    }
    fn logical_not(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.logical_not())?)
    }

    fn bitwise_and(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        bit_method(py, &self.t, other, BitwiseOp::And, "bitwise_and")
    }
    fn bitwise_or(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        bit_method(py, &self.t, other, BitwiseOp::Or, "bitwise_or")
    }
    fn bitwise_xor(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        bit_method(py, &self.t, other, BitwiseOp::Xor, "bitwise_xor")
    }
    fn bitwise_left_shift(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        bit_method(py, &self.t, other, BitwiseOp::Shl, "bitwise_left_shift")
    }
    fn bitwise_right_shift(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        bit_method(py, &self.t, other, BitwiseOp::Shr, "bitwise_right_shift")
    }
    fn bitwise_not(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.bitwise_not())?)
    }

    fn __and__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bit_op(py, &self.t, o, BitwiseOp::And, false)
    }
    fn __rand__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bit_op(py, &self.t, o, BitwiseOp::And, true)
    }
    fn __or__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bit_op(py, &self.t, o, BitwiseOp::Or, false)
    }
    fn __ror__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bit_op(py, &self.t, o, BitwiseOp::Or, true)
    }
    fn __xor__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bit_op(py, &self.t, o, BitwiseOp::Xor, false)
    }
    fn __rxor__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bit_op(py, &self.t, o, BitwiseOp::Xor, true)
    }
    fn __lshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bit_op(py, &self.t, o, BitwiseOp::Shl, false)
    }
    fn __rlshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bit_op(py, &self.t, o, BitwiseOp::Shl, true)
    }
    fn __rshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bit_op(py, &self.t, o, BitwiseOp::Shr, false)
    }
    fn __rrshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        bit_op(py, &self.t, o, BitwiseOp::Shr, true)
    }
    fn __invert__(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        if self.t.dtype().is_float() {
            return Err(PyTypeError::new_err(
                "~ (operator.invert) is only implemented on integer and Boolean-type tensors",
            ));
        }
        wrap(py, self.t.bitwise_not().py()?)
    }

    #[pyo3(signature = (other, rtol=1e-05, atol=1e-08, equal_nan=false))]
    fn isclose(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        rtol: f64,
        atol: f64,
        equal_nan: bool,
    ) -> PyResult<Py<PyTensor>> {
        let b = self.operand_like(other, "isclose")?;
        wrap(py, run(py, self.t.numel(), || self.t.isclose(&b, rtol, atol, equal_nan))?)
    }

    #[pyo3(signature = (other, rtol=1e-05, atol=1e-08, equal_nan=false))]
    fn allclose(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        rtol: f64,
        atol: f64,
        equal_nan: bool,
    ) -> PyResult<bool> {
        let b = self.operand_like(other, "allclose")?;
        let close = run(py, self.t.numel(), || self.t.isclose(&b, rtol, atol, equal_nan))?;
        let all = close.all_any(None, false, true).py()?;
        Ok(all.item().py()?.to_f64() != 0.0)
    }

    fn equal(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let b = tensor_param(other, "equal", "other", 1)?;
        run(py, self.t.numel(), || self.t.equal(&b))
    }
}

impl PyTensor {
    /// `other` as a tensor; a Python number becomes a 0-dim tensor of this tensor's dtype.
    fn operand_like(&self, other: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
        match require_operand(other, what)? {
            Arg::T(t) => Ok(t),
            Arg::S(s) => {
                let dt = if self.t.dtype() == DType::Bool { DType::Bool } else { self.t.dtype() };
                Tensor::full_on(&[], s, dt, self.t.device()).py()
            }
        }
    }
}
