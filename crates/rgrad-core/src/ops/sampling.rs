//! The samplers of `torch.*` and `Tensor` that are not plain factories, each one core op that
//! checks its arguments (PyTorch's messages), draws from the given or the default generator
//! and writes the result: `normal` with tensors or numbers, `bernoulli` (a tensor of
//! probabilities or one `p`), and the in-place `bernoulli_`, `exponential_`, `geometric_`,
//! `log_normal_`, `cauchy_`, `random_`, `uniform_` and `normal_`.
//!
//! Every draw happens on the host, in row-major order, with the calls `rand` / `randn` /
//! `randint` and `distributions::sample` make, so a seed gives the same numbers on every
//! device and the numbers these samplers gave when Python composed them from those ops. A
//! device tensor receives the drawn values uploaded. The in-place ones write through
//! `apply_inplace` (views, strides, the version counter, the leaf and overlap refusals), drawing
//! only once those checks have passed, so a refused call leaves the generator where it was; a
//! tensor with history records a node whose gradient is zero, as in PyTorch.

use super::binary::{binary, BinaryOp, Operand};
use super::distributions::{sample, Dist};
use super::factory::{rand_uniform_on, randint_gen, randn_gen};
use crate::autograd::{recorded, Op};
use crate::bail;
use crate::error::Result;
use crate::random::Generator;
use crate::tensor::Tensor;
use crate::{DType, Device, Scalar};

/// PyTorch's message for a probability outside [0, 1] (or NaN) in a tensor of them.
const P_IN_RANGE: &str = "Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error message be improved?  If so, please report an enhancement request to PyTorch.)";

/// A number as PyTorch's messages print it, which is also Python's `str` of the int or float
/// the caller passed: integral values without a fraction (`-1`, exact however large), `nan`,
/// `inf`, otherwise the shortest digits that read back, in exponent form below 1e-4 (`1e-05`).
pub fn number_text(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v.fract() == 0.0 {
        return integer_text(v);
    }
    // Not integral, so |v| < 2^52: only the small end switches to exponent form.
    let sci = format!("{v:e}");
    match sci.split_once('e').map(|(m, e)| (m, e.parse::<i32>())) {
        Some((mant, Ok(exp))) if exp < -4 => format!("{mant}e-{:02}", -exp),
        _ => format!("{v}"),
    }
}

