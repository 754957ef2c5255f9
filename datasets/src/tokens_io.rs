//! Token vectors (late interaction) as Parquet: `id` (utf8) and `tokens`
//! (list<FixedSizeList<Float32, dim>>): one row per document, one inner list per token.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, ListBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::{DataType, Field, Schema};

use crate::atomic_parquet::AtomicParquet;
use crate::{Error, Location, Result};

fn token_field(dim: usize) -> DataType {
    DataType::FixedSizeList(
        Arc::new(Field::new("item", DataType::Float32, false)),
        dim as i32,
    )
}

fn schema(dim: usize) -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new(
            "tokens",
            DataType::List(Arc::new(Field::new("item", token_field(dim), false))),
            false,
        ),
    ]))
}

/// Writes token vectors to a temporary file renamed into place by
/// [`TokensWriter::finish`]; dropped unfinished, it removes the temporary file.
pub struct TokensWriter {
    file: AtomicParquet,
    dim: usize,
}

impl TokensWriter {
    pub fn create(path: &Path, dim: usize) -> Result<Self> {
        Ok(TokensWriter {
            file: AtomicParquet::create(path, schema(dim))?,
            dim,
        })
    }

    /// Appends rows: `tokens[i]` is document `ids[i]`'s token vectors, row-major.
    pub fn write(&mut self, ids: &[&str], tokens: &[&[f32]]) -> Result<()> {
        let dim = self.dim;
        let inner = FixedSizeListBuilder::new(Float32Builder::new(), dim as i32)
            .with_field(Arc::new(Field::new("item", DataType::Float32, false)));
        let mut list = ListBuilder::new(inner).with_field(Arc::new(Field::new(
            "item",
            token_field(dim),
            false,
        )));
        for t in tokens {
            if dim == 0 || t.len() % dim != 0 {
                let msg = format!("{} values are not whole {dim}-d tokens", t.len());
                return Err(self.file.err(msg));
            }
            for tok in t.chunks_exact(dim) {
                list.values().values().append_slice(tok);
                list.values().append(true);
            }
            list.append(true);
        }
        self.file.write(
            ids.len(),
            vec![
                Arc::new(StringArray::from_iter_values(ids.iter().copied())) as ArrayRef,
                Arc::new(list.finish()) as ArrayRef,
            ],
        )
    }

    pub fn finish(self) -> Result<u64> {
        self.file.finish()
    }
}

/// Streams a token-vectors Parquet file batch by batch, calling `row(id, tokens)`
/// (row-major) for each row in file order; returns the dimension.
pub fn for_each_tokens(
    path: &Path,
    mut row: impl FnMut(&str, &[f32]) -> Result<()>,
) -> Result<usize> {
    let columns = |schema: &Schema| match schema.field_with_name("tokens").map(|f| f.data_type()) {
        Ok(DataType::List(f)) => match f.data_type() {
            DataType::FixedSizeList(item, n) if item.data_type() == &DataType::Float32 => {
                Ok(*n as usize)
            }
            other => Err(format!(
                "column \"tokens\" holds {other}, expected FixedSizeList<Float32>"
            )),
        },
        Ok(other) => Err(format!(
            "column \"tokens\" has type {other}, expected List<FixedSizeList<Float32>>"
        )),
        Err(_) => Err("no \"tokens\" column".into()),
    };
    crate::atomic_parquet::for_each_batch(path, columns, |&dim, batch, ids, first| {
        let toks = batch
            .column_by_name("tokens")
            .expect("checked")
            .as_list::<i32>();
        for i in 0..batch.num_rows() {
            if ids.is_null(i) || toks.is_null(i) {
                let at = Location::Line(first + i as u64);
                return Err(Error::malformed(path, at, "null id or tokens"));
            }
            let t = toks.value(i);
            let t = t.as_fixed_size_list();
            let v = t.values().as_primitive::<Float32Type>();
            let start = t.offset() * dim;
            let vals = &v.values()[start..start + t.len() * dim];
            row(ids.value(i), vals)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_rows_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("t.parquet");
        let mut w = TokensWriter::create(&p, 2).unwrap();
        w.write(&["a", "b"], &[&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0]])
            .unwrap();
        w.write(&["c"], &[&[]]).unwrap();
        assert!(w.write(&["d"], &[&[1.0]]).is_err(), "not whole tokens");
        assert_eq!(w.finish().unwrap(), 3);
        let mut got = Vec::new();
        let dim = for_each_tokens(&p, |id, v| {
            got.push((id.to_string(), v.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(dim, 2);
        assert_eq!(
            got,
            [
                ("a".to_string(), vec![1.0, 2.0, 3.0, 4.0]),
                ("b".to_string(), vec![5.0, 6.0]),
                ("c".to_string(), vec![]),
            ]
        );
    }
}
