//! Moving tensors to and from the device, and the elementwise, gather, scatter and scan
//! kernels' launchers.

use super::context::{self, PooledBuffer};
use super::wgsl::{self, elem_bytes, WORKGROUP};
use super::Input;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::{Element, Storage};
use crate::tensor::scalar_as;
use crate::{with_dtype, DType, Tensor};
use std::sync::Arc;

pub use super::attention::{sdpa_backward, sdpa_forward};
pub use super::matmul::matmul;
pub use super::norm::{bn_apply, bn_grad_input, bn_grad_sums, bn_stats};
pub use super::pool::{pool_avg, pool_max};
pub use super::reduce::reduce;

/// A GPU buffer shared by every view of one storage.
#[derive(Clone)]
pub struct Buffer(pub(super) Arc<PooledBuffer>);

impl Buffer {
    pub(super) fn raw(&self) -> &wgpu::Buffer {
        self.0.raw()
    }
}

use super::PoolStats;

/// The buffer pool's counters (zeros before the device is opened).
pub fn pool_stats() -> PoolStats {
    context::context().map(|c| c.stats()).unwrap_or_default()
}

pub fn is_available() -> bool {
    context::available()
}

pub fn adapter_name() -> Result<String> {
    Ok(context::context()?.adapter_name.clone())
}

/// Whether the adapter computes in `dt` (f64 and i64 need optional shader features).
pub fn supports(dt: DType) -> bool {
    match context::context() {
        Ok(c) => match dt {
            DType::F64 => c.supports_f64,
            DType::I64 => c.supports_i64,
            // No device storage for 8/16-bit elements: the dtype the user asked for stays
            // what it is, so these stay on the CPU (a clear error, never a silent float32).
            DType::U8 | DType::I8 | DType::I16 | DType::F16 | DType::BF16 => false,
            _ => true,
        },
        Err(_) => false,
    }
}

pub(super) fn ctx() -> Result<&'static context::Context> {
    context::context()
}

fn check_dtype(dt: DType) -> Result<()> {
    if !supports(dt) {
        return Err(Error::Type(format!("the wgpu adapter does not support {dt} tensors")));
    }
    Ok(())
}

pub(super) fn buffer_of(t: &Tensor) -> Result<&Buffer> {
    t.storage().gpu_buffer().ok_or_else(|| Error::Runtime("expected a wgpu tensor, got a cpu tensor".into()))
}

/// A new contiguous tensor of `shape` on the device, contents undefined.
pub fn empty(shape: &[usize], dtype: DType) -> Result<Tensor> {
    check_dtype(dtype)?;
    let n = crate::shape::storage_numel(shape, elem_bytes(dtype) as usize)?;
    let layout = Layout::checked_contiguous(shape)?;
    let buf = ctx()?.alloc(n as u64 * elem_bytes(dtype))?;
    Tensor::from_parts(Arc::new(Storage::from_gpu(Buffer(Arc::new(buf)), n, dtype)), layout)
}

fn to_bytes<T: Element>(v: &[T]) -> Vec<u8> {
    if T::DTYPE == DType::Bool {
        return v.iter().flat_map(|x| (x.is_nonzero() as u32).to_le_bytes()).collect();
    }
    // SAFETY: plain numeric element types without padding.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }.to_vec()
}

fn from_bytes<T: Element>(b: &[u8]) -> Vec<T> {
    if T::DTYPE == DType::Bool {
        return b
            .chunks_exact(4)
            .map(|w| T::from_bool(u32::from_le_bytes([w[0], w[1], w[2], w[3]]) != 0))
            .collect();
    }
    let n = b.len() / std::mem::size_of::<T>();
    let mut out = Vec::<T>::with_capacity(n);
    // SAFETY: `out` has room for `n` elements; any bit pattern is a valid numeric element.
    unsafe {
        std::ptr::copy_nonoverlapping(b.as_ptr(), out.as_mut_ptr() as *mut u8, n * std::mem::size_of::<T>());
        out.set_len(n);
    }
    out
}

/// Copies a CPU tensor to the device (as a contiguous tensor of the same shape).
pub fn upload(t: &Tensor) -> Result<Tensor> {
    check_dtype(t.dtype())?;
    // Refused before the host copies below are made.
    let c = ctx()?;
    c.check_size((t.numel() as u64).saturating_mul(elem_bytes(t.dtype())))?;
    let bytes = with_dtype!(t.dtype(), T => to_bytes::<T>(&t.try_to_vec::<T>()?));
    let buf = c.upload(&bytes)?;
    let storage = Storage::from_gpu(Buffer(Arc::new(buf)), t.numel(), t.dtype());
    Tensor::from_parts(Arc::new(storage), Layout::contiguous(t.shape()))
}

