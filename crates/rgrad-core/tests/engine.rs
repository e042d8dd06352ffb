//! Autograd engine behaviour PyTorch users rely on: gradients of compositions (checked against
//! central finite differences in float64), broadcasting, accumulation, freed graphs,
//! higher-order gradients, grad mode, in-place checks and gradient dtypes.

use rgrad_core::autograd::engine::{run, Target};
use rgrad_core::grad_mode::{self, GradModeGuard};
use rgrad_core::ops::binary::{binary, where_};
use rgrad_core::{BinaryOp, DType, Operand, Result, Scalar, Tensor, UnaryOp};

// ---- helpers ---------------------------------------------------------------------------------

fn t64(data: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape)
}

fn leaf(data: &[f64], shape: &[usize]) -> Tensor {
    let t = t64(data, shape);
    t.set_requires_grad(true).unwrap();
    t
}

fn vals(t: &Tensor) -> Vec<f64> {
    t.to_vec::<f64>()
}

fn grad_of(t: &Tensor) -> Vec<f64> {
    vals(&t.grad().expect("tensor has a .grad"))
}

/// `t.sum().backward()`.
fn sum_backward(t: &Tensor) -> Result<()> {
    t.sum(None, false)?.backward(None, None, false)
}

/// `torch.autograd.grad(root, inputs, create_graph=...)` for a scalar `root`; like PyTorch,
/// `retain_graph` defaults to `create_graph`.
fn grad_wrt(root: &Tensor, inputs: &[Tensor], create_graph: bool) -> Result<Vec<Tensor>> {
    let seed = Tensor::ones(root.shape(), root.dtype())?;
    let grads =
        run(std::slice::from_ref(root), vec![seed], create_graph, create_graph, Target::Capture(inputs))?;
    Ok(grads.into_iter().map(|g| g.expect("input is reachable from root")).collect())
}

fn assert_close(got: &[f64], want: &[f64]) {
    let close = |(g, w): (&f64, &f64)| (g - w).abs() <= 1e-12 * (1.0 + w.abs());
    assert!(got.len() == want.len() && got.iter().zip(want).all(close), "{got:?} != {want:?}");
}

fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

fn assert_starts(e: &str, prefix: &str) {
    assert!(e.starts_with(prefix), "expected {prefix:?}..., got {e:?}");
}

fn s(v: f64) -> Operand<'static> {
    Operand::S(Scalar::Float(v))
}

