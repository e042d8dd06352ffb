//! The fused ops behind `rgrad.nn.functional`: `linear`, and the losses of
//! rgrad_core::ops::loss. Each `_loss` returns None where the fused op does not apply, and the
//! Python caller runs its composite instead.

use crate::convert::tensor_param;
use crate::errors::{run, IntoPyResult};
use crate::tensor::{wrap, PyTensor};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rgrad_core::ops::conv::ConvArgs;
use rgrad_core::ops::loss::{CrossEntropy, Reduction};
use rgrad_core::ops::pool::PoolArgs;
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
    wrap(py, run(py, crate::linalg::matmul_work(&x, &w), || x.linear(&w, b.as_ref()))?)
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

/// `_ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity)`: the
/// per-sample losses of a `(T, N, C)` input (the Python caller handles the unbatched form,
/// the lengths' types, `zero_infinity`'s zeroing of the losses and the reduction).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (log_probs, targets, input_lengths, target_lengths, blank, zero_infinity))]
pub fn _ctc_loss(
    py: Python<'_>,
    log_probs: &Bound<'_, PyAny>,
    targets: &Bound<'_, PyAny>,
    input_lengths: Vec<i64>,
    target_lengths: Vec<i64>,
    blank: i64,
    zero_infinity: bool,
) -> PyResult<Py<PyTensor>> {
    let x = tensor_param(log_probs, "ctc_loss", "log_probs", 1)?;
    let t = tensor_param(targets, "ctc_loss", "targets", 2)?;
    let work = x.numel().saturating_mul(t.numel().max(1));
    wrap(py, run(py, work, || x.ctc_loss(&t, &input_lengths, &target_lengths, blank, zero_infinity))?)
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

/// One recurrent layer and direction (`rgrad_core::ops::rnn`) over a time-major input `x`
/// (`[T, B, I]`, or packed `[N, I]` with the per-step `batch_sizes`), the input projection
/// and LSTM's projection `w_hr` included; returns `(output, h_last, c_last or None)`.
/// `nn.RNN`/`LSTM`/`GRU` arrange the layers, directions and weights around it.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse, batch_sizes=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn _rnn_layer(
    py: Python<'_>,
    mode: &str,
    x: &Bound<'_, PyAny>,
    h0: &Bound<'_, PyAny>,
    c0: Option<&Bound<'_, PyAny>>,
    w_ih: &Bound<'_, PyAny>,
    w_hh: &Bound<'_, PyAny>,
    b_ih: Option<&Bound<'_, PyAny>>,
    b_hh: Option<&Bound<'_, PyAny>>,
    w_hr: Option<&Bound<'_, PyAny>>,
    reverse: bool,
    batch_sizes: Option<Vec<i64>>,
) -> PyResult<(Py<PyTensor>, Py<PyTensor>, Option<Py<PyTensor>>)> {
    fn optional(v: Option<&Bound<'_, PyAny>>, name: &str, pos: usize) -> PyResult<Option<Tensor>> {
        match v {
            Some(t) if !t.is_none() => tensor_param(t, "_rnn_layer", name, pos).map(Some),
            _ => Ok(None),
        }
    }
    let func = "_rnn_layer";
    let mode = rgrad_core::ops::rnn::parse_mode(mode).py()?;
    let x = tensor_param(x, func, "x", 2)?;
    let h0 = tensor_param(h0, func, "h0", 3)?;
    let c0 = optional(c0, "c0", 4)?;
    let w_ih = tensor_param(w_ih, func, "w_ih", 5)?;
    let w_hh = tensor_param(w_hh, func, "w_hh", 6)?;
    let b_ih = optional(b_ih, "b_ih", 7)?;
    let b_hh = optional(b_hh, "b_hh", 8)?;
    let w_hr = optional(w_hr, "w_hr", 9)?;
    let sizes: Option<Vec<usize>> = match batch_sizes {
        Some(v) => Some(
            v.into_iter()
                .map(|s| {
                    usize::try_from(s)
                        .map_err(|_| PyRuntimeError::new_err(format!("{func}: negative batch size {s}")))
                })
                .collect::<PyResult<_>>()?,
        ),
        None => None,
    };
    // Work: one multiply-add per weight per step and batch row.
    let rows = x.numel() / x.shape().last().copied().unwrap_or(1).max(1);
    let work = rows.saturating_mul(w_ih.numel().saturating_add(w_hh.numel()));
    let args = rgrad_core::ops::rnn::RnnArgs {
        h0: &h0,
        c0: c0.as_ref(),
        w_ih: &w_ih,
        w_hh: &w_hh,
        b_ih: b_ih.as_ref(),
        b_hh: b_hh.as_ref(),
        w_hr: w_hr.as_ref(),
        batch_sizes: sizes.as_deref(),
    };
    let (y, h, c) = run(py, work, || x.rnn_layer(mode, &args, reverse))?;
    Ok((wrap(py, y)?, wrap(py, h)?, c.map(|c| wrap(py, c)).transpose()?))
}

