//! Batch normalization as one op (PyTorch's `native_batch_norm`) on `[N, C, *]` inputs:
//! argument checks with PyTorch's messages, the fused forward (batch or running statistics,
//! the in-place update of the running statistics, normalize and affine in one pass), the
//! fused backward, and the recorded node `NativeBatchNormBackward0`.
//!
//! Kernels: cpu/norm.rs on the CPU, gpu/norm.rs on the wgpu device. The backward rule
//! (autograd/rules/norm.rs) calls [`batch_norm_backward`], or under `create_graph` the same
//! gradient written in tensor ops, which is what makes double backward work.

use crate::autograd::{needs_grad, record, Op, Saved};
use crate::bail;
use crate::cpu::norm::{channel_affine, channel_stats, grad_sums, NormDims};
use crate::error::{Error, Result};
use crate::grad_mode::GradModeGuard;
use crate::ops::inplace::scalar_type_name;
use crate::ops::unary::UnaryOp;
use crate::tensor::Tensor;
use crate::{DType, Device};
use std::sync::Arc;

/// What the backward of one batch normalization needs besides its saved tensors.
#[derive(Clone, Debug)]
pub struct BatchNormSpec {
    pub training: bool,
    pub eps: f64,
    /// Shapes of the affine parameters as given (their gradients take the same shapes).
    pub weight_shape: Option<Vec<usize>>,
    pub bias_shape: Option<Vec<usize>>,
}

macro_rules! with_float {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            other => return Err(not_float(other)),
        }
    };
}

fn not_float(dt: DType) -> Error {
    Error::NotImplemented(format!("\"batch_norm\" not implemented for '{}'", scalar_type_name(dt)))
}

pub(crate) fn dims_of(x: &Tensor) -> NormDims {
    let sh = x.shape();
    NormDims { n: sh[0], c: sh[1], s: sh[2..].iter().product() }
}

/// `t` detached, with its elements as one contiguous run (copied only when strided).
fn dense(t: &Tensor) -> Result<Tensor> {
    let t = t.detach();
    if t.is_contiguous() {
        Ok(t)
    } else {
        t.clone_tensor()
    }
}

/// A per-channel vector (`weight`, `running_mean`, ...) as a contiguous `[c]`.
fn channel_vec(t: &Tensor, c: usize) -> Result<Tensor> {
    dense(t)?.reshape(&[c as i64])
}

fn slice_of<T: crate::Element>(t: &Tensor) -> &[T] {
    &t.storage_slice::<T>()[t.layout().offset..][..t.numel()]
}

fn check_count(name: &str, c: usize, t: Option<&Tensor>) -> Result<()> {
    match t {
        Some(t) if t.numel() != c => bail!(Runtime, "{name} should contain {c} elements not {}", t.numel()),
        _ => Ok(()),
    }
}

/// PyTorch's checks, in its order; the number of channels.
fn check_args(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    running_mean: Option<&Tensor>,
    running_var: Option<&Tensor>,
    training: bool,
) -> Result<()> {
    let c = x.shape()[1];
    check_count("running_mean", c, running_mean)?;
    if running_mean.is_none() && !training {
        bail!(Runtime, "running_mean must be defined in evaluation mode");
    }
    check_count("running_var", c, running_var)?;
    if running_var.is_none() && !training {
        bail!(Runtime, "running_var must be defined in evaluation mode");
    }
    check_count("weight", c, weight)?;
    check_count("bias", c, bias)?;
    if !x.dtype().is_float() {
        return Err(not_float(x.dtype()));
    }
    let params = [weight, bias, running_mean, running_var];
    if params.iter().flatten().any(|t| t.dtype() != x.dtype()) {
        bail!(
            Runtime,
            "mixed dtype (CPU): expect parameter to have scalar type of {}",
            scalar_type_name(x.dtype())
        );
    }
    Ok(())
}

/// `running = (1 - momentum) * running + momentum * batch`, written in place (no history).
fn update_running(t: Option<&Tensor>, batch: &Tensor, momentum: f64) -> Result<()> {
    let Some(t) = t else { return Ok(()) };
    let _no_grad = GradModeGuard::new(false);
    let shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
    let new = batch.mul_scalar(momentum)?.add(&t.detach().reshape(&[-1])?.mul_scalar(1.0 - momentum)?)?;
    t.copy_(&new.reshape(&shape)?)
}

/// The result of an empty input, as PyTorch: a copy (times `weight[0]`, plus `bias[0]`), so
/// the graph stays connected; the running statistics are left alone.
fn empty_input(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
) -> Result<(Tensor, Tensor, Tensor)> {
    let c = x.shape()[1];
    let mut out = x.clone_tensor()?;
    if let Some(w) = weight.filter(|w| w.numel() > 0) {
        out = out.mul(&w.reshape(&[-1])?.select(0, 0)?)?;
    }
    if let Some(b) = bias.filter(|b| b.numel() > 0) {
        out = out.add(&b.reshape(&[-1])?.select(0, 0)?)?;
    }
    let stats = Tensor::full_on(&[c], crate::Scalar::Float(0.0), x.dtype(), x.device())?;
    Ok((out, stats.clone(), stats))
}

