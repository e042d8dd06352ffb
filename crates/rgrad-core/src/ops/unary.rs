//! Unary elementwise ops, dtype casts and copies.

use super::arith::Arith;
use crate::autograd::{recorded, Op, Saved, UnaryGrad};
use crate::bail;
use crate::cpu::elementwise::map;
use crate::cpu::special;
use crate::error::Result;
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::{with_dtype, DType};
use num_traits::Float;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UnaryOp {
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sigmoid,
    Log1p,
    Expm1,
    Reciprocal,
    Floor,
    Ceil,
    Round,
    Trunc,
    Erf,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Asinh,
    Acosh,
    Atanh,
    Log2,
    Log10,
    Exp2,
    Erfinv,
    Lgamma,
    Digamma,
    Trigamma,
    /// psi''(x), `polygamma(2, x)`: the derivative of trigamma (no binding of its own, as
    /// trigamma: both are reached through digamma's derivatives).
    Tetragamma,
    Frac,
    Sinc,
}

impl UnaryOp {
    /// The op as a WGSL expression of `a` (a float), for the wgpu backend's generated kernels.
    pub fn wgsl(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Exp => "exp(a)",
            Log => "log(a)",
            Sqrt => "sqrt(a)",
            Rsqrt => "inverseSqrt(a)",
            Sin => "rg_sinf(a)",
            Cos => "rg_cosf(a)",
            Tan => "rg_tanf(a)",
            Tanh => "rg_tanh(a)",
            Sigmoid => "rg_sigmoid(a)",
            Log1p => "rg_log1p(a)",
            Expm1 => "rg_expm1(a)",
            Reciprocal => "1.0 / a",
            Floor => "floor(a)",
            Ceil => "ceil(a)",
            Round => "round(a)",
            Trunc => "trunc(a)",
            Erf => "rg_erf(a)",
            Asin => "rg_asin(a)",
            Acos => "rg_acos(a)",
            Atan => "rg_atan(a)",
            Sinh => "rg_sinh(a)",
            Cosh => "rg_cosh(a)",
            Asinh => "rg_asinh(a)",
            Acosh => "rg_acosh(a)",
            Atanh => "rg_atanh(a)",
            Log2 => "log2(a)",
            Log10 => "log(a) * 0.4342944819032518",
            Exp2 => "exp2(a)",
            Erfinv => "rg_erfinv(a)",
            Lgamma => "rg_lgamma(a)",
            Digamma => "rg_digamma(a)",
            Trigamma => "rg_trigamma(a)",
            Tetragamma => "rg_tetragamma(a)",
            Frac => "a - trunc(a)",
            Sinc => "rg_sinc(a)",
        }
    }
}

/// `expr(a)` over `x` on the wgpu device, computed in `x`'s dtype.
fn gpu_map(x: &Tensor, expr: &str, out: DType) -> Result<Tensor> {
    crate::gpu::map(&[crate::gpu::Input::of(x, x.dtype())], expr, out, x.shape(), out)
}

fn float_map<T: Float + Element>(op: UnaryOp, x: &Tensor) -> Result<Vec<T>> {
    use UnaryOp::*;
    let (s, l) = (x.storage_slice::<T>(), x.layout());
    let one = T::one();
    match op {
        Exp => map(s, l, |v: T| v.exp()),
        Log => map(s, l, |v: T| v.ln()),
        Sqrt => map(s, l, |v: T| v.sqrt()),
        Rsqrt => map(s, l, |v: T| one / v.sqrt()),
        Sin => map(s, l, |v: T| v.sin()),
        Cos => map(s, l, |v: T| v.cos()),
        Tan => map(s, l, |v: T| v.tan()),
        Tanh => map(s, l, |v: T| v.tanh()),
        Sigmoid => map(s, l, |v: T| one / (one + (-v).exp())),
        Log1p => map(s, l, |v: T| v.ln_1p()),
        Expm1 => map(s, l, |v: T| v.exp_m1()),
        Reciprocal => map(s, l, |v: T| one / v),
        Floor => map(s, l, |v: T| v.floor()),
        Ceil => map(s, l, |v: T| v.ceil()),
        Round => map(s, l, |v: T| {
            // Round half to even, as PyTorch does.
            let r = v.round();
            if (v - v.trunc()).abs() == T::from(0.5).unwrap() {
                (v / T::from(2.0).unwrap()).round() * T::from(2.0).unwrap()
            } else {
                r
            }
        }),
        Trunc => map(s, l, |v: T| v.trunc()),
        Erf => map(s, l, |v: T| T::from_f64(libm::erf(v.to_f64()))),
        Asin => map(s, l, |v: T| v.asin()),
        Acos => map(s, l, |v: T| v.acos()),
        Atan => map(s, l, |v: T| v.atan()),
        Sinh => map(s, l, |v: T| v.sinh()),
        Cosh => map(s, l, |v: T| v.cosh()),
        Asinh => map(s, l, |v: T| v.asinh()),
        Acosh => map(s, l, |v: T| v.acosh()),
        Atanh => map(s, l, |v: T| v.atanh()),
        Log2 => map(s, l, |v: T| v.log2()),
        Log10 => map(s, l, |v: T| v.log10()),
        Exp2 => map(s, l, |v: T| v.exp2()),
        Erfinv => map(s, l, |v: T| T::from_f64(special::erfinv(v.to_f64()))),
        Lgamma => map(s, l, |v: T| T::from_f64(libm::lgamma(v.to_f64()))),
        Digamma => map(s, l, |v: T| T::from_f64(special::digamma(v.to_f64()))),
        Trigamma => map(s, l, |v: T| T::from_f64(special::trigamma(v.to_f64()))),
        Tetragamma => map(s, l, |v: T| T::from_f64(special::tetragamma(v.to_f64()))),
        Frac => map(s, l, |v: T| v - v.trunc()),
        Sinc => map(s, l, |v: T| {
            if v == T::zero() {
                one
            } else {
                let p = v * T::from_f64(std::f64::consts::PI);
                p.sin() / p
            }
        }),
    }
}

