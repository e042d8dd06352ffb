//! `gelu` as one op (PyTorch's `aten::gelu`, exact or tanh form): one fused pass forwards
//! (cpu/gelu.rs, or one generated map on the wgpu device), recorded as `GeluBackward0`, whose
//! rule runs the fused derivative kernel, or under `create_graph` the same derivative in tensor
//! ops (so double backward works).

use crate::autograd::{recorded, Op, Saved};
use crate::bail;
use crate::error::Result;
use crate::ops::inplace::scalar_type_name;
use crate::ops::unary::UnaryOp;
use crate::tensor::Tensor;
use crate::DType;

/// sqrt(1/2), 1/sqrt(2 pi), sqrt(2/pi) and the tanh form's cubic coefficient, as WGSL text.
const W_SQRT_HALF: &str = "0.7071067811865476";
const W_INV_SQRT_2PI: &str = "0.3989422804014327";
const W_BETA: &str = "0.7978845608028654";
const W_KAPPA: &str = "0.044715";

/// `t` as one contiguous run of its dtype (copied only when strided).
fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        t.cast_kernel(t.dtype())
    }
}

fn slice_of<T: crate::Element>(t: &Tensor) -> &[T] {
    &t.storage_slice::<T>()[t.layout().offset..][..t.numel()]
}

/// The forward values, without autograd.
fn gelu_kernel(x: &Tensor, tanh: bool) -> Result<Tensor> {
    if x.is_gpu() {
        let expr = if tanh {
            format!("0.5 * a * (1.0 + rg_tanh({W_BETA} * (a + {W_KAPPA} * a * a * a)))")
        } else {
            format!("a * 0.5 * (1.0 + rg_erf(a * {W_SQRT_HALF}))")
        };
        let dt = x.dtype();
        return crate::gpu::map(&[crate::gpu::Input::of(x, dt)], &expr, dt, x.shape(), dt);
    }
    if let Some(out) = crate::ops::opmath::unary(x, |w| gelu_kernel(w, tanh))? {
        return Ok(out);
    }
    let xd = dense(x)?;
    Ok(match x.dtype() {
        DType::F32 => Tensor::from_vec(crate::cpu::gelu::gelu_f32(slice_of(&xd), tanh)?, x.shape()),
        _ => Tensor::from_vec(crate::cpu::gelu::gelu_f64(slice_of(&xd), tanh)?, x.shape()),
    })
}

/// `g * gelu'(x)` in one fused pass, without autograd (the rule's kernel).
pub(crate) fn gelu_backward(g: &Tensor, x: &Tensor, tanh: bool) -> Result<Tensor> {
    let dt = x.dtype();
    let g = if g.dtype() == dt { g.clone() } else { g.to_dtype(dt)?.detach() };
    let g = if g.shape() == x.shape() {
        g
    } else {
        g.expand(&x.shape().iter().map(|&d| d as i64).collect::<Vec<_>>())?
    };
    if x.is_gpu() {
        let expr = if tanh {
            let th = format!("rg_tanh({W_BETA} * (b + {W_KAPPA} * b * b * b))");
            format!(
                "a * (0.5 * (1.0 + {th}) + 0.5 * b * (1.0 - {th} * {th}) * ({W_BETA} * (1.0 + 3.0 * {W_KAPPA} * b * b)))"
            )
        } else {
            format!(
                "a * (0.5 * (1.0 + rg_erf(b * {W_SQRT_HALF})) + b * {W_INV_SQRT_2PI} * exp(-0.5 * b * b))"
            )
        };
        let inputs = [crate::gpu::Input::of(&g, dt), crate::gpu::Input::of(x, dt)];
        return crate::gpu::map(&inputs, &expr, dt, x.shape(), dt);
    }
    if let Some(out) = crate::ops::opmath::many([&g, x], |[g, x]| gelu_backward(g, x, tanh))? {
        return Ok(out);
    }
    let (gd, xd) = (dense(&g)?, dense(x)?);
    Ok(match dt {
        DType::F32 => Tensor::from_vec(
            crate::cpu::gelu::gelu_backward_f32(slice_of(&gd), slice_of(&xd), tanh)?,
            x.shape(),
        ),
        _ => Tensor::from_vec(
            crate::cpu::gelu::gelu_backward_f64(slice_of(&gd), slice_of(&xd), tanh)?,
            x.shape(),
        ),
    })
}

/// `g * gelu'(x)` in tensor ops, recorded (for `create_graph`).
pub(crate) fn gelu_backward_composite(g: &Tensor, x: &Tensor, tanh: bool) -> Result<Tensor> {
    let d = if tanh {
        const BETA: f64 = 0.797_884_560_802_865_4;
        const KAPPA: f64 = 0.044_715;
        let x2 = x.mul(x)?;
        let th = x.add(&x2.mul(x)?.mul_scalar(KAPPA)?)?.mul_scalar(BETA)?.tanh()?;
        let left = th.add_scalar(1.0)?.mul_scalar(0.5)?;
        let right = x.mul_scalar(0.5)?.mul(&th.mul(&th)?.rsub_scalar(1.0)?)?;
        left.add(&right.mul(&x2.mul_scalar(3.0 * KAPPA)?.add_scalar(1.0)?.mul_scalar(BETA)?)?)?
    } else {
        let cdf = x
            .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)?
            .unary(UnaryOp::Erf)?
            .add_scalar(1.0)?
            .mul_scalar(0.5)?;
        let pdf = x.mul(x)?.mul_scalar(-0.5)?.exp()?.mul_scalar(0.398_942_280_401_432_7)?;
        cdf.add(&x.mul(&pdf)?)?
    };
    g.mul(&d)
}

impl Tensor {
    /// `gelu(approximate)`: `x * Phi(x)` (`"none"`) or its tanh approximation (`"tanh"`).
    pub fn gelu(&self, approximate: &str) -> Result<Tensor> {
        let tanh = match approximate {
            "none" => false,
            "tanh" => true,
            _ => bail!(Runtime, "approximate argument must be either none or tanh."),
        };
        if !self.dtype().is_float() {
            bail!(
                NotImplemented,
                "\"GeluKernelImpl\" not implemented for '{}'",
                scalar_type_name(self.dtype())
            );
        }
        let out = gelu_kernel(self, tanh)?;
        Ok(recorded(out, "GeluBackward0", &[self], || Op::Gelu { x: Saved::input(self), tanh }))
    }
}
