//! Parquet corpora: columns `id`, optional `title`, `text`, read one record batch at a
//! time (row group by row group), and a writer for the same layout. Other columns of
//! scalar types (strings, integers, floats, booleans, dates) become each document's
//! metadata (`Doc::metadata`; dates as `YYYY-MM-DD`); list and struct columns (vectors,
//! say) are not read.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::{Doc, DocStream, Error, IdSet, Location, Progress, Result};

const BATCH_ROWS: usize = 1024;

/// Streams documents from a Parquet file.
pub struct ParquetDocs {
    path: PathBuf,
    file: File,
    meta: ArrowReaderMetadata,
    mask: ProjectionMask,
    cols: Columns,
    row_group: usize,
    reader: Option<ParquetRecordBatchReader>,
    batch: Option<RecordBatch>,
    row_in_batch: usize,
    row_in_group: usize,
    rows_done: u64,
    total_rows: u64,
    ids: IdSet,
    failed: bool,
}

/// Positions of the columns inside the projected batches.
#[derive(Debug, Clone)]
struct Columns {
    id: usize,
    title: Option<usize>,
    text: usize,
    /// Metadata columns: (name, position).
    extra: Vec<(String, usize)>,
}

/// Whether a column of this type is read as metadata.
fn is_scalar(dt: &DataType) -> bool {
    use DataType::*;
    matches!(
        dt,
        Utf8 | LargeUtf8
            | Utf8View
            | Boolean
            | Int8
            | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Float32
            | Float64
            | Date32
    )
}

