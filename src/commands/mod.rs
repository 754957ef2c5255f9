//! One module per subcommand; shared argument groups here.

pub mod bench;
pub mod bench_encode;
pub mod convert;
pub mod embed;
pub mod eval;
pub mod index;
pub mod search;
pub mod serve;

use std::path::{Path, PathBuf};

use anyhow::Context;
use seine_datasets::jsonl::JsonlFields;
use seine_datasets::{CorpusFormat, CorpusOptions, open_corpus};
use seine_engine::indexer::{
    DenseSource, IndexStats, PrecomputedSparse, PrecomputedVectors, SparseSource, index_corpus,
};
use seine_engine::model::{DeviceSpec, ModelDir, resolve_device, resolve_model};
use seine_engine::{DenseEncoder, Encoder, Pruning, SpladeEncoder};
use seine_index::lexical::{Bm25Mode, Bm25Params};
use seine_index::sparse::DEFAULT_IMPACT_SCALE;
use seine_index::{
    BuildOptions, DenseSettings, HnswParams, IndexDir, IndexWriter, LexicalSettings, SourceInfo,
    SparseSettings,
};

use crate::progress::DocProgress;

/// How to read a corpus.
#[derive(clap::Args, Debug, Clone)]
pub struct CorpusArgs {
    /// Input format (guessed from the path when omitted).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// JSONL: field holding the document id [default: "_id", then "id"].
    #[arg(long)]
    pub id_field: Option<String>,
    /// JSONL: field holding the title.
    #[arg(long, default_value = "title")]
    pub title_field: String,
    /// JSONL: field holding the text.
    #[arg(long, default_value = "text")]
    pub text_field: String,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum FormatArg {
    Beir,
    Jsonl,
    Parquet,
    Textdir,
}

impl CorpusArgs {
    pub fn options(&self) -> CorpusOptions {
        let mut fields = JsonlFields::default();
        if let Some(id) = &self.id_field {
            fields.id = vec![id.clone()];
        }
        fields.title = Some(self.title_field.clone());
        fields.text = self.text_field.clone();
        CorpusOptions {
            format: self.format.map(|f| match f {
                FormatArg::Beir => CorpusFormat::Beir,
                FormatArg::Jsonl => CorpusFormat::Jsonl,
                FormatArg::Parquet => CorpusFormat::Parquet,
                FormatArg::Textdir => CorpusFormat::TextDir,
            }),
            fields,
        }
    }
}

/// BM25 settings.
#[derive(clap::Args, Debug, Clone)]
pub struct Bm25Args {
    /// Which fields BM25 indexes: `flat` (title + text as one field, the default, as
    /// Pyserini's main BEIR baseline) or `multifield` (title and text separately).
    #[arg(long, default_value = "flat")]
    pub bm25_mode: Bm25Mode,
    /// BM25 k1 (term-frequency saturation).
    #[arg(long, default_value_t = Bm25Params::default().k1)]
    pub k1: f32,
    /// BM25 b (length normalization).
    #[arg(long, default_value_t = Bm25Params::default().b)]
    pub b: f32,
}

impl Bm25Args {
    pub fn params(&self) -> Bm25Params {
        Bm25Params {
            k1: self.k1,
            b: self.b,
        }
    }

