//! The train crate's errors: settings and input refused with a message, and the
//! errors of what training uses (engine, index, datasets, evaluation, candle, files),
//! each kept as its source. [`Context`] adds where an error happened (a file, a line),
//! the way the CLI prints it.

use std::fmt::Display;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting or an input that cannot train (the message says which and why).
    #[error("{0}")]
    Invalid(String),
    /// An error with where it happened (its cause is the source, as anyhow's context:
    /// error chains print "context: cause").
    #[error("{context}")]
    At {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Engine(#[from] seine_engine::Error),
    #[error(transparent)]
    Index(#[from] seine_index::Error),
    #[error(transparent)]
    Data(#[from] seine_datasets::Error),
    #[error(transparent)]
    Eval(#[from] seine_eval::Error),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    #[error(transparent)]
    TomlOut(#[from] toml::ser::Error),
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Where an error happened: `.context(..)` / `.with_context(|| ..)` on a `Result`
/// wrap its error with the place; on an `Option`, `None` becomes [`Error::Invalid`].
pub trait Context<T> {
    fn with_context<C: Display, F: FnOnce() -> C>(self, f: F) -> Result<T>;
    fn context<C: Display>(self, c: C) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn with_context<C: Display, F: FnOnce() -> C>(self, f: F) -> Result<T> {
        self.map_err(|e| Error::At {
            context: f().to_string(),
            source: Box::new(e),
        })
    }

    fn context<C: Display>(self, c: C) -> Result<T> {
        self.with_context(|| c)
    }
}

impl<T> Context<T> for Option<T> {
    fn with_context<C: Display, F: FnOnce() -> C>(self, f: F) -> Result<T> {
        self.ok_or_else(|| Error::Invalid(f().to_string()))
    }

    fn context<C: Display>(self, c: C) -> Result<T> {
        self.with_context(|| c)
    }
}

/// Returns an [`Error::Invalid`] with a formatted message.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::Invalid(format!($($arg)*)))
    };
}

/// [`bail!`] unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            $crate::bail!($($arg)*);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_the_place_and_keeps_the_cause() {
        let e = std::fs::read("/no/such/file.toml")
            .with_context(|| "/no/such/file.toml")
            .unwrap_err();
        assert_eq!(e.to_string(), "/no/such/file.toml");
        let cause = std::error::Error::source(&e).expect("the io error is the source");
        assert!(cause.to_string().contains("No such file"), "{cause}");
        let e = None::<u8>.context("no \"query\" string").unwrap_err();
        assert!(matches!(e, Error::Invalid(ref m) if m == "no \"query\" string"));
        let f = || -> Result<()> {
            crate::ensure!(1 + 1 == 3, "arithmetic is {}", "off");
            Ok(())
        };
        assert_eq!(f().unwrap_err().to_string(), "arithmetic is off");
    }
}
