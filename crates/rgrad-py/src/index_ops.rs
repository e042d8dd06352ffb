//! The index ops as `Tensor` methods (rgrad_core's ops/index_ops.rs and ops/select.rs):
//! gather, scatter, scatter_add, index_select, index_put, index_add/index_copy/index_fill,
//! masked_fill, masked_select, masked_scatter, tril/triu, fill_diagonal_, and the writes fill_, zero_, copy_,
//! each with its in-place form.

use crate::convert::{number, require_operand, tensor_arg, Arg};
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use rgrad_core::{DType, Operand, Scalar, Tensor};

fn scatter_src(
    index: &Tensor,
    src: Option<&Bound<'_, PyAny>>,
    value: Option<&Bound<'_, PyAny>>,
    dt: DType,
) -> PyResult<Tensor> {
    let ob = src.or(value).ok_or_else(|| PyTypeError::new_err("scatter(): expected src or value"))?;
    Ok(match require_operand(ob, "scatter")? {
        Arg::T(t) => t,
        Arg::S(s) => Tensor::full(index.shape(), s, dt).py()?,
    })
}

/// `index_fill`'s value: a number or a 0-dim tensor.
fn fill_value(value: &Bound<'_, PyAny>) -> PyResult<Scalar> {
    if let Ok(t) = value.cast::<PyTensor>() {
        let nd = t.borrow().t.ndim();
        if nd != 0 {
            return Err(PyRuntimeError::new_err(format!(
                "index_fill_ only supports a 0-dimensional value tensor, but got tensor with {nd} dimension(s)."
            )));
        }
    }
    number(value, "index_fill_")
}

