//! Kernels of the set ops (`unique`, `isin`) and sorted search: elements mapped to
//! order-preserving u64 keys, an LSD radix sort of those keys, and a counting pass when the
//! keys span a small range (the common case of class labels and token ids).

use crate::error::Result;
use crate::storage::{try_vec_with_capacity, Element};
use rayon::prelude::*;

const SIGN: u64 = 1 << 63;

/// An element as a u64 whose unsigned order is the element's order. Floats: -0.0 keys as 0.0
/// (they compare equal), every NaN as `u64::MAX` (after +inf, as PyTorch sorts NaN last).
pub trait SortKey: Element {
    fn key(self) -> u64;
    fn from_key(k: u64) -> Self;
    /// Whether the dtype has NaN keys (which never equal anything, themselves included).
    const HAS_NAN: bool;
}

impl SortKey for f64 {
    #[inline(always)]
    fn key(self) -> u64 {
        if self.is_nan() {
            return u64::MAX;
        }
        let b = (self + 0.0).to_bits(); // -0.0 + 0.0 is +0.0
        if b & SIGN != 0 {
            !b
        } else {
            b | SIGN
        }
    }
    #[inline(always)]
    fn from_key(k: u64) -> Self {
        f64::from_bits(if k & SIGN != 0 { k & !SIGN } else { !k })
    }
    const HAS_NAN: bool = true;
}

impl SortKey for f32 {
    #[inline(always)]
    fn key(self) -> u64 {
        if self.is_nan() {
            return u64::MAX;
        }
        let b = (self + 0.0).to_bits();
        (if b & 0x8000_0000 != 0 { !b } else { b | 0x8000_0000 }) as u64
    }
    #[inline(always)]
    fn from_key(k: u64) -> Self {
        if k == u64::MAX {
            return f32::NAN;
        }
        let k = k as u32;
        f32::from_bits(if k & 0x8000_0000 != 0 { k & 0x7fff_ffff } else { !k })
    }
    const HAS_NAN: bool = true;
}

impl SortKey for i64 {
    #[inline(always)]
    fn key(self) -> u64 {
        (self as u64) ^ SIGN
    }
    #[inline(always)]
    fn from_key(k: u64) -> Self {
        (k ^ SIGN) as i64
    }
    const HAS_NAN: bool = false;
}

impl SortKey for i32 {
    #[inline(always)]
    fn key(self) -> u64 {
        (self as i64 as u64) ^ SIGN
    }
    #[inline(always)]
    fn from_key(k: u64) -> Self {
        (k ^ SIGN) as i64 as i32
    }
    const HAS_NAN: bool = false;
}

macro_rules! small_int_key {
    ($t:ty) => {
        impl SortKey for $t {
            #[inline(always)]
            fn key(self) -> u64 {
                (self as i64 as u64) ^ SIGN
            }
            #[inline(always)]
            fn from_key(k: u64) -> Self {
                (k ^ SIGN) as i64 as $t
            }
            const HAS_NAN: bool = false;
        }
    };
}
small_int_key!(i16);
small_int_key!(i8);
small_int_key!(u8);

// float16/bfloat16 key as their (exact) float32 value.
macro_rules! half_key {
    ($t:ty) => {
        impl SortKey for $t {
            #[inline(always)]
            fn key(self) -> u64 {
                self.to_f32().key()
            }
            #[inline(always)]
            fn from_key(k: u64) -> Self {
                <$t>::from_f32(f32::from_key(k))
            }
            const HAS_NAN: bool = true;
        }
    };
}
half_key!(half::f16);
half_key!(half::bf16);

impl SortKey for bool {
    #[inline(always)]
    fn key(self) -> u64 {
        self as u64
    }
    #[inline(always)]
    fn from_key(k: u64) -> Self {
        k != 0
    }
    const HAS_NAN: bool = false;
}

