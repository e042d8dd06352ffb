//! rgrad-core: tensors with strided storage, PyTorch's dtype promotion and broadcasting, and a
//! dynamic autograd engine whose backward rules are themselves tensor ops. Knows nothing of
//! Python.

// Kernels are generic over every dtype, bool included, where `x > y` is the intended meaning.
#![allow(clippy::bool_comparison)]

pub mod autocast;
pub mod autograd;
pub mod cpu;
pub mod dtype;
pub mod error;
pub mod gpu;
pub mod grad_mode;
pub mod io;
pub mod layout;
pub mod ops;
pub mod optim;
pub mod random;
pub mod shape;
pub mod storage;
pub mod tensor;

pub use dtype::{DType, ResultType, Scalar};
pub use error::{Error, Result};
pub use half::{bf16, f16};
pub use layout::Layout;
pub use ops::binary::{BinaryOp, Operand};
pub use ops::unary::UnaryOp;
pub use storage::{Device, Element, Storage};
pub use tensor::Tensor;