/// `scaled_dot_product_attention` without dropout as one fused op (ops/attention.rs);
/// `rgrad.nn.functional` handles dropout and masks that take a gradient.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (query, key, value, attn_mask, is_causal, scale, enable_gqa))]
#[allow(clippy::too_many_arguments)]
pub fn _scaled_dot_product_attention(
    py: Python<'_>,
    query: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
    attn_mask: Option<&Bound<'_, PyAny>>,
    is_causal: bool,
    scale: Option<f64>,
    enable_gqa: bool,
) -> PyResult<Py<PyTensor>> {
    let func = "scaled_dot_product_attention";
    let q = tensor_param(query, func, "query", 1)?;
    let k = tensor_param(key, func, "key", 2)?;
    let v = tensor_param(value, func, "value", 3)?;
    let mask = match attn_mask {
        Some(m) if !m.is_none() => Some(tensor_param(m, func, "attn_mask", 4)?),
        _ => None,
    };
    // Work: two multiply-adds per query, key and feature.
    let work = q.numel().saturating_mul(k.shape().iter().rev().nth(1).copied().unwrap_or(1));
    let out = run(py, work, || {
        q.scaled_dot_product_attention(&k, &v, mask.as_ref(), is_causal, scale, enable_gqa)
    })?;
    wrap(py, out)
}

/// `max_pool{spatial}d_with_indices` on an input with `spatial` pooled dims (batched or
/// not); `rgrad.nn.functional` expands the per-dim arguments. Returns (values, indices).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, spatial, kernel_size, stride, padding, dilation, ceil_mode))]
#[allow(clippy::too_many_arguments)]
pub fn _max_pool(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    spatial: usize,
    kernel_size: Vec<i64>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    ceil_mode: bool,
) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let x = tensor_param(input, &format!("max_pool{spatial}d"), "input", 1)?;
    let args = PoolArgs {
        kernel: kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        count_include_pad: true,
        divisor_override: None,
    };
    let (v, i) = run(py, x.numel(), || x.max_pool(spatial, &args))?;
    Ok((wrap(py, v)?, wrap(py, i)?))
}

/// `avg_pool{spatial}d` (see `_max_pool`).
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, spatial, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override))]
#[allow(clippy::too_many_arguments)]
pub fn _avg_pool(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    spatial: usize,
    kernel_size: Vec<i64>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<i64>,
) -> PyResult<Py<PyTensor>> {
    let x = tensor_param(input, &format!("avg_pool{spatial}d"), "input", 1)?;
    let dilation = vec![1; kernel_size.len()];
    let args = PoolArgs {
        kernel: kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        count_include_pad,
        divisor_override,
    };
    let out = run(py, x.numel(), || x.avg_pool(spatial, &args))?;
    wrap(py, out)
}

/// `adaptive_{avg,max}_pool{spatial}d` to `output_size` (None entries already replaced by
/// the input's sizes); the max pooling's indices second.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, spatial, output_size, max))]
pub fn _adaptive_pool(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    spatial: usize,
    output_size: Vec<i64>,
    max: bool,
) -> PyResult<(Py<PyTensor>, Option<Py<PyTensor>>)> {
    let kind = if max { "max" } else { "avg" };
    let x = tensor_param(input, &format!("adaptive_{kind}_pool{spatial}d"), "input", 1)?;
    let (v, i) = run(py, x.numel(), || x.adaptive_pool(spatial, &output_size, max))?;
    Ok((wrap(py, v)?, wrap_opt(py, i)?))
}

/// `max_unpool{spatial}d(input, indices, output_size)` with the output's spatial sizes.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, indices, spatial, output_size))]
pub fn _max_unpool(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    indices: &Bound<'_, PyAny>,
    spatial: usize,
    output_size: Vec<i64>,
) -> PyResult<Py<PyTensor>> {
    let func = format!("max_unpool{spatial}d");
    let x = tensor_param(input, &func, "input", 1)?;
    let idx = tensor_param(indices, &func, "indices", 2)?;
    let out = run(py, x.numel(), || x.max_unpool(&idx, spatial, &output_size))?;
    wrap(py, out)
}

/// An optional tensor argument (None or a tensor) of a functional op.
fn opt_tensor_param(
    ob: Option<&Bound<'_, PyAny>>,
    func: &str,
    name: &str,
    pos: usize,
) -> PyResult<Option<Tensor>> {
    match ob {
        Some(o) if !o.is_none() => Ok(Some(tensor_param(o, func, name, pos)?)),
        _ => Ok(None),
    }
}

/// `native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum,
/// eps)`: `(output, save_mean, save_invstd)`, the running statistics updated in place when
/// training. `F.batch_norm` and `F.instance_norm` check their Python-level arguments and call
/// this.
#[rgrad_py_macros::boundary]
#[pyfunction]
#[pyo3(signature = (input, weight, bias, running_mean, running_var, training, momentum, eps))]
#[allow(clippy::too_many_arguments)]
pub fn native_batch_norm(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    bias: Option<&Bound<'_, PyAny>>,
    running_mean: Option<&Bound<'_, PyAny>>,
    running_var: Option<&Bound<'_, PyAny>>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> PyResult<(Py<PyTensor>, Py<PyTensor>, Py<PyTensor>)> {
    let f = "native_batch_norm";
    let x = tensor_param(input, f, "input", 1)?;
    let w = opt_tensor_param(weight, f, "weight", 2)?;
    let b = opt_tensor_param(bias, f, "bias", 3)?;
    let rm = opt_tensor_param(running_mean, f, "running_mean", 4)?;
    let rv = opt_tensor_param(running_var, f, "running_var", 5)?;
    let (out, mean, invstd) = run(py, x.numel(), || {
        x.native_batch_norm(w.as_ref(), b.as_ref(), rm.as_ref(), rv.as_ref(), training, momentum, eps)
    })?;
    Ok((wrap(py, out)?, wrap(py, mean)?, wrap(py, invstd)?))
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
