//! Set ops and counting: `unique` (flat and along a dim), `unique_consecutive`, `isin`,
//! `histc`, `bincount`. Their result sizes depend on the data. On the wgpu device they compute
//! there after the host's argument checks: `unique` / `unique_consecutive` (gpu/set_ops.rs,
//! gpu/unique_dim.rs: sort, group flags, a scan, and one read back of the number of groups,
//! as PyTorch's CUDA unique synchronizes for it), `isin` (gpu/set_ops.rs: no readback),
//! `histc` (gpu/histogram.rs: none with an explicit range, one for the data's range) and
//! `bincount` (one, for the negative-value check and the length). What the kernels do not
//! take (other dtypes, sizes beyond their u32 arithmetic, a range or input the host must
//! refuse) reads the input back and computes here, so every error is the host's.

use crate::bail;
use crate::cpu::set_ops::{keys_of, radix_sort, unique_consecutive_keys, unique_keys, SortKey};
use crate::error::Result;
use crate::ops::inplace::scalar_type_name;
use crate::shape::normalize_dim;
use crate::tensor::Tensor;
use crate::{with_dtype, DType, Device};
use rayon::prelude::*;

/// What `unique` and `unique_consecutive` return: values, and inverse / counts when asked.
pub struct UniqueOut {
    pub values: Tensor,
    pub inverse: Option<Tensor>,
    pub counts: Option<Tensor>,
}

fn on(t: Tensor, device: Device) -> Result<Tensor> {
    t.to_device_kernel(device)
}

fn long(v: Vec<i64>, shape: &[usize], device: Device) -> Result<Tensor> {
    on(Tensor::from_vec(v, shape), device)
}

