//! The fused losses (ops/loss.rs) from Rust: values and gradients against their unfused
//! compositions, errors as `Err` (never a panic), and `None` for what they leave to the caller.

use rgrad_core::autograd::engine::{run, Target};
use rgrad_core::ops::loss::{CrossEntropy, Reduction};
use rgrad_core::{DType, Result, Tensor};

fn t64(data: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape)
}

fn leaf(data: &[f64], shape: &[usize]) -> Tensor {
    let t = t64(data, shape);
    t.set_requires_grad(true).unwrap();
    t
}

fn labels(data: &[i64]) -> Tensor {
    Tensor::from_vec(data.to_vec(), &[data.len()])
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} != {b:?}");
    }
}

fn opts(reduction: Reduction) -> CrossEntropy<'static> {
    CrossEntropy { weight: None, ignore_index: -100, label_smoothing: 0.0, reduction }
}

/// d root / d x, optionally keeping the graph of the gradient.
fn grad(root: &Tensor, x: &Tensor, create_graph: bool) -> Result<Tensor> {
    let seed = Tensor::ones(root.shape(), root.dtype())?;
    let g = run(
        std::slice::from_ref(root),
        vec![seed],
        create_graph,
        create_graph,
        Target::Capture(std::slice::from_ref(x)),
    )?;
    Ok(g.into_iter().next().flatten().expect("a gradient"))
}

const X: [f64; 8] = [0.5, -1.0, 2.0, 0.0, 3.0, 1.5, -0.5, 1.0];

#[test]
fn cross_entropy_matches_log_softmax_and_pick() -> Result<()> {
    let x = leaf(&X, &[2, 4]);
    let y = labels(&[2, 0]);
    let fused = x.cross_entropy(&y, &opts(Reduction::Mean))?.expect("covered");
    assert_eq!(fused.grad_fn().unwrap().name(), "NllLossBackward0");
    let lp = x.softmax(1, true)?.to_vec::<f64>();
    close(&fused.to_vec::<f64>(), &[-(lp[2] + lp[4]) / 2.0], 1e-14);
    // d/dx = (softmax - onehot) / N
    let g = grad(&fused, &x, false)?.to_vec::<f64>();
    let p: Vec<f64> = lp.iter().map(|v| v.exp()).collect();
    let onehot = [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0];
    let want: Vec<f64> = p.iter().zip(onehot).map(|(p, h)| (p - h) / 2.0).collect();
    close(&g, &want, 1e-14);
    Ok(())
}

#[test]
fn cross_entropy_second_derivative_is_the_softmax_hessian() -> Result<()> {
    // loss = lse(x) - x[y]; its Hessian is diag(p) - p p^T, so d/dx sum(g * w) = H w.
    let x = leaf(&X[..4], &[4]);
    let y = Tensor::from_vec(vec![1i64], &[]);
    let loss = x.cross_entropy(&y, &opts(Reduction::Sum))?.expect("covered");
    let g = grad(&loss, &x, true)?;
    let w = t64(&[1.0, -2.0, 0.5, 3.0], &[4]);
    let hw = grad(&g.mul(&w)?.sum(None, false)?, &x, false)?.to_vec::<f64>();
    let p = x.softmax(0, false)?.to_vec::<f64>();
    let pw: f64 = p.iter().zip(w.to_vec::<f64>()).map(|(p, w)| p * w).sum();
    let want: Vec<f64> = p.iter().zip(w.to_vec::<f64>()).map(|(p, w)| p * w - p * pw).collect();
    close(&hw, &want, 1e-12);
    Ok(())
}

#[test]
fn cross_entropy_errors_and_declines() -> Result<()> {
    let x = t64(&X, &[2, 4]);
    let err = x.cross_entropy(&labels(&[1, 4]), &opts(Reduction::Mean)).unwrap_err();
    assert_eq!(err.to_string(), "Target 4 is out of bounds.");
    // left to the caller: probabilities, a batch mismatch, int logits, a weight of the wrong
    // size or dtype
    assert!(x.cross_entropy(&x, &opts(Reduction::Mean))?.is_none());
    assert!(x.cross_entropy(&labels(&[1, 2, 3]), &opts(Reduction::Mean))?.is_none());
    let ints = Tensor::from_vec(vec![1i64; 8], &[2, 4]);
    assert!(ints.cross_entropy(&labels(&[1, 2]), &opts(Reduction::Mean))?.is_none());
    for w in [t64(&[1.0; 3], &[3]), Tensor::from_vec(vec![1.0f32; 4], &[4])] {
        let o = CrossEntropy { weight: Some(&w), ..opts(Reduction::Mean) };
        assert!(x.cross_entropy(&labels(&[1, 2]), &o)?.is_none());
    }
    Ok(())
}

#[test]
fn bce_with_logits_is_stable_and_its_gradient_is_sigmoid_minus_target() -> Result<()> {
    let x = leaf(&[-1e4, 0.0, 1e4, 2.0], &[4]);
    let t = t64(&[1.0, 1.0, 0.0, 0.25], &[4]);
    let out = x.binary_cross_entropy_with_logits(&t, None, None, Reduction::None)?.expect("covered");
    let sp = |v: f64| (-v).max(0.0) + (-v.abs()).exp().ln_1p(); // softplus(-v)
    close(&out.to_vec::<f64>(), &[1e4, 2f64.ln(), 1e4, 0.75 * 2.0 + sp(2.0)], 1e-14);
    let g = grad(&out.sum(None, false)?, &x, false)?.to_vec::<f64>();
    let s2 = 1.0 / (1.0 + (-2.0f64).exp());
    close(&g, &[-1.0, -0.5, 1.0, s2 - 0.25], 1e-14);
    // a target that wants a gradient is left to the caller
    let tg = leaf(&[1.0, 1.0, 0.0, 0.25], &[4]);
    assert!(x.binary_cross_entropy_with_logits(&tg, None, None, Reduction::Mean)?.is_none());
    let t32 = t.to_dtype(DType::F32)?;
    assert!(x.binary_cross_entropy_with_logits(&t32, None, None, Reduction::Mean)?.is_none());
    Ok(())
}
