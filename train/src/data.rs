//! Training examples: queries with their judged positives (and negatives), the texts of
//! the documents they name, and a seeded train/dev split of the queries.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, Result, bail};
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
            _ => bail!("give exactly one of a BEIR folder or a pairs JSONL"),
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
        let text = seine_engine::indexer::doc_text(&doc);
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

/// `{"query": ..., "positive": "..." | [...], "negatives": [...]}` per line; texts get
/// ids `L<line>p<i>` / `L<line>n<i>`.
fn from_pairs(path: &Path) -> Result<(Vec<Example>, HashMap<String, String>)> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut docs = HashMap::new();
    let mut examples = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let line = line.with_context(|| format!("{}:{n}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{n}: not a JSON object", path.display()))?;
        let texts = |key: &str| -> Result<Vec<String>> {
            match &v[key] {
                serde_json::Value::Null => Ok(Vec::new()),
                serde_json::Value::String(s) => Ok(vec![s.clone()]),
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str().map(str::to_string).with_context(|| {
                            format!("{}:{n}: {key} must hold strings", path.display())
                        })
                    })
                    .collect(),
                _ => bail!("{}:{n}: {key} must be a string or a list", path.display()),
            }
        };
        let query = v["query"]
            .as_str()
            .with_context(|| format!("{}:{n}: no \"query\" string", path.display()))?;
        let pos = texts("positive")?;
        if pos.is_empty() {
            bail!("{}:{n}: no \"positive\"", path.display());
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
}
