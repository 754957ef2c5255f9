//! Training examples: queries with their judged positives (and negatives), the texts of
//! the documents they name, and a seeded train/dev split of the queries.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use crate::bail;
use crate::error::{Context, Result};
use seine_datasets::beir::BeirDir;

use crate::config::DataConfig;
use crate::rng::Rng;

/// One query and its documents (ids into [`Data::docs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub qid: String,
    pub query: String,
    pub positives: Vec<String>,
    /// Hard negatives (given, or mined); never a judged-relevant document.
    pub negatives: Vec<String>,
}

/// Everything a run reads.
pub struct Data {
    pub train: Vec<Example>,
    pub dev: Vec<Example>,
    /// Document id → the text the encoder sees (`title text`).
    pub docs: HashMap<String, String>,
    /// Query id → documents judged relevant (grade > 0): never negatives.
    pub judged: HashMap<String, HashSet<String>>,
}

impl Data {
    pub fn load(cfg: &DataConfig, seed: u64) -> Result<Self> {
        let (examples, docs) = match (&cfg.beir, &cfg.pairs) {
            (Some(dir), None) => from_beir(dir, &cfg.split)?,
            (None, Some(path)) => from_pairs(path)?,
            _ => bail!("give exactly one of a BEIR folder or a pairs file"),
        };
        if examples.is_empty() {
            bail!("no training examples (no query with a relevant document)");
        }
        let judged = examples
            .iter()
            .map(|e| (e.qid.clone(), e.positives.iter().cloned().collect()))
            .collect();
        let (train, dev) = split(examples, cfg.dev_fraction, seed);
        Ok(Data {
            train,
            dev,
            docs,
            judged,
        })
    }
}

/// Holds out `fraction` of the queries (a seeded shuffle of the id-sorted list).
pub fn split(mut examples: Vec<Example>, fraction: f64, seed: u64) -> (Vec<Example>, Vec<Example>) {
    examples.sort_by(|a, b| a.qid.cmp(&b.qid));
    Rng::new(seed ^ SPLIT_SALT).shuffle(&mut examples);
    let n_dev = (examples.len() as f64 * fraction).round() as usize;
    let train = examples.split_off(n_dev.min(examples.len()));
    let mut dev = examples;
    dev.sort_by(|a, b| a.qid.cmp(&b.qid));
    (train, dev)
}

const SPLIT_SALT: u64 = 0x5eed_0fde;

fn from_beir(dir: &Path, split: &str) -> Result<(Vec<Example>, HashMap<String, String>)> {
    let beir = BeirDir::open(dir)?;
    let (queries, qrels) = beir.split(split)?;
    let mut docs = HashMap::new();
    for doc in beir.corpus()? {
        let doc = doc?;
        let text = seine_engine::encode::doc_text(&doc);
        docs.insert(doc.id, text);
    }
    let mut examples = Vec::new();
    for q in queries {
        let positives: Vec<String> = qrels
            .get(&q.id)
            .map(|j: &BTreeMap<String, i32>| {
                j.iter()
                    .filter(|(_, g)| **g > 0)
                    .map(|(d, _)| d.clone())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(missing) = positives.iter().find(|d| !docs.contains_key(*d)) {
            bail!(
                "{}: query {} is judged relevant to {missing}, which is not in corpus.jsonl",
                beir.qrels_path(split).display(),
                q.id
            );
        }
        if !positives.is_empty() {
            examples.push(Example {
                qid: q.id,
                query: q.text,
                positives,
                negatives: Vec::new(),
            });
        }
    }
    Ok((examples, docs))
}

/// `{"query": ..., "positive": "..." | [...], "negatives": [...]}` per JSONL line, or
/// the same as Parquet columns (`query` string, `positive` string or list of strings,
/// optional `negatives` list); texts get ids `L<n>p<i>` / `L<n>n<i>` (n = line or row).
fn from_pairs(path: &Path) -> Result<(Vec<Example>, HashMap<String, String>)> {
    let rows = if path.extension().is_some_and(|e| e == "parquet") {
        parquet_rows(path)?
    } else {
        jsonl_rows(path)?
    };
    let mut docs = HashMap::new();
    let mut examples = Vec::new();
    for (n, v) in rows {
        let at = format!("{}:{n}", path.display());
        let texts = |key: &str| -> Result<Vec<String>> {
            match &v[key] {
                serde_json::Value::Null => Ok(Vec::new()),
                serde_json::Value::String(s) => Ok(vec![s.clone()]),
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .with_context(|| format!("{at}: {key} must hold strings"))
                    })
                    .collect(),
                _ => bail!("{at}: {key} must be a string or a list"),
            }
        };
        let query = v["query"]
            .as_str()
            .with_context(|| format!("{at}: no \"query\" string"))?;
        let pos = texts("positive")?;
        if pos.is_empty() {
            bail!("{at}: no \"positive\"");
        }
        let mut ids = |kind: char, list: Vec<String>| -> Vec<String> {
            list.into_iter()
                .enumerate()
                .map(|(j, t)| {
                    let id = format!("L{n}{kind}{j}");
                    docs.insert(id.clone(), t);
                    id
                })
                .collect()
        };
        let positives = ids('p', pos);
        let negatives = ids('n', texts("negatives")?);
        examples.push(Example {
            qid: format!("L{n}"),
            query: query.to_string(),
            positives,
            negatives,
        });
    }
    Ok((examples, docs))
}

