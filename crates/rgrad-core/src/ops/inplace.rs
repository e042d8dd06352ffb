//! In-place ops. Each computes its result out of place, then writes it into `self`'s storage:
//! simple, correct when operands alias `self`, and autograd sees an ordinary recorded op whose
//! output history `self` takes over.

use super::binary::{binary, BinaryOp, Operand};
use crate::autograd::{recorded, Op};
use crate::bail;
use crate::error::Result;
use crate::grad_mode;
use crate::ops::arith::Arith;
use crate::shape::fmt_shape;
use crate::tensor::Tensor;
use crate::{with_dtype, DType, Scalar};
use std::sync::Arc;

/// The computation of an in-place op, run on (a copy of) the tensor it updates.
type InplaceFn<'a> = Box<dyn FnOnce(&Tensor) -> Result<Tensor> + 'a>;

/// PyTorch's `canCast`: no float to int, nothing but bool to bool.
fn can_cast(from: DType, to: DType) -> bool {
    !(from.is_float() && !to.is_float() || from != DType::Bool && to == DType::Bool)
}

pub(crate) fn scalar_type_name(dt: DType) -> &'static str {
    dt.scalar_name()
}

/// PyTorch's `assert_no_internal_overlap` for the case it can prove: a broadcast (stride-0)
/// dimension, where several elements share one memory location.
fn check_no_internal_overlap(t: &Tensor) -> Result<()> {
    if t.shape().iter().zip(t.strides()).any(|(&d, &s)| d > 1 && s == 0) {
        bail!(
            Runtime,
            "unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation."
        );
    }
    Ok(())
}

