//! CPU kernel of `embedding_bag`'s forward: the weight rows a bag's indices pick, reduced into
//! one output row (summed, optionally weighted per index; averaged; or the per-feature max,
//! with the row it came from). Bags are independent, so they split over the thread pool once
//! the rows to read pay for it. Indices are checked in range by the caller.

use crate::storage::Element;
use num_traits::Float;
use rayon::prelude::*;

/// Below this many weight elements read the kernel stays on the calling thread.
const PAR_MIN: usize = 1 << 15;

/// How a bag's rows are reduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BagMode {
    Sum,
    Mean,
    Max,
}

/// One call's operands: `weight` is `(rows, dim)` row-major; bag `b` holds the entries
/// `bounds[b]..bounds[b + 1]` of `index` (and of `psw`, the per-sample weights).
pub struct Bags<'a, T> {
    pub weight: &'a [T],
    pub dim: usize,
    pub index: &'a [i64],
    pub bounds: &'a [usize],
    pub psw: Option<&'a [T]>,
    pub padding: Option<i64>,
    pub mode: BagMode,
}

/// Fills one output row (and for max its argmax row; -1 where the bag has no row, whose
/// output stays zero, as PyTorch's).
fn one_bag<T: Float + Element>(a: &Bags<T>, b: usize, out: &mut [T], arg: &mut [i64]) {
    let d = a.dim;
    let mut count = 0usize;
    for j in a.bounds[b]..a.bounds[b + 1] {
        let r = a.index[j];
        if Some(r) == a.padding {
            continue;
        }
        let row = &a.weight[r as usize * d..][..d];
        match a.mode {
            BagMode::Sum | BagMode::Mean => {
                let s = a.psw.map_or(T::one(), |p| p[j]);
                if a.psw.is_some() {
                    out.iter_mut().zip(row).for_each(|(o, &w)| *o = *o + s * w);
                } else {
                    out.iter_mut().zip(row).for_each(|(o, &w)| *o = *o + w);
                }
            }
            BagMode::Max => {
                // Strictly greater replaces: on a tie the first row in the bag keeps the
                // gradient, as PyTorch's CPU kernel.
                for k in 0..d {
                    if count == 0 || row[k] > out[k] {
                        out[k] = row[k];
                        arg[k] = r;
                    }
                }
            }
        }
        count += 1;
    }
    if a.mode == BagMode::Mean && count > 0 {
        let c = T::from(count).unwrap_or_else(T::one);
        out.iter_mut().for_each(|o| *o = *o / c);
    }
}

/// The `(bags, dim)` output, and for max mode the `(bags, dim)` argmax rows.
pub fn forward<T: Float + Element>(a: &Bags<T>) -> (Vec<T>, Option<Vec<i64>>) {
    let (nb, d) = (a.bounds.len().saturating_sub(1), a.dim);
    let mut out = vec![T::zero(); nb * d];
    let is_max = a.mode == BagMode::Max;
    // Non-max modes write no argmax: one dummy row serves every bag.
    let mut arg = vec![-1i64; if is_max { nb * d } else { d }];
    let work = a.index.len() * d;
    if d == 0 || nb == 0 {
        return (out, is_max.then_some(arg));
    }
    if work >= PAR_MIN {
        if is_max {
            out.par_chunks_mut(d)
                .zip(arg.par_chunks_mut(d))
                .enumerate()
                .for_each(|(b, (o, m))| one_bag(a, b, o, m));
        } else {
            out.par_chunks_mut(d).enumerate().for_each_init(|| vec![0; d], |m, (b, o)| one_bag(a, b, o, m));
        }
    } else {
        for (b, o) in out.chunks_mut(d).enumerate() {
            let m = if is_max { &mut arg[b * d..][..d] } else { &mut arg[..] };
            one_bag(a, b, o, m);
        }
    }
    (out, is_max.then_some(arg))
}
