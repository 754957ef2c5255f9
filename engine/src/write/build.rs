//! Building an index from a corpus on disk, or reusing one that matches: what
//! `seine index`, `seine eval` and the Python module share (they only parse their
//! arguments into [`BuildOptions`] and [`VectorFiles`]).

use std::path::{Path, PathBuf};

use candle_core::Device;
use seine_datasets::{CorpusFormat, CorpusOptions, Progress, open_corpus};
use seine_index::lexical::Bm25Mode;
use seine_index::{BuildOptions, IndexDir};

use crate::indexer::{
    Imported, IndexStats, PrecomputedSparse, PrecomputedTokens, PrecomputedVectors,
};
use crate::{Error, Result};

/// Vectors computed elsewhere: Parquet files or folders of shards.
#[derive(Debug, Clone, Default)]
pub struct VectorFiles {
    pub dense: Option<PathBuf>,
    pub sparse: Option<PathBuf>,
    /// Token vectors (`id`, `tokens`).
    pub multi: Option<PathBuf>,
}

impl VectorFiles {
    /// Reads them (streamed into temporary files; RAM holds ids).
    pub fn import(&self) -> Result<Imported> {
        Ok(Imported {
            dense: match &self.dense {
                Some(p) => Some(PrecomputedVectors::from_parquet(p)?),
                None => None,
            },
            sparse: match &self.sparse {
                Some(p) => Some(PrecomputedSparse::from_parquet(p)?),
                None => None,
            },
            multi: match &self.multi {
                Some(p) => Some(PrecomputedTokens::from_parquet(p)?),
                None => None,
            },
        })
    }
}

/// The corpus format's name as the manifest records it (`beir`, `jsonl`, ...).
pub fn format_name(path: &Path, opts: &CorpusOptions) -> String {
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

/// Indexes the corpus at `corpus` into `out` as `opts` says (imported vectors where
/// `vectors` names them); nothing is written at `out` unless it all succeeds.
pub fn build_corpus(
    corpus: &Path,
    corpus_opts: &CorpusOptions,
    out: &Path,
    opts: BuildOptions,
    vectors: &VectorFiles,
    device: &Device,
    on_progress: &mut dyn FnMut(Progress, u64),
) -> Result<(IndexDir, IndexStats)> {
    let mut docs = open_corpus(corpus, corpus_opts)?;
    let imported = vectors.import()?;
    crate::indexer::build(docs.as_mut(), out, opts, &imported, device, on_progress).map_err(|e| {
        Error::Build {
            corpus: corpus.to_path_buf(),
            out: out.to_path_buf(),
            source: Box::new(e),
        }
    })
}

/// How [`open_or_build`] treats an index that is already at the path.
#[derive(Debug, Clone, Copy)]
pub struct Reuse {
    /// The user named the path: an index there that differs is an error (unless
    /// `rebuild`) instead of being rebuilt.
    pub explicit: bool,
    /// Build even when the index there matches.
    pub rebuild: bool,
}

/// Opens the index at `path` when it is what `opts` would build
/// ([`seine_index::Manifest::differences`]: same corpus file, settings and model
/// files); builds it otherwise. `log` gets one line per decision.
#[allow(clippy::too_many_arguments)]
pub fn open_or_build(
    corpus: &Path,
    path: &Path,
    mut opts: BuildOptions,
    vectors: &VectorFiles,
    device: &Device,
    reuse: Reuse,
    log: &mut dyn FnMut(&str),
    on_progress: &mut dyn FnMut(Progress, u64),
) -> Result<IndexDir> {
    crate::Encoders::identify(&mut opts)?;
    if path.exists() && !reuse.rebuild {
        match IndexDir::open(path) {
            Ok(dir) => {
                let diff = dir.manifest().differences(&opts);
                if diff.is_empty() {
                    log(&format!(
                        "reusing index {} ({} documents)",
                        path.display(),
                        dir.manifest().doc_count
                    ));
                    return Ok(dir);
                }
                if reuse.explicit {
                    return Err(Error::InvalidArgument(format!(
                        "{} is not the index these settings build ({}): pass --rebuild to \
                         replace it",
                        path.display(),
                        diff.join("; ")
                    )));
                }
                log(&format!(
                    "rebuilding {}: {}",
                    path.display(),
                    diff.join("; ")
                ));
            }
            Err(e) if reuse.explicit => return Err(e.into()),
            Err(_) => {}
        }
    }
    opts.overwrite = path.exists();
    log(&format!("building index {}", path.display()));
    let (dir, stats) = build_corpus(
        corpus,
        &CorpusOptions::default(),
        path,
        opts,
        vectors,
        device,
        on_progress,
    )?;
    log(&format!(
        "indexed {} documents in {:.1} s",
        stats.docs, stats.seconds
    ));
    Ok(dir)
}

/// Default place for indexes built by an evaluation:
/// `<out>/indexes/<dataset>-bm25-<mode>[-dense-<model>][-splade-<model>][-multi-<model>]`.
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
