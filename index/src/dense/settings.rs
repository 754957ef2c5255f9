//! A dense part's settings: the HNSW parameters, whether a generation gets a graph,
//! and how vectors are searched first (quantization).

use serde::{Deserialize, Serialize};

use super::quant::{DEFAULT_RESCORE, Quantization};
use crate::{Error, Result};

/// HNSW parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HnswParams {
    /// Links per node (hnsw_rs `max_nb_connection`).
    pub m: usize,
    pub ef_construction: usize,
    /// Default search beam width (overridable per search); measured at build time when
    /// the settings have a target recall.
    pub ef_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
            ef_search: 128,
        }
    }
}

impl HnswParams {
    /// hnsw_rs exits the process on bad parameters: check them first.
    pub fn validate(&self) -> Result<()> {
        if !(2..=256).contains(&self.m) {
            return Err(Error::InvalidSetting(format!(
                "hnsw m must be within 2..=256, got {}",
                self.m
            )));
        }
        if self.ef_construction == 0 || self.ef_search == 0 {
            return Err(Error::InvalidSetting(
                "hnsw ef_construction and ef_search must be >= 1".into(),
            ));
        }
        Ok(())
    }
}

/// Settings of the dense part of an index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseSettings {
    /// The query encoder: a model name or folder.
    pub model: String,
    /// Where the model was found at build time and the hash of its files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<crate::ModelId>,
    pub dim: usize,
    /// HNSW parameters; `None`: exact search only.
    pub hnsw: Option<HnswParams>,
    /// Build the graph only for generations of [`HNSW_AUTO_MIN_DOCS`] documents or
    /// more (kept across compactions, so an index that grows gets its graph).
    #[serde(default)]
    pub hnsw_auto: bool,
    /// Whether this generation has a graph (false when `hnsw_auto` skipped it).
    #[serde(default = "yes")]
    pub graph: bool,
    /// Codes searched first (then `rescore × k` candidates rescored in f32).
    #[serde(default, skip_serializing_if = "is_none")]
    pub quantization: Quantization,
    /// Candidates rescored per hit asked for, with quantization.
    #[serde(default = "default_rescore")]
    pub rescore: usize,
    /// The recall@10 the default beam is measured for at build time (`None`: the
    /// `ef_search` given is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_recall: Option<f64>,
    /// What that measurement found for this generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beam: Option<super::BeamFit>,
}

/// The recall@10 a build measures its default beam for, unless a beam is given.
pub const DEFAULT_TARGET_RECALL: f64 = 0.95;

fn is_none(q: &Quantization) -> bool {
    *q == Quantization::None
}

fn default_rescore() -> usize {
    DEFAULT_RESCORE
}

fn yes() -> bool {
    true
}

/// Whether a dense part gets an HNSW graph: `auto` (for generations of
/// [`HNSW_AUTO_MIN_DOCS`] documents or more), `on` or `off` (exact search only). The
/// one parser of the CLI's `--hnsw` and Python's `hnsw=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphMode {
    #[default]
    Auto,
    On,
    Off,
}

impl std::str::FromStr for GraphMode {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "auto" => Ok(GraphMode::Auto),
            "on" => Ok(GraphMode::On),
            "off" => Ok(GraphMode::Off),
            _ => Err(crate::Error::InvalidSetting(format!(
                "unknown HNSW mode {s:?} (expected auto, on or off)"
            ))),
        }
    }
}

impl std::fmt::Display for GraphMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GraphMode::Auto => "auto",
            GraphMode::On => "on",
            GraphMode::Off => "off",
        })
    }
}

impl DenseSettings {
    /// Settings for `model` with a graph of `params` as `mode` says (`dim` filled in
    /// once the encoder is loaded).
    pub fn new(model: &str, mode: GraphMode, params: HnswParams) -> Self {
        DenseSettings {
            model: model.to_string(),
            model_id: None,
            dim: 0,
            hnsw: (mode != GraphMode::Off).then_some(params),
            hnsw_auto: mode == GraphMode::Auto,
            graph: true,
            quantization: Quantization::None,
            rescore: DEFAULT_RESCORE,
            target_recall: Some(DEFAULT_TARGET_RECALL),
            beam: None,
        }
    }

    /// Checks the graph parameters and the target recall.
    pub fn validate(&self) -> Result<()> {
        if let Some(p) = &self.hnsw {
            p.validate()?;
        }
        match self.target_recall {
            Some(t) if !(t > 0.0 && t <= 1.0) => Err(Error::InvalidSetting(format!(
                "target recall must be within (0, 1], got {t}"
            ))),
            _ => Ok(()),
        }
    }

    /// Whether the generation these settings describe has an HNSW graph.
    pub fn has_graph(&self) -> bool {
        self.hnsw.is_some() && self.graph
    }

    /// Whether a generation of `docs` documents gets a graph.
    pub fn graph_for(&self, docs: u64) -> bool {
        self.hnsw.is_some() && !(self.hnsw_auto && docs < HNSW_AUTO_MIN_DOCS)
    }
}

/// Corpora smaller than this are searched exactly unless HNSW is forced.
pub const HNSW_AUTO_MIN_DOCS: u64 = 4096;