#[allow(clippy::too_many_arguments)]
fn cpu_forward(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    running_mean: Option<&Tensor>,
    running_var: Option<&Tensor>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let d = dims_of(x);
    // float16/bfloat16 normalize in float32 (opmath), rounded once.
    let (xd, dt) = (dense(&crate::ops::opmath::widen(x)?)?, x.dtype());
    let cdt = dt.opmath();
    let m = d.per_channel() as f64;
    let (mean, invstd) = if training {
        let st = with_float!(cdt, T => channel_stats(slice_of::<T>(&xd), d));
        let mean: Vec<f64> = st.iter().map(|s| s.0).collect();
        let invstd: Vec<f64> = st.iter().map(|s| 1.0 / (s.1 / m + eps).sqrt()).collect();
        if running_mean.is_some() || running_var.is_some() {
            let as_t = |v: Vec<f64>| Tensor::from_vec(v, &[d.c]).to_dtype(dt);
            update_running(running_mean, &as_t(mean.clone())?, momentum)?;
            // The running variance is unbiased (NaN for one value per channel, as PyTorch).
            update_running(running_var, &as_t(st.iter().map(|s| s.1 / (m - 1.0)).collect())?, momentum)?;
        }
        (mean, invstd)
    } else {
        let (rm, rv) = match (running_mean, running_var) {
            (Some(a), Some(b)) => (a, b),
            _ => bail!(Runtime, "running_mean must be defined in evaluation mode"),
        };
        let invstd = rv.try_to_vec::<f64>()?.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        (rm.try_to_vec::<f64>()?, invstd)
    };
    let w = weight.map(|w| w.try_to_vec::<f64>()).transpose()?;
    let b = bias.map(|b| b.try_to_vec::<f64>()).transpose()?;
    // out = x * alpha + gamma with alpha = invstd * w and gamma = b - mean * alpha.
    let alpha: Vec<f64> = (0..d.c).map(|c| invstd[c] * w.as_ref().map_or(1.0, |w| w[c])).collect();
    let gamma: Vec<f64> = (0..d.c).map(|c| b.as_ref().map_or(0.0, |b| b[c]) - mean[c] * alpha[c]).collect();
    let vec_t = |v: &[f64]| -> Result<Tensor> { Tensor::from_vec(v.to_vec(), &[d.c]).to_dtype(dt) };
    let out = with_float!(cdt, T => {
        Tensor::from_vec(channel_affine(slice_of::<T>(&xd), None, d, &alpha, &[], &[], &gamma), x.shape())
    });
    Ok((crate::ops::opmath::narrow(out, dt)?, vec_t(&mean)?, vec_t(&invstd)?))
}

#[allow(clippy::too_many_arguments)]
fn gpu_forward(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    running_mean: Option<&Tensor>,
    running_var: Option<&Tensor>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let d = dims_of(x);
    let xd = dense(x)?;
    let (mean, invstd) = if training {
        let st = crate::gpu::bn_stats(&xd, d.n, d.c, d.s, eps)?;
        update_running(running_mean, &st.select(0, 0)?, momentum)?;
        update_running(running_var, &st.select(0, 2)?, momentum)?;
        (st.select(0, 0)?, st.select(0, 1)?)
    } else {
        let (rm, rv) = match (running_mean, running_var) {
            (Some(a), Some(b)) => (a, b),
            _ => bail!(Runtime, "running_mean must be defined in evaluation mode"),
        };
        let invstd = channel_vec(rv, d.c)?.add_scalar(eps)?.unary(UnaryOp::Rsqrt)?;
        (channel_vec(rm, d.c)?.clone_tensor()?, invstd)
    };
    let w = weight.map(|w| channel_vec(w, d.c)).transpose()?;
    let b = bias.map(|b| channel_vec(b, d.c)).transpose()?;
    let out = crate::gpu::bn_apply(&xd, &mean, &invstd, w.as_ref(), b.as_ref(), d.n, d.c, d.s)?;
    Ok((out, mean, invstd))
}

