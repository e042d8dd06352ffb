//! Saving and loading tensors in the safetensors format (readable by other safetensors tools;
//! loading parses data only, it never runs code).

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::{with_dtype, DType, Element};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::Path;

fn to_st(dt: DType) -> Dtype {
    match dt {
        DType::Bool => Dtype::BOOL,
        DType::I32 => Dtype::I32,
        DType::I64 => Dtype::I64,
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::U8 => Dtype::U8,
        DType::I8 => Dtype::I8,
        DType::I16 => Dtype::I16,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
    }
}

fn from_st(dt: Dtype) -> Option<DType> {
    Some(match dt {
        Dtype::BOOL => DType::Bool,
        Dtype::I32 => DType::I32,
        Dtype::I64 => DType::I64,
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        Dtype::U8 => DType::U8,
        Dtype::I8 => DType::I8,
        Dtype::I16 => DType::I16,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        _ => return None,
    })
}

/// Little-endian bytes of a tensor's elements in row-major order.
fn bytes_of(t: &Tensor) -> Result<Vec<u8>> {
    with_dtype!(t.dtype(), T => {
        let v: Vec<T> = t.try_to_vec::<T>()?;
        let n = std::mem::size_of::<T>() * v.len();
        // SAFETY: plain-old-data elements viewed as bytes (x86/ARM targets are little-endian).
        crate::storage::try_to_owned(unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), n) })
    })
}

fn from_bytes<T: Element>(data: &[u8], shape: &[usize]) -> Result<Tensor> {
    let size = std::mem::size_of::<T>();
    // The header's shape must describe exactly the stored bytes (checked, not wrapped).
    if crate::shape::storage_numel(shape, size)?.checked_mul(size) != Some(data.len()) {
        return Err(Error::Runtime(format!(
            "a tensor of shape {} does not match its {} bytes of data",
            crate::shape::fmt_shape(shape),
            data.len()
        )));
    }
    let mut v: Vec<T> = crate::storage::try_vec_with_capacity(data.len() / size)?;
    v.extend(data.chunks_exact(size).map(|c| {
        let mut x = T::default();
        // SAFETY: `c` holds exactly one element's bytes; bools were validated by the caller.
        unsafe { std::ptr::copy_nonoverlapping(c.as_ptr(), &mut x as *mut T as *mut u8, size) };
        x
    }));
    Tensor::try_from_vec(v, shape)
}

/// Writes `tensors` (names must be unique) with optional string metadata.
pub fn save(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    // safetensors keeps its metadata under this key: a tensor of that name would make the
    // header unreadable (rgrad.save renames such keys; the structure maps them back).
    if let Some((name, _)) = tensors.iter().find(|(n, _)| n == "__metadata__") {
        return Err(Error::Runtime(format!(
            "cannot save a tensor named '{name}': safetensors reserves that name for the file's metadata"
        )));
    }
    // Device tensors are read back first (a failed readback is an error, not a panic).
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, t)| bytes_of(&t.to_cpu()?)).collect::<Result<_>>()?;
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, t), b)| {
            TensorView::new(to_st(t.dtype()), t.shape().to_vec(), b)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::Runtime(format!("cannot save tensor '{name}': {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize_to_file(views, metadata, path)
        .map_err(|e| Error::Runtime(format!("cannot save to '{}': {e}", path.display())))
}

/// Named tensors and string metadata, as stored in a file.
pub type Contents = (Vec<(String, Tensor)>, HashMap<String, String>);

/// The largest header accepted, as the safetensors crate's own limit: a corrupted length (or
/// `/dev/zero`) is refused after 8 bytes instead of being read.
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Whether `head` (the first 9 bytes) starts a file written by PyTorch's `torch.save`: a zip
/// archive (the format since 1.6) or a bare pickle (`_use_new_zipfile_serialization=False`,
/// protocol 2 and up). A safetensors header's JSON starts at byte 8 with `{`, which tells the
/// two apart when a header length happens to begin with the same bytes.
fn is_pytorch_checkpoint(head: &[u8]) -> bool {
    let magic =
        head.starts_with(b"PK\x03\x04") || (head.len() >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1]));
    magic && head.get(8) != Some(&b'{')
}

/// The whole file, read only once its first bytes look like a safetensors header of a sane
/// size, so a file of another kind (or a device that never ends) is never read whole.
fn read_checked(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let shown = path.display();
    let io_err = |e: std::io::Error| Error::Runtime(format!("cannot read '{shown}': {e}"));
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut head = [0u8; 9];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]).map_err(io_err)? {
            0 => break,
            k => got += k,
        }
    }
    if is_pytorch_checkpoint(&head[..got]) {
        return Err(Error::Runtime(format!(
            "'{shown}' is a PyTorch checkpoint (written by torch.save), not a file written by \
             rgrad.save: rgrad reads safetensors files only. Convert it with PyTorch, e.g. \
             safetensors.torch.save_file(torch.load(path), 'model.safetensors')."
        )));
    }
    let bad = |why: String| Error::Runtime(format!("'{shown}' is not a valid safetensors file: {why}"));
    if got < 8 {
        return Err(bad(format!("it is {got} bytes long, shorter than the 8-byte header length")));
    }
    let header = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    if !(2..=MAX_HEADER_BYTES).contains(&header) {
        return Err(bad(format!(
            "its header length field says {header} bytes (expected 2 to {MAX_HEADER_BYTES}); the file is corrupted"
        )));
    }
    let meta = file.metadata().map_err(io_err)?;
    let mut data = Vec::new();
    if meta.is_file() {
        if meta.len() < 8 + header {
            return Err(bad(format!(
                "it is {} bytes long but its header alone needs {} (truncated?)",
                meta.len(),
                8 + header
            )));
        }
        data.try_reserve_exact(meta.len() as usize).map_err(|_| {
            Error::Runtime(format!("cannot read '{shown}': out of memory for {} bytes", meta.len()))
        })?;
    }
    data.extend_from_slice(&head[..got]);
    file.read_to_end(&mut data).map_err(io_err)?;
    Ok(data)
}

/// Reads every tensor and the metadata of a safetensors file.
pub fn load(path: &Path) -> Result<Contents> {
    let data = read_checked(path)?;
    let bad =
        |e: String| Error::Runtime(format!("'{}' is not a valid safetensors file: {e}", path.display()));
    let st = SafeTensors::deserialize(&data).map_err(|e| bad(e.to_string()))?;
    let (_, meta) = SafeTensors::read_metadata(&data).map_err(|e| bad(e.to_string()))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let dt = from_st(view.dtype())
            .ok_or_else(|| bad(format!("tensor '{name}' has unsupported dtype {:?}", view.dtype())))?;
        if dt == DType::Bool && view.data().iter().any(|&b| b > 1) {
            return Err(bad(format!("tensor '{name}' holds bytes that are not booleans")));
        }
        let t = with_dtype!(dt, T => from_bytes::<T>(view.data(), view.shape()))
            .map_err(|e| bad(format!("tensor '{name}': {e}")))?;
        out.push((name, t));
    }
    // Header order is not preserved by the format; sort for a stable result.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((out, metadata))
}
