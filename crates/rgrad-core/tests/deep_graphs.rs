//! Graphs far deeper than the stack: dropping and walking them must not recurse.

use rgrad_core::{DType, Tensor};

/// Runs `f` on a thread with a small stack (as Python threads made with
/// `threading.stack_size(512 * 1024)`), so a recursive drop would overflow it.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(256 * 1024).spawn(f).unwrap().join().unwrap();
}

fn leaf() -> Tensor {
    let x = Tensor::ones(&[2], DType::F32).unwrap();
    x.set_requires_grad(true).unwrap();
    x
}

#[test]
fn dropping_a_deep_chain_of_edges_is_iterative() {
    on_small_stack(|| {
        let mut y = leaf();
        for _ in 0..300_000 {
            y = y.add_scalar(0.0).unwrap();
        }
        drop(y);
    });
}

#[test]
fn dropping_a_deep_chain_of_saved_tensors_is_iterative() {
    // `y * y` saves both inputs, so each node also reaches the previous one through a Saved
    // tensor, not only through its edge.
    on_small_stack(|| {
        let mut y = leaf();
        for _ in 0..200_000 {
            y = y.mul(&y).unwrap();
        }
        drop(y);
    });
}

#[test]
fn backward_through_a_deep_chain_runs_on_a_small_stack() {
    on_small_stack(|| {
        let x = leaf();
        let mut y = x.clone();
        for _ in 0..100_000 {
            y = y.add_scalar(1.0).unwrap();
        }
        y.sum(None, false).unwrap().backward(None, None, false).unwrap();
        assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![1.0, 1.0]);
    });
}
