//! Sparse (SPLADE) vectors as Parquet: `id` (utf8), `terms` (list<utf8>) and `weights`
//! (list<float32>) of the same length per row, so term weights can be exported and
//! brought in from elsewhere.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::{DataType, Field, Schema};

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
    let columns = |schema: &Schema| {
        for col in ["terms", "weights"] {
            let item = match schema.field_with_name(col).map(|f| f.data_type()) {
                Ok(DataType::List(f)) => Some(f.data_type()),
                _ => None,
            };
            let want = if col == "terms" {
                DataType::Utf8
            } else {
                DataType::Float32
            };
            if item != Some(&want) {
                let ty = if col == "terms" {
                    "list<utf8>"
                } else {
                    "list<float32>"
                };
                return Err(format!(
                    "expected a column {col:?} of type {ty} (columns id, terms, weights)"
                ));
            }
        }
        Ok(())
    };
    crate::atomic_parquet::for_each_batch(path, columns, |_, batch, ids, first| {
        let terms = batch
            .column_by_name("terms")
            .expect("checked")
            .as_list::<i32>();
        let weights = batch
            .column_by_name("weights")
            .expect("checked")
            .as_list::<i32>();
        for i in 0..batch.num_rows() {
            let at = Location::Line(first + i as u64);
            let bad = |m: String| Error::malformed(path, at, m);
            if ids.is_null(i) || terms.is_null(i) || weights.is_null(i) {
                return Err(bad("null id, terms or weights".into()));
            }
            let t = terms.value(i);
            let t = t.as_string::<i32>();
            let w = weights.value(i);
            let w = w.as_primitive::<Float32Type>();
            if t.len() != w.len() {
                return Err(bad(format!("{} terms but {} weights", t.len(), w.len())));
            }
            if t.null_count() > 0 || w.null_count() > 0 {
                return Err(bad("null term or weight".into()));
            }
            row((
                ids.value(i).to_string(),
                t.iter()
                    .map(|s| s.unwrap_or_default().to_string())
                    .collect(),
                w.values().to_vec(),
            ))?;
        }
        Ok(())
    })
}
