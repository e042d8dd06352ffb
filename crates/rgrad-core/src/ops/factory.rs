//! Creation ops: ranges and random tensors, drawn from a `Generator` (the default one when
//! none is given, seeded by `manual_seed`).

use crate::bail;
use crate::error::Result;
use crate::random::{default_generator, with_gen, Generator, Rng};
use crate::shape::storage_numel;
use crate::storage::{try_collect, Element};
use crate::tensor::Tensor;
use crate::{with_dtype, DType, Device, Scalar};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

/// `manual_seed(seed)`: makes every later random op reproducible.
pub fn manual_seed(seed: u64) {
    default_generator().manual_seed(seed);
}

/// Runs `f` with the default generator (seeded from the OS on first use).
pub fn with_rng<R>(f: impl FnOnce(&mut Rng) -> R) -> R {
    default_generator().with(f)
}

fn float_dtype(dtype: DType) -> Result<DType> {
    if !dtype.is_float() {
        bail!(Runtime, "\"check_uniform_bounds\" not implemented for '{}'", dtype);
    }
    Ok(dtype)
}

/// A tensor of `shape` whose elements are drawn in order from `draw` (checked size, fallible
/// allocation).
pub(crate) fn drawn<T: Element>(
    gen: Option<&Generator>,
    shape: &[usize],
    mut draw: impl FnMut(&mut Rng) -> T,
) -> Result<Tensor> {
    let n = storage_numel(shape, std::mem::size_of::<T>())?;
    crate::shape::checked_contiguous_strides(shape)?;
    let v = with_gen(gen, |r| try_collect(n, (0..n).map(|_| draw(r))))?;
    Tensor::try_from_vec(v, shape)
}

/// `rand(*shape)`: uniform on [0, 1).
pub fn rand_uniform(shape: &[usize], dtype: DType) -> Result<Tensor> {
    rand_uniform_gen(None, shape, dtype)
}

/// `rand(*shape, generator=gen)`: one draw per element in row-major order, so a shape drawn
/// in chunks gives the same numbers.
pub fn rand_uniform_gen(gen: Option<&Generator>, shape: &[usize], dtype: DType) -> Result<Tensor> {
    match float_dtype(dtype)? {
        DType::F32 => drawn(gen, shape, |r| r.random::<f32>()),
        DType::F64 => drawn(gen, shape, |r| r.random::<f64>()),
        dt => drawn(gen, shape, |r| r.random::<f32>())?.cast_kernel(dt),
    }
}

/// `rand(*shape, generator=gen, device=device)`. A device tensor's uniforms are computed on
/// the device from the generator's keystream (gpu/chacha.rs): the host's numbers, nothing
/// drawn here or uploaded.
pub fn rand_uniform_on(
    gen: Option<&Generator>,
    shape: &[usize],
    dtype: DType,
    device: Device,
) -> Result<Tensor> {
    let dt = float_dtype(dtype)?;
    #[cfg(feature = "wgpu")]
    if device == Device::Wgpu {
        if let Some(t) = crate::gpu::chacha::draw(gen, shape, dt, crate::gpu::chacha::Draw::Uniform)? {
            return Ok(t);
        }
    }
    rand_uniform_gen(gen, shape, dt)?.to_device_kernel(device)
}

/// `randn(*shape)`: standard normal.
pub fn randn(shape: &[usize], dtype: DType) -> Result<Tensor> {
    randn_gen(None, shape, dtype)
}

/// `randn(*shape, generator=gen, device=device)`: drawn on the host for both devices (the
/// normal sampler rejects a variable number of words, so a device cannot know where its
/// element's words start) and uploaded.
pub fn randn_on(gen: Option<&Generator>, shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
    randn_gen(gen, shape, dtype)?.to_device_kernel(device)
}

/// `randn(*shape, generator=gen)`.
pub fn randn_gen(gen: Option<&Generator>, shape: &[usize], dtype: DType) -> Result<Tensor> {
    match float_dtype(dtype)? {
        DType::F32 => drawn(gen, shape, |r| -> f32 { StandardNormal.sample(r) }),
        DType::F64 => drawn(gen, shape, |r| -> f64 { StandardNormal.sample(r) }),
        dt => drawn(gen, shape, |r| -> f32 { StandardNormal.sample(r) })?.cast_kernel(dt),
    }
}