/// Keys of `v`, in parallel when large.
pub fn keys_of<T: SortKey>(v: &[T]) -> Result<Vec<u64>> {
    let mut out = try_vec_with_capacity(v.len())?;
    if v.len() >= super::PAR_THRESHOLD {
        v.par_iter().map(|&x| x.key()).collect_into_vec(&mut out);
    } else {
        out.extend(v.iter().map(|&x| x.key()));
    }
    Ok(out)
}

/// The bytes in which the keys differ (the others are the same everywhere: no pass needed).
fn varying_bytes(keys: &[u64]) -> u64 {
    let first = keys.first().copied().unwrap_or(0);
    keys.iter().fold(0u64, |acc, &k| acc | (k ^ first))
}

/// Sorts `keys` ascending (stable), carrying `idx` along when given: LSD radix on 8-bit digits,
/// skipping digits that are the same in every key.
pub fn radix_sort(keys: &mut Vec<u64>, mut idx: Option<&mut Vec<u32>>) -> Result<()> {
    let n = keys.len();
    if n < 2 {
        return Ok(());
    }
    if n <= 64 {
        // Small inputs: an insertion-free stable sort of pairs is cheaper than 8 histograms.
        let mut pairs: Vec<(u64, u32)> = match idx.as_deref() {
            Some(ix) => keys.iter().copied().zip(ix.iter().copied()).collect(),
            None => keys.iter().map(|&k| (k, 0)).collect(),
        };
        pairs.sort_by_key(|p| p.0);
        for (i, (k, j)) in pairs.into_iter().enumerate() {
            keys[i] = k;
            if let Some(ix) = idx.as_deref_mut() {
                ix[i] = j;
            }
        }
        return Ok(());
    }
    let diff = varying_bytes(keys);
    let mut kbuf: Vec<u64> = vec![0; n];
    let mut ibuf: Vec<u32> = if idx.is_some() { vec![0; n] } else { Vec::new() };
    for byte in 0..8 {
        let shift = byte * 8;
        if (diff >> shift) & 0xff == 0 {
            continue;
        }
        let mut count = [0usize; 256];
        for &k in keys.iter() {
            count[((k >> shift) & 0xff) as usize] += 1;
        }
        let mut sum = 0;
        for c in count.iter_mut() {
            let t = *c;
            *c = sum;
            sum += t;
        }
        match idx.as_deref_mut() {
            Some(ix) => {
                for (&k, &j) in keys.iter().zip(ix.iter()) {
                    let d = ((k >> shift) & 0xff) as usize;
                    kbuf[count[d]] = k;
                    ibuf[count[d]] = j;
                    count[d] += 1;
                }
                std::mem::swap(ix, &mut ibuf);
            }
            None => {
                for &k in keys.iter() {
                    let d = ((k >> shift) & 0xff) as usize;
                    kbuf[count[d]] = k;
                    count[d] += 1;
                }
            }
        }
        std::mem::swap(keys, &mut kbuf);
    }
    Ok(())
}

/// `unique` of a flat array of keys: the distinct keys ascending, with the inverse (the group
/// of each input element) and the counts when asked. NaN keys (`nan_distinct`) are each their
/// own group, as PyTorch's CPU unique keeps every NaN.
pub struct Unique {
    pub keys: Vec<u64>,
    pub inverse: Option<Vec<i64>>,
    pub counts: Option<Vec<i64>>,
}

/// A counting pass replaces the sort when the keys span at most this many values per element.
const DENSE_SPAN_PER_ELEMENT: u64 = 4;

