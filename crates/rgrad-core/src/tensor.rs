//! The tensor handle: shared storage, a layout, and autograd metadata.

use crate::autograd::Node;
use crate::bail;
use crate::error::Result;
use crate::layout::Layout;
use crate::shape::{fmt_shape, Dims};
use crate::storage::{Device, Element, Storage};
use crate::{with_dtype, DType, Scalar};
use parking_lot::Mutex;
use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

static NEXT_HOOK: AtomicU64 = AtomicU64::new(1);

/// A user hook on a tensor's gradient; may return a replacement.
pub trait GradHookFn: Send + Sync {
    fn call(&self, grad: &Tensor) -> Result<Option<Tensor>>;
    /// The hook's concrete value, so the binding that made it can reach the foreign objects it
    /// holds (Python's garbage collector must see them).
    fn as_any(&self) -> Option<&dyn Any> {
        None
    }
}

impl<F: Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync> GradHookFn for F {
    fn call(&self, grad: &Tensor) -> Result<Option<Tensor>> {
        self(grad)
    }
}

pub type GradHook = Arc<dyn GradHookFn>;

#[derive(Default)]
pub struct AutogradMeta {
    pub grad: Option<Tensor>,
    pub grad_fn: Option<Arc<Node>>,
    pub output_nr: usize,
    pub retains_grad: bool,
    /// The grad_fn was taken over from an in-place op (it names errors differently).
    pub inplace_history: bool,
    /// A view (possibly of a view) of a leaf that requires grad: in-place writes are errors.
    pub views_grad_leaf: bool,
    /// For a view of a tensor that requires grad: the tensor whose memory it views (the root of
    /// a chain of views). In-place ops on the view rewrite the base's history too.
    pub view_base: Option<Tensor>,
    /// The storage version when this view's history was last taken; a newer version means the
    /// base changed in place and the history is rebuilt from it (see `refresh_view_history`).
    pub view_version: u64,
    /// Hooks of a leaf, by handle id (a non-leaf's hooks live on its grad_fn).
    pub hooks: Vec<(u64, GradHook)>,
}

pub struct TensorImpl {
    // Fields are private; the autograd engine reaches retained tensors through `Weak` handles.
    storage: Arc<Storage>,
    layout: Layout,
    /// True for a leaf that requires grad and for every tensor with a `grad_fn`; read on
    /// every op, so kept out of the mutex.
    requires_grad: AtomicBool,
    /// Made in inference mode (or a view of such a tensor): `is_inference()`.
    inference: bool,
    meta: Mutex<AutogradMeta>,
    /// An opaque pointer a language binding keeps here (its wrapper object, so one tensor has
    /// one wrapper). The core never dereferences it; the binding serialises access (Python: the
    /// GIL).
    binding: AtomicPtr<()>,
}

/// A handle that does not keep its tensor alive (what a hook's removal handle holds).
#[derive(Clone)]
pub struct WeakTensor(Weak<TensorImpl>);

impl WeakTensor {
    pub fn upgrade(&self) -> Option<Tensor> {
        self.0.upgrade().map(Tensor)
    }
}

/// A cheap-to-clone handle; clones share everything (it is the same tensor).
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorImpl>);

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({}, {:?})", self.dtype(), self.shape())
    }
}

impl Tensor {
    /// A tensor viewing `storage` through `layout`; refuses a layout that reaches outside the
    /// storage, so no tensor can read or write memory it does not own.
    pub fn from_parts(storage: Arc<Storage>, layout: Layout) -> Result<Tensor> {
        check_fits(&storage, &layout)?;
        Ok(Tensor::from_parts_unchecked(storage, layout))
    }

    /// [`Tensor::from_parts`] for layouts that fit by construction (a contiguous layout over a
    /// buffer of exactly its element count, or the layout of an existing tensor of the storage).
    #[inline]
    pub(crate) fn from_parts_unchecked(storage: Arc<Storage>, layout: Layout) -> Tensor {
        Tensor::from_parts_inference(storage, layout, crate::grad_mode::inference_enabled())
    }

    #[inline]
    fn from_parts_inference(storage: Arc<Storage>, layout: Layout, inference: bool) -> Tensor {
        debug_assert!(layout.fits(storage.len()));
        Tensor(Arc::new(TensorImpl {
            storage,
            layout,
            requires_grad: AtomicBool::new(false),
            inference,
            meta: Mutex::new(AutogradMeta::default()),
            binding: AtomicPtr::new(std::ptr::null_mut()),
        }))
    }

