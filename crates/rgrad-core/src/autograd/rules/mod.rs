//! THE backward table: one arm per recorded op, written in tensor ops so it runs on any
//! backend and, under `create_graph`, records itself (higher-order gradients).

use super::{Op, Saved, UnaryGrad};
use crate::error::{Error, Result};
use crate::ops::binary::{where_, BinaryOp, Operand};
use crate::ops::unary::UnaryOp;
use crate::shape::Dims;
use crate::tensor::Tensor;
use crate::Scalar;
use smallvec::{smallvec, SmallVec};

// One file per op family whose rules are more than a line or two; each exposes one function
// per recorded op, called from the table below.
mod attention;
mod conv;
mod ctc;
mod cumulative;
mod embedding_bag;
mod layer_norm;
mod linalg;
mod linalg_decomp;
mod norm;
mod pool;
mod resample;
mod rnn;
mod select;
mod sort;

pub(crate) type Grads = SmallVec<[Option<Tensor>; 2]>;

/// The gradient of a reduction, broadcast back over the reduced dims.
fn expand_back(g: &Tensor, shape: &Dims, dims: &Dims, keepdim: bool) -> Result<Tensor> {
    let mut g = g.clone();
    if !keepdim {
        for &d in dims.iter() {
            g = g.unsqueeze(d as i64)?;
        }
    }
    let sizes: Vec<i64> = shape.iter().map(|&s| s as i64).collect();
    g.expand(&sizes)
}

fn unary_op(f: UnaryGrad) -> Option<UnaryOp> {
    use UnaryGrad as G;
    Some(match f {
        G::Exp => UnaryOp::Exp,
        G::Sqrt => UnaryOp::Sqrt,
        G::Rsqrt => UnaryOp::Rsqrt,
        G::Tan => UnaryOp::Tan,
        G::Tanh => UnaryOp::Tanh,
        G::Sigmoid => UnaryOp::Sigmoid,
        G::Expm1 => UnaryOp::Expm1,
        G::Reciprocal => UnaryOp::Reciprocal,
        G::Exp2 => UnaryOp::Exp2,
        G::Erfinv => UnaryOp::Erfinv,
        _ => return None,
    })
}

fn scalar(v: f64) -> Operand<'static> {
    Operand::S(Scalar::Float(v))
}