/// The exact decimal value of an integral finite float.
fn integer_text(v: f64) -> String {
    if v.abs() < 1e38 {
        return format!("{}", v as i128);
    }
    // m * 2^e in base-1e9 limbs (least significant first): floats up to 2^1024.
    let bits = v.abs().to_bits();
    let (exp, mant) = (((bits >> 52) & 0x7ff) as i32 - 1075, (bits & ((1 << 52) - 1)) | (1 << 52));
    let mut limbs: Vec<u64> =
        vec![mant % 1_000_000_000, mant / 1_000_000_000 % 1_000_000_000, mant / 1_000_000_000_000_000_000];
    for _ in 0..exp {
        let mut carry = 0;
        for l in limbs.iter_mut() {
            let x = *l * 2 + carry;
            *l = x % 1_000_000_000;
            carry = x / 1_000_000_000;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut s = String::from(if v < 0.0 { "-" } else { "" });
    s += &limbs.last().map_or(String::new(), |l| l.to_string());
    for l in limbs.iter().rev().skip(1) {
        s += &format!("{l:09}");
    }
    s
}

fn scalar_value(s: Scalar) -> f64 {
    s.to_f64()
}

fn scalar_text(s: Scalar) -> String {
    match s {
        Scalar::Int(i) => i.to_string(),
        Scalar::Bool(b) => u8::from(b).to_string(),
        Scalar::Float(f) => number_text(f),
    }
}

/// The elements of `t` as f64 in row-major order (exact for every dtype but huge int64s).
fn values(t: &Tensor) -> Result<Vec<f64>> {
    t.detach().to_cpu()?.try_to_vec::<f64>()
}

/// `"{op}" not implemented for rgrad.{dtype}` (the message the Python samplers gave).
fn check_float(t: &Tensor, op: &str) -> Result<()> {
    if !t.dtype().is_float() {
        bail!(Runtime, "\"{op}\" not implemented for rgrad.{}", t.dtype());
    }
    Ok(())
}

fn check_probabilities(p: &Tensor) -> Result<()> {
    if !values(p)?.iter().all(|&x| (0.0..=1.0).contains(&x)) {
        bail!(Runtime, "{P_IN_RANGE}");
    }
    Ok(())
}

fn check_p(p: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        bail!(Runtime, "bernoulli_ expects p to be in [0, 1], but got p={}", number_text(p));
    }
    Ok(())
}

/// `u < p` elementwise as the dtype of `like`: one uniform of `p`'s dtype per element of `p`.
fn below(u: &Tensor, p: &Tensor, dtype: DType) -> Result<Tensor> {
    // Exact in f64 for both sides, so the comparison is the one in their own dtype.
    let (u, pv) = (values(u)?, values(p)?);
    let hits =
        crate::storage::try_collect(u.len(), u.iter().zip(&pv).map(|(a, b)| f64::from(u8::from(a < b))))?;
    Tensor::try_from_vec(hits, p.shape())?.cast_kernel(dtype)
}

/// Writes `draw()` (any dtype, on the host) into `t` as an in-place op named `name` whose
/// gradient is zero; `draw` runs only once the in-place checks have passed.
fn write_drawn(t: &Tensor, name: &'static str, draw: impl FnOnce() -> Result<Tensor>) -> Result<()> {
    let dt = t.dtype();
    t.apply_inplace(&[], |base| {
        let v = draw()?.to_dtype(dt)?.to_device_kernel(base.device())?;
        Ok(recorded(v, name, &[base], || Op::Scale(0.0)))
    })
}

/// `torch.bernoulli(input, p=None)`: with `p`, ones with probability `p`; without, ones with
/// the probability each element of `input` holds. `input`'s shape, dtype and device.
pub fn bernoulli(gen: Option<&Generator>, input: &Tensor, p: Option<f64>) -> Result<Tensor> {
    check_float(input, "bernoulli_tensor_cpu_self_")?;
    let (shape, dt) = (input.shape(), input.dtype());
    let out = match p {
        Some(p) => {
            check_p(p)?;
            sample_on(gen, Dist::Bernoulli { p }, shape, dt, input.device())?
        }
        None => {
            check_probabilities(input)?;
            let u = rand_uniform_on(gen, shape, dt, input.device())?;
            if input.device() == Device::Cpu {
                below(&u, input, dt)?
            } else {
                // Both sides in the input's dtype: the same test as `below`'s.
                binary(BinaryOp::Lt, Operand::T(&u), Operand::T(&input.detach()))?.to_dtype(dt)?
            }
        }
    };
    out.to_device_kernel(input.device())
}

/// `sample` made where `device` is: Bernoulli draws on the device from the generator's words
/// (gpu/chacha.rs: the host's draws bit for bit); the others on the host, uploaded.
fn sample_on(
    gen: Option<&Generator>,
    dist: Dist,
    shape: &[usize],
    dt: DType,
    device: Device,
) -> Result<Tensor> {
    #[cfg(feature = "wgpu")]
    if let (Device::Wgpu, Dist::Bernoulli { p }) = (device, dist) {
        // `sample` draws float64 uniforms for a float64 tensor, float32 ones otherwise.
        let draw_dt = if dt == DType::F64 { DType::F64 } else { DType::F32 };
        let draw = crate::gpu::chacha::Draw::Bernoulli { p };
        if let Some(t) = crate::gpu::chacha::draw(gen, shape, draw_dt, draw)? {
            return t.to_dtype(dt);
        }
    }
    sample(gen, dist, shape, dt)?.to_device_kernel(device)
}

/// `t.bernoulli_(p)` with a tensor of probabilities broadcast to `t`. The uniforms are of
/// `t`'s shape and dtype for a float `t`, otherwise of `p`'s shape (and dtype, float32 for an
/// integer `p`), as `rand_like(...) < p` drew them.
pub fn bernoulli_tensor_(gen: Option<&Generator>, t: &Tensor, p: &Tensor) -> Result<()> {
    check_probabilities(p)?;
    let like = if t.dtype().is_float() { t } else { p };
    let udt = if like.dtype().is_float() { like.dtype() } else { DType::F32 };
    let (shape, sizes) = (like.dims(), t.shape().iter().map(|&s| s as i64).collect::<Vec<_>>());
    let p = p.detach().to_device_kernel(t.device())?;
    write_drawn(t, "BernoulliBackward1", || {
        let u = rand_uniform_on(gen, &shape, udt, t.device())?;
        // The core's comparison: PyTorch's broadcasting and its messages.
        binary(BinaryOp::Lt, Operand::T(&u), Operand::T(&p))?.expand(&sizes)
    })
}

/// The in-place samplers of one distribution and one or two numbers: `bernoulli_(p)`,
/// `exponential_(lambd)`, `geometric_(p)`, `log_normal_(mean, std)`, `cauchy_(median, sigma)`.
pub fn sample_(gen: Option<&Generator>, t: &Tensor, dist: Dist) -> Result<()> {
    let name = match dist {
        Dist::Bernoulli { p } => {
            check_p(p)?;
            "BernoulliBackward2"
        }
        Dist::Exponential { lambd } => {
            check_float(t, "exponential_cpu")?;
            if lambd.is_nan() || lambd <= 0.0 {
                bail!(Runtime, "exponential_ expects lambda > 0.0, but found lambda={}", number_text(lambd));
            }
            "ExponentialBackward0"
        }
        Dist::Geometric { p } => {
            if !(p > 0.0 && p < 1.0) {
                bail!(Runtime, "geometric_ expects p to be in (0, 1), but got p={}", number_text(p));
            }
            "GeometricBackward0"
        }
        Dist::LogNormal { std, .. } => {
            check_float(t, "log_normal_cpu")?;
            if std.is_nan() || std <= 0.0 {
                bail!(Runtime, "log_normal_ expects std > 0.0, but found std={}", number_text(std));
            }
            "LogNormalBackward0"
        }
        Dist::Cauchy { sigma, .. } => {
            check_float(t, "cauchy_cpu")?;
            if sigma.is_nan() || sigma <= 0.0 {
                bail!(Runtime, "cauchy_ expects sigma > 0.0, but found sigma={}", number_text(sigma));
            }
            "CauchyBackward0"
        }
    };
    let shape = t.dims();
    // The draws of the tensor's dtype (float32 ones for a non-float tensor), then cast.
    write_drawn(t, name, || sample_on(gen, dist, &shape, t.dtype(), t.device()))
}

/// `random_(from, to)`'s range for `dtype`: `to` defaults to the dtype's (2^24 for float32,
/// 2^53 for the other floats, 2 for bool, 2^31 for int32, 2^63 - 1 otherwise); refused when
/// empty or, for int32 / int64, outside the dtype.
pub fn random_range(dtype: DType, from: i128, to: Option<i128>) -> Result<(i128, i128)> {
    let to = to.unwrap_or(match dtype {
        DType::F32 => 1 << 24,
        d if d.is_float() => 1 << 53,
        DType::Bool => 2,
        DType::I32 => 1 << 31,
        _ => i128::from(i64::MAX),
    });
    if from >= to {
        bail!(Runtime, "random_ expects 'from' to be less than 'to', but got from={from} >= to={to}");
    }
    let bounds = match dtype {
        DType::I32 => Some((i128::from(i32::MIN), i128::from(i32::MAX), "int")),
        DType::I64 => Some((i128::from(i64::MIN), i128::from(i64::MAX), "long")),
        _ => None,
    };
    if let Some((lo, hi, cname)) = bounds {
        if !(lo..=hi).contains(&from) {
            bail!(Runtime, "from is out of bounds for {cname}");
        }
        if !(lo..=hi).contains(&(to - 1)) {
            bail!(Runtime, "to - 1 is out of bounds for {cname}");
        }
    }
    Ok((from, to))
}

/// `random_(from, to)`: integers uniform on [from, to) (int64 draws, cast to the dtype).
pub fn random_(gen: Option<&Generator>, t: &Tensor, from: i64, to: i64) -> Result<()> {
    random_range(t.dtype(), i128::from(from), Some(i128::from(to)))?;
    let shape = t.dims();
    write_drawn(t, "RandomBackward0", || randint_gen(gen, from, to, &shape, DType::I64))
}

/// `uniform_(from, to)`: `from + (to - from) * U[0, 1)` in the tensor's dtype.
pub fn uniform_(gen: Option<&Generator>, t: &Tensor, from: f64, to: f64) -> Result<()> {
    let (limit, cname) = match t.dtype() {
        DType::F32 => (f64::from(f32::MAX), "float"),
        DType::F64 => (f64::INFINITY, "double"),
        _ => (f64::INFINITY, "float"),
    };
    for (name, v) in [("from", from), ("to", to)] {
        if !(v.is_finite() && (-limit..=limit).contains(&v)) {
            bail!(Runtime, "{name} is out of bounds for {cname}");
        }
    }
    if from > to {
        bail!(
            Runtime,
            "uniform_ expects to return a [from, to) range, but found from={} > to={}",
            number_text(from),
            number_text(to)
        );
    }
    let (shape, dt) = (t.dims(), t.dtype());
    write_drawn(t, "UniformBackward0", || {
        rand_uniform_on(gen, &shape, dt, t.device())?.mul_scalar(to - from)?.add_scalar(from)
    })
}

fn check_std(std: Scalar) -> Result<()> {
    let v = scalar_value(std);
    if v.is_nan() || v < 0.0 {
        bail!(Runtime, "normal expects std >= 0.0, but found std {}", scalar_text(std));
    }
    Ok(())
}

/// `normal_(mean, std)`: `mean + std * N(0, 1)` in the tensor's dtype.
pub fn normal_(gen: Option<&Generator>, t: &Tensor, mean: f64, std: f64) -> Result<()> {
    check_std(Scalar::Float(std))?;
    let (shape, dt) = (t.dims(), t.dtype());
    write_drawn(t, "NormalBackward0", || randn_gen(gen, &shape, dt)?.mul_scalar(std)?.add_scalar(mean))
}

/// `normal(mean, std, size)` with numbers: `randn(size) * std + mean`, the arithmetic done
/// where the tensor lives (as the composition did). `None` for `size` is the caller's
/// missing-argument error, raised after the check of `std`.
pub fn normal_numbers(
    gen: Option<&Generator>,
    mean: Scalar,
    std: Scalar,
    size: Option<&[usize]>,
    dtype: DType,
    device: Device,
) -> Result<Option<Tensor>> {
    check_std(std)?;
    let Some(size) = size else { return Ok(None) };
    let z = randn_gen(gen, size, dtype)?.to_device_kernel(device)?;
    let scaled = binary(BinaryOp::Mul, Operand::T(&z), Operand::S(std))?;
    binary(BinaryOp::Add, Operand::T(&scaled), Operand::S(mean)).map(Some)
}

/// `normal(mean, std)` with at least one tensor: `randn(broadcast shape) * std + mean`, the
/// standard normals of the first tensor's dtype (float32 for an integer one) and on its
/// device. No gradient reaches `mean` or `std` (the result does not require grad).
pub fn normal_tensors(gen: Option<&Generator>, mean: Operand, std: Operand) -> Result<Tensor> {
    let (m, s) = (detached(mean), detached(std));
    let (mean, std) = (operand(&m), operand(&s));
    match std {
        Operand::S(v) => check_std(v)?,
        Operand::T(t) => {
            if !values(t)?.iter().all(|&x| x >= 0.0) {
                bail!(Runtime, "normal expects all elements of std >= 0.0");
            }
        }
    }
    let shape = match (mean, std) {
        (Operand::T(a), Operand::T(b)) => broadcast_pair(a.shape(), b.shape())?,
        (Operand::T(a), _) | (_, Operand::T(a)) => a.shape().to_vec(),
        _ => bail!(Runtime, "normal: mean or std must be a tensor"),
    };
    let like = match (mean, std) {
        (Operand::T(a), _) | (_, Operand::T(a)) => a,
        _ => unreachable!("one side is a tensor (checked above)"),
    };
    let dt = if like.dtype().is_float() { like.dtype() } else { DType::F32 };
    let z = randn_gen(gen, &shape, dt)?.to_device_kernel(like.device())?;
    let scaled = binary(BinaryOp::Mul, Operand::T(&z), std)?;
    binary(BinaryOp::Add, Operand::T(&scaled), mean)
}

/// A tensor operand detached (a number stays one).
enum Held {
    T(Tensor),
    S(Scalar),
}

fn detached(o: Operand) -> Held {
    match o {
        Operand::T(t) => Held::T(t.detach()),
        Operand::S(s) => Held::S(s),
    }
}

fn operand(h: &Held) -> Operand<'_> {
    match h {
        Held::T(t) => Operand::T(t),
        Held::S(s) => Operand::S(*s),
    }
}

