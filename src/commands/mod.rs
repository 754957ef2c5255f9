//! One module per subcommand; shared argument groups here.

pub mod bench;
pub mod bench_encode;
pub mod bench_filter;
pub mod bench_multihop;
pub mod bench_scale;
mod bench_scale_bm25;
mod bench_scale_calib;
mod bench_scale_gen;
mod bench_scale_maxsim;
mod bench_scale_peers;
mod bench_scale_plot;
mod bench_scale_splade;
mod bench_scale_vecfit;
mod bench_scale_vecgen;
pub mod bench_splade;
pub mod convert;
pub mod embed;
pub mod eval;
pub mod index;
mod query_args;
pub mod repair;
pub mod search;
pub mod serve;
pub mod train;

use std::path::{Path, PathBuf};

use seine_datasets::jsonl::JsonlFields;
use seine_datasets::{CorpusFormat, CorpusOptions};
use seine_engine::build::VectorFiles;
use seine_engine::indexer::IndexStats;
use seine_engine::model::{DeviceSpec, resolve_device};
use seine_engine::multihop::{FactScorer, MultiHop};
use seine_engine::settings;
use seine_engine::{Rerank, RerankKind, RetrieverSet};
use seine_index::lexical::{Bm25Mode, Bm25Params};
use seine_index::sparse::DEFAULT_IMPACT_SCALE;
use seine_index::{
    BuildOptions, DenseSettings, GraphMode, HnswParams, IndexDir, LexicalSettings, MultiSettings,
    SourceInfo, SparseSettings,
};

use crate::progress::DocProgress;

pub use query_args::{FusionArgs, PlaidArgs, RerankArgs};

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
    /// Metadata fields to store for --filter, as name:type (keyword, integer, float,
    /// date), comma-separated: `--fields year:integer,type:keyword`. Values come from
    /// the JSONL line's other fields (or its `metadata` object) or Parquet's other
    /// columns.
    #[arg(long, value_delimiter = ',')]
    pub fields: Vec<seine_index::filter::FieldSpec>,
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
    #[arg(long, default_value_t = GraphMode::Auto)]
    pub hnsw: GraphMode,
    /// HNSW links per node.
    #[arg(long, default_value_t = HnswParams::default().m)]
    pub hnsw_m: usize,
    /// HNSW beam width while building.
    #[arg(long, default_value_t = HnswParams::default().ef_construction)]
    pub ef_construction: usize,
    /// HNSW beam width while searching, stored in the index as its default [default:
    /// the smallest beam reaching --target-recall, measured at build time].
    #[arg(long)]
    pub ef_search: Option<usize>,
    /// recall@10 (against exact search, on a sample of the index's own vectors) the
    /// default beam is measured for at build time; ignored with --ef-search.
    #[arg(long, default_value_t = seine_index::DEFAULT_TARGET_RECALL)]
    pub target_recall: f64,
    /// Dense vectors made elsewhere: a Parquet file with `id` and `embedding`
    /// (FixedSizeList<Float32>) for every document, or a folder of such shards (as
    /// `seine.ray.encode` writes); --dense names the query encoder.
    #[arg(long, requires = "dense")]
    pub dense_vectors: Option<PathBuf>,
    /// Device for the encoders: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
    /// Quantized codes searched first (none, int8 or binary); the best
    /// --dense-rescore × k candidates are rescored with the f32 vectors.
    #[arg(long, default_value = "none")]
    pub dense_quantization: seine_index::Quantization,
    /// Candidates rescored per hit, with --dense-quantization.
    #[arg(long, default_value_t = seine_index::dense::quant::DEFAULT_RESCORE)]
    pub dense_rescore: usize,
}

impl DenseArgs {
    /// No dense part.
    pub fn none() -> Self {
        DenseArgs {
            dense: None,
            hnsw: GraphMode::Auto,
            hnsw_m: HnswParams::default().m,
            ef_construction: HnswParams::default().ef_construction,
            ef_search: None,
            target_recall: seine_index::DEFAULT_TARGET_RECALL,
            dense_vectors: None,
            device: DeviceSpec::Cpu,
            dense_quantization: seine_index::Quantization::None,
            dense_rescore: seine_index::dense::quant::DEFAULT_RESCORE,
        }
    }