/// Copies a device tensor to a new contiguous CPU tensor (waits for pending work).
pub fn download(t: &Tensor) -> Result<Tensor> {
    let t = if t.is_contiguous() { t.clone() } else { contiguous(t)? };
    let eb = elem_bytes(t.dtype());
    let bytes = ctx()?.read(buffer_of(&t)?.raw(), t.layout().offset as u64 * eb, t.numel() as u64 * eb)?;
    Ok(with_dtype!(t.dtype(), T => Tensor::from_vec(from_bytes::<T>(&bytes), t.shape())))
}

/// Waits until every recorded kernel has run.
pub fn synchronize() -> Result<()> {
    ctx()?.wait_idle()
}

/// Releases the buffers the pool keeps for reuse (tensors still alive keep theirs).
pub fn empty_cache() {
    if let Ok(c) = ctx() {
        c.empty_cache();
    }
}

pub(super) fn contiguous(t: &Tensor) -> Result<Tensor> {
    map(&[Input::of(t, t.dtype())], "a", t.dtype(), t.shape(), t.dtype())
}

/// `x` itself when it is contiguous at offset 0 (what the kernels index), else a copy.
pub(super) fn plain(x: &Tensor) -> Result<Tensor> {
    if x.is_contiguous() && x.layout().offset == 0 {
        Ok(x.clone())
    } else {
        contiguous(x)
    }
}

/// Workgroup counts covering `n` invocations (2-D beyond the 65535 limit per dimension).
pub(super) fn groups(n: usize, per_group: u32) -> (u32, u32) {
    let total = (n as u64).div_ceil(per_group as u64).max(1);
    let x = total.min(65535);
    (x as u32, total.div_ceil(x) as u32)
}

/// Drops size-1 dims and merges dims that every layout walks contiguously.
fn coalesce(shape: &[usize], layouts: &mut [(usize, Vec<usize>)]) -> Vec<usize> {
    let mut out_shape: Vec<usize> = Vec::new();
    let mut strides: Vec<Vec<usize>> = vec![Vec::new(); layouts.len()];
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        let mergeable = !out_shape.is_empty()
            && layouts.iter().enumerate().all(|(k, (_, s))| strides[k].last() == Some(&(s[d] * shape[d])));
        if mergeable {
            *out_shape.last_mut().unwrap() *= shape[d];
            for (k, (_, s)) in layouts.iter().enumerate() {
                *strides[k].last_mut().unwrap() = s[d];
            }
        } else {
            out_shape.push(shape[d]);
            for (k, (_, s)) in layouts.iter().enumerate() {
                strides[k].push(s[d]);
            }
        }
    }
    for (k, l) in layouts.iter_mut().enumerate() {
        l.1 = std::mem::take(&mut strides[k]);
    }
    out_shape
}

/// The parameter words `[n, nd, shape.., (offset, strides..) per tensor]`; true when every
/// tensor is walked contiguously.
fn strided_params(n: usize, shape: &[usize], mut layouts: Vec<(usize, Vec<usize>)>) -> (Vec<u32>, bool) {
    let shape = coalesce(shape, &mut layouts);
    let contiguous = shape.len() <= 1 && layouts.iter().all(|(_, s)| s.first().is_none_or(|&x| x == 1));
    let mut w = vec![n as u32, shape.len() as u32];
    w.extend(shape.iter().map(|&x| x as u32));
    for (off, strides) in layouts {
        w.push(off as u32);
        w.extend(strides.iter().map(|&x| x as u32));
    }
    (w, contiguous)
}

type ScalarCache = rustc_hash::FxHashMap<(DType, u64), Tensor>;

/// Device copies of the Python numbers ops have used, so `x * 0.5` in a loop uploads nothing.
static SCALARS: parking_lot::Mutex<Option<ScalarCache>> = parking_lot::Mutex::new(None);

/// A one-element device tensor holding `value` (operands that are Python numbers).
pub(super) fn scalar_tensor(value: crate::Scalar, dtype: DType) -> Result<Tensor> {
    let bits = with_dtype!(dtype, T => scalar_as::<T>(value).to_f64().to_bits());
    let key = (dtype, if dtype == DType::I64 { scalar_as::<i64>(value) as u64 } else { bits });
    if let Some(t) = SCALARS.lock().as_ref().and_then(|m| m.get(&key)) {
        return Ok(t.clone());
    }
    let t = upload(&with_dtype!(dtype, T => Tensor::from_vec(vec![scalar_as::<T>(value)], &[])))?;
    let mut cache = SCALARS.lock();
    let map = cache.get_or_insert_with(Default::default);
    if map.len() >= 4096 {
        map.clear(); // values that change every step (a schedule's lr) must not grow it forever
    }
    map.insert(key, t.clone());
    Ok(t)
}

