//! The reductions as `Tensor` methods (rgrad_core::ops::reduce): sum, mean, prod, max/min
//! (values, indices, or the elementwise extreme with a tensor), amax/amin, argmax/argmin,
//! var/std, logsumexp, norm, all/any, and softmax/log_softmax along a dim.
//!
//! A reduction over `dim=None | int | tuple of ints` with `keepdim` is one line of
//! `dim_reductions!`.

use crate::convert::{dims_opt, int_or_list, values_indices};
use crate::dtype::opt_dtype;
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use rgrad_core::{BinaryOp, Operand, Tensor};

/// `name(dim=None, keepdim=False)` computing `|t, dims, keepdim| expr` (dims: None for all).
macro_rules! dim_reductions {
    ($($name:ident => |$t:ident, $dims:ident, $keepdim:ident| $body:expr;)*) => {
        #[rgrad_py_macros::boundary]
        #[pymethods]
        impl PyTensor {
            $(
                #[pyo3(signature = (dim=None, keepdim=false))]
                fn $name(
                    &self,
                    py: Python<'_>,
                    dim: Option<&Bound<'_, PyAny>>,
                    keepdim: bool,
                ) -> PyResult<Py<PyTensor>> {
                    let dims = dims_opt(dim)?;
                    let ($t, $dims, $keepdim) = (&self.t, dims.as_deref(), keepdim);
                    wrap(py, run(py, self.t.numel(), || $body)?)
                }
            )*
        }
    };
}

dim_reductions! {
    amax => |t, dims, keepdim| amax_over(t, dims, keepdim, true);
    amin => |t, dims, keepdim| amax_over(t, dims, keepdim, false);
    all => |t, dims, keepdim| t.all_any(dims, keepdim, true);
    any => |t, dims, keepdim| t.all_any(dims, keepdim, false);
}

/// `amax`/`amin` over `dims` (None or empty: every dim).
fn amax_over(t: &Tensor, dims: Option<&[i64]>, keepdim: bool, is_max: bool) -> rgrad_core::Result<Tensor> {
    let all: Vec<i64> = (0..t.ndim() as i64).collect();
    let dims = match dims {
        Some(d) if !d.is_empty() => d,
        _ => &all,
    };
    t.amax(Some(dims), keepdim, is_max)
}

