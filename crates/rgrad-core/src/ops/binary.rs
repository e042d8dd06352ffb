//! Binary elementwise ops with broadcasting, type promotion and Python-number operands.

use super::arith::Arith;
use crate::autograd::{needs_grad, record, record_edges, Edge, Op, Saved};
use crate::bail;
use crate::cpu::elementwise::zip;
use crate::error::Result;
use crate::layout::Layout;
use crate::shape::{broadcast_shapes, Dims};
use crate::storage::Element;
use crate::tensor::{scalar_as, Tensor};
use crate::{with_dtype, DType, ResultType, Scalar};
use smallvec::smallvec;

/// One side of a binary op: a tensor or a Python number.
#[derive(Clone, Copy)]
pub enum Operand<'a> {
    T(&'a Tensor),
    S(Scalar),
}

impl Operand<'_> {
    fn shape(&self) -> &[usize] {
        match self {
            Operand::T(t) => t.shape(),
            Operand::S(_) => &[],
        }
    }

    fn add_to(&self, r: ResultType) -> ResultType {
        match self {
            Operand::T(t) => r.tensor(t.dtype(), t.ndim()),
            Operand::S(s) => r.scalar(*s),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
    Pow,
    Maximum,
    Minimum,
    Atan2,
    Hypot,
    Fmod,
    LogAddExp,
    Xlogy,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinaryOp {
    fn is_comparison(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge)
    }
}

impl BinaryOp {
    /// The op as a WGSL expression of `a` and `b` in the compute type (bools compute as i32).
    pub fn wgsl(self, dt: DType) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "a + b",
            Sub => "a - b",
            Mul => "a * b",
            Div if dt.is_float() => "a / b",
            Div => "rg_floordiv(a, b)",
            FloorDiv => "rg_floordiv(a, b)",
            Rem => "rg_rem(a, b)",
            Pow => "rg_pow(a, b)",
            Maximum => "rg_max(a, b)",
            Minimum => "rg_min(a, b)",
            Atan2 => "rg_atan2(a, b)",
            Hypot => "rg_hypot(a, b)",
            Fmod if dt.is_float() => "a - b * trunc(a / b)",
            Fmod => "a % b",
            LogAddExp => "rg_logaddexp(a, b)",
            Xlogy => "rg_xlogy(a, b)",
            // Float comparisons test NaN by its bits: a compiler may assume no NaN and fold
            // `x != x` to false, and NaN must compare unequal (and unordered) as on the CPU.
            Eq if dt.is_float() => "(a == b) && !rg_isnan(a) && !rg_isnan(b)",
            Ne if dt.is_float() => "(a != b) || rg_isnan(a) || rg_isnan(b)",
            Lt if dt.is_float() => "(a < b) && !rg_isnan(a) && !rg_isnan(b)",
            Le if dt.is_float() => "(a <= b) && !rg_isnan(a) && !rg_isnan(b)",
            Gt if dt.is_float() => "(a > b) && !rg_isnan(a) && !rg_isnan(b)",
            Ge if dt.is_float() => "(a >= b) && !rg_isnan(a) && !rg_isnan(b)",
            Eq => "a == b",
            Ne => "a != b",
            Lt => "a < b",
            Le => "a <= b",
            Gt => "a > b",
            Ge => "a >= b",
        }
    }
}

/// The device operand for `o`: wgpu tensors as they are, 0-dim CPU tensors copied over (as
/// PyTorch allows CPU scalars next to device tensors), anything else on the CPU an error.
pub(crate) fn gpu_input<'a>(
    o: &Operand<'a>,
    shape: &[usize],
    dt: DType,
    keep: &'a mut Option<Tensor>,
) -> Result<crate::gpu::Input<'a>> {
    use crate::gpu::Input;
    match o {
        Operand::S(s) => Ok(Input::Scalar { value: *s, dtype: dt }),
        Operand::T(t) if t.is_gpu() => Input::broadcast(t, shape, dt),
        Operand::T(t) if t.ndim() == 0 => {
            let up = keep.insert(crate::gpu::upload(t)?);
            Input::broadcast(up, shape, dt)
        }
        Operand::T(t) => bail!(
            Runtime,
            "Expected all tensors to be on the same device, but found at least two devices, wgpu:0 and {}!",
            t.device()
        ),
    }
}

