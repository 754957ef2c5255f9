#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Index(#[from] seine_index::Error),
    #[error(transparent)]
    Data(#[from] seine_datasets::Error),
    /// A retriever was asked for that the index does not have.
    #[error("unknown retriever {name:?} (this index has: {available})")]
    UnknownRetriever { name: String, available: String },
    /// No model folder under that name.
    #[error("{0}")]
    ModelNotFound(String),
    /// A model folder that cannot be used (missing or malformed files).
    #[error("model: {0}")]
    Model(String),
    /// The requested device cannot be used.
    #[error("device: {0}")]
    DeviceUnavailable(String),
    /// A bad argument from the user.
    #[error("{0}")]
    InvalidArgument(String),
    /// This searcher's generation was compacted away: reopen the index to write.
    #[error("the index was compacted; reopen it to write")]
    Retired,
    /// Building an index failed; nothing was written.
    #[error("indexing {} failed; nothing was written to {}", corpus.display(), out.display())]
    Build {
        corpus: std::path::PathBuf,
        out: std::path::PathBuf,
        #[source]
        source: Box<Error>,
    },
    /// The tensor library failed.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, Error>;