fn correction_value(unbiased: Option<&Bound<'_, PyAny>>, correction: Option<f64>) -> PyResult<f64> {
    Ok(match (correction, unbiased) {
        (Some(c), _) => c,
        (None, Some(u)) if !u.is_none() => {
            if u.extract::<bool>()? {
                1.0
            } else {
                0.0
            }
        }
        _ => 1.0,
    })
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    #[overloads("(*, torch.dtype dtype = None)",
        "(tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None)";
        "(Tensor input, *, torch.dtype dtype = None)",
        "(Tensor input, tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None, Tensor out = None)")]
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn sum(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let src = match opt_dtype(dtype)? {
            Some(dt) => self.t.to_dtype(dt).py()?,
            None => self.t.clone(),
        };
        let dims = dims_opt(dim)?;
        wrap(py, run(py, src.numel(), || src.sum(dims.as_deref(), keepdim))?)
    }

    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn mean(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let dims = dims_opt(dim)?;
        let dtype = opt_dtype(dtype)?;
        wrap(py, run(py, self.t.numel(), || self.t.mean(dims.as_deref(), keepdim, dtype))?)
    }

    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn prod(
        &self,
        py: Python<'_>,
        dim: Option<i64>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let src = match opt_dtype(dtype)? {
            Some(dt) => self.t.to_dtype(dt).py()?,
            None => self.t.clone(),
        };
        wrap(py, run(py, src.numel(), || src.prod(dim, keepdim))?)
    }

    #[overloads("()", "(Tensor other)", "(int dim, bool keepdim = False)";
        "(Tensor input, *, Tensor out = None)", "(Tensor input, Tensor other, *, Tensor out = None)",
        "(Tensor input, int dim, bool keepdim = False, *, tuple of Tensors out = None)")]
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn max(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<Py<PyAny>> {
        self.extreme(py, dim, keepdim, true)
    }

    #[overloads("()", "(Tensor other)", "(int dim, bool keepdim = False)";
        "(Tensor input, *, Tensor out = None)", "(Tensor input, Tensor other, *, Tensor out = None)",
        "(Tensor input, int dim, bool keepdim = False, *, tuple of Tensors out = None)")]
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn min(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<Py<PyAny>> {
        self.extreme(py, dim, keepdim, false)
    }

    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmax(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.arg_extreme(dim, keepdim, true))?)
    }

    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmin(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.arg_extreme(dim, keepdim, false))?)
    }

    #[pyo3(signature = (dim=None, unbiased=None, keepdim=false, *, correction=None))]
    fn var(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        correction: Option<f64>,
    ) -> PyResult<Py<PyTensor>> {
        let c = correction_value(unbiased, correction)?;
        {
            let dims = dims_opt(dim)?;
            wrap(py, run(py, self.t.numel(), || self.t.var(dims.as_deref(), c, keepdim))?)
        }
    }

    #[pyo3(signature = (dim=None, unbiased=None, keepdim=false, *, correction=None))]
    fn std(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        correction: Option<f64>,
    ) -> PyResult<Py<PyTensor>> {
        let c = correction_value(unbiased, correction)?;
        {
            let dims = dims_opt(dim)?;
            wrap(py, run(py, self.t.numel(), || self.t.std(dims.as_deref(), c, keepdim))?)
        }
    }

    #[pyo3(signature = (dim, keepdim=false))]
    fn logsumexp(&self, py: Python<'_>, dim: &Bound<'_, PyAny>, keepdim: bool) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.logsumexp(&int_or_list(dim, "dim")?, keepdim).py()?)
    }

    #[pyo3(signature = (p=None, dim=None, keepdim=false, dtype=None))]
    fn norm(
        &self,
        py: Python<'_>,
        p: Option<&Bound<'_, PyAny>>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let p = match p {
            None => 2.0,
            Some(p) if p.is_none() => 2.0,
            Some(p) if p.is_instance_of::<PyString>() => match p.extract::<String>()?.as_str() {
                "fro" => 2.0,
                "nuc" => return Err(PyRuntimeError::new_err("nuclear norm is not supported")),
                other => return Err(PyRuntimeError::new_err(format!("unsupported norm type {other}"))),
            },
            Some(p) => p.extract::<f64>()?,
        };
        let src = match opt_dtype(dtype)? {
            Some(dt) => self.t.to_dtype(dt).py()?,
            None => self.t.clone(),
        };
        {
            let dims = dims_opt(dim)?;
            wrap(py, run(py, src.numel(), || src.norm(p, dims.as_deref(), keepdim))?)
        }
    }

    #[pyo3(signature = (dim, dtype=None))]
    fn softmax(&self, py: Python<'_>, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
        let src = match opt_dtype(dtype)? {
            Some(dt) => self.t.to_dtype(dt).py()?,
            None => self.t.clone(),
        };
        wrap(py, run(py, src.numel(), || src.softmax(dim, false))?)
    }

    #[pyo3(signature = (dim, dtype=None))]
    fn log_softmax(
        &self,
        py: Python<'_>,
        dim: i64,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let src = match opt_dtype(dtype)? {
            Some(dt) => self.t.to_dtype(dt).py()?,
            None => self.t.clone(),
        };
        wrap(py, run(py, src.numel(), || src.softmax(dim, true))?)
    }
}

impl PyTensor {
    fn extreme(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        is_max: bool,
    ) -> PyResult<Py<PyAny>> {
        match dim {
            None => Ok(wrap(py, run(py, self.t.numel(), || self.t.amax(None, false, is_max))?)?.into_any()),
            Some(d) if d.is_none() => {
                Ok(wrap(py, run(py, self.t.numel(), || self.t.amax(None, false, is_max))?)?.into_any())
            }
            Some(d) => {
                if let Ok(other) = d.cast::<PyTensor>() {
                    let op = if is_max { BinaryOp::Maximum } else { BinaryOp::Minimum };
                    let o = other.borrow().t.clone();
                    let r = rgrad_core::ops::binary::binary(op, Operand::T(&self.t), Operand::T(&o));
                    return Ok(wrap(py, r.py()?)?.into_any());
                }
                let (v, i) = self.t.extreme_dim(d.extract()?, keepdim, is_max).py()?;
                values_indices(py, if is_max { "max" } else { "min" }, v, i)
            }
        }
    }
}