fn is_gpu_operand(o: &Operand) -> bool {
    matches!(o, Operand::T(t) if t.is_gpu())
}

fn gpu_binary(op: BinaryOp, a: Operand, b: Operand, dt: DType) -> Result<Tensor> {
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    check_int_operands(op, dt, &b)?;
    // WGSL bools have no arithmetic or ordering: compute them as 0/1 integers.
    let ct = if dt == DType::Bool { DType::I32 } else { dt };
    let (mut ka, mut kb) = (None, None);
    let inputs = [gpu_input(&a, &shape, ct, &mut ka)?, gpu_input(&b, &shape, ct, &mut kb)?];
    let (expr_dt, out_dt) = if op.is_comparison() { (DType::Bool, DType::Bool) } else { (ct, dt) };
    crate::gpu::map(&inputs, op.wgsl(ct), expr_dt, &shape, out_dt)
}

/// The dtype `op` computes in for these operands, with PyTorch's checks.
pub fn compute_dtype(op: BinaryOp, a: Operand, b: Operand) -> Result<DType> {
    // The per-op common cases, without the general result_type: operands of one dtype, and a
    // float tensor with a Python number (a wrapped number never promotes a float tensor).
    let dt = match (a, b) {
        (Operand::T(x), Operand::T(y)) if x.dtype() == y.dtype() => x.dtype(),
        (Operand::T(x), Operand::S(_)) | (Operand::S(_), Operand::T(x)) if x.dtype().is_float() => x.dtype(),
        _ => b.add_to(a.add_to(ResultType::default())).result(),
    };
    match op {
        BinaryOp::Div | BinaryOp::Atan2 | BinaryOp::Xlogy => Ok(dt.to_float()),
        BinaryOp::Hypot | BinaryOp::LogAddExp if !dt.is_float() => bail!(
            Runtime,
            "\"{}_cpu\" not implemented for '{}'",
            if op == BinaryOp::Hypot { "hypot" } else { "logaddexp" },
            super::inplace::scalar_type_name(dt)
        ),
        BinaryOp::Fmod if dt == DType::Bool => bail!(Runtime, "\"fmod_cpu\" not implemented for 'Bool'"),
        BinaryOp::Rem if dt == DType::Bool => bail!(Runtime, "\"remainder_cpu\" not implemented for 'Bool'"),
        BinaryOp::FloorDiv if dt == DType::Bool => bail!(Runtime, "\"div_floor_cpu\" not implemented for 'Bool'"),
        BinaryOp::Sub if dt == DType::Bool => bail!(
            Runtime,
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead."
        ),
        BinaryOp::Sub if is_bool(&a) || is_bool(&b) => bail!(
            Runtime,
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
        ),
        _ => Ok(dt),
    }
}

fn is_bool(o: &Operand) -> bool {
    match o {
        Operand::T(t) => t.dtype() == DType::Bool,
        Operand::S(s) => matches!(s, Scalar::Bool(_)),
    }
}

fn operand_layout(o: &Operand, shape: &[usize]) -> Result<Layout> {
    match o {
        Operand::T(t) => t.layout().broadcast_to(shape),
        Operand::S(_) => Ok(Layout { shape: shape.into(), strides: smallvec![0; shape.len()], offset: 0 }),
    }
}

fn check_int_operands(op: BinaryOp, dt: DType, b: &Operand) -> Result<()> {
    if !dt.is_int() {
        return Ok(());
    }
    let (has_zero, has_neg) = match b {
        Operand::S(s) => (s.to_f64() == 0.0, s.to_f64() < 0.0),
        Operand::T(t) => {
            let v = t.try_to_vec::<i64>()?;
            (v.contains(&0), v.iter().any(|&x| x < 0))
        }
    };
    match op {
        BinaryOp::FloorDiv | BinaryOp::Rem | BinaryOp::Fmod if has_zero => {
            bail!(Runtime, "ZeroDivisionError")
        }
        BinaryOp::Pow if has_neg => bail!(Runtime, "Integers to negative integer powers are not allowed."),
        _ => Ok(()),
    }
}

