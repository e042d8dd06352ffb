//! The maps behind ops/resample.rs, with PyTorch's argument checks and messages:
//! interpolation (PyTorch's source-index formulas from aten/native/UpSample.h, per dim, then
//! the outer product over the dims), reflection/replication/circular padding, and im2col.

use super::resample::{PlaneMap, MAX_PLANE};
use crate::bail;
use crate::cpu::resample::NONE;
use crate::error::{Error, Result};
use crate::shape::fmt_shape;
use crate::tensor::Tensor;
use crate::DType;
use std::sync::Arc;

/// `F.interpolate`'s modes that are maps (area is adaptive average pooling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interp {
    Nearest,
    NearestExact,
    Linear,
    Cubic,
}

impl Interp {
    pub fn parse(mode: &str) -> Result<Interp> {
        Ok(match mode {
            "nearest" => Interp::Nearest,
            "nearest-exact" => Interp::NearestExact,
            "linear" | "bilinear" | "trilinear" => Interp::Linear,
            "bicubic" => Interp::Cubic,
            _ => bail!(Value, "interpolate: unknown mode '{mode}'"),
        })
    }
}

/// One dim's taps: `taps` (source index, weight) pairs per output position; index -1 reads 0.
struct Axis {
    taps: usize,
    index: Vec<i64>,
    weight: Vec<f64>,
}

fn alloc<T: Clone>(n: usize, fill: T) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Error::Runtime(format!("resampling: cannot allocate a map of {n} taps")))?;
    v.resize(n, fill);
    Ok(v)
}

/// Maps hold at most this many taps (4 bytes of index, 8 of weight each): a bigger output is
/// refused up front with PyTorch's allocation error rather than left to the allocator (which
/// may overcommit and let the process be killed).
const MAX_TAPS: usize = 1 << 31;

/// Checks that the map of an `out`-sized plane with `taps` taps per position, and the
/// output `full`, can be allocated.
fn fits(out: &[usize], taps: usize, full: &[usize], dtype: DType) -> Result<()> {
    let plane = out.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let entries = plane.and_then(|p| p.checked_mul(taps));
    if entries.is_none_or(|e| e > MAX_TAPS) {
        let n = full.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).unwrap_or(usize::MAX);
        return Err(crate::storage::alloc_error(n.saturating_mul(dtype.itemsize())));
    }
    Ok(())
}

/// The outer product of per-dim axes over an input of `in_sizes` (row-major).
fn combine(
    axes: &[Axis],
    in_sizes: &[usize],
    out_sizes: &[usize],
    weighted: bool,
) -> Result<(usize, Vec<u32>, Option<Vec<f64>>)> {
    let overflow = || Error::Runtime("resampling: the map's size overflows".into());
    let taps = axes.iter().try_fold(1usize, |a, x| a.checked_mul(x.taps)).ok_or_else(overflow)?;
    let out_plane = out_sizes.iter().try_fold(1usize, |a, &x| a.checked_mul(x)).ok_or_else(overflow)?;
    let total = out_plane.checked_mul(taps).ok_or_else(overflow)?;
    let mut index = alloc(total, NONE)?;
    let mut weight = if weighted { Some(alloc(total, 0.0f64)?) } else { None };
    let k = axes.len();
    let mut in_stride = vec![1usize; k];
    for d in (0..k.saturating_sub(1)).rev() {
        in_stride[d] = in_stride[d + 1] * in_sizes[d + 1];
    }
    let mut o = vec![0usize; k];
    let mut t = vec![0usize; k];
    for p in 0..out_plane {
        let mut rem = p;
        for d in (0..k).rev() {
            o[d] = rem % out_sizes[d];
            rem /= out_sizes[d];
        }
        for q in 0..taps {
            let mut rem = q;
            for d in (0..k).rev() {
                t[d] = rem % axes[d].taps;
                rem /= axes[d].taps;
            }
            let (mut at, mut w, mut none) = (0usize, 1.0f64, false);
            for d in 0..k {
                let j = o[d] * axes[d].taps + t[d];
                let i = axes[d].index[j];
                if i < 0 {
                    none = true;
                } else {
                    at += i as usize * in_stride[d];
                }
                w *= axes[d].weight[j];
            }
            if !none {
                index[p * taps + q] = at as u32;
                if let Some(ws) = weight.as_mut() {
                    ws[p * taps + q] = w;
                }
            }
        }
    }
    Ok((taps, index, weight))
}

