//! Sorting and selection kernels over contiguous rows: sort, topk, kthvalue, median,
//! nanmedian, mode. Each row gives `m` values and their int64 indices in the row.
//!
//! Elements are compared through an integer key with PyTorch's order (NaN above +inf and all
//! NaNs equal, -0 equal to +0), so comparisons are plain integer ones. Where PyTorch's result
//! on ties depends on its algorithm (libstdc++'s std::sort, nth_element, partial_sort, its
//! own quick select), the same algorithm runs here (`stdsort`), so the indices match.

use super::stdsort;
use crate::storage::Element;
use rayon::prelude::*;

/// An element type with its sort key.
pub trait SortKey: Element {
    type K: Copy + Ord + Send + Sync + Default + std::fmt::Debug;
    fn key(self) -> Self::K;
    /// Whether a key is the NaN key (floats only).
    fn key_is_nan(k: Self::K) -> bool;
    fn is_nan(self) -> bool;
}

macro_rules! float_key {
    ($t:ty, $k:ty) => {
        impl SortKey for $t {
            type K = $k;
            #[inline(always)]
            fn key(self) -> $k {
                if self.is_nan() {
                    return <$k>::MAX;
                }
                // `+ 0.0` makes -0 into +0; flipping turns the IEEE order into an unsigned one
                // (all bits of a negative, the sign bit of a positive), without a branch on
                // the sign, which random data would mispredict half the time.
                let b = (self + 0.0).to_bits();
                let sign = (b >> (<$k>::BITS - 1)).wrapping_neg();
                b ^ (sign | (1 << (<$k>::BITS - 1)))
            }
            #[inline(always)]
            fn key_is_nan(k: $k) -> bool {
                k == <$k>::MAX
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}
float_key!(f32, u32);
float_key!(f64, u64);

macro_rules! plain_key {
    ($t:ty) => {
        impl SortKey for $t {
            type K = $t;
            #[inline(always)]
            fn key(self) -> $t {
                self
            }
            #[inline(always)]
            fn key_is_nan(_: $t) -> bool {
                false
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                false
            }
        }
    };
}
plain_key!(i64);
plain_key!(i32);
plain_key!(i16);
plain_key!(i8);
plain_key!(u8);
plain_key!(bool);

// float16/bfloat16 sort by their float32 value (exact, so the order is the same).
macro_rules! half_key {
    ($t:ty) => {
        impl SortKey for $t {
            type K = u32;
            #[inline(always)]
            fn key(self) -> u32 {
                self.to_f32().key()
            }
            #[inline(always)]
            fn key_is_nan(k: u32) -> bool {
                k == u32::MAX
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}
half_key!(half::f16);
half_key!(half::bf16);

/// A key and the element's position in its row.
#[derive(Clone, Copy, Debug, Default)]
struct Pair<K> {
    k: K,
    i: u32,
}

fn pairs<T: SortKey>(row: &[T]) -> Vec<Pair<T::K>> {
    row.iter().enumerate().map(|(i, &x)| Pair { k: x.key(), i: i as u32 }).collect()
}

/// What to compute per row.
#[derive(Clone, Copy, Debug)]
pub enum RowOp {
    Sort {
        descending: bool,
        stable: bool,
    },
    Topk {
        k: usize,
        largest: bool,
        sorted: bool,
    },
    /// The k-th smallest, 1-based.
    Kth {
        k: usize,
    },
    Median {
        ignore_nan: bool,
    },
    Mode,
}

impl RowOp {
    /// Values per row of length `len`.
    pub fn out_len(self, len: usize) -> usize {
        match self {
            RowOp::Sort { .. } => len,
            RowOp::Topk { k, .. } => k,
            _ => 1,
        }
    }
}

/// Runs `op` over the rows of length `len` in `data`: the values and their indices, `m`
/// per row. Rows run in parallel when there are several and the work pays.
pub fn run_rows<T: SortKey>(data: &[T], len: usize, op: RowOp) -> (Vec<T>, Vec<i64>) {
    let m = op.out_len(len);
    let rows = data.len().checked_div(len).unwrap_or(0);
    let mut vals = vec![T::default(); rows * m];
    let mut idx = vec![0i64; rows * m];
    if m == 0 || rows == 0 {
        return (vals, idx);
    }
    let f = |(row, (v, i)): (&[T], (&mut [T], &mut [i64]))| row_op(row, op, v, i);
    if rows > 1 && data.len() >= 1 << 14 {
        data.par_chunks(len).zip(vals.par_chunks_mut(m).zip(idx.par_chunks_mut(m))).for_each(f);
    } else {
        data.chunks(len).zip(vals.chunks_mut(m).zip(idx.chunks_mut(m))).for_each(f);
    }
    (vals, idx)
}

fn row_op<T: SortKey>(row: &[T], op: RowOp, v: &mut [T], ix: &mut [i64]) {
    let emit = |ps: &[Pair<T::K>], v: &mut [T], ix: &mut [i64]| {
        for ((p, v), ix) in ps.iter().zip(v.iter_mut()).zip(ix.iter_mut()) {
            *v = row[p.i as usize];
            *ix = p.i as i64;
        }
    };
    match op {
        RowOp::Sort { descending, stable } => {
            let mut ps = pairs(row);
            sort_pairs::<T>(&mut ps, descending, stable);
            emit(&ps, v, ix);
        }
        RowOp::Topk { k, largest, sorted } => {
            let ps = if largest {
                topk(row, k, sorted, &|a: &Pair<T::K>, b: &Pair<T::K>| a.k > b.k, true)
            } else {
                topk(row, k, sorted, &|a: &Pair<T::K>, b: &Pair<T::K>| a.k < b.k, false)
            };
            emit(&ps, v, ix);
        }
        RowOp::Kth { k } => {
            let mut ps = pairs(row);
            stdsort::quick_select(&mut ps, k - 1, &|a: &Pair<T::K>, b: &Pair<T::K>| a.k > b.k);
            emit(&ps[k - 1..k], v, ix);
        }
        RowOp::Median { ignore_nan } => {
            let (x, i) = median(row, ignore_nan);
            v[0] = x;
            ix[0] = i as i64;
        }
        RowOp::Mode => {
            let (x, i) = mode(row);
            v[0] = x;
            ix[0] = i as i64;
        }
    }
}

fn sort_pairs<T: SortKey>(ps: &mut [Pair<T::K>], descending: bool, stable: bool) {
    let big = ps.len() > 1 << 16;
    match (stable, descending) {
        // A stable order is unique: ties by position, so any algorithm gives it.
        (true, false) => {
            let cmp = |a: &Pair<T::K>, b: &Pair<T::K>| a.k.cmp(&b.k).then(a.i.cmp(&b.i));
            if big {
                ps.par_sort_unstable_by(cmp)
            } else {
                ps.sort_unstable_by(cmp)
            }
        }
        (true, true) => {
            let cmp = |a: &Pair<T::K>, b: &Pair<T::K>| b.k.cmp(&a.k).then(a.i.cmp(&b.i));
            if big {
                ps.par_sort_unstable_by(cmp)
            } else {
                ps.sort_unstable_by(cmp)
            }
        }
        (false, false) => stdsort::sort(ps, &|a: &Pair<T::K>, b: &Pair<T::K>| a.k < b.k),
        (false, true) => stdsort::sort(ps, &|a: &Pair<T::K>, b: &Pair<T::K>| a.k > b.k),
    }
}

/// PyTorch's topk on one row: a heap over the row when k is small against it (partial_sort),
/// else nth_element and a sort of the first k - 1.
fn topk<T: SortKey, F: Fn(&Pair<T::K>, &Pair<T::K>) -> bool + Sync>(
    row: &[T],
    k: usize,
    sorted: bool,
    better: &F,
    largest: bool,
) -> Vec<Pair<T::K>> {
    let n = row.len();
    if k * 64 <= n {
        // The row streams past the heap; an element that is not above (below) the heap's
        // worst in the element's own order cannot enter, which skips the key and the exact
        // comparison for nearly all of a long row.
        let mut heap = pairs(&row[..k]);
        stdsort::heap_init(&mut heap, better);
        let mut worst = row[heap[0].i as usize];
        for (i, &x) in row.iter().enumerate().skip(k) {
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            let may_enter = if largest { !(x <= worst) } else { !(x >= worst) };
            if may_enter {
                stdsort::heap_offer(&mut heap, Pair { k: x.key(), i: i as u32 }, better);
                worst = row[heap[0].i as usize];
            }
        }
        stdsort::sort_heap(&mut heap, better);
        return heap;
    }
    let mut ps = pairs(row);
    stdsort::nth_element(&mut ps, k - 1, better);
    if sorted {
        stdsort::sort(&mut ps[..k - 1], better);
    }
    ps.truncate(k);
    ps
}

/// The lower median and its index; with `ignore_nan` over the non-NaN values (NaN when all
/// are NaN), else the first NaN when there is one.
fn median<T: SortKey>(row: &[T], ignore_nan: bool) -> (T, usize) {
    let n = row.len();
    let mut ps = pairs(row);
    if !ignore_nan {
        if let Some(p) = row.iter().position(|x| x.is_nan()) {
            return (row[p], p);
        }
        let nth = (n - 1) / 2;
        stdsort::nth_element(&mut ps, nth, &|a: &Pair<T::K>, b: &Pair<T::K>| {
            a.k < b.k || (a.k == b.k && a.i < b.i)
        });
        let i = ps[nth].i as usize;
        return (row[i], i);
    }
    let nans = row.iter().filter(|x| x.is_nan()).count();
    // C++'s (n - nans - 1) / 2 truncates -1 / 2 to 0.
    let nth = if nans == n { 0 } else { (n - nans - 1) / 2 };
    stdsort::nth_element(&mut ps, nth, &|a: &Pair<T::K>, b: &Pair<T::K>| {
        a.k < b.k || (a.k == b.k && a.i < b.i && !T::key_is_nan(a.k))
    });
    let i = ps[nth].i as usize;
    (row[i], i)
}

/// PyTorch's mode: std::sort of (value, index) by value with the element's own `<` (so NaNs,
/// unordered, stay where the sort leaves them and each counts once), then the longest run,
/// the first of equally long ones; its index is the run's last.
fn mode<T: SortKey>(row: &[T]) -> (T, usize) {
    let mut e: Vec<(T, u32)> = row.iter().enumerate().map(|(i, &x)| (x, i as u32)).collect();
    stdsort::sort(&mut e, &|a: &(T, u32), b: &(T, u32)| a.0 < b.0);
    let (mut best, mut run, mut max_run) = ((T::default(), 0u32), 0usize, 0usize);
    for i in 0..e.len() {
        run += 1;
        #[allow(clippy::float_cmp)]
        let ends = i + 1 == e.len() || e[i].0 != e[i + 1].0;
        if ends {
            if run > max_run {
                best = e[i];
                max_run = run;
            }
            run = 0;
        }
    }
    (best.0, best.1 as usize)
}

/// Rows longer than this cannot be indexed by the kernels' u32 positions.
pub const MAX_ROW: usize = u32::MAX as usize;