/// Non-empty JSONL lines as objects, numbered from 1.
fn jsonl_rows(path: &Path) -> Result<Vec<(usize, serde_json::Value)>> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let line = line.with_context(|| format!("{}:{n}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let v = serde_json::from_str(&line)
            .with_context(|| format!("{}:{n}: not a JSON object", path.display()))?;
        rows.push((n, v));
    }
    Ok(rows)
}

/// Parquet rows as objects (string and list-of-string columns), numbered from 1.
fn parquet_rows(path: &Path) -> Result<Vec<(usize, serde_json::Value)>> {
    use arrow_array::cast::AsArray;
    use arrow_schema::DataType;
    use serde_json::Value;
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .with_context(|| format!("{}: not a readable Parquet file", path.display()))?;
    let cell = |col: &dyn arrow_array::Array, r: usize| -> Value {
        if col.is_null(r) {
            return Value::Null;
        }
        match col.data_type() {
            DataType::Utf8 => Value::String(col.as_string::<i32>().value(r).to_string()),
            DataType::LargeUtf8 => Value::String(col.as_string::<i64>().value(r).to_string()),
            _ => Value::Null,
        }
    };
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.with_context(|| format!("{}", path.display()))?;
        let schema = batch.schema();
        for r in 0..batch.num_rows() {
            let mut obj = serde_json::Map::new();
            for (f, col) in schema.fields().iter().zip(batch.columns()) {
                let v = match col.data_type() {
                    DataType::List(_) if !col.is_null(r) => {
                        let inner = col.as_list::<i32>().value(r);
                        Value::Array((0..inner.len()).map(|j| cell(inner.as_ref(), j)).collect())
                    }
                    DataType::LargeList(_) if !col.is_null(r) => {
                        let inner = col.as_list::<i64>().value(r);
                        Value::Array((0..inner.len()).map(|j| cell(inner.as_ref(), j)).collect())
                    }
                    _ => cell(col.as_ref(), r),
                };
                obj.insert(f.name().clone(), v);
            }
            rows.push((rows.len() + 1, Value::Object(obj)));
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(q: &str) -> Example {
        Example {
            qid: q.into(),
            query: q.into(),
            positives: vec![],
            negatives: vec![],
        }
    }

    #[test]
    fn split_is_seeded_and_disjoint() {
        let all: Vec<Example> = (0..50).map(|i| ex(&format!("q{i}"))).collect();
        let (t1, d1) = split(all.clone(), 0.2, 7);
        let (t2, d2) = split(all.iter().rev().cloned().collect(), 0.2, 7);
        assert_eq!((t1.len(), d1.len()), (40, 10));
        assert_eq!(d1, d2, "the split does not depend on input order");
        assert_eq!(t1, t2);
        let (_, d3) = split(all, 0.2, 8);
        assert_ne!(d1, d3, "another seed, another split");
        assert!(d1.iter().all(|d| !t1.contains(d)));
    }

    #[test]
    fn pairs_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pairs.jsonl");
        std::fs::write(
            &p,
            "{\"query\":\"a\",\"positive\":\"b\"}\n{\"query\":\"c\"}\n",
        )
        .unwrap();
        let err = from_pairs(&p).unwrap_err().to_string();
        assert!(
            err.contains("pairs.jsonl:2") && err.contains("positive"),
            "{err}"
        );
    }

    #[test]
    fn parquet_pairs_read_like_jsonl() {
        use arrow_array::builder::{ListBuilder, StringBuilder};
        use arrow_array::{ArrayRef, RecordBatch, StringArray};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let q: ArrayRef = Arc::new(StringArray::from(vec!["q one", "q two"]));
        let p: ArrayRef = Arc::new(StringArray::from(vec!["pos one", "pos two"]));
        let mut nb = ListBuilder::new(StringBuilder::new());
        nb.values().append_value("neg a");
        nb.values().append_value("neg b");
        nb.append(true);
        nb.append(true);
        let n: ArrayRef = Arc::new(nb.finish());
        let batch =
            RecordBatch::try_from_iter([("query", q), ("positive", p), ("negatives", n)]).unwrap();
        let path = dir.path().join("pairs.parquet");
        let f = std::fs::File::create(&path).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let (ex, docs) = from_pairs(&path).unwrap();
        assert_eq!(ex.len(), 2);
        assert_eq!((ex[0].query.as_str(), ex[0].negatives.len()), ("q one", 2));
        assert!(ex[1].negatives.is_empty());
        assert_eq!(docs[&ex[1].positives[0]], "pos two");
        assert_eq!(docs[&ex[0].negatives[1]], "neg b");
    }
}