/// The broadcast of two shapes, with the message of `torch.broadcast_shapes`.
fn broadcast_pair(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let nd = a.len().max(b.len());
    let mut out = vec![1; nd];
    for s in [a, b] {
        for (i, &d) in s.iter().enumerate() {
            let j = nd - s.len() + i;
            if d != 1 {
                if out[j] != 1 && out[j] != d {
                    bail!(
                        Runtime,
                        "Shape mismatch: objects cannot be broadcast to a single shape.  Mismatch is between arg 0 and arg 1."
                    );
                }
                out[j] = d;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_python_does() {
        let cases = [
            (-1.0, "-1"),
            (1.5, "1.5"),
            (-0.0, "0"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
            (-1e-5, "-1e-05"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (-0.125, "-0.125"),
            (1e20, "100000000000000000000"),
            (2f64.powi(70), "1180591620717411303424"),
            (0.1, "0.1"),
            (123456.789, "123456.789"),
            (5e-324, "5e-324"),
        ];
        for (v, want) in cases {
            assert_eq!(number_text(v), want, "{v}");
        }
        assert_eq!(number_text(1e300).len(), 301);
        assert!(number_text(1e300).starts_with("1000000000000000052504760255204420248704468581108159"));
        assert_eq!(number_text(-f64::MAX).len(), 310);
    }

    #[test]
    fn random_range_defaults_and_bounds() {
        assert_eq!(random_range(DType::F32, 0, None).unwrap(), (0, 1 << 24));
        assert_eq!(random_range(DType::F16, 0, None).unwrap(), (0, 1 << 53));
        assert_eq!(random_range(DType::I8, 0, None).unwrap(), (0, i128::from(i64::MAX)));
        assert!(random_range(DType::I32, 0, Some(1 << 40)).is_err());
        assert!(random_range(DType::I64, -(1 << 64), Some(0)).is_err());
        assert!(random_range(DType::F32, 3, Some(3)).is_err());
    }

    #[test]
    fn refusals_leave_the_stream() {
        let g = Generator::new(9);
        let before = g.get_state();
        let t = Tensor::from_vec(vec![0f32; 4], &[4]);
        assert!(sample_(Some(&g), &t, Dist::Geometric { p: 1.0 }).is_err());
        assert!(bernoulli(Some(&g), &Tensor::from_vec(vec![0.5f32, 2.0], &[2]), None).is_err());
        assert!(normal_tensors(Some(&g), Operand::T(&t), Operand::S(Scalar::Float(-1.0))).is_err());
        assert_eq!(g.get_state(), before);
    }
}
