//! Convolution kernels: im2col / col2im onto the project's GEMM, one N-d implementation (1-D
//! and 2-D run as 3-D with size-1 leading dims), parallel over the batch.
//!
//! Every kernel speaks in the convolution's own terms: the "a" side is the convolution's
//! input (`ca` channels, `a` spatial sizes), the "b" side its output (`cb` channels, `b`
//! sizes), and the weight is `[cb, ca / groups, k...]`. A transposed convolution is the
//! data-gradient kernel read forwards, so the three kernels cover both ops and their
//! gradients.

use crate::cpu::conv_direct as direct;
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
impl ConvElement for i16 {}
impl ConvElement for i8 {}
impl ConvElement for u8 {}

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

/// Copies `n` elements between non-overlapping buffers. Rows of small images are a few
/// elements long, and a `memmove` call per row cost more than the copy (15 % of LeNet's
/// second convolution, 10-element rows): runs shorter than 16 are moved as at most two
/// fixed-size (possibly overlapping) blocks instead, which compile to vector moves without a
/// call or a loop. Longer runs stay with `memmove` (28-element rows measured slower as
/// blocks).
///
/// # Safety
/// `src[..n]` must be readable, `dst[..n]` writable, and the two must not overlap.
#[inline(always)]
unsafe fn copy_run_raw<T: Copy>(src: *const T, dst: *mut T, n: usize) {
    use std::ptr::{read_unaligned as rd, write_unaligned as wr};
    unsafe {
        if n >= 16 {
            std::ptr::copy_nonoverlapping(src, dst, n);
        } else if n >= 8 {
            // One block at 0 and one ending at n.
            wr(dst as *mut [T; 8], rd(src as *const [T; 8]));
            wr(dst.add(n - 8) as *mut [T; 8], rd(src.add(n - 8) as *const [T; 8]));
        } else if n >= 4 {
            wr(dst as *mut [T; 4], rd(src as *const [T; 4]));
            wr(dst.add(n - 4) as *mut [T; 4], rd(src.add(n - 4) as *const [T; 4]));
        } else {
            if n > 0 {
                *dst = *src;
            }
            if n > 1 {
                *dst.add(1) = *src.add(1);
            }
            if n > 2 {
                *dst.add(2) = *src.add(2);
            }
        }
    }
}

/// [`copy_run_raw`] on slices of one length (the short-row copies of cpu/conv_direct.rs).
#[inline(always)]
pub(crate) fn copy_run<T: Copy>(src: &[T], dst: &mut [T]) {
    assert_eq!(src.len(), dst.len());
    // SAFETY: both slices hold `len` elements, and a `&mut` cannot overlap a `&`.
    unsafe { copy_run_raw(src.as_ptr(), dst.as_mut_ptr(), src.len()) }
}