/// The SIMD-friendly float32 kernels (exp, sigmoid, tanh, log and erf on contiguous data).
fn fast_f32(op: UnaryOp, x: &Tensor) -> Option<Result<Vec<f32>>> {
    let f: fn(&[f32]) -> Result<Vec<f32>> = match op {
        UnaryOp::Exp => crate::cpu::math::exp_f32,
        UnaryOp::Sigmoid => crate::cpu::math::sigmoid_f32,
        UnaryOp::Tanh => crate::cpu::math::tanh_f32,
        UnaryOp::Log => crate::cpu::math::log_f32,
        UnaryOp::Erf => crate::cpu::gelu::erf_f32,
        _ => return None,
    };
    if !x.is_contiguous() || x.numel() == 0 {
        return None;
    }
    let off = x.layout().offset;
    Some(f(&x.storage_slice::<f32>()[off..off + x.numel()]))
}

fn unary_name(op: UnaryOp) -> &'static str {
    use UnaryOp::*;
    match op {
        Exp => "ExpBackward0",
        Log => "LogBackward0",
        Sqrt => "SqrtBackward0",
        Rsqrt => "RsqrtBackward0",
        Sin => "SinBackward0",
        Cos => "CosBackward0",
        Tan => "TanBackward0",
        Tanh => "TanhBackward0",
        Sigmoid => "SigmoidBackward0",
        Log1p => "Log1pBackward0",
        Expm1 => "Expm1Backward0",
        Reciprocal => "ReciprocalBackward0",
        Floor => "FloorBackward0",
        Ceil => "CeilBackward0",
        Round => "RoundBackward0",
        Trunc => "TruncBackward0",
        Erf => "ErfBackward0",
        Asin => "AsinBackward0",
        Acos => "AcosBackward0",
        Atan => "AtanBackward0",
        Sinh => "SinhBackward0",
        Cosh => "CoshBackward0",
        Asinh => "AsinhBackward0",
        Acosh => "AcoshBackward0",
        Atanh => "AtanhBackward0",
        Log2 => "Log2Backward0",
        Log10 => "Log10Backward0",
        Exp2 => "Exp2Backward0",
        Erfinv => "ErfinvBackward0",
        Lgamma => "LgammaBackward0",
        Digamma => "DigammaBackward0",
        Trigamma | Tetragamma => "PolygammaBackward0",
        Frac => "FracBackward0",
        Sinc => "SincBackward0",
    }
}

