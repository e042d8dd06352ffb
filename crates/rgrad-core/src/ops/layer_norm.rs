//! Layer normalization as one op (PyTorch's `native_layer_norm`): PyTorch's argument checks
//! and messages, the fused forward (each row's mean and inverse standard deviation in one
//! pass over the row, saved for the backward), and the node `NativeLayerNormBackward0`, whose
//! rule (autograd/rules/layer_norm.rs) runs the fused backward kernel, or under
//! `create_graph` the same gradients in tensor ops (double backward).
//!
//! CPU kernels: cpu/layer_norm.rs, parallel over rows. On the wgpu device the forward and
//! backward are the same formulas in tensor ops (device reductions and maps).

use crate::autograd::{needs_grad, record, Op, Saved};
use crate::bail;
use crate::error::Result;
use crate::grad_mode::GradModeGuard;
use crate::ops::inplace::scalar_type_name;
use crate::ops::unary::UnaryOp;
use crate::tensor::Tensor;
use crate::DType;
use std::sync::Arc;

/// What the backward of one layer normalization needs besides its saved tensors.
#[derive(Clone, Debug)]
pub struct LayerNormSpec {
    /// The normalized trailing shape (the weight's and bias's shape).
    pub normalized: Vec<usize>,
    pub eps: f64,
    pub has_weight: bool,
    pub has_bias: bool,
}

fn shape_str(s: &[usize]) -> String {
    format!("[{}]", s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
}

fn dense(t: &Tensor) -> Result<Tensor> {
    let t = t.detach();
    if t.is_contiguous() {
        Ok(t)
    } else {
        t.cast_kernel(t.dtype())
    }
}

fn slice_of<T: crate::Element>(t: &Tensor) -> &[T] {
    &t.storage_slice::<T>()[t.layout().offset..][..t.numel()]
}

/// The trailing dims `x` is normalized over, as negative indices.
pub(crate) fn norm_dims(k: usize) -> Vec<i64> {
    (-(k as i64)..0).collect()
}

/// The shape of the saved mean and rstd: `x`'s leading dims, then ones.
fn stats_shape(x: &Tensor, k: usize) -> Vec<usize> {
    let nd = x.ndim();
    x.shape()[..nd - k].iter().copied().chain(std::iter::repeat_n(1, k)).collect()
}

fn check_args(x: &Tensor, shape: &[usize], weight: Option<&Tensor>, bias: Option<&Tensor>) -> Result<()> {
    if shape.is_empty() {
        bail!(
            Runtime,
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, but got normalized_shape = []"
        );
    }
    for (name, t) in [("weight", weight), ("bias", bias)] {
        if let Some(t) = t {
            if t.shape() != shape {
                bail!(
                    Runtime,
                    "Expected {name} to be of same shape as normalized_shape, but got {name} of shape {} and normalized_shape = {}",
                    shape_str(t.shape()),
                    shape_str(shape)
                );
            }
        }
    }
    let nd = x.ndim();
    if nd < shape.len() || &x.shape()[nd - shape.len()..] != shape {
        bail!(
            Runtime,
            "Given normalized_shape={}, expected input with shape [*, {}], but got input of size{}",
            shape_str(shape),
            shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "),
            shape_str(x.shape())
        );
    }
    if !x.dtype().is_float() {
        bail!(
            NotImplemented,
            "\"LayerNormKernelImpl\" not implemented for '{}'",
            scalar_type_name(x.dtype())
        );
    }
    if [weight, bias].iter().flatten().any(|t| t.dtype() != x.dtype()) {
        bail!(
            Runtime,
            "mixed dtype (CPU): expect parameter to have scalar type of {}",
            scalar_type_name(x.dtype())
        );
    }
    Ok(())
}

/// The normalized input, mean and rstd in tensor ops (the device forward, and the
/// `create_graph` backward, which differentiates through them).
pub(crate) fn normalized(x: &Tensor, k: usize, eps: f64) -> Result<(Tensor, Tensor, Tensor)> {
    let dims = norm_dims(k);
    let mean = x.mean(Some(&dims), true, None)?;
    let xmu = x.sub(&mean)?;
    let var = xmu.mul(&xmu)?.mean(Some(&dims), true, None)?;
    let rstd = var.add_scalar(eps)?.unary(UnaryOp::Rsqrt)?;
    Ok((xmu.mul(&rstd)?, mean, rstd))
}

fn cpu_forward(
    x: &Tensor,
    k: usize,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    if x.dtype().is_reduced_float() {
        // In float32 (as PyTorch): the output rounded to the input's dtype, the statistics
        // kept in float32 for the backward.
        use crate::ops::opmath::{narrow, widen, widen_opt};
        let (w, b) = (widen_opt(weight)?, widen_opt(bias)?);
        let (y, m, r) = cpu_forward(&widen(x)?, k, w.as_ref(), b.as_ref(), eps)?;
        return Ok((narrow(y, x.dtype())?, m, r));
    }
    let n: usize = x.shape()[x.ndim() - k..].iter().product();
    let (xd, wd, bd) = (dense(x)?, weight.map(dense).transpose()?, bias.map(dense).transpose()?);
    let st = stats_shape(x, k);
    macro_rules! go {
        ($T:ty) => {{
            let (y, m, r) = crate::cpu::layer_norm::layer_norm_forward::<$T>(
                slice_of(&xd),
                n,
                wd.as_ref().map(slice_of),
                bd.as_ref().map(slice_of),
                eps,
            )?;
            (Tensor::from_vec(y, x.shape()), Tensor::from_vec(m, &st), Tensor::from_vec(r, &st))
        }};
    }
    Ok(match x.dtype() {
        DType::F32 => go!(f32),
        _ => go!(f64),
    })
}

fn device_forward(
    x: &Tensor,
    k: usize,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let _no_grad = GradModeGuard::new(false);
    let (mut y, mean, rstd) = normalized(&x.detach(), k, eps)?;
    if let Some(w) = weight {
        y = y.mul(&w.detach())?;
    }
    if let Some(b) = bias {
        y = y.add(&b.detach())?;
    }
    Ok((y, mean, rstd))
}

impl Tensor {
    /// `native_layer_norm(input, normalized_shape, weight, bias, eps)`: the output, and the
    /// mean and inverse standard deviation of each normalized row (shaped as the input's
    /// leading dims followed by ones).
    pub fn native_layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let x = self;
        check_args(x, normalized_shape, weight, bias)?;
        let mut inputs = vec![x];
        inputs.extend(weight);
        inputs.extend(bias);
        crate::ops::common_device(&inputs)?;
        let k = normalized_shape.len();
        // Empty inputs take the tensor-op path too (their rows may have no elements).
        let (out, mean, rstd) = if x.is_gpu() || x.numel() == 0 {
            device_forward(x, k, weight, bias, eps)?
        } else {
            cpu_forward(x, k, weight, bias, eps)?
        };
        if needs_grad(&inputs) {
            let spec = LayerNormSpec {
                normalized: normalized_shape.to_vec(),
                eps,
                has_weight: weight.is_some(),
                has_bias: bias.is_some(),
            };
            let op = Op::LayerNorm {
                x: Saved::input(x),
                weight: weight.map(Saved::input),
                mean: mean.clone(),
                rstd: rstd.clone(),
                spec: Arc::new(spec),
            };
            record("NativeLayerNormBackward0", op, &inputs, &[&out]);
        }
        Ok((out, mean, rstd))
    }
}

