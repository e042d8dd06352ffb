//! `tensor[...]`: ints, slices, None and Ellipsis, as views.

use crate::errors::IntoPyResult;
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyEllipsis, PyNone, PySlice, PyTuple};
use rgrad_core::Tensor;

fn opt_i64(ob: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
    if ob.is_none() {
        Ok(None)
    } else {
        Ok(Some(ob.extract::<i64>()?))
    }
}

fn consumes_dim(item: &Bound<'_, PyAny>) -> bool {
    !(item.is_instance_of::<PyNone>() || item.is_instance_of::<PyEllipsis>())
}

pub fn get(t: &Tensor, idx: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    let items: Vec<Bound<'_, PyAny>> = match idx.cast::<PyTuple>() {
        Ok(tup) => tup.iter().collect(),
        Err(_) => vec![idx.clone()],
    };
    let consumed = items.iter().filter(|i| consumes_dim(i)).count();
    if consumed > t.ndim() {
        return Err(PyIndexError::new_err(format!(
            "too many indices for tensor of dimension {}",
            t.ndim()
        )));
    }
    let mut out = t.clone();
    let mut dim: i64 = 0;
    let mut seen_ellipsis = false;
    for item in &items {
        if item.is_instance_of::<PyNone>() {
            out = out.unsqueeze(dim).py()?;
            dim += 1;
        } else if item.is_instance_of::<PyEllipsis>() {
            if seen_ellipsis {
                return Err(PyIndexError::new_err(
                    "an index can only have a single ellipsis ('...')",
                ));
            }
            seen_ellipsis = true;
            dim += (t.ndim() - consumed) as i64;
        } else if let Ok(s) = item.cast::<PySlice>() {
            let start = opt_i64(&s.getattr("start")?)?;
            let stop = opt_i64(&s.getattr("stop")?)?;
            let step = opt_i64(&s.getattr("step")?)?.unwrap_or(1);
            out = out.slice(dim, start, stop, step).py()?;
            dim += 1;
        } else if let Ok(i) = item.extract::<i64>() {
            if item.is_instance_of::<pyo3::types::PyBool>() {
                return Err(PyTypeError::new_err(
                    "indexing with a Python bool is not supported",
                ));
            }
            out = out.select(dim, i).py()?;
        } else {
            return Err(PyIndexError::new_err(format!(
                "only integers, slices (`:`), ellipsis (`...`) and None are valid indices (got {})",
                item.get_type().name()?
            )));
        }
    }
    Ok(out)
}
