//! The one description of a training run: read from a TOML file, overridden by CLI
//! flags (which only parse into this), and written next to the output as
//! `train_config.toml`.

use std::path::{Path, PathBuf};

use crate::bail;
use crate::error::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::loss::LossConfig;
use crate::optim::OptimConfig;

/// What trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// The dense bi-encoder (pooled, normalized vectors; cosine scores).
    #[default]
    Dense,
    /// A ColBERT head (projection to `colbert_dim`) on the encoder; MaxSim scores.
    Colbert,
}

impl std::str::FromStr for Objective {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "dense" => Ok(Objective::Dense),
            "colbert" | "multi" => Ok(Objective::Colbert),
            _ => bail!("unknown objective {s:?} (expected dense or colbert)"),
        }
    }
}

/// Where examples come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// A BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) ...
    pub beir: Option<PathBuf>,
    /// ... its training split ...
    pub split: String,
    /// ... or a JSONL / Parquet of `{"query": ..., "positive": ... | [...], "negatives": [...]}`.
    pub pairs: Option<PathBuf>,
    /// Fraction of the training queries held out as the dev split (model selection).
    pub dev_fraction: f64,
}

/// Hard negatives mined by seine from an index of the corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MineConfig {
    /// A seine index of the training corpus (`seine index`); none = no mining.
    pub index: Option<PathBuf>,
    /// Retrievers of the mining search, as in `seine search --retriever` (`bm25`,
    /// `dense`, `bm25+dense`, ...).
    pub retriever: String,
    /// Negatives are taken from ranks `[from, to)` (0-based) of that search.
    pub from: usize,
    pub to: usize,
    /// Hard negatives per training example.
    pub per_example: usize,
    /// Drop mined negatives the sieve flags as false negatives.
    pub filter: bool,
    /// The sieve's temperature and margin (see `loss::sieve`).
    pub filter_temperature: f64,
    pub filter_margin: f64,
}

impl Default for MineConfig {
    fn default() -> Self {
        MineConfig {
            index: None,
            retriever: "bm25".into(),
            from: 3,
            to: 30,
            per_example: 1,
            filter: false,
            filter_temperature: 0.05,
            filter_margin: 0.0,
        }
    }
}

/// A training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// The model folder to start from.
    pub model: PathBuf,
    /// Where the trained model folder goes (checkpoints under it).
    pub out: PathBuf,
    pub objective: Objective,
    /// Encoder layers that train (from the top); 0 = all, embeddings included.
    pub trainable_layers: usize,
    /// ColBERT projection size.
    pub colbert_dim: usize,
    pub data: DataConfig,
    pub negatives: MineConfig,
    pub loss: LossConfig,
    pub optim: OptimConfig,
    pub epochs: usize,
    /// Queries per step (in-batch negatives are the other queries' documents).
    pub batch_size: usize,
    /// Steps whose gradients are summed before an update.
    pub grad_accum: usize,
    /// Stop after this many updates (0 = the epochs decide).
    pub max_steps: usize,
    /// Token limits while training (the model's own maximum when larger).
    pub max_query_len: usize,
    pub max_doc_len: usize,
    pub seed: u64,
    /// Write a checkpoint every this many updates (0 = at epoch ends only).
    pub checkpoint_every: usize,
    /// Evaluate on the dev split every this many updates (0 = at epoch ends only).
    pub eval_every: usize,
    /// Dev evaluation of ColBERT heads reranks this many first-stage candidates.
    pub dev_candidates: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: PathBuf::new(),
            out: PathBuf::new(),
            objective: Objective::Dense,
            trainable_layers: 0,
            colbert_dim: 128,
            data: DataConfig {
                split: "train".into(),
                dev_fraction: 0.1,
                ..Default::default()
            },
            negatives: MineConfig::default(),
            loss: LossConfig::default(),
            optim: OptimConfig::default(),
            epochs: 1,
            batch_size: 16,
            grad_accum: 1,
            max_steps: 0,
            max_query_len: 64,
            max_doc_len: 256,
            seed: 42,
            checkpoint_every: 0,
            eval_every: 0,
            dev_candidates: 50,
        }
    }
}

impl TrainConfig {
    /// Reads a TOML file (unknown keys are errors).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{}", path.display()))
    }

    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    /// Checks the settings before anything runs.
    pub fn validate(&self) -> Result<()> {
        if self.model.as_os_str().is_empty() {
            bail!("no model to train (--model or `model` in the config)");
        }
        if self.out.as_os_str().is_empty() {
            bail!("no output folder (--out or `out` in the config)");
        }
        if self.data.beir.is_none() == self.data.pairs.is_none() {
            bail!("give exactly one of a BEIR folder (--beir) or a pairs file (--pairs)");
        }
        if !(0.0..1.0).contains(&self.data.dev_fraction) {
            bail!("dev_fraction must be in [0, 1)");
        }
        if self.batch_size < 1 || self.grad_accum < 1 {
            bail!("batch_size and grad_accum must be ≥ 1");
        }
        if self.epochs < 1 && self.max_steps == 0 {
            bail!("nothing to do: epochs 0 and no max_steps");
        }
        if self.loss.temperature <= 0.0 {
            bail!("temperature must be > 0");
        }
        let n = &self.negatives;
        if n.index.is_some() && n.from >= n.to {
            bail!("negative ranks [{}, {}) are empty", n.from, n.to);
        }
        if self.max_query_len < 4 || self.max_doc_len < 4 {
            bail!("max_query_len and max_doc_len must be ≥ 4");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trips_and_rejects_unknown_keys() {
        let c = TrainConfig {
            model: "m".into(),
            out: "o".into(),
            ..Default::default()
        };
        let back: TrainConfig = toml::from_str(&c.to_toml().unwrap()).unwrap();
        assert_eq!(back, c);
        let partial: TrainConfig =
            toml::from_str("model = \"m\"\n[loss]\nccr_weight = 0.5\n").unwrap();
        assert_eq!(partial.loss.ccr_weight, 0.5);
        assert_eq!(partial.loss.temperature, 0.05);
        let err = toml::from_str::<TrainConfig>("[loss]\nccr = 0.5\n").unwrap_err();
        assert!(err.to_string().contains("ccr"), "{err}");
    }
}
