//! `tensor[...]` and `tensor[...] = value`: ints, slices, None and Ellipsis as views; integer
//! and boolean tensors (or lists) as advanced indices.

use crate::convert::tensor_arg;
use crate::errors::IntoPyResult;
use crate::from_data::tensor_from_data;
use crate::interop;
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyEllipsis, PyList, PyNone, PyRange, PyRangeMethods, PySlice, PyTuple};
use rgrad_core::{grad_mode, DType, Tensor};

enum Item {
    Int(i64),
    Slice(Option<i64>, Option<i64>, i64),
    NewAxis,
    Ellipsis,
    /// `x[True]` adds a dim of size 1, `x[False]` one of size 0.
    Bool(bool),
    Adv(Tensor),
}

impl Item {
    /// How many dims of the indexed tensor this item consumes.
    fn consumes(&self) -> usize {
        match self {
            Item::Int(_) | Item::Slice(..) => 1,
            Item::Adv(t) if t.dtype() == DType::Bool => t.ndim(),
            Item::Adv(_) => 1,
            Item::NewAxis | Item::Ellipsis | Item::Bool(_) => 0,
        }
    }
}

fn opt_i64(ob: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
    if ob.is_none() {
        Ok(None)
    } else {
        Ok(Some(ob.extract::<i64>()?))
    }
}

fn parse_item(ob: &Bound<'_, PyAny>) -> PyResult<Item> {
    if ob.is_instance_of::<PyNone>() {
        return Ok(Item::NewAxis);
    }
    if ob.is_instance_of::<PyEllipsis>() {
        return Ok(Item::Ellipsis);
    }
    if let Ok(s) = ob.cast::<PySlice>() {
        let step = opt_i64(&s.getattr("step")?)?.unwrap_or(1);
        return Ok(Item::Slice(opt_i64(&s.getattr("start")?)?, opt_i64(&s.getattr("stop")?)?, step));
    }
    if ob.is_instance_of::<PyBool>() {
        return Ok(Item::Bool(ob.is_truthy()?));
    }
    if let Ok(t) = ob.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        if t.ndim() == 0 && !t.dtype().is_float() && t.dtype() != DType::Bool {
            return Ok(Item::Int(t.item().py()?.to_f64() as i64));
        }
        return Ok(Item::Adv(t));
    }
    if ob.is_instance_of::<PyList>() || interop::is_ndarray(ob) {
        let t = tensor_from_data(ob, None)?;
        // An empty list selects nothing: an empty integer index.
        let t = if t.numel() == 0 && t.dtype().is_float() { t.cast_kernel(DType::I64).py()? } else { t };
        return Ok(Item::Adv(t));
    }
    if let Ok(i) = ob.extract::<i64>() {
        return Ok(Item::Int(i));
    }
    if let Ok(r) = ob.cast::<PyRange>() {
        // PyTorch indexes with a range as with the list of its ints.
        let (start, step) = (r.start()? as i64, r.step()? as i64);
        let n = r.len()?;
        let mut v: Vec<i64> = rgrad_core::storage::try_vec_with_capacity(n).py()?;
        v.extend((0..n as i64).map(|i| start + i * step));
        return Ok(Item::Adv(Tensor::try_from_vec(v, &[n]).py()?));
    }
    Err(PyIndexError::new_err(
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices",
    ))
}

fn parse(idx: &Bound<'_, PyAny>) -> PyResult<Vec<Item>> {
    match idx.cast::<PyTuple>() {
        Ok(tup) => tup.iter().map(|i| parse_item(&i)).collect(),
        Err(_) => Ok(vec![parse_item(idx)?]),
    }
}

