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
    }
}

fn from_st(dt: Dtype) -> Option<DType> {
    Some(match dt {
        Dtype::BOOL => DType::Bool,
        Dtype::I32 => DType::I32,
        Dtype::I64 => DType::I64,
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        _ => return None,
    })
}

/// Little-endian bytes of a tensor's elements in row-major order.
fn bytes_of(t: &Tensor) -> Result<Vec<u8>> {
    with_dtype!(t.dtype(), T => {
        let v: Vec<T> = t.try_to_vec::<T>()?;
        let n = std::mem::size_of::<T>() * v.len();
        // SAFETY: plain-old-data elements viewed as bytes (x86/ARM targets are little-endian).
        crate::storage::try_to_owned(unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, n) })
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

/// Reads every tensor and the metadata of a safetensors file.
pub fn load(path: &Path) -> Result<Contents> {
    let data =
        std::fs::read(path).map_err(|e| Error::Runtime(format!("cannot read '{}': {e}", path.display())))?;
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