    pub fn hnsw_params(&self) -> HnswParams {
        HnswParams {
            m: self.hnsw_m,
            ef_construction: self.ef_construction,
            ef_search: self.ef_search.unwrap_or(HnswParams::default().ef_search),
        }
    }

    /// The dense part's settings, when a model was named.
    fn settings(&self) -> Option<DenseSettings> {
        let model = self.dense.as_deref()?;
        Some(DenseSettings {
            quantization: self.dense_quantization,
            rescore: self.dense_rescore,
            target_recall: self.ef_search.is_none().then_some(self.target_recall),
            ..DenseSettings::new(model, self.hnsw, self.hnsw_params())
        })
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
    #[arg(long, default_value_t = seine_index::VectorDtype::default())]
    pub multi_dtype: seine_index::VectorDtype,
    /// Residual compression of the token vectors (ColBERTv2): none, 1bit, 2bit or 4bit
    /// per dimension plus a centroid id per token. Compressed stores also serve
    /// `--retriever maxsim` (PLAID candidate generation).
    #[arg(long, default_value = "none")]
    pub multi_compression: seine_index::Compression,
    /// Centroids of the compression codec [default: 2^⌊log2(16·√tokens)⌋, as ColBERTv2].
    #[arg(long)]
    pub multi_centroids: Option<usize>,
    /// Token vectors made elsewhere: Parquet with `id` and `tokens`
    /// (list<FixedSizeList<Float32>>, as `seine embed --multi` writes) for every
    /// document, or a folder of such shards; --multi names the query encoder.
    #[arg(long, requires = "multi")]
    pub multi_vectors: Option<PathBuf>,
}

impl MultiArgs {
    pub fn none() -> Self {
        MultiArgs {
            multi: None,
            multi_dtype: seine_index::VectorDtype::default(),
            multi_compression: seine_index::Compression::None,
            multi_centroids: None,
            multi_vectors: None,
        }
    }

    /// The settings these flags ask for, with `model` as the encoder.
    pub fn settings(&self, model: &str) -> MultiSettings {
        MultiSettings {
            compression: self.multi_compression,
            centroids: self.multi_centroids,
            ..MultiSettings::new(model, self.multi_dtype)
        }
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
    /// `weights` (list<float32>) for every document, or a folder of such shards;
    /// --sparse names the query encoder.
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

    /// The sparse part's settings, when a model was named.
    fn settings(&self) -> Option<SparseSettings> {
        self.sparse.as_ref().map(|m| SparseSettings {
            query_model: self.sparse_query_model.clone(),
            scale: self.impact_scale,
            top_k: self.sparse_top_k,
            threshold: self.sparse_threshold,
            ..SparseSettings::new(m)
        })
    }
}

/// The encoded parts of an index to build.
#[derive(Clone, Copy)]
pub struct Parts<'a> {
    pub dense: &'a DenseArgs,
    pub sparse: &'a SparseArgs,
    pub multi: &'a MultiArgs,
}

/// What `seine index` would build: the arguments parsed into the index's settings.
pub fn build_options(
    corpus: &Path,
    corpus_opts: &CorpusOptions,
    lexical: LexicalSettings,
    parts: Parts<'_>,
    overwrite: bool,
    threads: usize,
    fields: &[seine_index::filter::FieldSpec],
) -> BuildOptions {
    let source = SourceInfo::of(
        corpus,
        &seine_engine::build::format_name(corpus, corpus_opts),
    );
    BuildOptions::new(source, std::env::args().collect::<Vec<_>>().join(" "))
        .with_lexical(Some(lexical))
        .with_dense(parts.dense.settings())
        .with_sparse(parts.sparse.settings())
        .with_multi(
            parts
                .multi
                .multi
                .as_deref()
                .map(|m| parts.multi.settings(m)),
        )
        .with_overwrite(overwrite)
        .with_threads(threads)
        .with_fields(fields.to_vec())
}

impl Parts<'_> {
    /// The vectors files (or shard folders) these parts import.
    pub fn vectors(&self) -> VectorFiles {
        VectorFiles {
            dense: self.dense.dense_vectors.clone(),
            sparse: self.sparse.sparse_vectors.clone(),
            multi: self.multi.multi_vectors.clone(),
        }
    }
}

