//! Dense embeddings as Parquet: `id` (utf8) and `embedding` (FixedSizeList<Float32>),
//! so vectors can be exported and brought in from elsewhere.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::{DataType, Field, Schema};

use crate::atomic_parquet::AtomicParquet;
use crate::{Error, Location, Result};

fn schema(dim: usize) -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(
                Arc::new(Field::new("item", DataType::Float32, false)),
                dim as i32,
            ),
            false,
        ),
    ]))
}

/// Writes embeddings batch by batch to a temporary file renamed into place by
/// [`EmbeddingWriter::finish`]; dropped unfinished, it removes the temporary file.
pub struct EmbeddingWriter {
    file: AtomicParquet,
    dim: usize,
}

impl EmbeddingWriter {
    pub fn create(path: &Path, dim: usize) -> Result<Self> {
        Ok(EmbeddingWriter {
            file: AtomicParquet::create(path, schema(dim))?,
            dim,
        })
    }

    /// Appends rows: `ids[i]` has the vector `data[i*dim..(i+1)*dim]`.
    pub fn write(&mut self, ids: &[&str], data: &[f32]) -> Result<()> {
        assert_eq!(ids.len() * self.dim, data.len(), "one vector per id");
        let mut list = FixedSizeListBuilder::new(Float32Builder::new(), self.dim as i32)
            .with_field(Arc::new(Field::new("item", DataType::Float32, false)));
        for row in data.chunks_exact(self.dim) {
            list.values().append_slice(row);
            list.append(true);
        }
        self.file.write(
            ids.len(),
            vec![
                Arc::new(StringArray::from_iter_values(ids.iter())) as ArrayRef,
                Arc::new(list.finish()) as ArrayRef,
            ],
        )
    }

    /// Closes, syncs and renames the file into place; returns the number of rows.
    pub fn finish(self) -> Result<u64> {
        self.file.finish()
    }
}

/// Reads an embeddings Parquet file: ids and row-major vectors. Errors name the file
/// and the row group/row of a bad row.
pub fn read_embeddings(path: &Path) -> Result<(Vec<String>, usize, Vec<f32>)> {
    let (mut ids, mut data) = (Vec::new(), Vec::new());
    let dim = for_each_embedding(path, |id, v| {
        ids.push(id.to_string());
        data.extend_from_slice(v);
        Ok(())
    })?;
    Ok((ids, dim, data))
}

/// Streams an embeddings Parquet file batch by batch, calling `row(id, vector)` for each
/// row in file order (nothing but the current batch is held); returns the dimension.
pub fn for_each_embedding(
    path: &Path,
    mut row: impl FnMut(&str, &[f32]) -> Result<()>,
) -> Result<usize> {
    let columns = |schema: &Schema| match schema.field_with_name("embedding").map(|f| f.data_type())
    {
        Ok(DataType::FixedSizeList(item, n)) if item.data_type() == &DataType::Float32 => {
            Ok(*n as usize)
        }
        Ok(other) => Err(format!(
            "column \"embedding\" has type {other}, expected FixedSizeList<Float32>"
        )),
        Err(_) => Err("no \"embedding\" column".into()),
    };
    crate::atomic_parquet::for_each_batch(path, columns, |_, batch, ids, first| {
        let emb = batch
            .column_by_name("embedding")
            .expect("checked")
            .as_fixed_size_list();
        for i in 0..batch.num_rows() {
            if ids.is_null(i) || emb.is_null(i) {
                let at = Location::Line(first + i as u64);
                return Err(Error::malformed(path, at, "null id or embedding"));
            }
            let v = emb.value(i);
            row(ids.value(i), v.as_primitive::<Float32Type>().values())?;
        }
        Ok(())
    })
}
