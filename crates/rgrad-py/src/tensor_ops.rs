//! The rest of `Tensor`'s methods: reductions, joins, indexing ops and in-place variants.

use crate::clamp::{clamp_inplace, clamp_promoted};
use crate::convert::{int_list, int_or_list, require_operand, scalar, tensor_arg, Arg};
use crate::dtype::opt_dtype;
use crate::errors::{run, IntoPyResult};
use crate::index;
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple};
use rgrad_core::ops::factory;
use rgrad_core::ops::unary::UnaryOp;
use rgrad_core::{BinaryOp, DType, Operand, Scalar, Tensor};

fn dims_opt(dim: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    match dim {
        Some(d) if !d.is_none() => Ok(Some(int_or_list(d, "dim")?)),
        _ => Ok(None),
    }
}

pub(crate) fn number(ob: &Bound<'_, PyAny>, what: &str) -> PyResult<Scalar> {
    if let Ok(t) = ob.cast::<PyTensor>() {
        return t.borrow().t.item().py();
    }
    scalar(ob)?.ok_or_else(|| PyTypeError::new_err(format!("{what}: expected a number")))
}

pub(crate) fn opt_f64(ob: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
    match ob {
        Some(o) if !o.is_none() => Ok(Some(number(o, "clamp")?.to_f64())),
        _ => Ok(None),
    }
}

/// A `torch.return_types.max(values=..., indices=...)` pair.
pub(crate) fn values_indices(py: Python<'_>, kind: &str, v: Tensor, i: Tensor) -> PyResult<Py<PyAny>> {
    static MODULE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let m = MODULE.get_or_try_init(py, || py.import("rgrad.return_types").map(|m| m.into_any().unbind()))?;
    let cls = m.bind(py).getattr(kind)?;
    Ok(cls.call1(((wrap(py, v)?, wrap(py, i)?),))?.unbind())
}

pub(crate) fn tensors_of(seq: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    seq.try_iter()?.map(|x| tensor_arg(&x?, "expected a sequence of Tensors")).collect()
}

fn wrap_list(py: Python<'_>, ts: Vec<Tensor>) -> PyResult<Py<PyTuple>> {
    let objs: Vec<Py<PyTensor>> = ts.into_iter().map(|t| wrap(py, t)).collect::<PyResult<_>>()?;
    Ok(PyTuple::new(py, objs)?.unbind())
}

fn correction(unbiased: Option<&Bound<'_, PyAny>>, correction: Option<f64>) -> PyResult<f64> {
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

/// `split_with_sizes`'s reading of its sizes, with PyTorch's messages.
fn split_sizes(ob: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let not_sizes = || {
        PyTypeError::new_err(format!(
            "split_with_sizes(): argument 'split_sizes' (position 2) must be tuple of ints, not {}",
            crate::errors::type_name(ob)
        ))
    };
    if ob.is_instance_of::<pyo3::types::PyString>()
        || !(ob.is_instance_of::<PyTuple>() || ob.is_instance_of::<pyo3::types::PyList>())
    {
        return Err(not_sizes());
    }
    let mut sizes = Vec::new();
    for (i, item) in ob.try_iter()?.enumerate() {
        let item = item?;
        let value =
            if item.is_instance_of::<pyo3::types::PyBool>() { None } else { item.extract::<i64>().ok() };
        let Some(value) = value else {
            return Err(PyTypeError::new_err(format!(
                "split_with_sizes(): argument 'split_sizes' (position 2) must be tuple of ints, but found element of type {} at pos {i}",
                crate::errors::type_name(&item)
            )));
        };
        sizes.push(value);
    }
    if sizes.iter().any(|&n| n < 0) {
        let list = sizes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
        return Err(PyRuntimeError::new_err(format!(
            "split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes=[{list}]"
        )));
    }
    Ok(sizes.into_iter().map(|n| n as usize).collect())
}

/// PyTorch's error for `split(int, dim)` with a `dim` that is not an int: the two signatures
/// of `torch._VF.split`, which Tensor.split calls positionally.
#[cold]
fn split_combination_error(size: &Bound<'_, PyAny>, dim: &Bound<'_, PyAny>) -> PyErr {
    let (s, d) = (crate::errors::type_name(size), crate::errors::type_name(dim));
    PyTypeError::new_err(format!(
        "split() received an invalid combination of arguments - got (Tensor, {s}, {d}), but expected one of:\n \
         * (Tensor input, int split_size, int dim = 0)\n      \
         didn't match because some of the arguments have invalid types: (Tensor, {s}, !{d}!)\n \
         * (Tensor input, tuple of ints split_size, int dim = 0)\n      \
         didn't match because some of the arguments have invalid types: (Tensor, !{s}!, !{d}!)\n"
    ))
}

/// An optional argument that tells "not passed" from an explicit `None`: `a.split(2, None)`
/// is a type error in PyTorch, while `Option<&Bound>` would read `None` as "not passed".
pub struct Passed<'py>(Option<Bound<'py, PyAny>>);

