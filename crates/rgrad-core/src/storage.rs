//! Reference-counted buffers that views share. A storage owns its memory (a `Vec`) or keeps
//! an external owner alive (a NumPy array handed over without a copy).

use crate::dtype::DType;
use crate::error::{Error, Result};
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
numeric_element!(i16, I16);
numeric_element!(i8, I8);
numeric_element!(u8, U8);

// float16/bfloat16 convert through float32 as PyTorch's c10::Half/BFloat16 do: a double is
// narrowed to float first (round to nearest even), then to the 16-bit type.
macro_rules! half_element {
    ($t:ty, $dt:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dt;
            #[inline]
            fn to_f64(self) -> f64 {
                self.to_f32() as f64
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                <$t>::from_f32(v as f32)
            }
            #[inline]
            fn to_i64(self) -> i64 {
                self.to_f32() as i64
            }
            #[inline]
            fn from_i64(v: i64) -> Self {
                <$t>::from_f32(v as f32)
            }
            #[inline]
            fn from_bool(v: bool) -> Self {
                <$t>::from_f32(v as u8 as f32)
            }
            #[inline]
            fn is_nonzero(self) -> bool {
                self.to_f32() != 0.0
            }
            fn into_owner(v: Vec<Self>) -> Owner {
                Owner::$dt(v)
            }
        }
    };
}
half_element!(half::f16, F16);
half_element!(half::bf16, BF16);

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
            $crate::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::DType::F16 => {
                type $T = $crate::f16;
                $body
            }
            $crate::DType::BF16 => {
                type $T = $crate::bf16;
                $body
            }
            $crate::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

/// `with_dtype!` for the numeric dtypes; a bool `$dtype` evaluates `$on_bool` instead (the
/// op's own "not implemented for 'Bool'" error, typically a `return Err(..)`).
#[macro_export]
macro_rules! with_numeric_dtype {
    ($dtype:expr, $T:ident => $body:expr, bool => $on_bool:expr) => {
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
            $crate::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            // Reduced floats compute in float32 (ops::opmath) before reaching a kernel.
            $crate::DType::F16 | $crate::DType::BF16 => {
                return Err($crate::ops::opmath::not_implemented($dtype))
            }
            $crate::DType::Bool => $on_bool,
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
    I16(Vec<i16>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    F16(Vec<half::f16>),
    BF16(Vec<half::bf16>),
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

// ---- fallible host allocation ------------------------------------------------------------
// Every buffer whose size comes from a user (factories, expanded copies, kernel outputs) is
// allocated here, so running out of memory is PyTorch's RuntimeError instead of an abort.

/// PyTorch's error for a host allocation of `bytes` that failed.
pub fn alloc_error(bytes: usize) -> Error {
    Error::Runtime(format!(
        "DefaultCPUAllocator: can't allocate memory: you tried to allocate {bytes} bytes. Error code 12 (Cannot allocate memory)"
    ))
}

/// The bytes of `n` elements. Kernels size their outputs by element count (shapes were checked
/// to fit in an i64); the byte size can still overflow, which PyTorch reports as a size error.
fn byte_size<T>(n: usize) -> Result<usize> {
    match n.checked_mul(std::mem::size_of::<T>()) {
        Some(b) if b <= isize::MAX as usize => Ok(b),
        _ => Err(Error::Runtime(format!("Storage size calculation overflowed with sizes=[{n}]"))),
    }
}

fn array_layout<T>(n: usize) -> Result<std::alloc::Layout> {
    let bytes = byte_size::<T>(n)?;
    if bytes > allocation_limit() {
        return Err(alloc_error(bytes));
    }
    std::alloc::Layout::array::<T>(n).map_err(|_| alloc_error(bytes))
}

/// The largest host buffer worth asking for: the machine's RAM plus swap. mimalloc reserves
/// big blocks without committing them (MAP_NORESERVE), so a 16 TiB tensor would "succeed" and
/// the process be killed when its pages are touched; glibc's malloc under the kernel's default
/// overcommit heuristic refuses any single allocation past this size, which is where PyTorch
/// raises its out-of-memory error. (A memory limit set with `ulimit -v` still fails earlier,
/// in the allocator.)
fn allocation_limit() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: sysinfo only writes the struct it is given.
            let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
            if unsafe { libc::sysinfo(&mut info) } == 0 {
                let unit = (info.mem_unit as usize).max(1);
                let total = (info.totalram as usize).saturating_add(info.totalswap as usize);
                return total.saturating_mul(unit).max(1 << 30);
            }
        }
        usize::MAX
    })
}

/// An empty vector with room for exactly `n` elements.
pub fn try_vec_with_capacity<T>(n: usize) -> Result<Vec<T>> {
    let layout = array_layout::<T>(n)?;
    if layout.size() == 0 {
        return Ok(Vec::new());
    }
    // One call into the allocator (`try_reserve_exact` goes through RawVec's general growth
    // path: ~40 instructions per small tensor, on every op).
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc(layout) } as *mut T;
    if ptr.is_null() {
        return Err(alloc_error(layout.size()));
    }
    // SAFETY: `ptr` comes from the global allocator with the layout of `[T; n]`, as a Vec of
    // capacity `n` holds, and no element is initialized (length 0).
    Ok(unsafe { Vec::from_raw_parts(ptr, 0, n) })
}

