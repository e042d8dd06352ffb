//! Convolution kernels: im2col / col2im onto the project's GEMM, one N-d implementation (1-D
//! and 2-D run as 3-D with size-1 leading dims), parallel over the batch.
//!
//! Every kernel speaks in the convolution's own terms: the "a" side is the convolution's
//! input (`ca` channels, `a` spatial sizes), the "b" side its output (`cb` channels, `b`
//! sizes), and the weight is `[cb, ca / groups, k...]`. A transposed convolution is the
//! data-gradient kernel read forwards, so the three kernels cover both ops and their
//! gradients.

use crate::cpu::matmul::{matmul_with, Mat};
use crate::error::{Error, Result};
use crate::storage::Element;
use rayon::prelude::*;

/// Elements the convolution kernels run on (floats through gemm; integers through the plain
/// loop of `matmul_with`).
pub trait ConvElement: Element + std::ops::AddAssign + std::ops::Mul<Output = Self> {}
impl ConvElement for f32 {}
impl ConvElement for f64 {}
impl ConvElement for i32 {}
impl ConvElement for i64 {}

/// The shape of one convolution, spatial dims padded to three (leading size-1 dims with
/// stride 1, padding 0, dilation 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub batch: usize,
    pub ca: usize,
    pub cb: usize,
    pub groups: usize,
    pub a: [usize; 3],
    pub b: [usize; 3],
    pub k: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
    pub dilation: [usize; 3],
}

impl ConvGeometry {
    fn a_len(&self) -> usize {
        self.a.iter().product()
    }

    fn b_len(&self) -> usize {
        self.b.iter().product()
    }

    fn k_len(&self) -> usize {
        self.k.iter().product()
    }

    /// Rows of one group's column matrix: `ca / groups` channels times the kernel.
    fn col_rows(&self) -> usize {
        self.ca / self.groups * self.k_len()
    }

    /// A 1x1 convolution with stride 1 and no padding: the input is its own column matrix.
    fn is_pointwise(&self) -> bool {
        self.k_len() == 1 && self.stride == [1; 3] && self.padding == [0; 3] && self.a == self.b
    }

    fn weight_len(&self) -> usize {
        self.cb * self.col_rows()
    }
}

/// For kernel offset `kk` along one dim: the output positions `o` whose input position
/// `o * s - p + kk * d` lies inside `0..n`, as a range of `o` in `0..out`.
fn valid_range(out: usize, n: usize, s: usize, p: usize, d: usize, kk: usize) -> (usize, usize) {
    // i = o*s + kk*d - p; need 0 <= i < n.
    let shift = kk * d; // i = o*s + shift - p
    let lo = if shift >= p { 0 } else { (p - shift).div_ceil(s) };
    // o*s + shift - p < n  <=>  o*s < n + p - shift
    let lim = n + p;
    let hi = if lim <= shift { 0 } else { (lim - shift).div_ceil(s).min(out) };
    (lo.min(hi), hi)
}

/// Which direction the column matrix moves: gather from the image (im2col) or add back into
/// it (col2im).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Gather,
    Scatter,
}

/// im2col (`Gather`: `cols[(c, kd, kh, kw), (od, oh, ow)] = image[c, ...]`, zero outside) or
/// col2im (`Scatter`: `image[c, ...] += cols[...]`) for `channels` channels of one image.
fn columns<T: ConvElement>(g: &ConvGeometry, channels: usize, image: *mut T, cols: *mut T, dir: Direction) {
    let [ad, ah, aw] = g.a;
    let [bd, bh, bw] = g.b;
    let [kd, kh, kw] = g.k;
    let a_len = g.a_len();
    let b_len = g.b_len();
    let mut row = 0usize;
    for c in 0..channels {
        for z in 0..kd {
            let (zlo, zhi) = valid_range(bd, ad, g.stride[0], g.padding[0], g.dilation[0], z);
            for y in 0..kh {
                let (ylo, yhi) = valid_range(bh, ah, g.stride[1], g.padding[1], g.dilation[1], y);
                for x in 0..kw {
                    let (xlo, xhi) = valid_range(bw, aw, g.stride[2], g.padding[2], g.dilation[2], x);
                    // SAFETY: `row < channels * k_len` and every index below is inside the
                    // valid ranges, so both pointers stay inside their buffers (sized by the
                    // callers from the same geometry).
                    unsafe {
                        let crow = cols.add(row * b_len);
                        if dir == Direction::Gather
                            && (zlo > 0 || zhi < bd || ylo > 0 || yhi < bh || xlo > 0 || xhi < bw)
                        {
                            std::ptr::write_bytes(crow, 0, b_len);
                        }
                        for oz in zlo..zhi {
                            let iz = oz * g.stride[0] + z * g.dilation[0] - g.padding[0];
                            for oy in ylo..yhi {
                                let iy = oy * g.stride[1] + y * g.dilation[1] - g.padding[1];
                                let img = image.add(c * a_len + (iz * ah + iy) * aw);
                                let col = crow.add((oz * bh + oy) * bw);
                                let ix0 = xlo * g.stride[2] + x * g.dilation[2] - g.padding[2];
                                let n = xhi - xlo;
                                match (dir, g.stride[2]) {
                                    (Direction::Gather, 1) => {
                                        std::ptr::copy_nonoverlapping(img.add(ix0), col.add(xlo), n)
                                    }
                                    (Direction::Gather, s) => {
                                        for j in 0..n {
                                            *col.add(xlo + j) = *img.add(ix0 + j * s);
                                        }
                                    }
                                    (Direction::Scatter, s) => {
                                        for j in 0..n {
                                            *img.add(ix0 + j * s) += *col.add(xlo + j);
                                        }
                                    }
                                }
                            }
                        }
                    }
                    row += 1;
                }
            }
        }
    }
}