fn run<T: Arith>(
    op: BinaryOp,
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
    shape: &[usize],
) -> Result<Tensor> {
    use BinaryOp::*;
    macro_rules! arith {
        ($f:expr) => {
            Tensor::from_vec(zip(a, la, b, lb, $f)?, shape)
        };
    }
    macro_rules! cmp {
        ($f:expr) => {
            Tensor::from_vec::<bool>(zip(a, la, b, lb, $f)?, shape)
        };
    }
    Ok(match op {
        Add => arith!(|x: T, y: T| x.add(y)),
        Sub => arith!(|x: T, y: T| x.sub(y)),
        Mul => arith!(|x: T, y: T| x.mul(y)),
        Div => arith!(|x: T, y: T| x.div(y)),
        FloorDiv => arith!(|x: T, y: T| x.floordiv(y)),
        Rem => arith!(|x: T, y: T| x.rem(y)),
        Pow => arith!(|x: T, y: T| x.pow(y)),
        Maximum => arith!(|x: T, y: T| x.maximum(y)),
        Minimum => arith!(|x: T, y: T| x.minimum(y)),
        Atan2 => arith!(|x: T, y: T| x.atan2(y)),
        Hypot => arith!(|x: T, y: T| x.hypot(y)),
        Fmod => arith!(|x: T, y: T| x.fmod(y)),
        LogAddExp => arith!(|x: T, y: T| x.logaddexp(y)),
        Xlogy => arith!(|x: T, y: T| x.xlogy(y)),
        Eq => cmp!(|x: T, y: T| x == y),
        Ne => cmp!(|x: T, y: T| x != y),
        Lt => cmp!(|x: T, y: T| x < y),
        Le => cmp!(|x: T, y: T| x <= y),
        Gt => cmp!(|x: T, y: T| x > y),
        Ge => cmp!(|x: T, y: T| x >= y),
    })
}

/// The common case on the per-op path: float operands of one dtype, contiguous, with equal
/// shapes or a Python number on one side. Skips broadcasting and layout work.
#[inline]
fn fast_float(op: BinaryOp, a: Operand, b: Operand, dt: DType) -> Option<Tensor> {
    fn slice_of<T: Element>(t: &Tensor) -> &[T] {
        if t.numel() == 0 {
            return &[];
        }
        let off = t.layout().offset;
        &t.storage_slice::<T>()[off..off + t.numel()]
    }
    fn go<T: Arith>(op: BinaryOp, a: Operand, b: Operand) -> Option<Tensor> {
        use BinaryOp::*;
        // One exact-size buffer filled by a plain loop with the op written out in it: a
        // `collect` over a zip, or a closure the compiler chooses not to inline, is an
        // out-of-line call per element, a large share of a 0-dim op's cost.
        macro_rules! apply {
            ($x:ident, $y:ident => $e:expr) => {{
                let (v, shape): (Vec<T>, &[usize]) = match (a, b) {
                    (Operand::T(x), Operand::T(y)) => {
                        let (p, q) = (slice_of::<T>(x), slice_of::<T>(y));
                        let mut v = Vec::with_capacity(p.len());
                        for (&$x, &$y) in p.iter().zip(q) {
                            v.push($e);
                        }
                        (v, x.shape())
                    }
                    (Operand::T(x), Operand::S(s)) => {
                        let (p, $y) = (slice_of::<T>(x), scalar_as::<T>(s));
                        let mut v = Vec::with_capacity(p.len());
                        for &$x in p {
                            v.push($e);
                        }
                        (v, x.shape())
                    }
                    (Operand::S(s), Operand::T(y)) => {
                        let ($x, q) = (scalar_as::<T>(s), slice_of::<T>(y));
                        let mut v = Vec::with_capacity(q.len());
                        for &$y in q {
                            v.push($e);
                        }
                        (v, y.shape())
                    }
                    _ => return None,
                };
                // The operand's shape already has `v.len()` elements.
                Some(Tensor::from_vec_of_shape(v, shape))
            }};
        }
        match op {
            Add => apply!(x, y => x.add(y)),
            Sub => apply!(x, y => x.sub(y)),
            Mul => apply!(x, y => x.mul(y)),
            Div => apply!(x, y => x.div(y)),
            Pow => apply!(x, y => x.pow(y)),
            _ => None,
        }
    }
    let ok = |o: &Operand| match o {
        Operand::T(t) => t.dtype() == dt && t.is_contiguous() && t.numel() < crate::cpu::PAR_THRESHOLD,
        Operand::S(_) => true,
    };
    let same_shape = match (a, b) {
        (Operand::T(x), Operand::T(y)) => x.shape() == y.shape(),
        _ => true,
    };
    if !dt.is_float() || !same_shape || !ok(&a) || !ok(&b) {
        return None;
    }
    match dt {
        DType::F32 => go::<f32>(op, a, b),
        DType::F64 => go::<f64>(op, a, b),
        _ => None,
    }
}