/// im2col (`Gather`: `cols[(c, kd, kh, kw), (od, oh, ow)] = image[c, ...]`, zero outside) or
/// col2im (`Scatter`: `image[c, ...] += cols[...]`) for `channels` channels of one image.
/// Column-matrix rows are `ld` apart, so several images' matrices can sit side by side (one
/// GEMM for all of them).
fn columns<T: ConvElement>(
    g: &ConvGeometry,
    channels: usize,
    image: *mut T,
    cols: *mut T,
    ld: usize,
    dir: Direction,
) {
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
                        let crow = cols.add(row * ld);
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
                                    (Direction::Gather, 1) => copy_run_raw(img.add(ix0), col.add(xlo), n),
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

/// Images whose output has few positions are batched, side by side, into one GEMM: a
/// per-image GEMM of LeNet's 6->16 convolution is 16x150x100, too narrow for the GEMM's
/// packing to pay. Chunks take enough images for about `MIN_GEMM_WIDTH` columns, and their
/// column matrix is kept within `COLS_BUDGET` elements (256 KB in f32, so it stays in L2
/// between im2col and the GEMM). Measured interleaved in one process on the 2-core Xeon (single
/// thread, loaded machine): LeNet's 6->16 forward 2.41 -> 1.91 ms and the blitz 6->16 forward
/// 1.51 -> 0.97 ms with 4 images per GEMM, while images with 784 positions (both nets' first
/// convolution) and 1 MB chunks ran slower batched than alone.
const COLS_BUDGET: usize = 1 << 16;
const MIN_GEMM_WIDTH: usize = 512;

/// Images per GEMM for a convolution with `p` output positions and a per-image column matrix
/// of `per_image` elements (1 where batching does not apply: 1x1 and direct depthwise
/// convolutions read the image itself).
fn images_per_gemm(g: &ConvGeometry, p: usize, per_image: usize, batchable: bool) -> usize {
    if !batchable {
        return 1;
    }
    let workers = rayon::current_num_threads().clamp(1, g.batch.max(1));
    let wanted = MIN_GEMM_WIDTH.div_ceil(p.max(1)).min(COLS_BUDGET / per_image.max(1));
    wanted.clamp(1, g.batch.div_ceil(workers).max(1))
}

/// Runs `f(images, scratch, gemm_may_split)` over chunks of at most `sub` consecutive images:
/// the batch is split into one contiguous range per worker, in parallel when there are several
/// (the GEMMs inside then run single-threaded), else on this thread with multithreaded GEMMs.
/// `scratch` elements per worker are allocated up front, fallibly.
fn for_each_chunk<T: ConvElement>(
    batch: usize,
    sub: usize,
    scratch: usize,
    f: impl Fn(std::ops::Range<usize>, &mut [T], bool) + Sync,
) -> Result<()> {
    let ranges = batch_ranges(batch);
    let mut bufs = ranges.iter().map(|_| zeroed::<T>(scratch)).collect::<Result<Vec<_>>>()?;
    let run = |buf: &mut [T], r: std::ops::Range<usize>, par: bool| {
        let mut n = r.start;
        while n < r.end {
            let e = (n + sub.max(1)).min(r.end);
            f(n..e, buf, par);
            n = e;
        }
    };
    if ranges.len() > 1 {
        bufs.par_iter_mut().zip(ranges).for_each(|(buf, r)| run(buf, r, false));
    } else {
        run(&mut bufs[0], 0..batch, true);
    }
    Ok(())
}

/// Copies the `[channels, p]` blocks starting at channel `c0` of images `images` of `b`
/// (`b_img` elements per image) side by side into `dst` as one `[channels, images * p]`
/// matrix.
fn gather_planes<T: ConvElement>(
    b: &[T],
    images: std::ops::Range<usize>,
    b_img: usize,
    c0: usize,
    channels: usize,
    p: usize,
    dst: &mut [T],
) {
    let ld = images.len() * p;
    for (i, n) in images.enumerate() {
        for o in 0..channels {
            dst[o * ld + i * p..][..p].copy_from_slice(&b[n * b_img + (c0 + o) * p..][..p]);
        }
    }
}

/// Convolution forward: `b[n] = W @ im2col(a[n]) (+ bias)`, `a` `[batch, ca, a...]` and the
/// result `[batch, cb, b...]`, both contiguous.
pub fn forward<T: ConvElement>(g: &ConvGeometry, a: &[T], w: &[T], bias: Option<&[T]>) -> Result<Vec<T>> {
    if direct::takes_forward(g) {
        if let Some(out) = direct::forward(g, a, w, bias) {
            return out;
        }
    }
    let (a_img, b_img) = (g.ca * g.a_len(), g.cb * g.b_len());
    let mut out = zeroed::<T>(g.batch * b_img)?;
    let (rows, p, cbg, cag) = (g.col_rows(), g.b_len(), g.cb / g.groups, g.ca / g.groups);
    let pointwise = g.is_pointwise();
    let outp = SendPtr(out.as_mut_ptr());
    // Depthwise groups on large planes run the direct kernel: measured on this 2-core machine
    // (noisy), 32x32x56x56 took 19 ms direct vs 25 ms through im2col, while on 32x32 planes
    // im2col was as fast or faster (11 vs 13 ms).
    let direct = cag == 1 && g.groups > 1 && p >= DIRECT_DEPTHWISE_PLANE;
    let sub = images_per_gemm(g, p, rows * p, !(pointwise || direct));
    // Per worker: the chunk's column matrix, and (when several images share a GEMM) its
    // `[cb, images * p]` result before it is laid out per image.
    let scratch =
        if pointwise || direct { 0 } else { rows * p * sub + if sub > 1 { b_img * sub } else { 0 } };
    for_each_chunk::<T>(g.batch, sub, scratch, |images, buf, par| {
        let (m, n0) = (images.len(), images.start);
        // SAFETY: the chunk's images own `out[n0 * b_img..][..m * b_img]`; no other task
        // touches it.
        let ob = unsafe { std::slice::from_raw_parts_mut(outp.get().add(n0 * b_img), m * b_img) };
        if m == 1 {
            if let Some(bias) = bias {
                for (c, row) in ob.chunks_mut(p.max(1)).enumerate() {
                    row.fill(bias[c]);
                }
            }
        }
        if direct {
            for (i, ob) in ob.chunks_mut(b_img.max(1)).enumerate() {
                if let Some(bias) = bias.filter(|_| m > 1) {
                    for (c, row) in ob.chunks_mut(p.max(1)).enumerate() {
                        row.fill(bias[c]);
                    }
                }
                for (o, out_c) in ob.chunks_mut(p.max(1)).enumerate().take(g.cb) {
                    let img = &a[(n0 + i) * a_img + (o / cbg) * g.a_len()..][..g.a_len()];
                    depthwise_channel(g, img, &w[o * rows..][..rows], out_c);
                }
            }
            return;
        }
        let ld = m * p;
        let (cols, tmp) = buf.split_at_mut(if pointwise { 0 } else { rows * ld });
        for grp in 0..g.groups {
            let colm = if pointwise {
                let img = &a[n0 * a_img + grp * cag * g.a_len()..][..cag * g.a_len()];
                Mat { data: img, offset: 0, rs: p, cs: 1 }
            } else {
                for (i, n) in images.clone().enumerate() {
                    let img = &a[n * a_img + grp * cag * g.a_len()..][..cag * g.a_len()];
                    // SAFETY: column block `i` of the chunk's `[rows, ld]` matrix.
                    let at = unsafe { cols.as_mut_ptr().add(i * p) };
                    columns(g, cag, img.as_ptr() as *mut T, at, ld, Direction::Gather);
                }
                Mat { data: &cols[..], offset: 0, rs: ld, cs: 1 }
            };
            let wm = Mat { data: w, offset: grp * cbg * rows, rs: rows, cs: 1 };
            if m == 1 {
                let o = &mut ob[grp * cbg * p..][..cbg * p];
                matmul_with(wm, colm, o, cbg, rows, p, bias.is_some(), par);
            } else {
                let o = &mut tmp[grp * cbg * ld..][..cbg * ld];
                matmul_with(wm, colm, o, cbg, rows, ld, false, par);
            }
        }
        if m > 1 {
            // `[cb, images * p]` to `[images, cb, p]`, adding the bias on the way.
            for (i, ob) in ob.chunks_mut(b_img.max(1)).enumerate() {
                for (o, dst) in ob.chunks_mut(p.max(1)).enumerate() {
                    let src = &tmp[o * ld + i * p..][..p];
                    match bias {
                        Some(bias) => {
                            let bv = bias[o];
                            dst.iter_mut().zip(src).for_each(|(d, &s)| {
                                *d = bv;
                                *d += s;
                            });
                        }
                        None => dst.copy_from_slice(src),
                    }
                }
            }
        }
    })?;
    Ok(out)
}

/// The data gradient of a convolution (a transposed convolution's forward):
/// `a[n] = col2im(W^T @ b[n])`, `b` `[batch, cb, b...]` and the result `[batch, ca, a...]`.
pub fn backward_data<T: ConvElement>(g: &ConvGeometry, b: &[T], w: &[T]) -> Result<Vec<T>> {
    if direct::takes_data(g) {
        if let Some(out) = direct::backward_data(g, b, w) {
            return out;
        }
    }
    let (a_img, b_img) = (g.ca * g.a_len(), g.cb * g.b_len());
    let mut out = zeroed::<T>(g.batch * a_img)?;
    let (rows, p, cbg, cag) = (g.col_rows(), g.b_len(), g.cb / g.groups, g.ca / g.groups);
    let pointwise = g.is_pointwise();
    let outp = SendPtr(out.as_mut_ptr());
    let sub = images_per_gemm(g, p, rows * p, !pointwise);
    // Per worker: the chunk's column matrix and (several images per GEMM) one group's
    // gradient blocks side by side.
    let scratch = if pointwise { 0 } else { rows * p * sub + if sub > 1 { cbg * p * sub } else { 0 } };
    for_each_chunk::<T>(g.batch, sub, scratch, |images, buf, par| {
        let (m, n0) = (images.len(), images.start);
        let ld = m * p;
        let (cols, bbuf) = buf.split_at_mut(if pointwise { 0 } else { rows * ld });
        for grp in 0..g.groups {
            let bm = if m == 1 {
                Mat { data: b, offset: n0 * b_img + grp * cbg * p, rs: p, cs: 1 }
            } else {
                gather_planes(b, images.clone(), b_img, grp * cbg, cbg, p, bbuf);
                Mat { data: &bbuf[..], offset: 0, rs: ld, cs: 1 }
            };
            // W_g^T: [rows x cbg] read from the [cbg x rows] block.
            let wt = Mat { data: w, offset: grp * cbg * rows, rs: 1, cs: rows };
            if pointwise {
                // SAFETY: image `n0`, group `grp` owns this slice of `out` alone (m == 1).
                let img = unsafe {
                    std::slice::from_raw_parts_mut(
                        outp.get().add(n0 * a_img + grp * cag * g.a_len()),
                        cag * g.a_len(),
                    )
                };
                matmul_with(wt, bm, img, rows, cbg, p, false, par);
                continue;
            }
            matmul_with(wt, bm, cols, rows, cbg, ld, false, par);
            for (i, n) in images.clone().enumerate() {
                // SAFETY: image `n` belongs to this chunk alone; column block `i` of the
                // chunk's matrix is its.
                unsafe {
                    let img = outp.get().add(n * a_img + grp * cag * g.a_len());
                    columns(g, cag, img, cols.as_mut_ptr().add(i * p), ld, Direction::Scatter);
                }
            }
        }
    })?;
    Ok(out)
}

/// The weight gradient: `dW = sum_n b[n] @ im2col(a[n])^T`, as `[cb, ca / groups, k...]`.
/// The batch is split into one range per worker, each summing into its own buffer, and
/// small images are batched so one GEMM reduces over several images.
///
/// Both factors run along the reduced positions, so gemm has to repack one of them across
/// that direction, an element at a time. `dW_g` itself would repack the column matrix
/// (`rows x ld`): for the ResNet block's 64->64 3x3 that repacking was 8% of the training
/// step. When a group has at most `rows` output channels the partial sums are kept as
/// `dW_g^T = im2col(a) @ b_g^T` (`[rows, cbg]`), which repacks only `b_g` (`cbg x ld`), and
/// are transposed once at the end.
pub fn backward_weight<T: ConvElement>(g: &ConvGeometry, a: &[T], b: &[T]) -> Result<Vec<T>> {
    if direct::takes_forward(g) {
        if let Some(out) = direct::backward_weight(g, a, b) {
            return out;
        }
    }
    let (a_img, b_img) = (g.ca * g.a_len(), g.cb * g.b_len());
    let (rows, p, cbg, cag) = (g.col_rows(), g.b_len(), g.cb / g.groups, g.ca / g.groups);
    let wlen = g.weight_len();
    let pointwise = g.is_pointwise();
    let sub = images_per_gemm(g, p, rows * p, !pointwise);
    let transposed = cbg <= rows;
    let chunk_sum = |images: std::ops::Range<usize>, dw: &mut [T], buf: &mut [T], par: bool| {
        let (m, n0) = (images.len(), images.start);
        let ld = m * p;
        let (cols, bbuf) = buf.split_at_mut(if pointwise { 0 } else { rows * ld });
        for grp in 0..g.groups {
            // im2col(a)^T: [ld x rows].
            let colt = if pointwise {
                let img = &a[n0 * a_img + grp * cag * g.a_len()..][..cag * g.a_len()];
                Mat { data: img, offset: 0, rs: 1, cs: p }
            } else {
                for (i, n) in images.clone().enumerate() {
                    let img = &a[n * a_img + grp * cag * g.a_len()..][..cag * g.a_len()];
                    // SAFETY: column block `i` of the chunk's `[rows, ld]` matrix.
                    let at = unsafe { cols.as_mut_ptr().add(i * p) };
                    columns(g, cag, img.as_ptr() as *mut T, at, ld, Direction::Gather);
                }
                Mat { data: &cols[..], offset: 0, rs: 1, cs: ld }
            };
            let bm = if m == 1 {
                Mat { data: b, offset: n0 * b_img + grp * cbg * p, rs: p, cs: 1 }
            } else {
                gather_planes(b, images.clone(), b_img, grp * cbg, cbg, p, bbuf);
                Mat { data: &bbuf[..], offset: 0, rs: ld, cs: 1 }
            };
            let o = &mut dw[grp * cbg * rows..][..cbg * rows];
            // `dw` starts zeroed, so every chunk accumulates.
            if transposed {
                // [rows x ld] @ [ld x cbg]: both operands read transposed.
                let (colm, bt) = (colt.t(), bm.t());
                matmul_with(colm, bt, o, rows, ld, cbg, true, par);
            } else {
                matmul_with(bm, colt, o, cbg, ld, rows, true, par);
            }
        }
    };
    // One partial sum and one scratch buffer per worker, summed at the end.
    let ranges = batch_ranges(g.batch);
    let scratch = if pointwise { 0 } else { rows * p * sub + if sub > 1 { cbg * p * sub } else { 0 } };
    let mut parts =
        ranges.iter().map(|_| Ok((zeroed::<T>(wlen)?, zeroed::<T>(scratch)?))).collect::<Result<Vec<_>>>()?;
    let split = parts.len() > 1;
    parts.par_iter_mut().zip(ranges).for_each(|((dw, buf), r)| {
        let mut n = r.start;
        while n < r.end {
            let e = (n + sub).min(r.end);
            chunk_sum(n..e, dw, buf, !split);
            n = e;
        }
    });
    let mut parts = parts.into_iter().map(|(dw, _)| dw);
    let mut dw = parts.next().unwrap_or_default();
    for part in parts {
        dw.iter_mut().zip(part).for_each(|(u, v)| *u += v);
    }
    if !transposed {
        return Ok(dw);
    }
    // Each group's `[rows, cbg]` block to `[cbg, rows]`.
    let mut out = zeroed::<T>(wlen)?;
    for (dst, src) in out.chunks_mut((cbg * rows).max(1)).zip(dw.chunks((cbg * rows).max(1))) {
        for (o, row) in dst.chunks_mut(rows.max(1)).enumerate() {
            for (r, d) in row.iter_mut().enumerate() {
                *d = src[r * cbg + o];
            }
        }
    }
    Ok(out)
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
    fn images_batched_into_one_gemm_match_one_image_at_a_time() {
        // Small images are batched per GEMM (several column matrices side by side); every
        // image's result must equal the same convolution run on that image alone. Shapes:
        // LeNet's second convolution in small, groups, a strided one, rows shorter than 4
        // and 8 (the short copies), and a transposed-convolution-like stride 2.
        for (batch, ca, cb, groups, n, k, s, p) in [
            (5, 3, 4, 1, 9, 5, 1, 0),
            (4, 4, 6, 2, 7, 3, 1, 1),
            (3, 2, 3, 1, 8, 4, 2, 1),
            (7, 1, 2, 1, 5, 3, 1, 0),
            (6, 2, 2, 1, 11, 3, 1, 1),
        ] {
            let b = (n + 2 * p - (k - 1) - 1) / s + 1;
            let one = ConvGeometry {
                batch: 1,
                ca,
                cb,
                groups,
                a: [1, n, n],
                b: [1, b, b],
                k: [1, k, k],
                stride: [1, s, s],
                padding: [0, p, p],
                dilation: [1, 1, 1],
            };
            let all = ConvGeometry { batch, ..one.clone() };
            let (a_img, b_img) = (ca * n * n, cb * b * b);
            let x: Vec<f64> = (0..batch * a_img).map(|i| ((i * 7919) % 23) as f64 - 11.0).collect();
            let w: Vec<f64> =
                (0..cb * ca / groups * k * k).map(|i| ((i * 104729) % 13) as f64 - 6.0).collect();
            let v: Vec<f64> = (0..batch * b_img).map(|i| ((i * 31) % 7) as f64 - 3.0).collect();
            let bias: Vec<f64> = (0..cb).map(|i| i as f64 - 1.5).collect();
            let y = forward(&all, &x, &w, Some(&bias)).unwrap();
            let dx = backward_data(&all, &v, &w).unwrap();
            let dw = backward_weight(&all, &x, &v).unwrap();
            let mut dw_sum = vec![0.0; dw.len()];
            for i in 0..batch {
                let (xi, vi) = (&x[i * a_img..][..a_img], &v[i * b_img..][..b_img]);
                assert_eq!(&y[i * b_img..][..b_img], &forward(&one, xi, &w, Some(&bias)).unwrap()[..]);
                assert_eq!(&dx[i * a_img..][..a_img], &backward_data(&one, vi, &w).unwrap()[..]);
                let part = backward_weight(&one, xi, vi).unwrap();
                dw_sum.iter_mut().zip(part).for_each(|(u, v)| *u += v);
            }
            assert_eq!(dw, dw_sum, "{all:?}");
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
