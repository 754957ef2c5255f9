use std::fmt;
use std::path::PathBuf;

/// Where in an input file something went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// 1-based line of a text file.
    Line(u64),
    /// Parquet row group and row inside it (both 0-based, as Parquet tools print them).
    Row { row_group: usize, row: usize },
    /// The file as a whole.
    File,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(l) => write!(f, "line {l}"),
            Location::Row { row_group, row } => write!(f, "row group {row_group}, row {row}"),
            Location::File => Ok(()),
        }
    }
}

fn at(path: &std::path::Path, loc: &Location) -> String {
    match loc {
        Location::File => path.display().to_string(),
        _ => format!("{}:{loc}", path.display()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The input is malformed at a known place (bad JSON, missing field, bad grade,
    /// invalid UTF-8, ...).
    #[error("{}: {message}", at(path, location))]
    Malformed {
        path: PathBuf,
        location: Location,
        message: String,
    },
    /// The same document id appears twice.
    #[error("{}: duplicate id {id:?} (first seen at {first})", at(path, location))]
    DuplicateId {
        path: PathBuf,
        location: Location,
        id: String,
        first: Location,
    },
    /// The path is not something any reader understands.
    #[error("{}: {message}", path.display())]
    UnsupportedInput { path: PathBuf, message: String },
    /// Writing output failed.
    #[error("writing {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(
        path: impl Into<PathBuf>,
        location: Location,
        message: impl Into<String>,
    ) -> Self {
        Error::Malformed {
            path: path.into(),
            location,
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