pub fn unique_keys(keys: Vec<u64>, nan_distinct: bool, inverse: bool, counts: bool) -> Result<Unique> {
    let n = keys.len();
    if n == 0 {
        return Ok(Unique { keys, inverse: inverse.then(Vec::new), counts: counts.then(Vec::new) });
    }
    let (lo, hi) = keys.iter().fold((u64::MAX, 0u64), |(a, b), &k| (a.min(k), b.max(k)));
    let span = hi - lo;
    let dense = !(nan_distinct && hi == u64::MAX)
        && span < (n as u64).saturating_mul(DENSE_SPAN_PER_ELEMENT).max(1024);
    if dense {
        return Ok(unique_dense(&keys, lo, span as usize + 1, inverse, counts));
    }
    let mut sorted = keys.clone();
    let mut order: Option<Vec<u32>> = if inverse { Some((0..n as u32).collect()) } else { None };
    radix_sort(&mut sorted, order.as_mut())?;
    let mut out_keys = Vec::new();
    let mut cnt = Vec::new();
    let mut inv = if inverse { vec![0i64; n] } else { Vec::new() };
    for (i, &k) in sorted.iter().enumerate() {
        let new_group = i == 0 || k != sorted[i - 1] || (nan_distinct && k == u64::MAX);
        if new_group {
            out_keys.push(k);
            cnt.push(0i64);
        }
        *cnt.last_mut().expect("a group was opened") += 1;
        if let Some(o) = &order {
            inv[o[i] as usize] = out_keys.len() as i64 - 1;
        }
    }
    Ok(Unique { keys: out_keys, inverse: inverse.then_some(inv), counts: counts.then_some(cnt) })
}

/// Counting `unique` over keys in `[lo, lo + span)`: one histogram pass, one pass over the
/// histogram, and a lookup per element for the inverse.
fn unique_dense(keys: &[u64], lo: u64, span: usize, inverse: bool, counts: bool) -> Unique {
    let mut hist = vec![0i64; span];
    for &k in keys {
        hist[(k - lo) as usize] += 1;
    }
    let mut out_keys = Vec::new();
    let mut cnt = Vec::new();
    for (i, &c) in hist.iter().enumerate() {
        if c > 0 {
            out_keys.push(lo + i as u64);
            if counts {
                cnt.push(c);
            }
        }
    }
    let inv = inverse.then(|| {
        // The histogram becomes each key's rank among the distinct keys.
        let mut rank = 0i64;
        for c in hist.iter_mut() {
            if *c > 0 {
                *c = rank;
                rank += 1;
            }
        }
        let map = |&k: &u64| hist[(k - lo) as usize];
        if keys.len() >= super::PAR_THRESHOLD {
            keys.par_iter().map(map).collect()
        } else {
            keys.iter().map(map).collect()
        }
    });
    Unique { keys: out_keys, inverse: inv, counts: counts.then_some(cnt) }
}

/// `unique_consecutive` of flat keys: groups of equal neighbours.
pub fn unique_consecutive_keys(keys: &[u64], nan_distinct: bool) -> (Vec<u64>, Vec<i64>, Vec<i64>) {
    let mut out = Vec::new();
    let mut cnt: Vec<i64> = Vec::new();
    let mut inv = Vec::with_capacity(keys.len());
    for (i, &k) in keys.iter().enumerate() {
        if i == 0 || k != keys[i - 1] || (nan_distinct && k == u64::MAX) {
            out.push(k);
            cnt.push(0);
        }
        *cnt.last_mut().expect("a group was opened") += 1;
        inv.push(out.len() as i64 - 1);
    }
    (out, inv, cnt)
}

/// PyTorch's lower/upper bound over `bd` (ascending, NaN last): a NaN value lands after every
/// element, as `!(mid >= val)` holds for it.
#[inline]
pub fn bound<T: PartialOrd + Copy>(bd: &[T], sorter: Option<&[i64]>, val: T, right: bool) -> i64 {
    let (mut start, mut end) = (0usize, bd.len());
    while start < end {
        let mid = start + ((end - start) >> 1);
        let m = match sorter {
            Some(s) => bd[s[mid] as usize],
            None => bd[mid],
        };
        // `!(m > val)` rather than `m <= val`: with NaN on either side it holds.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        let go_right = if right { !(m > val) } else { !(m >= val) };
        if go_right {
            start = mid + 1;
        } else {
            end = mid;
        }
    }
    start as i64
}
