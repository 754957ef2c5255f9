//! Encoding text: model folders, tokenization and devices ([`model`]); the dense,
//! SPLADE and late-interaction encoders; [`Encoders`], the one factory every front end
//! loads them through; and the text an encoder sees for a document ([`text`]).

pub mod colbert;
pub mod dense;
pub mod encoder;
pub mod encoders;
pub mod model;
pub mod multi;
pub mod splade;
pub mod text;

pub use colbert::ColbertEncoder;
pub use dense::DenseEncoder;
pub use encoder::{Embeddings, Encoder, Side};
pub use encoders::Encoders;
pub use multi::MultiVectorEncoder;
pub use splade::{Pruning, SparseVector, SpladeEncoder};
pub use text::{doc_text, join_title_text};