fn unary_grad(f: UnaryGrad, g: &Tensor, x: &Saved, out: &Saved, create_graph: bool) -> Result<Tensor> {
    // The saved output has no history; recompute it when the backward itself is recorded.
    // Ops whose derivative needs only the output read the input only then (so changing the
    // input in place after, say, exp() is fine, as in PyTorch).
    let o = match (create_graph, unary_op(f)) {
        (true, Some(op)) => x.get()?.unary(op)?,
        _ => out.get()?.clone(),
    };
    let x = &|| x.get();
    use UnaryGrad as G;
    match f {
        G::Exp => g.mul(&o),
        G::Log => g.div(x()?),
        G::Sqrt => g.div(&o.mul_scalar(2.0)?),
        G::Rsqrt => g.mul(&o.pow_scalar(3.0)?)?.mul_scalar(-0.5),
        G::Sin => g.mul(&x()?.cos()?),
        G::Cos => g.mul(&x()?.sin()?.neg()?),
        G::Tan => g.mul(&o.mul(&o)?.add_scalar(1.0)?),
        G::Tanh => g.mul(&o.mul(&o)?.rsub_scalar(1.0)?),
        G::Sigmoid => g.mul(&o.mul(&o.rsub_scalar(1.0)?)?),
        G::Log1p => g.div(&x()?.add_scalar(1.0)?),
        G::Expm1 => g.mul(&o.add_scalar(1.0)?),
        G::Reciprocal => g.mul(&o.mul(&o)?)?.neg(),
        G::Relu => {
            let o = out.get()?.detach();
            match if create_graph { None } else { o.relu_backward_kernel(g)? } {
                Some(gx) => Ok(gx),
                None => g.mul(&o.compare_scalar(BinaryOp::Gt, 0.0)?.to_dtype(g.dtype())?),
            }
        }
        G::Abs => g.mul(&x()?.detach().sign()?.to_dtype(g.dtype())?),
        // d/dx erf(x) = 2/sqrt(pi) * exp(-x^2)
        G::Erf => g.mul(&x()?.mul(x()?)?.neg()?.exp()?.mul_scalar(std::f64::consts::FRAC_2_SQRT_PI)?),
        G::Asin => g.div(&x()?.mul(x()?)?.rsub_scalar(1.0)?.sqrt()?),
        G::Acos => g.div(&x()?.mul(x()?)?.rsub_scalar(1.0)?.sqrt()?)?.neg(),
        G::Atan => g.div(&x()?.mul(x()?)?.add_scalar(1.0)?),
        G::Sinh => g.mul(&x()?.unary(UnaryOp::Cosh)?),
        G::Cosh => g.mul(&x()?.unary(UnaryOp::Sinh)?),
        G::Asinh => g.div(&x()?.mul(x()?)?.add_scalar(1.0)?.sqrt()?),
        G::Acosh => g.div(&x()?.mul(x()?)?.add_scalar(-1.0)?.sqrt()?),
        G::Atanh => g.div(&x()?.mul(x()?)?.rsub_scalar(1.0)?),
        G::Log2 => g.div(&x()?.mul_scalar(std::f64::consts::LN_2)?),
        G::Log10 => g.div(&x()?.mul_scalar(std::f64::consts::LN_10)?),
        G::Exp2 => g.mul(&o.mul_scalar(std::f64::consts::LN_2)?),
        // d/dy erfinv(y) = sqrt(pi)/2 * exp(erfinv(y)^2)
        G::Erfinv => g.mul(&o.mul(&o)?.exp()?.mul_scalar(0.886_226_925_452_758)?),
        G::Lgamma => g.mul(&x()?.unary(UnaryOp::Digamma)?),
        G::Digamma => g.mul(&x()?.unary(UnaryOp::Trigamma)?),
        G::Trigamma => g.mul(&x()?.unary(UnaryOp::Tetragamma)?),
        G::Tetragamma => {
            Err(Error::Runtime("the derivative for 'polygamma' of order 3 is not implemented".into()))
        }
        G::Sinc => {
            // (cos(pi x) - sinc(x)) / x, and 0 at x = 0.
            let x = x()?;
            let px = x.mul_scalar(std::f64::consts::PI)?;
            let d = px.cos()?.sub(&x.unary(UnaryOp::Sinc)?)?.div(x)?;
            let at_zero = x.detach().compare_scalar(BinaryOp::Eq, 0.0)?;
            g.mul(&where_(&at_zero, scalar(0.0), Operand::T(&d))?)
        }
    }
}

/// `dx * g` for the fused losses, written so that it also differentiates in x: the input
/// gradient there is `(coef * p - q) * g` with `p` the softmax (sigmoid) of x and `q` a
/// constant of the targets. `p - p.detach()` is zero with the derivative of `p`, so adding
/// `coef * (p - p.detach())` to the exact `dx` gives that derivative without keeping `q`.
fn fused_loss_grad(dx: &Tensor, p: &Tensor, coef: Option<&Tensor>, scale: f64, g: &Tensor) -> Result<Tensor> {
    let dp = p.sub(&p.detach())?;
    let dp = match coef {
        Some(c) => dp.mul(c)?,
        None => dp.mul_scalar(scale)?,
    };
    dx.add(&dp)?.mul(g)
}