/// Whether two device tensors use the same buffer (views, and `.data` aliases, do).
fn same_buffer(a: &Tensor, b: &Tensor) -> bool {
    match (a.storage().gpu_buffer(), b.storage().gpu_buffer()) {
        (Some(x), Some(y)) => Arc::ptr_eq(&x.0, &y.0),
        _ => false,
    }
}

fn launch_map(dst: &Tensor, inputs: &[Input], expr: &str, expr_dtype: DType) -> Result<()> {
    let shape = dst.shape().to_vec();
    let n = dst.numel();
    if n == 0 {
        return Ok(());
    }
    let mut owned = Vec::new();
    let mut specs = Vec::new();
    let mut layouts = vec![(dst.layout().offset, dst.strides().to_vec())];
    for inp in inputs {
        match inp {
            // wgpu cannot bind one buffer both for reading and for writing in a dispatch: an
            // input that shares the output's memory (`x.add_(x)`) is copied first.
            Input::Tensor { t, layout, as_dtype } if same_buffer(t, dst) => {
                check_dtype(*as_dtype)?;
                let copy = contiguous(&t.with_layout_pub(layout.clone())?)?;
                specs.push((copy.dtype(), *as_dtype));
                layouts.push((0, crate::layout::Layout::contiguous(&shape).strides.to_vec()));
                owned.push(copy);
            }
            Input::Tensor { t, layout, as_dtype } => {
                if t.device() != crate::Device::Wgpu {
                    return Err(Error::Runtime(format!(
                        "Expected all tensors to be on the same device, but found at least two devices, wgpu:0 and {}!",
                        t.device()
                    )));
                }
                check_dtype(*as_dtype)?;
                specs.push((t.dtype(), *as_dtype));
                layouts.push((layout.offset, layout.strides.to_vec()));
                owned.push((*t).clone());
            }
            Input::Scalar { value, dtype } => {
                check_dtype(*dtype)?;
                specs.push((*dtype, *dtype));
                layouts.push((0, vec![0; shape.len()]));
                owned.push(scalar_tensor(*value, *dtype)?);
            }
        }
    }
    check_dtype(expr_dtype)?;
    let (words, contiguous) = strided_params(n, &shape, layouts);
    let c = ctx()?;
    let out = dst.dtype();
    // Contiguous operands aligned to 4 elements go through the vec4 form; `words` holds every
    // tensor's offset, so checking them all covers the output and each input.
    let vec4 = contiguous && n % 4 == 0 && {
        let nd = words[1] as usize;
        (0..=specs.len()).all(|k| words[2 + nd + k * (nd + 1)] % 4 == 0)
    };
    let key = format!("map|{specs:?}|{expr}|{expr_dtype:?}|{out:?}|{contiguous}|{vec4}");
    let kernel = c.kernel(&key, || {
        if vec4 {
            wgsl::map_vec4_kernel(&specs, expr, expr_dtype, out)
        } else {
            wgsl::map_kernel(&specs, expr, expr_dtype, out, contiguous)
        }
    })?;
    let groups_n = if vec4 { n / 4 } else { n };
    let mut bufs: Vec<&wgpu::Buffer> = Vec::with_capacity(owned.len() + 1);
    for t in &owned {
        bufs.push(buffer_of(t)?.raw());
    }
    bufs.push(buffer_of(dst)?.raw());
    c.dispatch(&kernel, &bufs, &words, groups(groups_n, WORKGROUP))
}

/// A new contiguous tensor `expr(a, b, ...)` of `shape` and dtype `out`.
pub fn map(inputs: &[Input], expr: &str, expr_dtype: DType, shape: &[usize], out: DType) -> Result<Tensor> {
    let dst = empty(shape, out)?;
    launch_map(&dst, inputs, expr, expr_dtype)?;
    Ok(dst)
}

/// Writes `expr(a, b, ...)` into the (possibly strided) view `dst`, in place.
pub fn map_into(dst: &Tensor, inputs: &[Input], expr: &str, expr_dtype: DType) -> Result<()> {
    launch_map(dst, inputs, expr, expr_dtype)
}

fn offsets_buffer(offsets: &[i64], limit: usize) -> Result<PooledBuffer> {
    let mut words = Vec::with_capacity(offsets.len());
    for &o in offsets {
        if o >= limit as i64 {
            return Err(Error::Runtime(format!("internal: gather offset {o} outside a storage of {limit}")));
        }
        words.extend_from_slice(&(o.max(-1) as i32).to_le_bytes());
    }
    ctx()?.upload(&words)
}