/// PyTorch's `compute_scales_value`: 1 / the given scale, else in / out.
fn scales_value(scale: Option<f64>, n_in: usize, n_out: usize) -> f64 {
    match scale {
        Some(s) if s > 0.0 => 1.0 / s,
        _ => n_in as f64 / n_out as f64,
    }
}

/// `area_pixel_compute_scale`.
fn pixel_scale(n_in: usize, n_out: usize, align_corners: bool, scale: Option<f64>) -> f64 {
    if align_corners {
        if n_out > 1 {
            (n_in as f64 - 1.0) / (n_out as f64 - 1.0)
        } else {
            0.0
        }
    } else {
        scales_value(scale, n_in, n_out)
    }
}

/// `area_pixel_compute_source_index`.
fn source_index(scale: f64, o: usize, align_corners: bool, cubic: bool) -> f64 {
    if align_corners {
        scale * o as f64
    } else {
        let s = scale * (o as f64 + 0.5) - 0.5;
        if !cubic && s < 0.0 {
            0.0
        } else {
            s
        }
    }
}

/// `guard_index_and_lambda`: the floor (clamped to the last index) and the fraction.
fn guard(real: f64, n_in: usize) -> (i64, f64) {
    let i = (real.floor() as i64).min(n_in as i64 - 1);
    (i, (real - i as f64).clamp(0.0, 1.0))
}

fn cubic_weights(t: f64) -> [f64; 4] {
    const A: f64 = -0.75;
    let c1 = |x: f64| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let c2 = |x: f64| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    [c2(t + 1.0), c1(t), c1(1.0 - t), c2(2.0 - t)]
}

/// `shortcuts`: PyTorch's 2-D nearest kernel (`nearest_idx`) copies exactly for scales 1
/// and 2; its 1-D and 3-D kernels always use the float formula.
fn interp_axis(
    mode: Interp,
    n_in: usize,
    n_out: usize,
    align_corners: bool,
    scale: Option<f64>,
    shortcuts: bool,
) -> Result<Axis> {
    let taps = match mode {
        Interp::Nearest | Interp::NearestExact => 1,
        Interp::Linear => 2,
        Interp::Cubic => 4,
    };
    // Fallible: an output axis of 2**31 samples is a 16 GiB index before the output exists.
    let n = n_out
        .checked_mul(taps)
        .ok_or_else(|| Error::Runtime(format!("interpolate: {n_out} output samples overflow")))?;
    let mut index = crate::storage::try_vec_with_capacity(n)?;
    let mut weight = crate::storage::try_vec_with_capacity(n)?;
    let last = n_in as i64 - 1;
    for o in 0..n_out {
        match mode {
            Interp::Nearest => {
                // nearest_idx: exact shortcuts for scale 1 and 2, else float arithmetic.
                let i = if shortcuts && n_out == n_in {
                    o as i64
                } else if shortcuts && n_out == 2 * n_in {
                    (o >> 1) as i64
                } else {
                    let s = scales_value(scale, n_in, n_out) as f32;
                    ((o as f32 * s).floor() as i64).min(last)
                };
                index.push(i);
                weight.push(1.0);
            }
            Interp::NearestExact => {
                let s = scales_value(scale, n_in, n_out) as f32;
                let v = ((o as f64 + 0.5) * s as f64) as f32;
                index.push((v.floor() as i64).min(last));
                weight.push(1.0);
            }
            Interp::Linear => {
                if n_out == n_in {
                    index.extend([o as i64, o as i64]);
                    weight.extend([1.0, 0.0]);
                } else {
                    let s = pixel_scale(n_in, n_out, align_corners, scale);
                    let (i0, l1) = guard(source_index(s, o, align_corners, false), n_in);
                    let i1 = i0 + (i0 < last) as i64;
                    index.extend([i0, i1]);
                    weight.extend([1.0 - l1, l1]);
                }
            }
            Interp::Cubic => {
                let s = pixel_scale(n_in, n_out, align_corners, scale);
                let (i, t) = guard(source_index(s, o, align_corners, true), n_in);
                let w = cubic_weights(t);
                for (j, wj) in w.iter().enumerate() {
                    index.push((i - 1 + j as i64).clamp(0, last));
                    weight.push(*wj);
                }
            }
        }
    }
    Ok(Axis { taps, index, weight })
}