/// A metadata cell as JSON (`Null` for a null).
fn json_at(col: &ArrayRef, i: usize) -> serde_json::Value {
    use arrow_array::types::*;
    use serde_json::json;
    if col.is_null(i) {
        return serde_json::Value::Null;
    }
    match col.data_type() {
        DataType::Boolean => json!(col.as_boolean().value(i)),
        DataType::Int8 => json!(col.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => json!(col.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => json!(col.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => json!(col.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => json!(col.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => json!(col.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => json!(col.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => json!(col.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => json!(col.as_primitive::<Float32Type>().value(i)),
        DataType::Float64 => json!(col.as_primitive::<Float64Type>().value(i)),
        DataType::Date32 => json!(crate::civil_date(
            col.as_primitive::<Date32Type>().value(i) as i64
        )),
        _ => string_at(col, i).map_or(serde_json::Value::Null, serde_json::Value::String),
    }
}

impl ParquetDocs {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta =
            ArrowReaderMetadata::load(&file, ArrowReaderOptions::default()).map_err(|e| {
                Error::malformed(
                    path,
                    Location::File,
                    format!("not a readable Parquet file: {e}"),
                )
            })?;
        let schema = meta.schema().clone();
        let find = |name: &str| schema.fields().iter().position(|f| f.name() == name);
        let need = |name: &str| {
            find(name).ok_or_else(|| {
                Error::malformed(
                    path,
                    Location::File,
                    format!(
                        "no {name:?} column (columns: {})",
                        schema
                            .fields()
                            .iter()
                            .map(|f| f.name().as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
        };
        let id = need("id")?;
        let text = need("text")?;
        let title = find("title");
        for (name, idx) in [("id", Some(id)), ("text", Some(text)), ("title", title)] {
            let Some(idx) = idx else { continue };
            let dt = schema.field(idx).data_type();
            let ok = matches!(
                dt,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) || (name == "id" && matches!(dt, DataType::Int32 | DataType::Int64));
            if !ok {
                return Err(Error::malformed(
                    path,
                    Location::File,
                    format!("column {name:?} has type {dt}, expected a string"),
                ));
            }
        }
        let extra: Vec<usize> = (0..schema.fields().len())
            .filter(|&c| ![Some(id), title, Some(text)].contains(&Some(c)))
            .filter(|&c| is_scalar(schema.field(c).data_type()))
            .collect();
        // Project to the columns we need; projected batches keep schema order.
        let mut roots: Vec<usize> = [Some(id), title, Some(text)]
            .into_iter()
            .flatten()
            .chain(extra.iter().copied())
            .collect();
        roots.sort_unstable();
        let pos = |c: usize| roots.iter().position(|&r| r == c).unwrap();
        let cols = Columns {
            id: pos(id),
            title: title.map(pos),
            text: pos(text),
            extra: extra
                .iter()
                .map(|&c| (schema.field(c).name().clone(), pos(c)))
                .collect(),
        };
        let mask = ProjectionMask::roots(meta.metadata().file_metadata().schema_descr(), roots);
        let total_rows = meta.metadata().file_metadata().num_rows().max(0) as u64;
        Ok(ParquetDocs {
            path: path.to_path_buf(),
            file,
            meta,
            mask,
            cols,
            row_group: 0,
            reader: None,
            batch: None,
            row_in_batch: 0,
            row_in_group: 0,
            rows_done: 0,
            total_rows,
            ids: IdSet::default(),
            failed: false,
        })
    }

    fn err(&self, message: String) -> Error {
        Error::malformed(&self.path, self.location(), message)
    }

    fn location(&self) -> Location {
        Location::Row {
            row_group: self.row_group,
            row: self.row_in_group,
        }
    }

    /// Makes sure `self.batch` has a row left; `Ok(false)` at the end of the file.
    fn fill(&mut self) -> Result<bool> {
        loop {
            if let Some(b) = &self.batch
                && self.row_in_batch < b.num_rows()
            {
                return Ok(true);
            }
            self.batch = None;
            self.row_in_batch = 0;
            if let Some(reader) = &mut self.reader {
                match reader.next() {
                    Some(Ok(batch)) => {
                        self.batch = Some(batch);
                        continue;
                    }
                    Some(Err(e)) => return Err(self.err(format!("cannot decode: {e}"))),
                    None => {
                        self.reader = None;
                        self.row_group += 1;
                        self.row_in_group = 0;
                    }
                }
            }
            if self.row_group >= self.meta.metadata().num_row_groups() {
                return Ok(false);
            }
            let file = self
                .file
                .try_clone()
                .map_err(|e| Error::io(&self.path, e))?;
            let reader =
                ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.meta.clone())
                    .with_row_groups(vec![self.row_group])
                    .with_projection(self.mask.clone())
                    .with_batch_size(BATCH_ROWS)
                    .build()
                    .map_err(|e| self.err(format!("cannot read row group: {e}")))?;
            self.reader = Some(reader);
        }
    }

    fn read_row(&mut self) -> Result<Doc> {
        let batch = self.batch.as_ref().expect("fill() made a batch");
        let i = self.row_in_batch;
        let id = string_at(batch.column(self.cols.id), i);
        let title = self.cols.title.and_then(|c| string_at(batch.column(c), i));
        let text = string_at(batch.column(self.cols.text), i);
        let Some(id) = id.filter(|s| !s.is_empty()) else {
            return Err(self.err("null or empty id".into()));
        };
        let Some(text) = text else {
            return Err(self.err(format!("null text for id {id:?}")));
        };
        let metadata = self
            .cols
            .extra
            .iter()
            .map(|(name, c)| (name.clone(), json_at(batch.column(*c), i)))
            .filter(|(_, v)| !v.is_null())
            .collect();
        let loc = self.location();
        self.ids.insert(&self.path, &id, loc)?;
        Ok(Doc {
            id,
            title: title.unwrap_or_default(),
            text,
            metadata,
        })
    }
}

fn string_at(col: &ArrayRef, i: usize) -> Option<String> {
    if col.is_null(i) {
        return None;
    }
    Some(match col.data_type() {
        DataType::Utf8 => col.as_string::<i32>().value(i).to_string(),
        DataType::LargeUtf8 => col.as_string::<i64>().value(i).to_string(),
        DataType::Utf8View => col.as_string_view().value(i).to_string(),
        DataType::Int32 => col.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Int64 => col.as_primitive::<Int64Type>().value(i).to_string(),
        _ => unreachable!("column types are checked at open"),
    })
}

impl Iterator for ParquetDocs {
    type Item = Result<Doc>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = match self.fill() {
            Ok(false) => return None,
            Ok(true) => self.read_row(),
            Err(e) => Err(e),
        };
        self.row_in_batch += 1;
        self.row_in_group += 1;
        self.rows_done += 1;
        self.failed = item.is_err();
        Some(item)
    }
}

impl DocStream for ParquetDocs {
    fn source(&self) -> &Path {
        &self.path
    }

    fn progress(&self) -> Progress {
        Progress {
            done: self.rows_done,
            total: Some(self.total_rows),
            unit: "rows",
        }
    }
}

/// Writes documents to a Parquet file (`id`, `title`, `text`, zstd), in batches, via a
/// temporary file renamed into place at the end: a failed write leaves no file.
pub fn write_docs<I>(path: &Path, docs: I) -> Result<u64>
where
    I: IntoIterator<Item = Result<Doc>>,
{
    write_docs_with(path, docs, &crate::parquet_meta::MetaColumns::default())
}

/// [`write_docs`] with the documents' metadata as the columns `meta` describes (see
/// [`crate::parquet_meta`]; observe every document first).
pub fn write_docs_with<I>(
    path: &Path,
    docs: I,
    meta: &crate::parquet_meta::MetaColumns,
) -> Result<u64>
where
    I: IntoIterator<Item = Result<Doc>>,
{
    let mut fields = vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
    ];
    fields.extend(meta.fields());
    let schema = Arc::new(Schema::new(fields));
    let tmp = tmp_path(path);
    let werr = |e: &dyn std::fmt::Display| Error::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .build();
        let mut writer =
            ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| werr(&e))?;
        let mut buf: Vec<Doc> = Vec::with_capacity(4096);
        let mut n = 0u64;
        let flush = |buf: &mut Vec<Doc>, writer: &mut ArrowWriter<File>| -> Result<()> {
            if buf.is_empty() {
                return Ok(());
            }
            let col = |f: fn(&Doc) -> &str| -> ArrayRef {
                Arc::new(StringArray::from_iter_values(buf.iter().map(f)))
            };
            let mut cols = vec![col(|d| &d.id), col(|d| &d.title), col(|d| &d.text)];
            cols.extend(meta.arrays(buf).map_err(|e| match e {
                Error::Write { message, .. } => werr(&message),
                other => other,
            })?);
            let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| werr(&e))?;
            writer.write(&batch).map_err(|e| werr(&e))?;
            buf.clear();
            Ok(())
        };
        for doc in docs {
            buf.push(doc?);
            n += 1;
            if buf.len() == buf.capacity() {
                flush(&mut buf, &mut writer)?;
            }
        }
        flush(&mut buf, &mut writer)?;
        let file = writer.into_inner().map_err(|e| werr(&e))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A temporary sibling of `path` (same directory, so the final rename is atomic).
pub fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}
