#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Index(#[from] seine_index::Error),
    #[error(transparent)]
    Data(#[from] seine_datasets::Error),
    /// A retriever was asked for that the index does not have.
    #[error("unknown retriever {name:?} (this index has: {available})")]
    UnknownRetriever { name: String, available: String },
}

pub type Result<T> = std::result::Result<T, Error>;