fn dims_label(k: usize) -> &'static [&'static str] {
    match k {
        1 => &["W"],
        2 => &["H", "W"],
        _ => &["D", "H", "W"],
    }
}

fn interp_names(mode: &str, k: usize) -> Result<[&'static str; 2]> {
    Ok(match (mode, k) {
        ("nearest", 1) => ["UpsampleNearest1DBackward0", "UpsampleNearest1DBackwardBackward0"],
        ("nearest", 2) => ["UpsampleNearest2DBackward0", "UpsampleNearest2DBackwardBackward0"],
        ("nearest", 3) => ["UpsampleNearest3DBackward0", "UpsampleNearest3DBackwardBackward0"],
        ("nearest-exact", 1) => {
            ["UpsampleNearestExact1DBackward0", "UpsampleNearestExact1DBackwardBackward0"]
        }
        ("nearest-exact", 2) => {
            ["UpsampleNearestExact2DBackward0", "UpsampleNearestExact2DBackwardBackward0"]
        }
        ("nearest-exact", 3) => {
            ["UpsampleNearestExact3DBackward0", "UpsampleNearestExact3DBackwardBackward0"]
        }
        ("linear", 1) => ["UpsampleLinear1DBackward0", "UpsampleLinear1DBackwardBackward0"],
        ("bilinear", 2) => ["UpsampleBilinear2DBackward0", "UpsampleBilinear2DBackwardBackward0"],
        ("trilinear", 3) => ["UpsampleTrilinear3DBackward0", "UpsampleTrilinear3DBackwardBackward0"],
        ("bicubic", 2) => ["UpsampleBicubic2DBackward0", "UpsampleBicubic2DBackwardBackward0"],
        _ => bail!(NotImplemented, "Got {}D input, but {mode} mode is not supported for it", k + 2),
    })
}

fn kernel_name(mode: &str, k: usize) -> String {
    match mode {
        "nearest-exact" => format!("_upsample_nearest_exact{k}d"),
        m => format!("upsample_{m}{k}d"),
    }
}

