//! The fused ops behind `rgrad.nn.functional`: `linear`, and the losses of
//! rgrad_core::ops::loss. Each `_loss` returns None where the fused op does not apply, and the
//! Python caller runs its composite instead.

use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use rgrad_core::ops::conv::ConvArgs;
use rgrad_core::ops::loss::{CrossEntropy, Reduction};
use rgrad_core::ops::resample_plans::{
    col2im_plan, im2col_plan, interpolate_plan, pad_plan, PadMode, Window,
};
use rgrad_core::Tensor;

/// The tensor behind `ob`, or None for anything else (a non-tensor goes to the composite,
/// which raises PyTorch's error for it).
fn tensor(ob: Option<&Bound<'_, PyAny>>) -> Option<Option<Tensor>> {
    match ob {
        None => Some(None),
        Some(o) if o.is_none() => Some(None),
        Some(o) => o.cast::<PyTensor>().ok().map(|t| Some(t.borrow().t.clone())),
    }
}

/// A tensor argument of a functional op, with PyTorch's error for anything else.
fn tensor_param(ob: &Bound<'_, PyAny>, func: &str, name: &str, pos: usize) -> PyResult<Tensor> {
    match ob.cast::<PyTensor>() {
        Ok(t) => Ok(t.borrow().t.clone()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{func}(): argument '{name}' (position {pos}) must be Tensor, not {}",
            ob.get_type().name()?
        ))),
    }
}

/// `linear(input, weight, bias=None)`: `input @ weight.T + bias`, fused where it can be.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, weight, bias=None))]
pub fn linear(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    weight: &Bound<'_, PyAny>,
    bias: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let x = tensor_param(input, "linear", "input", 1)?;
    let w = tensor_param(weight, "linear", "weight", 2)?;
    let b = match bias {
        Some(b) if !b.is_none() => Some(tensor_param(b, "linear", "bias", 3)?),
        _ => None,
    };
    wrap(py, run(py, crate::tensor::matmul_work(&x, &w), || x.linear(&w, b.as_ref()))?)
}

fn wrap_opt(py: Python<'_>, t: Option<Tensor>) -> PyResult<Option<Py<PyTensor>>> {
    t.map(|t| wrap(py, t)).transpose()
}

/// `cross_entropy` for class-index targets, or None.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, target, weight, ignore_index, label_smoothing, reduction))]
pub fn _cross_entropy(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    ignore_index: i64,
    label_smoothing: f64,
    reduction: &str,
) -> PyResult<Option<Py<PyTensor>>> {
    let (Some(Some(x)), Some(Some(y)), Some(w)) = (tensor(Some(input)), tensor(Some(target)), tensor(weight))
    else {
        return Ok(None);
    };
    let opts = CrossEntropy {
        weight: w.as_ref(),
        ignore_index,
        label_smoothing,
        reduction: Reduction::parse(reduction).py()?,
    };
    wrap_opt(py, run(py, x.numel(), || x.cross_entropy(&y, &opts))?)
}

/// `binary_cross_entropy` of probabilities, or None.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, target, weight, reduction))]
pub fn _binary_cross_entropy(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    reduction: &str,
) -> PyResult<Option<Py<PyTensor>>> {
    let (Some(Some(x)), Some(Some(t)), Some(w)) = (tensor(Some(input)), tensor(Some(target)), tensor(weight))
    else {
        return Ok(None);
    };
    let r = Reduction::parse(reduction).py()?;
    wrap_opt(py, x.binary_cross_entropy(&t, w.as_ref(), r).py()?)
}

/// `binary_cross_entropy_with_logits`, or None.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, target, weight, pos_weight, reduction))]
pub fn _binary_cross_entropy_with_logits(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    pos_weight: Option<&Bound<'_, PyAny>>,
    reduction: &str,
) -> PyResult<Option<Py<PyTensor>>> {
    let (Some(Some(x)), Some(Some(t)), Some(w), Some(pw)) =
        (tensor(Some(input)), tensor(Some(target)), tensor(weight), tensor(pos_weight))
    else {
        return Ok(None);
    };
    let r = Reduction::parse(reduction).py()?;
    wrap_opt(py, x.binary_cross_entropy_with_logits(&t, w.as_ref(), pw.as_ref(), r).py()?)
}