impl Tensor {
    /// The elements in row-major order: borrowed when contiguous on the CPU, else a copy.
    fn elements<T: crate::storage::Element>(&self) -> Result<std::borrow::Cow<'_, [T]>> {
        if !self.is_gpu() && self.is_contiguous() && self.dtype() == T::DTYPE {
            let off = self.layout().offset;
            return Ok(std::borrow::Cow::Borrowed(&self.storage_slice::<T>()[off..off + self.numel()]));
        }
        Ok(std::borrow::Cow::Owned(self.try_to_vec::<T>()?))
    }

    /// `torch.unique(sorted, return_inverse, return_counts, dim)`. The values are always sorted
    /// (PyTorch's CPU kernel sorts for `sorted=False` too); every NaN is its own value.
    pub fn unique(&self, inverse: bool, counts: bool, dim: Option<i64>) -> Result<UniqueOut> {
        if let Some(d) = dim {
            return self.unique_dim(d, inverse, counts, false);
        }
        if let Some(u) = self.unique_device(false, inverse, counts)? {
            return Ok(u);
        }
        let dev = self.device();
        with_dtype!(self.dtype(), T => {
            let keys = keys_of::<T>(&self.elements::<T>()?)?;
            let u = unique_keys(keys, T::HAS_NAN, inverse, counts)?;
            let n = u.keys.len();
            let vals: Vec<T> = u.keys.iter().map(|&k| T::from_key(k)).collect();
            Ok(UniqueOut {
                values: on(Tensor::from_vec(vals, &[n]), dev)?,
                inverse: u.inverse.map(|v| long(v, self.shape(), dev)).transpose()?,
                counts: u.counts.map(|v| long(v, &[n], dev)).transpose()?,
            })
        })
    }

    /// `torch.unique_consecutive(return_inverse, return_counts, dim)`.
    pub fn unique_consecutive(&self, inverse: bool, counts: bool, dim: Option<i64>) -> Result<UniqueOut> {
        if let Some(d) = dim {
            return self.unique_dim(d, inverse, counts, true);
        }
        if let Some(u) = self.unique_device(true, inverse, counts)? {
            return Ok(u);
        }
        let dev = self.device();
        with_dtype!(self.dtype(), T => {
            let keys = keys_of::<T>(&self.try_to_vec::<T>()?)?;
            let (k, inv, cnt) = unique_consecutive_keys(&keys, T::HAS_NAN);
            let n = k.len();
            let vals: Vec<T> = k.iter().map(|&k| T::from_key(k)).collect();
            Ok(UniqueOut {
                values: on(Tensor::from_vec(vals, &[n]), dev)?,
                inverse: if inverse { Some(long(inv, self.shape(), dev)?) } else { None },
                counts: if counts { Some(long(cnt, &[n], dev)?) } else { None },
            })
        })
    }

    /// The flat `unique` / `unique_consecutive` of a device tensor computed on the device, or
    /// None (a CPU tensor, or a dtype or size the device kernels do not take).
    fn unique_device(&self, consecutive: bool, inverse: bool, counts: bool) -> Result<Option<UniqueOut>> {
        if !self.is_gpu() {
            return Ok(None);
        }
        #[cfg(feature = "wgpu")]
        if let Some(g) = crate::gpu::set_ops::unique(&self.detach(), consecutive, inverse, counts)? {
            return Ok(Some(UniqueOut { values: g.values, inverse: g.inverse, counts: g.counts }));
        }
        let _ = (consecutive, inverse, counts);
        Ok(None)
    }

    /// `unique` / `unique_consecutive` of the slices along `dim`, compared lexicographically.
    fn unique_dim(&self, dim: i64, inverse: bool, counts: bool, consecutive: bool) -> Result<UniqueOut> {
        let d = normalize_dim(dim, self.ndim())?;
        if self.ndim() == 0 {
            bail!(Index, "Dimension out of range (expected to be in range of [-1, 0], but got {})", dim);
        }
        let n = self.shape()[d];
        if self.numel() == 0 && self.shape().iter().enumerate().any(|(i, &s)| s == 0 && i != d) {
            bail!(
                Runtime,
                "There are 0 sized dimensions, and they aren't selected, so unique cannot be applied"
            );
        }
        #[cfg(feature = "wgpu")]
        if self.is_gpu() {
            let x = self.detach();
            if let Some(g) = crate::gpu::unique_dim::unique_dim(&x, d, consecutive, inverse, counts)? {
                return Ok(UniqueOut { values: g.values, inverse: g.inverse, counts: g.counts });
            }
        }
        let dev = self.device();
        let rows = self.detach().transpose(0, d as i64)?;
        let row_len = self.numel().checked_div(n).unwrap_or(0);
        let has_nan = self.dtype().is_float();
        let keys: Vec<u64> = with_dtype!(self.dtype(), T => keys_of::<T>(&rows.try_to_vec::<T>()?)?);
        let row = |i: usize| &keys[i * row_len..(i + 1) * row_len];
        let same = |a: usize, b: usize| row(a) == row(b) && !(has_nan && row(a).contains(&u64::MAX));
        let mut order: Vec<usize> = (0..n).collect();
        if !consecutive {
            order.sort_by(|&a, &b| row(a).cmp(row(b)));
        }
        let (mut picks, mut cnt, mut inv) = (Vec::new(), Vec::<i64>::new(), vec![0i64; n]);
        for (pos, &i) in order.iter().enumerate() {
            if pos == 0 || !same(order[pos - 1], i) {
                picks.push(i as i64);
                cnt.push(0);
            }
            *cnt.last_mut().expect("a group was opened") += 1;
            inv[i] = picks.len() as i64 - 1;
        }
        let m = picks.len();
        let index = long(picks, &[m], dev)?;
        Ok(UniqueOut {
            values: self.detach().index_select(d as i64, &index)?,
            inverse: if inverse { Some(long(inv, &[n], dev)?) } else { None },
            counts: if counts { Some(long(cnt, &[m], dev)?) } else { None },
        })
    }

    /// `torch.isin(elements, test_elements, invert=...)`: compared in the promoted dtype; NaN is
    /// in no set.
    pub fn isin(&self, test: &Tensor, invert: bool) -> Result<Tensor> {
        let dt = DType::promote(self.dtype(), test.dtype());
        let dev = self.device();
        #[cfg(feature = "wgpu")]
        if self.is_gpu() {
            if let Some(out) = crate::gpu::set_ops::isin(&self.detach(), &test.detach(), dt, invert)? {
                return Ok(out);
            }
        }
        let (elems, set) = with_dtype!(dt, T => {
            let e = keys_of::<T>(&self.try_to_vec::<T>()?)?;
            let s = keys_of::<T>(&test.try_to_vec::<T>()?)?;
            (e, s)
        });
        let mut set: Vec<u64> = set.into_iter().filter(|&k| !(dt.is_float() && k == u64::MAX)).collect();
        radix_sort(&mut set, None)?;
        set.dedup();
        let test = |k: &u64| set.binary_search(k).is_ok() != invert;
        let out: Vec<bool> = if elems.len() >= crate::cpu::PAR_THRESHOLD {
            elems.par_iter().map(test).collect()
        } else {
            elems.iter().map(test).collect()
        };
        on(Tensor::from_vec(out, self.shape()), dev)
    }

    /// `torch.histc(bins, min, max)`: equal-width bins over [min, max] (the data's range when
    /// both are 0); values outside and NaN are not counted.
    pub fn histc(&self, bins: i64, min: f64, max: f64) -> Result<Tensor> {
        if !self.dtype().is_float() {
            bail!(
                NotImplemented,
                "\"histogram_cpu\" not implemented for '{}'",
                scalar_type_name(self.dtype())
            );
        }
        if bins <= 0 {
            bail!(Runtime, "torch.histogram(): bins must be > 0, but got {} for dimension 0", bins);
        }
        if min > max {
            bail!(Runtime, "torch.histc: max must be larger than min");
        }
        #[cfg(feature = "wgpu")]
        if let Some(out) = self.histc_device(bins as usize, min, max)? {
            return Ok(out);
        }
        let dev = self.device();
        let out = match self.dtype() {
            DType::F32 => histc_of::<f32>(&self.try_to_vec()?, bins as usize, min as f32, max as f32)?,
            dt @ (DType::F16 | DType::BF16) => {
                histc_of::<f32>(&self.try_to_vec()?, bins as usize, min as f32, max as f32)?
                    .cast_kernel(dt)?
            }
            _ => histc_of::<f64>(&self.try_to_vec()?, bins as usize, min, max)?,
        };
        on(out, dev)
    }

    /// `torch.bincount(weights, minlength)`: int64 counts, or sums of the weights (float32
    /// weights stay float32, any other dtype sums in float64).
    pub fn bincount(&self, weights: Option<&Tensor>, minlength: i64) -> Result<Tensor> {
        if !self.dtype().is_int() {
            bail!(
                NotImplemented,
                "\"bincount_cpu\" not implemented for '{}'",
                scalar_type_name(self.dtype())
            );
        }
        if minlength < 0 {
            bail!(Runtime, "minlength should be >= 0");
        }
        if self.ndim() != 1 {
            bail!(Runtime, "bincount only supports 1-d non-negative integral inputs.");
        }
        #[cfg(feature = "wgpu")]
        if let Some(out) = self.bincount_device(weights, minlength as usize)? {
            return Ok(out);
        }
        let v = self.try_to_vec::<i64>()?;
        if v.iter().any(|&x| x < 0) {
            bail!(Runtime, "bincount only supports 1-d non-negative integral inputs.");
        }
        if let Some(w) = weights {
            if w.ndim() != 1 || w.numel() != v.len() {
                bail!(Runtime, "weights should be 1-d and have the same length as input");
            }
        }
        let len = v.iter().map(|&x| x as usize + 1).max().unwrap_or(0).max(minlength as usize);
        let dev = self.device();
        match weights {
            None => {
                let mut out = zeroed::<i64>(len)?;
                for &x in &v {
                    out[x as usize] += 1;
                }
                long(out, &[len], dev)
            }
            Some(w) if w.dtype() == DType::F32 => on(weighted_counts::<f32>(&v, &w.try_to_vec()?, len)?, dev),
            Some(w) => on(weighted_counts::<f64>(&v, &w.try_to_vec()?, len)?, dev),
        }
    }
}

