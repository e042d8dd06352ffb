//! The one wgpu device and queue, the buffer pool, the pipeline cache and the open command
//! encoder that kernels record into. Readback is the only place that waits, and it waits with
//! a deadline.

use super::PoolStats;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Dispatches recorded before the open encoder is submitted on its own.
const MAX_PENDING: usize = 128;
/// Bytes of the per-batch buffer that holds every dispatch's parameter block.
const ARENA_BYTES: u64 = 64 << 10;
/// Pooled bytes kept for reuse; beyond this, freed buffers are released.
const POOL_CAP_BYTES: u64 = 1 << 30;
/// Freed buffers kept per size and in all: uploads (labels, indices) come back to the pool
/// every step without being taken from it, so a cap on bytes alone lets the count of small
/// buffers (and the host memory each one costs) grow for the whole of a training run.
const POOL_CAP_PER_SIZE: usize = 16;
const POOL_CAP_BUFFERS: usize = 1024;

fn timeout() -> Duration {
    let secs = std::env::var("RGRAD_WGPU_TIMEOUT").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(120.0);
    Duration::from_secs_f64(secs.max(0.001))
}

pub struct Context {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter_name: String,
    pub supports_f64: bool,
    pub supports_i64: bool,
    /// A CPU-backed adapter (llvmpipe, WARP): kernels walk contiguous runs per invocation,
    /// which its caches favour, instead of interleaving invocations as GPUs prefer.
    pub cpu_adapter: bool,
    pub max_binding: u64,
    pool: Mutex<Pool>,
    pipelines: Mutex<FxHashMap<String, Arc<Kernel>>>,
    param_align: u64,
    encoder: Mutex<Pending>,
    /// The first error wgpu reported outside a scope (raised once, at the next dispatch or
    /// read), or a lost device (raised from then on).
    failure: Arc<Mutex<Option<(String, bool)>>>,
}

#[derive(Default)]
struct Pool {
    free: FxHashMap<u64, Vec<wgpu::Buffer>>,
    bytes: u64,
    buffers: usize,
    stats: PoolStats,
}

/// A compiled kernel and the layout its bind groups use.
pub struct Kernel {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// The batch being recorded: its encoder, and the parameter blocks of its dispatches, which
/// live in one arena buffer written just before the batch is submitted (so the queue orders
/// the write before the batch's commands).
#[derive(Default)]
struct Pending {
    encoder: Option<wgpu::CommandEncoder>,
    dispatches: usize,
    arena: Option<wgpu::Buffer>,
    params: Vec<u8>,
}

static CONTEXT: OnceLock<std::result::Result<Context, String>> = OnceLock::new();

/// The shared context, created on first use.
pub fn context() -> Result<&'static Context> {
    CONTEXT.get_or_init(Context::create).as_ref().map_err(|e| Error::Runtime(e.clone()))
}

/// Whether an adapter can be opened (creates the context if needed).
pub fn available() -> bool {
    context().is_ok()
}

/// Bytes as PyTorch's allocator messages print them: "512 bytes", "1.50 KiB", "2.00 GiB".
pub(super) fn format_size(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..=1023 => format!("{bytes} bytes"),
        1024..=1048575 => format!("{:.2} KiB", b / 1024.0),
        1048576..=1073741823 => format!("{:.2} MiB", b / 1048576.0),
        _ => format!("{:.2} GiB", b / 1073741824.0),
    }
}

fn bucket(bytes: u64) -> u64 {
    // Power-of-two buckets up to 1 MiB, then 1/8 steps, so reuse wastes at most ~12%.
    let b = bytes.max(16);
    if b <= 1 << 20 {
        return b.next_power_of_two();
    }
    let step = b.next_power_of_two() / 8;
    b.div_ceil(step) * step
}

