//! Forward-op behaviour PyTorch users rely on: type promotion, broadcasting, views sharing
//! storage, reshape copies, matmul shape rules, reductions, comparisons and error messages.

use rgrad_core::ops::binary::{binary, where_};
use rgrad_core::{BinaryOp, DType, Operand, Result, Scalar, Tensor};
use std::sync::Arc;

// ---- helpers ---------------------------------------------------------------------------------

fn t64(data: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape)
}

/// `arange(n)` as float64 with the given shape.
fn range(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    t64(&(0..n).map(|i| i as f64).collect::<Vec<_>>(), shape)
}

fn vals(t: &Tensor) -> Vec<f64> {
    t.to_vec::<f64>()
}

fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

fn shares_storage(a: &Tensor, b: &Tensor) -> bool {
    Arc::ptr_eq(a.storage(), b.storage())
}

fn with(o: BinaryOp, a: &Tensor, b: Operand) -> Tensor {
    binary(o, Operand::T(a), b).unwrap()
}

fn float(v: f64) -> Operand<'static> {
    Operand::S(Scalar::Float(v))
}

fn int(v: i64) -> Operand<'static> {
    Operand::S(Scalar::Int(v))
}

// ---- type promotion --------------------------------------------------------------------------

#[test]
fn python_numbers_promote_only_across_categories() -> Result<()> {
    let i = Tensor::from_vec(vec![1i64, 2, 3], &[3]);
    let r = with(BinaryOp::Mul, &i, float(2.5));
    assert_eq!(r.dtype(), DType::F32);
    assert_eq!(r.to_vec::<f32>(), vec![2.5, 5.0, 7.5]);

    let i32s = Tensor::from_vec(vec![1i32, 2], &[2]);
    assert_eq!(with(BinaryOp::Add, &i32s, int(3)).dtype(), DType::I32);
    assert_eq!(with(BinaryOp::Add, &t64(&[1.0], &[1]), float(1.0)).dtype(), DType::F64);
    let bools = Tensor::from_vec(vec![true, false], &[2]);
    let r = with(BinaryOp::Add, &bools, int(2));
    assert_eq!((r.dtype(), r.to_vec::<i64>()), (DType::I64, vec![3, 2]));
    assert_eq!(with(BinaryOp::Mul, &bools, float(1.5)).dtype(), DType::F32);
    let zero_dim_int = Tensor::from_vec(vec![4i64], &[]);
    assert_eq!(with(BinaryOp::Mul, &zero_dim_int, float(0.5)).dtype(), DType::F32);
    Ok(())
}

#[test]
fn zero_dim_tensors_promote_only_across_categories() -> Result<()> {
    let f = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    let d0 = t64(&[0.5], &[]);
    let r = f.add(&d0)?;
    assert_eq!(r.dtype(), DType::F32);
    assert_eq!(r.to_vec::<f32>(), vec![1.5, 2.5]);
    assert_eq!(d0.add(&f)?.dtype(), DType::F32, "operand order does not matter");

    let i = Tensor::from_vec(vec![1i64, 2], &[2]);
    let r = i.add(&d0)?;
    assert_eq!(r.dtype(), DType::F64);
    assert_eq!(vals(&r), vec![1.5, 2.5]);

    let i32s = Tensor::from_vec(vec![1i32], &[1]);
    assert_eq!(i32s.add(&Tensor::from_vec(vec![7i64], &[]))?.dtype(), DType::I32);
    let f0 = Tensor::from_vec(vec![1.0f32], &[]);
    assert_eq!(f0.add(&d0)?.dtype(), DType::F64, "two 0-dim tensors promote");
    assert_eq!(f.add(&t64(&[1.0], &[1]))?.dtype(), DType::F64, "[1] is not 0-dim");
    Ok(())
}

