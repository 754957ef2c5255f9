//! Native CPU inference for BERT-family encoders: the transformer forward pass
//! ([`model::Bert`]) over packed variable-length sequences, the SPLADE head
//! ([`splade::MlmHead`]) and the reduced-precision products (int8, bf16); the fused
//! element-wise ops ([`crate::ops`]) and the matrix products ([`crate::gemm`]) live at
//! the crate root, since k-means, PLAID and the encoders all use them. The engine loads
//! the weights into these types; candle's `BertModel` is the oracle they are tested
//! against.

#[macro_use]
mod tiles;
pub mod bf16;
pub mod int8;
pub mod model;
pub mod peak;
pub mod splade;

pub use crate::ops::Activation;
pub use bf16::Bf16Linear;
pub use int8::QuantLinear;
pub use model::{Bert, Layer, LayerNorm, Linear, Scratch, Weights};
pub use splade::MlmHead;