    pub fn settings(&self) -> LexicalSettings {
        LexicalSettings::new(self.bm25_mode, self.params())
    }
}

/// Dense retrieval settings.
#[derive(clap::Args, Debug, Clone)]
pub struct DenseArgs {
    /// Dense bi-encoder: a model folder or a name under models/ (e.g. `minilm`).
    #[arg(long)]
    pub dense: Option<String>,
    /// HNSW graph: `auto` builds it for corpora of 4,096 documents or more, `off`
    /// searches exactly.
    #[arg(long, value_enum, default_value = "auto")]
    pub hnsw: HnswMode,
    /// HNSW links per node.
    #[arg(long, default_value_t = HnswParams::default().m)]
    pub hnsw_m: usize,
    /// HNSW beam width while building.
    #[arg(long, default_value_t = HnswParams::default().ef_construction)]
    pub ef_construction: usize,
    /// HNSW beam width while searching (default stored in the index).
    #[arg(long, default_value_t = HnswParams::default().ef_search)]
    pub ef_search: usize,
    /// Dense vectors made elsewhere: a Parquet file with `id` and `embedding`
    /// (FixedSizeList<Float32>) for every document; --dense names the query encoder.
    #[arg(long, requires = "dense")]
    pub dense_vectors: Option<PathBuf>,
    /// Device for the encoders: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HnswMode {
    Auto,
    On,
    Off,
}

impl DenseArgs {
    /// No dense part.
    pub fn none() -> Self {
        DenseArgs {
            dense: None,
            hnsw: HnswMode::Auto,
            hnsw_m: HnswParams::default().m,
            ef_construction: HnswParams::default().ef_construction,
            ef_search: HnswParams::default().ef_search,
            dense_vectors: None,
            device: DeviceSpec::Cpu,
        }
    }

    /// Loads the dense encoder, if one was asked for.
    pub fn encoder(&self) -> anyhow::Result<Option<DenseEncoder>> {
        let Some(name) = &self.dense else {
            return Ok(None);
        };
        let device = resolve_device(self.device)?;
        let dir = ModelDir::open(&resolve_model(name)?)?;
        Ok(Some(DenseEncoder::load(&dir, &device)?))
    }

    pub fn hnsw_params(&self) -> HnswParams {
        HnswParams {
            m: self.hnsw_m,
            ef_construction: self.ef_construction,
            ef_search: self.ef_search,
        }
    }

