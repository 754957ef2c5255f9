//! The one atomic Parquet writer behind the embedding, sparse-vector and token-vector
//! files: rows go to a temporary sibling (zstd), `finish` syncs it and renames it into
//! place, and a writer dropped unfinished removes the temporary file, so a file at the
//! final path is always complete.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::Schema;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::parquet_io::tmp_path;
use crate::{Error, Result};

pub struct AtomicParquet {
    path: PathBuf,
    tmp: PathBuf,
    schema: Arc<Schema>,
    writer: Option<ArrowWriter<File>>,
    rows: u64,
}

impl AtomicParquet {
    pub fn create(path: &Path, schema: Arc<Schema>) -> Result<Self> {
        let tmp = tmp_path(path);
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props));
        let mut w = AtomicParquet {
            path: path.to_path_buf(),
            tmp,
            schema,
            writer: None,
            rows: 0,
        };
        w.writer = Some(writer.map_err(|e| w.err(e))?);
        Ok(w)
    }

    /// An error about this file.
    pub fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Write {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Appends one batch of `rows` rows with these columns (in schema order).
    pub fn write(&mut self, rows: usize, columns: Vec<ArrayRef>) -> Result<()> {
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| self.err(e))?;
        let w = self.writer.as_mut().expect("not finished");
        if let Err(e) = w.write(&batch) {
            return Err(self.err(e));
        }
        self.rows += rows as u64;
        Ok(())
    }

    /// Closes, syncs and renames the file into place; returns the number of rows.
    pub fn finish(mut self) -> Result<u64> {
        let w = self.writer.take().expect("not finished");
        let file = w.into_inner().map_err(|e| self.err(e))?;
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        Ok(self.rows)
    }
}

impl Drop for AtomicParquet {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::StringArray;
    use arrow_schema::{DataType, Field};

    #[test]
    fn a_file_appears_only_when_finished() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)]));
        let col = || vec![Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef];
        {
            let mut w = AtomicParquet::create(&p, schema.clone()).unwrap();
            w.write(2, col()).unwrap();
        }
        assert!(!p.exists());
        assert_eq!(
            std::fs::read_dir(t.path()).unwrap().count(),
            0,
            "temporary file left"
        );
        let mut w = AtomicParquet::create(&p, schema).unwrap();
        w.write(2, col()).unwrap();
        w.write(2, col()).unwrap();
        assert!(!p.exists());
        assert_eq!(w.finish().unwrap(), 4);
        assert!(p.exists());
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
    }
}
