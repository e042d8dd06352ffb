//! Elementwise maps over one or two (broadcast) strided inputs into a new contiguous buffer.

use super::PAR_THRESHOLD;
use crate::error::Result;
use crate::layout::{for_each_row, Layout};
use crate::storage::{try_vec_with_capacity, Element};
use rayon::prelude::*;

/// `f` applied to every element of the view `layout` of `src`.
pub fn map<T: Element, U: Element>(src: &[T], layout: &Layout, f: impl Fn(T) -> U + Sync) -> Result<Vec<U>> {
    let n = layout.numel();
    if n == 0 {
        return Ok(Vec::new());
    }
    // Output buffers are allocated fallibly up front; collecting into reserved room does not
    // allocate again.
    let mut out = try_vec_with_capacity(n)?;
    if layout.is_contiguous() {
        let s = &src[layout.offset..layout.offset + n];
        if n >= PAR_THRESHOLD {
            s.par_iter().map(|&x| f(x)).collect_into_vec(&mut out);
        } else {
            out.extend(s.iter().map(|&x| f(x)));
        }
        return Ok(out);
    }
    for_each_row(&layout.shape, [&layout.strides], [layout.offset], |[o], len, [st]| {
        out.extend((0..len).map(|i| f(src[o + i * st])));
    });
    Ok(out)
}

fn is_scalar(l: &Layout) -> bool {
    l.strides.iter().all(|&s| s == 0)
}

/// `f(a, b)` over two layouts already broadcast to the same shape.
pub fn zip<A: Element, B: Element, U: Element>(
    a: &[A],
    la: &Layout,
    b: &[B],
    lb: &Layout,
    f: impl Fn(A, B) -> U + Sync,
) -> Result<Vec<U>> {
    let n = la.numel();
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut out = try_vec_with_capacity(n)?;
    let par = n >= PAR_THRESHOLD;
    let (ca, cb) = (la.is_contiguous(), lb.is_contiguous());
    if ca && cb {
        let (sa, sb) = (&a[la.offset..la.offset + n], &b[lb.offset..lb.offset + n]);
        if par {
            sa.par_iter().zip(sb.par_iter()).map(|(&x, &y)| f(x, y)).collect_into_vec(&mut out);
        } else {
            out.extend(sa.iter().zip(sb).map(|(&x, &y)| f(x, y)));
        }
        return Ok(out);
    }
    if ca && is_scalar(lb) {
        let (sa, y) = (&a[la.offset..la.offset + n], b[lb.offset]);
        if par {
            sa.par_iter().map(|&x| f(x, y)).collect_into_vec(&mut out);
        } else {
            out.extend(sa.iter().map(|&x| f(x, y)));
        }
        return Ok(out);
    }
    if cb && is_scalar(la) {
        let (x, sb) = (a[la.offset], &b[lb.offset..lb.offset + n]);
        if par {
            sb.par_iter().map(|&y| f(x, y)).collect_into_vec(&mut out);
        } else {
            out.extend(sb.iter().map(|&y| f(x, y)));
        }
        return Ok(out);
    }
    for_each_row(&la.shape, [&la.strides, &lb.strides], [la.offset, lb.offset], |[oa, ob], len, [sa, sb]| {
        match (sa, sb) {
            (1, 1) => out.extend(a[oa..oa + len].iter().zip(&b[ob..ob + len]).map(|(&x, &y)| f(x, y))),
            (1, 0) => {
                let y = b[ob];
                out.extend(a[oa..oa + len].iter().map(|&x| f(x, y)))
            }
            (0, 1) => {
                let x = a[oa];
                out.extend(b[ob..ob + len].iter().map(|&y| f(x, y)))
            }
            _ => out.extend((0..len).map(|i| f(a[oa + i * sa], b[ob + i * sb]))),
        }
    });
    Ok(out)
}

/// `f(c, a, b)` over three layouts already broadcast to the same shape (for `where`).
pub fn zip3<C: Element, A: Element, B: Element, U: Element>(
    c: &[C],
    lc: &Layout,
    a: &[A],
    la: &Layout,
    b: &[B],
    lb: &Layout,
    f: impl Fn(C, A, B) -> U,
) -> Result<Vec<U>> {
    let mut out = try_vec_with_capacity(la.numel())?;
    for_each_row(
        &la.shape,
        [&lc.strides, &la.strides, &lb.strides],
        [lc.offset, la.offset, lb.offset],
        |[oc, oa, ob], len, [sc, sa, sb]| {
            out.extend((0..len).map(|i| f(c[oc + i * sc], a[oa + i * sa], b[ob + i * sb])));
        },
    );
    Ok(out)
}
