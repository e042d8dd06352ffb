//! Pooling kernels over planes: every pooling (max, average, adaptive, their adjoints) reads
//! per-dim window tables, so one loop nest serves them all. A plane is one `[D, H, W]` block
//! of a contiguous tensor (1-D and 2-D poolings have leading dims of size 1); planes run in
//! parallel above a size threshold, each writing only its own output block.

use super::PAR_THRESHOLD;
use crate::error::{Error, Result};
use crate::storage::Element;
use rayon::prelude::*;

/// One spatial dim of a pooling: output position `o` reads input positions
/// `first[o] + j * step` for `j < count[o]`.
#[derive(Clone, Debug)]
pub struct Windows {
    pub first: Vec<usize>,
    pub count: Vec<usize>,
    pub step: usize,
}

impl Windows {
    /// The window table of a dim the pooling does not have (size 1 in and out).
    pub fn unit() -> Windows {
        Windows { first: vec![0], count: vec![1], step: 1 }
    }

    pub fn len(&self) -> usize {
        self.first.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }
}

/// Element types max pooling compares: NaN wins a window, as in PyTorch.
pub trait PoolValue: Element {
    const LOWEST: Self;
    fn nan(self) -> bool;
}

macro_rules! pool_value {
    ($t:ty, $low:expr, $nan:expr) => {
        impl PoolValue for $t {
            const LOWEST: Self = $low;
            #[inline]
            fn nan(self) -> bool {
                #[allow(clippy::redundant_closure_call)]
                ($nan)(self)
            }
        }
    };
}
pool_value!(f32, f32::NEG_INFINITY, |v: f32| v.is_nan());
pool_value!(f64, f64::NEG_INFINITY, |v: f64| v.is_nan());
pool_value!(i64, i64::MIN, |_v: i64| false);
pool_value!(i32, i32::MIN, |_v: i32| false);

/// Float element types averaged (sum, then one division, as PyTorch's kernels).
pub trait PoolFloat:
    Element + std::ops::Add<Output = Self> + std::ops::Div<Output = Self> + std::ops::AddAssign
{
}
impl PoolFloat for f32 {}
impl PoolFloat for f64 {}

