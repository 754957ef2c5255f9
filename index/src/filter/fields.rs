//! Metadata fields (`seine index --fields year:integer,type:keyword`): the declared
//! fields of every document in tantivy fast fields (`<generation>/fields/`), read back
//! as columns, and a [`Filter`] evaluated over them into the [`DocSet`] every
//! retriever searches within.
//!
//! Values come from a document's metadata (the JSONL line's other fields, a `metadata`
//! object, Parquet's extra columns): keyword from a string (numbers and booleans as
//! their text), integer and float from a number (or a string holding one), date from a
//! `YYYY-MM-DD` string (a longer RFC 3339 timestamp is cut to its date). A missing or
//! `null` value is "no value"; any other value of the wrong type is an error naming
//! the document and the field.

use std::collections::HashMap;
use std::path::Path;

use seine_datasets::{Doc, Metadata};
use tantivy::schema::{FAST, Field, INDEXED, STRING, Schema};
use tantivy::{Index, ReloadPolicy, TantivyDocument};

use crate::filter::{FieldSpec, FieldType, FieldValue, Filter, Matcher, date_days};
use crate::{DocId, DocSet, Error, Result};

/// tantivy's name for the `i`-th declared field (user names may hold `.`, which
/// tantivy reads as a JSON path).
fn column_name(i: usize) -> String {
    format!("f{i}")
}

fn schema(specs: &[FieldSpec]) -> (Schema, Field, Vec<Field>) {
    let mut b = Schema::builder();
    let doc_id = b.add_u64_field("doc_id", FAST);
    let fields = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = column_name(i);
            match s.ty {
                FieldType::Keyword => b.add_text_field(&name, STRING | FAST),
                FieldType::Float => b.add_f64_field(&name, INDEXED | FAST),
                FieldType::Integer | FieldType::Date => b.add_i64_field(&name, INDEXED | FAST),
            }
        })
        .collect();
    (b.build(), doc_id, fields)
}