/// The map of `F.interpolate(x, size|scale_factor, mode, align_corners)` for `x`'s shape
/// `[N, C, *spatial]`: `size` wins when given, else each output size is
/// `trunc(in * scale)` and the scales reach the index formulas (as in PyTorch's kernels).
pub fn interpolate_plan(
    x: &Tensor,
    mode: &str,
    size: Option<&[i64]>,
    scales: Option<&[f64]>,
    align_corners: bool,
) -> Result<Arc<PlaneMap>> {
    let shape = x.shape();
    let k = shape.len().saturating_sub(2);
    if !(1..=3).contains(&k) {
        bail!(
            NotImplemented,
            "Input Error: Only 3D, 4D and 5D input Tensors supported (got {}D)",
            shape.len()
        );
    }
    let names = interp_names(mode, k)?;
    let interp = Interp::parse(mode)?;
    let spatial = &shape[2..];
    let out: Vec<i64> = match (size, scales) {
        (Some(s), _) if s.len() == k => s.to_vec(),
        (None, Some(sc)) if sc.len() == k => sc
            .iter()
            .zip(spatial)
            .map(|(&s, &n)| {
                // c10::checked_convert<int64_t>: truncation, with an error where it overflows.
                let v = (n as f64 * s).trunc();
                if v.is_finite() && v.abs() < 9.2e18 {
                    Ok(v as i64)
                } else {
                    Err(Error::Runtime("value cannot be converted to type int64_t without overflow".into()))
                }
            })
            .collect::<Result<_>>()?,
        _ => bail!(Runtime, "interpolate: expected {k} output sizes or {k} scale factors"),
    };
    let labels = dims_label(k);
    if spatial.contains(&0) || out.iter().any(|&o| o <= 0) {
        let fmt = |v: Vec<String>| {
            labels.iter().zip(v).map(|(l, x)| format!("{l}: {x}")).collect::<Vec<_>>().join(", ")
        };
        bail!(
            Runtime,
            "Input and output sizes should be greater than 0, but got input ({}) output ({})",
            fmt(spatial.iter().map(|x| x.to_string()).collect()),
            fmt(out.iter().map(|x| x.to_string()).collect())
        );
    }
    let out: Vec<usize> = out.iter().map(|&o| o as usize).collect();
    let mut full = shape[..2].to_vec();
    full.extend_from_slice(&out);
    if full.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).is_none_or(|n| n > i64::MAX as usize) {
        bail!(Runtime, "Storage size calculation overflowed with sizes={}", fmt_shape(&full));
    }
    if shape[1..].iter().product::<usize>() == 0 {
        bail!(
            Runtime,
            "Non-empty {}D data tensor expected but got a tensor with sizes {}",
            shape.len(),
            fmt_shape(shape)
        );
    }
    if !x.dtype().is_float() {
        bail!(
            NotImplemented,
            "\"{}_channels_last\" not implemented for '{}'",
            kernel_name(mode, k),
            x.dtype().legacy_name().trim_end_matches("Tensor")
        );
    }
    if spatial.iter().product::<usize>() > MAX_PLANE {
        bail!(Runtime, "interpolate: input planes of more than 2^32 elements are not supported");
    }
    let taps = match interp {
        Interp::Nearest | Interp::NearestExact => 1usize,
        Interp::Linear => 1 << k,
        Interp::Cubic => 16,
    };
    fits(&out, taps, &full, x.dtype())?;
    let axes: Vec<Axis> = (0..k)
        .map(|d| {
            let scale = scales.map(|s| s[d]).filter(|_| size.is_none());
            interp_axis(interp, spatial[d], out[d], align_corners, scale, k == 2)
        })
        .collect::<Result<_>>()?;
    let weighted = !matches!(interp, Interp::Nearest | Interp::NearestExact);
    let (taps, index, weight) = combine(&axes, spatial, &out, weighted)?;
    Ok(Arc::new(PlaneMap::new(names, spatial.to_vec(), out, taps, 1, index, weight)))
}

/// The padding modes that are maps (constant padding is narrow + cat in Python).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadMode {
    Reflect,
    Replicate,
    Circular,
}

