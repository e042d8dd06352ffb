//! Runs the seed's Example 1 forward+backward in a loop (for profilers).
use rgrad_core::{DType, Scalar, Tensor};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let x = Tensor::scalar_tensor(Scalar::Float(2.0), DType::F32);
    let y = Tensor::scalar_tensor(Scalar::Float(3.0), DType::F32);
    x.set_requires_grad(true).unwrap();
    y.set_requires_grad(true).unwrap();
    let t0 = std::time::Instant::now();
    for _ in 0..n {
        let z = x.mul(&y).unwrap().add(&y.pow_scalar(2.0).unwrap()).unwrap();
        z.backward(None, None, false).unwrap();
        x.set_grad(None).unwrap();
        y.set_grad(None).unwrap();
    }
    println!("{:.3} us/iter", t0.elapsed().as_secs_f64() * 1e6 / n as f64);
}