impl Tensor {
    /// `native_batch_norm(input, weight, bias, running_mean, running_var, training,
    /// momentum, eps)` on `[N, C, *]`: the output, and the mean and inverse standard
    /// deviation it normalized with. In training the running statistics (when given) are
    /// updated in place with the batch mean and unbiased variance.
    #[allow(clippy::too_many_arguments)]
    pub fn native_batch_norm(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        training: bool,
        momentum: f64,
        eps: f64,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let x = self;
        match x.ndim() {
            0 => bail!(Index, "Dimension specified as 1 but tensor has no dimensions"),
            1 => bail!(Index, "Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
            _ => {}
        }
        if x.numel() == 0 {
            return empty_input(x, weight, bias);
        }
        check_args(x, weight, bias, running_mean, running_var, training)?;
        let mut all = vec![x];
        all.extend([weight, bias, running_mean, running_var].into_iter().flatten());
        let device = crate::ops::common_device(&all)?;
        let forward = if device == Device::Wgpu { gpu_forward } else { cpu_forward };
        let (out, mean, invstd) =
            forward(x, weight, bias, running_mean, running_var, training, momentum, eps)?;
        let mut inputs = vec![x];
        inputs.extend(weight);
        inputs.extend(bias);
        if needs_grad(&inputs) {
            let spec = BatchNormSpec {
                training,
                eps,
                weight_shape: weight.map(|w| w.shape().to_vec()),
                bias_shape: bias.map(|b| b.shape().to_vec()),
            };
            let op = Op::BatchNorm {
                x: Saved::input(x),
                weight: weight.map(Saved::input),
                mean: mean.clone(),
                invstd: invstd.clone(),
                spec: Arc::new(spec),
            };
            record("NativeBatchNormBackward0", op, &inputs, &[&out]);
        }
        Ok((out, mean, invstd))
    }
}

/// The gradients `[input, weight, bias]` of a batch normalization for the output gradient
/// `g`, each computed only where `need` asks, in one fused pass (no history).
#[allow(clippy::too_many_arguments)]
pub(crate) fn batch_norm_backward(
    g: &Tensor,
    x: &Tensor,
    weight: Option<&Tensor>,
    mean: &Tensor,
    invstd: &Tensor,
    training: bool,
    need: [bool; 3],
) -> Result<[Option<Tensor>; 3]> {
    let d = dims_of(x);
    let dt = x.dtype();
    let (gd, xd) = (dense(&g.to_dtype(dt)?)?, dense(x)?);
    let sums_needed = training || need[1] || need[2];
    if x.is_gpu() {
        let (mean, invstd) = (channel_vec(mean, d.c)?, channel_vec(invstd, d.c)?);
        let w = weight.map(|w| channel_vec(w, d.c)).transpose()?;
        let sums =
            if sums_needed { Some(crate::gpu::bn_grad_sums(&gd, &xd, &mean, d.n, d.c, d.s)?) } else { None };
        let gx = if need[0] {
            let s = if training { sums.as_ref() } else { None };
            Some(crate::gpu::bn_grad_input(&gd, &xd, &mean, &invstd, w.as_ref(), s, d.n, d.c, d.s)?)
        } else {
            None
        };
        let (gw, gb) = match &sums {
            Some(s) if need[1] || need[2] => (
                if need[1] { Some(s.select(0, 1)?.mul(&invstd)?) } else { None },
                if need[2] { Some(s.select(0, 0)?) } else { None },
            ),
            _ => (None, None),
        };
        return Ok([gx, gw, gb]);
    }
    let (gd, xd) = (dense(&crate::ops::opmath::widen(&gd)?)?, dense(&crate::ops::opmath::widen(&xd)?)?);
    let cdt = dt.opmath();
    let mean_v = mean.try_to_vec::<f64>()?;
    let invstd_v = invstd.try_to_vec::<f64>()?;
    let w_v = weight.map(|w| w.try_to_vec::<f64>()).transpose()?;
    let sums = if sums_needed {
        with_float!(cdt, T => grad_sums(slice_of::<T>(&gd), slice_of::<T>(&xd), d, &mean_v))
    } else {
        Vec::new()
    };
    let vec_t = |v: Vec<f64>| -> Result<Tensor> { Tensor::from_vec(v, &[d.c]).to_dtype(dt) };
    let gx = if need[0] {
        let m = d.per_channel() as f64;
        let a: Vec<f64> = (0..d.c).map(|c| invstd_v[c] * w_v.as_ref().map_or(1.0, |w| w[c])).collect();
        let out = if training {
            // dx = a * (dy - sum(dy) / m) - a * invstd^2 * sum(dy (x - mean)) / m * (x - mean)
            let beta: Vec<f64> =
                (0..d.c).map(|c| -a[c] * invstd_v[c] * invstd_v[c] * sums[c].1 / m).collect();
            let gamma: Vec<f64> = (0..d.c).map(|c| -a[c] * sums[c].0 / m).collect();
            with_float!(cdt, T => Tensor::from_vec(
                channel_affine(slice_of::<T>(&gd), Some(slice_of::<T>(&xd)), d, &a, &beta, &mean_v, &gamma),
                x.shape()
            ))
        } else {
            let zeros = vec![0.0; d.c];
            with_float!(cdt, T => Tensor::from_vec(channel_affine(slice_of::<T>(&gd), None, d, &a, &[], &[], &zeros), x.shape()))
        };
        Some(crate::ops::opmath::narrow(out, dt)?)
    } else {
        None
    };
    let gw =
        if need[1] { Some(vec_t(sums.iter().zip(&invstd_v).map(|(s, i)| s.1 * i).collect())?) } else { None };
    let gb = if need[2] { Some(vec_t(sums.iter().map(|s| s.0).collect())?) } else { None };
    Ok([gx, gw, gb])
}