/// The map of `F.pad(x, pad, mode)` over `x`'s last `pad.len() / 2` dims (`pad` in PyTorch's
/// order: the last dim's (left, right) first). Rank/length combinations are checked by the
/// Python caller; this checks sizes as `reflection_pad*d` / `replication_pad*d` /
/// `_pad_circular` do.
pub fn pad_plan(x: &Tensor, pad: &[i64], mode: PadMode) -> Result<Arc<PlaneMap>> {
    let shape = x.shape();
    let k = pad.len() / 2;
    if pad.len() % 2 != 0 || !(1..=3).contains(&k) || shape.len() < k + 1 {
        bail!(Runtime, "pad: expected 2, 4 or 6 padding values for a tensor with more dims");
    }
    let tail = &shape[shape.len() - k..];
    // (left, right) per tail dim, first tail dim first.
    let pads: Vec<(i64, i64)> = (0..k).map(|d| (pad[2 * (k - 1 - d)], pad[2 * (k - 1 - d) + 1])).collect();
    let name = match mode {
        PadMode::Reflect => "reflection",
        PadMode::Replicate => "replication",
        PadMode::Circular => "circular",
    };
    if mode != PadMode::Circular {
        let batch_dims = shape.len() == k + 2;
        let checked = if batch_dims { &shape[1..] } else { shape };
        if checked.contains(&0) || shape.len() > k + 2 {
            bail!(
                Runtime,
                "Expected {}D or {}D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for input, but got: {}",
                k + 1,
                k + 2,
                fmt_shape(shape)
            );
        }
        if x.dtype() == DType::Bool {
            bail!(NotImplemented, "\"{name}_pad{k}d\" not implemented for 'Bool'");
        }
    }
    let out: Vec<i64> = (0..k).map(|d| tail[d] as i64 + pads[d].0 + pads[d].1).collect();
    match mode {
        PadMode::Reflect | PadMode::Replicate => {
            if mode == PadMode::Reflect {
                for j in 0..k {
                    let d = k - 1 - j;
                    let (l, r) = pads[d];
                    if l >= tail[d] as i64 || r >= tail[d] as i64 {
                        bail!(
                            Runtime,
                            "Argument #{}: Padding size should be less than the corresponding input dimension, but got: padding ({l}, {r}) at dimension {} of input {}",
                            4 + 2 * j,
                            shape.len() - 1 - j,
                            fmt_shape(shape)
                        );
                    }
                }
            }
            if out.iter().any(|&o| o < 1) {
                let labels = dims_label(k);
                if k == 1 {
                    bail!(Runtime, "input (W: {}) is too small. Calculated output W: {}", tail[0], out[0]);
                }
                let outs: Vec<String> = labels.iter().zip(&out).map(|(l, o)| format!("{l}: {o}")).collect();
                let ins: Vec<String> = labels.iter().zip(tail).map(|(l, o)| format!("{l}: {o}")).collect();
                bail!(
                    Runtime,
                    "Calculated output {} must be >= 1 in every dimension (input {})",
                    outs.join(" "),
                    ins.join(", ")
                );
            }
        }
        PadMode::Circular => {
            if (0..k).any(|d| pads[d].0 > tail[d] as i64 || pads[d].1 > tail[d] as i64) {
                bail!(Runtime, "Padding value causes wrapping around more than once.");
            }
            if out.iter().any(|&o| o < 0) {
                bail!(Runtime, "Negative padding value is resulting in an empty dimension");
            }
        }
    }
    let out: Vec<usize> = out.iter().map(|&o| o as usize).collect();
    let mut full = shape[..shape.len() - k].to_vec();
    full.extend_from_slice(&out);
    crate::shape::checked_numel(&full)?;
    if tail.iter().product::<usize>() > MAX_PLANE {
        bail!(Runtime, "pad: planes of more than 2^32 elements are not supported");
    }
    fits(&out, 1, &full, x.dtype())?;
    let axes: Vec<Axis> = (0..k)
        .map(|d| {
            let n = tail[d] as i64;
            let index = (0..out[d] as i64)
                .map(|o| {
                    let i = o - pads[d].0;
                    match mode {
                        PadMode::Reflect => {
                            let i = i.abs();
                            if i >= n {
                                2 * (n - 1) - i
                            } else {
                                i
                            }
                        }
                        PadMode::Replicate => i.clamp(0, n - 1),
                        // PyTorch copies the (cropped) body first and wraps the pads from it.
                        PadMode::Circular => {
                            let (lo, hi) = ((-pads[d].0).max(0), n - (-pads[d].1).max(0));
                            let m = hi - lo;
                            if m <= 0 {
                                -1
                            } else {
                                lo + (o - pads[d].0.max(0)).rem_euclid(m)
                            }
                        }
                    }
                })
                .collect();
            Axis { taps: 1, index, weight: vec![1.0; out[d]] }
        })
        .collect();
    let (taps, index, _) = combine(&axes, tail, &out, false)?;
    let names = match (mode, k) {
        (PadMode::Reflect, 1) => ["ReflectionPad1DBackward0", "ReflectionPad1DBackwardBackward0"],
        (PadMode::Reflect, 2) => ["ReflectionPad2DBackward0", "ReflectionPad2DBackwardBackward0"],
        (PadMode::Reflect, _) => ["ReflectionPad3DBackward0", "ReflectionPad3DBackwardBackward0"],
        (PadMode::Replicate, 1) => ["ReplicationPad1DBackward0", "ReplicationPad1DBackwardBackward0"],
        (PadMode::Replicate, 2) => ["ReplicationPad2DBackward0", "ReplicationPad2DBackwardBackward0"],
        (PadMode::Replicate, _) => ["ReplicationPad3DBackward0", "ReplicationPad3DBackwardBackward0"],
        // PyTorch builds circular padding from slices and copies; its node is CopySlices.
        (PadMode::Circular, _) => ["CopySlices", "CopySlices"],
    };
    Ok(Arc::new(PlaneMap::new(names, tail.to_vec(), out, taps, 1, index, None)))
}

