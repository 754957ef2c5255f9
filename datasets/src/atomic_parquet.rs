//! The one atomic Parquet writer behind the embedding, sparse-vector and token-vector
//! files: rows go to a temporary sibling (zstd), `finish` syncs it and renames it into
//! place, and a writer dropped unfinished removes the temporary file, so a file at the
//! final path is always complete. [`for_each_batch`] is the one reader loop behind
//! the three: the file opened, its `id` column and the kind's own columns checked,
//! then batch by batch with row numbers for errors.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::parquet_io::tmp_path;
use crate::{Error, Location, Result};

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

/// Streams a vectors Parquet file (a utf8 `id` column beside the kind's own):
/// `columns` checks the kind's columns in the schema (`Err`: what it expected) and
/// returns what reading rows needs (a dimension); `rows(&that, batch, ids, first)` is
/// called for each batch, `first` being the 1-based number of its first row (for
/// [`Location::Line`]). Nothing but the current batch is held. Returns `columns`'
/// value. Errors name the file (and the row, where `rows` says).
pub fn for_each_batch<T>(
    path: &Path,
    columns: impl FnOnce(&Schema) -> std::result::Result<T, String>,
    mut rows: impl FnMut(&T, &RecordBatch, &StringArray, u64) -> Result<()>,
) -> Result<T> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: String| Error::malformed(path, Location::File, m);
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let schema = builder.schema().clone();
    let ctx = columns(&schema).map_err(bad)?;
    if !matches!(
        schema.field_with_name("id").map(|f| f.data_type()),
        Ok(DataType::Utf8)
    ) {
        return Err(bad("no utf8 \"id\" column".into()));
    }
    let reader = builder.build().map_err(|e| bad(e.to_string()))?;
    let mut done = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| bad(format!("cannot decode: {e}")))?;
        let ids = batch
            .column_by_name("id")
            .expect("checked")
            .as_string::<i32>()
            .clone();
        rows(&ctx, &batch, &ids, done + 1)?;
        done += batch.num_rows() as u64;
    }
    Ok(ctx)
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