    fn settings(&self, enc: &DenseEncoder) -> DenseSettings {
        DenseSettings {
            model: self.dense.clone().unwrap_or_default(),
            dim: enc.dim(),
            hnsw: (self.hnsw != HnswMode::Off).then(|| self.hnsw_params()),
        }
    }
}

/// Late-interaction token vectors in the index.
#[derive(clap::Args, Debug, Clone)]
pub struct MultiArgs {
    /// Token vectors for MaxSim reranking: a ColBERT checkpoint (v2 or PyLate layout),
    /// or a dense model's normalized token outputs (e.g. `minilm`; with --dense of the
    /// same model, one forward pass gives both).
    #[arg(long)]
    pub multi: Option<String>,
    /// Stored precision of the token vectors.
    #[arg(long, default_value = "f16")]
    pub multi_dtype: seine_index::VectorDtype,
}

impl MultiArgs {
    pub fn none() -> Self {
        MultiArgs {
            multi: None,
            multi_dtype: seine_index::VectorDtype::F16,
        }
    }
}

/// Late-interaction reranking of the first stage.
#[derive(clap::Args, Debug, Clone)]
pub struct RerankArgs {
    /// Rerank the first stage's candidates: maxsim (ColBERT) or flipr (Baleen's focused
    /// late interaction: the top --flipr-k query-token maxima).
    #[arg(long)]
    pub rerank: Option<String>,
    /// Candidates reranked.
    #[arg(long, default_value_t = 100)]
    pub rerank_depth: usize,
    #[arg(long, default_value_t = 8)]
    pub flipr_k: usize,
}

impl RerankArgs {
    pub fn rerank(&self) -> anyhow::Result<Option<seine_engine::Rerank>> {
        let reduce = match self.rerank.as_deref() {
            None => return Ok(None),
            Some("maxsim") => seine_engine::Reduce::MaxSim,
            Some("flipr") => seine_engine::Reduce::Flipr { k: self.flipr_k },
            Some(other) => anyhow::bail!("unknown rerank {other:?} (expected maxsim or flipr)"),
        };
        Ok(Some(seine_engine::Rerank {
            depth: self.rerank_depth,
            reduce,
        }))
    }
}

/// How `a+b` retriever lists are fused.
#[derive(clap::Args, Debug, Clone)]
pub struct FusionArgs {
    /// Fusion of several retrievers: rrf (reciprocal rank), minmax or zscore
    /// (normalized weighted sums).
    #[arg(long, default_value = "rrf")]
    pub fusion: String,
    /// One weight per fused retriever, in the order named (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub weights: Vec<f32>,
    /// RRF constant k.
    #[arg(long, default_value_t = seine_engine::fusion::DEFAULT_RRF_K)]
    pub rrf_k: f32,
    /// Hits each retriever contributes to the fusion (at least the hits asked for).
    #[arg(long, default_value_t = seine_engine::fusion::DEFAULT_FUSION_DEPTH)]
    pub fusion_depth: usize,
}

impl FusionArgs {
    pub fn fusion(&self) -> anyhow::Result<seine_engine::Fusion> {
        let mut method: seine_engine::FusionMethod = self.fusion.parse()?;
        if let seine_engine::FusionMethod::Rrf { k } = &mut method {
            *k = self.rrf_k;
        }
        Ok(seine_engine::Fusion {
            method,
            weights: self.weights.clone(),
            depth: self.fusion_depth,
        })
    }
}

/// The learned-sparse (SPLADE) part of an index.
#[derive(clap::Args, Debug, Clone)]
pub struct SparseArgs {
    /// SPLADE model: a folder or a name under models/ (e.g. `splade-tiny`).
    #[arg(long)]
    pub sparse: Option<String>,
    /// A separate SPLADE query encoder (default: the --sparse model).
    #[arg(long, requires = "sparse")]
    pub sparse_query_model: Option<String>,
    /// Sparse vectors made elsewhere: Parquet with `id`, `terms` (list<utf8>) and
    /// `weights` (list<float32>) for every document; --sparse names the query encoder.
    #[arg(long, requires = "sparse")]
    pub sparse_vectors: Option<PathBuf>,
    /// Keep at most this many terms per document (the heaviest) [default: all].
    #[arg(long)]
    pub sparse_top_k: Option<usize>,
    /// Drop document terms whose weight is not above this.
    #[arg(long, default_value_t = 0.0)]
    pub sparse_threshold: f32,
    /// Impact quantization: impact = round(weight × scale).
    #[arg(long, default_value_t = DEFAULT_IMPACT_SCALE)]
    pub impact_scale: f32,
}

impl SparseArgs {
    pub fn none() -> Self {
        SparseArgs {
            sparse: None,
            sparse_query_model: None,
            sparse_vectors: None,
            sparse_top_k: None,
            sparse_threshold: 0.0,
            impact_scale: DEFAULT_IMPACT_SCALE,
        }
    }

    pub fn pruning(&self) -> Pruning {
        Pruning {
            top_k: self.sparse_top_k,
            threshold: self.sparse_threshold,
        }
    }

    /// Loads the SPLADE encoder, if one was asked for (document pruning applied).
    pub fn encoder(&self, device: DeviceSpec) -> anyhow::Result<Option<SpladeEncoder>> {
        let Some(name) = &self.sparse else {
            return Ok(None);
        };
        if self.sparse_top_k == Some(0) {
            anyhow::bail!("--sparse-top-k must be at least 1");
        }
        let device = resolve_device(device)?;
        let dir = ModelDir::open(&resolve_model(name)?)?;
        let qdir = self
            .sparse_query_model
            .as_deref()
            .map(|q| resolve_model(q).and_then(|p| ModelDir::open(&p)))
            .transpose()?;
        Ok(Some(
            SpladeEncoder::load(&dir, qdir.as_ref(), &device)?
                .with_pruning(self.pruning(), Pruning::default()),
        ))
    }

