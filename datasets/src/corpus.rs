use std::path::Path;

use crate::jsonl::{JsonlDocs, JsonlFields};
use crate::parquet_io::ParquetDocs;
use crate::textdir::TextDirDocs;
use crate::{DocStream, Error, Result};

/// The kinds of corpus input seine reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorpusFormat {
    /// A BEIR folder (reads its `corpus.jsonl`).
    Beir,
    Jsonl,
    Parquet,
    TextDir,
}

/// How to read a corpus; `format: None` guesses from the path.
#[derive(Debug, Clone, Default)]
pub struct CorpusOptions {
    pub format: Option<CorpusFormat>,
    /// JSONL field names (ignored by other formats).
    pub fields: JsonlFields,
}

impl CorpusFormat {
    /// Guesses the format: a folder with `corpus.jsonl` is BEIR, another folder is a
    /// text folder, `*.parquet` is Parquet, `*.jsonl` / `*.ndjson` / `*.json` is JSONL.
    pub fn detect(path: &Path) -> Result<Self> {
        if path.is_dir() {
            return Ok(if path.join("corpus.jsonl").is_file() {
                CorpusFormat::Beir
            } else {
                CorpusFormat::TextDir
            });
        }
        if !path.exists() {
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
            ));
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("parquet") | Some("pq") => Ok(CorpusFormat::Parquet),
            Some("jsonl") | Some("ndjson") | Some("json") => Ok(CorpusFormat::Jsonl),
            _ => Err(Error::UnsupportedInput {
                path: path.to_path_buf(),
                message: "unknown corpus format: expected a BEIR folder, a folder of .txt/.md \
                          files, a .jsonl or a .parquet file"
                    .into(),
            }),
        }
    }
}

/// Opens a corpus for streaming.
pub fn open_corpus(path: &Path, opts: &CorpusOptions) -> Result<Box<dyn DocStream>> {
    let format = match opts.format {
        Some(f) => f,
        None => CorpusFormat::detect(path)?,
    };
    Ok(match format {
        CorpusFormat::Beir => Box::new(JsonlDocs::open(
            &path.join("corpus.jsonl"),
            JsonlFields::default(),
        )?),
        CorpusFormat::Jsonl => Box::new(JsonlDocs::open(path, opts.fields.clone())?),
        CorpusFormat::Parquet => Box::new(ParquetDocs::open(path)?),
        CorpusFormat::TextDir => Box::new(TextDirDocs::open(path)?),
    })
}
