//! Direct (implicit-GEMM) kernels for stride-1 convolutions with few channels per group
//! (LeNet's and the CIFAR nets' 1/3/6 -> 6/16 convolutions), in f32 and f64, compiled for
//! AVX-512 or AVX2+FMA and picked at run time (the pattern of cpu/small_gemm.rs).
//!
//! The input is copied once into a zero-padded image, and every output position is
//! computed on the "wide" grid of that image: with stride 1, output `(z, y, x)` reads input
//! `(z + kz*dz, y + ky*dy, x + kx*dx)`, so on the flattened padded image the output at wide
//! position `P = (z*Hp + y)*Wp + x` is `sum_k w[k] * xp[c*plane + tap(k) + P]`, a 1-D
//! correlation with one fixed offset per kernel tap. A register tile of `R` output channels
//! times `C` consecutive wide positions then needs one vector load and `R` broadcast FMAs
//! per tap and channel, reading the image in place: no column matrix (im2col was a quarter
//! of LeNet's train step) and no packing. Positions with `x >= Wout` (the wide grid's
//! margin) are computed and dropped when the result is laid out, with the bias added.
//!
//! The data gradient of such a convolution is again one (full correlation with the flipped
//! kernel, the gradient padded by `d*(k-1) - p`) where that padding is small against the
//! plane, else a scatter; the weight gradient is a reduction over wide positions of the
//! output gradient (laid on the wide grid, zero in the margin) times the shifted images.
//! Both gradient kernels are in cpu/conv_direct_grad.rs.
//!
//! `RGRAD_NO_DIRECT_CONV` (set, read per call) sends every convolution back through im2col +
//! GEMM: the tests compare the two paths in one process, and benchmarks A/B them.

use super::conv::{copy_run, ConvGeometry};
use super::conv_direct_grad as grad;
use super::rnn::RnnFloat;
use crate::error::Result;
use crate::storage::{try_vec_filled, try_vec_with_capacity};
use rayon::prelude::*;
use std::any::TypeId;

/// The largest input-channel count per group the direct kernels take: beyond it the im2col
/// GEMM's register blocking over a long reduction wins.
const MAX_CHANNELS: usize = 16;
/// At most this many output channels per group: the forward tile keeps them all in flight.
const MAX_OUT_CHANNELS: usize = 64;

/// The instruction set the kernels were compiled for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Isa {
    Avx512,
    Avx2,
}

fn isa() -> Option<Isa> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::env::var_os("RGRAD_NO_DIRECT_CONV").is_some() {
            return None;
        }
        if is_x86_feature_detected!("avx512f") {
            return Some(Isa::Avx512);
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Some(Isa::Avx2);
        }
    }
    None
}

/// One stride-1 correlation in the kernels' terms: `cin` input channels of sizes `a`, `cout`
/// output channels of sizes `b`, zero padding `pad`, both split into `groups`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Corr {
    pub batch: usize,
    pub cin: usize,
    pub cout: usize,
    pub groups: usize,
    pub a: [usize; 3],
    pub b: [usize; 3],
    pub k: [usize; 3],
    pub pad: [usize; 3],
    pub dil: [usize; 3],
}

impl Corr {
    pub fn forward(g: &ConvGeometry) -> Corr {
        Corr {
            batch: g.batch,
            cin: g.ca,
            cout: g.cb,
            groups: g.groups,
            a: g.a,
            b: g.b,
            k: g.k,
            pad: g.padding,
            dil: g.dilation,
        }
    }

    /// The data gradient of `g` as a correlation of its output gradient (see the module doc).
    fn data(g: &ConvGeometry) -> Corr {
        let pad = std::array::from_fn(|i| (g.dilation[i] * (g.k[i] - 1)).saturating_sub(g.padding[i]));
        Corr { cin: g.cb, cout: g.ca, a: g.b, b: g.a, pad, ..Corr::forward(g) }
    }

    fn taps(&self) -> usize {
        self.k.iter().product()
    }
}