#[test]
fn integer_true_division_gives_float32() -> Result<()> {
    let a = Tensor::from_vec(vec![7i64, -7, 1], &[3]);
    let b = Tensor::from_vec(vec![2i64, 2, 0], &[3]);
    let r = a.div(&b)?;
    assert_eq!(r.dtype(), DType::F32);
    assert_eq!(r.to_vec::<f32>(), vec![3.5, -3.5, f32::INFINITY]);
    let r = with(BinaryOp::Div, &a, int(4));
    assert_eq!((r.dtype(), r.to_vec::<f32>()), (DType::F32, vec![1.75, -1.75, 0.25]));
    // Floor division and remainder stay integral and follow Python's signs.
    let (a2, b2) = (a.slice(0, None, Some(2), 1)?, b.slice(0, None, Some(2), 1)?);
    let q = with(BinaryOp::FloorDiv, &a2, Operand::T(&b2));
    assert_eq!((q.dtype(), q.to_vec::<i64>()), (DType::I64, vec![3, -4]));
    assert_eq!(with(BinaryOp::Rem, &a2, Operand::T(&b2)).to_vec::<i64>(), vec![1, 1]);
    Ok(())
}

#[test]
fn promoted_operands_keep_their_view_layout() -> Result<()> {
    // An int64 transposed view must be read through its strides after the cast to float32.
    let i = Tensor::from_vec(vec![1i64, 2, 3, 4, 5, 6], &[2, 3]);
    let ones = Tensor::ones(&[3, 2], DType::F32).unwrap();
    let r = i.t()?.add(&ones)?;
    assert_eq!(r.dtype(), DType::F32);
    assert_eq!(r.to_vec::<f32>(), vec![2.0, 5.0, 3.0, 6.0, 4.0, 7.0]);
    // A 0-dim float64 selected out of a larger storage (nonzero offset).
    let v = t64(&[10.0, 20.0, 30.0], &[3]);
    let k = v.select(0, 2)?;
    let f = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    assert_eq!(f.add(&k)?.to_vec::<f32>(), vec![31.0, 32.0]);
    // A strided slice compared against a scalar of another category.
    let s = Tensor::from_vec(vec![0i64, 1, 2, 3, 4, 5], &[6]).slice(0, Some(1), None, 2)?;
    assert_eq!(s.compare_scalar(BinaryOp::Gt, 2.5)?.to_vec::<bool>(), vec![false, true, true]);
    Ok(())
}

#[test]
fn where_reads_views_through_their_strides() -> Result<()> {
    let x = range(&[2, 3]);
    let cond = Tensor::from_vec(vec![true, false, true, false, true, false], &[3, 2]);
    let r = where_(&cond, Operand::T(&x.t()?), Operand::S(Scalar::Float(-1.0)))?;
    assert_eq!(vals(&r), vec![0.0, -1.0, 1.0, -1.0, 2.0, -1.0]);
    let sel = t64(&[7.0, 8.0, 9.0], &[3]).select(0, 1)?;
    let r = where_(&cond, Operand::T(&sel), Operand::T(&x.t()?))?;
    assert_eq!(vals(&r), vec![8.0, 3.0, 8.0, 4.0, 8.0, 5.0]);
    Ok(())
}

// ---- broadcasting ----------------------------------------------------------------------------

#[test]
fn broadcasting_shapes_values_and_errors() -> Result<()> {
    let a = t64(&[1.0, 2.0, 3.0], &[3, 1]);
    let b = t64(&[10.0, 20.0, 30.0, 40.0], &[4]);
    let c = a.add(&b)?;
    assert_eq!(c.shape(), &[3, 4]);
    assert_eq!(vals(&c.select(0, 2)?), vec![13.0, 23.0, 33.0, 43.0]);
    assert_eq!(range(&[5, 1, 3]).mul(&range(&[2, 1]))?.shape(), &[5, 2, 3]);

    let e = err(t64(&[1.0; 3], &[3]).add(&b));
    assert_eq!(
        e,
        "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0"
    );
    let e = err(range(&[2, 3]).mul(&range(&[4, 3])));
    assert_eq!(
        e,
        "The size of tensor a (2) must match the size of tensor b (4) at non-singleton dimension 0"
    );
    let e = err(range(&[2, 3]).compare(BinaryOp::Lt, &range(&[2])));
    assert_eq!(
        e,
        "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1"
    );
    Ok(())
}