/// Computes the gradients of a node's inputs from the gradients of its outputs. `needs[i]`
/// says whether input `i` wants a gradient.
pub(crate) fn backward(
    op: &Op,
    grads: &[Option<Tensor>],
    needs: &[bool],
    create_graph: bool,
) -> Result<Grads> {
    if let Op::Custom(f) = op {
        return Ok(f.backward(grads)?.into_iter().collect());
    }
    if let Op::Rnn(saved) = op {
        // Several outputs: any of them may carry the only gradient.
        return rnn::rnn_layer(saved, grads, needs, create_graph);
    }
    if let Op::Decomp(saved) = op {
        return linalg_decomp::decomp(saved, grads, create_graph);
    }
    let Some(g) = grads[0].as_ref() else {
        return Ok(smallvec![None; needs.len()]);
    };
    let need = |i: usize| needs.get(i).copied().unwrap_or(false);
    let grad_a_b = |ga: &dyn Fn() -> Result<Tensor>, gb: &dyn Fn() -> Result<Tensor>| -> Result<Grads> {
        Ok(smallvec![if need(0) { Some(ga()?) } else { None }, if need(1) { Some(gb()?) } else { None }])
    };
    let one = |t: Result<Tensor>| -> Result<Grads> { Ok(smallvec![Some(t?)]) };
    match op {
        Op::Released | Op::Custom(_) | Op::Rnn(_) | Op::Decomp(_) => {
            Err(Error::Runtime("internal: released node reached a rule".into()))
        }
        Op::AddSub { shapes, alpha } => grad_a_b(&|| g.sum_to_shape(&shapes[0]), &|| {
            let gb = if *alpha == 1.0 { g.clone() } else { g.mul_scalar(*alpha)? };
            gb.sum_to_shape(&shapes[1])
        }),
        Op::Scale(c) | Op::ScaleSaved(c) => one(if *c == 1.0 { Ok(g.clone()) } else { g.mul_scalar(*c) }),
        Op::Mul { a, b } => {
            let (a, b) = (a.get()?, b.get()?);
            grad_a_b(&|| g.mul(b)?.sum_to_shape(a.shape()), &|| g.mul(a)?.sum_to_shape(b.shape()))
        }
        Op::Div { a, b } => {
            let (a, b) = (a.get()?, b.get()?);
            grad_a_b(&|| g.div(b)?.sum_to_shape(a.shape()), &|| {
                g.mul(a)?.div(&b.mul(b)?)?.neg()?.sum_to_shape(b.shape())
            })
        }
        Op::RDiv { x, s } => {
            let x = x.get()?;
            one(g.mul_scalar(-*s)?.div(&x.mul(x)?))
        }
        Op::PowScalar { x, e } => {
            let x = x.get()?;
            if *e == 0.0 {
                return one(g.mul_scalar(0.0));
            }
            if *e == 2.0 {
                // The common square: one product fewer than the general rule.
                return one(g.mul(x)?.mul_scalar(2.0));
            }
            one(g.mul(&x.pow_scalar(*e - 1.0)?.mul_scalar(*e)?))
        }
        Op::Pow { a, b, out } => {
            let (a, b) = (a.get()?, b.get()?);
            let o = if create_graph { a.pow(b)? } else { out.get()?.clone() };
            grad_a_b(&|| g.mul(&b.mul(&a.pow(&b.add_scalar(-1.0)?)?)?)?.sum_to_shape(a.shape()), &|| {
                // d/db a^b = a^b ln a, defined as 0 where a == 0 and b >= 0 (PyTorch).
                let zero_base = a.detach().compare_scalar(BinaryOp::Eq, 0.0)?;
                let nonneg = b.detach().compare_scalar(BinaryOp::Ge, 0.0)?;
                let mask = zero_base.mul(&nonneg)?;
                let d = where_(&mask, scalar(0.0), Operand::T(&o.mul(&a.log()?)?))?;
                g.mul(&d)?.sum_to_shape(b.shape())
            })
        }
        Op::RPow { x, s, out } => {
            let x = x.get()?;
            let o = if create_graph {
                crate::ops::binary::binary(BinaryOp::Pow, Operand::S(Scalar::Float(*s)), Operand::T(x))?
            } else {
                out.get()?.clone()
            };
            one(g.mul(&o)?.mul_scalar(s.ln()))
        }
        Op::MaxMin { a, b, is_max } => {
            let (a, b) = (a.get()?.detach(), b.get()?.detach());
            let win = a.compare(if *is_max { BinaryOp::Gt } else { BinaryOp::Lt }, &b)?;
            let tie = a.compare(BinaryOp::Eq, &b)?;
            let wa = win.to_dtype(g.dtype())?.add(&tie.to_dtype(g.dtype())?.mul_scalar(0.5)?)?;
            grad_a_b(&|| g.mul(&wa)?.sum_to_shape(a.shape()), &|| {
                g.mul(&wa.rsub_scalar(1.0)?)?.sum_to_shape(b.shape())
            })
        }
        Op::Unary { f, x, out } => one(unary_grad(*f, g, x, out, create_graph)),
        Op::Binary { op, a, b, out, sides } => {
            let (a, b) = (a.get()?, b.get()?);
            let bin = |op: BinaryOp, x: &Tensor, y: &Tensor| {
                crate::ops::binary::binary(op, Operand::T(x), Operand::T(y))
            };
            let (ga, gb): (Tensor, Tensor) = match op {
                BinaryOp::Atan2 => {
                    let den = a.mul(a)?.add(&b.mul(b)?)?;
                    (g.mul(b)?.div(&den)?, g.mul(a)?.div(&den)?.neg()?)
                }
                BinaryOp::Hypot => {
                    let o = if create_graph { bin(BinaryOp::Hypot, a, b)? } else { out.get()?.clone() };
                    (g.mul(a)?.div(&o)?, g.mul(b)?.div(&o)?)
                }
                BinaryOp::LogAddExp => (g.mul(&a.sub(b)?.sigmoid()?)?, g.mul(&b.sub(a)?.sigmoid()?)?),
                BinaryOp::Xlogy => {
                    // PyTorch: 0 for x where x == 0 and y <= 0.
                    let mask = a
                        .detach()
                        .compare_scalar(BinaryOp::Eq, 0.0)?
                        .mul(&b.detach().compare_scalar(BinaryOp::Le, 0.0)?)?;
                    let da = where_(&mask, scalar(0.0), Operand::T(&g.mul(&b.log()?)?))?;
                    (da, g.mul(a)?.div(b)?)
                }
                BinaryOp::Fmod | BinaryOp::Rem => {
                    let q = a.detach().div(&b.detach())?;
                    let q = if *op == BinaryOp::Fmod {
                        q.unary(UnaryOp::Trunc)?
                    } else {
                        q.unary(UnaryOp::Floor)?
                    };
                    (g.clone(), g.mul(&q)?.neg()?)
                }
                _ => return Err(Error::Runtime(format!("internal: no backward rule for {op:?}"))),
            };
            let ga = || ga.sum_to_shape(a.shape());
            let gb = || gb.sum_to_shape(b.shape());
            Ok(match sides {
                [true, true] => smallvec![
                    if need(0) { Some(ga()?) } else { None },
                    if need(1) { Some(gb()?) } else { None }
                ],
                [true, false] => smallvec![Some(ga()?)],
                [false, true] => smallvec![Some(gb()?)],
                [false, false] => smallvec![],
            })
        }
        Op::Sum { shape, dims, keepdim } => one(expand_back(g, shape, dims, *keepdim)),
        Op::Mean { shape, dims, keepdim, count } => {
            one(expand_back(&g.mul_scalar(1.0 / *count as f64)?, shape, dims, *keepdim))
        }
        Op::Mm { a, b } => {
            let (a, b) = (a.get()?, b.get()?);
            // An operand that is a transposed view (Linear's `weight.t()`) gets its gradient in
            // the same layout, `(g^T a)^T` rather than `a^T g`: the transpose's own backward then
            // hands the parameter a contiguous gradient instead of one that must be copied.
            let col_major = |t: &Tensor| t.ndim() == 2 && t.strides()[0] == 1 && t.shape()[1] > 1;
            grad_a_b(&|| if col_major(a) { b.mm(&g.t()?)?.t() } else { g.mm(&b.t()?) }, &|| {
                if col_major(b) {
                    g.t()?.mm(a)?.t()
                } else {
                    a.t()?.mm(g)
                }
            })
        }
        Op::Addmm { x, w } => {
            // Each saved operand is read only for the gradient that needs it (as PyTorch, so
            // an in-place change to an operand that no gradient needs is not an error).
            let gw = |i: usize| -> Result<Option<Tensor>> {
                Ok(match i {
                    _ if !need(i) => None,
                    0 => Some(g.mm(w.get()?)?),
                    1 => Some(g.t()?.mm(x.get()?)?),
                    _ => Some(g.sum_to_shape(&g.shape()[1..])?),
                })
            };
            Ok(smallvec![gw(0)?, gw(1)?, gw(2)?])
        }
        Op::Bmm { a, b } => {
            let (a, b) = (a.get()?, b.get()?);
            grad_a_b(&|| g.bmm(&b.transpose(1, 2)?), &|| a.transpose(1, 2)?.bmm(g))
        }
        Op::Dot { a, b } => {
            let (a, b) = (a.get()?, b.get()?);
            grad_a_b(&|| b.mul(g), &|| a.mul(g))
        }
        Op::Reshape { shape } => {
            let s: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
            one(g.reshape(&s))
        }
        Op::Permute { dims } => {
            let mut inv = vec![0i64; dims.len()];
            for (i, &d) in dims.iter().enumerate() {
                inv[d] = i as i64;
            }
            one(g.permute(&inv))
        }
        Op::Transpose { a, b } => one(if a == b { Ok(g.clone()) } else { g.transpose(*a as i64, *b as i64) }),
        Op::Unsqueeze { dim } => one(g.squeeze(Some(*dim as i64))),
        Op::Expand { shape } => one(g.sum_to_shape(shape)),
        Op::Narrow { shape, narrow } => one(g.narrow_backward(shape, narrow)),
        Op::NarrowBackward { narrow } => one(g.apply_narrow(narrow)),
        Op::Cast { from } => one(g.to_dtype(*from)),
        Op::ToDevice { from } => one(g.to_device(*from)),
        Op::Index { shape, adv } => one(g.index_backward(shape, adv)),
        Op::IndexBackward { adv } => one(g.take_again(adv)),
        Op::IndexPut { adv, values_shape, accumulate } => {
            grad_a_b(&|| if *accumulate { Ok(g.clone()) } else { g.zero_indexed(adv) }, &|| {
                g.take_adv(adv)?.sum_to_shape(values_shape)
            })
        }
        Op::Gather { shape, dim, index } => {
            one(g.zeros_like_shape(shape)?.scatter_add(*dim as i64, index, g))
        }
        Op::Scatter { dim, index, src_shape, accumulate } => grad_a_b(
            &|| {
                if *accumulate {
                    Ok(g.clone())
                } else {
                    g.scatter(*dim as i64, index, &g.zeros_like_shape(src_shape)?)
                }
            },
            &|| g.gather(*dim as i64, index),
        ),
        Op::MaskedScatter { mask, self_shape, source_shape } => {
            select::masked_scatter(g, mask, self_shape, source_shape, [need(0), need(1)])
        }
        Op::ScatterReduce { dim, index, reduce, include_self, x, src, out } => {
            select::scatter_reduce(g, *dim, index, *reduce, *include_self, x, src, out, [need(0), need(1)])
        }
        Op::Cat { dim, sizes } => {
            let mut out = Grads::new();
            let mut start = 0i64;
            for (i, &n) in sizes.iter().enumerate() {
                let end = start + n as i64;
                out.push(if need(i) { Some(g.slice(*dim as i64, Some(start), Some(end), 1)?) } else { None });
                start = end;
            }
            Ok(out)
        }
        Op::IndexReduce { shape, dim, keepdim, indices } => {
            let (g, ix) = if *keepdim {
                (g.clone(), indices.clone())
            } else {
                (g.unsqueeze(*dim as i64)?, indices.unsqueeze(*dim as i64)?)
            };
            one(g.zeros_like_shape(shape)?.scatter_add(*dim as i64, &ix, &g))
        }
        Op::ValueSelect { shape, dim, keepdim, indices } => {
            one(sort::value_select(g, shape, *dim, *keepdim, indices))
        }
        Op::EvenSelect { x, out } => one(sort::even_select(g, x, out)),
        Op::Cumsum { dim } => {
            let d = *dim as i64;
            one(g.flip(&[d])?.cumsum(d)?.flip(&[d]))
        }
        Op::Logcumsumexp { x, out, dim } => one(cumulative::logcumsumexp(g, x, out, *dim, create_graph)),
        Op::Unfold { shape, dim, size, step } => one(cumulative::unfold(g, shape, *dim, *size, *step)),
        Op::IndexAdd { dim, index, alpha, source_shape } => grad_a_b(&|| Ok(g.clone()), &|| {
            let s = cumulative::selected(g, *dim, index, source_shape)?;
            if *alpha == 1.0 {
                Ok(s)
            } else {
                s.mul_scalar(*alpha)?.to_dtype(g.dtype())
            }
        }),
        Op::IndexCopy { dim, index, mask, source_shape } => {
            grad_a_b(&|| cumulative::mask_fill(g, mask), &|| {
                cumulative::selected(g, *dim, index, source_shape)
            })
        }
        Op::MaskFill { mask } => one(cumulative::mask_fill(g, mask)),
        Op::Cumprod { x, out, dim } => {
            let (x, d) = (x.get()?, *dim as i64);
            let o = if create_graph { x.cumprod(d)? } else { out.get()?.clone() };
            one(g.mul(&o)?.flip(&[d])?.cumsum(d)?.flip(&[d])?.div(x))
        }
        Op::Prod { x, dim, keepdim } => {
            let x = x.get()?;
            let ge = match dim {
                Some(d) => expand_back(g, &x.dims(), &smallvec![*d], *keepdim)?,
                None => expand_back(g, &x.dims(), &(0..x.ndim()).collect(), false)?,
            };
            let has_zero =
                x.detach().compare_scalar(BinaryOp::Eq, 0.0)?.try_to_vec::<bool>()?.contains(&true);
            if create_graph && !has_zero {
                // prod / x, written in tensor ops so second derivatives flow.
                let p = x.prod(dim.map(|d| d as i64), true)?;
                return one(ge.mul(&p.div(x)?));
            }
            one(ge.mul(&x.detach().prod_others(*dim)?))
        }
        Op::Softmax { x, out, dim, log } => {
            let (x, d) = (x.get()?, *dim as i64);
            let y = if create_graph { x.softmax(d, *log)? } else { out.get()?.clone() };
            if *log {
                one(g.sub(&y.exp()?.mul(&g.sum(Some(&[d]), true)?)?))
            } else {
                one(y.mul(&g.sub(&g.mul(&y)?.sum(Some(&[d]), true)?)?))
            }
        }
        Op::Amax { x, out, dims, keepdim } => {
            let x = x.get()?.detach();
            let shape = x.dims();
            let o = expand_back(out.get()?, &shape, dims, *keepdim)?;
            let mask = x.compare(BinaryOp::Eq, &o)?.to_dtype(g.dtype())?;
            let dl: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
            let count = expand_back(&mask.sum(Some(&dl), true)?, &shape, dims, true)?;
            one(expand_back(g, &shape, dims, *keepdim)?.mul(&mask)?.div(&count))
        }
        Op::Clamp { x, min, max } => {
            let x = x.get()?.detach();
            let mut keep =
                Tensor::full_on(x.shape(), crate::Scalar::Bool(true), crate::DType::Bool, x.device())?;
            if let Some(lo) = min {
                keep = keep.mul(&x.compare_scalar(BinaryOp::Ge, *lo)?)?;
            }
            if let Some(hi) = max {
                keep = keep.mul(&x.compare_scalar(BinaryOp::Le, *hi)?)?;
            }
            one(g.mul(&keep.to_dtype(g.dtype())?))
        }
        Op::CrossEntropy { x, dx, coef, scale, dim, per_row } => {
            let g = if *per_row && dx.ndim() >= 2 { g.unsqueeze(*dim as i64)? } else { g.clone() };
            if !create_graph {
                return one(dx.mul(&g));
            }
            one(fused_loss_grad(dx, &x.get()?.softmax(*dim as i64, false)?, coef.as_ref(), *scale, &g))
        }
        Op::BceWithLogits { x, target, dx, coef, scale } => {
            let x = x.get()?;
            target.get()?;
            let gx = if create_graph {
                fused_loss_grad(dx, &x.sigmoid()?, coef.as_ref(), *scale, g)?
            } else {
                dx.mul(g)?
            };
            Ok(smallvec![Some(gx), None])
        }
        Op::Norm { x, out, p, dims, keepdim } => {
            let x = x.get()?;
            if *p == 0.0 {
                return one(x.zeros_like_shape(x.shape()));
            }
            let shape = x.dims();
            let o = if create_graph {
                let ds: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
                x.norm(*p, Some(&ds), *keepdim)?
            } else {
                out.get()?.clone()
            };
            let o = expand_back(&o, &shape, dims, *keepdim)?;
            // d|x|_p/dx = sgn(x) |x|^(p-1) / |x|_p^(p-1), which is x / |x|_2 for p = 2; zero
            // where the norm is 0, as PyTorch.
            let d = if *p == 2.0 {
                x.div(&o)?
            } else {
                x.sign()?.mul(&x.abs()?.pow_scalar(p - 1.0)?)?.div(&o.pow_scalar(p - 1.0)?)?
            };
            let at_zero = o.detach().compare_scalar(BinaryOp::Eq, 0.0)?;
            one(where_(&at_zero, scalar(0.0), Operand::T(&d))?.mul(&expand_back(g, &shape, dims, *keepdim)?))
        }
        Op::Bce { x, target, weight, dx, scale } => {
            let (x, t) = (x.get()?, target.get()?);
            if !create_graph {
                return Ok(smallvec![Some(dx.mul(g)?), None]);
            }
            // PyTorch's w (x - t) / max(x (1 - x), eps), recorded so it differentiates in x.
            let denom = x.mul(&x.rsub_scalar(1.0)?)?.clamp(Some(crate::ops::loss::BCE_EPS), None)?;
            let mut gx = x.sub(t)?.div(&denom)?.mul_scalar(*scale)?;
            if let Some(w) = weight {
                gx = gx.mul(w)?;
            }
            Ok(smallvec![Some(gx.mul(g)?), None])
        }
        Op::Attention(saved) => attention::attention(saved, g, &need, create_graph),
        Op::EmbeddingBag(s) => embedding_bag::embedding_bag(g, s, &need),
        Op::Ctc(saved) => one(ctc::ctc(saved, g, create_graph)),
        Op::Gelu { x, tanh } => {
            let x = x.get()?;
            one(if create_graph {
                crate::ops::gelu::gelu_backward_composite(g, x, *tanh)
            } else {
                crate::ops::gelu::gelu_backward(g, x, *tanh)
            })
        }
        Op::LayerNorm { x, weight, mean, rstd, spec } => {
            layer_norm::layer_norm(g, x, weight.as_ref(), mean, rstd, spec, &need, create_graph)
        }
        Op::Convolution { x, w, spec, transposed, has_bias } => {
            conv::convolution(g, x, w, spec, *transposed, *has_bias, &need)
        }
        Op::ConvWeight { a, b, spec } => conv::conv_weight(g, a, b, spec, &need),
        Op::PoolMax { indices, input_shape, spec } => one(pool::max_pool(g, indices, input_shape, spec)),
        Op::PoolScatter { indices, spatial, names } => one(pool::scatter(g, indices, *spatial, *names)),
        Op::PoolGather { indices, src_spatial, names } => one(pool::gather(g, indices, src_spatial, *names)),
        Op::PoolAvg { spec, adjoint } => one(pool::avg(g, spec, *adjoint)),
        Op::BatchNorm { x, weight, mean, invstd, spec } => {
            norm::batch_norm(g, x, weight.as_ref(), mean, invstd, spec, &need, create_graph)
        }
        Op::Resample { plan, transposed } => resample::resample(g, plan, *transposed),
        Op::Inverse { a, inv } => one(linalg::inverse(g, a, inv, create_graph)),
        Op::Slogdet { a } => one(linalg::slogdet(g, a)),
        Op::Cholesky { a, l, upper } => one(linalg::cholesky(g, a, l, *upper, create_graph)),
        Op::SolveTriangular { a, b, x, upper, left, unit } => {
            linalg::solve_triangular(g, a, b, x, [*upper, *left, *unit], &need, create_graph)
        }
        Op::LuFactor { a, lu, p } => one(linalg_decomp::lu_factor(g, a, lu, p, create_graph)),
        Op::Solve { a, b, x, left } => linalg_decomp::solve(g, a, b, x, *left, &need, create_graph),
        Op::Det { a, det } => one(linalg_decomp::det(g, a, det, create_graph)),
        Op::Where { cond, shapes, sides } => {
            let ga = || where_(cond, Operand::T(g), scalar(0.0))?.sum_to_shape(&shapes[0]);
            let gb = || where_(cond, scalar(0.0), Operand::T(g))?.sum_to_shape(&shapes[1]);
            Ok(match sides {
                [true, true] => smallvec![Some(ga()?), Some(gb()?)],
                [true, false] => smallvec![Some(ga()?)],
                [false, true] => smallvec![Some(gb()?)],
                [false, false] => smallvec![],
            })
        }
    }
}