/// `out.flat[i] = src.storage[offsets[i]]` (zero where the offset is negative).
pub fn gather(src: &Tensor, offsets: &[i64], shape: &[usize]) -> Result<Tensor> {
    let out = empty(shape, src.dtype())?;
    if offsets.is_empty() {
        return Ok(out);
    }
    let c = ctx()?;
    let idx = offsets_buffer(offsets, src.storage().len())?;
    let dt = src.dtype();
    let kernel = c.kernel(&format!("gather|{dt:?}"), || wgsl::gather_kernel(dt))?;
    let bufs = [buffer_of(src)?.raw(), idx.raw(), buffer_of(&out)?.raw()];
    c.dispatch(&kernel, &bufs, &[offsets.len() as u32], groups(offsets.len(), WORKGROUP))?;
    Ok(out)
}

/// `dst.storage[offsets[i]] = src.flat[i]` (or `+=`), in order: repeated destinations are
/// split into rounds so accumulation is deterministic and matches the CPU's order.
pub fn scatter(dst: &Tensor, offsets: &[i64], src: &Tensor, accumulate: bool) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let src = map(&[Input::of(src, dst.dtype())], "a", dst.dtype(), src.shape(), dst.dtype())?;
    let mut seen: rustc_hash::FxHashMap<i64, usize> = Default::default();
    let ranks: Vec<usize> = offsets
        .iter()
        .map(|&o| {
            let r = seen.entry(o).or_insert(0);
            *r += 1;
            *r - 1
        })
        .collect();
    let rounds = ranks.iter().copied().max().unwrap_or(0) + 1;
    let (order, src) = if rounds == 1 {
        (offsets.to_vec(), src)
    } else {
        let mut perm: Vec<usize> = (0..offsets.len()).collect();
        perm.sort_by_key(|&i| ranks[i]);
        let offs: Vec<i64> = perm.iter().map(|&i| offsets[i]).collect();
        let src_perm: Vec<i64> = perm.iter().map(|&i| i as i64).collect();
        (offs, gather(&src, &src_perm, &[offsets.len()])?)
    };
    let c = ctx()?;
    let idx = offsets_buffer(&order, dst.storage().len())?;
    let dt = dst.dtype();
    let kernel =
        c.kernel(&format!("scatter|{dt:?}|{accumulate}"), || wgsl::scatter_kernel(dt, accumulate))?;
    let mut start = 0usize;
    let mut counts = vec![0usize; rounds];
    for &r in &ranks {
        counts[r] += 1;
    }
    for n in counts {
        let bufs = [buffer_of(&src)?.raw(), idx.raw(), buffer_of(dst)?.raw()];
        c.dispatch(&kernel, &bufs, &[n as u32, start as u32], groups(n, WORKGROUP))?;
        start += n;
    }
    Ok(())
}

/// Inclusive cumulative sum (or product) along the last dim, as a new contiguous tensor.
pub fn scan_last(x: &Tensor, product: bool) -> Result<Tensor> {
    super::scan::sum_or_prod_last(x, product)
}

/// Runs `body` (see [`wgsl::update_kernel`]) over contiguous same-sized tensors of one float
/// dtype, in place: one dispatch for a whole optimizer step of one parameter.
pub fn update(tensors: &[&Tensor], scalars: &[f64], body: &str) -> Result<()> {
    for (i, a) in tensors.iter().enumerate() {
        if tensors[i + 1..].iter().any(|b| same_buffer(a, b)) {
            return Err(Error::Runtime("optimizer state tensors must not share memory".into()));
        }
    }
    let dt = tensors[0].dtype();
    let n = tensors[0].numel();
    if n == 0 {
        return Ok(());
    }
    let mut words = vec![n as u32];
    words.extend(tensors.iter().map(|t| t.layout().offset as u32));
    let sc = if dt == DType::F32 {
        words.extend(scalars.iter().map(|&x| (x as f32).to_bits()));
        None
    } else {
        let v = with_dtype!(dt, T => Tensor::from_vec(scalars.iter().map(|&x| T::from_f64(x)).collect::<Vec<T>>(), &[scalars.len()]));
        Some(upload(&v)?)
    };
    let c = ctx()?;
    let (k, ns) = (tensors.len(), scalars.len());
    let kernel =
        c.kernel(&format!("update|{dt:?}|{k}|{ns}|{body}"), || wgsl::update_kernel(dt, k, ns, body))?;
    let mut bufs: Vec<&wgpu::Buffer> = Vec::with_capacity(k + 1);
    for t in tensors {
        bufs.push(buffer_of(t)?.raw());
    }
    if let Some(sc) = &sc {
        bufs.push(buffer_of(sc)?.raw());
    }
    c.dispatch(&kernel, &bufs, &words, groups(n, WORKGROUP))
}