// ---- views and storage -----------------------------------------------------------------------

#[test]
fn views_share_storage_and_see_in_place_writes() -> Result<()> {
    let base = range(&[2, 3]);
    let t = base.t()?;
    assert!(shares_storage(&base, &t) && !t.is_contiguous());
    t.select(0, 1)?.fill_(Scalar::Float(-1.0))?; // column 1 of base
    assert_eq!(vals(&base), vec![0.0, -1.0, 2.0, 3.0, -1.0, 5.0]);

    let flat = base.reshape(&[6])?;
    assert!(shares_storage(&base, &flat));
    flat.binary_(BinaryOp::Add, float(10.0))?;
    assert_eq!(vals(&base), vec![10.0, 9.0, 12.0, 13.0, 9.0, 15.0]);

    let row = base.select(0, -1)?;
    row.binary_(BinaryOp::Mul, float(2.0))?;
    assert_eq!(vals(&base), vec![10.0, 9.0, 12.0, 26.0, 18.0, 30.0]);

    let every_other = flat.slice(0, Some(0), None, 2)?;
    assert_eq!(every_other.shape(), &[3]);
    every_other.copy_(&t64(&[0.0, 0.5, 1.0], &[3]))?;
    assert_eq!(vals(&base), vec![0.0, 9.0, 0.5, 26.0, 1.0, 30.0]);

    let col = base.slice(1, Some(2), None, 1)?; // [2, 1]
    let wide = col.expand(&[2, 4])?;
    assert!(shares_storage(&base, &wide));
    assert_eq!(vals(&wide), vec![0.5, 0.5, 0.5, 0.5, 30.0, 30.0, 30.0, 30.0]);
    wide.fill_(Scalar::Int(7))?; // fill is allowed on overlapping memory
    assert_eq!(vals(&base), vec![0.0, 9.0, 7.0, 26.0, 1.0, 7.0]);
    assert!(base.version() > 0 && base.version() == wide.version(), "views share one version counter");
    Ok(())
}

#[test]
fn in_place_arithmetic_on_expanded_view_errors() -> Result<()> {
    let col = t64(&[1.0, 2.0], &[2, 1]);
    let wide = col.expand(&[2, 3])?;
    let e = err(wide.binary_(BinaryOp::Add, float(1.0)));
    assert_eq!(
        e,
        "unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation."
    );
    assert_eq!(vals(&col), vec![1.0, 2.0]);
    Ok(())
}

#[test]
fn in_place_result_must_cast_to_self() -> Result<()> {
    let i = Tensor::from_vec(vec![1i64, 2], &[2]);
    let e = err(i.binary_(BinaryOp::Mul, float(1.5)));
    assert_eq!(e, "result type Float can't be cast to the desired output type Long");
    let f = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    f.binary_(BinaryOp::Add, Operand::T(&t64(&[0.5, 0.25], &[2])))?;
    assert_eq!((f.dtype(), f.to_vec::<f32>()), (DType::F32, vec![1.5, 2.25]));
    let e = err(f.binary_(BinaryOp::Add, Operand::T(&range(&[3, 2]))));
    assert_eq!(e, "output with shape [2] doesn't match the broadcast shape [3, 2]");
    Ok(())
}