/// The gradients `[input, weight, bias]` of a layer normalization for the output gradient
/// `g`, each where `need` asks, in one fused pass on the CPU (no history).
pub(crate) fn layer_norm_backward(
    g: &Tensor,
    x: &Tensor,
    weight: Option<&Tensor>,
    mean: &Tensor,
    rstd: &Tensor,
    spec: &LayerNormSpec,
    need: [bool; 3],
) -> Result<[Option<Tensor>; 3]> {
    let dt = x.dtype();
    if x.is_gpu() || x.numel() == 0 {
        let _no_grad = GradModeGuard::new(false);
        return layer_norm_backward_composite(g, x, weight, spec, need);
    }
    if dt.is_reduced_float() || weight.is_some_and(|w| w.dtype().is_reduced_float()) {
        use crate::ops::opmath::{narrow, widen, widen_opt};
        let w = widen_opt(weight)?;
        let (m, r) = (widen(mean)?, widen(rstd)?);
        let [dx, dw, db] = layer_norm_backward(&widen(g)?, &widen(x)?, w.as_ref(), &m, &r, spec, need)?;
        let wdt = weight.map_or(dt, |w| w.dtype());
        return Ok([
            dx.map(|t| narrow(t, dt)).transpose()?,
            dw.map(|t| narrow(t, wdt)).transpose()?,
            db.map(|t| narrow(t, wdt)).transpose()?,
        ]);
    }
    let n: usize = spec.normalized.iter().product();
    let (gd, xd) = (dense(&g.to_dtype(dt)?)?, dense(x)?);
    let (md, rd, wd) = (dense(mean)?, dense(rstd)?, weight.map(dense).transpose()?);
    let vec_t = |v: Vec<f64>| -> Result<Tensor> { Tensor::from_vec(v, &spec.normalized).to_dtype(dt) };
    macro_rules! go {
        ($T:ty) => {{
            let (dx, dw, db) = crate::cpu::layer_norm::layer_norm_backward::<$T>(
                slice_of(&gd),
                slice_of(&xd),
                n,
                slice_of(&md),
                slice_of(&rd),
                wd.as_ref().map(slice_of),
                need,
            )?;
            [
                dx.map(|v| Tensor::from_vec(v, x.shape())),
                dw.map(vec_t).transpose()?,
                db.map(vec_t).transpose()?,
            ]
        }};
    }
    Ok(match dt {
        DType::F32 => go!(f32),
        _ => go!(f64),
    })
}

/// The same gradients in tensor ops, recomputing the statistics from `x` so that they are
/// differentiated too: with `xhat` the normalized input and `gw = g * w`,
/// `dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))`, `dw = sum(g * xhat)`,
/// `db = sum(g)` (sums over the leading dims).
pub(crate) fn layer_norm_backward_composite(
    g: &Tensor,
    x: &Tensor,
    weight: Option<&Tensor>,
    spec: &LayerNormSpec,
    need: [bool; 3],
) -> Result<[Option<Tensor>; 3]> {
    let k = spec.normalized.len();
    let dims = norm_dims(k);
    let (xhat, _, rstd) = normalized(x, k, spec.eps)?;
    let gx = if need[0] {
        let gw = match weight {
            Some(w) => g.mul(w)?,
            None => g.clone(),
        };
        let a = gw.mean(Some(&dims), true, None)?;
        let c = gw.mul(&xhat)?.mean(Some(&dims), true, None)?;
        Some(rstd.mul(&gw.sub(&a)?.sub(&xhat.mul(&c)?)?)?)
    } else {
        None
    };
    let gw = if need[1] { Some(g.mul(&xhat)?.sum_to_shape(&spec.normalized)?) } else { None };
    let gb = if need[2] { Some(g.sum_to_shape(&spec.normalized)?) } else { None };
    Ok([gx, gw, gb])
}