/// `arange(start, end, step)`: ints give int64, any float gives the default float.
pub fn arange(start: Scalar, end: Scalar, step: Scalar, dtype: Option<DType>) -> Result<Tensor> {
    let any_float = [start, end, step].iter().any(|s| matches!(s, Scalar::Float(_)));
    let dtype = dtype.unwrap_or(if any_float { DType::F32 } else { DType::I64 });
    let (s, e, st) = (start.to_f64(), end.to_f64(), step.to_f64());
    if st == 0.0 {
        bail!(Runtime, "step must be nonzero");
    }
    if !(s.is_finite() && e.is_finite()) {
        bail!(Runtime, "unsupported range: {} -> {}", s, e);
    }
    if (st > 0.0 && e < s) || (st < 0.0 && e > s) {
        bail!(Runtime, "upper bound and larger bound inconsistent with step sign");
    }
    let size = ((e - s) / st).ceil().max(0.0);
    // PyTorch's check: the length must be a representable element count.
    if size > i64::MAX as f64 {
        bail!(Runtime, "invalid size, possible overflow?");
    }
    let n = size as usize;
    with_dtype!(dtype, T => {
        storage_numel(&[n], std::mem::size_of::<T>())?;
        let v: Vec<T> = match (start, step) {
            // Wrapping as PyTorch's int64 arithmetic does near the ends of the range.
            (Scalar::Int(a), Scalar::Int(b)) => {
                try_collect(n, (0..n as i64).map(|i| T::from_i64(a.wrapping_add(i.wrapping_mul(b)))))?
            }
            _ => try_collect(n, (0..n).map(|i| T::from_f64(s + i as f64 * st)))?,
        };
        Tensor::try_from_vec(v, &[n])
    })
}

/// `linspace(start, end, steps)`, symmetric from both ends as PyTorch computes it.
pub fn linspace(start: f64, end: f64, steps: i64, dtype: DType) -> Result<Tensor> {
    if steps < 0 {
        bail!(Runtime, "number of steps must be non-negative");
    }
    let n = steps as usize;
    storage_numel(&[n], dtype.itemsize())?;
    let step = if n > 1 { (end - start) / (n - 1) as f64 } else { 0.0 };
    let half = n / 2;
    let vals = (0..n).map(|i| {
        if i < half || n == 1 {
            start + step * i as f64
        } else {
            end - step * (n - 1 - i) as f64
        }
    });
    with_dtype!(dtype, T => Tensor::try_from_vec(try_collect(n, vals.map(T::from_f64))?, &[n]))
}

/// `randint(low, high, shape)`.
pub fn randint(low: i64, high: i64, shape: &[usize], dtype: DType) -> Result<Tensor> {
    randint_gen(None, low, high, shape, dtype)
}

/// `randint(low, high, shape, generator=gen)`.
pub fn randint_gen(
    gen: Option<&Generator>,
    low: i64,
    high: i64,
    shape: &[usize],
    dtype: DType,
) -> Result<Tensor> {
    if low >= high {
        bail!(Runtime, "random_ expects 'from' to be less than 'to', but got from={} >= to={}", low, high);
    }
    drawn(gen, shape, |r| r.random_range(low..high))?.cast_kernel(dtype)
}

/// `randperm(n)`: a random permutation of `0..n`.
pub fn randperm(n: usize) -> Result<Tensor> {
    randperm_gen(None, n)
}

/// `randperm(n, generator=gen)` (Fisher-Yates from the top).
pub fn randperm_gen(gen: Option<&Generator>, n: usize) -> Result<Tensor> {
    storage_numel(&[n], 8)?;
    let mut v: Vec<i64> = try_collect(n, 0..n as i64)?;
    with_gen(gen, |r| {
        for i in (1..n).rev() {
            let j = r.random_range(0..=i);
            v.swap(i, j);
        }
    });
    Tensor::try_from_vec(v, &[n])
}