/// Where the divisor of an average lives: indexed by output position (the forward pooling),
/// by input position (its adjoint, which reads the forward's outputs), or one constant.
pub enum Divisor<'a> {
    Dst(&'a [Vec<f64>; 3]),
    Src(&'a [Vec<f64>; 3]),
    Const(f64),
}

/// A buffer of `len` copies of `v`, or an error naming its size when the allocation fails
/// (pooling sizes come from the user's arguments, so they must not abort the process).
fn try_filled<T: Clone>(len: usize, v: T) -> Result<Vec<T>> {
    let mut out = Vec::new();
    if out.try_reserve_exact(len).is_err() {
        let bytes = len.saturating_mul(std::mem::size_of::<T>());
        return Err(Error::Runtime(format!(
            "DefaultCPUAllocator: can't allocate memory: you tried to allocate {bytes} bytes."
        )));
    }
    out.resize(len, v);
    Ok(out)
}

fn plane_len(w: &[Windows; 3]) -> usize {
    w.iter().map(Windows::len).product()
}

/// Runs `f(plane, out_chunk)` over the planes, in parallel when the work is large.
fn for_planes<T: Send>(out: &mut [T], per: usize, work: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if per == 0 || out.is_empty() {
        return;
    }
    if work >= PAR_THRESHOLD && out.len() > per {
        out.par_chunks_mut(per).enumerate().for_each(|(p, o)| f(p, o));
    } else {
        out.chunks_mut(per).enumerate().for_each(|(p, o)| f(p, o));
    }
}

fn window_work(w: &[Windows; 3], planes: usize) -> usize {
    let k: usize = w.iter().map(|d| d.count.iter().copied().max().unwrap_or(0)).product();
    planes.saturating_mul(plane_len(w)).saturating_mul(k.max(1))
}

/// One step of a max window scan, without a branch (window values are data, so a branch on
/// the comparison mispredicts about half the time): `v` wins over `best` when it is larger
/// or NaN, so the first maximum and the last NaN win, as in PyTorch.
#[inline(always)]
fn take_max<T: PoolValue>(best: T, at: usize, v: T, i: usize) -> (T, usize) {
    let take = (v > best) | v.nan();
    (if take { v } else { best }, if take { i } else { at })
}

/// Whether the windows are the common 2-D 2x2 / stride 2 tiling without padding (every
/// window whole, starting at `2 * o`), which has its own loop.
fn is_pairs(w: &[Windows; 3]) -> bool {
    let pairs = |d: &Windows| {
        d.step == 1 && d.count.iter().all(|&c| c == 2) && d.first.iter().enumerate().all(|(o, &f)| f == 2 * o)
    };
    w[0].len() == 1 && w[0].count[0] == 1 && w[0].first[0] == 0 && pairs(&w[1]) && pairs(&w[2])
}

/// 2x2 / stride 2 max pooling of one plane of width `wd` into `ow`-wide output rows: two input
/// rows per output row, read in PyTorch's window order (row by row).
fn max_pool_pairs<T: PoolValue>(plane: &[T], wd: usize, ow: usize, vo: &mut [T], io: &mut [i64]) {
    if ow == 0 {
        return;
    }
    for (oy, (vrow, irow)) in vo.chunks_exact_mut(ow).zip(io.chunks_exact_mut(ow)).enumerate() {
        let base = 2 * oy * wd;
        let r0 = &plane[base..][..2 * ow];
        let r1 = &plane[base + wd..][..2 * ow];
        for (ox, ((v, i), (p0, p1))) in
            vrow.iter_mut().zip(irow.iter_mut()).zip(r0.chunks_exact(2).zip(r1.chunks_exact(2))).enumerate()
        {
            let at0 = base + 2 * ox;
            let (mut best, mut at) = (p0[0], at0);
            (best, at) = take_max(best, at, p0[1], at0 + 1);
            (best, at) = take_max(best, at, p1[0], at0 + wd);
            (best, at) = take_max(best, at, p1[1], at0 + wd + 1);
            *v = best;
            *i = at as i64;
        }
    }
}

/// Max pooling of `planes` planes of size `size` (`[D, H, W]`): the values and, for each,
/// the flat index inside its input plane of the element that won (the last NaN, else the
/// first maximum).
pub fn max_pool<T: PoolValue>(
    src: &[T],
    planes: usize,
    size: [usize; 3],
    w: &[Windows; 3],
) -> Result<(Vec<T>, Vec<i64>)> {
    let (ip, op) = (size.iter().product::<usize>(), plane_len(w));
    let n = planes * op;
    let mut vals = try_filled(n, T::LOWEST)?;
    let mut idx = try_filled(n, 0i64)?;
    let [_, h, wd] = size;
    let work = window_work(w, planes);
    let pairs = is_pairs(w);
    // Values and indices of one plane are written together, so zip their chunks.
    let run = |p: usize, vo: &mut [T], io: &mut [i64]| {
        let plane = &src[p * ip..(p + 1) * ip];
        if pairs {
            max_pool_pairs(plane, wd, w[2].len(), vo, io);
            return;
        }
        let mut o = 0;
        for a in 0..w[0].len() {
            let (fz, cz) = (w[0].first[a], w[0].count[a]);
            for b in 0..w[1].len() {
                let (fy, cy) = (w[1].first[b], w[1].count[b]);
                for c in 0..w[2].len() {
                    let (fx, cx) = (w[2].first[c], w[2].count[c]);
                    let mut best = T::LOWEST;
                    let mut at = (fz * h + fy) * wd + fx;
                    for z in 0..cz {
                        let zz = fz + z * w[0].step;
                        for y in 0..cy {
                            let row = (zz * h + fy + y * w[1].step) * wd + fx;
                            for x in 0..cx {
                                let i = row + x * w[2].step;
                                (best, at) = take_max(best, at, plane[i], i);
                            }
                        }
                    }
                    vo[o] = best;
                    io[o] = at as i64;
                    o += 1;
                }
            }
        }
    };
    if op == 0 || n == 0 {
        return Ok((vals, idx));
    }
    if work >= PAR_THRESHOLD && planes > 1 {
        vals.par_chunks_mut(op)
            .zip(idx.par_chunks_mut(op))
            .enumerate()
            .for_each(|(p, (vo, io))| run(p, vo, io));
    } else {
        vals.chunks_mut(op).zip(idx.chunks_mut(op)).enumerate().for_each(|(p, (vo, io))| run(p, vo, io));
    }
    Ok((vals, idx))
}

/// Windowed sums divided as `div` says: the average pooling (`Divisor::Dst`/`Const`) and its
/// adjoint (`Src`, with the windows of each input position over the forward's outputs).
pub fn window_sum<T: PoolFloat>(
    src: &[T],
    planes: usize,
    size: [usize; 3],
    w: &[Windows; 3],
    div: &Divisor,
) -> Result<Vec<T>> {
    let (ip, op) = (size.iter().product::<usize>(), plane_len(w));
    let mut out = try_filled(planes * op, T::default())?;
    let [_, h, wd] = size;
    for_planes(&mut out, op, window_work(w, planes), |p, out| {
        let plane = &src[p * ip..(p + 1) * ip];
        let mut o = 0;
        for a in 0..w[0].len() {
            let (fz, cz) = (w[0].first[a], w[0].count[a]);
            for b in 0..w[1].len() {
                let (fy, cy) = (w[1].first[b], w[1].count[b]);
                for c in 0..w[2].len() {
                    let (fx, cx) = (w[2].first[c], w[2].count[c]);
                    let mut acc = T::default();
                    for z in 0..cz {
                        let zz = fz + z * w[0].step;
                        for y in 0..cy {
                            let yy = fy + y * w[1].step;
                            let row = (zz * h + yy) * wd;
                            for x in 0..cx {
                                let xx = fx + x * w[2].step;
                                let v = plane[row + xx];
                                acc += match div {
                                    Divisor::Src(d) => v / T::from_f64(d[0][zz] * d[1][yy] * d[2][xx]),
                                    _ => v,
                                };
                            }
                        }
                    }
                    out[o] = match div {
                        Divisor::Dst(d) => acc / T::from_f64(d[0][a] * d[1][b] * d[2][c]),
                        Divisor::Const(k) => acc / T::from_f64(*k),
                        Divisor::Src(_) => acc,
                    };
                    o += 1;
                }
            }
        }
    });
    Ok(out)
}

/// `out[p][idx[p][i]] (+)= src[p][i]` per plane into zeroed planes of `dst_plane` elements:
/// max pooling's gradient (accumulating) and max unpooling (assigning). Indices are checked.
pub fn plane_scatter<T: Element + std::ops::Add<Output = T>>(
    src: &[T],
    idx: &[i64],
    planes: usize,
    dst_plane: usize,
    accumulate: bool,
) -> Result<Vec<T>> {
    let mut out = try_filled(planes * dst_plane, T::default())?;
    let sp = src.len().checked_div(planes).unwrap_or(0);
    if idx.iter().any(|&i| i < 0 || i as u64 >= dst_plane as u64) {
        return Err(Error::Runtime("pooling: an index lies outside its plane".into()));
    }
    for_planes(&mut out, dst_plane, src.len(), |p, out| {
        let (s, ix) = (&src[p * sp..(p + 1) * sp], &idx[p * sp..(p + 1) * sp]);
        for (&v, &i) in s.iter().zip(ix) {
            let i = i as usize;
            out[i] = if accumulate { out[i] + v } else { v };
        }
    });
    Ok(out)
}

/// `out[p][i] = src[p][idx[p][i]]` per plane (the adjoint of [`plane_scatter`]).
pub fn plane_gather<T: Element>(src: &[T], idx: &[i64], planes: usize, src_plane: usize) -> Result<Vec<T>> {
    if idx.iter().any(|&i| i < 0 || i as u64 >= src_plane as u64) {
        return Err(Error::Runtime("pooling: an index lies outside its plane".into()));
    }
    let per = idx.len().checked_div(planes).unwrap_or(0);
    let mut out = try_filled(idx.len(), T::default())?;
    for_planes(&mut out, per, idx.len(), |p, out| {
        let s = &src[p * src_plane..(p + 1) * src_plane];
        for (o, &i) in out.iter_mut().zip(&idx[p * per..(p + 1) * per]) {
            *o = s[i as usize];
        }
    });
    Ok(out)
}