/// float16/bfloat16 binary ops, out of line so the float32/float64 path of [`binary_kernel`]
/// stays small.
#[inline(never)]
fn reduced_float_binary(op: BinaryOp, a: Operand, b: Operand, dt: DType) -> Result<Tensor> {
    // float16/bfloat16: the float32 kernel on the widened operands, rounded once. Tensor
    // operands take the common dtype first. A Python number is rounded to the dtype too,
    // except as the right operand of mul, div and floor division, whose reduced-float
    // kernels read PyTorch's unrounded `original_scalar_value`; `s / x` is PyTorch's
    // `x.reciprocal() * s`.
    if let (BinaryOp::Div, Operand::S(sv), Operand::T(x)) = (op, a, b) {
        let w = x.cast_kernel(DType::F32)?;
        let rec = binary_kernel(BinaryOp::Div, Operand::S(Scalar::Float(1.0)), Operand::T(&w))?;
        let rec = super::opmath::narrow(rec, dt)?;
        return binary_kernel(BinaryOp::Mul, Operand::T(&rec), Operand::S(Scalar::Float(sv.to_f64())));
    }
    let keep_exact = matches!(op, BinaryOp::Mul | BinaryOp::Div | BinaryOp::FloorDiv);
    let round = |v: Scalar, right: bool| -> Scalar {
        if keep_exact && (right || op == BinaryOp::Mul) {
            return Scalar::Float(v.to_f64());
        }
        Scalar::Float(match dt {
            DType::F16 => scalar_as::<half::f16>(v).to_f64(),
            _ => scalar_as::<half::bf16>(v).to_f64(),
        })
    };
    let widen = |o: &Operand| -> Result<Option<Tensor>> {
        match o {
            Operand::T(t) if t.dtype() == dt => Ok(Some(t.cast_kernel(DType::F32)?)),
            Operand::T(t) => Ok(Some(t.cast_kernel(dt)?.cast_kernel(DType::F32)?)),
            Operand::S(_) => Ok(None),
        }
    };
    let (wa, wb) = (widen(&a)?, widen(&b)?);
    let oa = match (&wa, a) {
        (Some(t), _) => Operand::T(t),
        (None, Operand::S(v)) => Operand::S(round(v, false)),
        (None, o) => o,
    };
    let ob = match (&wb, b) {
        (Some(t), _) => Operand::T(t),
        (None, Operand::S(v)) => Operand::S(round(v, true)),
        (None, o) => o,
    };
    let out = binary_kernel(op, oa, ob)?;
    super::opmath::narrow(out, dt)
}