/// A document's value of `spec` from its metadata (see the module docs).
pub fn extract(spec: &FieldSpec, doc_id: &str, metadata: &Metadata) -> Result<Option<FieldValue>> {
    use serde_json::Value as J;
    let Some(v) = metadata.get(&spec.name).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bad = || {
        Error::InvalidSetting(format!(
            "document {doc_id:?}: field {:?} is declared {}, but its value is {v}",
            spec.name, spec.ty
        ))
    };
    let number = || -> Option<f64> {
        match v {
            J::Number(n) => n.as_f64(),
            J::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    Ok(Some(match spec.ty {
        FieldType::Keyword => FieldValue::Keyword(match v {
            J::String(s) => s.clone(),
            J::Number(_) | J::Bool(_) => v.to_string(),
            _ => return Err(bad()),
        }),
        FieldType::Float => FieldValue::Number(number().filter(|x| x.is_finite()).ok_or_else(bad)?),
        FieldType::Integer => {
            let x = number().ok_or_else(bad)?;
            if x.fract() != 0.0 || x.abs() > 9.0e15 {
                return Err(bad());
            }
            FieldValue::Number(x)
        }
        FieldType::Date => match v {
            J::String(s) => {
                FieldValue::Number(date_days(s.get(..10).unwrap_or(s)).ok_or_else(bad)? as f64)
            }
            _ => return Err(bad()),
        },
    }))
}

/// Writes the declared fields of each document.
pub struct FieldsWriter {
    writer: tantivy::IndexWriter,
    specs: Vec<FieldSpec>,
    doc_id: Field,
    fields: Vec<Field>,
}

impl FieldsWriter {
    pub fn create(dir: &Path, specs: &[FieldSpec]) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let (schema, doc_id, fields) = schema(specs);
        let index = Index::create_in_dir(dir, schema)?;
        let writer = index.writer_with_num_threads(1, 32_000_000)?;
        Ok(FieldsWriter {
            writer,
            specs: specs.to_vec(),
            doc_id,
            fields,
        })
    }

    /// Stores `doc`'s declared fields; a value of the wrong type is an error naming
    /// the document and field (nothing of the build is kept).
    pub fn add(&mut self, id: DocId, doc: &Doc) -> Result<()> {
        let mut d = TantivyDocument::default();
        d.add_u64(self.doc_id, u64::from(id));
        for (spec, &f) in self.specs.iter().zip(&self.fields) {
            match (extract(spec, &doc.id, &doc.metadata)?, spec.ty) {
                (None, _) => {}
                (Some(FieldValue::Keyword(s)), _) => d.add_text(f, s),
                (Some(FieldValue::Number(x)), FieldType::Float) => d.add_f64(f, x),
                (Some(FieldValue::Number(x)), _) => d.add_i64(f, x as i64),
            }
        }
        self.writer.add_document(d)?;
        Ok(())
    }

    pub fn commit(mut self) -> Result<()> {
        self.writer.commit()?;
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}

/// One declared field's values by [`DocId`].
enum Column {
    /// Ordinals into `dict`; `u32::MAX` = no value.
    Keyword { ords: Vec<u32>, dict: Vec<String> },
    /// `NaN` = no value (integers and dates as days: exact in f64).
    Number(Vec<f64>),
}

impl Column {
    fn value(&self, doc: usize) -> Option<FieldValue> {
        match self {
            Column::Keyword { ords, dict } => match ords.get(doc) {
                Some(&o) if o != u32::MAX => Some(FieldValue::Keyword(dict[o as usize].clone())),
                _ => None,
            },
            Column::Number(v) => v
                .get(doc)
                .copied()
                .filter(|x| !x.is_nan())
                .map(FieldValue::Number),
        }
    }
}

/// The declared fields of a generation's documents, in memory.
pub struct FieldStore {
    specs: Vec<FieldSpec>,
    columns: Vec<Column>,
}

impl FieldStore {
    /// Reads `dir` (written by [`FieldsWriter`] for `len` documents).
    pub fn open(dir: &Path, specs: &[FieldSpec], len: usize) -> Result<Self> {
        let index = Index::open_in_dir(dir)?;
        // The stored columns must be the declared ones (a hand-edited manifest that
        // retypes or adds a field is refused, not read as something else).
        let (want, _, _) = schema(specs);
        let have = index.schema();
        for (name, entry) in want.fields().map(|(f, e)| (e.name(), (f, e))) {
            let same = have
                .get_field(name)
                .ok()
                .map(|f| have.get_field_entry(f).field_type().value_type())
                == Some(entry.1.field_type().value_type());
            if !same {
                return Err(Error::NotAnIndex {
                    path: dir.to_path_buf(),
                    message: format!(
                        "the stored metadata columns do not match the manifest's fields ({})",
                        specs
                            .iter()
                            .map(|s| format!("{}:{}", s.name, s.ty))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let mut columns: Vec<Column> = specs
            .iter()
            .map(|s| match s.ty {
                FieldType::Keyword => Column::Keyword {
                    ords: vec![u32::MAX; len],
                    dict: Vec::new(),
                },
                _ => Column::Number(vec![f64::NAN; len]),
            })
            .collect();
        let mut interned: Vec<HashMap<String, u32>> = vec![HashMap::new(); specs.len()];
        for seg in searcher.segment_readers() {
            let ff = seg.fast_fields();
            let ids = ff.u64("doc_id")?;
            let local_ids: Vec<usize> = (0..seg.max_doc())
                .map(|d| ids.first(d).map(|v| v as usize).filter(|&v| v < len))
                .collect::<Option<_>>()
                .ok_or_else(|| Error::Internal("metadata row without a valid doc_id".into()))?;
            for (i, (spec, col)) in specs.iter().zip(&mut columns).enumerate() {
                let name = column_name(i);
                match col {
                    Column::Keyword { ords, dict } => {
                        let Some(c) = ff.str(&name)? else { continue };
                        let mut s = String::new();
                        for (local, &doc) in local_ids.iter().enumerate() {
                            if let Some(o) = c.term_ords(local as u32).next() {
                                s.clear();
                                c.ord_to_str(o, &mut s)
                                    .map_err(|e| Error::Internal(format!("metadata: {e}")))?;
                                let n = dict.len() as u32;
                                let ord = *interned[i].entry(s.clone()).or_insert(n);
                                if ord == n {
                                    dict.push(s.clone());
                                }
                                ords[doc] = ord;
                            }
                        }
                    }
                    Column::Number(v) => {
                        let get: Box<dyn Fn(u32) -> Option<f64>> = if spec.ty == FieldType::Float {
                            let c = ff.f64(&name)?;
                            Box::new(move |d| c.first(d))
                        } else {
                            let c = ff.i64(&name)?;
                            Box::new(move |d| c.first(d).map(|x| x as f64))
                        };
                        for (local, &doc) in local_ids.iter().enumerate() {
                            if let Some(x) = get(local as u32) {
                                v[doc] = x;
                            }
                        }
                    }
                }
            }
        }
        Ok(FieldStore {
            specs: specs.to_vec(),
            columns,
        })
    }

    /// Generation documents this store covers.
    pub fn len(&self) -> usize {
        match self.columns.first() {
            Some(Column::Keyword { ords, .. }) => ords.len(),
            Some(Column::Number(v)) => v.len(),
            None => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `doc`'s declared fields as metadata (dates as `YYYY-MM-DD`): what compaction
    /// writes back and what a hit shows.
    pub fn metadata(&self, doc: DocId) -> Metadata {
        let mut m = Metadata::new();
        for (spec, col) in self.specs.iter().zip(&self.columns) {
            if let Some(v) = col.value(doc as usize) {
                m.insert(spec.name.clone(), to_json(spec.ty, v));
            }
        }
        m
    }

    /// The generation's documents `filter` allows, over `universe` ≥ [`Self::len`]
    /// slots (documents past the generation are left for the caller).
    pub fn allowed(&self, filter: &Filter, universe: usize) -> DocSet {
        let n = self.len().min(universe);
        let plan = Plan::compile(filter, self);
        let mut set = DocSet::empty(universe);
        for d in 0..n {
            if plan.matches(d) {
                set.insert(d as DocId);
            }
        }
        set
    }
}

/// A metadata value back as JSON.
pub fn to_json(ty: FieldType, v: FieldValue) -> serde_json::Value {
    match (ty, v) {
        (_, FieldValue::Keyword(s)) => serde_json::Value::String(s),
        (FieldType::Date, FieldValue::Number(x)) => {
            serde_json::Value::String(seine_datasets::civil_date(x as i64))
        }
        (FieldType::Integer, FieldValue::Number(x)) => serde_json::json!(x as i64),
        (_, FieldValue::Number(x)) => serde_json::json!(x),
    }
}

/// A filter resolved against the columns: keyword conditions become a table over the
/// dictionary, so a document costs one lookup per condition; numeric conditions are
/// [`Matcher`]s (`IN` lists as hash sets). Each leaf's verdict comes from the filter's
/// own [`Matcher`], so semantics (missing values, `!=`, `NOT IN`) are the filter's.
enum Plan<'a> {
    Keyword {
        ords: &'a [u32],
        table: Vec<bool>,
        missing: bool,
    },
    Number {
        values: &'a [f64],
        leaf: Matcher,
        missing: bool,
    },
    /// A field this store lacks: every document has no value.
    Constant(bool),
    And(Vec<Plan<'a>>),
    Or(Vec<Plan<'a>>),
    Not(Box<Plan<'a>>),
}

impl<'a> Plan<'a> {
    fn compile(f: &Filter, store: &'a FieldStore) -> Plan<'a> {
        let leaf = |field: &str| {
            let m = Matcher::compile(f);
            let missing = m.matches(&|_| None);
            let Some(i) = store.specs.iter().position(|s| s.name == field) else {
                return Plan::Constant(missing);
            };
            match &store.columns[i] {
                Column::Keyword { ords, dict } => Plan::Keyword {
                    ords,
                    table: dict
                        .iter()
                        .map(|s| m.matches(&|_| Some(FieldValue::Keyword(s.clone()))))
                        .collect(),
                    missing,
                },
                Column::Number(values) => Plan::Number {
                    values,
                    leaf: m,
                    missing,
                },
            }
        };
        match f {
            Filter::Cmp { field, .. } | Filter::In { field, .. } => leaf(field),
            Filter::And(xs) => Plan::And(xs.iter().map(|x| Plan::compile(x, store)).collect()),
            Filter::Or(xs) => Plan::Or(xs.iter().map(|x| Plan::compile(x, store)).collect()),
            Filter::Not(x) => Plan::Not(Box::new(Plan::compile(x, store))),
        }
    }

    fn matches(&self, d: usize) -> bool {
        match self {
            Plan::Keyword {
                ords,
                table,
                missing,
            } => match ords[d] {
                u32::MAX => *missing,
                o => table[o as usize],
            },
            Plan::Number {
                values,
                leaf,
                missing,
            } => match values[d] {
                x if x.is_nan() => *missing,
                x => leaf.matches(&|_| Some(FieldValue::Number(x))),
            },
            Plan::Constant(b) => *b,
            Plan::And(xs) => xs.iter().all(|x| x.matches(d)),
            Plan::Or(xs) => xs.iter().any(|x| x.matches(d)),
            Plan::Not(x) => !x.matches(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(v: serde_json::Value) -> Metadata {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn values_are_typed_as_declared() {
        let spec = |s: &str| s.parse::<FieldSpec>().unwrap();
        let m = meta(serde_json::json!({"y": 2015, "s": "2016", "f": 1.5, "k": 7,
            "d": "2015-03-01T10:00:00Z", "n": null, "bad": [1]}));
        let get = |s: &str| extract(&spec(s), "doc", &m);
        assert_eq!(get("y:integer").unwrap(), Some(FieldValue::Number(2015.0)));
        assert_eq!(get("s:integer").unwrap(), Some(FieldValue::Number(2016.0)));
        assert_eq!(get("f:float").unwrap(), Some(FieldValue::Number(1.5)));
        assert_eq!(
            get("k:keyword").unwrap(),
            Some(FieldValue::Keyword("7".into()))
        );
        let d = date_days("2015-03-01").unwrap() as f64;
        assert_eq!(get("d:date").unwrap(), Some(FieldValue::Number(d)));
        assert_eq!(get("n:integer").unwrap(), None);
        assert_eq!(get("missing:keyword").unwrap(), None);
        for bad in ["f:integer", "bad:keyword", "y:date", "k:date"] {
            let e = get(bad).unwrap_err().to_string();
            assert!(e.contains("\"doc\"") && e.contains(bad.split(':').next().unwrap()));
        }
    }

    #[test]
    fn dates_round_trip() {
        for s in [
            "1970-01-01",
            "2000-02-29",
            "1969-12-31",
            "2024-12-31",
            "1600-03-01",
        ] {
            assert_eq!(seine_datasets::civil_date(date_days(s).unwrap()), s);
        }
        for d in (-700_000..800_000).step_by(997) {
            assert_eq!(date_days(&seine_datasets::civil_date(d)), Some(d));
        }
    }

    /// The compiled plan over stored columns agrees with [`Filter::matches`] on the
    /// documents' own values, missing values included.
    #[test]
    fn stored_columns_filter_like_the_documents() {
        let t = tempfile::tempdir().unwrap();
        let specs: Vec<FieldSpec> = ["year:integer", "kind:keyword", "at:date", "w:float"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let kinds = ["a", "b", "c"];
        let docs: Vec<Doc> = (0..300u64)
            .map(|i| {
                let mut m = Metadata::new();
                if i % 7 != 0 {
                    m.insert("year".into(), serde_json::json!(1990 + i % 30));
                }
                if i % 5 != 0 {
                    m.insert("kind".into(), serde_json::json!(kinds[(i % 3) as usize]));
                }
                let at = format!("20{:02}-{:02}-01", i % 25, 1 + i % 12);
                m.insert("at".into(), serde_json::json!(at));
                m.insert("w".into(), serde_json::json!(i as f64 / 7.0));
                Doc {
                    id: i.to_string(),
                    metadata: m,
                    ..Doc::default()
                }
            })
            .collect();
        let mut w = FieldsWriter::create(t.path(), &specs).unwrap();
        for (i, d) in docs.iter().enumerate() {
            w.add(i as DocId, d).unwrap();
        }
        w.commit().unwrap();
        let store = FieldStore::open(t.path(), &specs, docs.len()).unwrap();
        for expr in [
            "year >= 2005",
            "year != 2000",
            "kind IN (\"a\", \"c\")",
            "kind NOT IN (\"a\")",
            "NOT kind = \"b\" AND year < 2010",
            "at >= \"2010-06-01\" OR w > 30.5",
            "kind > \"a\"",
        ] {
            let f: Filter = expr.parse().unwrap();
            f.validate(&specs).unwrap();
            let got = store.allowed(&f, docs.len() + 5);
            for (i, d) in docs.iter().enumerate() {
                let want = f.matches(&|name| {
                    let s = specs.iter().find(|s| s.name == name)?;
                    extract(s, &d.id, &d.metadata).unwrap()
                });
                assert_eq!(got.contains(i as DocId), want, "{expr}: doc {i}");
            }
            assert!(!got.contains(docs.len() as DocId), "past the generation");
        }
        let m = store.metadata(3);
        assert_eq!(m["year"], 1993);
        assert_eq!(m["at"], "2003-04-01");
    }
}