/// The padded image and the wide grid of one [`Corr`] for tiles `width` positions wide.
pub(super) struct Grid {
    /// Padded input sizes.
    pub p: [usize; 3],
    pub plane: usize,
    /// `c * plane + tap offset` for every (input channel of a group, tap), kernel order.
    pub offs: Vec<usize>,
    /// Wide positions computed, a multiple of the tile width.
    pub wide: usize,
    /// Elements of one group's padded image buffer (with the slack the last tile reads).
    pub buf: usize,
}

impl Grid {
    pub fn new(c: &Corr, width: usize) -> Grid {
        let p: [usize; 3] = std::array::from_fn(|i| c.a[i] + 2 * c.pad[i]);
        let plane = p.iter().product::<usize>();
        let mut taps = Vec::with_capacity(c.taps());
        for z in 0..c.k[0] {
            for y in 0..c.k[1] {
                for x in 0..c.k[2] {
                    taps.push((z * c.dil[0] * p[1] + y * c.dil[1]) * p[2] + x * c.dil[2]);
                }
            }
        }
        let cin = c.cin / c.groups;
        let offs: Vec<usize> = (0..cin).flat_map(|ch| taps.iter().map(move |t| ch * plane + t)).collect();
        let last = ((c.b[0] - 1) * p[1] + (c.b[1] - 1)) * p[2] + c.b[2];
        let wide = last.div_ceil(width) * width;
        let buf = (offs.last().copied().unwrap_or(0) + wide).max(cin * plane);
        Grid { p, plane, offs, wide, buf }
    }

    /// Copies channels `c0..c0 + n` of one image (`[cin, a...]`, contiguous) into the
    /// interior of the padded buffer `xp` (whose margins stay zero).
    pub fn fill<T: Copy>(&self, c: &Corr, image: &[T], c0: usize, n: usize, xp: &mut [T]) {
        let [ad, ah, aw] = c.a;
        let [pd, ph, pw] = c.pad;
        let a_len = ad * ah * aw;
        for ch in 0..n {
            let src = &image[(c0 + ch) * a_len..][..a_len];
            for z in 0..ad {
                for y in 0..ah {
                    let at = ch * self.plane + ((z + pd) * self.p[1] + y + ph) * self.p[2] + pw;
                    copy_run(&src[(z * ah + y) * aw..][..aw], &mut xp[at..at + aw]);
                }
            }
        }
    }

    /// Output `(z, y, x)`'s index on the wide grid.
    pub fn at(&self, z: usize, y: usize) -> usize {
        (z * self.p[1] + y) * self.p[2]
    }
}

/// Whether the direct kernels take the forward (and weight gradient) of `g`.
pub fn takes_forward(g: &ConvGeometry) -> bool {
    let c = Corr::forward(g);
    takes(&c) && g.stride == [1; 3]
}

/// Whether the direct kernels take the data gradient of `g`: as a full correlation (see
/// [`correlates_data`]) or else as a scatter (cpu/conv_direct_grad.rs).
pub fn takes_data(g: &ConvGeometry) -> bool {
    takes_forward(g)
}

/// Whether the data gradient runs as a full correlation of the output gradient. Its padding
/// `d*(k-1) - p` must be >= 0 and the input side exactly the correlation's output (a
/// transposed convolution's output_padding adds to it). And it multiplies the gradient's
/// padding too: on small planes with large kernels (LeNet's second convolution: a 10x10
/// gradient padded to 18x18) its wide grid is over twice the products of the scatter, which
/// then wins (the correlation measured 0.9x of col2im there, 1.6-1.9x on 28x28 planes with
/// 5x5 kernels, where the ratio is 1.1-1.5).
fn correlates_data(g: &ConvGeometry) -> bool {
    g.stride == [1; 3]
        && (0..3).all(|i| {
            let ext = g.dilation[i] * (g.k[i] - 1);
            g.padding[i] <= ext && g.a[i] + 2 * g.padding[i] == g.b[i] + ext
        })
        && takes(&Corr::data(g))
        && Grid::new(&Corr::data(g), 1).wide <= 2 * g.b.iter().product::<usize>()
}

/// Padded planes larger than this many elements (or than 8 outputs each plus a margin) stay
/// with im2col: the wide grid would compute mostly margin (and its sizes must not overflow).
const MAX_PLANE: usize = 1 << 24;