impl Tensor {
    /// A float unary op; integer inputs compute in float32 (as `torch.exp(int_tensor)`).
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        let rounding = matches!(op, UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round | UnaryOp::Trunc);
        if rounding && !self.dtype().is_float() {
            return self.cast_kernel(self.dtype());
        }
        if op == UnaryOp::Frac && !self.dtype().is_float() {
            bail!(
                Runtime,
                "\"frac_cpu\" not implemented for '{}'",
                super::inplace::scalar_type_name(self.dtype())
            );
        }
        let x = if self.dtype().is_float() { self.clone() } else { self.cast_kernel(DType::F32)? };
        let out = x.float_unary_kernel(op)?;
        let name = unary_name(op);
        Ok(recorded(out.clone(), name, &[self], || {
            if rounding {
                return Op::Scale(0.0);
            }
            if op == UnaryOp::Frac {
                return Op::Scale(1.0);
            }
            Op::Unary { f: UnaryGrad::from(op), x: Saved::input(self), out: Saved::output(&out, name) }
        }))
    }

    /// `op` over a float tensor, without recording autograd.
    pub(crate) fn float_unary_kernel(&self, op: UnaryOp) -> Result<Tensor> {
        if let Some(out) = super::opmath::unary(self, |w| w.float_unary_kernel(op))? {
            return Ok(out);
        }
        Ok(match self.dtype() {
            _ if self.is_gpu() => gpu_map(self, op.wgsl(), self.dtype())?,
            DType::F32 => match fast_f32(op, self) {
                Some(v) => Tensor::from_vec(v?, self.shape()),
                None => Tensor::from_vec(float_map::<f32>(op, self)?, self.shape()),
            },
            _ => Tensor::from_vec(float_map::<f64>(op, self)?, self.shape()),
        })
    }

    pub fn exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp)
    }
    pub fn log(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Log)
    }
    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt)
    }
    pub fn sin(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sin)
    }
    pub fn cos(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Cos)
    }
    pub fn tanh(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Tanh)
    }
    pub fn sigmoid(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sigmoid)
    }

    pub fn neg(&self) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            bail!(
                Runtime,
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
            );
        }
        let out = if self.is_gpu() {
            gpu_map(self, "-a", self.dtype())?
        } else {
            with_dtype!(self.dtype(), T => Tensor::from_vec(map(self.storage_slice::<T>(), self.layout(), |v: T| v.neg())?, self.shape()))
        };
        Ok(recorded(out, "NegBackward0", &[self], || Op::Scale(-1.0)))
    }

    pub fn abs(&self) -> Result<Tensor> {
        let out = if self.is_gpu() {
            gpu_map(self, if self.dtype() == DType::Bool { "a" } else { "abs(a)" }, self.dtype())?
        } else {
            with_dtype!(self.dtype(), T => Tensor::from_vec(map(self.storage_slice::<T>(), self.layout(), |v: T| super::arith::Arith::abs(v))?, self.shape()))
        };
        Ok(recorded(out, "AbsBackward0", &[self], || Op::Unary {
            f: UnaryGrad::Abs,
            x: Saved::input(self),
            out: Saved::input(self),
        }))
    }

    /// `sign(x)`; not differentiable (its derivative is zero almost everywhere).
    pub fn sign(&self) -> Result<Tensor> {
        if self.is_gpu() {
            // (a > 0) - (a < 0), as the CPU and PyTorch: 0 for NaN and for -0.0.
            let z = format!("{}(0)", crate::gpu::wgsl::value_type(self.dtype()));
            let t = crate::gpu::wgsl::value_type(self.dtype());
            let expr = if self.dtype() == DType::Bool {
                "a".to_string()
            } else {
                // Integer arithmetic then one conversion: a float select of 0 may come out -0.0.
                format!("{t}(select(0, 1, a > {z}) - select(0, 1, a < {z}))")
            };
            return gpu_map(self, &expr, self.dtype());
        }
        Ok(
            with_dtype!(self.dtype(), T => Tensor::from_vec(map(self.storage_slice::<T>(), self.layout(), |v: T| v.sign())?, self.shape())),
        )
    }

    pub fn relu(&self) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            bail!(Runtime, "\"clamp_min_scalar_cpu\" not implemented for 'Bool'");
        }
        let out = if self.is_gpu() {
            // As PyTorch: NaN and -0.0 pass through (only values below zero become zero).
            let zero = format!("{}(0)", crate::gpu::wgsl::value_type(self.dtype()));
            gpu_map(self, &format!("select(a, {zero}, a < {zero})"), self.dtype())?
        } else {
            with_dtype!(self.dtype(), T => {
                let zero = T::default();
                Tensor::from_vec(map(self.storage_slice::<T>(), self.layout(), |v: T| if v < zero { zero } else { v })?, self.shape())
            })
        };
        Ok(recorded(out.clone(), "ReluBackward0", &[self], || Op::Unary {
            f: UnaryGrad::Relu,
            x: Saved::input(self),
            out: Saved::output(&out, "ReluBackward0"),
        }))
    }

    /// relu's input gradient in one pass: 0 where `self` (relu's output) is at most 0, else `g`
    /// (PyTorch's `threshold_backward`: a NaN output passes the gradient, an infinite gradient
    /// stays out of the zeroed places); None where the shapes or dtypes differ (the rule's
    /// composite handles those). No history.
    pub(crate) fn relu_backward_kernel(&self, g: &Tensor) -> Result<Option<Tensor>> {
        if g.dtype() != self.dtype() || g.shape() != self.shape() || !g.dtype().is_float() {
            return Ok(None);
        }
        if g.is_gpu() {
            let dt = g.dtype();
            let zero = format!("{}(0)", crate::gpu::wgsl::value_type(dt));
            let inputs = [crate::gpu::Input::of(g, dt), crate::gpu::Input::of(self, dt)];
            let expr = format!("select(a, {zero}, b <= {zero})");
            return Ok(Some(crate::gpu::map(&inputs, &expr, dt, g.shape(), dt)?));
        }
        let out = with_dtype!(g.dtype(), T => {
            let zero = T::default();
            let v = crate::cpu::elementwise::zip(
                g.storage_slice::<T>(),
                g.layout(),
                self.storage_slice::<T>(),
                self.layout(),
                |a: T, o: T| if o <= zero { zero } else { a },
            )?;
            Tensor::from_vec(v, g.shape())
        });
        Ok(Some(out))
    }

    /// `clamp(min, max)` (either bound optional).
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        if min.is_none() && max.is_none() {
            bail!(Runtime, "torch.clamp: At least one of 'min' or 'max' must not be None");
        }
        let (lo, hi) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
        let out = if self.is_gpu() {
            use crate::gpu::Input;
            let dt = self.dtype();
            let lo = if dt.is_float() {
                crate::Scalar::Float(lo)
            } else {
                crate::Scalar::Int(lo.max(-9.2e18) as i64)
            };
            let hi = if dt.is_float() {
                crate::Scalar::Float(hi)
            } else {
                crate::Scalar::Int(hi.min(9.2e18) as i64)
            };
            let y = if min.is_some() { "select(a, b, a < b)" } else { "a" };
            let expr = if max.is_some() { format!("select({y}, c, {y} > c)") } else { y.to_string() };
            let inputs = [
                Input::of(self, dt),
                Input::Scalar { value: lo, dtype: dt },
                Input::Scalar { value: hi, dtype: dt },
            ];
            crate::gpu::map(&inputs, &expr, dt, self.shape(), dt)?
        } else {
            with_dtype!(self.dtype(), T => {
                let (l, h) = (T::from_f64(lo), T::from_f64(hi));
                // A missing bound is infinite (the integer casts saturate), so no compare
                // picks it: one branch-free select per bound.
                let v = map(self.storage_slice::<T>(), self.layout(), move |x: T| {
                    let y = if x < l { l } else { x };
                    if y > h { h } else { y }
                })?;
                Tensor::from_vec(v, self.shape())
            })
        };
        let name = match (min, max) {
            (Some(_), Some(_)) => "ClampBackward1",
            (Some(_), None) => "ClampMinBackward0",
            _ => "ClampMaxBackward0",
        };
        Ok(recorded(out, name, &[self], || Op::Clamp { x: Saved::input(self), min, max }))
    }

    /// A contiguous copy converted to `dtype`, with no autograd.
    pub fn cast_kernel(&self, dtype: DType) -> Result<Tensor> {
        if self.is_gpu() {
            return crate::gpu::map(&[crate::gpu::Input::of(self, dtype)], "a", dtype, self.shape(), dtype);
        }
        if let Some(out) = super::opmath::fast_cast(self, dtype)? {
            return Ok(out);
        }
        Ok(with_dtype!(dtype, U => {
            let v: Vec<U> = self.try_to_vec::<U>()?;
            Tensor::from_vec(v, self.shape())
        }))
    }

    /// `tensor.to(dtype)`: returns `self` when the dtype already matches.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let out = self.cast_kernel(dtype)?;
        if !dtype.is_float() {
            return Ok(out);
        }
        let from = self.dtype();
        Ok(recorded(out, "ToCopyBackward0", &[self], || Op::Cast { from }))
    }

    /// `tensor.to(device)`: `self` when already there, else a copy that keeps history.
    pub fn to_device(&self, device: crate::Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        let out = self.to_device_kernel(device)?;
        let from = self.device();
        Ok(recorded(out, "ToCopyBackward0", &[self], || Op::ToDevice { from }))
    }

    /// `clone()`: a contiguous copy that keeps history.
    pub fn clone_tensor(&self) -> Result<Tensor> {
        let out = self.cast_kernel(self.dtype())?;
        Ok(recorded(out, "CloneBackward0", &[self], || Op::Scale(1.0)))
    }

    /// `contiguous()`: `self` when already contiguous, else a recorded copy.
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        self.clone_tensor()
    }
}