/// `aten::convolution` on a batched input; `rgrad.nn.functional` parses the PyTorch-level
/// arguments ('same'/'valid', unbatched inputs) and calls this.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, weight, bias, stride, padding, dilation, transposed, output_padding, groups))]
#[allow(clippy::too_many_arguments)]
pub fn _convolution(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    weight: &Bound<'_, PyAny>,
    bias: Option<&Bound<'_, PyAny>>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    transposed: bool,
    output_padding: Vec<i64>,
    groups: i64,
) -> PyResult<Py<PyTensor>> {
    let func = if transposed { "conv_transpose" } else { "convolution" };
    let x = tensor_param(input, func, "input", 1)?;
    let w = tensor_param(weight, func, "weight", 2)?;
    let b = match bias {
        Some(b) if !b.is_none() => Some(tensor_param(b, func, "bias", 3)?),
        _ => None,
    };
    let args = ConvArgs { stride, padding, dilation, transposed, output_padding, groups };
    // Work: output elements times the reduction length is unknown here; the input size times
    // the kernel size is a cheap lower bound that is above the threshold for any real conv.
    let work = x.numel().saturating_mul(w.numel() / w.shape().first().copied().unwrap_or(1).max(1));
    let out = run(py, work, || x.convolution(&w, b.as_ref(), &args))?;
    wrap(py, out)
}

/// `F.interpolate`'s map modes on a batched `[N, C, *spatial]` input: `size` or the scale
/// factors (which then reach PyTorch's index formulas); `rgrad.nn.functional` parses the
/// user-level arguments.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, mode, size, scales, align_corners))]
pub fn _interpolate(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    mode: &str,
    size: Option<Vec<i64>>,
    scales: Option<Vec<f64>>,
    align_corners: bool,
) -> PyResult<Py<PyTensor>> {
    let x = tensor_param(input, "interpolate", "input", 1)?;
    let out = run(py, x.numel(), || {
        let plan = interpolate_plan(&x, mode, size.as_deref(), scales.as_deref(), align_corners)?;
        x.resample(&plan, false)
    })?;
    wrap(py, out)
}

/// `F.pad` in mode 'reflect', 'replicate' or 'circular' over the last `len(pad) // 2` dims.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, pad, mode))]
pub fn _pad_map(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    pad: Vec<i64>,
    mode: &str,
) -> PyResult<Py<PyTensor>> {
    let x = tensor_param(input, "pad", "input", 1)?;
    let mode = match mode {
        "reflect" => PadMode::Reflect,
        "replicate" => PadMode::Replicate,
        "circular" => PadMode::Circular,
        m => {
            return Err(pyo3::exceptions::PyNotImplementedError::new_err(format!(
                "Unrecognised padding mode {m}"
            )))
        }
    };
    let out = run(py, x.numel(), || x.resample(&pad_plan(&x, &pad, mode)?, false))?;
    wrap(py, out)
}

fn window(kernel: [i64; 2], dilation: [i64; 2], padding: [i64; 2], stride: [i64; 2]) -> Window {
    Window { kernel, dilation, padding, stride }
}

/// `F.unfold` (im2col) of a batched `[N, C, H, W]` input.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, kernel_size, dilation, padding, stride))]
pub fn _im2col(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    kernel_size: [i64; 2],
    dilation: [i64; 2],
    padding: [i64; 2],
    stride: [i64; 2],
) -> PyResult<Py<PyTensor>> {
    let x = tensor_param(input, "unfold", "input", 1)?;
    let w = window(kernel_size, dilation, padding, stride);
    let out = run(py, x.numel(), || x.resample(&im2col_plan(&x, &w)?, false))?;
    wrap(py, out)
}

/// `F.fold` (col2im) of a batched `[N, C * kh * kw, L]` input.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, output_size, kernel_size, dilation, padding, stride))]
pub fn _col2im(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    output_size: [i64; 2],
    kernel_size: [i64; 2],
    dilation: [i64; 2],
    padding: [i64; 2],
    stride: [i64; 2],
) -> PyResult<Py<PyTensor>> {
    let x = tensor_param(input, "fold", "input", 1)?;
    let w = window(kernel_size, dilation, padding, stride);
    let out = run(py, x.numel(), || x.resample(&col2im_plan(&x, output_size, &w)?, true))?;
    wrap(py, out)
}