impl Context {
    fn create() -> std::result::Result<Context, String> {
        // Until the device is open: Mesa's drivers look for a Wayland runtime dir meanwhile.
        let _runtime_dir = super::runtime_dir::ensure();
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        if std::env::var_os("WGPU_BACKEND").is_none() {
            desc.backends = wgpu::Backends::PRIMARY;
        }
        let instance = wgpu::Instance::new(desc);
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| format!("wgpu: no GPU adapter is available ({e}); the CPU device still works"))?;
        let info = adapter.get_info();
        let wanted = wgpu::Features::SHADER_F64 | wgpu::Features::SHADER_INT64;
        let features = adapter.features() & wanted;
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("rgrad"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| format!("wgpu: could not open the device '{}': {e}", info.name))?;
        let failure: Arc<Mutex<Option<(String, bool)>>> = Arc::default();
        let f = failure.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let msg = format!("wgpu error (the kernels queued with it did not run): {e}");
            f.lock().get_or_insert((msg, false));
        }));
        let f = failure.clone();
        device.set_device_lost_callback(move |reason, msg| {
            *f.lock() = Some((format!("wgpu device lost ({reason:?}): {msg}"), true));
        });
        Ok(Context {
            adapter_name: info.name,
            supports_f64: features.contains(wgpu::Features::SHADER_F64),
            supports_i64: features.contains(wgpu::Features::SHADER_INT64),
            cpu_adapter: info.device_type == wgpu::DeviceType::Cpu,
            max_binding: limits.max_storage_buffer_binding_size.min(limits.max_buffer_size),
            param_align: (limits.min_storage_buffer_offset_alignment as u64).max(16),
            device,
            queue,
            pool: Mutex::default(),
            pipelines: Mutex::default(),
            encoder: Mutex::default(),
            failure,
        })
    }

    fn check_failure(&self) -> Result<()> {
        let mut failure = self.failure.lock();
        match failure.clone() {
            Some((e, sticky)) => {
                if !sticky {
                    *failure = None;
                }
                Err(Error::Runtime(e))
            }
            None => Ok(()),
        }
    }

    /// PyTorch's CUDA wording ("CUDA out of memory. Tried to allocate 2.00 GiB. ..."), so the
    /// advice found for it (smaller batches, freeing tensors) reads the same.
    fn out_of_memory(&self, bytes: u64, why: &str) -> Error {
        Error::Runtime(format!(
            "wgpu out of memory. Tried to allocate {}. {why} (adapter '{}'; {} held in the buffer pool for reuse).",
            format_size(bytes),
            self.adapter_name,
            format_size(self.pool.lock().bytes),
        ))
    }

    pub fn check_size(&self, bytes: u64) -> Result<()> {
        if bytes > self.max_binding {
            let why = format!(
                "The adapter allows at most {} per buffer (max_storage_buffer_binding_size / max_buffer_size)",
                format_size(self.max_binding)
            );
            return Err(self.out_of_memory(bytes, &why));
        }
        Ok(())
    }

    /// Creates a buffer inside error scopes, so a refused allocation is an error here and
    /// leaves neither an invalid buffer (which would poison the pool) nor a pending device
    /// error behind. On failure the pool's cached buffers are released and the creation is
    /// tried once more, as PyTorch's caching allocator does before it reports out of memory.
    fn create_buffer(&self, desc: &wgpu::BufferDescriptor) -> Result<wgpu::Buffer> {
        let mut last = String::new();
        for attempt in 0..2 {
            if attempt == 1 {
                self.empty_cache();
            }
            let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
            let invalid = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
            let buffer = self.device.create_buffer(desc);
            let invalid = pollster::block_on(invalid.pop());
            let oom = pollster::block_on(oom.pop());
            match oom.or(invalid) {
                None => return Ok(buffer),
                Some(e) => last = e.to_string(),
            }
        }
        Err(self.out_of_memory(desc.size, &format!("The device refused it: {last}")))
    }

    /// Releases every buffer the pool holds for reuse (`rgrad.wgpu.empty_cache()`).
    pub fn empty_cache(&self) {
        let mut pool = self.pool.lock();
        pool.free.clear();
        pool.bytes = 0;
        pool.buffers = 0;
    }

    /// A pooled storage buffer of at least `bytes` bytes (contents undefined).
    pub fn alloc(&'static self, bytes: u64) -> Result<PooledBuffer> {
        self.check_size(bytes)?;
        let size = bucket(bytes);
        let reused = {
            let mut pool = self.pool.lock();
            let b = pool.free.get_mut(&size).and_then(|v| v.pop());
            if b.is_some() {
                pool.bytes -= size;
                pool.buffers -= 1;
                pool.stats.reused += 1;
            }
            b
        };
        let buffer = match reused {
            Some(b) => b,
            None => {
                let b = self.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })?;
                self.pool.lock().stats.created += 1;
                b
            }
        };
        Ok(PooledBuffer { buffer: Some(buffer), size, ctx: self })
    }

    /// A new buffer holding `bytes` (padded to the bucket size so it can be pooled later).
    ///
    /// A fresh buffer, not a pooled one: `Queue::write_buffer` would land before commands
    /// still waiting in the open encoder that read the old contents of a reused buffer.
    pub fn upload(&'static self, bytes: &[u8]) -> Result<PooledBuffer> {
        self.check_size(bytes.len() as u64)?;
        let size = bucket(bytes.len() as u64);
        let buffer = self.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: true,
        })?;
        self.pool.lock().stats.uploads += 1;
        {
            let mut view =
                buffer.slice(..).get_mapped_range_mut().map_err(|e| Error::Runtime(format!("wgpu: {e}")))?;
            view.slice(..bytes.len()).copy_from_slice(bytes);
        }
        buffer.unmap();
        Ok(PooledBuffer { buffer: Some(buffer), size, ctx: self })
    }

    pub fn stats(&self) -> PoolStats {
        let pool = self.pool.lock();
        PoolStats { pooled_bytes: pool.bytes, pooled_buffers: pool.buffers as u64, ..pool.stats }
    }

    fn release(&self, buffer: wgpu::Buffer, size: u64) {
        let mut pool = self.pool.lock();
        if pool.bytes + size > POOL_CAP_BYTES || pool.buffers >= POOL_CAP_BUFFERS {
            return; // dropped: wgpu frees it once pending work is done
        }
        let same_size = pool.free.entry(size).or_default();
        if same_size.len() >= POOL_CAP_PER_SIZE {
            return;
        }
        same_size.push(buffer);
        pool.bytes += size;
        pool.buffers += 1;
    }

    /// The kernel cached under `key`, compiled from `source()` on first use (keys are short,
    /// so the per-op path neither builds nor hashes whole shader sources).
    pub fn kernel(&self, key: &str, source: impl FnOnce() -> String) -> Result<Arc<Kernel>> {
        if let Some(k) = self.pipelines.lock().get(key) {
            return Ok(k.clone());
        }
        let source = source();
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: None,
            source: wgpu::ShaderSource::Wgsl(source.as_str().into()),
        });
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: None,
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Runtime(format!("wgpu: kernel failed to compile: {e}\n{source}")));
        }
        let layout = pipeline.get_bind_group_layout(0);
        let k = Arc::new(Kernel { pipeline, layout });
        self.pipelines.lock().insert(key.to_string(), k.clone());
        Ok(k)
    }

    /// Records one dispatch of `kernel` over `buffers` (bound in order at group 0), with the
    /// parameter block `params` bound after them.
    pub fn dispatch(
        &self,
        kernel: &Kernel,
        buffers: &[&wgpu::Buffer],
        params: &[u32],
        groups: (u32, u32),
    ) -> Result<()> {
        self.dispatch3(kernel, buffers, params, (groups.0, groups.1, 1))
    }

    /// [`Context::dispatch`] with a third workgroup dimension.
    pub fn dispatch3(
        &self,
        kernel: &Kernel,
        buffers: &[&wgpu::Buffer],
        params: &[u32],
        groups: (u32, u32, u32),
    ) -> Result<()> {
        self.check_failure()?;
        let bytes = (params.len().max(4) * 4) as u64;
        let mut pending = self.encoder.lock();
        if pending.params.len() as u64 + bytes + self.param_align > ARENA_BYTES {
            self.submit_locked(&mut pending);
        }
        let arena = pending
            .arena
            .get_or_insert_with(|| {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("rgrad params"),
                    size: ARENA_BYTES,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })
            .clone();
        let offset = (pending.params.len() as u64).next_multiple_of(self.param_align);
        pending.params.resize(offset as usize, 0);
        pending.params.extend(params.iter().flat_map(|w| w.to_le_bytes()));
        pending.params.resize((offset + bytes) as usize, 0);
        let mut entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
            .collect();
        entries.push(wgpu::BindGroupEntry {
            binding: buffers.len() as u32,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &arena,
                offset,
                size: wgpu::BufferSize::new(bytes),
            }),
        });
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &kernel.layout,
            entries: &entries,
        });
        let encoder = pending.encoder.get_or_insert_with(|| {
            self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default())
        });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&kernel.pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, groups.2);
        }
        pending.dispatches += 1;
        if pending.dispatches >= MAX_PENDING {
            self.submit_locked(&mut pending);
        }
        Ok(())
    }

    fn submit_locked(&self, pending: &mut Pending) {
        if let Some(arena) = pending.arena.take() {
            if !pending.params.is_empty() {
                self.queue.write_buffer(&arena, 0, &pending.params);
            }
        }
        pending.params.clear();
        if let Some(enc) = pending.encoder.take() {
            self.queue.submit([enc.finish()]);
        }
        pending.dispatches = 0;
    }

    /// Submits everything recorded so far.
    pub fn flush(&self) {
        self.submit_locked(&mut self.encoder.lock());
    }

    /// Submits and waits until the device is idle, at most the configured timeout.
    pub fn wait_idle(&self) -> Result<()> {
        self.flush();
        match self.device.poll(wgpu::PollType::Wait { submission_index: None, timeout: Some(timeout()) }) {
            Ok(_) => self.check_failure(),
            Err(wgpu::PollError::Timeout) => Err(Error::Runtime(format!(
                "wgpu: the device did not finish within {:?} (set RGRAD_WGPU_TIMEOUT to wait longer)",
                timeout()
            ))),
            Err(e) => Err(Error::Runtime(format!("wgpu: waiting for the device failed: {e}"))),
        }
    }

    /// Copies `bytes` bytes from `src` (at `offset`) to host memory, waiting at most the
    /// configured timeout (`RGRAD_WGPU_TIMEOUT`, seconds).
    pub fn read(&self, src: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        self.check_failure()?;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        {
            let mut pool = self.pool.lock();
            pool.stats.readbacks += 1;
            pool.stats.readback_bytes += bytes;
        }
        let (start, end) = (offset & !3, (offset + bytes).next_multiple_of(4));
        let staging = self.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: end - start,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })?;
        {
            let mut pending = self.encoder.lock();
            let encoder = pending.encoder.get_or_insert_with(|| {
                self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default())
            });
            encoder.copy_buffer_to_buffer(src, start, &staging, 0, end - start);
            self.submit_locked(&mut pending);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        let deadline = Instant::now() + timeout();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Runtime(format!(
                    "wgpu: the device did not finish within {:?} (set RGRAD_WGPU_TIMEOUT to wait longer)",
                    timeout()
                )));
            }
            match self.device.poll(wgpu::PollType::Wait { submission_index: None, timeout: Some(left) }) {
                Ok(_) => {}
                Err(wgpu::PollError::Timeout) => continue,
                Err(e) => return Err(Error::Runtime(format!("wgpu: waiting for the device failed: {e}"))),
            }
            if let Ok(r) = rx.try_recv() {
                r.map_err(|e| Error::Runtime(format!("wgpu: reading back a buffer failed: {e}")))?;
                break;
            }
        }
        self.check_failure()?;
        let view = staging.slice(..).get_mapped_range().map_err(|e| Error::Runtime(format!("wgpu: {e}")))?;
        let lo = (offset - start) as usize;
        Ok(view[lo..lo + bytes as usize].to_vec())
    }
}

/// A storage buffer that returns to the pool when the last tensor using it is dropped.
pub struct PooledBuffer {
    buffer: Option<wgpu::Buffer>,
    size: u64,
    ctx: &'static Context,
}

impl PooledBuffer {
    pub fn raw(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("buffer present until drop")
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            self.ctx.release(b, self.size);
        }
    }
}