/// Computes `op(a, b)` without recording autograd.
pub fn binary_kernel(op: BinaryOp, a: Operand, b: Operand) -> Result<Tensor> {
    let dt = compute_dtype(op, a, b)?;
    // PyTorch computes `x ** 0.5` as sqrt(x) and `x ** -0.5` as rsqrt(x): they differ from
    // pow at -inf (nan, not inf) and -0.0 (-0.0 and -inf, not 0.0 and inf).
    if let (BinaryOp::Pow, Operand::T(x), Operand::S(Scalar::Float(e))) = (op, &a, &b) {
        if x.dtype() == dt && dt.is_float() && (*e == 0.5 || *e == -0.5) {
            return x.float_unary_kernel(if *e == 0.5 {
                super::unary::UnaryOp::Sqrt
            } else {
                super::unary::UnaryOp::Rsqrt
            });
        }
    }
    // `x ** 2` is `x * x` (as PyTorch computes it): the same correctly rounded value, without
    // a call to powf per element (the loss of a regression step squares every output).
    if let (BinaryOp::Pow, Operand::T(x), Operand::S(e)) = (op, &a, &b) {
        let two = matches!(e, Scalar::Float(v) if *v == 2.0) || matches!(e, Scalar::Int(2));
        if two && x.dtype() == dt && dt.is_float() {
            return binary_kernel(BinaryOp::Mul, a, a);
        }
    }
    if is_gpu_operand(&a) || is_gpu_operand(&b) {
        return gpu_binary(op, a, b, dt);
    }
    if dt.is_reduced_float() {
        return reduced_float_binary(op, a, b, dt);
    }
    if let Some(out) = fast_float(op, a, b, dt) {
        return Ok(out);
    }
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    check_int_operands(op, dt, &b)?;
    // Operands of another dtype are converted first; scalars become one stack element.
    let cast = |o: &Operand| -> Result<Option<Tensor>> {
        match o {
            Operand::T(t) if t.dtype() != dt => Ok(Some(t.cast_kernel(dt)?)),
            _ => Ok(None),
        }
    };
    let (ca, cb) = (cast(&a)?, cast(&b)?);
    // A cast copy is contiguous from offset 0: index it with its own layout, not the view's.
    let layout_of = |o: &Operand, c: &Option<Tensor>| match c {
        Some(c) => c.layout().broadcast_to(&shape),
        None => operand_layout(o, &shape),
    };
    let (la, lb) = (layout_of(&a, &ca)?, layout_of(&b, &cb)?);
    Ok(with_dtype!(dt, T => {
        let sa: [T; 1] = [match a { Operand::S(s) => scalar_as::<T>(s), _ => T::default() }];
        let sb: [T; 1] = [match b { Operand::S(s) => scalar_as::<T>(s), _ => T::default() }];
        let da: &[T] = match (&a, &ca) {
            (Operand::S(_), _) => &sa,
            (_, Some(c)) => c.storage_slice::<T>(),
            (Operand::T(t), None) => t.storage_slice::<T>(),
        };
        let db: &[T] = match (&b, &cb) {
            (Operand::S(_), _) => &sb,
            (_, Some(c)) => c.storage_slice::<T>(),
            (Operand::T(t), None) => t.storage_slice::<T>(),
        };
        run::<T>(op, da, &la, db, &lb, &shape)?
    }))
}

fn name(op: BinaryOp, a: &Operand, b: &Operand) -> &'static str {
    use BinaryOp::*;
    match (op, a, b) {
        (Add, ..) => "AddBackward0",
        (Sub, Operand::S(_), _) => "RsubBackward1",
        (Sub, ..) => "SubBackward0",
        (Mul, ..) => "MulBackward0",
        (Div, ..) => "DivBackward0",
        (Pow, Operand::S(_), _) => "PowBackward2",
        (Pow, _, Operand::S(_)) => "PowBackward0",
        (Pow, ..) => "PowBackward1",
        (Maximum, ..) => "MaximumBackward0",
        (Minimum, ..) => "MinimumBackward0",
        (Atan2, ..) => "Atan2Backward0",
        (Hypot, ..) => "HypotBackward0",
        (LogAddExp, ..) => "LogaddexpBackward0",
        (Xlogy, Operand::S(_), _) => "XlogyBackward1",
        (Xlogy, _, Operand::S(_)) => "XlogyBackward2",
        (Xlogy, ..) => "XlogyBackward0",
        (Fmod, _, Operand::S(_)) => "FmodBackward0",
        (Fmod, ..) => "FmodBackward1",
        (Rem, _, Operand::S(_)) => "RemainderBackward0",
        (Rem, ..) => "RemainderBackward1",
        _ => "NotDifferentiable",
    }
}