fn inplace(
    slf: &Bound<'_, PyTensor>,
    others: &[&Tensor],
    overlapping: bool,
    f: impl FnOnce(&Tensor) -> rgrad_core::Result<Tensor>,
) -> PyResult<Py<PyTensor>> {
    let t = slf.borrow().t.clone();
    if overlapping {
        t.apply_inplace_overlapping(others, f).py()?;
    } else {
        t.apply_inplace(others, f).py()?;
    }
    Ok(slf.clone().unbind())
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    fn gather(&self, py: Python<'_>, dim: i64, index: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let index_t = &index.t;
        wrap(py, run(py, self.t.numel(), || self.t.gather(dim, index_t))?)
    }

    #[pyo3(signature = (dim, index, src=None, value=None))]
    fn scatter(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        src: Option<&Bound<'_, PyAny>>,
        value: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let s = scatter_src(&index.t, src, value, self.t.dtype())?;
        let index_t = &index.t;
        wrap(py, run(py, self.t.numel(), || self.t.scatter(dim, index_t, &s))?)
    }

    fn scatter_add(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        src: PyRef<'_, PyTensor>,
    ) -> PyResult<Py<PyTensor>> {
        let index_t = &index.t;
        let src_t = &src.t;
        wrap(py, run(py, self.t.numel(), || self.t.scatter_add(dim, index_t, src_t))?)
    }

    fn index_select(&self, py: Python<'_>, dim: i64, index: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let index_t = &index.t;
        wrap(py, run(py, self.t.numel(), || self.t.index_select(dim, index_t))?)
    }

    fn masked_fill(
        &self,
        py: Python<'_>,
        mask: PyRef<'_, PyTensor>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTensor>> {
        if let Ok(v) = value.cast::<PyTensor>() {
            // A tensor value keeps its history: the gradient of the filled positions flows to it.
            let v = v.borrow().t.to_dtype(self.t.dtype()).py()?;
            let out = rgrad_core::ops::binary::where_(&mask.t, Operand::T(&v), Operand::T(&self.t)).py()?;
            return wrap(py, out);
        }
        wrap(py, self.t.masked_fill(&mask.t, number(value, "masked_fill")?).py()?)
    }

    fn masked_select(&self, py: Python<'_>, mask: PyRef<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
        let mask_t = &mask.t;
        wrap(py, run(py, self.t.numel(), || self.t.masked_select(mask_t))?)
    }

    fn masked_scatter(
        &self,
        py: Python<'_>,
        mask: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
    ) -> PyResult<Py<PyTensor>> {
        let (mask_t, source_t) = (&mask.t, &source.t);
        wrap(py, run(py, self.t.numel(), || self.t.masked_scatter(mask_t, source_t))?)
    }

    #[pyo3(signature = (diagonal=0))]
    fn tril(&self, py: Python<'_>, diagonal: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.triangle(diagonal, true))?)
    }

    #[pyo3(signature = (diagonal=0))]
    fn triu(&self, py: Python<'_>, diagonal: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.triangle(diagonal, false))?)
    }

    #[pyo3(signature = (indices, values, accumulate=false))]
    fn index_put(
        &self,
        py: Python<'_>,
        indices: &Bound<'_, PyAny>,
        values: PyRef<'_, PyTensor>,
        accumulate: bool,
    ) -> PyResult<Py<PyTensor>> {
        let ix: Vec<Option<Tensor>> =
            indices.try_iter()?.map(|x| Ok(Some(tensor_arg(&x?, "index_put")?))).collect::<PyResult<_>>()?;
        let values_t = &values.t;
        wrap(py, run(py, self.t.numel(), || self.t.index_put(&ix, values_t, accumulate))?)
    }

    // ---- in-place ------------------------------------------------------------------------

    fn masked_fill_(
        slf: &Bound<'_, Self>,
        mask: PyRef<'_, PyTensor>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTensor>> {
        let (m, v) = (mask.t.clone(), number(value, "masked_fill_")?);
        // Allowed on expanded tensors, as PyTorch (still) allows it.
        slf.borrow().t.apply_inplace_overlapping(&[], |b| b.masked_fill(&m, v)).py()?;
        Ok(slf.clone().unbind())
    }
    fn masked_scatter_(
        slf: &Bound<'_, Self>,
        mask: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
    ) -> PyResult<Py<PyTensor>> {
        slf.borrow().t.masked_scatter_(&mask.t, &source.t).py()?;
        Ok(slf.clone().unbind())
    }
    fn scatter_add_(
        slf: &Bound<'_, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        src: PyRef<'_, PyTensor>,
    ) -> PyResult<Py<PyTensor>> {
        let (ix, s) = (index.t.clone(), src.t.clone());
        let others = [&s];
        slf.borrow().t.apply_inplace(&others, |b| b.scatter_add(dim, &ix, &s)).py()?;
        Ok(slf.clone().unbind())
    }
    #[pyo3(signature = (dim, index, src=None, value=None))]
    fn scatter_(
        slf: &Bound<'_, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        src: Option<&Bound<'_, PyAny>>,
        value: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let dt = slf.borrow().t.dtype();
        let (ix, s) = (index.t.clone(), scatter_src(&index.t, src, value, dt)?);
        let others = [&s];
        slf.borrow().t.apply_inplace(&others, |b| b.scatter(dim, &ix, &s)).py()?;
        Ok(slf.clone().unbind())
    }
    #[pyo3(signature = (indices, values, accumulate=false))]
    fn index_put_(
        slf: &Bound<'_, Self>,
        indices: &Bound<'_, PyAny>,
        values: PyRef<'_, PyTensor>,
        accumulate: bool,
    ) -> PyResult<Py<PyTensor>> {
        let ix: Vec<Option<Tensor>> =
            indices.try_iter()?.map(|x| Ok(Some(tensor_arg(&x?, "index_put_")?))).collect::<PyResult<_>>()?;
        let v = values.t.clone();
        let others = [&v];
        slf.borrow().t.apply_inplace_overlapping(&others, |b| b.index_put(&ix, &v, accumulate)).py()?;
        Ok(slf.clone().unbind())
    }

    #[pyo3(signature = (dim, index, source, *, alpha=None))]
    fn index_add(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
        alpha: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let a = alpha.map(|a| number(a, "index_add")).transpose()?.unwrap_or(Scalar::Int(1));
        wrap(py, self.t.index_add(dim, &index.t, &source.t, a).py()?)
    }

    #[pyo3(signature = (dim, index, source, *, alpha=None))]
    fn index_add_(
        slf: &Bound<'_, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
        alpha: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let a = alpha.map(|a| number(a, "index_add_")).transpose()?.unwrap_or(Scalar::Int(1));
        let (ix, s) = (index.t.clone(), source.t.clone());
        inplace(slf, &[&s], false, |b| b.index_add(dim, &ix, &s, a))
    }

    fn index_copy(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
    ) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.index_copy(dim, &index.t, &source.t).py()?)
    }

    fn index_copy_(
        slf: &Bound<'_, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
    ) -> PyResult<Py<PyTensor>> {
        let (ix, s) = (index.t.clone(), source.t.clone());
        inplace(slf, &[&s], false, |b| b.index_copy(dim, &ix, &s))
    }

    fn index_fill(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTensor>> {
        let v = fill_value(value)?;
        wrap(py, self.t.index_fill(dim, &index.t, v).py()?)
    }

    fn index_fill_(
        slf: &Bound<'_, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTensor>> {
        let (ix, v) = (index.t.clone(), fill_value(value)?);
        inplace(slf, &[], true, |b| b.index_fill(dim, &ix, v))
    }

    #[pyo3(signature = (fill_value, wrap=false))]
    fn fill_diagonal_(
        slf: &Bound<'_, Self>,
        fill_value: &Bound<'_, PyAny>,
        wrap: bool,
    ) -> PyResult<Py<PyTensor>> {
        let v = number(fill_value, "fill_diagonal_")?;
        inplace(slf, &[], true, |b| b.fill_diagonal(v, wrap))
    }

    fn zero_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::inplace(slf, |t| t.fill_(Scalar::Int(0)))
    }
    fn fill_(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        let v = match require_operand(value, "fill_")? {
            Arg::S(s) => s,
            Arg::T(t) => t.item().py()?,
        };
        Self::inplace(slf, |t| t.fill_(v))
    }
    fn copy_(slf: &Bound<'_, Self>, src: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        let s = tensor_arg(src, "copy_")?;
        let me = slf.borrow().t.clone();
        run(slf.py(), me.numel(), || me.copy_(&s))?;
        Ok(slf.clone().unbind())
    }
}
