//! Kernels of the resampling ops (ops/resample.rs): one sparse linear map from an input plane
//! to an output plane, applied to every plane of a batch in parallel.
//!
//! A map is `taps` (index, weight) pairs per output position; the forward reads
//! `out[o] = sum_k w[o, k] * in[idx[o, k]]` (a gather, so output positions are independent),
//! the transposed map adds every `w[o, k] * g[o]` back into `in[idx[o, k]]` (a scatter, run
//! sequentially inside a plane and in parallel across planes, so it needs no atomics and
//! sums in a fixed order).

use crate::cpu::conv::{zeroed, ConvElement};
use crate::error::Result;
use rayon::prelude::*;

/// Index that reads zero (a padding position of im2col, a grid point outside the image).
pub const NONE: u32 = u32::MAX;

/// Planes from this many output elements up run across threads.
const PARALLEL_WORK: usize = 1 << 15;

/// One plane's map: `index`/`weight` are `[groups, out_plane, taps]`; plane `b` of a batch
/// uses group `b / planes_per_group` (one group for interpolation and padding, one per batch
/// item for grid_sample).
pub struct MapView<'a> {
    pub in_plane: usize,
    pub out_plane: usize,
    pub taps: usize,
    pub groups: usize,
    pub index: &'a [u32],
    /// None: every weight is 1 (nearest, padding, im2col).
    pub weight: Option<&'a [f64]>,
}

impl MapView<'_> {
    fn group_of(&self, plane: usize, planes: usize) -> usize {
        if self.groups <= 1 {
            0
        } else {
            plane / (planes / self.groups).max(1)
        }
    }

    fn gather_plane<T: ConvElement>(&self, group: usize, src: &[T], dst: &mut [T]) {
        let span = self.out_plane * self.taps;
        let idx = &self.index[group * span..][..span];
        match self.weight {
            None => {
                for (o, taps) in dst.iter_mut().zip(idx.chunks_exact(self.taps.max(1))) {
                    let mut acc = T::default();
                    for &j in taps {
                        if j != NONE {
                            acc += src[j as usize];
                        }
                    }
                    *o = acc;
                }
            }
            Some(w) => {
                let w = &w[group * span..][..span];
                let rows = idx.chunks_exact(self.taps.max(1)).zip(w.chunks_exact(self.taps.max(1)));
                for (o, (taps, ws)) in dst.iter_mut().zip(rows) {
                    let mut acc = T::default();
                    for (&j, &wk) in taps.iter().zip(ws) {
                        if j != NONE {
                            acc += T::from_f64(wk) * src[j as usize];
                        }
                    }
                    *o = acc;
                }
            }
        }
    }

    fn scatter_plane<T: ConvElement>(&self, group: usize, src: &[T], dst: &mut [T]) {
        let span = self.out_plane * self.taps;
        let idx = &self.index[group * span..][..span];
        let taps = self.taps.max(1);
        for (o, &g) in src.iter().enumerate() {
            let row = &idx[o * taps..][..self.taps];
            match self.weight {
                None => {
                    for &j in row {
                        if j != NONE {
                            dst[j as usize] += g;
                        }
                    }
                }
                Some(w) => {
                    let ws = &w[group * span + o * taps..][..self.taps];
                    for (&j, &wk) in row.iter().zip(ws) {
                        if j != NONE {
                            dst[j as usize] += T::from_f64(wk) * g;
                        }
                    }
                }
            }
        }
    }

    /// The map applied to each of `planes` planes of `src` (`planes * in_plane` elements).
    pub fn apply<T: ConvElement>(&self, src: &[T], planes: usize) -> Result<Vec<T>> {
        let mut out = zeroed::<T>(planes * self.out_plane)?;
        if self.out_plane == 0 || planes == 0 {
            return Ok(out);
        }
        let work = out.len() * self.taps.max(1);
        let run = |(b, dst): (usize, &mut [T])| {
            self.gather_plane(self.group_of(b, planes), &src[b * self.in_plane..][..self.in_plane], dst)
        };
        if work >= PARALLEL_WORK && planes > 1 {
            out.par_chunks_mut(self.out_plane).enumerate().for_each(run);
        } else if work >= PARALLEL_WORK {
            // One big plane: split its output rows across threads (each reads the whole input).
            let rows = self.out_plane.div_ceil(rayon::current_num_threads().max(1) * 4).max(1);
            let span = self.out_plane * self.taps;
            out.par_chunks_mut(rows).enumerate().for_each(|(r, dst)| {
                let lo = r * rows;
                let part = MapView {
                    in_plane: self.in_plane,
                    out_plane: dst.len(),
                    taps: self.taps,
                    groups: 1,
                    index: &self.index[..span][lo * self.taps..][..dst.len() * self.taps],
                    weight: self.weight.map(|w| &w[..span][lo * self.taps..][..dst.len() * self.taps]),
                };
                part.gather_plane(0, &src[..self.in_plane], dst);
            });
        } else {
            out.chunks_mut(self.out_plane).enumerate().for_each(run);
        }
        Ok(out)
    }

    /// The transposed map applied to each of `planes` planes of `src` (`planes * out_plane`
    /// elements), giving `planes * in_plane` elements.
    pub fn apply_transposed<T: ConvElement>(&self, src: &[T], planes: usize) -> Result<Vec<T>> {
        let mut out = zeroed::<T>(planes * self.in_plane)?;
        if self.in_plane == 0 || planes == 0 {
            return Ok(out);
        }
        let work = src.len() * self.taps.max(1);
        let run = |(b, dst): (usize, &mut [T])| {
            self.scatter_plane(self.group_of(b, planes), &src[b * self.out_plane..][..self.out_plane], dst)
        };
        if work >= PARALLEL_WORK && planes > 1 {
            out.par_chunks_mut(self.in_plane).enumerate().for_each(run);
        } else {
            out.chunks_mut(self.in_plane).enumerate().for_each(run);
        }
        Ok(out)
    }
}