impl<'a, 'py> FromPyObject<'a, 'py> for Passed<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Passed(Some(obj.to_owned())))
    }
}

#[rgrad_py_macros::boundary]
#[pymethods]
impl PyTensor {
    // ---- reductions with indices -----------------------------------------------------------

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
    fn amax(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<Py<PyTensor>> {
        let d = dims_opt(dim)?.filter(|d| !d.is_empty());
        let all: Vec<i64> = (0..self.t.ndim() as i64).collect();
        wrap(py, run(py, self.t.numel(), || self.t.amax(Some(d.as_deref().unwrap_or(&all)), keepdim, true))?)
    }

    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amin(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<Py<PyTensor>> {
        let d = dims_opt(dim)?.filter(|d| !d.is_empty());
        let all: Vec<i64> = (0..self.t.ndim() as i64).collect();
        wrap(py, run(py, self.t.numel(), || self.t.amax(Some(d.as_deref().unwrap_or(&all)), keepdim, false))?)
    }

    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmax(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.arg_extreme(dim, keepdim, true))?)
    }

    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmin(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyTensor>> {
        wrap(py, run(py, self.t.numel(), || self.t.arg_extreme(dim, keepdim, false))?)
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

    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumsum(&self, py: Python<'_>, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
        let src = match opt_dtype(dtype)? {
            Some(dt) => self.t.to_dtype(dt).py()?,
            None => self.t.clone(),
        };
        wrap(py, run(py, src.numel(), || src.cumsum(dim))?)
    }

    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumprod(&self, py: Python<'_>, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
        let src = match opt_dtype(dtype)? {
            Some(dt) => self.t.to_dtype(dt).py()?,
            None => self.t.clone(),
        };
        wrap(py, run(py, src.numel(), || src.cumprod(dim))?)
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
        let c = crate::tensor_ops::correction(unbiased, correction)?;
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
        let c = crate::tensor_ops::correction(unbiased, correction)?;
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

    #[pyo3(signature = (dim=None, keepdim=false))]
    fn all(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<Py<PyTensor>> {
        {
            let dims = dims_opt(dim)?;
            wrap(py, run(py, self.t.numel(), || self.t.all_any(dims.as_deref(), keepdim, true))?)
        }
    }

    #[pyo3(signature = (dim=None, keepdim=false))]
    fn any(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<Py<PyTensor>> {
        {
            let dims = dims_opt(dim)?;
            wrap(py, run(py, self.t.numel(), || self.t.all_any(dims.as_deref(), keepdim, false))?)
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

    #[overloads("(Tensor min = None, Tensor max = None)", "(Number min = None, Number max = None)";
        "(Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None)",
        "(Tensor input, Number min = None, Number max = None, *, Tensor out = None)")]
    #[pyo3(signature = (min=None, max=None))]
    fn clamp(
        &self,
        py: Python<'_>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        wrap(py, clamp_promoted(&self.t, min, max)?)
    }

    #[pyo3(signature = (min=None, max=None))]
    fn clip(
        &self,
        py: Python<'_>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        self.clamp(py, min, max)
    }

    fn clamp_min(&self, py: Python<'_>, min: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, clamp_promoted(&self.t, Some(min), None)?)
    }

    fn clamp_max(&self, py: Python<'_>, max: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        wrap(py, clamp_promoted(&self.t, None, Some(max))?)
    }

    // ---- joins and splits ----------------------------------------------------------------

    #[pyo3(signature = (split_size_or_sections, dim=Passed(None)))]
    fn split(
        &self,
        py: Python<'_>,
        split_size_or_sections: &Bound<'_, PyAny>,
        dim: Passed<'_>,
    ) -> PyResult<Py<PyTuple>> {
        let dim = dim.0.as_ref();
        // PyTorch's Tensor.split is Python: an int goes to split(Tensor, int, int), anything
        // else to split_with_sizes(Tensor, tuple of ints, int), always positionally, so the
        // messages name those and count the tensor as position 1 (in both forms).
        let as_int = |ob: &Bound<'_, PyAny>| {
            if ob.is_instance_of::<pyo3::types::PyBool>() {
                None
            } else {
                ob.extract::<i64>().ok()
            }
        };
        let dim_value = dim.map(|d| (as_int(d), d));
        let size = if split_size_or_sections.is_instance_of::<pyo3::types::PyInt>()
            || split_size_or_sections.is_instance_of::<PyTensor>()
        {
            as_int(split_size_or_sections)
        } else {
            None
        };
        if let Some(n) = size {
            if n < 0 {
                return Err(PyRuntimeError::new_err(format!(
                    "split expects split_size be non-negative, but got split_size={n}"
                )));
            }
            let n = n as usize;
            let dim = match dim_value {
                None => 0,
                Some((Some(d), _)) => d,
                Some((None, d)) => return Err(split_combination_error(split_size_or_sections, d)),
            };
            return wrap_list(py, self.t.split(&[n], true, dim).py()?);
        }
        let sizes: Vec<usize> = split_sizes(split_size_or_sections)?;
        let dim = match dim_value {
            None => 0,
            Some((Some(d), _)) => d,
            Some((None, d)) => {
                return Err(PyTypeError::new_err(format!(
                    "split_with_sizes(): argument 'dim' (position 3) must be int, not {}",
                    crate::errors::type_name(d)
                )))
            }
        };
        wrap_list(py, self.t.split(&sizes, false, dim).py()?)
    }

    #[pyo3(signature = (chunks, dim=0))]
    fn chunk(&self, py: Python<'_>, chunks: usize, dim: i64) -> PyResult<Py<PyTuple>> {
        wrap_list(py, self.t.chunk(chunks, dim).py()?)
    }

    #[pyo3(signature = (dim=0))]
    fn unbind(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyTuple>> {
        let d = rgrad_core::shape::existing_dim(dim, self.t.ndim()).py()?;
        let parts =
            (0..self.t.shape()[d] as i64).map(|i| self.t.select(d as i64, i)).collect::<Result<Vec<_>, _>>();
        wrap_list(py, parts.py()?)
    }

    #[pyo3(signature = (*sizes))]
    fn repeat(&self, py: Python<'_>, sizes: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.repeat(&int_list(sizes, "repeats")?).py()?)
    }

    /// `flip(*dims)` or `flip(dims=...)`.
    #[pyo3(signature = (*args, dims=None))]
    fn flip(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        dims: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let d = match dims {
            Some(d) if !d.is_none() => int_or_list(d, "dims")?,
            _ => int_list(args, "dims")?,
        };
        wrap(py, self.t.flip(&d).py()?)
    }

    fn movedim(
        &self,
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTensor>> {
        wrap(
            py,
            self.t
                .movedim(&int_or_list(source, "source")?, &int_or_list(destination, "destination")?)
                .py()?,
        )
    }

    fn moveaxis(
        &self,
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTensor>> {
        self.movedim(py, source, destination)
    }

    fn swapaxes(&self, py: Python<'_>, axis0: i64, axis1: i64) -> PyResult<Py<PyTensor>> {
        wrap(py, self.t.transpose(axis0, axis1).py()?)
    }

    // ---- index ops -----------------------------------------------------------------------

    fn __setitem__(&self, idx: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        index::set(&self.t, idx, value)
    }

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

    // ---- new_* constructors --------------------------------------------------------------

    #[pyo3(signature = (*size, dtype=None, device=None, requires_grad=false))]
    fn new_zeros(
        &self,
        py: Python<'_>,
        size: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<Py<PyTensor>> {
        self.new_full_impl(py, size, Scalar::Int(0), dtype, device, requires_grad)
    }

    #[pyo3(signature = (*size, dtype=None, device=None, requires_grad=false))]
    fn new_ones(
        &self,
        py: Python<'_>,
        size: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<Py<PyTensor>> {
        self.new_full_impl(py, size, Scalar::Int(1), dtype, device, requires_grad)
    }

    #[pyo3(signature = (*size, dtype=None, device=None, requires_grad=false))]
    fn new_empty(
        &self,
        py: Python<'_>,
        size: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<Py<PyTensor>> {
        self.new_full_impl(py, size, Scalar::Int(0), dtype, device, requires_grad)
    }

    #[pyo3(signature = (size, fill_value, *, dtype=None, device=None, requires_grad=false))]
    fn new_full(
        &self,
        py: Python<'_>,
        size: &Bound<'_, PyAny>,
        fill_value: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<Py<PyTensor>> {
        let v = number(fill_value, "new_full")?;
        self.new_full_impl(py, &PyTuple::new(py, [size])?, v, dtype, device, requires_grad)
    }

    #[pyo3(signature = (data, *, dtype=None, device=None, requires_grad=false))]
    fn new_tensor(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<Py<PyTensor>> {
        let dev = crate::dtype::check_device(device)?.or(Some(self.t.device()));
        let dt = opt_dtype(dtype)?.unwrap_or(self.t.dtype());
        let t = crate::convert::tensor_from_data(data, Some(dt))?;
        crate::factory::finish(py, t, dev, requires_grad)
    }

    // ---- in-place variants ---------------------------------------------------------------

    #[pyo3(signature = (min=None, max=None))]
    fn clamp_(
        slf: &Bound<'_, Self>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        clamp_inplace(slf, min, max)
    }
    fn clamp_min_(slf: &Bound<'_, Self>, min: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        clamp_inplace(slf, Some(min), None)
    }
    fn clamp_max_(slf: &Bound<'_, Self>, max: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        clamp_inplace(slf, None, Some(max))
    }
    fn neg_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::apply_(slf, |b| b.neg())
    }
    fn abs_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::apply_(slf, |b| b.abs())
    }
    fn relu_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::apply_(slf, |b| b.relu())
    }
    fn exp_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::apply_(slf, |b| b.unary(UnaryOp::Exp))
    }
    fn log_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::apply_(slf, |b| b.unary(UnaryOp::Log))
    }
    fn sqrt_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::apply_(slf, |b| b.unary(UnaryOp::Sqrt))
    }
    fn sigmoid_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::apply_(slf, |b| b.unary(UnaryOp::Sigmoid))
    }
    fn tanh_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::apply_(slf, |b| b.unary(UnaryOp::Tanh))
    }
    fn floor_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::apply_(slf, |b| b.unary(UnaryOp::Floor))
    }
    fn round_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::apply_(slf, |b| b.unary(UnaryOp::Round))
    }
    fn reciprocal_(slf: &Bound<'_, Self>) -> PyResult<Py<PyTensor>> {
        Self::apply_(slf, |b| b.unary(UnaryOp::Reciprocal))
    }
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
    #[pyo3(signature = (from_=0.0, to=1.0, *, generator=None))]
    fn uniform_(
        slf: &Bound<'_, Self>,
        from_: f64,
        to: f64,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let gen = crate::random::generator_arg(generator, "uniform_")?;
        let (shape, dt) = (slf.borrow().t.dims(), slf.borrow().t.dtype());
        let r = factory::rand_uniform_gen(gen.as_ref(), &shape, dt)
            .py()?
            .mul_scalar(to - from_)
            .py()?
            .add_scalar(from_)
            .py()?;
        slf.borrow().t.overwrite_(&r, "UniformBackward0").py()?;
        Ok(slf.clone().unbind())
    }
    #[pyo3(signature = (mean=0.0, std=1.0, *, generator=None))]
    fn normal_(
        slf: &Bound<'_, Self>,
        mean: f64,
        std: f64,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTensor>> {
        let gen = crate::random::generator_arg(generator, "normal_")?;
        let (shape, dt) = (slf.borrow().t.dims(), slf.borrow().t.dtype());
        let r =
            factory::randn_gen(gen.as_ref(), &shape, dt).py()?.mul_scalar(std).py()?.add_scalar(mean).py()?;
        slf.borrow().t.overwrite_(&r, "NormalBackward0").py()?;
        Ok(slf.clone().unbind())
    }
}

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

    fn new_full_impl(
        &self,
        py: Python<'_>,
        size: &Bound<'_, PyTuple>,
        v: Scalar,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<Py<PyTensor>> {
        let dev = crate::dtype::check_device(device)?.unwrap_or(self.t.device());
        let shape = crate::convert::usize_shape(&int_list(size, "size")?)?;
        let t = Tensor::full_on(&shape, v, opt_dtype(dtype)?.unwrap_or(self.t.dtype()), dev).py()?;
        crate::factory::finish(py, t, Some(dev), requires_grad)
    }

    fn apply_(
        slf: &Bound<'_, Self>,
        f: impl FnOnce(&Tensor) -> rgrad_core::Result<Tensor>,
    ) -> PyResult<Py<PyTensor>> {
        slf.borrow().t.apply_inplace(&[], f).py()?;
        Ok(slf.clone().unbind())
    }
}

/// `rgrad.cat(tensors, dim=0)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
pub fn cat(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    dim: i64,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let _ = out;
    let ts = tensors_of(tensors)?;
    let work = ts.iter().map(Tensor::numel).sum();
    wrap(py, run(py, work, || Tensor::cat(&ts, dim))?)
}

/// `rgrad.stack(tensors, dim=0)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
pub fn stack(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    dim: i64,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let _ = out;
    let ts = tensors_of(tensors)?;
    let work = ts.iter().map(Tensor::numel).sum();
    wrap(py, run(py, work, || Tensor::stack(&ts, dim))?)
}

/// `rgrad.eye(n, m=None)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (n, m=None, *, dtype=None, device=None, requires_grad=false))]
pub fn eye(
    py: Python<'_>,
    n: usize,
    m: Option<usize>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let dev = crate::dtype::check_device(device)?;
    let m = m.unwrap_or(n);
    let dt = opt_dtype(dtype)?.unwrap_or(DType::F32);
    let t = Tensor::zeros(&[n, m], dt).py()?;
    // The diagonal, written in place into the fresh (unshared) buffer.
    let diag: Vec<i64> = (0..n.min(m) as i64).map(|i| i * (m as i64 + 1)).collect();
    let k = diag.len();
    let ones = Tensor::ones(&[k], dt).py()?;
    let t = t.reshape(&[-1]).py()?.index_put(&[Some(Tensor::from_vec(diag, &[k]))], &ones, false).py()?;
    let t = t.reshape(&[n as i64, m as i64]).py()?;
    crate::factory::finish(py, t, dev, requires_grad)
}

/// `rgrad.randint(low=0, high, size)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (*args, size=None, generator=None, dtype=None, device=None, requires_grad=false))]
pub fn randint(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let _ = requires_grad;
    let gen = crate::random::generator_arg(generator, "randint")?;
    let dev = crate::dtype::check_device(device)?;
    let items: Vec<Bound<'_, PyAny>> = args.iter().collect();
    let (low, high, size) = match (items.len(), size) {
        (1, Some(s)) => (0, items[0].extract::<i64>()?, s.clone()),
        (2, None) => (0, items[0].extract::<i64>()?, items[1].clone()),
        (2, Some(s)) => (items[0].extract::<i64>()?, items[1].extract::<i64>()?, s.clone()),
        (3, None) => (items[0].extract::<i64>()?, items[1].extract::<i64>()?, items[2].clone()),
        _ => return Err(PyTypeError::new_err("randint(): expected (high, size) or (low, high, size)")),
    };
    if high <= low {
        return Err(PyRuntimeError::new_err(format!(
            "random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )));
    }
    let shape = crate::convert::usize_shape(&int_or_list(&size, "size")?)?;
    let t = factory::randint_gen(gen.as_ref(), low, high, &shape, opt_dtype(dtype)?.unwrap_or(DType::I64))
        .py()?;
    crate::factory::finish(py, t, dev, false)
}

/// `rgrad.randperm(n)`.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (n, *, generator=None, dtype=None, device=None, requires_grad=false))]
pub fn randperm(
    py: Python<'_>,
    n: usize,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let _ = requires_grad;
    let gen = crate::random::generator_arg(generator, "randperm")?;
    let dev = crate::dtype::check_device(device)?;
    let t = factory::randperm_gen(gen.as_ref(), n)
        .py()?
        .cast_kernel(opt_dtype(dtype)?.unwrap_or(DType::I64))
        .py()?;
    crate::factory::finish(py, t, dev, false)
}