#[test]
fn reshape_of_non_contiguous_copies() -> Result<()> {
    let base = range(&[2, 3]);
    let t = base.t()?;
    let flat = t.reshape(&[-1])?;
    assert_eq!(flat.shape(), &[6]);
    assert_eq!(vals(&flat), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    assert!(!shares_storage(&base, &flat));
    flat.fill_(Scalar::Float(0.0))?;
    assert_eq!(vals(&base), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "the copy is independent");

    let e = err(t.view(&[6]));
    assert_eq!(
        e,
        "view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead."
    );
    // Splitting a dim of a transposed tensor is still expressible as a view.
    let base = range(&[2, 4]);
    let v = base.t()?.view(&[2, 2, 2])?;
    assert!(shares_storage(&v, &base));
    assert_eq!(vals(&v), vec![0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 7.0]);
    Ok(())
}

#[test]
fn view_shape_errors() -> Result<()> {
    let x = range(&[3]);
    assert_eq!(err(x.view(&[2, 2])), "shape '[2, 2]' is invalid for input of size 3");
    assert_eq!(err(x.reshape(&[2, -1])), "shape '[2, -1]' is invalid for input of size 3");
    assert_eq!(err(range(&[6]).view(&[-1, -1])), "only one dimension can be inferred");
    assert_eq!(range(&[6]).view(&[-1, 3])?.shape(), &[2, 3]);
    Ok(())
}

#[test]
fn indexing_views_follow_python_rules() -> Result<()> {
    let x = range(&[4, 5]);
    assert_eq!(vals(&x.select(1, -2)?), vec![3.0, 8.0, 13.0, 18.0]);
    assert_eq!(
        err(x.select(0, 4)),
        "select(): index 4 out of range for tensor of size [4, 5] at dimension 0"
    );
    assert_eq!(vals(&x.select(0, 0)?.slice(0, Some(-3), Some(100), 2)?), vec![2.0, 4.0]);
    assert_eq!(x.slice(0, Some(3), Some(1), 1)?.shape(), &[0, 5], "empty slice");
    let p = range(&[2, 3, 4]).permute(&[2, 0, 1])?;
    assert_eq!(p.shape(), &[4, 2, 3]);
    assert_eq!(vals(&p.select(0, 1)?), vec![1.0, 5.0, 9.0, 13.0, 17.0, 21.0]);
    let e = err(x.transpose(0, 2));
    assert_eq!(e, "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    Ok(())
}

// ---- matmul ----------------------------------------------------------------------------------

/// numpy/PyTorch `matmul` on contiguous row-major data, written out by hand.
fn reference_matmul(a: &[f64], sa: &[usize], b: &[f64], sb: &[usize]) -> (Vec<f64>, Vec<usize>) {
    let sa2 = if sa.len() == 1 { vec![1, sa[0]] } else { sa.to_vec() };
    let sb2 = if sb.len() == 1 { vec![sb[0], 1] } else { sb.to_vec() };
    let (m, k) = (sa2[sa2.len() - 2], sa2[sa2.len() - 1]);
    let n = sb2[sb2.len() - 1];
    assert_eq!(k, sb2[sb2.len() - 2]);
    let (ba, bb) = (&sa2[..sa2.len() - 2], &sb2[..sb2.len() - 2]);
    let nb = ba.len().max(bb.len());
    let pad = |s: &[usize]| [vec![1; nb - s.len()], s.to_vec()].concat();
    let (pa, pb) = (pad(ba), pad(bb));
    let batch: Vec<usize> = pa.iter().zip(&pb).map(|(&x, &y)| x.max(y)).collect();
    let mut out = Vec::new();
    for flat in 0..batch.iter().product::<usize>() {
        let mut idx = vec![0; nb];
        let mut rem = flat;
        for d in (0..nb).rev() {
            idx[d] = rem % batch[d];
            rem /= batch[d];
        }
        // Batch index into an operand, with size-1 dims broadcast.
        let at =
            |p: &[usize]| idx.iter().zip(p).fold(0, |acc, (&i, &s)| acc * s + if s == 1 { 0 } else { i });
        let (oa, ob) = (at(&pa) * m * k, at(&pb) * k * n);
        for i in 0..m {
            for j in 0..n {
                out.push((0..k).map(|p| a[oa + i * k + p] * b[ob + p * n + j]).sum());
            }
        }
    }
    let mut shape = batch;
    if sa.len() > 1 {
        shape.push(m);
    }
    if sb.len() > 1 {
        shape.push(n);
    }
    (out, shape)
}

#[test]
fn matmul_follows_pytorch_shape_rules() -> Result<()> {
    let cases: &[(&[usize], &[usize])] = &[
        (&[3], &[3]),
        (&[2, 3], &[3]),
        (&[3], &[3, 4]),
        (&[2, 3], &[3, 4]),
        (&[2, 1, 2, 3], &[5, 3, 4]),
        (&[4], &[2, 4, 3]),
        (&[2, 3, 4], &[4]),
        (&[5, 2, 3], &[3, 4]),
        (&[3, 4], &[2, 4, 5]),
        (&[1, 2, 3], &[3, 3, 2]),
    ];
    for &(sa, sb) in cases {
        let (a, b) = (range(sa).mul_scalar(0.5)?, range(sb).add_scalar(-3.0)?);
        let (want, shape) = reference_matmul(&vals(&a), sa, &vals(&b), sb);
        let got = a.matmul(&b)?;
        assert_eq!(got.shape(), shape.as_slice(), "{sa:?} @ {sb:?}");
        assert_eq!(vals(&got), want, "{sa:?} @ {sb:?}");
        let gi = a.to_dtype(DType::I64)?.matmul(&b.to_dtype(DType::I64)?)?;
        assert_eq!(gi.dtype(), DType::I64);
        let (ai, bi) = (vals(&a.to_dtype(DType::I64)?), vals(&b));
        assert_eq!(vals(&gi), reference_matmul(&ai, sa, &bi, sb).0, "int64 {sa:?} @ {sb:?}");
    }
    Ok(())
}

#[test]
fn matmul_reads_strided_operands() -> Result<()> {
    let a = range(&[4, 3]).t()?; // [3, 4], non-contiguous
    let b = range(&[5, 4]).slice(0, Some(0), None, 2)?.t()?; // [4, 3]
    let (ca, cb) = (a.contiguous()?, b.contiguous()?);
    let (want, _) = reference_matmul(&vals(&ca), a.shape(), &vals(&cb), b.shape());
    assert_eq!(vals(&a.matmul(&b)?), want);
    let v = range(&[8]).slice(0, Some(1), None, 2)?; // [4], stride 2
    assert_eq!(vals(&a.matmul(&v)?), reference_matmul(&vals(&ca), &[3, 4], &vals(&v), &[4]).0);
    let batched = range(&[2, 4, 3]).transpose(1, 2)?; // [2, 3, 4]
    let cbat = batched.contiguous()?;
    let (want, shape) = reference_matmul(&vals(&cbat), &[2, 3, 4], &vals(&cb), &[4, 3]);
    let got = batched.matmul(&b)?;
    assert_eq!((got.shape(), vals(&got)), (shape.as_slice(), want));
    Ok(())
}

#[test]
fn matmul_errors() -> Result<()> {
    assert_eq!(
        err(range(&[2, 3]).matmul(&range(&[4, 5]))),
        "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"
    );
    assert_eq!(
        err(range(&[3]).matmul(&range(&[4]))),
        "inconsistent tensor size, expected tensor [3] and src [4] to have the same number of elements, but got 3 and 4 elements respectively"
    );
    assert_eq!(
        err(range(&[]).matmul(&range(&[2]))),
        "both arguments to matmul need to be at least 1D, but they are 0D and 1D"
    );
    let f = Tensor::ones(&[2, 2], DType::F32).unwrap();
    assert_eq!(
        err(f.matmul(&range(&[2, 2]))),
        "expected m1 and m2 to have the same dtype, but got: float != double"
    );
    Ok(())
}

// ---- reductions ------------------------------------------------------------------------------

#[test]
fn sum_and_mean_over_dims() -> Result<()> {
    let x = range(&[2, 3, 4]);
    let s = x.sum(Some(&[1]), false)?;
    assert_eq!(s.shape(), &[2, 4]);
    assert_eq!(vals(&s), vec![12.0, 15.0, 18.0, 21.0, 48.0, 51.0, 54.0, 57.0]);
    let s = x.sum(Some(&[0, -1]), true)?;
    assert_eq!(s.shape(), &[1, 3, 1]);
    assert_eq!(vals(&s), vec![60.0, 92.0, 124.0]);
    let all = x.sum(None, false)?;
    assert_eq!((all.shape(), vals(&all)), (&[] as &[usize], vec![276.0]));
    assert_eq!(x.sum(None, true)?.shape(), &[1, 1, 1]);

    let m = x.mean(Some(&[2]), true, None)?;
    assert_eq!(m.shape(), &[2, 3, 1]);
    assert_eq!(vals(&m), vec![1.5, 5.5, 9.5, 13.5, 17.5, 21.5]);
    assert_eq!(vals(&x.mean(None, false, None)?), vec![11.5]);
    // Reductions over a non-contiguous view.
    let p = x.permute(&[2, 0, 1])?;
    assert_eq!(vals(&p.sum(Some(&[0]), false)?), vec![6.0, 22.0, 38.0, 54.0, 70.0, 86.0]);
    assert_eq!(vals(&p.mean(Some(&[1, 2]), false, None)?), vec![10.0, 11.0, 12.0, 13.0]);
    Ok(())
}

#[test]
fn reduction_dtypes_and_errors() -> Result<()> {
    let i = Tensor::from_vec(vec![1i32, 2, 3], &[3]);
    let s = i.sum(None, false)?;
    assert_eq!((s.dtype(), s.to_vec::<i64>()), (DType::I64, vec![6]));
    let b = Tensor::from_vec(vec![true, true, false], &[3]);
    assert_eq!(b.sum(None, false)?.to_vec::<i64>(), vec![2]);
    let f = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    assert_eq!(f.sum(None, false)?.dtype(), DType::F32);
    let e = err(i.mean(None, false, None));
    assert_eq!(
        e,
        "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: Int"
    );
    let m = i.mean(None, false, Some(DType::F64))?;
    assert_eq!((m.dtype(), vals(&m)), (DType::F64, vec![2.0]));
    let x = range(&[2, 3]);
    assert_eq!(
        err(x.sum(Some(&[2]), false)),
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)"
    );
    assert_eq!(err(x.sum(Some(&[1, -1]), false)), "dim 1 appears multiple times in the list of dims");
    Ok(())
}

// ---- comparisons -----------------------------------------------------------------------------

#[test]
fn comparisons_give_bool_tensors() -> Result<()> {
    let a = t64(&[1.0, 2.0, 3.0], &[3]);
    let b = t64(&[3.0, 2.0, 1.0], &[3]);
    let table = [
        (BinaryOp::Lt, [true, false, false]),
        (BinaryOp::Le, [true, true, false]),
        (BinaryOp::Gt, [false, false, true]),
        (BinaryOp::Ge, [false, true, true]),
        (BinaryOp::Eq, [false, true, false]),
        (BinaryOp::Ne, [true, false, true]),
    ];
    for (o, want) in table {
        let r = a.compare(o, &b)?;
        assert_eq!(r.dtype(), DType::Bool, "{o:?}");
        assert_eq!(r.to_vec::<bool>(), want.to_vec(), "{o:?}");
    }
    let i = Tensor::from_vec(vec![1i64, 2, 3], &[3]);
    let r = i.compare_scalar(BinaryOp::Lt, 2.5)?;
    assert_eq!((r.dtype(), r.to_vec::<bool>()), (DType::Bool, vec![true, true, false]));
    let r = t64(&[1.0, 5.0], &[2, 1]).compare(BinaryOp::Gt, &a)?;
    assert_eq!(r.shape(), &[2, 3]);
    assert_eq!(r.to_vec::<bool>(), vec![false, false, false, true, true, true]);
    // Compared in float32: the float64 0.1 rounds to the same float32.
    let f = Tensor::from_vec(vec![0.1f32], &[1]);
    assert_eq!(f.compare(BinaryOp::Eq, &t64(&[0.1], &[]))?.to_vec::<bool>(), vec![true]);
    // Never part of the graph.
    a.set_requires_grad(true)?;
    let r = a.compare(BinaryOp::Gt, &b)?;
    assert!(!r.requires_grad() && r.grad_fn().is_none());
    Ok(())
}
