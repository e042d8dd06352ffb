//! The gradient kernels of cpu/conv_direct.rs (see its doc for the padded image and the wide
//! grid): the weight gradient as register-blocked dot products over the wide grid, and the
//! data gradient of convolutions whose full correlation would multiply mostly padding, as a
//! scatter: every output-gradient position adds `sum_o w[o][c][t] * dy[o][P]` into the
//! padded input gradient at `P + tap(t)`.

use super::conv::copy_run;
use super::conv_direct::{ranges, Corr, Grid, Isa, SendPtr};
use super::rnn::RnnFloat;
use crate::error::Result;
use crate::storage::{try_vec_filled, try_vec_with_capacity};
use rayon::prelude::*;

/// The R x T dot products of `dy` rows `o0..o0 + R` (rows `ld`) with the shifted images at
/// `offs[t0..t0 + T]` over the wide grid, summed over `m` images (`dy` and `xp` advance by
/// `dstep` and `xstep` per image) in registers, added into `dw[(o0 + r) * kp + t0 + t]`.
/// Summing several images per call keeps the horizontal sums at the end (as costly as the
/// products of one small image) off the hot path.
///
/// # Safety
/// For every image: `dy` must hold rows `o0..o0 + R` of `ld` elements, `xp` `offs[t] + ld`
/// elements; `dw` rows of `kp >= t0 + T`; `ld` a multiple of `V`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn dw_tile<T: RnnFloat, const R: usize, const TT: usize, const V: usize>(
    dy: *const T,
    ld: usize,
    xp: *const T,
    offs: &[usize],
    (m, dstep, xstep): (usize, usize, usize),
    dw: *mut T,
    kp: usize,
    (o0, t0): (usize, usize),
) {
    let mut acc = [[[T::default(); V]; TT]; R];
    unsafe {
        let off: [usize; TT] = std::array::from_fn(|t| *offs.get_unchecked(t0 + t));
        for i in 0..m {
            let (dy, xp) = (dy.add(i * dstep), xp.add(i * xstep));
            let mut j = 0;
            while j < ld {
                let mut d = [[T::default(); V]; R];
                for (r, dr) in d.iter_mut().enumerate() {
                    *dr = std::ptr::read_unaligned(dy.add((o0 + r) * ld + j) as *const [T; V]);
                }
                let mut xv = [[T::default(); V]; TT];
                for (t, xt) in xv.iter_mut().enumerate() {
                    *xt = std::ptr::read_unaligned(xp.add(off[t] + j) as *const [T; V]);
                }
                for (ar, dr) in acc.iter_mut().zip(&d) {
                    for (at, xt) in ar.iter_mut().zip(&xv) {
                        for l in 0..V {
                            at[l] = dr[l].fma(xt[l], at[l]);
                        }
                    }
                }
                j += V;
            }
        }
        for (r, ar) in acc.iter().enumerate() {
            for (t, at) in ar.iter().enumerate() {
                let mut s = T::default();
                for &v in at {
                    s = s + v;
                }
                let p = dw.add((o0 + r) * kp + t0 + t);
                *p = *p + s;
            }
        }
    }
}

/// The weight-gradient blocking of one [`Corr`]: output rows padded to a multiple of `R`
/// (zero rows of the wide gradient), taps to a multiple of `T` (repeats of the first offset,
/// whose sums are dropped), and `imgs` images prepared and summed per pass.
pub(super) struct DwPlan {
    grid: Grid,
    offs: Vec<usize>,
    /// Padded rows, real and padded taps per row.
    rp: usize,
    kn: usize,
    kp: usize,
    imgs: usize,
}

/// Elements of padded images and wide gradients one weight-gradient pass prepares (256 KB in
/// f32: they stay in L2 while every tile reads them).
const DW_CHUNK: usize = 1 << 16;

impl DwPlan {
    fn new(c: &Corr, v: usize, r: usize, t: usize) -> DwPlan {
        let grid = Grid::new(c, v);
        let (rp, kn) = ((c.cout / c.groups).div_ceil(r) * r, grid.offs.len());
        let kp = kn.div_ceil(t) * t;
        let mut offs = grid.offs.clone();
        offs.resize(kp, offs.first().copied().unwrap_or(0));
        let per_image = grid.buf + rp * grid.wide;
        let per_worker = c.batch.div_ceil(rayon::current_num_threads().clamp(1, c.batch.max(1)));
        let imgs = (DW_CHUNK / per_image.max(1)).clamp(1, 16).min(per_worker.max(1));
        DwPlan { grid, offs, rp, kn, kp, imgs }
    }

    fn per_image(&self) -> usize {
        self.grid.buf + self.rp * self.grid.wide
    }