/// Applies basic items as views; returns the view and the advanced indices by view dim.
fn apply(t: &Tensor, items: Vec<Item>) -> PyResult<(Tensor, Vec<Option<Tensor>>)> {
    if t.ndim() == 0 && items.iter().any(|i| matches!(i, Item::Int(_))) {
        return Err(PyIndexError::new_err(
            "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number",
        ));
    }
    let consumed: usize = items.iter().map(Item::consumes).sum();
    if consumed > t.ndim() {
        return Err(PyIndexError::new_err(format!("too many indices for tensor of dimension {}", t.ndim())));
    }
    let mut out = t.clone();
    let mut adv: Vec<(usize, Tensor)> = Vec::new();
    let mut dim = 0usize;
    let mut orig = 0usize; // the dim of `t` the next item refers to, for messages
    let mut seen_ellipsis = false;
    for item in items {
        let step = item.consumes();
        match item {
            Item::NewAxis => {
                out = out.unsqueeze(dim as i64).py()?;
                dim += 1;
            }
            Item::Bool(b) => {
                out = out.unsqueeze(dim as i64).py()?;
                if !b {
                    out = out.slice(dim as i64, Some(0), Some(0), 1).py()?;
                }
                dim += 1;
            }
            Item::Ellipsis => {
                if seen_ellipsis {
                    return Err(PyIndexError::new_err("an index can only have a single ellipsis ('...')"));
                }
                seen_ellipsis = true;
                dim += t.ndim() - consumed;
                orig += t.ndim() - consumed;
            }
            Item::Slice(s, e, step) => {
                out = out.slice(dim as i64, s, e, step).py()?;
                dim += 1;
            }
            Item::Int(i) => {
                let size = out.shape()[dim] as i64;
                if i < -size || i >= size {
                    return Err(PyIndexError::new_err(format!(
                        "index {i} is out of bounds for dimension {orig} with size {size}"
                    )));
                }
                out = out.select(dim as i64, i).py()?;
            }
            Item::Adv(x) => {
                let n = if x.dtype() == DType::Bool { x.ndim() } else { 1 };
                adv.push((dim, x));
                dim += n;
            }
        }
        orig += step;
    }
    // One entry per index group: a k-dim mask stands for k dims, so the dims it covers get no
    // entries of their own.
    let mut per_dim: Vec<Option<Tensor>> = Vec::new();
    let mut d = 0;
    let mut adv = adv.into_iter().peekable();
    while let Some((at, _)) = adv.peek() {
        if *at == d {
            let (_, x) = adv.next().expect("peeked");
            d += if x.dtype() == DType::Bool { x.ndim() } else { 1 };
            per_dim.push(Some(x));
        } else {
            per_dim.push(None);
            d += 1;
        }
    }
    Ok((out, per_dim))
}

pub fn get(t: &Tensor, idx: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    let (view, adv) = apply(t, parse(idx)?)?;
    if adv.is_empty() {
        return Ok(view);
    }
    view.index(&adv).py()
}

/// Extra leading size-1 dims of an assigned value broadcast away, as in NumPy.
fn drop_leading_ones(mut v: Tensor, ndim: usize) -> PyResult<Tensor> {
    while v.ndim() > ndim && v.shape()[0] == 1 {
        v = v.squeeze(Some(0)).py()?;
    }
    Ok(v)
}

pub fn set(t: &Tensor, idx: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    // A Python number is converted straight to the tensor's dtype (no float32 rounding).
    let v = match crate::convert::scalar(value)? {
        Some(s) => Ok(Tensor::scalar_tensor(s, t.dtype())),
        None => tensor_arg(value, "__setitem__"),
    }
    .map_err(|_| {
        PyTypeError::new_err(format!(
            "can't assign a {} to a Tensor",
            value.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })?;
    let items = parse(idx)?;
    let has_adv = items.iter().any(|i| matches!(i, Item::Adv(_)));
    let recording = grad_mode::is_enabled() && (t.requires_grad() || v.requires_grad());
    if !has_adv && grad_mode::is_enabled() && t.requires_grad() && t.is_leaf() {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "a view of a leaf Variable that requires grad is being used in an in-place operation.",
        ));
    }

    if !has_adv && !recording {
        let (view, _) = apply(t, items)?;
        return view.copy_(&drop_leading_ones(v, view.ndim())?).py();
    }
    // General case: find the flat positions the index selects, then one recorded index_put.
    let n = t.numel() as i64;
    let shape: Vec<i64> = t.shape().iter().map(|&s| s as i64).collect();
    let positions = rgrad_core::ops::factory::arange(
        rgrad_core::Scalar::Int(0),
        rgrad_core::Scalar::Int(n),
        rgrad_core::Scalar::Int(1),
        None,
    )
    .py()?
    .reshape(&shape)
    .py()?;
    let pos = get(&positions, idx)?;
    let v = drop_leading_ones(v, pos.ndim())?;
    let pos_shape: Vec<i64> = pos.shape().iter().map(|&s| s as i64).collect();
    let vals = v.to_dtype(t.dtype()).py()?.expand(&pos_shape).py()?.reshape(&[-1]).py()?;
    let flat_pos = pos.reshape(&[-1]).py()?;
    // Writing through an index is allowed on expanded tensors, as in PyTorch.
    t.apply_inplace_overlapping(&[&v], |base| {
        base.reshape(&[-1])?.index_put(&[Some(flat_pos.clone())], &vals, false)?.reshape(&shape)
    })
    .py()
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    fn __getitem__(&self, py: Python<'_>, idx: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, get(&self.t, idx)?)
    }

    fn __setitem__(&self, idx: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        set(&self.t, idx, value)
    }
}