    fn settings(&self) -> Option<SparseSettings> {
        self.sparse.as_ref().map(|m| SparseSettings {
            model: m.clone(),
            query_model: self.sparse_query_model.clone(),
            scale: self.impact_scale,
            top_k: self.sparse_top_k,
            threshold: self.sparse_threshold,
        })
    }
}

fn format_name(path: &Path, opts: &seine_datasets::CorpusOptions) -> String {
    let f = opts.format.or_else(|| CorpusFormat::detect(path).ok());
    match f {
        Some(CorpusFormat::Beir) => "beir",
        Some(CorpusFormat::Jsonl) => "jsonl",
        Some(CorpusFormat::Parquet) => "parquet",
        Some(CorpusFormat::TextDir) => "textdir",
        None => "unknown",
    }
    .to_string()
}

/// The encoded parts of an index to build.
#[derive(Clone, Copy)]
pub struct Parts<'a> {
    pub dense: &'a DenseArgs,
    pub sparse: &'a SparseArgs,
    pub multi: &'a MultiArgs,
}

/// Indexes `corpus` into `out` with a progress bar; returns the committed index.
pub fn build_index(
    corpus: &Path,
    out: &Path,
    corpus_opts: &CorpusOptions,
    lexical: LexicalSettings,
    parts: Parts<'_>,
    overwrite: bool,
    threads: usize,
) -> anyhow::Result<(IndexDir, IndexStats)> {
    let Parts {
        dense,
        sparse,
        multi,
    } = parts;
    let mut docs = open_corpus(corpus, corpus_opts)?;
    let encoder = dense.encoder()?.map(std::sync::Arc::new);
    // Token vectors: from the dense model's forward pass when it is the same model.
    let shares =
        multi.multi.is_some() && multi.multi == dense.dense && dense.dense_vectors.is_none();
    let multi_enc = match (&multi.multi, shares) {
        (Some(_), true) => Some(seine_engine::MultiVectorEncoder::from_dense(
            encoder.clone().expect("dense encoder loaded"),
        )),
        (Some(name), false) => {
            let device = resolve_device(dense.device)?;
            let dir = ModelDir::open(&resolve_model(name)?)?;
            Some(seine_engine::MultiVectorEncoder::from_dense(
                std::sync::Arc::new(DenseEncoder::load(&dir, &device)?),
            ))
        }
        (None, _) => None,
    };
    // Imported sparse vectors need no document encoder.
    let splade = match &sparse.sparse_vectors {
        Some(_) => None,
        None => sparse.encoder(dense.device)?,
    };
    let imported_sparse = match &sparse.sparse_vectors {
        Some(path) => Some(PrecomputedSparse::new(
            seine_datasets::sparse_io::read_sparse(path)?,
        )?),
        None => None,
    };
    let opts = BuildOptions {
        source: SourceInfo::of(corpus, &format_name(corpus, corpus_opts)),
        lexical: Some(lexical),
        dense: encoder.as_ref().map(|e| dense.settings(e)),
        sparse: sparse.settings(),
        multi: multi_enc.as_ref().map(|m| seine_index::MultiSettings {
            model: multi.multi.clone().unwrap_or_default(),
            dim: m.dim(),
            dtype: multi.multi_dtype,
            tokens: 0,
        }),
        hnsw_auto: dense.hnsw == HnswMode::Auto,
        overwrite,
        command: Some(std::env::args().collect::<Vec<_>>().join(" ")),
        threads,
    };
    let writer = IndexWriter::create(out, opts)?;
    let bar = DocProgress::new("indexing");
    let vectors = match &dense.dense_vectors {
        Some(path) => {
            let (ids, dim, data) = seine_datasets::embeddings::read_embeddings(path)?;
            let want = encoder.as_ref().map_or(dim, |e| e.dim());
            if dim != want {
                anyhow::bail!(
                    "{}: {dim}-d vectors, but the query encoder gives {want}-d vectors",
                    path.display()
                );
            }
            Some(PrecomputedVectors::new(ids, dim, data)?)
        }
        None => None,
    };
    let enc = match (&vectors, &encoder) {
        (Some(v), _) => Some(DenseSource::Vectors(v)),
        (None, Some(e)) => Some(DenseSource::Encoder(e.as_ref() as &dyn Encoder)),
        _ => None,
    };
    let sparse_source = match (&imported_sparse, &splade) {
        (Some(v), _) => Some(SparseSource::Vectors(v)),
        (None, Some(e)) => Some(SparseSource::Encoder(e)),
        _ => None,
    };
    let sources = seine_engine::indexer::Sources {
        dense: enc,
        sparse: sparse_source,
        multi: multi_enc.as_ref(),
        multi_shares_dense: shares,
    };
    let result = index_corpus(docs.as_mut(), writer, sources, &mut |p, n| bar.update(p, n));
    bar.finish();
    result.with_context(|| {
        format!(
            "indexing {} failed; nothing was written to {}",
            corpus.display(),
            out.display()
        )
    })
}