fn takes(c: &Corr) -> bool {
    let (cin, cout) = (c.cin / c.groups.max(1), c.cout / c.groups.max(1));
    let plane = (0..3).try_fold(1usize, |acc, i| {
        c.pad[i].checked_mul(2)?.checked_add(c.a[i]).and_then(|p| acc.checked_mul(p))
    });
    let out = c.b.iter().product::<usize>();
    plane.is_some_and(|p| p <= MAX_PLANE && p <= out.saturating_mul(8).saturating_add(4096))
        && c.taps() > 1
        && (1..=MAX_CHANNELS).contains(&cin)
        && (1..=MAX_OUT_CHANNELS).contains(&cout)
        && c.b.iter().all(|&n| n > 0)
        && isa().is_some()
}

/// `s` as `&[U]` when `T` is `U`.
fn cast<T: 'static, U: 'static>(s: &[T]) -> Option<&[U]> {
    // SAFETY: same type, checked by TypeId.
    (TypeId::of::<T>() == TypeId::of::<U>())
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr() as *const U, s.len()) })
}

fn cast_vec<U: 'static, T: 'static>(v: Vec<U>) -> Vec<T> {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<U>());
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: same type (checked above), so the same layout and allocation.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut T, v.len(), v.capacity()) }
}

/// A pointer that may cross to rayon's threads: each task writes a disjoint region.
#[derive(Clone, Copy)]
pub(super) struct SendPtr<T>(pub *mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    pub fn get(self) -> *mut T {
        self.0
    }
}

/// The batch split into one contiguous range of images per worker.
pub(super) fn ranges(batch: usize) -> Vec<std::ops::Range<usize>> {
    let workers = rayon::current_num_threads().clamp(1, batch.max(1));
    let per = batch.div_ceil(workers).max(1);
    (0..workers).map(|c| (c * per).min(batch)..((c + 1) * per).min(batch)).filter(|r| !r.is_empty()).collect()
}

/// Runs `f(range, scratch)` for every worker's range, each with its own zeroed scratch.
fn per_worker<T: RnnFloat>(
    batch: usize,
    scratch: usize,
    f: impl Fn(std::ops::Range<usize>, &mut [T]) + Sync,
) -> Result<()> {
    let rs = ranges(batch);
    let mut bufs = rs.iter().map(|_| try_vec_filled(scratch, T::default())).collect::<Result<Vec<_>>>()?;
    if rs.len() > 1 {
        bufs.par_iter_mut().zip(rs).for_each(|(b, r)| f(r, b));
    } else if let (Some(b), Some(r)) = (bufs.first_mut(), rs.into_iter().next()) {
        f(r, b);
    }
    Ok(())
}

/// The weight laid out for the forward tile, `[groups][cin_g * taps][cout_g]`, from the
/// convolution weight `[cb][ca_g][taps]`: read directly for the forward, or (`data`) with
/// the roles of the channels swapped and the taps reversed, for the data gradient.
fn tile_weight<T: Copy>(g: &ConvGeometry, w: &[T], data: bool) -> Vec<T> {
    let (cbg, cag, taps) = (g.cb / g.groups, g.ca / g.groups, g.k.iter().product::<usize>());
    let mut out = Vec::with_capacity(w.len());
    for grp in 0..g.groups {
        let (ni, no) = if data { (cbg, cag) } else { (cag, cbg) };
        for i in 0..ni {
            for t in 0..taps {
                for o in 0..no {
                    let (ob, ia, tt) = if data { (i, o, taps - 1 - t) } else { (o, i, t) };
                    out.push(w[((grp * cbg + ob) * cag + ia) * taps + tt]);
                }
            }
        }
    }
    out
}