/// One output channel of a convolution whose groups have one input channel (depthwise):
/// `out += sum_k w[k] * shifted(image)`, one multiply-add pass over the output per kernel
/// offset, without a column matrix.
fn depthwise_channel<T: ConvElement>(g: &ConvGeometry, image: &[T], w: &[T], out: &mut [T]) {
    let [ad, ah, aw] = g.a;
    let [bd, bh, bw] = g.b;
    let [kd, kh, kw] = g.k;
    let mut kk = 0;
    for z in 0..kd {
        let (zlo, zhi) = valid_range(bd, ad, g.stride[0], g.padding[0], g.dilation[0], z);
        for y in 0..kh {
            let (ylo, yhi) = valid_range(bh, ah, g.stride[1], g.padding[1], g.dilation[1], y);
            for x in 0..kw {
                let (xlo, xhi) = valid_range(bw, aw, g.stride[2], g.padding[2], g.dilation[2], x);
                let wk = w[kk];
                kk += 1;
                let s = g.stride[2];
                for oz in zlo..zhi {
                    let iz = oz * g.stride[0] + z * g.dilation[0] - g.padding[0];
                    for oy in ylo..yhi {
                        let iy = oy * g.stride[1] + y * g.dilation[1] - g.padding[1];
                        let ix0 = xlo * s + x * g.dilation[2] - g.padding[2];
                        let src = &image[(iz * ah + iy) * aw..][..aw];
                        let dst = &mut out[(oz * bh + oy) * bw..][xlo..xhi];
                        if s == 1 {
                            for (o, &v) in dst.iter_mut().zip(&src[ix0..]) {
                                *o += wk * v;
                            }
                        } else {
                            for (j, o) in dst.iter_mut().enumerate() {
                                *o += wk * src[ix0 + j * s];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Output planes from this many positions up take the direct depthwise kernel.
const DIRECT_DEPTHWISE_PLANE: usize = 48 * 48;

/// A pointer that may cross to rayon's threads: each task writes a disjoint region.
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// Read through a method so closures capture the whole (Send) wrapper, not its field.
    fn get(self) -> *mut T {
        self.0
    }
}

/// A zeroed buffer, or an error naming its size when the allocation fails (a convolution's
/// buffers are sized by the user's arguments, so they must not abort the process).
pub fn zeroed<T: ConvElement>(len: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    if v.try_reserve_exact(len).is_err() {
        let bytes = len.saturating_mul(std::mem::size_of::<T>());
        return Err(Error::Runtime(format!(
            "DefaultCPUAllocator: can't allocate memory: you tried to allocate {bytes} bytes."
        )));
    }
    v.resize(len, T::default());
    Ok(v)
}

/// The batch split into one contiguous range of images per worker.
fn batch_ranges(batch: usize) -> Vec<std::ops::Range<usize>> {
    let workers = rayon::current_num_threads().clamp(1, batch.max(1));
    let per = batch.div_ceil(workers).max(1);
    (0..workers).map(|c| (c * per).min(batch)..((c + 1) * per).min(batch)).collect()
}

/// Runs `f(image_index, scratch, gemm_may_split)` for every image: in parallel over the batch
/// when there are several (the GEMMs inside then run single-threaded), else one image at a
/// time with multithreaded GEMMs. Scratch buffers are allocated up front, fallibly.
fn for_each_image<T: ConvElement>(
    batch: usize,
    scratch: usize,
    f: impl Fn(usize, &mut [T], bool) + Sync,
) -> Result<()> {
    let ranges = batch_ranges(batch);
    let mut bufs = ranges.iter().map(|_| zeroed::<T>(scratch)).collect::<Result<Vec<_>>>()?;
    if ranges.len() > 1 {
        bufs.par_iter_mut().zip(ranges).for_each(|(buf, r)| r.for_each(|n| f(n, buf, false)));
    } else {
        (0..batch).for_each(|n| f(n, &mut bufs[0], true));
    }
    Ok(())
}

/// Convolution forward: `b[n] = W @ im2col(a[n]) (+ bias)`, `a` `[batch, ca, a...]` and the
/// result `[batch, cb, b...]`, both contiguous.
pub fn forward<T: ConvElement>(g: &ConvGeometry, a: &[T], w: &[T], bias: Option<&[T]>) -> Result<Vec<T>> {
    let (a_img, b_img) = (g.ca * g.a_len(), g.cb * g.b_len());
    let mut out = zeroed::<T>(g.batch * b_img)?;
    let (rows, p, cbg, cag) = (g.col_rows(), g.b_len(), g.cb / g.groups, g.ca / g.groups);
    let pointwise = g.is_pointwise();
    let outp = SendPtr(out.as_mut_ptr());
    // Depthwise groups on large planes run the direct kernel: measured on this 2-core machine
    // (noisy), 32x32x56x56 took 19 ms direct vs 25 ms through im2col, while on 32x32 planes
    // im2col was as fast or faster (11 vs 13 ms).
    let direct = cag == 1 && g.groups > 1 && p >= DIRECT_DEPTHWISE_PLANE;
    let scratch = if pointwise || direct { 0 } else { rows * p };
    for_each_image::<T>(g.batch, scratch, |n, cols, par| {
        // SAFETY: image `n` owns `out[n * b_img..][..b_img]`; no other task touches it.
        let ob = unsafe { std::slice::from_raw_parts_mut(outp.get().add(n * b_img), b_img) };
        if let Some(bias) = bias {
            for (c, row) in ob.chunks_mut(p.max(1)).enumerate() {
                row.fill(bias[c]);
            }
        }
        if direct {
            for (o, out_c) in ob.chunks_mut(p.max(1)).enumerate().take(g.cb) {
                let img = &a[n * a_img + (o / cbg) * g.a_len()..][..g.a_len()];
                depthwise_channel(g, img, &w[o * rows..][..rows], out_c);
            }
            return;
        }
        for grp in 0..g.groups {
            let img = &a[n * a_img + grp * cag * g.a_len()..][..cag * g.a_len()];
            let colm = if pointwise {
                Mat { data: img, offset: 0, rs: p, cs: 1 }
            } else {
                columns(g, cag, img.as_ptr() as *mut T, cols.as_mut_ptr(), Direction::Gather);
                Mat { data: &cols[..], offset: 0, rs: p, cs: 1 }
            };
            let wm = Mat { data: w, offset: grp * cbg * rows, rs: rows, cs: 1 };
            let o = &mut ob[grp * cbg * p..][..cbg * p];
            matmul_with(wm, colm, o, cbg, rows, p, bias.is_some(), par);
        }
    })?;
    Ok(out)
}

/// The data gradient of a convolution (a transposed convolution's forward):
/// `a[n] = col2im(W^T @ b[n])`, `b` `[batch, cb, b...]` and the result `[batch, ca, a...]`.
pub fn backward_data<T: ConvElement>(g: &ConvGeometry, b: &[T], w: &[T]) -> Result<Vec<T>> {
    let (a_img, b_img) = (g.ca * g.a_len(), g.cb * g.b_len());
    let mut out = zeroed::<T>(g.batch * a_img)?;
    let (rows, p, cbg, cag) = (g.col_rows(), g.b_len(), g.cb / g.groups, g.ca / g.groups);
    let pointwise = g.is_pointwise();
    let outp = SendPtr(out.as_mut_ptr());
    for_each_image::<T>(g.batch, if pointwise { 0 } else { rows * p }, |n, cols, par| {
        for grp in 0..g.groups {
            // SAFETY: image `n`, group `grp` owns this slice of `out` alone.
            let img = unsafe {
                std::slice::from_raw_parts_mut(
                    outp.get().add(n * a_img + grp * cag * g.a_len()),
                    cag * g.a_len(),
                )
            };
            let bm = Mat { data: b, offset: n * b_img + grp * cbg * p, rs: p, cs: 1 };
            // W_g^T: [rows x cbg] read from the [cbg x rows] block.
            let wt = Mat { data: w, offset: grp * cbg * rows, rs: 1, cs: rows };
            if pointwise {
                matmul_with(wt, bm, img, rows, cbg, p, false, par);
            } else {
                matmul_with(wt, bm, cols, rows, cbg, p, false, par);
                columns(g, cag, img.as_mut_ptr(), cols.as_mut_ptr(), Direction::Scatter);
            }
        }
    })?;
    Ok(out)
}

/// The weight gradient: `dW = sum_n b[n] @ im2col(a[n])^T`, as `[cb, ca / groups, k...]`.
/// The batch is split into one chunk per thread, each summing into its own buffer.
pub fn backward_weight<T: ConvElement>(g: &ConvGeometry, a: &[T], b: &[T]) -> Result<Vec<T>> {
    let (a_img, b_img) = (g.ca * g.a_len(), g.cb * g.b_len());
    let (rows, p, cbg, cag) = (g.col_rows(), g.b_len(), g.cb / g.groups, g.ca / g.groups);
    let wlen = g.weight_len();
    let pointwise = g.is_pointwise();
    let chunk_sum = |range: std::ops::Range<usize>, dw: &mut [T], cols: &mut [T], par: bool| {
        for (i, n) in range.enumerate() {
            for grp in 0..g.groups {
                let img = &a[n * a_img + grp * cag * g.a_len()..][..cag * g.a_len()];
                // im2col(a)^T: [p x rows].
                let colt = if pointwise {
                    Mat { data: img, offset: 0, rs: 1, cs: p }
                } else {
                    columns(g, cag, img.as_ptr() as *mut T, cols.as_mut_ptr(), Direction::Gather);
                    Mat { data: &cols[..], offset: 0, rs: 1, cs: p }
                };
                let bm = Mat { data: b, offset: n * b_img + grp * cbg * p, rs: p, cs: 1 };
                let o = &mut dw[grp * cbg * rows..][..cbg * rows];
                matmul_with(bm, colt, o, cbg, p, rows, i > 0, par);
            }
        }
    };
    // One partial sum and one column buffer per worker, summed at the end.
    let ranges = batch_ranges(g.batch);
    let scratch = if pointwise { 0 } else { rows * p };
    let mut parts =
        ranges.iter().map(|_| Ok((zeroed::<T>(wlen)?, zeroed::<T>(scratch)?))).collect::<Result<Vec<_>>>()?;
    let split = parts.len() > 1;
    parts.par_iter_mut().zip(ranges).for_each(|((dw, cols), r)| chunk_sum(r, dw, cols, !split));
    let mut parts = parts.into_iter().map(|(dw, _)| dw);
    let mut dw = parts.next().unwrap_or_default();
    for part in parts {
        dw.iter_mut().zip(part).for_each(|(u, v)| *u += v);
    }
    Ok(dw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geo(a: usize, k: usize, s: usize, p: usize, d: usize) -> ConvGeometry {
        let b = (a + 2 * p - d * (k - 1) - 1) / s + 1;
        ConvGeometry {
            batch: 1,
            ca: 1,
            cb: 1,
            groups: 1,
            a: [1, 1, a],
            b: [1, 1, b],
            k: [1, 1, k],
            stride: [1, 1, s],
            padding: [0, 0, p],
            dilation: [1, 1, d],
        }
    }

    /// The plain definition, for comparison.
    fn naive(g: &ConvGeometry, a: &[f64], w: &[f64]) -> Vec<f64> {
        (0..g.b[2])
            .map(|o| {
                (0..g.k[2])
                    .filter_map(|kk| {
                        let i = (o * g.stride[2] + kk * g.dilation[2]) as isize - g.padding[2] as isize;
                        (i >= 0 && (i as usize) < g.a[2]).then(|| a[i as usize] * w[kk])
                    })
                    .sum()
            })
            .collect()
    }

    /// The plain 2-D definition (one image, groups 1), for the im2col paths with padding,
    /// strides and dilation.
    fn naive_2d(g: &ConvGeometry, a: &[f64], w: &[f64]) -> Vec<f64> {
        let ([_, ah, aw], [_, bh, bw], [_, kh, kw]) = (g.a, g.b, g.k);
        let mut out = vec![0.0; g.cb * bh * bw];
        for o in 0..g.cb {
            for oy in 0..bh {
                for ox in 0..bw {
                    let mut acc = 0.0;
                    for c in 0..g.ca {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy =
                                    (oy * g.stride[1] + ky * g.dilation[1]) as isize - g.padding[1] as isize;
                                let ix =
                                    (ox * g.stride[2] + kx * g.dilation[2]) as isize - g.padding[2] as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < ah && (ix as usize) < aw {
                                    let v = a[(c * ah + iy as usize) * aw + ix as usize];
                                    acc += v * w[((o * g.ca + c) * kh + ky) * kw + kx];
                                }
                            }
                        }
                    }
                    out[(o * bh + oy) * bw + ox] = acc;
                }
            }
        }
        out
    }

    #[test]
    fn im2col_2d_with_padding_stride_and_dilation_matches_the_definition() {
        // (channels in, out, size, kernel, stride, padding, dilation): the LeNet / blitz /
        // ResNet / DCGAN shapes in small, rows longer than 64 (the memcpy runs), and kernel
        // offsets that reach only padding.
        for (ca, cb, n, k, s, p, d) in [
            (1, 3, 12, 5, 1, 2, 1),
            (3, 2, 9, 5, 1, 0, 1),
            (2, 2, 7, 3, 1, 1, 1),
            (2, 3, 7, 4, 2, 1, 1),
            (1, 2, 70, 3, 1, 1, 1),
            (2, 1, 6, 3, 1, 4, 1),
            (1, 2, 9, 3, 2, 2, 2),
            (1, 2, 3, 3, 1, 3, 3),
        ] {
            let b = (n + 2 * p - d * (k - 1) - 1) / s + 1;
            let g = ConvGeometry {
                batch: 1,
                ca,
                cb,
                groups: 1,
                a: [1, n, n],
                b: [1, b, b],
                k: [1, k, k],
                stride: [1, s, s],
                padding: [0, p, p],
                dilation: [1, d, d],
            };
            let a: Vec<f64> = (0..ca * n * n).map(|i| ((i * 7919) % 23) as f64 - 11.0).collect();
            let w: Vec<f64> = (0..cb * ca * k * k).map(|i| ((i * 104729) % 13) as f64 - 6.0).collect();
            assert_eq!(forward(&g, &a, &w, None).unwrap(), naive_2d(&g, &a, &w), "{g:?}");
            // The data and weight gradients are the forward's adjoints (exact in integers).
            let v: Vec<f64> = (0..cb * b * b).map(|i| ((i * 31) % 7) as f64 - 3.0).collect();
            let y = naive_2d(&g, &a, &w);
            let lhs: f64 = y.iter().zip(&v).map(|(x, y)| x * y).sum();
            let at = backward_data(&g, &v, &w).unwrap();
            assert_eq!(lhs, a.iter().zip(&at).map(|(x, y)| x * y).sum::<f64>(), "{g:?}");
            let dw = backward_weight(&g, &a, &v).unwrap();
            assert_eq!(lhs, dw.iter().zip(&w).map(|(x, y)| x * y).sum::<f64>(), "{g:?}");
        }
    }

    #[test]
    fn forward_matches_the_definition_and_data_grad_is_its_adjoint() {
        for (n, k, s, p, d) in [(7, 3, 1, 1, 1), (8, 3, 2, 2, 2), (5, 2, 3, 0, 1), (4, 3, 1, 3, 2)] {
            let g = geo(n, k, s, p, d);
            let a: Vec<f64> = (0..n).map(|i| i as f64 * 0.5 - 1.0).collect();
            let w: Vec<f64> = (0..k).map(|i| 1.0 + i as f64).collect();
            let y = forward(&g, &a, &w, None).unwrap();
            assert_eq!(y, naive(&g, &a, &w));
            // <conv(a), v> == <a, conv^T(v)>, and the same bilinear form gives the weight grad.
            let v: Vec<f64> = (0..g.b[2]).map(|i| (i as f64).sin()).collect();
            let at = backward_data(&g, &v, &w).unwrap();
            let lhs: f64 = y.iter().zip(&v).map(|(x, y)| x * y).sum();
            let rhs: f64 = a.iter().zip(&at).map(|(x, y)| x * y).sum();
            assert!((lhs - rhs).abs() < 1e-12);
            let dw = backward_weight(&g, &a, &v).unwrap();
            let via_w: f64 = dw.iter().zip(&w).map(|(x, y)| x * y).sum();
            assert!((lhs - via_w).abs() < 1e-12);
        }
    }
}
