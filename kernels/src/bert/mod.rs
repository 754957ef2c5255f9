//! Native CPU inference for BERT-family encoders: the transformer forward pass
//! ([`model::Bert`]) over packed variable-length sequences, the SPLADE head
//! ([`splade::MlmHead`]), the fused element-wise ops ([`ops`], each beside its f64 oracle
//! in the tests) and the matrix products ([`gemm`]). The engine loads the weights into
//! these types; candle's `BertModel` is the oracle they are tested against.

#[macro_use]
mod tiles;
pub mod bf16;
pub mod gemm;
pub mod int8;
pub mod model;
pub mod ops;
pub mod peak;
pub mod splade;

pub use bf16::Bf16Linear;
pub use int8::QuantLinear;
pub use model::{Bert, Layer, LayerNorm, Linear, Scratch, Weights};
pub use ops::Activation;
pub use splade::MlmHead;
