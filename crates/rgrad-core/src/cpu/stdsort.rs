//! libstdc++'s `std::sort`, `std::nth_element` and `std::partial_sort`, step for step.
//!
//! PyTorch's CPU sort (stable=False), topk, median and mode run these on (value, index) pairs
//! with comparators that look at the value only, so which of several equal values lands
//! where (the indices it returns on ties) is whatever these exact algorithms do. Porting them
//! gives the same indices as PyTorch on ties; any other algorithm gives a valid but different
//! answer. `less` must be a strict weak order (the callers pass total-order keys).

/// Partitions of this many elements or fewer are left to the final insertion sort.
const THRESHOLD: usize = 16;
/// Above this many elements the two halves of a partition are sorted on two threads; the
/// result is the same, since the halves are independent.
const PAR_SPLIT: usize = 1 << 15;

fn lg(n: usize) -> usize {
    (usize::BITS - 1 - n.leading_zeros()) as usize
}

/// `std::sort`.
pub fn sort<E: Copy + Send, F: Fn(&E, &E) -> bool + Sync>(a: &mut [E], less: &F) {
    if a.is_empty() {
        return;
    }
    introsort_loop(a, lg(a.len()) * 2, less);
    final_insertion_sort(a, less);
}

fn introsort_loop<E: Copy + Send, F: Fn(&E, &E) -> bool + Sync>(mut a: &mut [E], mut depth: usize, less: &F) {
    while a.len() > THRESHOLD {
        if depth == 0 {
            let n = a.len();
            partial_sort(a, n, less);
            return;
        }
        depth -= 1;
        let cut = partition_pivot(a, less);
        let (lo, hi) = a.split_at_mut(cut);
        if hi.len() > PAR_SPLIT && lo.len() > PAR_SPLIT {
            rayon::join(|| introsort_loop(hi, depth, less), || introsort_loop(lo, depth, less));
            return;
        }
        introsort_loop(hi, depth, less);
        a = lo;
    }
}

fn final_insertion_sort<E: Copy, F: Fn(&E, &E) -> bool>(a: &mut [E], less: &F) {
    if a.len() > THRESHOLD {
        insertion_sort(&mut a[..THRESHOLD], less);
        for i in THRESHOLD..a.len() {
            unguarded_linear_insert(a, i, less);
        }
    } else {
        insertion_sort(a, less);
    }
}

fn insertion_sort<E: Copy, F: Fn(&E, &E) -> bool>(a: &mut [E], less: &F) {
    for i in 1..a.len() {
        if less(&a[i], &a[0]) {
            let v = a[i];
            a.copy_within(0..i, 1);
            a[0] = v;
        } else {
            unguarded_linear_insert(a, i, less);
        }
    }
}

fn unguarded_linear_insert<E: Copy, F: Fn(&E, &E) -> bool>(a: &mut [E], mut last: usize, less: &F) {
    let v = a[last];
    while less(&v, &a[last - 1]) {
        a[last] = a[last - 1];
        last -= 1;
    }
    a[last] = v;
}

fn move_median_to_first<E: Copy, F: Fn(&E, &E) -> bool>(a: &mut [E], x: usize, y: usize, z: usize, less: &F) {
    let s = if less(&a[x], &a[y]) {
        if less(&a[y], &a[z]) {
            y
        } else if less(&a[x], &a[z]) {
            z
        } else {
            x
        }
    } else if less(&a[x], &a[z]) {
        x
    } else if less(&a[y], &a[z]) {
        z
    } else {
        y
    };
    a.swap(0, s);
}

/// Median of three moved to the front, then Hoare's partition of the rest around it.
fn partition_pivot<E: Copy, F: Fn(&E, &E) -> bool>(a: &mut [E], less: &F) -> usize {
    let n = a.len();
    move_median_to_first(a, 1, n / 2, n - 1, less);
    let (mut f, mut l) = (1, n);
    loop {
        while less(&a[f], &a[0]) {
            f += 1;
        }
        l -= 1;
        while less(&a[0], &a[l]) {
            l -= 1;
        }
        if f >= l {
            return f;
        }
        a.swap(f, l);
        f += 1;
    }
}

/// `std::__adjust_heap`: sift the hole at `hole` down, then push `v` up from there.
fn adjust_heap<E: Copy, F: Fn(&E, &E) -> bool>(a: &mut [E], mut hole: usize, len: usize, v: E, less: &F) {
    let top = hole;
    let mut child = hole;
    while len >= 1 && child < (len - 1) / 2 {
        child = 2 * (child + 1);
        if less(&a[child], &a[child - 1]) {
            child -= 1;
        }
        a[hole] = a[child];
        hole = child;
    }
    if len % 2 == 0 && len >= 2 && child == (len - 2) / 2 {
        child = 2 * (child + 1);
        a[hole] = a[child - 1];
        hole = child - 1;
    }
    while hole > top {
        let parent = (hole - 1) / 2;
        if !less(&a[parent], &v) {
            break;
        }
        a[hole] = a[parent];
        hole = parent;
    }
    a[hole] = v;
}

