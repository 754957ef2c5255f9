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
    /// The write-ahead log could not be written: the write was not applied (the log is
    /// as it was). `full`: out of space (or over a file-size limit).
    #[error("write not applied: {message}")]
    Storage { message: String, full: bool },
    /// This searcher reads only: writes go through the process holding the index's
    /// write lock.
    #[error("{0}")]
    ReadOnly(String),
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

impl Error {
    /// A failed write to the index's storage.
    pub fn storage(path: &std::path::Path, e: std::io::Error) -> Self {
        let full = matches!(
            e.raw_os_error(),
            Some(libc::ENOSPC) | Some(libc::EFBIG) | Some(libc::EDQUOT)
        ) || e.kind() == std::io::ErrorKind::StorageFull
            || e.kind() == std::io::ErrorKind::FileTooLarge;
        Error::Storage {
            message: format!("{}: {e}", path.display()),
            full,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
