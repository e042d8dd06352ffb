//! Dropping a small graph happens in place: the work list that keeps deep drops off the
//! stack (tests/deep_graphs.rs) is for cascades only. Moving every node's `Op` onto that list
//! cost Example 1 about 1,500 instructions per iteration; the list's allocation is the part
//! that can be observed, so this counts the allocations made while a graph drops.

use rgrad_core::{DType, Tensor};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn leaf() -> Tensor {
    let x = Tensor::ones(&[2], DType::F32).unwrap();
    x.set_requires_grad(true).unwrap();
    x
}

/// Allocations made while `f` runs (the only test in this binary, so no other thread
/// allocates meanwhile).
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    f();
    COUNTING.store(false, Ordering::SeqCst);
    ALLOCS.load(Ordering::SeqCst)
}

#[test]
fn dropping_a_small_graph_allocates_nothing() {
    let (x, w) = (leaf(), leaf());
    // Three nodes that cascade (the sum's node holds the product's, which holds the add's),
    // each saving tensors: Example 1's shape.
    let z = x.mul(&w).unwrap().add_scalar(1.0).unwrap().mul(&x).unwrap().sum(None, false).unwrap();
    assert_eq!(allocations(|| drop(z)), 0);
    // Deep enough to reach the work list: still freed, and the list is emptied again.
    let mut y = x.clone();
    for _ in 0..1000 {
        y = y.mul(&w).unwrap();
    }
    drop(y);
    let z = x.mul(&w).unwrap().mul(&w).unwrap();
    assert_eq!(allocations(|| drop(z)), 0);
}
