use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Data(#[from] seine_datasets::Error),
    #[error(transparent)]
    Index(#[from] seine_index::Error),
    #[error(transparent)]
    Engine(#[from] seine_engine::Error),
    /// A malformed TREC run file.
    #[error("{}:line {line}: {message}", path.display())]
    RunFile {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Nothing to evaluate (no judged query in the split, ...).
    #[error("{0}")]
    Empty(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