    /// Scratch per worker: the chunk's padded images and wide gradients, the partial sums.
    fn scratch(&self, groups: usize) -> usize {
        self.imgs * self.per_image() + groups * self.rp * self.kp
    }

    /// Where the partial sums start in a worker's scratch.
    fn sums(&self) -> usize {
        self.imgs * self.per_image()
    }
}

/// One worker's weight-gradient partial sums over images `r` (into the tail of `buf`).
#[inline(always)]
fn dw_worker<T: RnnFloat, const V: usize, const R: usize, const TT: usize>(
    c: &Corr,
    p: &DwPlan,
    x: &[T],
    dy: &[T],
    r: std::ops::Range<usize>,
    buf: &mut [T],
) {
    let (cin, cout) = (c.cin / c.groups, c.cout / c.groups);
    let (a_img, b_len) = (c.cin * c.a.iter().product::<usize>(), c.b.iter().product::<usize>());
    let b_img = c.cout * b_len;
    let (grid, ld, kp) = (&p.grid, p.grid.wide, p.kp);
    let (xs, rest) = buf.split_at_mut(p.imgs * grid.buf);
    let (dys, dw) = rest.split_at_mut(p.imgs * p.rp * ld);
    let need = p.offs.iter().max().copied().unwrap_or(0) + ld;
    assert!(grid.buf >= need && dw.len() >= c.groups * p.rp * kp);
    assert!(p.rp % R == 0 && kp % TT == 0 && p.offs.len() == kp && ld % V == 0);
    let bw = c.b[2];
    let mut n0 = r.start;
    while n0 < r.end {
        let m = (r.end - n0).min(p.imgs);
        for grp in 0..c.groups {
            for i in 0..m {
                let n = n0 + i;
                grid.fill(c, &x[n * a_img..][..a_img], grp * cin, cin, &mut xs[i * grid.buf..][..grid.buf]);
                let dyw = &mut dys[i * p.rp * ld..][..p.rp * ld];
                for o in 0..cout {
                    let src = &dy[n * b_img + (grp * cout + o) * b_len..][..b_len];
                    for z in 0..c.b[0] {
                        for y in 0..c.b[1] {
                            let at = o * ld + grid.at(z, y);
                            copy_run(&src[(z * c.b[1] + y) * bw..][..bw], &mut dyw[at..at + bw]);
                        }
                    }
                }
            }
            let dwg = dw[grp * p.rp * kp..].as_mut_ptr();
            for o0 in (0..p.rp).step_by(R) {
                for t0 in (0..kp).step_by(TT) {
                    // SAFETY: sizes checked above; rows and taps padded to the blocks; the
                    // chunk holds `m <= imgs` images.
                    unsafe {
                        dw_tile::<T, R, TT, V>(
                            dys.as_ptr(),
                            ld,
                            xs.as_ptr(),
                            &p.offs,
                            (m, p.rp * ld, grid.buf),
                            dwg,
                            kp,
                            (o0, t0),
                        )
                    };
                }
            }
        }
        n0 += m;
    }
}

/// The weight gradient of the forward correlation `c`, `[cout][cin_g * taps]`.
pub(super) fn weight_grad<T: GradFloat>(isa: Isa, c: &Corr, x: &[T], dy: &[T]) -> Result<Vec<T>> {
    let (v, r, t, worker) = T::dw(isa);
    let plan = DwPlan::new(c, v, r, t);
    let rs = ranges(c.batch);
    let scratch = plan.scratch(c.groups);
    let mut bufs = rs.iter().map(|_| try_vec_filled(scratch, T::default())).collect::<Result<Vec<_>>>()?;
    // SAFETY (both calls): the CPU has the instruction set `worker` was compiled for.
    if rs.len() > 1 {
        bufs.par_iter_mut().zip(rs).for_each(|(b, r)| unsafe { worker(c, &plan, x, dy, r, b) });
    } else if let (Some(b), Some(r)) = (bufs.first_mut(), rs.into_iter().next()) {
        unsafe { worker(c, &plan, x, dy, r, b) };
    }
    let cout = c.cout / c.groups;
    let mut out = try_vec_filled(c.groups * cout * plan.kn, T::default())?;
    let base = plan.sums();
    for b in &bufs {
        for grp in 0..c.groups {
            for o in 0..cout {
                let src = &b[base + (grp * plan.rp + o) * plan.kp..][..plan.kn];
                let dst = &mut out[(grp * cout + o) * plan.kn..][..plan.kn];
                dst.iter_mut().zip(src).for_each(|(d, &s)| *d = *d + s);
            }
        }
    }
    Ok(out)
}

