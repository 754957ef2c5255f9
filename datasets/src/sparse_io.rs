//! Sparse (SPLADE) vectors as Parquet: `id` (utf8), `terms` (list<utf8>) and `weights`
//! (list<float32>) of the same length per row, so term weights can be exported and
//! brought in from elsewhere.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::atomic_parquet::AtomicParquet;
use crate::{Error, Location, Result};

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new(
            "terms",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        Field::new(
            "weights",
            DataType::List(Arc::new(Field::new("item", DataType::Float32, true))),
            false,
        ),
    ]))
}

/// A sparse vector row: (id, terms, weights).
pub type SparseRow = (String, Vec<String>, Vec<f32>);

/// Writes sparse vectors to a temporary file renamed into place by [`SparseWriter::finish`].
pub struct SparseWriter {
    file: AtomicParquet,
}

impl SparseWriter {
    pub fn create(path: &Path) -> Result<Self> {
        Ok(SparseWriter {
            file: AtomicParquet::create(path, schema())?,
        })
    }

    /// Appends rows of (id, [(term, weight)]).
    pub fn write(&mut self, rows: &[(&str, Vec<(String, f32)>)]) -> Result<()> {
        let mut terms = ListBuilder::new(StringBuilder::new());
        let mut weights = ListBuilder::new(Float32Builder::new());
        for (_, pairs) in rows {
            for (t, w) in pairs {
                terms.values().append_value(t);
                weights.values().append_value(*w);
            }
            terms.append(true);
            weights.append(true);
        }
        self.file.write(
            rows.len(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
                Arc::new(terms.finish()) as ArrayRef,
                Arc::new(weights.finish()) as ArrayRef,
            ],
        )
    }

    pub fn finish(self) -> Result<u64> {
        self.file.finish()
    }
}

/// Reads a sparse vectors Parquet file. Errors name the file and the row.
pub fn read_sparse(path: &Path) -> Result<Vec<SparseRow>> {
    let mut out = Vec::new();
    for_each_sparse(path, |r| {
        out.push(r);
        Ok(())
    })?;
    Ok(out)
}

/// Streams a sparse vectors Parquet file batch by batch, calling `row` for each row
/// in file order (nothing but the current batch is held).
pub fn for_each_sparse(path: &Path, mut row: impl FnMut(SparseRow) -> Result<()>) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let bad = |loc: Location, m: String| Error::malformed(path, loc, m);
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(Location::File, format!("not a readable Parquet file: {e}")))?;
    let schema = builder.schema().clone();
    for (col, want) in [
        ("id", "utf8"),
        ("terms", "list<utf8>"),
        ("weights", "list<float32>"),
    ] {
        let ok = match (
            col,
            schema.field_with_name(col).map(|f| f.data_type().clone()),
        ) {
            ("id", Ok(DataType::Utf8)) => true,
            ("terms", Ok(DataType::List(f))) => f.data_type() == &DataType::Utf8,
            ("weights", Ok(DataType::List(f))) => f.data_type() == &DataType::Float32,
            _ => false,
        };
        if !ok {
            return Err(bad(
                Location::File,
                format!("expected a column {col:?} of type {want} (columns id, terms, weights)"),
            ));
        }
    }
    let reader = builder
        .build()
        .map_err(|e| bad(Location::File, e.to_string()))?;
    let mut rows = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| bad(Location::File, format!("cannot decode: {e}")))?;
        let ids = batch
            .column_by_name("id")
            .expect("checked")
            .as_string::<i32>();
        let terms = batch
            .column_by_name("terms")
            .expect("checked")
            .as_list::<i32>();
        let weights = batch
            .column_by_name("weights")
            .expect("checked")
            .as_list::<i32>();
        for i in 0..batch.num_rows() {
            rows += 1;
            let at = Location::Line(rows);
            if ids.is_null(i) || terms.is_null(i) || weights.is_null(i) {
                return Err(bad(at, "null id, terms or weights".into()));
            }
            let t = terms.value(i);
            let t = t.as_string::<i32>();
            let w = weights.value(i);
            let w = w.as_primitive::<Float32Type>();
            if t.len() != w.len() {
                return Err(bad(
                    at,
                    format!("{} terms but {} weights", t.len(), w.len()),
                ));
            }
            if t.null_count() > 0 || w.null_count() > 0 {
                return Err(bad(at, "null term or weight".into()));
            }
            row((
                ids.value(i).to_string(),
                t.iter()
                    .map(|s| s.unwrap_or_default().to_string())
                    .collect(),
                w.values().to_vec(),
            ))?;
        }
    }
    Ok(())
}
