//! Reductions over any set of dimensions of a strided view.

use crate::layout::{for_each_row, Layout};
use crate::shape::Dims;
use crate::storage::Element;

/// How to fold elements of type `T` into an accumulator.
pub trait Reducer<T: Element>: Sync {
    type Acc: Copy + Send;
    /// Whether [`Reducer::merge`] combines two partial results (then a large contiguous
    /// full reduction is split over the thread pool).
    const MERGES: bool = false;
    fn init(&self) -> Self::Acc;
    /// The fold of two runs from their folds (only called when `MERGES`).
    fn merge(&self, a: Self::Acc, _b: Self::Acc) -> Self::Acc {
        a
    }
    fn step(&self, acc: Self::Acc, x: T) -> Self::Acc;
    /// Folds a contiguous run; override where a faster (vectorizable) form exists.
    fn row(&self, acc: Self::Acc, xs: &[T]) -> Self::Acc {
        xs.iter().fold(acc, |a, &x| self.step(a, x))
    }
}

/// Sums into `A` (the input type for floats, `i64` for integers and bools).
pub struct Sum;

macro_rules! float_sum {
    ($t:ty) => {
        impl Reducer<$t> for Sum {
            type Acc = $t;
            const MERGES: bool = true;
            fn init(&self) -> $t {
                0.0
            }
            fn merge(&self, a: $t, b: $t) -> $t {
                a + b
            }
            #[inline]
            fn step(&self, acc: $t, x: $t) -> $t {
                acc + x
            }
            fn row(&self, acc: $t, xs: &[$t]) -> $t {
                // Eight independent lanes let the compiler vectorize and keep rounding error
                // lower than one long serial chain.
                let mut lanes = [0.0 as $t; 8];
                let chunks = xs.chunks_exact(8);
                let tail = chunks.remainder();
                for c in chunks {
                    for i in 0..8 {
                        lanes[i] += c[i];
                    }
                }
                let mut s = acc;
                for l in lanes {
                    s += l;
                }
                tail.iter().fold(s, |a, &x| a + x)
            }
        }
    };
}
float_sum!(f32);
float_sum!(f64);

macro_rules! int_sum {
    ($t:ty) => {
        impl Reducer<$t> for Sum {
            type Acc = i64;
            fn init(&self) -> i64 {
                0
            }
            #[inline]
            fn step(&self, acc: i64, x: $t) -> i64 {
                acc.wrapping_add(x as i64)
            }
        }
    };
}
int_sum!(i64);
int_sum!(i32);
int_sum!(bool);

/// Folds the view over `dims` (sorted, unique); returns one accumulator per kept position in
/// row-major order of the kept dims.
pub fn reduce<T: Element, R: Reducer<T>>(
    src: &[T],
    layout: &Layout,
    dims: &[usize],
    r: &R,
) -> crate::error::Result<Vec<R::Acc>> {
    let (mut kshape, mut kstrides, mut rshape, mut rstrides) =
        (Dims::new(), Dims::new(), Dims::new(), Dims::new());
    for d in 0..layout.ndim() {
        if dims.contains(&d) {
            rshape.push(layout.shape[d]);
            rstrides.push(layout.strides[d]);
        } else {
            kshape.push(layout.shape[d]);
            kstrides.push(layout.strides[d]);
        }
    }
    let out_n: usize = kshape.iter().product();
    let mut out = crate::storage::try_vec_repeat(out_n, r.init())?;
    if out_n == 0 || rshape.contains(&0) {
        return Ok(out);
    }
    if R::MERGES && out_n == 1 && layout.is_contiguous() && layout.numel() >= super::PAR_THRESHOLD {
        // One result over a large contiguous run: fixed-size chunks folded in parallel, then
        // their folds merged in order, so the value does not depend on the thread count.
        use rayon::prelude::*;
        let s = &src[layout.offset..layout.offset + layout.numel()];
        let parts: Vec<R::Acc> = s.par_chunks(1 << 16).map(|c| r.row(r.init(), c)).collect();
        out[0] = parts.into_iter().fold(r.init(), |a, b| r.merge(a, b));
        return Ok(out);
    }
    let (ck_shape, [ck_strides]) = Layout::coalesce(&kshape, [&kstrides]);
    if ck_shape.len() == 1 && ck_strides[0] == 1 {
        // Kept positions are one contiguous run: add whole runs at a time (sum over batch).
        for_each_row(&rshape, [&rstrides], [layout.offset], |[o], len, [st]| {
            for i in 0..len {
                let base = o + i * st;
                for (acc, &x) in out.iter_mut().zip(&src[base..base + out_n]) {
                    *acc = r.step(*acc, x);
                }
            }
        });
        return Ok(out);
    }
    let mut k = 0;
    for_each_row(&kshape, [&kstrides], [layout.offset], |[o], len, [st]| {
        for i in 0..len {
            let mut acc = out[k];
            for_each_row(&rshape, [&rstrides], [o + i * st], |[ro], rlen, [rst]| {
                acc = if rst == 1 {
                    r.row(acc, &src[ro..ro + rlen])
                } else {
                    (0..rlen).fold(acc, |a, j| r.step(a, src[ro + j * rst]))
                };
            });
            out[k] = acc;
            k += 1;
        }
    });
    Ok(out)
}

/// Maximum (or minimum) with NaN propagation, as PyTorch's `amax`/`max()`.
pub struct Extreme {
    pub is_max: bool,
}

impl<T: Element> Reducer<T> for Extreme {
    type Acc = Option<T>;
    fn init(&self) -> Option<T> {
        None
    }
    #[inline]
    fn step(&self, acc: Option<T>, x: T) -> Option<T> {
        #[allow(clippy::eq_op)]
        let x_nan = x != x;
        Some(match acc {
            None => x,
            #[allow(clippy::eq_op)]
            Some(a) if a != a => a,
            Some(_) if x_nan => x,
            Some(a) => {
                if (self.is_max && x > a) || (!self.is_max && x < a) {
                    x
                } else {
                    a
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_over_any_dims() {
        let data: Vec<f64> = (0..24).map(|x| x as f64).collect();
        let l = Layout::contiguous(&[2, 3, 4]);
        assert_eq!(reduce(&data, &l, &[0, 1, 2], &Sum).unwrap(), vec![276.0]);
        let s0 = reduce(&data, &l, &[0], &Sum).unwrap();
        assert_eq!(s0.len(), 12);
        assert_eq!(s0[0], 12.0);
        let s2 = reduce(&data, &l, &[2], &Sum).unwrap();
        assert_eq!(s2, vec![6.0, 22.0, 38.0, 54.0, 70.0, 86.0]);
        let s02 = reduce(&data, &l, &[0, 2], &Sum).unwrap();
        assert_eq!(s02, vec![6.0 + 54.0, 22.0 + 70.0, 38.0 + 86.0]);
        let t = l.permute(&[2, 1, 0]);
        assert_eq!(reduce(&data, &t, &[2], &Sum).unwrap()[0], 12.0);
    }
}