/// Deterministic values in [lo, hi) (a small LCG, so no dependency on the global RNG).
fn data(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let step = |x: u64| x.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut x = step(seed);
    let mut next = || {
        x = step(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n).map(|_| lo + (hi - lo) * next()).collect()
}

/// `sum(t * w)` with fixed, distinct weights, so every output element has its own
/// sensitivity (a plain sum would hide permuted gradients).
fn weighted_sum(t: &Tensor) -> Result<Tensor> {
    let w = t64(&data(t.numel(), 99, 0.5, 1.5), t.shape());
    t.mul(&w)?.sum(None, false)
}

type Input = (Vec<f64>, Vec<usize>);
type Fun = fn(&[Tensor]) -> Result<Tensor>;

fn input(shape: &[usize], seed: u64, lo: f64, hi: f64) -> Input {
    (data(shape.iter().product(), seed, lo, hi), shape.to_vec())
}

/// Compares the autograd gradient of `weighted_sum(f(inputs))` with central differences.
fn gradcheck(name: &str, inputs: &[Input], f: impl Fn(&[Tensor]) -> Result<Tensor>) {
    let leaves: Vec<Tensor> = inputs.iter().map(|(d, sh)| leaf(d, sh)).collect();
    let out = weighted_sum(&f(&leaves).unwrap()).unwrap();
    out.backward(None, None, false).unwrap();
    let eval = |which: usize, j: usize, delta: f64| -> f64 {
        let mut xs: Vec<Input> = inputs.to_vec();
        xs[which].0[j] += delta;
        let xs: Vec<Tensor> = xs.iter().map(|(d, sh)| t64(d, sh)).collect();
        vals(&weighted_sum(&f(&xs).unwrap()).unwrap())[0]
    };
    let eps = 1e-6;
    for (i, (d, sh)) in inputs.iter().enumerate() {
        let g = leaves[i].grad().expect(name);
        assert_eq!(g.shape(), sh.as_slice(), "{name}: grad shape of input {i}");
        assert_eq!(g.dtype(), DType::F64, "{name}: grad dtype of input {i}");
        for (j, a) in vals(&g).iter().enumerate().take(d.len()) {
            let numeric = (eval(i, j, eps) - eval(i, j, -eps)) / (2.0 * eps);
            assert!(
                (numeric - a).abs() <= 1e-5 * (1.0 + numeric.abs()),
                "{name}: d/d input{i}[{j}]: autograd {a}, finite difference {numeric}"
            );
        }
    }
}

fn gradcheck_all(cases: &[(&str, Vec<Input>, Fun)]) {
    for (name, inputs, f) in cases {
        gradcheck(name, inputs, f);
    }
}

// ---- gradients of compositions -----------------------------------------------------------------

#[test]
fn product_plus_square_gives_textbook_gradients() -> Result<()> {
    let (x, y) = (leaf(&[2.0, -1.0], &[2]), leaf(&[3.0, 0.5], &[2]));
    sum_backward(&x.mul(&y)?.add(&y.mul(&y)?)?)?;
    assert_eq!(grad_of(&x), vec![3.0, 0.5]); // dz/dx = y
    assert_eq!(grad_of(&y), vec![2.0 + 6.0, -1.0 + 1.0]); // dz/dy = x + 2y
    Ok(())
}

#[test]
fn polynomial_derivative_at_three() -> Result<()> {
    let x = leaf(&[3.0], &[]);
    let term = |c: f64, e: f64| binary(BinaryOp::Mul, Operand::T(&x.pow_scalar(e)?), s(c));
    let p = term(3.0, 3.0)?.add(&term(2.0, 2.0)?)?.add(&x)?;
    assert_eq!(vals(&p), vec![102.0]);
    p.backward(None, None, false)?;
    assert_eq!(grad_of(&x), vec![94.0]); // 9x^2 + 4x + 1
    Ok(())
}

fn bin(op: BinaryOp, t: &[Tensor]) -> Result<Tensor> {
    binary(op, Operand::T(&t[0]), Operand::T(&t[1]))
}

fn mm(t: &[Tensor]) -> Result<Tensor> {
    t[0].matmul(&t[1])
}

#[test]
fn binary_ops_match_finite_differences() {
    use {BinaryOp::*, Operand::T};
    let a = input(&[3, 1], 1, -1.0, 1.0);
    let b = input(&[4], 2, -1.0, 1.0);
    let pos = input(&[2, 3], 3, 0.5, 2.0);
    let row = input(&[3], 4, 0.5, 2.0);
    let zero_dim = input(&[], 5, 0.5, 1.0);
    let two = |x: &Input, y: &Input| vec![x.clone(), y.clone()];
    let p = || vec![pos.clone()];
    gradcheck_all(&[
        ("add broadcast", two(&a, &b), |t| bin(Add, t)),
        ("sub broadcast", two(&a, &b), |t| bin(Sub, t)),
        ("mul broadcast", two(&a, &b), |t| bin(Mul, t)),
        ("div", two(&a, &row), |t| bin(Div, t)),
        ("pow tensor", two(&pos, &row), |t| bin(Pow, t)),
        ("maximum", two(&pos, &row), |t| bin(Maximum, t)),
        ("minimum", two(&pos, &row), |t| bin(Minimum, t)),
        ("zero-dim * matrix", two(&zero_dim, &pos), |t| bin(Mul, t)),
        ("pow scalar", p(), |t| t[0].pow_scalar(-1.5)),
        ("scalar / x", p(), |t| binary(Div, s(3.0), T(&t[0]))),
        ("scalar ** x", p(), |t| binary(Pow, s(2.0), T(&t[0]))),
        ("scalar - x", p(), |t| t[0].rsub_scalar(1.0)),
    ]);
}

#[test]
fn unary_ops_match_finite_differences() {
    use UnaryOp::*;
    let any = [input(&[2, 3], 6, -1.2, 1.2)];
    let pos = [input(&[2, 3], 7, 0.3, 2.0)];
    for op in [Exp, Sin, Cos, Tan, Tanh, Sigmoid, Expm1] {
        gradcheck(&format!("{op:?}"), &any, |t| t[0].unary(op));
    }
    for op in [Log, Sqrt, Rsqrt, Log1p, Reciprocal] {
        gradcheck(&format!("{op:?}"), &pos, |t| t[0].unary(op));
    }
    // Away from 0, where these are differentiable.
    let x = || vec![(vec![-1.5, -0.4, 0.3, 0.8, -2.0, 1.1], vec![2, 3])];
    gradcheck_all(&[
        ("abs", x(), |t| t[0].abs()),
        ("relu", x(), |t| t[0].relu()),
        ("neg", x(), |t| t[0].neg()),
    ]);
}

#[test]
fn reductions_and_views_match_finite_differences() {
    let x = || vec![input(&[2, 3, 4], 8, -1.0, 1.0)];
    let x_and_y = vec![x().remove(0), input(&[3, 4], 9, -1.0, 1.0)];
    gradcheck_all(&[
        ("sum keepdim", x(), |t| t[0].sum(Some(&[0, 2]), true)),
        ("sum dim", x(), |t| t[0].sum(Some(&[-1]), false)),
        ("mean dim", x(), |t| t[0].mean(Some(&[1]), false, None)),
        ("mean", x(), |t| t[0].mean(None, false, None)),
        ("transpose", x(), |t| t[0].transpose(0, 2)),
        ("permute", x(), |t| t[0].permute(&[2, 0, 1])?.reshape(&[-1])),
        ("select", x(), |t| t[0].select(1, -1)),
        ("slice", x(), |t| t[0].slice(2, Some(1), None, 2)),
        ("expand", x(), |t| t[0].unsqueeze(1)?.expand(&[2, 5, 3, 4])),
        ("squeeze", x(), |t| t[0].slice(1, None, Some(1), 1)?.squeeze(None)),
        ("flatten", x(), |t| t[0].transpose(0, 1)?.flatten(0, -1)),
        ("where", x_and_y, |t| {
            let cond = t[0].detach().compare_scalar(BinaryOp::Gt, 0.0)?;
            where_(&cond, Operand::T(&t[0]), Operand::T(&t[1]))
        }),
    ]);
}

#[test]
fn matmul_shapes_match_finite_differences() {
    let m = input(&[2, 3], 10, -1.0, 1.0);
    let v = input(&[3], 11, -1.0, 1.0);
    let n = input(&[3, 4], 12, -1.0, 1.0);
    let batched = input(&[2, 1, 2, 3], 13, -1.0, 1.0);
    let other = input(&[5, 3, 4], 14, -1.0, 1.0);
    let two = |x: &Input, y: &Input| vec![x.clone(), y.clone()];
    gradcheck_all(&[
        ("dot", two(&v, &v), mm),
        ("matrix-vector", two(&m, &v), mm),
        ("vector-matrix", two(&v, &n), mm),
        ("mm", two(&m, &n), mm),
        ("mm of transposes", two(&n, &m), |t| t[0].t()?.mm(&t[1].t()?)),
        ("batched broadcast", two(&batched, &other), mm),
        ("batched times matrix", two(&batched, &n), mm),
    ]);
}

#[test]
fn compositions_match_finite_differences() {
    let (w1, b1) = (input(&[3, 5], 21, -1.0, 1.0), input(&[5], 22, -0.5, 0.5));
    let (x, w2) = (input(&[4, 3], 20, -1.0, 1.0), input(&[5, 2], 23, -1.0, 1.0));
    gradcheck_all(&[
        // A two-layer MLP with a mean-squared-error loss.
        ("mlp mse", vec![x, w1, b1, w2], |t| {
            let h = t[0].matmul(&t[1])?.add(&t[2])?.tanh()?;
            let target = t64(&data(8, 24, -1.0, 1.0), &[4, 2]);
            let d = h.matmul(&t[3])?.sub(&target)?;
            d.mul(&d)?.mean(None, false, None)
        }),
        // Softmax along the last dim, then log: a broadcast division by a reduction.
        ("log softmax", vec![input(&[3, 4], 25, -2.0, 2.0)], |t| {
            let e = t[0].exp()?;
            e.div(&e.sum(Some(&[-1]), true)?)?.log()
        }),
        // A tensor used several times, along different paths to the output.
        ("shared", vec![input(&[3], 26, 0.2, 1.0)], |t| {
            let y = t[0].sigmoid()?.mul(&t[0])?;
            let z = y.mul(&t[0].sqrt()?)?.add(&y.pow_scalar(2.0)?)?;
            z.div(&t[0].add_scalar(1.0)?)
        }),
        ("x ** x", vec![input(&[4], 27, 0.5, 2.0)], |t| t[0].pow(&t[0])),
    ]);
}

// ---- broadcasting, accumulation, freed graphs ------------------------------------------------

#[test]
fn broadcast_gradients_reduce_to_input_shapes() -> Result<()> {
    let a = leaf(&[1.0, 2.0, 3.0], &[3, 1]);
    let b = leaf(&[10.0, 20.0, 30.0, 40.0], &[4]);
    let c = a.add(&b)?;
    assert_eq!(c.shape(), &[3, 4]);
    sum_backward(&c)?;
    assert_eq!(a.grad().unwrap().shape(), &[3, 1]);
    assert_eq!(b.grad().unwrap().shape(), &[4]);
    assert_eq!((grad_of(&a), grad_of(&b)), (vec![4.0; 3], vec![3.0; 4]));

    a.set_grad(None)?;
    b.set_grad(None)?;
    sum_backward(&a.mul(&b)?)?;
    assert_eq!(grad_of(&a), vec![100.0; 3]); // sum of b
    assert_eq!(grad_of(&b), vec![6.0; 4]); // sum of a
    Ok(())
}

#[test]
fn gradients_accumulate_across_backward_calls() -> Result<()> {
    let x = leaf(&[1.0, -2.0], &[2]);
    let y = x.mul(&x)?.sum(None, false)?;
    y.backward(None, Some(true), false)?;
    assert_eq!(grad_of(&x), vec![2.0, -4.0]);
    y.backward(None, Some(true), false)?;
    assert_eq!(grad_of(&x), vec![4.0, -8.0]);
    // A fresh graph accumulates into the same .grad too.
    sum_backward(&x.mul_scalar(3.0)?)?;
    assert_eq!(grad_of(&x), vec![7.0, -5.0]);
    Ok(())
}

#[test]
fn second_backward_through_freed_graph_errors() -> Result<()> {
    let x = leaf(&[0.5, 1.5], &[2]);
    let y = x.exp()?.mul(&x)?.sum(None, false)?;
    y.backward(None, None, false)?;
    let e = err(y.backward(None, None, false));
    assert_starts(&e, "Trying to backward through the graph a second time");
    assert!(e.contains("Specify retain_graph=True"), "{e}");
    Ok(())
}

#[test]
fn backward_argument_errors() -> Result<()> {
    let x = leaf(&[1.0, 2.0, 3.0], &[3]);
    let y = x.mul_scalar(2.0)?;
    let e = err(y.backward(None, None, false));
    assert_eq!(e, "grad can be implicitly created only for scalar outputs");
    let e = err(y.backward(Some(t64(&[1.0, 1.0], &[2])), None, false));
    assert_eq!(
        e,
        "Mismatch in shape: grad_output[0] has a shape of torch.Size([2]) and output[0] has a shape of torch.Size([3])."
    );
    // An explicit gradient gives the vector-Jacobian product.
    y.backward(Some(t64(&[1.0, 0.0, -1.0], &[3])), None, false)?;
    assert_eq!(grad_of(&x), vec![2.0, 0.0, -2.0]);

    let msg = "element 0 of tensors does not require grad and does not have a grad_fn";
    let c = t64(&[1.0], &[]);
    assert_eq!(err(c.backward(None, None, false)), msg);
    assert_eq!(err(c.mul_scalar(2.0)?.backward(None, None, false)), msg);
    Ok(())
}

#[test]
fn no_grad_guard_disables_recording() -> Result<()> {
    let x = leaf(&[1.0, 2.0], &[2]);
    {
        let _g = GradModeGuard::new(false);
        assert!(!grad_mode::is_enabled());
        let y = x.mul_scalar(2.0)?.exp()?.sum(None, false)?;
        assert!(!y.requires_grad() && y.grad_fn().is_none() && y.is_leaf());
        {
            let _e = GradModeGuard::new(true);
            assert!(x.mul(&x)?.requires_grad());
        }
        assert!(!grad_mode::is_enabled(), "the inner guard restores no-grad");
        let e = err(y.backward(None, None, false));
        assert_eq!(e, "element 0 of tensors does not require grad and does not have a grad_fn");
    }
    assert!(grad_mode::is_enabled());
    let y = x.mul_scalar(2.0)?;
    assert!(y.requires_grad());
    assert_eq!(y.grad_fn().unwrap().name(), "MulBackward0");
    Ok(())
}

// ---- higher-order gradients ------------------------------------------------------------------

#[test]
fn create_graph_gives_second_derivatives() -> Result<()> {
    let x = leaf(&[3.0], &[]);
    x.pow_scalar(3.0)?.backward(None, None, true)?;
    let g = x.grad().unwrap();
    assert_eq!(vals(&g), vec![27.0]); // 3x^2
    assert!(g.requires_grad() && g.grad_fn().is_some(), "create_graph records the backward");
    // Backward through the gradient accumulates into x.grad: 3x^2 + 6x.
    g.backward(None, None, false)?;
    assert_eq!(grad_of(&x), vec![27.0 + 18.0]);

    // Clearing .grad first leaves exactly the second derivative.
    let x = leaf(&[3.0], &[]);
    x.pow_scalar(3.0)?.backward(None, None, true)?;
    let g = x.grad().unwrap();
    x.set_grad(None)?;
    g.backward(None, None, false)?;
    assert_eq!(grad_of(&x), vec![18.0]);
    Ok(())
}

#[test]
fn create_graph_grad_is_its_own_memory() -> Result<()> {
    // The gradient of a sum is a broadcast view; `.grad` must still own one slot per element,
    // so that a later backward accumulates element by element.
    let x = leaf(&[1.0, 2.0, 3.0], &[3]);
    x.sum(None, false)?.backward(None, None, true)?;
    assert_eq!(grad_of(&x), vec![1.0; 3]);
    sum_backward(&x.mul(&t64(&[10.0, 20.0, 30.0], &[3]))?)?;
    assert_eq!(grad_of(&x), vec![11.0, 21.0, 31.0]);
    // Nor does `.grad` alias a user-supplied gradient.
    let z = leaf(&[1.0, 2.0], &[2]);
    let seed = t64(&[1.0, 1.0], &[2]);
    z.mul_scalar(1.0)?.backward(Some(seed.clone()), None, true)?;
    z.mul_scalar(1.0)?.backward(Some(seed.clone()), None, false)?;
    assert_eq!((grad_of(&z), vals(&seed)), (vec![2.0, 2.0], vec![1.0, 1.0]));
    Ok(())
}

#[test]
fn capture_gives_higher_derivatives_without_touching_grad() -> Result<()> {
    let x = leaf(&[3.0, -1.0], &[2]);
    let xs = std::slice::from_ref(&x);
    let d1 = grad_wrt(&x.pow_scalar(3.0)?.sum(None, false)?, xs, true)?.remove(0);
    assert_eq!(vals(&d1), vec![27.0, 3.0]);
    let d2 = grad_wrt(&d1.sum(None, false)?, xs, true)?.remove(0);
    assert_eq!(vals(&d2), vec![18.0, -6.0]); // 6x
    let d3 = grad_wrt(&d2.sum(None, false)?, xs, false)?.remove(0);
    assert_eq!(vals(&d3), vec![6.0, 6.0]);
    assert!(x.grad().is_none(), "capturing leaves .grad alone");

    // Mixed partial of a^2 b: d/db (2ab) = 2a.
    let (a, b) = (leaf(&[1.5], &[]), leaf(&[-2.0], &[]));
    let da = grad_wrt(&a.mul(&a)?.mul(&b)?, std::slice::from_ref(&a), true)?.remove(0);
    assert_eq!(vals(&da), vec![-6.0]);
    assert_eq!(vals(&grad_wrt(&da, std::slice::from_ref(&b), false)?[0]), vec![3.0]);

    // Gradient with respect to an intermediate tensor.
    let h = a.mul_scalar(4.0)?;
    assert_eq!(vals(&grad_wrt(&h.mul(&h)?, std::slice::from_ref(&h), false)?[0]), vec![12.0]);
    Ok(())
}

#[test]
fn second_derivatives_of_unary_ops() -> Result<()> {
    let xs = [0.3, 0.9, 1.7];
    let x = leaf(&xs, &[3]);
    let second = |f: fn(&Tensor) -> Result<Tensor>| -> Result<Vec<f64>> {
        let inputs = std::slice::from_ref(&x);
        let d1 = grad_wrt(&f(&x)?.sum(None, false)?, inputs, true)?.remove(0);
        Ok(vals(&grad_wrt(&d1.sum(None, false)?, inputs, false)?[0]))
    };
    let want = |f: fn(f64) -> f64| -> Vec<f64> { xs.iter().map(|&v| f(v)).collect() };
    fn sig(v: f64) -> f64 {
        1.0 / (1.0 + (-v).exp())
    }
    assert_close(&second(|t| t.sin())?, &want(|v| -v.sin()));
    assert_close(&second(|t| t.exp())?, &want(f64::exp));
    assert_close(&second(|t| t.log())?, &want(|v| -1.0 / (v * v)));
    assert_close(&second(|t| t.sqrt())?, &want(|v| -0.25 * v.powf(-1.5)));
    assert_close(&second(|t| t.tanh())?, &want(|v| -2.0 * v.tanh() * (1.0 - v.tanh().powi(2))));
    assert_close(&second(|t| t.sigmoid())?, &want(|v| sig(v) * (1.0 - sig(v)) * (1.0 - 2.0 * sig(v))));
    assert_close(&second(|t| t.mul(t)?.mul(t))?, &want(|v| 6.0 * v));
    Ok(())
}

// ---- in-place checks -------------------------------------------------------------------------

#[test]
fn in_place_on_leaf_requiring_grad_errors() -> Result<()> {
    let x = leaf(&[1.0, 2.0], &[2]);
    let msg = "a leaf Variable that requires grad is being used in an in-place operation.";
    assert_eq!(err(x.binary_(BinaryOp::Add, s(1.0))), msg);
    assert_eq!(err(x.fill_(Scalar::Float(0.0))), msg);
    assert_eq!(vals(&x), vec![1.0, 2.0], "a failed in-place op leaves the data alone");
    // Allowed under no_grad (the usual optimizer step).
    {
        let _g = GradModeGuard::new(false);
        x.binary_(BinaryOp::Sub, s(0.5))?;
    }
    assert_eq!(vals(&x), vec![0.5, 1.5]);
    assert!(x.is_leaf() && x.requires_grad());
    Ok(())
}

#[test]
fn in_place_on_non_leaf_keeps_gradients_right() -> Result<()> {
    let x = leaf(&[1.0, 2.0], &[2]);
    let y = x.mul_scalar(2.0)?;
    y.binary_(BinaryOp::Mul, s(3.0))?;
    y.binary_(BinaryOp::Add, Operand::T(&x))?;
    assert_eq!(vals(&y), vec![7.0, 14.0]);
    sum_backward(&y)?;
    assert_eq!(grad_of(&x), vec![7.0, 7.0]);
    Ok(())
}

/// The message after PyTorch's fixed prefix for a saved tensor modified in place.
fn modified_detail(e: String) -> String {
    let prefix =
        "one of the variables needed for gradient computation has been modified by an inplace operation: ";
    assert_starts(&e, prefix);
    e[prefix.len()..].to_string()
}

#[test]
fn modified_saved_output_errors_on_backward() -> Result<()> {
    let x = leaf(&[0.0, 1.0, 2.0], &[3]);
    let y = x.exp()?;
    y.binary_(BinaryOp::Add, s(1.0))?;
    let e = modified_detail(err(sum_backward(&y)));
    let want = "[torch.DoubleTensor [3]], which is output 0 of ExpBackward0, is at version 1; expected version 0 instead.";
    assert_starts(&e, want);
    Ok(())
}

#[test]
fn modified_saved_input_errors_on_backward() -> Result<()> {
    let x = leaf(&[1.0, 2.0, 3.0], &[3]);
    let y = x.mul_scalar(1.0)?;
    let z = y.mul(&y)?;
    y.binary_(BinaryOp::Add, s(1.0))?;
    // A history taken over by an in-place op is named by the op, as PyTorch 2.13 prints it
    // (tests/data/printing.json).
    let e = modified_detail(err(sum_backward(&z)));
    let want =
        "[torch.DoubleTensor [3]], which is output 0 of Add, is at version 1; expected version 0 instead.";
    assert_starts(&e, want);

    // A modified leaf has no grad_fn to name.
    let w = t64(&[1.0, 2.0, 3.0], &[3]);
    let loss = x.mul(&w)?.sum(None, false)?;
    w.binary_(BinaryOp::Mul, s(2.0))?;
    let e = modified_detail(err(loss.backward(None, None, false)));
    assert_starts(&e, "[torch.DoubleTensor [3]] is at version 1; expected version 0 instead.");
    Ok(())
}

#[test]
fn in_place_on_view_updates_base_gradient() {
    let x = leaf(&[1.0, 2.0, 3.0], &[3]);
    let y = x.mul_scalar(1.0).unwrap();
    y.select(0, 0).unwrap().binary_(BinaryOp::Mul, s(2.0)).unwrap();
    assert_eq!(vals(&y), vec![2.0, 2.0, 3.0]);
    sum_backward(&y).unwrap();
    assert_eq!(grad_of(&x), vec![2.0, 1.0, 1.0]);
}

#[test]
fn in_place_on_view_of_leaf_errors() {
    let x = leaf(&[1.0, 2.0, 3.0], &[3]);
    let e = err(x.select(0, 0).unwrap().binary_(BinaryOp::Mul, s(2.0)));
    assert_eq!(e, "a view of a leaf Variable that requires grad is being used in an in-place operation.");
}

// ---- dtypes ----------------------------------------------------------------------------------

#[test]
fn gradient_dtype_matches_leaf_dtype() -> Result<()> {
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    a.set_requires_grad(true)?;
    let b = leaf(&[0.5, -1.0, 2.0], &[3]);
    let c = a.mul(&b)?;
    assert_eq!(c.dtype(), DType::F64);
    sum_backward(&c)?;
    assert_eq!(a.grad().unwrap().dtype(), DType::F32);
    assert_eq!(a.grad().unwrap().to_vec::<f32>(), vec![0.5, -1.0, 2.0]);
    assert_eq!(b.grad().unwrap().dtype(), DType::F64);
    assert_eq!(grad_of(&b), vec![1.0, 2.0, 3.0]);

    // A 0-dim float64 does not promote a float32 tensor, but still gets a float64 gradient.
    let v = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    v.set_requires_grad(true)?;
    let k = leaf(&[3.0], &[]);
    let out = v.mul(&k)?;
    assert_eq!(out.dtype(), DType::F32);
    sum_backward(&out)?;
    assert_eq!(v.grad().unwrap().dtype(), DType::F32);
    let kg = k.grad().unwrap();
    assert_eq!((kg.dtype(), kg.shape(), vals(&kg)), (DType::F64, &[] as &[usize], vec![3.0]));

    // An explicit cast in the graph sends the gradient back in the source dtype.
    let h = Tensor::from_vec(vec![0.25f32], &[1]);
    h.set_requires_grad(true)?;
    sum_backward(&h.to_dtype(DType::F64)?.pow_scalar(2.0)?)?;
    assert_eq!(h.grad().unwrap().dtype(), DType::F32);
    assert_eq!(h.grad().unwrap().to_vec::<f32>(), vec![0.5]);
    Ok(())
}

#[test]
fn only_float_leaves_can_require_grad() -> Result<()> {
    let i = Tensor::from_vec(vec![1i64, 2], &[2]);
    let e = err(i.set_requires_grad(true));
    assert_eq!(e, "only Tensors of floating point dtype can require gradients");
    let e = err(leaf(&[1.0], &[1]).mul_scalar(2.0)?.set_requires_grad(false));
    assert_starts(&e, "you can only change requires_grad flags of leaf variables.");
    Ok(())
}