/// `xg[c*plane + tap(t) + P] += sum_o wt[(c*taps + t)*cout + o] * dyw[o][P]` for one channel
/// `c` and tap, over the wide grid (`ld` positions, tiles of C then V). The sum over `o` runs
/// in registers (C / V independent chains); each tap is one pass over the plane, so the
/// overlapping stores of neighbouring taps are far apart in time.
///
/// # Safety
/// `dyw` must hold `cout` rows of `ld`, `xg` `base + ld` elements, `w` `cout` elements; `ld`
/// a multiple of V and C a multiple of V.
#[inline(always)]
unsafe fn dx_tap<T: RnnFloat, const C: usize, const V: usize>(
    dyw: *const T,
    ld: usize,
    w: *const T,
    cout: usize,
    xg: *mut T,
    base: usize,
) {
    unsafe {
        let mut j = 0;
        while j + C <= ld {
            let mut acc = std::ptr::read_unaligned(xg.add(base + j) as *const [T; C]);
            for o in 0..cout {
                let wo = *w.add(o);
                let d = std::ptr::read_unaligned(dyw.add(o * ld + j) as *const [T; C]);
                for (a, &v) in acc.iter_mut().zip(&d) {
                    *a = wo.fma(v, *a);
                }
            }
            std::ptr::write_unaligned(xg.add(base + j) as *mut [T; C], acc);
            j += C;
        }
        while j < ld {
            let mut acc = std::ptr::read_unaligned(xg.add(base + j) as *const [T; V]);
            for o in 0..cout {
                let wo = *w.add(o);
                let d = std::ptr::read_unaligned(dyw.add(o * ld + j) as *const [T; V]);
                for (a, &v) in acc.iter_mut().zip(&d) {
                    *a = wo.fma(v, *a);
                }
            }
            std::ptr::write_unaligned(xg.add(base + j) as *mut [T; V], acc);
            j += V;
        }
    }
}

/// One worker's share of the scattered data gradient: images `r`. `buf` holds the wide
/// output gradient (`cout` rows of `grid.wide`, margins zero) and the padded input gradient
/// (`grid.buf`), which is cleared per image and group and its interior copied out.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn dx_worker<T: RnnFloat, const C: usize, const V: usize>(
    c: &Corr,
    grid: &Grid,
    dy: &[T],
    wt: &[T],
    out: SendPtr<T>,
    r: std::ops::Range<usize>,
    buf: &mut [T],
) {
    let (cin, cout) = (c.cin / c.groups, c.cout / c.groups);
    let (a_len, b_len) = (c.a.iter().product::<usize>(), c.b.iter().product::<usize>());
    let (a_img, b_img) = (c.cin * a_len, c.cout * b_len);
    let ld = grid.wide;
    let (dyw, xg) = buf.split_at_mut(cout * ld);
    let kw = grid.offs.len() * cout;
    assert!(xg.len() >= grid.buf && ld % V == 0 && C % V == 0 && wt.len() >= c.groups * kw);
    let need = grid.offs.iter().max().copied().unwrap_or(0) + ld;
    assert!(grid.buf >= need);
    let ([ad, ah, aw], [pd, ph, pw]) = (c.a, c.pad);
    let bw = c.b[2];
    for n in r {
        // SAFETY: image `n`'s input gradient belongs to this worker alone.
        let ob = unsafe { std::slice::from_raw_parts_mut(out.get().add(n * a_img), a_img) };
        for grp in 0..c.groups {
            for o in 0..cout {
                let src = &dy[n * b_img + (grp * cout + o) * b_len..][..b_len];
                for z in 0..c.b[0] {
                    for y in 0..c.b[1] {
                        let at = o * ld + grid.at(z, y);
                        copy_run(&src[(z * c.b[1] + y) * bw..][..bw], &mut dyw[at..at + bw]);
                    }
                }
            }
            xg[..grid.buf].fill(T::default());
            let w = &wt[grp * kw..][..kw];
            for (k, &base) in grid.offs.iter().enumerate() {
                // SAFETY: sizes checked above.
                unsafe {
                    dx_tap::<T, C, V>(dyw.as_ptr(), ld, w[k * cout..].as_ptr(), cout, xg.as_mut_ptr(), base)
                };
            }
            for ch in 0..cin {
                let dst = &mut ob[(grp * cin + ch) * a_len..][..a_len];
                for z in 0..ad {
                    for y in 0..ah {
                        let at = ch * grid.plane + ((z + pd) * grid.p[1] + y + ph) * grid.p[2] + pw;
                        copy_run(&xg[at..at + aw], &mut dst[(z * ah + y) * aw..][..aw]);
                    }
                }
            }
        }
    }
}

