//! The "simple CPU loop" baseline of benches/compare_wgpu.py: the straightforward single-thread
//! Rust loop for each wgpu benchmark (an i-k-j matmul the compiler vectorizes, one fused pass
//! for the elementwise chain). Prints one JSON object: benchmark name -> median nanoseconds.
//!
//!     cargo run --release -p rgrad-benches --example simple_loops

use std::hint::black_box;
use std::time::Instant;

fn median_ns(repeats: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut t: Vec<f64> = (0..repeats)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_nanos() as f64
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn data(n: usize, seed: u32) -> Vec<f32> {
    // A cheap deterministic fill; the values do not matter for timing.
    (0..n)
        .map(|i| ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 2000) as f32 / 1000.0 - 1.0)
        .collect()
}

fn matmul(a: &[f32], b: &[f32], c: &mut [f32], n: usize) {
    c.fill(0.0);
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            let (row, brow) = (&mut c[i * n..(i + 1) * n], &b[k * n..(k + 1) * n]);
            for (x, &y) in row.iter_mut().zip(brow) {
                *x += aik * y;
            }
        }
    }
}

fn main() {
    let mut out = Vec::new();
    for (n, repeats) in [(256usize, 9usize), (1024, 3), (2048, 1)] {
        let (a, b) = (data(n * n, 1), data(n * n, 2));
        let mut c = vec![0.0f32; n * n];
        let ns = median_ns(repeats, || {
            matmul(black_box(&a), black_box(&b), &mut c, n);
            black_box(&c);
        });
        out.push(format!("\"matmul {n}x{n} float32\": {ns}"));
    }
    let n = 1 << 20;
    let (a, b) = (data(n, 3), data(n, 4));
    let ns = median_ns(15, || {
        let s: f32 = a.iter().zip(&b).map(|(&x, &y)| (x * y + x).exp()).sum();
        black_box(s);
    });
    out.push(format!("\"elementwise chain 1M float32\": {ns}"));
    println!("{{{}}}", out.join(", "));
}