impl Tensor {
    /// Runs `f` on (a copy of) `self` and writes the result back into `self`; refused, as in
    /// PyTorch, when several elements of `self` share one memory location (an expanded tensor).
    pub fn apply_inplace(&self, others: &[&Tensor], f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<()> {
        check_no_internal_overlap(self)?;
        self.apply_inplace_dyn(others, Box::new(f))
    }

    /// [`Tensor::apply_inplace`] for the writes PyTorch allows on overlapping memory (`fill_`,
    /// `masked_fill_`, `index_put_`, indexed assignment): every alias gets the same value.
    pub fn apply_inplace_overlapping(
        &self,
        others: &[&Tensor],
        f: impl FnOnce(&Tensor) -> Result<Tensor>,
    ) -> Result<()> {
        self.apply_inplace_dyn(others, Box::new(f))
    }

    // Not generic, so the view path can call back into it without endless instantiation.
    fn apply_inplace_dyn(&self, others: &[&Tensor], f: InplaceFn<'_>) -> Result<()> {
        let grad_on = grad_mode::is_enabled();
        if grad_on && self.meta().views_grad_leaf {
            bail!(
                Runtime,
                "a view of a leaf Variable that requires grad is being used in an in-place operation."
            );
        }
        if grad_on && self.requires_grad() && self.is_leaf() {
            bail!(Runtime, "a leaf Variable that requires grad is being used in an in-place operation.");
        }
        let record = grad_on && (self.requires_grad() || others.iter().any(|t| t.requires_grad()));
        if record {
            let base = self.meta().view_base.clone();
            if let Some(base) = base.filter(|b| b.is_contiguous() && b.layout().offset == 0) {
                return self.inplace_on_view(&base, others, f);
            }
        }
        // When recording, the op must see the old value even after we overwrite it.
        let base = if record { self.clone_tensor()? } else { self.clone() };
        let result = f(&base)?;
        if !can_cast(result.dtype(), self.dtype()) {
            bail!(
                Runtime,
                "result type {} can't be cast to the desired output type {}",
                scalar_type_name(result.dtype()),
                scalar_type_name(self.dtype())
            );
        }
        if result.shape() != self.shape() {
            bail!(
                Runtime,
                "output with shape {} doesn't match the broadcast shape {}",
                fmt_shape(self.shape()),
                fmt_shape(result.shape())
            );
        }
        self.write_from(&result)?;
        if record {
            if let Some(node) = result.grad_fn() {
                self.take_inplace_history(node, result.meta().output_nr);
            }
        }
        Ok(())
    }

    /// An in-place op on a view of a tensor with history (PyTorch's CopySlices): the base is
    /// rewritten by a recorded `index_put` of the view's new values at the view's positions,
    /// and the view then takes its history from the updated base.
    fn inplace_on_view(&self, base: &Tensor, others: &[&Tensor], f: InplaceFn<'_>) -> Result<()> {
        let result = f(&self.clone_tensor()?)?;
        if result.shape() != self.shape() {
            bail!(
                Runtime,
                "output with shape {} doesn't match the broadcast shape {}",
                fmt_shape(self.shape()),
                fmt_shape(result.shape())
            );
        }
        if !can_cast(result.dtype(), self.dtype()) {
            bail!(
                Runtime,
                "result type {} can't be cast to the desired output type {}",
                scalar_type_name(result.dtype()),
                scalar_type_name(self.dtype())
            );
        }
        let result = result.to_dtype(self.dtype())?;
        let positions: Vec<i64> =
            crate::cpu::index::offsets(self.layout())?.into_iter().map(|o| o as i64).collect();
        let n = positions.len();
        let positions = Tensor::from_vec(positions, &[n]).to_device_kernel(self.device())?;
        let flat_values = result.reshape(&[-1])?;
        let base_shape: Vec<i64> = base.shape().iter().map(|&s| s as i64).collect();
        let mut all: Vec<&Tensor> = others.to_vec();
        all.push(&result);
        base.apply_inplace_dyn(
            &all,
            Box::new(|b: &Tensor| {
                b.reshape(&[-1])?
                    .index_put(&[Some(positions.clone())], &flat_values, false)?
                    .reshape(&base_shape)
            }),
        )?;
        // The view's values are already in place (it shares the base's memory); its history
        // becomes "these positions of the new base".
        if let Some(regathered) = self.regather_from(base)? {
            if let Some(node) = regathered.grad_fn() {
                self.take_inplace_history(node, regathered.meta().output_nr);
            }
        }
        Ok(())
    }

    /// Copies `src` (same shape, not aliasing `self`) into `self`'s view, converting dtype.
    fn write_from(&self, src: &Tensor) -> Result<()> {
        if self.numel() == 0 {
            return Ok(());
        }
        if self.is_gpu() {
            // `src` may be on the CPU (`gpu_tensor.copy_(cpu_tensor)`): copied over first.
            let src = src.to_device_kernel(crate::Device::Wgpu)?;
            crate::gpu::map_into(self, &[crate::gpu::Input::of(&src, self.dtype())], "a", self.dtype())?;
            self.storage().bump_version();
            return Ok(());
        }
        let src = &src.to_cpu()?;
        with_dtype!(self.dtype(), D => {
            // A contiguous source of the same dtype is read in place; others are converted.
            let converted: Vec<D>;
            let data: &[D] = if src.dtype() == self.dtype() && src.is_contiguous() {
                let off = src.layout().offset;
                &src.storage_slice::<D>()[off..off + src.numel()]
            } else {
                converted = src.try_to_vec::<D>()?;
                &converted
            };
            // SAFETY: `src` was computed into fresh memory, so nothing else borrows ours.
            let dst = unsafe { self.storage().as_mut_slice::<D>() };
            if self.is_contiguous() {
                let off = self.layout().offset;
                dst[off..off + data.len()].copy_from_slice(data);
            } else {
                crate::cpu::copy::scatter(data, dst, self.layout());
            }
        });
        self.storage().bump_version();
        Ok(())
    }

    /// `self += other` for gradient accumulation: no autograd, added in place when both are
    /// plain contiguous buffers of one dtype and shape.
    pub(crate) fn accumulate_(&self, other: &Tensor) -> Result<()> {
        if self.numel() == 0 {
            return Ok(());
        }
        let plain = self.is_contiguous() && other.is_contiguous() && self.shape() == other.shape();
        if !plain || self.dtype() != other.dtype() || self.is_gpu() || other.is_gpu() {
            return self.binary_(BinaryOp::Add, Operand::T(other));
        }
        with_dtype!(self.dtype(), D => {
            let (so, oo, n) = (self.layout().offset, other.layout().offset, self.numel());
            let src: Vec<D> = if Arc::ptr_eq(self.storage(), other.storage()) {
                other.storage_slice::<D>()[oo..oo + n].to_vec()
            } else {
                Vec::new()
            };
            let src: &[D] = if src.is_empty() { &other.storage_slice::<D>()[oo..oo + n] } else { &src };
            // SAFETY: `src` is another storage or a copy, so the only live borrow is ours.
            let dst = unsafe { self.storage().as_mut_slice::<D>() };
            for (d, &s) in dst[so..so + n].iter_mut().zip(src) {
                *d = d.add(s);
            }
        });
        self.storage().bump_version();
        Ok(())
    }

    /// `self op= other` for the arithmetic ops (`add_`, `mul_`, ...).
    pub fn binary_(&self, op: BinaryOp, other: Operand) -> Result<()> {
        let others: Vec<&Tensor> = match other {
            Operand::T(t) => vec![t],
            Operand::S(_) => vec![],
        };
        self.apply_inplace(&others, |base| binary(op, Operand::T(base), other))
    }

    /// `fill_(value)` / `zero_()`.
    pub fn fill_(&self, value: Scalar) -> Result<()> {
        let shape = self.dims();
        let dt = self.dtype();
        self.apply_inplace_overlapping(&[], |base| {
            let full = Tensor::full_on(&shape, value, dt, base.device())?;
            Ok(recorded(full, "FillBackward0", &[base], || Op::Scale(0.0)))
        })
    }

    /// `normal_` / `uniform_`: overwrites `self` with `values` (drawn for its shape) as an
    /// in-place op, so a leaf that requires grad refuses it under grad mode and a tensor with
    /// history records a node (`name`) whose gradient is zero, as in PyTorch.
    pub fn overwrite_(&self, values: &Tensor, name: &'static str) -> Result<()> {
        let dt = self.dtype();
        self.apply_inplace(&[], |base| {
            let v = values.to_device_kernel(base.device())?.to_dtype(dt)?;
            Ok(recorded(v, name, &[base], || Op::Scale(0.0)))
        })
    }

    /// `copy_(src)`: broadcasts and converts `src` into `self`.
    pub fn copy_(&self, src: &Tensor) -> Result<()> {
        let sizes: Vec<i64> = self.shape().iter().map(|&s| s as i64).collect();
        let dt = self.dtype();
        self.apply_inplace(&[src], |_| src.expand(&sizes)?.to_dtype(dt))
    }
}
