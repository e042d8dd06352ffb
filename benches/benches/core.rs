//! Criterion benches of rgrad-core's Rust API, without Python in the way: the fixed cost of a
//! small op and of a tiny backward, a large elementwise chain, and matrix products.
//!
//! `cargo bench -p rgrad-benches` runs them all; `cargo bench -p rgrad-benches -- matmul`
//! runs those whose name contains `matmul`. The Python-level comparison with NumPy and
//! PyTorch is `python benches/compare.py`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rgrad_core::grad_mode::GradModeGuard;
use rgrad_core::ops::factory::{manual_seed, randn};
use rgrad_core::{DType, Tensor};
use std::hint::black_box;
use std::time::Duration;

/// `a + b` on two 0-dim float32 tensors: the per-op fixed cost.
fn scalar_add(c: &mut Criterion) {
    let a = Tensor::from_vec(vec![2.0f32], &[]);
    let b = Tensor::from_vec(vec![3.0f32], &[]);
    c.bench_function("scalar_add_f32", |bench| bench.iter(|| black_box(&a).add(black_box(&b)).unwrap()));
}

/// The first seed's Example 1: `z = x * y + y ** 2; z.backward()` with x = 2, y = 3 leaves
/// that require grad. Leaves are made once; their grads are reset each iteration, as the
/// Python comparison does with `x.grad = None`.
fn example1_fwd_bwd(c: &mut Criterion) {
    let x = Tensor::from_vec(vec![2.0f32], &[]);
    let y = Tensor::from_vec(vec![3.0f32], &[]);
    x.set_requires_grad(true).unwrap();
    y.set_requires_grad(true).unwrap();
    let step = || {
        x.set_grad(None).unwrap();
        y.set_grad(None).unwrap();
        let z = x.mul(&y).unwrap().add(&y.pow_scalar(2.0).unwrap()).unwrap();
        z.backward(None, None, false).unwrap();
    };
    // Check once that the graph computes what the seed prints (dz/dx = 3, dz/dy = 8).
    step();
    assert_eq!(x.grad().unwrap().item().unwrap().to_f64(), 3.0);
    assert_eq!(y.grad().unwrap().item().unwrap().to_f64(), 8.0);
    c.bench_function("example1_forward_backward", |bench| bench.iter(step));
}

/// `((a * b) + a).exp().sum()`: three full-size temporaries and a reduction.
fn chain(a: &Tensor, b: &Tensor) -> rgrad_core::Result<Tensor> {
    a.mul(b)?.add(a)?.exp()?.sum(None, false)
}

/// The chain over 1M float32 elements, under no_grad.
fn elementwise_chain(c: &mut Criterion) {
    const N: usize = 1 << 20;
    manual_seed(0);
    let a = randn(&[N], DType::F32).unwrap();
    let b = randn(&[N], DType::F32).unwrap();
    let mut group = c.benchmark_group("elementwise_chain_1M_f32");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("mul_add_exp_sum", |bench| {
        bench.iter(|| {
            let _guard = GradModeGuard::new(false);
            black_box(chain(&a, &b).unwrap())
        })
    });
    group.finish();
}

/// Square float32 matmul. Throughput is counted in floating-point operations (2·n³ per
/// product), so criterion's "elem/s" reads as FLOP/s.
fn matmul(c: &mut Criterion) {
    manual_seed(0);
    let mut group = c.benchmark_group("matmul_f32");
    for n in [256usize, 1024] {
        let a = randn(&[n, n], DType::F32).unwrap();
        let b = randn(&[n, n], DType::F32).unwrap();
        group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        if n >= 1024 {
            // ~15 ms per product on 2 cores: fewer samples keep the run to seconds.
            group.sample_size(20).measurement_time(Duration::from_secs(8));
        }
        group.bench_function(format!("{n}x{n}"), |bench| bench.iter(|| black_box(a.matmul(&b).unwrap())));
    }
    group.finish();
}

criterion_group!(benches, scalar_add, example1_fwd_bwd, elementwise_chain, matmul);
criterion_main!(benches);