/// The 2-D sliding-window geometry of im2col / col2im: (kernel, dilation, padding, stride),
/// each (height, width).
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub kernel: [i64; 2],
    pub dilation: [i64; 2],
    pub padding: [i64; 2],
    pub stride: [i64; 2],
}

impl Window {
    fn check(&self) -> Result<()> {
        let [kh, kw] = self.kernel;
        let [dh, dw] = self.dilation;
        let [ph, pw] = self.padding;
        let [sh, sw] = self.stride;
        if kh <= 0 || kw <= 0 {
            bail!(
                Runtime,
                "kernel size should be greater than zero, but got kernel_height: {kh} kernel_width: {kw}"
            );
        }
        if sh <= 0 || sw <= 0 {
            bail!(
                Runtime,
                "stride should be greater than zero, but got stride_height: {sh} stride_width: {sw}"
            );
        }
        if dh <= 0 || dw <= 0 {
            bail!(
                Runtime,
                "dilation should be greater than zero, but got dilation_height: {dh} dilation_width: {dw}"
            );
        }
        if ph < 0 || pw < 0 {
            bail!(Runtime, "padding should be non-negative, but got pad_height: {ph} pad_width: {pw}");
        }
        Ok(())
    }

    /// Sliding blocks along each dim of an image of `size` (may be non-positive).
    fn blocks(&self, size: [usize; 2]) -> [i128; 2] {
        let b = |d: usize| {
            let span = self.dilation[d] as i128 * (self.kernel[d] as i128 - 1) + 1;
            (size[d] as i128 + 2 * self.padding[d] as i128 - span).div_euclid(self.stride[d] as i128) + 1
        };
        [b(0), b(1)]
    }

    fn describe(&self) -> String {
        let p = |v: [i64; 2]| format!("({}, {})", v[0], v[1]);
        format!(
            "kernel_size={}, dilation={}, padding={}, stride={}",
            p(self.kernel),
            p(self.dilation),
            p(self.padding),
            p(self.stride)
        )
    }
}

/// The im2col map of `[C, H, W]` images to `[C * kh * kw, L]` columns.
fn im2col_map(c: usize, size: [usize; 2], blocks: [usize; 2], w: &Window) -> Result<Arc<PlaneMap>> {
    let [kh, kw] = [w.kernel[0] as usize, w.kernel[1] as usize];
    let overflow = || Error::Runtime("im2col: the column matrix's size overflows".into());
    let rows = c.checked_mul(kh).and_then(|r| r.checked_mul(kw)).ok_or_else(overflow)?;
    let l = blocks[0].checked_mul(blocks[1]).ok_or_else(overflow)?;
    let total = rows.checked_mul(l).ok_or_else(overflow)?;
    if total > MAX_TAPS {
        return Err(crate::storage::alloc_error(total.saturating_mul(4)));
    }
    if c.checked_mul(size[0] * size[1]).is_none_or(|n| n > MAX_PLANE) {
        bail!(Runtime, "im2col: images of more than 2^32 elements are not supported");
    }
    let mut index = alloc(total, NONE)?;
    let (h, wd) = (size[0] as i64, size[1] as i64);
    for ch in 0..c {
        for i in 0..kh {
            for j in 0..kw {
                let row = (ch * kh + i) * kw + j;
                for by in 0..blocks[0] {
                    let y = by as i64 * w.stride[0] - w.padding[0] + i as i64 * w.dilation[0];
                    for bx in 0..blocks[1] {
                        let xx = bx as i64 * w.stride[1] - w.padding[1] + j as i64 * w.dilation[1];
                        if (0..h).contains(&y) && (0..wd).contains(&xx) {
                            index[row * l + by * blocks[1] + bx] = ((ch as i64 * h + y) * wd + xx) as u32;
                        }
                    }
                }
            }
        }
    }
    Ok(Arc::new(PlaneMap::new(
        ["Im2ColBackward0", "Col2ImBackward0"],
        vec![c, size[0], size[1]],
        vec![rows, l],
        1,
        1,
        index,
        None,
    )))
}

