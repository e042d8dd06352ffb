//! Forward ops, grouped by family. Each op computes with a CPU kernel and records its
//! autograd node in the same place.

pub mod arith;
pub mod binary;
pub mod factory;
pub mod index;
pub mod inplace;
pub mod join;
pub mod linalg;
pub mod loss;
pub mod reduce;
pub mod scan;
pub mod unary;
pub mod views;
