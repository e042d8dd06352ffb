//! Linear algebra: the products as `Tensor` methods (`matmul`/`@`, mm, bmm, dot, mv) and the
//! `torch.linalg` factorizations of `rgrad_core::ops::linalg_factor`; `rgrad.linalg` adds
//! PyTorch's argument handling (dtype promotion, `check_errors`, named tuples).

use crate::convert::{operand, tensor_param, Arg};
use crate::errors::run;
use crate::tensor::{wrap, wrap_any, PyTensor};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rgrad_core::Tensor;

/// Multiply-adds of `a @ b`, for deciding whether to release the GIL.
pub fn matmul_work(a: &Tensor, b: &Tensor) -> usize {
    a.numel().saturating_mul(b.shape().last().copied().unwrap_or(1))
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    fn matmul(&self, py: Python<'_>, other: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let other_t = &other.t;
        wrap(py, run(py, matmul_work(&self.t, &other.t), || self.t.matmul(other_t))?)
    }
    fn mm(&self, py: Python<'_>, mat2: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let mat2_t = &mat2.t;
        wrap(py, run(py, matmul_work(&self.t, &mat2.t), || self.t.mm(mat2_t))?)
    }
    fn bmm(&self, py: Python<'_>, mat2: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let mat2_t = &mat2.t;
        wrap(py, run(py, matmul_work(&self.t, &mat2.t), || self.t.bmm(mat2_t))?)
    }
    fn dot(&self, py: Python<'_>, other: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let other_t = &other.t;
        wrap(py, run(py, matmul_work(&self.t, &other.t), || self.t.dot(other_t))?)
    }
    fn mv(&self, py: Python<'_>, vec: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        if self.t.ndim() != 2 || vec.t.ndim() != 1 {
            return Err(PyRuntimeError::new_err("vector + matrix @ vector expected"));
        }
        let vec_t = &vec.t;
        wrap(py, run(py, matmul_work(&self.t, &vec.t), || self.t.matmul(vec_t))?)
    }
    fn __matmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match operand(o)? {
            Some(Arg::T(b)) => wrap_any(py, run(py, matmul_work(&self.t, &b), || self.t.matmul(&b))?),
            _ => Ok(py.NotImplemented()),
        }
    }
    fn __rmatmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match operand(o)? {
            Some(Arg::T(b)) => wrap_any(py, run(py, matmul_work(&b, &self.t), || b.matmul(&self.t))?),
            _ => Ok(py.NotImplemented()),
        }
    }
}

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

/// `linalg_lu_factor_ex(A)`: (LU, pivots, info) with LAPACK's 1-based int32 pivots.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (a))]
pub fn _linalg_lu_factor_ex(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
) -> PyResult<(Py<PyTensor>, Py<PyTensor>, Py<PyTensor>)> {
    let a = tensor_param(a, "linalg_lu_factor_ex", "A", 1)?;
    let (lu, piv, info) = run(py, cubic_work(&a), || a.linalg_lu_factor_ex())?;
    Ok((wrap(py, lu)?, wrap(py, piv)?, wrap(py, info)?))
}

/// `_linalg_lu_permutation(A)`: the permutation matrices P of A = P L U (no gradient).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (a))]
pub fn _linalg_lu_permutation(py: Python<'_>, a: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
    let a = tensor_param(a, "linalg_lu", "A", 1)?;
    let p = run(py, cubic_work(&a), || a.linalg_lu_permutation())?;
    wrap(py, p)
}

/// `linalg_solve_ex(A, B, left)` for a batch of matrices B (same dtypes): (X, info).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (a, b, left))]
pub fn _linalg_solve_ex(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    left: bool,
) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let a = tensor_param(a, "linalg_solve_ex", "A", 1)?;
    let b = tensor_param(b, "linalg_solve_ex", "B", 2)?;
    let work =
        cubic_work(&a).saturating_add(b.numel().saturating_mul(a.shape().last().copied().unwrap_or(1)));
    let (x, info) = run(py, work, || a.linalg_solve_ex(&b, left))?;
    Ok((wrap(py, x)?, wrap(py, info)?))
}

/// `linalg_det(A)`: the determinants (gradient finite at singular matrices).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (a))]
pub fn _linalg_det(py: Python<'_>, a: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
    let a = tensor_param(a, "linalg_det", "A", 1)?;
    let d = run(py, cubic_work(&a), || a.linalg_det())?;
    wrap(py, d)
}

/// `linalg_eigh(A, upper)`: (eigenvalues ascending, eigenvectors as columns).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (a, upper))]
pub fn _linalg_eigh(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    upper: bool,
) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let a = tensor_param(a, "linalg_eigh", "A", 1)?;
    let (l, v) = run(py, cubic_work(&a), || a.linalg_eigh(upper))?;
    Ok((wrap(py, l)?, wrap(py, v)?))
}

/// `linalg_svd(A, full_matrices)`: (U, S descending, Vh).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (a, full_matrices))]
pub fn _linalg_svd(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    full_matrices: bool,
) -> PyResult<(Py<PyTensor>, Py<PyTensor>, Py<PyTensor>)> {
    let a = tensor_param(a, "linalg_svd", "A", 1)?;
    let (u, s, vh) = run(py, cubic_work(&a), || a.linalg_svd(full_matrices))?;
    Ok((wrap(py, u)?, wrap(py, s)?, wrap(py, vh)?))
}

/// `linalg_qr(A, mode)` with mode 'reduced', 'complete' or 'r' (checked by the caller).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (a, mode))]
pub fn _linalg_qr(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    mode: &str,
) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    use rgrad_core::ops::linalg_decomp::QrMode;
    let a = tensor_param(a, "linalg_qr", "A", 1)?;
    let mode = match mode {
        "complete" => QrMode::Complete,
        "r" => QrMode::R,
        _ => QrMode::Reduced,
    };
    let (q, r) = run(py, cubic_work(&a), || a.linalg_qr(mode))?;
    Ok((wrap(py, q)?, wrap(py, r)?))
}
