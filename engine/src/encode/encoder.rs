//! The encoder abstraction and embeddings.

use crate::Result;

/// Which side of retrieval a text is on (some models encode queries differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Query,
    Document,
}

/// Row-major dense vectors.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embeddings {
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Embeddings {
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub fn rows(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim.max(1))
    }
}

/// Text → one vector per text.
pub trait Encoder: Send + Sync {
    /// The model's name (folder name).
    fn name(&self) -> &str;
    fn dim(&self) -> usize;
    /// Whether vectors come out L2-normalized.
    fn normalized(&self) -> bool;
    fn encode(&self, texts: &[&str], side: Side) -> Result<Embeddings>;
}
