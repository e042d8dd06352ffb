//! float16/bfloat16 compute, the way PyTorch's CPU kernels do it ("opmath"): the inputs are
//! widened to float32, the float32 kernel runs (accumulating reductions, matmul and conv in
//! float32) and the result is rounded once back to the 16-bit type. One path for every
//! compute op, instead of instantiating each float kernel for the two half types.
//!
//! Data movement (copies, views, indexing, sort, compare, where) runs natively on the 16-bit
//! elements through the generic kernels; per-element arithmetic (`Arith`) widens each element
//! itself, which gives the same bits.

use crate::error::{Error, Result};
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::DType;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

/// The error for an op reached with a dtype it has no kernel for, in PyTorch's words.
pub fn not_implemented(dt: DType) -> Error {
    Error::NotImplemented(format!("this op is not implemented for '{}'", dt.scalar_name()))
}

/// Elements per conversion chunk (one chunk per rayon task).
const CHUNK: usize = 1 << 15;

fn widen_slice<H>(src: &[H]) -> Result<Vec<f32>>
where
    H: Element,
    [H]: HalfFloatSliceExt,
{
    let mut out = crate::storage::try_vec_with_capacity::<f32>(src.len())?;
    out.resize(src.len(), 0.0);
    if src.len() >= crate::cpu::PAR_THRESHOLD {
        out.par_chunks_mut(CHUNK).zip(src.par_chunks(CHUNK)).for_each(|(o, s)| s.convert_to_f32_slice(o));
    } else {
        src.convert_to_f32_slice(&mut out);
    }
    Ok(out)
}

fn narrow_slice<H>(src: &[f32]) -> Result<Vec<H>>
where
    H: Element,
    [H]: HalfFloatSliceExt,
{
    let mut out = crate::storage::try_vec_with_capacity::<H>(src.len())?;
    out.resize(src.len(), H::default());
    if src.len() >= crate::cpu::PAR_THRESHOLD {
        out.par_chunks_mut(CHUNK).zip(src.par_chunks(CHUNK)).for_each(|(o, s)| o.convert_from_f32_slice(s));
    } else {
        out.convert_from_f32_slice(src);
    }
    Ok(out)
}

fn contiguous_slice<T: Element>(t: &Tensor) -> Option<&[T]> {
    if t.is_gpu() || !t.is_contiguous() {
        return None;
    }
    if t.numel() == 0 {
        return Some(&[]);
    }
    let off = t.layout().offset;
    Some(&t.storage_slice::<T>()[off..off + t.numel()])
}

/// The vectorised conversions between float32 and the half types for contiguous CPU
/// tensors; `None` for other casts (the generic per-element copy does those).
pub(crate) fn fast_cast(t: &Tensor, to: DType) -> Result<Option<Tensor>> {
    Ok(Some(match (t.dtype(), to) {
        (DType::F16, DType::F32) => match contiguous_slice::<half::f16>(t) {
            Some(s) => Tensor::from_vec(widen_slice(s)?, t.shape()),
            None => return Ok(None),
        },
        (DType::BF16, DType::F32) => match contiguous_slice::<half::bf16>(t) {
            Some(s) => Tensor::from_vec(widen_slice(s)?, t.shape()),
            None => return Ok(None),
        },
        (DType::F32, DType::F16) => match contiguous_slice::<f32>(t) {
            Some(s) => Tensor::from_vec(narrow_slice::<half::f16>(s)?, t.shape()),
            None => return Ok(None),
        },
        (DType::F32, DType::BF16) => match contiguous_slice::<f32>(t) {
            Some(s) => Tensor::from_vec(narrow_slice::<half::bf16>(s)?, t.shape()),
            None => return Ok(None),
        },
        _ => return Ok(None),
    }))
}

/// `t` in the dtype its kernels compute in (float32 for the half types), without autograd.
pub fn widen(t: &Tensor) -> Result<Tensor> {
    if t.dtype().is_reduced_float() {
        t.cast_kernel(DType::F32)
    } else {
        Ok(t.clone())
    }
}

/// Rounds a float32 result back to `dt` (other results, e.g. indices or masks, stay).
pub fn narrow(out: Tensor, dt: DType) -> Result<Tensor> {
    if dt.is_reduced_float() && out.dtype() == DType::F32 {
        out.cast_kernel(dt)
    } else {
        Ok(out)
    }
}

/// Runs `f` on `t` widened to float32 and narrows its result, when `t` is float16/bfloat16;
/// `None` for other dtypes (the caller goes on with its own kernels).
pub fn unary(t: &Tensor, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Option<Tensor>> {
    if !t.dtype().is_reduced_float() {
        return Ok(None);
    }
    Ok(Some(narrow(f(&widen(t)?)?, t.dtype())?))
}

/// [`unary`] for ops of several tensors: when any input is float16/bfloat16, every reduced
/// input is widened, `f` runs on them and a float32 result is narrowed to `out` (the dtype the
/// op would have returned: the inputs' promoted dtype).
pub fn many<const N: usize>(
    inputs: [&Tensor; N],
    f: impl FnOnce([&Tensor; N]) -> Result<Tensor>,
) -> Result<Option<Tensor>> {
    if !inputs.iter().any(|t| t.dtype().is_reduced_float()) {
        return Ok(None);
    }
    let out_dt = inputs.iter().skip(1).fold(inputs[0].dtype(), |d, t| DType::promote(d, t.dtype()));
    let mut wide: Vec<Tensor> = Vec::with_capacity(N);
    for t in inputs {
        wide.push(widen(t)?);
    }
    let refs: [&Tensor; N] = std::array::from_fn(|i| &wide[i]);
    Ok(Some(narrow(f(refs)?, out_dt)?))
}

/// Like [`many`] for optional inputs (a bias, a weight).
pub fn widen_opt(t: Option<&Tensor>) -> Result<Option<Tensor>> {
    t.map(widen).transpose()
}