type DwFn<T> = unsafe fn(&Corr, &DwPlan, &[T], &[T], std::ops::Range<usize>, &mut [T]);
type DxFn<T> = unsafe fn(&Corr, &Grid, &[T], &[T], SendPtr<T>, std::ops::Range<usize>, &mut [T]);

/// The element types with gradient kernels, and their kernels per instruction set.
pub(super) trait GradFloat: RnnFloat + 'static {
    /// The weight-gradient vector width, row and tap blocks, and worker.
    fn dw(isa: Isa) -> (usize, usize, usize, DwFn<Self>);
    /// The scattered data gradient's vector width and worker.
    fn dx(isa: Isa) -> (usize, DxFn<Self>);
}

/// Compiles the gradient workers of one element type for AVX-512 and AVX2+FMA (vectors of
/// `$v512` and `$v2` elements): the weight gradient's R x T accumulators plus R + T loaded
/// vectors (4 x 4 + 8 of 32 registers; 2 x 4 + 6 of 16); the data gradient's 4 chains.
macro_rules! grad_float {
    ($T:ty, $v512:literal, $v2:literal) => {
        impl GradFloat for $T {
            fn dw(isa: Isa) -> (usize, usize, usize, DwFn<$T>) {
                #[target_feature(enable = "avx512f")]
                fn wide(c: &Corr, p: &DwPlan, x: &[$T], d: &[$T], r: std::ops::Range<usize>, s: &mut [$T]) {
                    dw_worker::<$T, $v512, 4, 4>(c, p, x, d, r, s)
                }
                #[target_feature(enable = "avx2,fma")]
                fn mid(c: &Corr, p: &DwPlan, x: &[$T], d: &[$T], r: std::ops::Range<usize>, s: &mut [$T]) {
                    dw_worker::<$T, $v2, 2, 4>(c, p, x, d, r, s)
                }
                match isa {
                    Isa::Avx512 => ($v512, 4, 4, wide as DwFn<$T>),
                    Isa::Avx2 => ($v2, 2, 4, mid as DwFn<$T>),
                }
            }

            fn dx(isa: Isa) -> (usize, DxFn<$T>) {
                #[target_feature(enable = "avx512f")]
                fn wide(
                    c: &Corr,
                    g: &Grid,
                    d: &[$T],
                    w: &[$T],
                    o: SendPtr<$T>,
                    r: std::ops::Range<usize>,
                    s: &mut [$T],
                ) {
                    dx_worker::<$T, { 4 * $v512 }, $v512>(c, g, d, w, o, r, s)
                }
                #[target_feature(enable = "avx2,fma")]
                fn mid(
                    c: &Corr,
                    g: &Grid,
                    d: &[$T],
                    w: &[$T],
                    o: SendPtr<$T>,
                    r: std::ops::Range<usize>,
                    s: &mut [$T],
                ) {
                    dx_worker::<$T, { 4 * $v2 }, $v2>(c, g, d, w, o, r, s)
                }
                match isa {
                    Isa::Avx512 => ($v512, wide as DxFn<$T>),
                    Isa::Avx2 => ($v2, mid as DxFn<$T>),
                }
            }
        }
    };
}

grad_float!(f32, 16, 8);
grad_float!(f64, 8, 4);

/// The data gradient of the forward correlation `c` from its output gradient `dy` by
/// scattering (`wt` as the forward's tile weight, `[groups][cin_g * taps][cout_g]`), every
/// element of the result written.
pub(super) fn data_scatter<T: GradFloat>(isa: Isa, c: &Corr, dy: &[T], wt: &[T]) -> Result<Vec<T>> {
    let (v, worker) = T::dx(isa);
    let grid = Grid::new(c, v);
    let total = c.batch * c.cin * c.a.iter().product::<usize>();
    let mut out = try_vec_with_capacity::<T>(total)?;
    let op = SendPtr(out.as_mut_ptr());
    let scratch = (c.cout / c.groups) * grid.wide + grid.buf;
    let rs = ranges(c.batch);
    let mut bufs = rs.iter().map(|_| try_vec_filled(scratch, T::default())).collect::<Result<Vec<_>>>()?;
    // SAFETY (both calls): the CPU has the instruction set `worker` was compiled for.
    if rs.len() > 1 {
        bufs.par_iter_mut().zip(rs).for_each(|(b, r)| unsafe { worker(c, &grid, dy, wt, op, r, b) });
    } else if let (Some(b), Some(r)) = (bufs.first_mut(), rs.into_iter().next()) {
        unsafe { worker(c, &grid, dy, wt, op, r, b) };
    }
    // SAFETY: every image's every channel was written by the workers.
    unsafe { out.set_len(total) };
    Ok(out)
}
