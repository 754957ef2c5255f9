use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the corpus failed (malformed input names file and line).
    #[error(transparent)]
    Input(#[from] seine_datasets::Error),
    /// The target exists and is not something we may replace.
    #[error("{}: {message}", path.display())]
    Target { path: PathBuf, message: String },
    /// No index at this path, or one we cannot read.
    #[error("{}: {message}", path.display())]
    NotAnIndex { path: PathBuf, message: String },
    /// Another process (or open index) holds the index's writer lock.
    #[error("{}: the index is locked by another writer: {holder}", path.display())]
    Locked { path: PathBuf, holder: String },
    /// A bad parameter given by the user.
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The inverted index library failed.
    #[error("tantivy: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// An internal invariant broke (a bug).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
