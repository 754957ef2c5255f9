//! Metadata columns for the Parquet writer: the keys of the documents' metadata, each
//! written as one nullable column whose type covers every value seen — booleans,
//! 64-bit integers, floats (integers and floats mixed), or strings (strings, and any
//! mix of types or nested values as their JSON text). The Parquet reader turns these
//! columns back into metadata, so a JSONL → Parquet conversion keeps it.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow_schema::{DataType, Field};
use serde_json::Value;

use crate::{Doc, Error, Metadata, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
}

impl Kind {
    fn of(v: &Value) -> Option<Kind> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(_) => Kind::Bool,
            Value::Number(n) if n.is_i64() => Kind::Int,
            Value::Number(_) => Kind::Float,
            _ => Kind::Str,
        })
    }

    fn widen(self, other: Kind) -> Kind {
        match (self, other) {
            (a, b) if a == b => a,
            (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) => Kind::Float,
            _ => Kind::Str,
        }
    }
}

/// The metadata columns of a set of documents ([`MetaColumns::observe`] each first).
#[derive(Debug, Clone, Default)]
pub struct MetaColumns {
    columns: BTreeMap<String, Kind>,
}

impl MetaColumns {
    /// Widens the columns to cover `doc`'s metadata (read from `source`); a key named
    /// like a document column (`id`, `title`, `text`) is an error naming the document.
    pub fn observe(&mut self, source: &std::path::Path, doc: &Doc) -> Result<()> {
        for (k, v) in &doc.metadata {
            if ["id", "title", "text"].contains(&k.as_str()) {
                return Err(Error::UnsupportedInput {
                    path: source.to_path_buf(),
                    message: format!(
                        "document {:?}: metadata key {k:?} collides with the {k} column",
                        doc.id
                    ),
                });
            }
            if let Some(kind) = Kind::of(v) {
                let e = self.columns.entry(k.clone()).or_insert(kind);
                *e = e.widen(kind);
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// How many columns.
    pub fn columns(&self) -> usize {
        self.columns.len()
    }

    /// The Arrow fields, after id/title/text.
    pub(crate) fn fields(&self) -> Vec<Field> {
        self.columns
            .iter()
            .map(|(name, kind)| {
                let dt = match kind {
                    Kind::Bool => DataType::Boolean,
                    Kind::Int => DataType::Int64,
                    Kind::Float => DataType::Float64,
                    Kind::Str => DataType::Utf8,
                };
                Field::new(name, dt, true)
            })
            .collect()
    }

    /// One array per column for `docs`; a value the column does not cover (a document
    /// not observed) is an error naming the document and key.
    pub(crate) fn arrays(&self, docs: &[Doc]) -> Result<Vec<ArrayRef>> {
        let get = |m: &Metadata, k: &str| m.get(k).filter(|v| !v.is_null()).cloned();
        let bad = |d: &Doc, k: &str| Error::Write {
            path: Default::default(),
            message: format!(
                "document {:?}: metadata {k:?} does not fit the column types observed",
                d.id
            ),
        };
        let mut out: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for (k, kind) in &self.columns {
            let vals: Vec<Option<Value>> = docs.iter().map(|d| get(&d.metadata, k)).collect();
            let check = |f: &dyn Fn(&Value) -> bool| -> Result<()> {
                for (d, v) in docs.iter().zip(&vals) {
                    if v.as_ref().is_some_and(|v| !f(v)) {
                        return Err(bad(d, k));
                    }
                }
                Ok(())
            };
            out.push(match kind {
                Kind::Bool => {
                    check(&|v| v.is_boolean())?;
                    Arc::new(BooleanArray::from(
                        vals.iter()
                            .map(|v| v.as_ref().and_then(Value::as_bool))
                            .collect::<Vec<_>>(),
                    ))
                }
                Kind::Int => {
                    check(&|v| v.is_i64())?;
                    Arc::new(Int64Array::from(
                        vals.iter()
                            .map(|v| v.as_ref().and_then(Value::as_i64))
                            .collect::<Vec<_>>(),
                    ))
                }
                Kind::Float => {
                    check(&|v| v.is_number())?;
                    Arc::new(Float64Array::from(
                        vals.iter()
                            .map(|v| v.as_ref().and_then(Value::as_f64))
                            .collect::<Vec<_>>(),
                    ))
                }
                Kind::Str => Arc::new(StringArray::from(
                    vals.iter()
                        .map(|v| {
                            v.as_ref().map(|v| match v {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                        })
                        .collect::<Vec<_>>(),
                )),
            });
        }
        Ok(out)
    }
}
