//! The `torch.linalg` factorizations of `rgrad_core::ops::linalg_factor`; `rgrad.linalg`
//! adds PyTorch's argument handling (dtype promotion, `check_errors`, named tuples).

use crate::errors::run;
use crate::functional::tensor_param;
use crate::tensor::{wrap, PyTensor};
use pyo3::prelude::*;

/// Work of an n x n factorization over the batch: about n^3 per matrix.
fn cubic_work(t: &rgrad_core::Tensor) -> usize {
    let n = t.shape().last().copied().unwrap_or(1);
    t.numel().saturating_mul(n)
}

/// `linalg_cholesky_ex(A, upper)`: (L, info) with info 0 or the order of the first leading
/// minor that is not positive definite, per matrix.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (a, upper))]
pub fn _linalg_cholesky_ex(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    upper: bool,
) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let a = tensor_param(a, "linalg_cholesky_ex", "A", 1)?;
    let (l, info) = run(py, cubic_work(&a), || a.linalg_cholesky_ex(upper))?;
    Ok((wrap(py, l)?, wrap(py, info)?))
}

/// `linalg_solve_triangular(A, B, upper, left, unitriangular)` (same dtypes).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (a, b, upper, left, unitriangular))]
pub fn _linalg_solve_triangular(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    upper: bool,
    left: bool,
    unitriangular: bool,
) -> PyResult<Py<PyTensor>> {
    let a = tensor_param(a, "linalg_solve_triangular", "A", 1)?;
    let b = tensor_param(b, "linalg_solve_triangular", "B", 2)?;
    let work = b.numel().saturating_mul(a.shape().last().copied().unwrap_or(1));
    let x = run(py, work, || a.linalg_solve_triangular(&b, upper, left, unitriangular))?;
    wrap(py, x)
}

/// `linalg_inv_ex(A)`: (inverse, info) with info 0 or the order of the first zero pivot.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (a))]
pub fn _linalg_inv_ex(py: Python<'_>, a: &Bound<'_, PyAny>) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let a = tensor_param(a, "linalg_inv_ex", "A", 1)?;
    let (x, info) = run(py, cubic_work(&a), || a.linalg_inv_ex())?;
    Ok((wrap(py, x)?, wrap(py, info)?))
}

/// `linalg_slogdet(A, op)`: (sign, logabsdet); `op` names the caller in errors.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (a, op))]
pub fn _linalg_slogdet(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    op: &str,
) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let a = tensor_param(a, op, "A", 1)?;
    let (s, l) = run(py, cubic_work(&a), || a.linalg_slogdet(op))?;
    Ok((wrap(py, s)?, wrap(py, l)?))
}