/// `n` copies of `value`. All-zero values come from zeroed pages (calloc), which the OS
/// provides lazily, as `vec![0; n]` does.
pub fn try_vec_filled<T: Element>(n: usize, value: T) -> Result<Vec<T>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: `T` is a plain number or bool; reading its bytes is fine.
    let bytes =
        unsafe { std::slice::from_raw_parts(&value as *const T as *const u8, std::mem::size_of::<T>()) };
    if bytes.iter().all(|&b| b == 0) {
        let layout = array_layout::<T>(n)?;
        // SAFETY: `layout` has a nonzero size (n > 0, T is not zero-sized); all-zero bytes
        // are a valid `T` (0, 0.0 or false); the Vec frees with the same layout.
        unsafe {
            let ptr = std::alloc::alloc_zeroed(layout) as *mut T;
            if ptr.is_null() {
                return Err(alloc_error(layout.size()));
            }
            return Ok(Vec::from_raw_parts(ptr, n, n));
        }
    }
    let mut v = try_vec_with_capacity::<T>(n)?;
    fill_uninit(&mut v.spare_capacity_mut()[..n], value);
    // SAFETY: the first `n` elements were written.
    unsafe { v.set_len(n) };
    Ok(v)
}

/// Above this many bytes a fill is split over the thread pool and, on Linux, asks for
/// transparent huge pages: such a fill costs mostly first-touch page faults (2 GiB is 524,288
/// faults of 4 KiB, each page zeroed by the kernel), which 2 MiB pages cut 512-fold.
const BIG_FILL: usize = 64 << 20;

fn fill_uninit<T: Element>(out: &mut [std::mem::MaybeUninit<T>], value: T) {
    let bytes = std::mem::size_of_val(out);
    if bytes < BIG_FILL {
        for o in out {
            o.write(value);
        }
        return;
    }
    #[cfg(target_os = "linux")]
    advise_huge_pages(out.as_mut_ptr() as usize, bytes);
    use rayon::prelude::*;
    out.par_chunks_mut((1 << 21) / std::mem::size_of::<T>()).for_each(|c| {
        for o in c {
            o.write(value);
        }
    });
}

/// Asks the kernel for huge pages over the whole 2 MiB pages of `[addr, addr + len)` (a hint:
/// where it is refused, normal pages are used).
#[cfg(target_os = "linux")]
fn advise_huge_pages(addr: usize, len: usize) {
    const HUGE: usize = 2 << 20;
    let start = addr.next_multiple_of(HUGE);
    let end = (addr + len) / HUGE * HUGE;
    if end > start {
        // SAFETY: the range lies inside one live allocation; MADV_HUGEPAGE changes no contents.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

/// `n` clones of `value`, for element types that are not plain numbers (accumulators).
pub fn try_vec_repeat<T: Clone>(n: usize, value: T) -> Result<Vec<T>> {
    let mut v = try_vec_with_capacity(n)?;
    v.resize(n, value);
    Ok(v)
}

/// The `n` items of `items` in a buffer allocated fallibly up front.
pub fn try_collect<T>(n: usize, items: impl Iterator<Item = T>) -> Result<Vec<T>> {
    let mut v = try_vec_with_capacity(n)?;
    v.extend(items.take(n));
    Ok(v)
}

/// A copy of `src` in a fallibly allocated buffer.
pub fn try_to_owned<T: Clone>(src: &[T]) -> Result<Vec<T>> {
    let mut v = try_vec_with_capacity(src.len())?;
    v.extend_from_slice(src);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_failures_are_errors() {
        let e = try_vec_with_capacity::<f32>(1 << 60).unwrap_err();
        assert!(e.to_string().starts_with("DefaultCPUAllocator: can't allocate memory"), "{e}");
        let e = try_vec_with_capacity::<f32>(1 << 62).unwrap_err();
        assert_eq!(e.to_string(), "Storage size calculation overflowed with sizes=[4611686018427387904]");
        assert!(try_vec_filled::<f64>(usize::MAX / 4, 0.0).is_err());
        assert!(try_vec_filled::<f64>(usize::MAX / 4, 1.5).is_err());
        assert_eq!(try_vec_filled::<f32>(3, 0.0).unwrap(), vec![0.0; 3]);
        assert_eq!(try_vec_filled::<f32>(2, -0.0).unwrap()[1].to_bits(), (-0.0f32).to_bits());
        assert_eq!(try_vec_filled::<i64>(2, 7).unwrap(), vec![7, 7]);
        // The parallel, huge-page path (past BIG_FILL), with a tail shorter than a chunk.
        let big = try_vec_filled::<i32>(BIG_FILL / 4 + 3, -7).unwrap();
        assert_eq!(big.len(), BIG_FILL / 4 + 3);
        assert!(big.iter().all(|&v| v == -7));
        assert_eq!(try_collect(3, 0..10).unwrap(), vec![0, 1, 2]);
    }
}
