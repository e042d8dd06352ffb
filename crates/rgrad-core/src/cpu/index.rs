//! Index-driven copies: advanced indexing (take/put) and dim-wise gather/scatter.

use crate::error::Result;
use crate::layout::{for_each_row, Layout};
use crate::storage::{try_vec_with_capacity, Element};

/// Element offsets of every position of `layout`, in row-major order.
pub fn offsets(layout: &Layout) -> Result<Vec<usize>> {
    let mut out = try_vec_with_capacity(layout.numel())?;
    for_each_row(&layout.shape, [&layout.strides], [layout.offset], |[o], n, [s]| {
        out.extend((0..n).map(|i| o + i * s));
    });
    Ok(out)
}

/// For `bases` (one storage offset per index position) and a `rest` layout (offset 0),
/// copies `src[base + rest]` for every base, in order.
pub fn take<T: Element>(src: &[T], bases: &[usize], rest: &Layout) -> Result<Vec<T>> {
    let rest_offs = offsets(rest)?;
    let n =
        bases.len().checked_mul(rest_offs.len()).ok_or_else(|| crate::storage::alloc_error(usize::MAX))?;
    let mut out = try_vec_with_capacity(n)?;
    for &b in bases {
        out.extend(rest_offs.iter().map(|&r| src[b + r]));
    }
    Ok(out)
}

/// The inverse of [`take`]: writes (or adds) `vals` into `dst` at the same positions.
pub fn put<T: Element>(
    dst: &mut [T],
    bases: &[usize],
    rest: &Layout,
    vals: &[T],
    add: impl Fn(T, T) -> T,
    accumulate: bool,
) -> Result<()> {
    let rest_offs = offsets(rest)?;
    let mut k = 0;
    for &b in bases {
        for &r in &rest_offs {
            let slot = &mut dst[b + r];
            *slot = if accumulate { add(*slot, vals[k]) } else { vals[k] };
            k += 1;
        }
    }
    Ok(())
}

/// `masked_scatter` over row-major values: `src`'s elements in order where `mask` holds, `x`'s
/// elsewhere. The caller checked that `src` has at least as many elements as `mask` trues.
pub fn masked_scatter<T: Element>(x: &[T], mask: &[bool], src: &[T]) -> Result<Vec<T>> {
    let mut out = try_vec_with_capacity(x.len())?;
    let mut next = src.iter();
    for (&v, &m) in x.iter().zip(mask) {
        out.push(if m {
            *next
                .next()
                .ok_or_else(|| crate::error::Error::Runtime("masked_scatter: source ran out".into()))?
        } else {
            v
        });
    }
    Ok(out)
}