fn float_only(x: &Tensor, kernel: &str) -> Result<()> {
    if !x.dtype().is_float() {
        return Err(Error::NotImplemented(format!(
            "\"{kernel}\" not implemented for '{}'",
            x.dtype().legacy_name().trim_end_matches("Tensor")
        )));
    }
    Ok(())
}

/// `F.unfold` of a batched `[N, C, H, W]` input (the caller adds the batch dim).
pub fn im2col_plan(x: &Tensor, w: &Window) -> Result<Arc<PlaneMap>> {
    w.check()?;
    let s = x.shape();
    let batched = s.len() == 4;
    if !(3..=4).contains(&s.len()) || s[batched as usize..].contains(&0) {
        bail!(
            Runtime,
            "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for input, but got: {}",
            fmt_shape(s)
        );
    }
    let s = &s[s.len() - 3..];
    let size = [s[1], s[2]];
    let b = w.blocks(size);
    if b[0] < 1 || b[1] < 1 {
        bail!(
            Runtime,
            "Given input with spatial size ({}, {}), kernel_size=({}, {}), dilation=({}, {}), padding=({}, {}), calculated shape of the array of sliding blocks as ({}, {}), but its components must be at least one.",
            size[0],
            size[1],
            w.kernel[0],
            w.kernel[1],
            w.dilation[0],
            w.dilation[1],
            w.padding[0],
            w.padding[1],
            b[0],
            b[1]
        );
    }
    float_only(x, "im2col_out_cpu")?;
    im2col_map(s[0], size, [b[0] as usize, b[1] as usize], w)
}

/// `F.fold` of a batched `[N, C * kh * kw, L]` input into `[N, C, *output_size]`: the
/// im2col map of the output images, applied transposed.
pub fn col2im_plan(x: &Tensor, output_size: [i64; 2], w: &Window) -> Result<Arc<PlaneMap>> {
    w.check()?;
    let s = x.shape();
    let batched = s.len() == 3;
    if !(2..=3).contains(&s.len()) || s[batched as usize..].contains(&0) {
        bail!(
            Runtime,
            "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero dimensions for input, but got: {}",
            fmt_shape(s)
        );
    }
    let s = &s[s.len() - 2..];
    let k = (w.kernel[0] as u128 * w.kernel[1] as u128) as usize;
    if s[0] % k.max(1) != 0 {
        bail!(
            Runtime,
            "Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got input.size(1)={} and kernel_size=({}, {}).",
            s[0],
            w.kernel[0],
            w.kernel[1]
        );
    }
    if output_size.iter().any(|&o| o <= 0) {
        bail!(
            Runtime,
            "Given output_size=({}, {}), {}, calculated shape of the array of sliding blocks as ({}, {}), which is too small (non-positive)",
            output_size[0],
            output_size[1],
            w.describe(),
            output_size[0],
            output_size[1]
        );
    }
    let size = [output_size[0] as usize, output_size[1] as usize];
    let b = w.blocks(size);
    if b[0] * b[1] != s[1] as i128 || b[0] < 1 || b[1] < 1 {
        bail!(
            Runtime,
            "Given output_size=({}, {}), {}, expected size of input's dimension 2 to match the calculated number of sliding blocks {} * {} = {}, but got input.size(2)={}.",
            output_size[0],
            output_size[1],
            w.describe(),
            b[0],
            b[1],
            b[0] * b[1],
            s[1]
        );
    }
    float_only(x, "col2im_out_cpu")?;
    im2col_map(s[0] / k, size, [b[0] as usize, b[1] as usize], w)
}