/// Default place for indexes built by `seine eval`.
pub fn default_eval_index(
    out: &Path,
    dataset: &str,
    mode: Bm25Mode,
    dense: Option<&str>,
    sparse: Option<&str>,
    multi: Option<&str>,
) -> PathBuf {
    let mut name = format!("{dataset}-bm25-{mode}");
    for (kind, model) in [("dense", dense), ("splade", sparse), ("multi", multi)] {
        if let Some(model) = model {
            let model = Path::new(model)
                .file_name()
                .map_or(model.into(), |n| n.to_string_lossy());
            name.push_str(&format!("-{kind}-{model}"));
        }
    }
    out.join("indexes").join(name)
}

/// Baleen-style multi-hop retrieval (engine::multihop).
#[derive(clap::Args, Debug, Clone)]
pub struct MultiHopArgs {
    /// Hops (1..=4) of the multi-hop loop [`seine eval --multihop`: default 2;
    /// `seine search`: set to run it].
    #[arg(long)]
    pub hops: Option<usize>,
    /// Candidates kept per hop.
    #[arg(long, default_value_t = 20)]
    pub hop_depth: usize,
    /// Top passages per hop whose sentences the condenser scores.
    #[arg(long, default_value_t = 5)]
    pub condense_passages: usize,
    /// Facts (sentences) kept per hop.
    #[arg(long, default_value_t = 2)]
    pub facts: usize,
    /// How the condenser scores sentences: maxsim (token-level contributions from the
    /// index's token vectors; needs --multi), dense (each sentence re-encoded, pooled
    /// cosine) or lexical (query-term overlap; no encoder needed).
    #[arg(long, default_value = "maxsim")]
    pub condense_scorer: String,
    /// Rerank of hops after the first (multi-part queries): flipr (default when
    /// --rerank is set), maxsim, or none.
    #[arg(long)]
    pub later_rerank: Option<String>,
}

impl MultiHopArgs {
    pub fn config(
        &self,
        retriever: &str,
        fusion: seine_engine::Fusion,
        rerank: Option<seine_engine::Rerank>,
        flipr_k: usize,
    ) -> anyhow::Result<seine_engine::multihop::MultiHop> {
        let later = match self.later_rerank.as_deref() {
            None => rerank.map(|r| seine_engine::Rerank {
                depth: r.depth,
                reduce: seine_engine::Reduce::Flipr { k: flipr_k },
            }),
            Some("none") => None,
            Some("flipr") => Some(seine_engine::Rerank {
                depth: rerank.map_or(100, |r| r.depth),
                reduce: seine_engine::Reduce::Flipr { k: flipr_k },
            }),
            Some("maxsim") => Some(seine_engine::Rerank {
                depth: rerank.map_or(100, |r| r.depth),
                reduce: seine_engine::Reduce::MaxSim,
            }),
            Some(other) => {
                anyhow::bail!("unknown --later-rerank {other:?} (expected flipr, maxsim or none)")
            }
        };
        let cfg = seine_engine::multihop::MultiHop {
            hops: self.hops.unwrap_or(2),
            retriever: retriever.to_string(),
            fusion,
            rerank,
            rerank_later: later,
            depth: self.hop_depth,
            condense_passages: self.condense_passages,
            facts: self.facts,
            scorer: self.condense_scorer.parse()?,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// The CPU model name (`/proc/cpuinfo`), for benchmark reports.
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