#[cfg(feature = "wgpu")]
impl Tensor {
    /// `histc` of a float32/float64 device tensor on the device (after the caller's checks):
    /// the edges are the host's, from the data's range when `min == max` (read back: one
    /// small copy; a NaN or infinite range goes to the host path, which raises its error).
    /// None for a CPU tensor or what the kernels do not take.
    fn histc_device(&self, bins: usize, min: f64, max: f64) -> Result<Option<Tensor>> {
        if !self.is_gpu() || !matches!(self.dtype(), DType::F32 | DType::F64) {
            return Ok(None);
        }
        let x = self.detach();
        // The host's arithmetic in the input's dtype: float32 edges are rounded first.
        let f32s = self.dtype() == DType::F32;
        let round = |v: f64| if f32s { v as f32 as f64 } else { v };
        let (mut lo, mut hi) = (round(min), round(max));
        if lo == hi && x.numel() > 0 {
            let Some(range) = crate::gpu::histogram::float_range(&x)? else { return Ok(None) };
            (lo, hi) = range;
        }
        if lo == hi {
            (lo, hi) = (round(lo - 1.0), round(hi + 1.0));
        }
        if !lo.is_finite() || !hi.is_finite() {
            return Ok(None);
        }
        crate::gpu::histogram::histc(&x, bins, lo, hi)
    }