    /// `is_inference()`: made in inference mode, or a view of a tensor that was.
    pub fn is_inference(&self) -> bool {
        self.0.inference
    }

    /// A contiguous tensor owning `data`.
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape` (an internal invariant).
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Tensor {
        assert!(crate::shape::checked_numel(shape).ok() == Some(data.len()), "from_vec length mismatch");
        Tensor::from_parts_unchecked(Arc::new(Storage::from_vec(data)), Layout::contiguous(shape))
    }

    /// [`Tensor::from_vec`] for a `shape` taken from an existing tensor with `data.len()`
    /// elements: the element count is known to fit, so only debug builds check it.
    #[inline]
    pub(crate) fn from_vec_of_shape<T: Element>(data: Vec<T>, shape: &[usize]) -> Tensor {
        debug_assert_eq!(crate::shape::checked_numel(shape).ok(), Some(data.len()));
        Tensor::from_parts_unchecked(Arc::new(Storage::from_vec(data)), Layout::contiguous(shape))
    }

    /// Checked variant of [`Tensor::from_vec`] for data coming from users.
    pub fn try_from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        if crate::shape::checked_numel(shape).ok() != Some(data.len()) {
            bail!(Runtime, "cannot make a tensor of shape {} from {} elements", fmt_shape(shape), data.len());
        }
        Ok(Tensor::from_vec(data, shape))
    }

    pub fn scalar_tensor(value: Scalar, dtype: DType) -> Tensor {
        with_dtype!(dtype, T => Tensor::from_vec(vec![scalar_as::<T>(value)], &[]))
    }

    /// A new contiguous buffer for `shape`: checked size arithmetic, fallible allocation.
    pub fn try_alloc<T: Element>(shape: &[usize], value: T) -> Result<Tensor> {
        let n = crate::shape::storage_numel(shape, std::mem::size_of::<T>())?;
        // With no zero dim every stride is at most `n`, which fits: only a shape with a zero
        // (whose other dims may be huge) needs the checked strides.
        let layout = if n != 0 { Layout::contiguous(shape) } else { Layout::checked_contiguous(shape)? };
        let data = crate::storage::try_vec_filled(n, value)?;
        Ok(Tensor::from_parts_unchecked(Arc::new(Storage::from_vec(data)), layout))
    }

    /// A zeroed host buffer for a new tensor of `shape` (checked size, fallible allocation).
    pub fn buffer_for<T: Element>(shape: &[usize]) -> Result<Vec<T>> {
        let n = crate::shape::storage_numel(shape, std::mem::size_of::<T>())?;
        crate::storage::try_vec_filled(n, T::default())
    }

    pub fn full(shape: &[usize], value: Scalar, dtype: DType) -> Result<Tensor> {
        with_dtype!(dtype, T => Tensor::try_alloc::<T>(shape, scalar_as::<T>(value)))
    }

    /// `full` on `device`.
    pub fn full_on(shape: &[usize], value: Scalar, dtype: DType, device: Device) -> Result<Tensor> {
        match device {
            Device::Cpu => Tensor::full(shape, value, dtype),
            Device::Wgpu => {
                crate::gpu::map(&[crate::gpu::Input::Scalar { value, dtype }], "a", dtype, shape, dtype)
            }
        }
    }

    /// Zeros of `shape` with this tensor's dtype and device.
    pub fn zeros_like_shape(&self, shape: &[usize]) -> Result<Tensor> {
        Tensor::full_on(shape, Scalar::Int(0), self.dtype(), self.device())
    }

    /// A copy of `self` on `device` (no autograd); `self` when it is already there.
    pub fn to_device_kernel(&self, device: Device) -> Result<Tensor> {
        match (self.device(), device) {
            (a, b) if a == b => Ok(self.clone()),
            (Device::Cpu, Device::Wgpu) => crate::gpu::upload(self),
            _ => crate::gpu::download(self),
        }
    }

    /// This tensor's values on the CPU (a copy for a device tensor, `self` otherwise).
    pub fn to_cpu(&self) -> Result<Tensor> {
        self.to_device_kernel(Device::Cpu)
    }

    #[inline]
    pub fn is_gpu(&self) -> bool {
        self.device() == Device::Wgpu
    }

    pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Tensor::full(shape, Scalar::Int(0), dtype)
    }

    pub fn ones(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Tensor::full(shape, Scalar::Int(1), dtype)
    }

    // ---- accessors -------------------------------------------------------------------------

    #[inline]
    pub fn storage(&self) -> &Arc<Storage> {
        &self.0.storage
    }

    #[inline]
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }

    #[inline]
    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }

    pub fn dims(&self) -> Dims {
        self.0.layout.shape.clone()
    }

    pub fn strides(&self) -> &[usize] {
        &self.0.layout.strides
    }

    #[inline]
    pub fn dtype(&self) -> DType {
        self.0.storage.dtype()
    }

    #[inline]
    pub fn device(&self) -> Device {
        self.0.storage.device()
    }

    #[inline]
    pub fn ndim(&self) -> usize {
        self.0.layout.ndim()
    }

    #[inline]
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }

    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }

    #[inline]
    pub fn version(&self) -> u64 {
        self.0.storage.version()
    }

    /// Identity of the tensor object (not its storage).
    pub fn same(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub fn impl_ptr(&self) -> *const TensorImpl {
        Arc::as_ptr(&self.0)
    }

    /// The binding's slot for this tensor (see `TensorImpl::binding`).
    #[inline]
    pub fn binding_slot(&self) -> &AtomicPtr<()> {
        &self.0.binding
    }

    /// Whether this handle is the only strong reference to the tensor object.
    pub fn is_sole_handle(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }

    /// A handle that does not keep the tensor alive.
    pub fn downgrade(&self) -> WeakTensor {
        WeakTensor(Arc::downgrade(&self.0))
    }

    /// Calls `f` with each foreign object (hook, custom backward) reachable from this tensor
    /// through autograd state that nothing else shares: its own hooks when this handle is the
    /// only one, and its grad_fn's when the tensor is the node's only owner. A garbage
    /// collector visits exactly what would be freed with the tensor (as PyTorch's
    /// `THPVariable_subclass_traverse` checks `use_count() == 1`). Locks held elsewhere make it
    /// skip (conservative: unvisited objects just look alive).
    pub fn visit_owned_external(&self, f: &mut dyn FnMut(&dyn Any)) {
        if !self.is_sole_handle() {
            return;
        }
        let Some(m) = self.0.meta.try_lock() else { return };
        for (_, hook) in &m.hooks {
            if let Some(a) = hook.as_any() {
                f(a);
            }
        }
        if let Some(node) = &m.grad_fn {
            if Arc::strong_count(node) == 1 {
                node.visit_external(f);
            }
        }
    }

    /// Whether nothing but this handle refers to the tensor or its storage.
    pub(crate) fn is_unique(&self) -> bool {
        Arc::strong_count(&self.0) == 1 && Arc::strong_count(&self.0.storage) == 1
    }

    /// Typed view of the whole storage (check `dtype()` first).
    pub fn storage_slice<T: Element>(&self) -> &[T] {
        self.0.storage.as_slice::<T>()
    }

    /// The elements in row-major order, converted to `T`.
    /// [`Tensor::to_vec`] that reports a failed device readback instead of panicking.
    pub fn try_to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if self.is_gpu() {
            return self.to_cpu()?.try_to_vec::<T>();
        }
        with_dtype!(self.dtype(), S => crate::cpu::copy::gather::<S, T>(self.storage_slice::<S>(), self.layout()))
    }

    /// [`Tensor::try_to_vec`] for internal callers without an error path (small tensors a
    /// kernel made itself); a failed readback or allocation panics.
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        self.try_to_vec::<T>().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The single element of a one-element tensor, with PyTorch's error otherwise.
    pub fn item(&self) -> Result<Scalar> {
        if self.numel() != 1 {
            bail!(Runtime, "a Tensor with {} elements cannot be converted to Scalar", self.numel());
        }
        if self.is_gpu() {
            return self.to_cpu()?.item();
        }
        let off = self.layout().offset;
        Ok(with_dtype!(self.dtype(), T => {
            let v = self.storage_slice::<T>()[off];
            match T::DTYPE {
                DType::Bool => Scalar::Bool(v.is_nonzero()),
                d if d.is_float() => Scalar::Float(v.to_f64()),
                _ => Scalar::Int(v.to_i64()),
            }
        }))
    }

    // ---- autograd metadata -----------------------------------------------------------------

    #[inline]
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    #[inline]
    pub fn meta(&self) -> parking_lot::MutexGuard<'_, AutogradMeta> {
        self.0.meta.lock()
    }

    pub fn grad_fn(&self) -> Option<Arc<Node>> {
        self.meta().grad_fn.clone()
    }

    pub fn is_leaf(&self) -> bool {
        self.meta().grad_fn.is_none()
    }

    pub fn grad(&self) -> Option<Tensor> {
        self.meta().grad.clone()
    }

    /// `tensor.requires_grad_(flag)` / `tensor.requires_grad = flag`.
    pub fn set_requires_grad(&self, flag: bool) -> Result<()> {
        if !self.is_leaf() {
            if flag {
                return Ok(());
            }
            bail!(
                Runtime,
                "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
            );
        }
        if flag && !self.dtype().is_float() {
            bail!(Runtime, "only Tensors of floating point dtype can require gradients");
        }
        self.0.requires_grad.store(flag, Ordering::Relaxed);
        Ok(())
    }

    /// `tensor.grad = value` with PyTorch's checks.
    pub fn set_grad(&self, grad: Option<Tensor>) -> Result<()> {
        if let Some(g) = &grad {
            if g.shape() != self.shape() {
                bail!(
                    Runtime,
                    "attempting to assign a gradient of size '{}' to a tensor of size '{}'. Please ensure that the gradient and the tensor are the same size",
                    fmt_shape(g.shape()),
                    fmt_shape(self.shape())
                );
            }
            if g.dtype() != self.dtype() {
                bail!(
                    Runtime,
                    "attempting to assign a gradient with dtype '{}' to a tensor with dtype '{}'. Please ensure that the gradient and the tensor have the same dtype",
                    g.dtype(),
                    self.dtype()
                );
            }
        }
        self.meta().grad = grad;
        Ok(())
    }

    pub(crate) fn set_grad_fn(&self, node: Arc<Node>, output_nr: usize) {
        let mut m = self.meta();
        m.grad_fn = Some(node);
        m.output_nr = output_nr;
        self.0.requires_grad.store(true, Ordering::Relaxed);
    }

    /// After an in-place op, `self` takes output `output_nr` of `node` as its history. A
    /// retained gradient follows the new version (the old node no longer writes `.grad`), as
    /// in PyTorch.
    pub(crate) fn take_inplace_history(&self, node: Arc<Node>, output_nr: usize) {
        let old = {
            let m = self.meta();
            if m.retains_grad {
                m.grad_fn.clone().map(|n| (n, m.output_nr))
            } else {
                None
            }
        };
        if let Some((old_node, old_nr)) = old {
            let me = Arc::as_ptr(&self.0);
            if let Some(h) = old_node.hooks.lock().as_mut() {
                h.retained.retain(|(nr, w)| !(*nr == old_nr && w.as_ptr() == me));
            }
            Node::hooks_mut(&mut node.hooks.lock()).retained.push((output_nr, Arc::downgrade(&self.0)));
        }
        self.set_grad_fn(node, output_nr);
        let version = self.version();
        let mut m = self.meta();
        m.inplace_history = true;
        m.view_version = version;
    }

    /// A view whose base was modified in place after the view took its history: the history
    /// is rebuilt as "these positions of the base's current value" (PyTorch regenerates it as
    /// AsStridedBackward), so gradients see the in-place op. `Edge::of` calls it when the
    /// storage version moved past the one the view's history was taken at.
    pub fn refresh_view_history(&self) {
        let base = {
            let m = self.meta();
            match &m.view_base {
                Some(b) if m.view_version != self.version() => b.clone(),
                _ => return,
            }
        };
        let version = self.version();
        let _mode = crate::grad_mode::GradModeGuard::new(true);
        // On failure (only allocation can fail here) the old history stays.
        if let Ok(Some(t)) = self.regather_from(&base) {
            if let Some(node) = t.grad_fn() {
                self.set_grad_fn(node, t.meta().output_nr);
            }
        }
        self.meta().view_version = version;
    }

    /// `self`'s elements read out of `base` (a contiguous tensor it views) by a recorded
    /// gather, so the result's history goes through `base`'s; `None` for other bases.
    pub(crate) fn regather_from(&self, base: &Tensor) -> Result<Option<Tensor>> {
        if !(base.is_contiguous() && base.layout().offset == 0) {
            return Ok(None);
        }
        let positions: Vec<i64> =
            crate::cpu::index::offsets(self.layout())?.into_iter().map(|o| o as i64).collect();
        let n = positions.len();
        let positions = Tensor::from_vec(positions, &[n]).to_device_kernel(self.device())?;
        let shape: Vec<i64> = self.shape().iter().map(|&s| s as i64).collect();
        Ok(Some(base.reshape(&[-1])?.index(&[Some(positions)])?.reshape(&shape)?))
    }

    /// `retain_grad()`: keep the gradient of a non-leaf in `.grad` during backward.
    pub fn retain_grad(&self) -> Result<()> {
        if !self.requires_grad() {
            bail!(Runtime, "can't retain_grad on Tensor that has requires_grad=False");
        }
        let mut m = self.meta();
        if m.retains_grad {
            return Ok(());
        }
        if let Some(node) = m.grad_fn.clone() {
            m.retains_grad = true;
            Node::hooks_mut(&mut node.hooks.lock()).retained.push((m.output_nr, Arc::downgrade(&self.0)));
        }
        Ok(())
    }

    pub fn retains_grad(&self) -> bool {
        self.meta().retains_grad
    }

    /// Registers a gradient hook; returns its id for [`Tensor::remove_hook`].
    pub fn register_hook(&self, hook: GradHook) -> Result<u64> {
        if !self.requires_grad() {
            bail!(Runtime, "cannot register a hook on a tensor that doesn't require gradient");
        }
        let id = NEXT_HOOK.fetch_add(1, Ordering::Relaxed);
        let mut m = self.meta();
        match m.grad_fn.clone() {
            Some(node) => Node::hooks_mut(&mut node.hooks.lock()).pre.push((m.output_nr, id, hook)),
            None => m.hooks.push((id, hook)),
        }
        Ok(id)
    }

    /// Removes a hook registered on this tensor (a no-op if it is gone already).
    pub fn remove_hook(&self, id: u64) {
        let mut m = self.meta();
        m.hooks.retain(|(i, _)| *i != id);
        if let Some(node) = &m.grad_fn {
            if let Some(h) = node.hooks.lock().as_mut() {
                h.pre.retain(|(_, i, _)| *i != id);
            }
        }
    }

    /// A new tensor sharing storage and layout, with no history.
    pub fn detach(&self) -> Tensor {
        Tensor::from_parts_unchecked(self.0.storage.clone(), self.0.layout.clone())
    }

    /// `.data`: the same memory and layout with no history and a version counter of its own,
    /// so in-place writes through it are invisible to autograd (as in PyTorch).
    pub fn data_alias(&self) -> Tensor {
        Tensor::from_parts_unchecked(Arc::new(self.0.storage.alias()), self.0.layout.clone())
    }

    /// A view with a different layout over the same storage, no history yet; refused when the
    /// layout reaches outside the storage.
    pub(crate) fn with_layout(&self, layout: Layout) -> Result<Tensor> {
        check_fits(&self.0.storage, &layout)?;
        // A view is an inference tensor exactly when its base is (PyTorch's rule).
        Ok(Tensor::from_parts_inference(self.0.storage.clone(), layout, self.0.inference))
    }

    /// Describes the tensor as PyTorch does in autograd messages: `[torch.FloatTensor [3]]`.
    pub fn type_description(&self) -> String {
        format!("[torch.{} {}]", self.dtype().legacy_name(), fmt_shape(self.shape()))
    }
}

/// Refuses a layout that reaches outside its storage, with PyTorch's message (as_strided's, in
/// bytes; saturating, as the reach itself may not fit).
fn check_fits(storage: &Storage, layout: &Layout) -> Result<()> {
    if !layout.fits(storage.len()) {
        // PyTorch's message (as_strided), in bytes; saturating, the reach may not fit.
        let item = storage.dtype().itemsize();
        let reach = layout
            .shape
            .iter()
            .zip(&layout.strides)
            .fold(layout.offset.saturating_add(1), |acc, (&d, &s)| {
                acc.saturating_add(d.saturating_sub(1).saturating_mul(s))
            });
        bail!(
            Runtime,
            "setStorage: sizes {}, strides {}, storage offset {}, and itemsize {} requiring a storage size of {} are out of bounds for storage of size {}",
            fmt_shape(&layout.shape),
            fmt_shape(&layout.strides),
            layout.offset,
            item,
            reach.saturating_mul(item),
            storage.len().saturating_mul(item)
        );
    }
    Ok(())
}

/// Converts a Python-level number to an element type.
pub fn scalar_as<T: Element>(s: Scalar) -> T {
    match s {
        Scalar::Bool(b) => T::from_bool(b),
        Scalar::Int(i) => T::from_i64(i),
        Scalar::Float(f) => T::from_f64(f),
    }
}