fn make_heap<E: Copy, F: Fn(&E, &E) -> bool>(a: &mut [E], less: &F) {
    let n = a.len();
    if n < 2 {
        return;
    }
    let mut p = (n - 2) / 2;
    loop {
        adjust_heap(a, p, n, a[p], less);
        if p == 0 {
            return;
        }
        p -= 1;
    }
}

/// A heap of the best `heap.len()` elements seen; `e` enters when it beats the top
/// (`std::__heap_select`'s loop body, on a stream of candidates).
#[inline]
pub fn heap_offer<E: Copy, F: Fn(&E, &E) -> bool>(heap: &mut [E], e: E, less: &F) {
    if less(&e, &heap[0]) {
        let n = heap.len();
        adjust_heap(heap, 0, n, e, less);
    }
}

/// `std::make_heap` over the first candidates (then feed the rest through [`heap_offer`]).
pub fn heap_init<E: Copy, F: Fn(&E, &E) -> bool>(heap: &mut [E], less: &F) {
    make_heap(heap, less);
}

/// `std::sort_heap`.
pub fn sort_heap<E: Copy, F: Fn(&E, &E) -> bool>(a: &mut [E], less: &F) {
    let mut l = a.len();
    while l > 1 {
        l -= 1;
        let v = a[l];
        a[l] = a[0];
        adjust_heap(a, 0, l, v, less);
    }
}

fn heap_select<E: Copy, F: Fn(&E, &E) -> bool>(a: &mut [E], middle: usize, less: &F) {
    make_heap(&mut a[..middle], less);
    for i in middle..a.len() {
        if less(&a[i], &a[0]) {
            let v = a[i];
            a[i] = a[0];
            adjust_heap(a, 0, middle, v, less);
        }
    }
}

/// `std::partial_sort(first, first + middle, last)`.
pub fn partial_sort<E: Copy, F: Fn(&E, &E) -> bool>(a: &mut [E], middle: usize, less: &F) {
    heap_select(a, middle, less);
    sort_heap(&mut a[..middle], less);
}

/// `std::nth_element`.
pub fn nth_element<E: Copy, F: Fn(&E, &E) -> bool>(a: &mut [E], nth: usize, less: &F) {
    if a.is_empty() || nth >= a.len() {
        return;
    }
    let (mut f, mut l) = (0usize, a.len());
    let mut depth = lg(a.len()) * 2;
    while l - f > 3 {
        if depth == 0 {
            heap_select(&mut a[f..l], nth - f + 1, less);
            a.swap(f, nth);
            return;
        }
        depth -= 1;
        let cut = f + partition_pivot(&mut a[f..l], less);
        if cut <= nth {
            f = cut;
        } else {
            l = cut;
        }
    }
    insertion_sort(&mut a[f..l], less);
}

/// PyTorch's own `quick_select_template` (kthvalue): the k-th element under `gt` (a
/// "greater, NaN greatest" comparison) moved to position `k`.
pub fn quick_select<E: Copy, F: Fn(&E, &E) -> bool>(a: &mut [E], k: usize, gt: &F) {
    if a.is_empty() {
        return;
    }
    let (mut lo, mut hi) = (0usize, a.len() - 1);
    loop {
        if hi <= lo {
            return;
        }
        if hi == lo + 1 {
            if gt(&a[lo], &a[hi]) {
                a.swap(lo, hi);
            }
            return;
        }
        let p = lo + (hi - lo) / 2;
        a.swap(p, lo + 1);
        if gt(&a[lo + 1], &a[hi]) {
            a.swap(lo + 1, hi);
        }
        if gt(&a[lo], &a[hi]) {
            a.swap(lo, hi);
        }
        if gt(&a[lo + 1], &a[lo]) {
            a.swap(lo + 1, lo);
        }
        let (mut i, mut j) = (lo + 1, hi);
        let piv = a[lo];
        loop {
            i += 1;
            while gt(&piv, &a[i]) {
                i += 1;
            }
            j -= 1;
            while gt(&a[j], &piv) {
                j -= 1;
            }
            if j < i {
                break;
            }
            a.swap(i, j);
        }
        a.swap(lo, j);
        if j <= k {
            lo = i;
        }
        if j >= k {
            hi = j - 1;
        }
    }
}