/// One tile: output channels `o0..o0 + R` at wide positions `j..j + C` (`tmp` rows `ld`).
///
/// # Safety
/// `xp` must hold `offs[k] + j + C` elements for every k, `wt` `offs.len() * cout` elements,
/// and `tmp` rows `o0..o0 + R` of `ld >= j + C` elements.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn fwd_tile<T: RnnFloat, const R: usize, const C: usize>(
    xp: *const T,
    offs: &[usize],
    wt: *const T,
    cout: usize,
    o0: usize,
    j: usize,
    tmp: *mut T,
    ld: usize,
) {
    let mut acc = [[T::default(); C]; R];
    unsafe {
        for (k, &off) in offs.iter().enumerate() {
            let xv = std::ptr::read_unaligned(xp.add(off + j) as *const [T; C]);
            let w = wt.add(k * cout + o0);
            for (r, row) in acc.iter_mut().enumerate() {
                let wr = *w.add(r);
                for (o, &x) in row.iter_mut().zip(&xv) {
                    *o = wr.fma(x, *o);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            std::ptr::write_unaligned(tmp.add((o0 + r) * ld + j) as *mut [T; C], *row);
        }
    }
}

/// All tiles of one group of one image: `tmp[o][P] = sum_k wt[k][o] * xp[offs[k] + P]`.
/// Blocks of `r` output channels take `4 - r/3` (`WIDE`: 32 registers) or `4 - r/2` vectors
/// of positions (`V` lanes each; C2..C4 are 2..4 vectors), so the accumulators fill the
/// register file whatever the block: one vector load feeds `r` FMAs, and `r`-row blocks of
/// 6 (LeNet's first convolution, the data gradient of its second) run 3 vectors wide.
#[inline(always)]
fn fwd_group<
    T: RnnFloat,
    const V: usize,
    const C2: usize,
    const C3: usize,
    const C4: usize,
    const WIDE: bool,
>(
    grid: &Grid,
    xp: &[T],
    wt: &[T],
    cout: usize,
    tmp: &mut [T],
) {
    let ld = grid.wide;
    let need = grid.offs.iter().max().copied().unwrap_or(0) + ld;
    assert!(xp.len() >= need && wt.len() >= grid.offs.len() * cout && tmp.len() >= cout * ld);
    assert!(ld % V == 0);
    let (xp, wt, tp) = (xp.as_ptr(), wt.as_ptr(), tmp.as_mut_ptr());
    let offs = &grid.offs[..];
    let rmax = if WIDE { 8 } else { 4 };
    let mut o0 = 0;
    while o0 < cout {
        let r = (cout - o0).min(rmax);
        // SAFETY (every arm): the sizes were checked above, and `ld` is a multiple of V.
        unsafe {
            macro_rules! rows {
                ($r:literal, $c:ident) => {
                    fwd_rows::<T, $r, $c, V>(xp, offs, wt, cout, o0, tp, ld)
                };
            }
            match (WIDE, r) {
                (true, 1) => rows!(1, C4),
                (true, 2) => rows!(2, C4),
                (true, 3) => rows!(3, C4),
                (true, 4) => rows!(4, C4),
                (true, 5) => rows!(5, C3),
                (true, 6) => rows!(6, C3),
                (true, 7) => rows!(7, C2),
                (true, _) => rows!(8, C2),
                (false, 1) => rows!(1, C4),
                (false, 2) => rows!(2, C4),
                (false, 3) => rows!(3, C3),
                (false, _) => rows!(4, C2),
            }
        }
        o0 += r;
    }
}

/// Output channels `o0..o0 + R` at every wide position: tiles of C, then of V at the end.
///
/// # Safety
/// As [`fwd_tile`] for every `j` in steps of V below `ld` (a multiple of V).
#[inline(always)]
unsafe fn fwd_rows<T: RnnFloat, const R: usize, const C: usize, const V: usize>(
    xp: *const T,
    offs: &[usize],
    wt: *const T,
    cout: usize,
    o0: usize,
    tp: *mut T,
    ld: usize,
) {
    let mut j = 0;
    // SAFETY (both loops): the caller's contract.
    while j + C <= ld {
        unsafe { fwd_tile::<T, R, C>(xp, offs, wt, cout, o0, j, tp, ld) };
        j += C;
    }
    while j < ld {
        unsafe { fwd_tile::<T, R, V>(xp, offs, wt, cout, o0, j, tp, ld) };
        j += V;
    }
}

/// One worker's share of a correlation: images `r`, each group through [`fwd_group`] and
/// laid out into `out` (plus the bias). `buf` is the worker's zeroed scratch: the padded
/// image, then the wide result.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fwd_worker<
    T: RnnFloat,
    const V: usize,
    const C2: usize,
    const C3: usize,
    const C4: usize,
    const WIDE: bool,
>(
    c: &Corr,
    grid: &Grid,
    x: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    out: SendPtr<T>,
    r: std::ops::Range<usize>,
    buf: &mut [T],
) {
    let (cin, cout) = (c.cin / c.groups, c.cout / c.groups);
    let (a_img, b_len) = (c.cin * c.a.iter().product::<usize>(), c.b.iter().product::<usize>());
    let b_img = c.cout * b_len;
    let kw = grid.offs.len() * cout;
    let (xp, tmp) = buf.split_at_mut(grid.buf);
    let bw = c.b[2];
    for n in r {
        // SAFETY: image `n`'s output belongs to this worker alone (inside the capacity).
        let ob = unsafe { std::slice::from_raw_parts_mut(out.get().add(n * b_img), b_img) };
        for grp in 0..c.groups {
            grid.fill(c, &x[n * a_img..][..a_img], grp * cin, cin, xp);
            fwd_group::<T, V, C2, C3, C4, WIDE>(grid, xp, &wt[grp * kw..][..kw], cout, tmp);
            for o in 0..cout {
                let ch = grp * cout + o;
                let bv = bias.map_or(T::default(), |b| b[ch]);
                let dst = &mut ob[ch * b_len..][..b_len];
                let src = &tmp[o * grid.wide..][..grid.wide];
                for z in 0..c.b[0] {
                    for y in 0..c.b[1] {
                        let d = &mut dst[(z * c.b[1] + y) * bw..][..bw];
                        let s = &src[grid.at(z, y)..][..bw];
                        for (d, &s) in d.iter_mut().zip(s) {
                            *d = s + bv;
                        }
                    }
                }
            }
        }
    }
}

type FwdFn<T> =
    unsafe fn(&Corr, &Grid, &[T], &[T], Option<&[T]>, SendPtr<T>, std::ops::Range<usize>, &mut [T]);

/// The element types with kernels, and their kernels per instruction set.
trait DirectFloat: grad::GradFloat {
    /// The forward's vector width (the wide grid is a multiple of it) and worker.
    fn fwd(isa: Isa) -> (usize, FwdFn<Self>);
}

/// Compiles the workers of one element type for AVX-512 and AVX2+FMA (vectors of `$v512`
/// and `$v2` elements). Tiles: the forward's in [`fwd_group`]; the weight gradient's R x T
/// accumulators plus R + T loaded vectors (4 x 4 + 8 of 32 registers; 2 x 4 + 6 of 16).
macro_rules! direct_float {
    ($T:ty, $v512:literal, $v2:literal) => {
        impl DirectFloat for $T {
            fn fwd(isa: Isa) -> (usize, FwdFn<$T>) {
                #[target_feature(enable = "avx512f")]
                #[allow(clippy::too_many_arguments)]
                fn wide(
                    c: &Corr,
                    g: &Grid,
                    x: &[$T],
                    w: &[$T],
                    b: Option<&[$T]>,
                    o: SendPtr<$T>,
                    r: std::ops::Range<usize>,
                    s: &mut [$T],
                ) {
                    fwd_worker::<$T, $v512, { 2 * $v512 }, { 3 * $v512 }, { 4 * $v512 }, true>(
                        c, g, x, w, b, o, r, s,
                    )
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn mid(
                    c: &Corr,
                    g: &Grid,
                    x: &[$T],
                    w: &[$T],
                    b: Option<&[$T]>,
                    o: SendPtr<$T>,
                    r: std::ops::Range<usize>,
                    s: &mut [$T],
                ) {
                    fwd_worker::<$T, $v2, { 2 * $v2 }, { 3 * $v2 }, { 4 * $v2 }, false>(
                        c, g, x, w, b, o, r, s,
                    )
                }
                match isa {
                    Isa::Avx512 => ($v512, wide as FwdFn<$T>),
                    Isa::Avx2 => ($v2, mid as FwdFn<$T>),
                }
            }
        }
    };
}

direct_float!(f32, 16, 8);
direct_float!(f64, 8, 4);

/// The correlation `c` over the batch: `out[n] = corr(x[n], w) (+ bias)`, every element
/// written (the buffer is not filled first).
fn correlate<T: DirectFloat>(isa: Isa, c: &Corr, x: &[T], wt: &[T], bias: Option<&[T]>) -> Result<Vec<T>> {
    let (width, worker) = T::fwd(isa);
    let grid = Grid::new(c, width);
    let total = c.batch * c.cout * c.b.iter().product::<usize>();
    let mut out = try_vec_with_capacity::<T>(total)?;
    let op = SendPtr(out.as_mut_ptr());
    let scratch = grid.buf + (c.cout / c.groups) * grid.wide;
    per_worker::<T>(c.batch, scratch, |r, buf| {
        // SAFETY: the CPU has the instruction set `worker` was compiled for (`isa`).
        unsafe { worker(c, &grid, x, wt, bias, op, r, buf) }
    })?;
    // SAFETY: every image's every channel was written by the workers.
    unsafe { out.set_len(total) };
    Ok(out)
}

/// Runs `f` with `T` as f32 or f64 (None for other element types or without a vector unit).
macro_rules! with_direct {
    ($T:ty, $U:ident, $isa:ident => $body:expr) => {{
        let $isa = isa()?;
        if TypeId::of::<$T>() == TypeId::of::<f32>() {
            type $U = f32;
            Some($body)
        } else if TypeId::of::<$T>() == TypeId::of::<f64>() {
            type $U = f64;
            Some($body)
        } else {
            None
        }
    }};
}

/// The forward of `g` (see [`takes_forward`]); None for element types without a kernel.
pub fn forward<T: 'static + Copy>(
    g: &ConvGeometry,
    a: &[T],
    w: &[T],
    bias: Option<&[T]>,
) -> Option<Result<Vec<T>>> {
    let wt = tile_weight(g, w, false);
    with_direct!(T, U, isa => {
        let bias = bias.map(|b| cast::<T, U>(b).expect("same type"));
        correlate::<U>(isa, &Corr::forward(g), cast(a)?, cast(&wt[..])?, bias).map(cast_vec)
    })
}

/// The data gradient of `g` from its output gradient `b` (see [`takes_data`]).
pub fn backward_data<T: 'static + Copy>(g: &ConvGeometry, b: &[T], w: &[T]) -> Option<Result<Vec<T>>> {
    if correlates_data(g) {
        let wt = tile_weight(g, w, true);
        return with_direct!(T, U, isa => correlate::<U>(isa, &Corr::data(g), cast(b)?, cast(&wt[..])?, None).map(cast_vec));
    }
    backward_data_scatter(g, b, w)
}

/// [`backward_data`] as a scatter, whatever the geometry's padding (a stride-1 `g` that
/// [`takes_forward`]).
pub fn backward_data_scatter<T: 'static + Copy>(
    g: &ConvGeometry,
    b: &[T],
    w: &[T],
) -> Option<Result<Vec<T>>> {
    let wt = tile_weight(g, w, false);
    with_direct!(T, U, isa => grad::data_scatter::<U>(isa, &Corr::forward(g), cast(b)?, cast(&wt[..])?).map(cast_vec))
}

