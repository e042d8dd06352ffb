//! Reference-counted buffers that views share. A storage owns its memory (a `Vec`) or keeps
//! an external owner alive (a NumPy array handed over without a copy).

use crate::dtype::DType;
use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    /// The wgpu adapter (index 0; one device per process).
    Wgpu,
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Wgpu => f.write_str("wgpu:0"),
        }
    }
}

/// A type that can live in a storage.
pub trait Element: Copy + Send + Sync + Default + PartialEq + PartialOrd + fmt::Debug + 'static {
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn to_i64(self) -> i64;
    fn from_i64(v: i64) -> Self;
    fn from_bool(v: bool) -> Self;
    fn is_nonzero(self) -> bool;
    #[doc(hidden)]
    fn into_owner(v: Vec<Self>) -> Owner;
}

macro_rules! numeric_element {
    ($t:ty, $dt:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dt;
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            #[inline]
            fn from_bool(v: bool) -> Self {
                v as u8 as $t
            }
            #[inline]
            fn is_nonzero(self) -> bool {
                self != (0 as $t)
            }
            fn into_owner(v: Vec<Self>) -> Owner {
                Owner::$dt(v)
            }
        }
    };
}
numeric_element!(f32, F32);
numeric_element!(f64, F64);
numeric_element!(i64, I64);
numeric_element!(i32, I32);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    #[inline]
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    #[inline]
    fn from_bool(v: bool) -> Self {
        v
    }
    #[inline]
    fn is_nonzero(self) -> bool {
        self
    }
    fn into_owner(v: Vec<Self>) -> Owner {
        Owner::Bool(v)
    }
}

/// Runs `$body` with `$T` bound to the Rust type of `$dtype`.
#[macro_export]
macro_rules! with_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

#[doc(hidden)]
pub enum Owner {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
    External(#[allow(dead_code)] Box<dyn Any + Send + Sync>),
    Gpu(crate::gpu::Buffer),
}

pub struct Storage {
    ptr: *mut u8,
    len: usize,
    dtype: DType,
    device: Device,
    version: AtomicU64,
    _owner: Owner,
}

// SAFETY: the memory is owned by `_owner` (or kept alive by it) for the storage's lifetime.
// Concurrent writes are the caller's responsibility, exactly as with PyTorch tensors shared
// between threads; the core itself never writes while handing out a shared slice.
unsafe impl Send for Storage {}
unsafe impl Sync for Storage {}

impl Storage {
    pub fn from_vec<T: Element>(mut v: Vec<T>) -> Storage {
        let ptr = v.as_mut_ptr() as *mut u8;
        let len = v.len();
        // Moving a Vec does not move its heap buffer, so `ptr` stays valid.
        let owner = T::into_owner(v);
        Storage { ptr, len, dtype: T::DTYPE, device: Device::Cpu, version: AtomicU64::new(0), _owner: owner }
    }

    /// Wraps memory owned elsewhere.
    ///
    /// # Safety
    /// `ptr` must point to `len` initialized, aligned elements of `dtype` that stay valid as
    /// long as `owner` lives.
    pub unsafe fn from_external(
        ptr: *mut u8,
        len: usize,
        dtype: DType,
        owner: Box<dyn Any + Send + Sync>,
    ) -> Storage {
        Storage {
            ptr,
            len,
            dtype,
            device: Device::Cpu,
            version: AtomicU64::new(0),
            _owner: Owner::External(owner),
        }
    }

    /// A device storage of `len` elements in `buffer`.
    pub fn from_gpu(buffer: crate::gpu::Buffer, len: usize, dtype: DType) -> Storage {
        Storage {
            ptr: std::ptr::null_mut(),
            len,
            dtype,
            device: Device::Wgpu,
            version: AtomicU64::new(0),
            _owner: Owner::Gpu(buffer),
        }
    }

    /// The device buffer, for a wgpu storage.
    pub fn gpu_buffer(&self) -> Option<&crate::gpu::Buffer> {
        match &self._owner {
            Owner::Gpu(b) => Some(b),
            _ => None,
        }
    }

    /// Another storage over the same memory with a version counter of its own (`.data`).
    pub fn alias(self: &std::sync::Arc<Self>) -> Storage {
        if let Some(b) = self.gpu_buffer() {
            return Storage::from_gpu(b.clone(), self.len, self.dtype);
        }
        // SAFETY: the new storage keeps the original alive, and with it the memory.
        unsafe { Storage::from_external(self.ptr, self.len, self.dtype, Box::new(self.clone())) }
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn data_ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    /// The elements as a slice.
    ///
    /// # Panics
    /// If `T` is not this storage's element type (a bug in the caller's dispatch).
    pub fn as_slice<T: Element>(&self) -> &[T] {
        assert_eq!(T::DTYPE, self.dtype, "storage dtype dispatch bug");
        assert!(self.device == Device::Cpu, "internal error: a CPU kernel was given a wgpu tensor");
        if self.len == 0 {
            return &[];
        }
        // SAFETY: type checked above; memory valid per the constructor contracts.
        unsafe { std::slice::from_raw_parts(self.ptr as *const T, self.len) }
    }

    /// Mutable access for in-place writes.
    ///
    /// # Safety
    /// No other slice of this storage may be alive while the returned one is used.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_mut_slice<T: Element>(&self) -> &mut [T] {
        assert_eq!(T::DTYPE, self.dtype, "storage dtype dispatch bug");
        assert!(self.device == Device::Cpu, "internal error: a CPU kernel was given a wgpu tensor");
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: the caller guarantees exclusivity.
        unsafe { std::slice::from_raw_parts_mut(self.ptr as *mut T, self.len) }
    }
}