/// The autograd record for `out = op(a, b)`; `None` for non-differentiable ops.
fn backward_op(op: BinaryOp, a: Operand, b: Operand, out: &Tensor) -> Option<Op> {
    use BinaryOp::*;
    use Operand::{S, T};
    let shapes = |x: &Tensor, y: &Tensor| -> [Dims; 2] { [x.dims(), y.dims()] };
    Some(match (op, a, b) {
        (Add, T(x), T(y)) => Op::AddSub { shapes: shapes(x, y), alpha: 1.0 },
        (Sub, T(x), T(y)) => Op::AddSub { shapes: shapes(x, y), alpha: -1.0 },
        (Add | Sub, T(_), S(_)) => Op::Scale(1.0),
        (Sub, S(_), T(_)) => Op::Scale(-1.0),
        (Add, S(_), T(_)) => Op::Scale(1.0),
        (Mul, T(x), T(y)) => Op::Mul { a: Saved::input(x), b: Saved::input(y) },
        (Mul, T(_), S(s)) | (Mul, S(s), T(_)) => Op::ScaleSaved(s.to_f64()),
        (Div, T(x), T(y)) => Op::Div { a: Saved::input(x), b: Saved::input(y) },
        (Div, T(_), S(s)) => Op::ScaleSaved(1.0 / s.to_f64()),
        (Div, S(s), T(x)) => Op::RDiv { x: Saved::input(x), s: s.to_f64() },
        (Pow, T(x), S(e)) => Op::PowScalar { x: Saved::input(x), e: e.to_f64() },
        (Pow, S(s), T(x)) => {
            Op::RPow { x: Saved::input(x), s: s.to_f64(), out: Saved::output(out, "PowBackward2") }
        }
        (Pow, T(x), T(y)) => {
            Op::Pow { a: Saved::input(x), b: Saved::input(y), out: Saved::output(out, "PowBackward1") }
        }
        (Maximum | Minimum, T(x), T(y)) => {
            Op::MaxMin { a: Saved::input(x), b: Saved::input(y), is_max: op == Maximum }
        }
        (Atan2 | Hypot | LogAddExp | Xlogy | Fmod | Rem, a, b) => {
            let save = |o: Operand| -> Option<Saved> {
                Some(match o {
                    T(t) => Saved::input(t),
                    S(s) => Saved::input(&Tensor::full_on(&[], s, out.dtype(), out.device()).ok()?),
                })
            };
            let sides = [matches!(a, T(_)), matches!(b, T(_))];
            Op::Binary { op, a: save(a)?, b: save(b)?, out: Saved::output(out, name(op, &a, &b)), sides }
        }
        _ => return None,
    })
}

/// `op(a, b)` with autograd recorded when an operand requires grad.
pub fn binary(op: BinaryOp, a: Operand, b: Operand) -> Result<Tensor> {
    let out = binary_kernel(op, a, b)?;
    if op.is_comparison() || !out.dtype().is_float() {
        return Ok(out);
    }
    // Pushed one by one: collecting a chained iterator into a SmallVec costs ~100
    // instructions, a tenth of a scalar op.
    let mut inputs: smallvec::SmallVec<[&Tensor; 2]> = smallvec::SmallVec::new();
    if let Some(t) = tensor_of(&a) {
        inputs.push(t);
    }
    if let Some(t) = tensor_of(&b) {
        inputs.push(t);
    }
    if needs_grad(&inputs) {
        if let Some(bop) = backward_op(op, a, b, &out) {
            // PyTorch wraps the number of `x + 2`, `x * 2`, ... in a tensor: a second, empty edge.
            let wrapped = inputs.len() == 1
                && matches!(
                    (op, a, b),
                    (
                        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div,
                        Operand::T(_),
                        Operand::S(_)
                    ) | (BinaryOp::Add | BinaryOp::Mul, Operand::S(_), Operand::T(_))
                );
            if wrapped {
                let t = inputs[0];
                let edges = smallvec![(Edge::of(t), t.dtype()), (Edge::None, t.dtype())];
                record_edges(name(op, &a, &b), bop, edges, &[&out]);
            } else {
                record(name(op, &a, &b), bop, &inputs, &[&out]);
            }
        }
    }
    Ok(out)
}

fn tensor_of<'a>(o: &Operand<'a>) -> Option<&'a Tensor> {
    match o {
        Operand::T(t) => Some(t),
        Operand::S(_) => None,
    }
}

