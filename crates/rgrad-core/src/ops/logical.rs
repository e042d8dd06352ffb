//! NaN tests, logical and bitwise ops, `isclose` and `equal`. None is differentiable. On the
//! wgpu device each is one generated map; NaN is always found in the bit pattern
//! (`rg_isnan`), since shader compilers may fold `x != x` to false.

use crate::bail;
use crate::cpu::elementwise::{map, zip};
use crate::cpu::logical::{bool_zip, Bits};
use crate::error::Result;
use crate::gpu::Input;
use crate::ops::binary::Operand;
use crate::ops::inplace::scalar_type_name;
use crate::shape::broadcast_shapes;
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::{with_dtype, BinaryOp, DType, ResultType, Scalar};
use num_traits::Float;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FloatTest {
    IsNan,
    IsInf,
    IsPosInf,
    IsNegInf,
    IsFinite,
}

impl FloatTest {
    fn wgsl(self) -> &'static str {
        match self {
            FloatTest::IsNan => "rg_isnan(a)",
            FloatTest::IsInf => "rg_isinf(a)",
            FloatTest::IsPosInf => "rg_isinf(a) && !rg_signbit(a)",
            FloatTest::IsNegInf => "rg_isinf(a) && rg_signbit(a)",
            FloatTest::IsFinite => "!(rg_isnan(a) || rg_isinf(a))",
        }
    }

    fn test<T: Float>(self, v: T) -> bool {
        match self {
            FloatTest::IsNan => v.is_nan(),
            FloatTest::IsInf => v.is_infinite(),
            FloatTest::IsPosInf => v == T::infinity(),
            FloatTest::IsNegInf => v == T::neg_infinity(),
            FloatTest::IsFinite => v.is_finite(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LogicalOp {
    And,
    Or,
    Xor,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BitwiseOp {
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

impl BitwiseOp {
    fn kernel_name(self) -> &'static str {
        match self {
            BitwiseOp::And => "bitwise_and_cpu",
            BitwiseOp::Or => "bitwise_or_cpu",
            BitwiseOp::Xor => "bitwise_xor_cpu",
            BitwiseOp::Shl => "lshift_cpu",
            BitwiseOp::Shr => "rshift_cpu",
        }
    }

    /// The op in WGSL over integers of `bits` bits (bools compute as i32 0/1).
    fn wgsl(self, bits: u32) -> String {
        let m = bits - 1;
        match self {
            BitwiseOp::And => "a & b".into(),
            BitwiseOp::Or => "a | b".into(),
            BitwiseOp::Xor => "a ^ b".into(),
            // WGSL takes a shift amount modulo the width: out-of-range amounts are selected away.
            BitwiseOp::Shl => format!("select(a << (u32(b) & {m}u), a - a, b < 0 || b >= {bits})"),
            BitwiseOp::Shr => {
                format!("select(a >> (u32(b) & {m}u), select(a - a, a - a - 1, a < 0), b < 0 || b >= {bits})")
            }
        }
    }
}

fn result_dtype(a: &Operand, b: &Operand) -> DType {
    let add = |r: ResultType, o: &Operand| match o {
        Operand::T(t) => r.tensor(t.dtype(), t.ndim()),
        Operand::S(s) => r.scalar(*s),
    };
    add(add(ResultType::default(), a), b).result()
}

fn shape_of(o: &Operand) -> Vec<usize> {
    match o {
        Operand::T(t) => t.shape().to_vec(),
        Operand::S(_) => Vec::new(),
    }
}

fn is_gpu(o: &Operand) -> bool {
    matches!(o, Operand::T(t) if t.is_gpu())
}

/// `(x != 0)` of each element of `t` as a bool buffer in `t`'s (broadcast) order.
fn truth(t: &Tensor) -> Result<Tensor> {
    if t.dtype() == DType::Bool {
        return Ok(t.clone());
    }
    with_dtype!(t.dtype(), T => {
        let v = map(t.storage_slice::<T>(), t.layout(), |x: T| x.is_nonzero())?;
        Ok(Tensor::from_vec(v, t.shape()))
    })
}

/// A WGSL test that `name` (of dtype `dt`) is nonzero; NaN is nonzero.
fn gpu_truth(name: char, dt: DType) -> String {
    if dt.is_float() {
        format!("(({name} != 0) || rg_isnan({name}))")
    } else {
        format!("({name} != 0)")
    }
}

/// `(x != 0)` of a device tensor, as a bool tensor.
fn gpu_mask(t: &Tensor) -> Result<Tensor> {
    if t.dtype() == DType::Bool {
        return Ok(t.clone());
    }
    let expr = gpu_truth('a', t.dtype());
    crate::gpu::map(&[Input::of(t, t.dtype())], &expr, DType::Bool, t.shape(), DType::Bool)
}

/// `f` over two bool tensors broadcast to `shape`.
fn bool_pair(
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    f: impl Fn(bool, bool) -> bool + Sync + Copy,
) -> Result<Tensor> {
    // The hot case: two contiguous masks of one shape, a byte-wise loop.
    if a.is_contiguous() && b.is_contiguous() && a.shape() == b.shape() {
        let n = a.numel();
        let (oa, ob) = (a.layout().offset, b.layout().offset);
        let sa = &a.storage_slice::<bool>()[oa..oa + n];
        let sb = &b.storage_slice::<bool>()[ob..ob + n];
        return Ok(Tensor::from_vec(bool_zip(sa, sb, f)?, shape));
    }
    let (la, lb) = (a.layout().broadcast_to(shape)?, b.layout().broadcast_to(shape)?);
    let v = zip(a.storage_slice::<bool>(), &la, b.storage_slice::<bool>(), &lb, f)?;
    Ok(Tensor::from_vec(v, shape))
}

fn gpu_compute_type(dt: DType) -> DType {
    if dt == DType::Bool {
        DType::I32
    } else {
        dt
    }
}

impl Tensor {
    /// `isnan`, `isinf`, `isposinf`, `isneginf`, `isfinite`: all false (true for isfinite)
    /// for integer and bool tensors.
    pub fn float_test(&self, t: FloatTest) -> Result<Tensor> {
        if !self.dtype().is_float() {
            return Tensor::full_on(
                self.shape(),
                Scalar::Bool(t == FloatTest::IsFinite),
                DType::Bool,
                self.device(),
            );
        }
        if self.is_gpu() {
            let inputs = [Input::of(self, self.dtype())];
            return crate::gpu::map(&inputs, t.wgsl(), DType::Bool, self.shape(), DType::Bool);
        }
        if let Some(out) = crate::ops::opmath::unary(self, |w| w.float_test(t))? {
            return Ok(out);
        }
        let v = match self.dtype() {
            DType::F32 => map(self.storage_slice::<f32>(), self.layout(), |x: f32| t.test(x))?,
            _ => map(self.storage_slice::<f64>(), self.layout(), |x: f64| t.test(x))?,
        };
        Ok(Tensor::from_vec(v, self.shape()))
    }

    /// `logical_and` / `logical_or` / `logical_xor`: bool results of any dtypes, broadcast.
    pub fn logical(&self, op: LogicalOp, other: &Tensor) -> Result<Tensor> {
        let shape = broadcast_shapes(self.shape(), other.shape())?;
        if self.is_gpu() || other.is_gpu() {
            crate::ops::common_device(&[self, other])?;
            // One kernel holds the helpers of one float and one int type at most: operands of
            // different dtypes are made masks first.
            let (a, b) = if self.dtype() == other.dtype() {
                (self.clone(), other.clone())
            } else {
                (gpu_mask(self)?, gpu_mask(other)?)
            };
            let (ta, tb) = (gpu_compute_type(a.dtype()), gpu_compute_type(b.dtype()));
            let inputs = [Input::broadcast(&a, &shape, ta)?, Input::broadcast(&b, &shape, tb)?];
            let (x, y) = (gpu_truth('a', ta), gpu_truth('b', tb));
            let expr = match op {
                LogicalOp::And => format!("{x} && {y}"),
                LogicalOp::Or => format!("{x} || {y}"),
                LogicalOp::Xor => format!("{x} != {y}"),
            };
            return crate::gpu::map(&inputs, &expr, DType::Bool, &shape, DType::Bool);
        }
        let (a, b) = (truth(self)?, truth(other)?);
        // One monomorphized loop per op (a closure chosen at run time would be a function
        // pointer: an indirect call per element, no vectorization).
        match op {
            LogicalOp::And => bool_pair(&a, &b, &shape, |x: bool, y: bool| x & y),
            LogicalOp::Or => bool_pair(&a, &b, &shape, |x: bool, y: bool| x | y),
            LogicalOp::Xor => bool_pair(&a, &b, &shape, |x: bool, y: bool| x ^ y),
        }
    }

    /// `logical_not`: a bool tensor, true where the element is zero.
    pub fn logical_not(&self) -> Result<Tensor> {
        if self.is_gpu() {
            let ct = gpu_compute_type(self.dtype());
            let expr = format!("!{}", gpu_truth('a', ct));
            return crate::gpu::map(&[Input::of(self, ct)], &expr, DType::Bool, self.shape(), DType::Bool);
        }
        let v = with_dtype!(self.dtype(), T => map(self.storage_slice::<T>(), self.layout(), |x: T| !x.is_nonzero())?);
        Ok(Tensor::from_vec(v, self.shape()))
    }

    /// `bitwise_not` (and `~`): logical not for bools, `!x` for integers.
    pub fn bitwise_not(&self) -> Result<Tensor> {
        let dt = self.dtype();
        if dt.is_float() {
            bail!(NotImplemented, "\"bitwise_not_cpu\" not implemented for '{}'", scalar_type_name(dt));
        }
        if dt == DType::Bool {
            return self.logical_not();
        }
        if self.is_gpu() {
            return crate::gpu::map(&[Input::of(self, dt)], "~a", dt, self.shape(), dt);
        }
        Ok(match dt {
            DType::I64 => Tensor::from_vec(
                map(self.storage_slice::<i64>(), self.layout(), |x: i64| x.not())?,
                self.shape(),
            ),
            _ => Tensor::from_vec(
                map(self.storage_slice::<i32>(), self.layout(), |x: i32| x.not())?,
                self.shape(),
            ),
        })
    }
}

fn bits_kernel<T: Bits>(op: BitwiseOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let (la, lb) = (a.layout().broadcast_to(shape)?, b.layout().broadcast_to(shape)?);
    let (sa, sb) = (a.storage_slice::<T>(), b.storage_slice::<T>());
    let v = match op {
        BitwiseOp::And => zip(sa, &la, sb, &lb, |x: T, y: T| x.and(y))?,
        BitwiseOp::Or => zip(sa, &la, sb, &lb, |x: T, y: T| x.or(y))?,
        BitwiseOp::Xor => zip(sa, &la, sb, &lb, |x: T, y: T| x.xor(y))?,
        BitwiseOp::Shl => zip(sa, &la, sb, &lb, |x: T, y: T| x.shl(y))?,
        BitwiseOp::Shr => zip(sa, &la, sb, &lb, |x: T, y: T| x.shr(y))?,
    };
    Ok(Tensor::from_vec(v, shape))
}

/// `a & b`, `a | b`, `a ^ b`, `a << b`, `a >> b` (tensors or Python numbers), with PyTorch's
/// promotion; floats are rejected, and bools for shifts.
pub fn bitwise(op: BitwiseOp, a: Operand, b: Operand) -> Result<Tensor> {
    let dt = result_dtype(&a, &b);
    if dt.is_float() || (dt == DType::Bool && matches!(op, BitwiseOp::Shl | BitwiseOp::Shr)) {
        bail!(NotImplemented, "\"{}\" not implemented for '{}'", op.kernel_name(), scalar_type_name(dt));
    }
    // Two bool tensors: `&`, `|`, `^` are the logical ops, whose byte-wise loop runs in
    // parallel (the generic bitwise zip below is a strided, single-threaded walk).
    if let (Operand::T(x), Operand::T(y)) = (&a, &b) {
        if x.dtype() == DType::Bool && y.dtype() == DType::Bool && !x.is_gpu() && !y.is_gpu() {
            let lop = match op {
                BitwiseOp::And => Some(LogicalOp::And),
                BitwiseOp::Or => Some(LogicalOp::Or),
                BitwiseOp::Xor => Some(LogicalOp::Xor),
                BitwiseOp::Shl | BitwiseOp::Shr => None,
            };
            if let Some(lop) = lop {
                return x.logical(lop, y);
            }
        }
    }
    let shape = broadcast_shapes(&shape_of(&a), &shape_of(&b))?;
    if is_gpu(&a) || is_gpu(&b) {
        let ct = gpu_compute_type(dt);
        let (mut ka, mut kb) = (None, None);
        let inputs = [
            crate::ops::binary::gpu_input(&a, &shape, ct, &mut ka)?,
            crate::ops::binary::gpu_input(&b, &shape, ct, &mut kb)?,
        ];
        let bits = if ct == DType::I64 { 64 } else { 32 };
        return crate::gpu::map(&inputs, &op.wgsl(bits), ct, &shape, dt);
    }
    let mat = |o: &Operand| -> Result<Tensor> {
        match o {
            Operand::T(t) if t.dtype() == dt => Ok((*t).clone()),
            Operand::T(t) => t.cast_kernel(dt),
            Operand::S(s) => Ok(Tensor::scalar_tensor(*s, dt)),
        }
    };
    let (ta, tb) = (mat(&a)?, mat(&b)?);
    match dt {
        DType::I64 => bits_kernel::<i64>(op, &ta, &tb, &shape),
        DType::I32 => bits_kernel::<i32>(op, &ta, &tb, &shape),
        _ => bits_kernel::<bool>(op, &ta, &tb, &shape),
    }
}

fn close_float<T: Float + Element>(
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    rtol: f64,
    atol: f64,
    eqn: bool,
) -> Result<Vec<bool>> {
    let (la, lb) = (a.layout().broadcast_to(shape)?, b.layout().broadcast_to(shape)?);
    let (rt, at) = (T::from(rtol).unwrap_or_else(T::zero), T::from(atol).unwrap_or_else(T::zero));
    zip(a.storage_slice::<T>(), &la, b.storage_slice::<T>(), &lb, move |x: T, y: T| {
        let d = (x - y).abs();
        x == y || (eqn && x.is_nan() && y.is_nan()) || (d.is_finite() && d <= at + (rt * y).abs())
    })
}

impl Tensor {
    /// `isclose(other, rtol, atol, equal_nan)`: |a - b| <= atol + |rtol * b|, or equal.
    pub fn isclose(&self, other: &Tensor, rtol: f64, atol: f64, equal_nan: bool) -> Result<Tensor> {
        if self.dtype() != other.dtype() {
            bail!(
                Runtime,
                "{} did not match {}",
                scalar_type_name(self.dtype()),
                scalar_type_name(other.dtype())
            );
        }
        if rtol < 0.0 {
            bail!(Runtime, "rtol must be greater than or equal to zero, but got {}", rtol);
        }
        if atol < 0.0 {
            bail!(Runtime, "atol must be greater than or equal to zero, but got {}", atol);
        }
        let shape = broadcast_shapes(self.shape(), other.shape())?;
        let dt = self.dtype();
        if self.is_gpu() || other.is_gpu() {
            crate::ops::common_device(&[self, other])?;
            if dt.is_float() {
                let inputs = [
                    Input::broadcast(self, &shape, dt)?,
                    Input::broadcast(other, &shape, dt)?,
                    Input::Scalar { value: Scalar::Float(atol), dtype: dt },
                    Input::Scalar { value: Scalar::Float(rtol), dtype: dt },
                ];
                let eqn = if equal_nan { "(rg_isnan(a) && rg_isnan(b))" } else { "false" };
                let expr = format!(
                    "((a == b) && !rg_isnan(a)) || {eqn} || (!rg_isnan(a - b) && !rg_isinf(a - b) && (abs(a - b) <= c + abs(d * b)))"
                );
                return crate::gpu::map(&inputs, &expr, DType::Bool, &shape, DType::Bool);
            }
            let out = self.to_cpu()?.isclose(&other.to_cpu()?, rtol, atol, equal_nan)?;
            return out.to_device_kernel(self.device());
        }
        let v = match dt {
            DType::F32 => close_float::<f32>(self, other, &shape, rtol, atol, equal_nan)?,
            DType::F64 => close_float::<f64>(self, other, &shape, rtol, atol, equal_nan)?,
            DType::F16 | DType::BF16 => {
                let (a, b) = (self.cast_kernel(DType::F32)?, other.cast_kernel(DType::F32)?);
                close_float::<f32>(&a, &b, &shape, rtol, atol, equal_nan)?
            }
            _ => {
                // PyTorch compares integer errors against a default-dtype (float32) tolerance.
                let (a, b) = (self.cast_kernel(DType::I64)?, other.cast_kernel(DType::I64)?);
                let (la, lb) = (a.layout().broadcast_to(&shape)?, b.layout().broadcast_to(&shape)?);
                let (rt, at) = (rtol as f32, atol as f32);
                let exact = rtol == 0.0 && atol == 0.0;
                zip(a.storage_slice::<i64>(), &la, b.storage_slice::<i64>(), &lb, move |x: i64, y: i64| {
                    x == y
                        || (!exact && (x.wrapping_sub(y).wrapping_abs() as f32) <= at + (rt * y as f32).abs())
                })?
            }
        };
        Ok(Tensor::from_vec(v, &shape))
    }

    /// `torch.equal`: same shape and equal elements (no broadcasting; NaN is never equal).
    pub fn equal(&self, other: &Tensor) -> Result<bool> {
        if self.shape() != other.shape() {
            return Ok(false);
        }
        let eq = self.detach().compare(BinaryOp::Eq, &other.detach())?;
        Ok(eq.all_any(None, false, true)?.item()?.to_f64() != 0.0)
    }
}
