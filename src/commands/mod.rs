//! One module per subcommand; shared argument groups here.

pub mod bench;
pub mod convert;
pub mod eval;
pub mod index;
pub mod search;

use std::path::{Path, PathBuf};

use anyhow::Context;
use seine_datasets::jsonl::JsonlFields;
use seine_datasets::{CorpusFormat, CorpusOptions, open_corpus};
use seine_engine::indexer::{IndexStats, index_corpus};
use seine_index::lexical::{Bm25Mode, Bm25Params};
use seine_index::{BuildOptions, IndexDir, IndexWriter, LexicalSettings, SourceInfo};

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

/// Indexes `corpus` into `out` with a progress bar; returns the committed index.
pub fn build_index(
    corpus: &Path,
    out: &Path,
    corpus_opts: &CorpusOptions,
    lexical: LexicalSettings,
    overwrite: bool,
    threads: usize,
) -> anyhow::Result<(IndexDir, IndexStats)> {
    let mut docs = open_corpus(corpus, corpus_opts)?;
    let opts = BuildOptions {
        source: SourceInfo::of(corpus, &format_name(corpus, corpus_opts)),
        lexical: Some(lexical),
        overwrite,
        command: Some(std::env::args().collect::<Vec<_>>().join(" ")),
        threads,
    };
    let writer = IndexWriter::create(out, opts)?;
    let bar = DocProgress::new("indexing");
    let result = index_corpus(docs.as_mut(), writer, &mut |p, n| bar.update(p, n));
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
pub fn default_eval_index(out: &Path, dataset: &str, mode: Bm25Mode) -> PathBuf {
    out.join("indexes").join(format!("{dataset}-bm25-{mode}"))
}