/// Indexes `corpus` into `out` as `opts` says, with a progress bar; returns the
/// committed index.
pub fn build_index(
    corpus: &Path,
    out: &Path,
    corpus_opts: &CorpusOptions,
    opts: BuildOptions,
    parts: Parts<'_>,
) -> anyhow::Result<(IndexDir, IndexStats)> {
    let device = resolve_device(parts.dense.device)?;
    let bar = DocProgress::new("indexing");
    let result = seine_engine::build::build_corpus(
        corpus,
        corpus_opts,
        out,
        opts,
        &parts.vectors(),
        &device,
        &mut |p, n| bar.update(p, n),
    );
    bar.finish();
    Ok(result?)
}

/// Opens the index at `path` when it is what `opts` would build, builds it otherwise
/// ([`seine_engine::build::open_or_build`]). An index the user named (`explicit`) that
/// differs is an error unless `rebuild`.
pub fn open_or_build(
    corpus: &Path,
    path: &Path,
    opts: BuildOptions,
    parts: Parts<'_>,
    explicit: bool,
    rebuild: bool,
) -> anyhow::Result<IndexDir> {
    let device = resolve_device(parts.dense.device)?;
    let bar = DocProgress::new("indexing");
    let dir = seine_engine::build::open_or_build(
        corpus,
        path,
        opts,
        &parts.vectors(),
        &device,
        seine_engine::build::Reuse { explicit, rebuild },
        &mut |line| {
            bar.suspend(|| eprintln!("{line}"));
        },
        &mut |p, n| bar.update(p, n),
    );
    bar.finish();
    Ok(dir?)
}

pub use seine_engine::build::default_eval_index;

/// Baleen-style multi-hop retrieval (engine::multihop).
#[derive(clap::Args, Debug, Clone)]
pub struct MultiHopArgs {
    /// Hops (1..=4) of the multi-hop loop [`seine eval --multihop`: default 2;
    /// `seine search`: set to run it].
    #[arg(long)]
    pub hops: Option<usize>,
    /// Candidates kept per hop.
    #[arg(long, default_value_t = settings::DEFAULT_HOP_DEPTH)]
    pub hop_depth: usize,
    /// Top passages per hop whose sentences the condenser scores.
    #[arg(long, default_value_t = settings::DEFAULT_CONDENSE_PASSAGES)]
    pub condense_passages: usize,
    /// Facts (sentences) kept per hop.
    #[arg(long, default_value_t = settings::DEFAULT_FACTS)]
    pub facts: usize,
    /// How the condenser scores sentences: maxsim (token-level contributions from the
    /// index's token vectors; needs --multi), dense (each sentence re-encoded, pooled
    /// cosine) or lexical (query-term overlap; no encoder needed) [default: the best
    /// the index has, in that order].
    #[arg(long)]
    pub condense_scorer: Option<FactScorer>,
    /// Rerank of hops after the first (multi-part queries): flipr (default when
    /// --rerank is set), maxsim, or none.
    #[arg(long)]
    pub later_rerank: Option<String>,
    /// Passages the previous hop's picks (and the first hop's passages the question
    /// names) name by title, put first in a later hop's candidates (at most this
    /// many; 0: off).
    #[arg(long, default_value_t = settings::DEFAULT_LINKS)]
    pub hop_links: usize,
    /// First-hop passages titled with an entity the question names lead the final
    /// ranking (true|false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub named_first: bool,
}

impl MultiHopArgs {
    pub fn config(
        &self,
        retriever: &RetrieverSet,
        fusion: seine_engine::Fusion,
        rerank: Option<Rerank>,
        flipr_k: usize,
    ) -> anyhow::Result<MultiHop> {
        let depth = rerank.map_or(settings::DEFAULT_RERANK_DEPTH, |r| r.depth);
        let later = match self.later_rerank.as_deref() {
            None => MultiHop::default_later_rerank(rerank, flipr_k),
            Some("none") => None,
            Some(kind) => Some(Rerank::new(
                kind.parse::<RerankKind>()
                    .map_err(|e| anyhow::anyhow!("--later-rerank: {e} (or none)"))?,
                depth,
                flipr_k,
            )),
        };
        let cfg = MultiHop {
            hops: self.hops.unwrap_or(settings::DEFAULT_HOPS),
            retriever: retriever.clone(),
            fusion,
            rerank,
            rerank_later: later,
            depth: self.hop_depth,
            condense_passages: self.condense_passages,
            facts: self.facts,
            scorer: self.condense_scorer,
            filter: None,
            params: Default::default(),
            links: self.hop_links,
            named_first: self.named_first,
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