    /// `bincount` of an int32/int64 device tensor on the device (after the caller's dtype,
    /// minlength and shape checks): one readback of the extremes, for the negative-value
    /// error and the result's length. None (the host path, its checks in its order) for a CPU
    /// tensor, weights that are not a matching 1-d device tensor, or what the kernels do not
    /// take.
    fn bincount_device(&self, weights: Option<&Tensor>, minlength: usize) -> Result<Option<Tensor>> {
        if !self.is_gpu() || !matches!(self.dtype(), DType::I32 | DType::I64) {
            return Ok(None);
        }
        let out = match weights {
            None => DType::I64,
            Some(w) if !w.is_gpu() || w.ndim() != 1 || w.numel() != self.numel() => return Ok(None),
            Some(w) if w.dtype() == DType::F32 => DType::F32,
            Some(_) => DType::F64,
        };
        if !crate::gpu::supports(out) || self.numel() > u32::MAX as usize / 2 {
            return Ok(None);
        }
        let x = self.detach();
        let mut len = minlength;
        if x.numel() > 0 {
            let (lo, hi) = crate::gpu::histogram::int_range(&x)?;
            if lo < 0 {
                bail!(Runtime, "bincount only supports 1-d non-negative integral inputs.");
            }
            len = len.max(hi as usize + 1);
        }
        let w = weights.map(|w| w.detach());
        crate::gpu::histogram::bincount(&x, w.as_ref(), len, out)
    }
}

/// `n` default elements, allocated fallibly: sizes come from the data (bincount's largest
/// value, histc's bins), and a huge one is an error, not an abort.
fn zeroed<T: Clone + Default>(n: usize) -> Result<Vec<T>> {
    let mut v = crate::storage::try_vec_with_capacity(n)?;
    v.resize(n, T::default());
    Ok(v)
}

fn weighted_counts<T: num_traits::Float + crate::storage::Element>(
    v: &[i64],
    w: &[T],
    len: usize,
) -> Result<Tensor> {
    let mut out = zeroed::<T>(len)?;
    for (&x, &wt) in v.iter().zip(w) {
        out[x as usize] = out[x as usize] + wt;
    }
    Ok(Tensor::from_vec(out, &[len]))
}

fn histc_of<T: num_traits::Float + crate::storage::Element + std::fmt::Display>(
    v: &[T],
    nb: usize,
    min: T,
    max: T,
) -> Result<Tensor> {
    let (mut lo, mut hi) = (min, max);
    if lo == hi && !v.is_empty() {
        // The data's range, NaN propagating as in aminmax.
        let nan = v.iter().any(|x| x.is_nan());
        lo = if nan { T::nan() } else { v.iter().copied().fold(T::infinity(), T::min) };
        hi = if nan { T::nan() } else { v.iter().copied().fold(T::neg_infinity(), T::max) };
    }
    if lo == hi {
        lo = lo - T::one();
        hi = hi + T::one();
    }
    if !lo.is_finite() || !hi.is_finite() {
        let f = |x: T| if x.is_nan() { "-nan".to_string() } else { format!("{x}") };
        bail!(Runtime, "torch.histc: range of [{}, {}] is not finite", f(lo), f(hi));
    }
    let mut hist = zeroed::<T>(nb)?;
    let nbt = T::from(nb).unwrap_or_else(T::one);
    for &x in v {
        if x >= lo && x <= hi {
            // PyTorch's linear interpolation: (x - lo) * bins / (hi - lo), the top edge in the last bin.
            let pos = ((x - lo) * nbt / (hi - lo)).to_usize().unwrap_or(0).min(nb - 1);
            hist[pos] = hist[pos] + T::one();
        }
    }
    Ok(Tensor::from_vec(hist, &[nb]))
}