/// The weight gradient of `g` (see [`takes_forward`]), `[cb, ca_g, k...]`.
pub fn backward_weight<T: 'static + Copy>(g: &ConvGeometry, a: &[T], b: &[T]) -> Option<Result<Vec<T>>> {
    with_direct!(T, U, isa => grad::weight_grad::<U>(isa, &Corr::forward(g), cast(a)?, cast(b)?).map(cast_vec))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain 2-D definition with groups, padding and dilation (stride 1).
    fn naive(g: &ConvGeometry, a: &[f64], w: &[f64]) -> Vec<f64> {
        let ([_, ah, aw], [_, bh, bw], [_, kh, kw]) = (g.a, g.b, g.k);
        let (cag, cbg) = (g.ca / g.groups, g.cb / g.groups);
        let mut out = vec![0.0; g.batch * g.cb * bh * bw];
        for n in 0..g.batch {
            for o in 0..g.cb {
                for oy in 0..bh {
                    for ox in 0..bw {
                        let mut acc = 0.0;
                        for c in 0..cag {
                            let ci = o / cbg * cag + c;
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy + ky * g.dilation[1]) as isize - g.padding[1] as isize;
                                    let ix = (ox + kx * g.dilation[2]) as isize - g.padding[2] as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < ah && (ix as usize) < aw {
                                        let v = a[((n * g.ca + ci) * ah + iy as usize) * aw + ix as usize];
                                        acc += v * w[((o * cag + c) * kh + ky) * kw + kx];
                                    }
                                }
                            }
                        }
                        out[((n * g.cb + o) * bh + oy) * bw + ox] = acc;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn direct_kernels_match_the_definition_and_its_adjoints() {
        if isa().is_none() {
            return;
        }
        // (batch, ca, cb, groups, size, kernel, padding, dilation): channel counts around
        // the tile blocks (1, 6, 9, 16, 17 outputs), planes narrower and wider than a tile.
        for (batch, ca, cb, groups, n, k, p, d) in [
            (3, 1, 6, 1, 12, 5, 2, 1),
            (2, 6, 16, 1, 14, 5, 0, 1),
            (1, 3, 9, 1, 7, 3, 1, 2),
            (2, 4, 6, 2, 9, 3, 1, 1),
            (2, 16, 17, 1, 5, 3, 1, 1),
            (1, 2, 1, 1, 37, 2, 0, 1),
        ] {
            let b = n + 2 * p - d * (k - 1);
            let g = ConvGeometry {
                batch,
                ca,
                cb,
                groups,
                a: [1, n, n],
                b: [1, b, b],
                k: [1, k, k],
                stride: [1; 3],
                padding: [0, p, p],
                dilation: [1, d, d],
            };
            assert!(takes_forward(&g) && takes_data(&g), "{g:?}");
            let a: Vec<f64> = (0..batch * ca * n * n).map(|i| ((i * 7919) % 23) as f64 - 11.0).collect();
            let w: Vec<f64> =
                (0..cb * ca / groups * k * k).map(|i| ((i * 104729) % 13) as f64 - 6.0).collect();
            let bias: Vec<f64> = (0..cb).map(|i| i as f64 - 2.5).collect();
            let want = naive(&g, &a, &w);
            let y = forward(&g, &a, &w, Some(&bias)).unwrap().unwrap();
            let with_bias: Vec<f64> =
                want.iter().enumerate().map(|(i, v)| v + bias[i / (b * b) % cb]).collect();
            assert_eq!(y, with_bias, "{g:?}");
            // The gradients are the forward's adjoints (exact in small integers).
            let v: Vec<f64> = (0..batch * cb * b * b).map(|i| ((i * 31) % 7) as f64 - 3.0).collect();
            let lhs: f64 = want.iter().zip(&v).map(|(x, y)| x * y).sum();
            // Both data kernels: the full correlation (run here even where `backward_data`
            // picks the scatter for its waste; it is exact for every stride-1 geometry with
            // p <= d*(k-1)) and the scatter.
            let corr =
                correlate::<f64>(isa().unwrap(), &Corr::data(&g), &v, &tile_weight(&g, &w, true), None);
            for at in [corr.unwrap(), backward_data_scatter(&g, &v, &w).unwrap().unwrap()] {
                assert_eq!(lhs, a.iter().zip(&at).map(|(x, y)| x * y).sum::<f64>(), "{g:?}");
            }
            let dw = backward_weight(&g, &a, &v).unwrap().unwrap();
            assert_eq!(dw.len(), w.len());
            assert_eq!(lhs, dw.iter().zip(&w).map(|(x, y)| x * y).sum::<f64>(), "{g:?}");
            // f32 takes its own tiles: the same integers, exactly.
            let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
            let w32: Vec<f32> = w.iter().map(|&x| x as f32).collect();
            let y32 = forward(&g, &a32, &w32, None).unwrap().unwrap();
            assert!(y32.iter().zip(&want).all(|(&x, &y)| x as f64 == y), "f32 {g:?}");
        }
    }
}