/// `torch.where(cond, a, b)`.
pub fn where_(cond: &Tensor, a: Operand, b: Operand) -> Result<Tensor> {
    if cond.dtype() != DType::Bool {
        bail!(
            Runtime,
            "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
            cond.dtype()
        );
    }
    let dt = b.add_to(a.add_to(ResultType::default())).result();
    let shape = broadcast_shapes(&broadcast_shapes(cond.shape(), a.shape())?, b.shape())?;
    if cond.is_gpu() || is_gpu_operand(&a) || is_gpu_operand(&b) {
        let (mut kc, mut ka, mut kb) = (None, None, None);
        let inputs = [
            gpu_input(&Operand::T(cond), &shape, DType::Bool, &mut kc)?,
            gpu_input(&a, &shape, dt, &mut ka)?,
            gpu_input(&b, &shape, dt, &mut kb)?,
        ];
        let out = crate::gpu::map(&inputs, "select(c, b, a)", dt, &shape, dt)?;
        return Ok(where_record(cond, a, b, out));
    }
    let lc = cond.layout().broadcast_to(&shape)?;
    let materialize = |o: &Operand| -> Result<Tensor> {
        match o {
            // Same dtype: the tensor itself (its storage is shared, not copied).
            Operand::T(t) if t.dtype() == dt => Ok(Tensor::clone(t)),
            Operand::T(t) => t.cast_kernel(dt),
            Operand::S(s) => Ok(Tensor::scalar_tensor(*s, dt)),
        }
    };
    let (ta, tb) = (materialize(&a)?, materialize(&b)?);
    let (la, lb) = (ta.layout().broadcast_to(&shape)?, tb.layout().broadcast_to(&shape)?);
    let out = with_dtype!(dt, T => {
        let v = crate::cpu::elementwise::zip3(
            cond.storage_slice::<bool>(), &lc,
            ta.storage_slice::<T>(), &la,
            tb.storage_slice::<T>(), &lb,
            |c: bool, x: T, y: T| if c { x } else { y },
        )?;
        Tensor::from_vec(v, &shape)
    });
    Ok(where_record(cond, a, b, out))
}

fn where_record(cond: &Tensor, a: Operand, b: Operand, out: Tensor) -> Tensor {
    if !out.dtype().is_float() {
        return out;
    }
    let inputs: smallvec::SmallVec<[&Tensor; 2]> = tensor_of(&a).into_iter().chain(tensor_of(&b)).collect();
    if needs_grad(&inputs) {
        let shapes = [a.shape().into(), b.shape().into()];
        let sides = [tensor_of(&a).is_some(), tensor_of(&b).is_some()];
        record("WhereBackward0", Op::Where { cond: cond.detach(), shapes, sides }, &inputs, &[&out]);
    }
    out
}

impl Tensor {
    pub fn add(&self, o: &Tensor) -> Result<Tensor> {
        binary(BinaryOp::Add, Operand::T(self), Operand::T(o))
    }
    pub fn sub(&self, o: &Tensor) -> Result<Tensor> {
        binary(BinaryOp::Sub, Operand::T(self), Operand::T(o))
    }
    pub fn mul(&self, o: &Tensor) -> Result<Tensor> {
        binary(BinaryOp::Mul, Operand::T(self), Operand::T(o))
    }
    pub fn div(&self, o: &Tensor) -> Result<Tensor> {
        binary(BinaryOp::Div, Operand::T(self), Operand::T(o))
    }
    pub fn pow(&self, o: &Tensor) -> Result<Tensor> {
        binary(BinaryOp::Pow, Operand::T(self), Operand::T(o))
    }
    pub fn add_scalar(&self, s: f64) -> Result<Tensor> {
        binary(BinaryOp::Add, Operand::T(self), Operand::S(Scalar::Float(s)))
    }
    pub fn mul_scalar(&self, s: f64) -> Result<Tensor> {
        binary(BinaryOp::Mul, Operand::T(self), Operand::S(Scalar::Float(s)))
    }
    pub fn pow_scalar(&self, e: f64) -> Result<Tensor> {
        binary(BinaryOp::Pow, Operand::T(self), Operand::S(Scalar::Float(e)))
    }
    pub fn rsub_scalar(&self, s: f64) -> Result<Tensor> {
        binary(BinaryOp::Sub, Operand::S(Scalar::Float(s)), Operand::T(self))
    }
    pub fn compare_scalar(&self, op: BinaryOp, s: f64) -> Result<Tensor> {
        binary(op, Operand::T(self), Operand::S(Scalar::Float(s)))
    }
    pub fn where_with(&self, cond: &Tensor, other: &Tensor) -> Result<Tensor> {
        where_(cond, Operand::T(self), Operand::T(other))
    }
}

impl Tensor {
    /// Elementwise comparison with another tensor; returns a bool tensor.
    pub fn compare(&self, op: BinaryOp, other: &Tensor) -> Result<Tensor> {
        binary(op, Operand::T(self), Operand::T(other))
    }
}
