use std::path::PathBuf;

use anyhow::{Context, bail};
use seine_datasets::embeddings::EmbeddingWriter;
use seine_datasets::open_corpus;
use seine_engine::embed::{CHUNK, VectorsWriter};
use seine_engine::encoders::Encoders;
use seine_engine::indexer::next_chunk;
use seine_engine::model::{DeviceSpec, resolve_device};
use seine_engine::settings::EmbedKind;
use seine_engine::{Encoder, Pruning, Side};
use seine_index::IndexDir;

use super::CorpusArgs;
use crate::progress::DocProgress;

#[derive(clap::Args)]
pub struct Args {
    /// The corpus to encode (a queries .jsonl works too, with `--side query`).
    #[arg(required_unless_present = "from_index")]
    corpus: Option<PathBuf>,
    /// Dense model: a folder or a name under models/.
    #[arg(long, required_unless_present_any = ["from_index", "sparse", "multi"], conflicts_with_all = ["sparse", "multi"])]
    model: Option<String>,
    /// Token vectors instead (a ColBERT checkpoint, or a dense model's normalized token
    /// outputs): writes Parquet (id, tokens list<FixedSizeList<float32>>).
    #[arg(long, conflicts_with = "sparse")]
    multi: Option<String>,
    /// SPLADE model instead: writes Parquet (id, terms list<utf8>, weights list<float32>).
    #[arg(long)]
    sparse: Option<String>,
    /// SPLADE: keep at most this many terms per text (the heaviest) [default: all].
    #[arg(long, requires = "sparse")]
    sparse_top_k: Option<usize>,
    /// SPLADE: drop terms whose weight is not above this.
    #[arg(long, requires = "sparse", default_value_t = 0.0)]
    sparse_threshold: f32,
    /// Export the vectors stored in an index instead of encoding (no model needed).
    #[arg(long, conflicts_with_all = ["corpus", "model", "sparse", "multi"])]
    from_index: Option<PathBuf>,
    /// Parquet file to write (id, embedding).
    #[arg(long, short)]
    out: PathBuf,
    /// Encode the texts as documents or as queries (models with query prefixes differ).
    #[arg(long, default_value = "document")]
    side: Side,
    #[command(flatten)]
    corpus_args: CorpusArgs,
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    if let Some(index) = &a.from_index {
        return export(index, &a.out);
    }
    let side = a.side;
    if let (Some(corpus), Some(model)) = (&a.corpus, &a.sparse) {
        return embed_sparse(&a, corpus, model, side);
    }
    if let (Some(corpus), Some(model)) = (&a.corpus, &a.multi) {
        return embed_multi(&a, corpus, model, side);
    }
    let (Some(corpus), Some(model)) = (&a.corpus, &a.model) else {
        bail!("give a corpus and --model (or --sparse, or --multi), or --from-index");
    };
    let device = resolve_device(a.device)?;
    let loaded = Encoders::standalone(EmbedKind::Dense, model, Pruning::default(), &device)?;
    let enc = loaded.dense.expect("a dense encoder");
    let (n, _, secs) = embed_corpus(&a, corpus, VectorsWriter::dense(&enc, &a.out)?, side)?;
    eprintln!(
        "embedded {n} documents with {} ({}-d) in {secs:.1} s ({:.0} docs/s) into {}",
        enc.name(),
        enc.dim(),
        n as f64 / secs.max(1e-9),
        a.out.display()
    );
    Ok(())
}

/// Streams the corpus through `out` in chunks, with a progress bar; returns (texts,
/// what the writer counts besides rows, seconds).
fn embed_corpus(
    a: &Args,
    corpus: &std::path::Path,
    mut out: VectorsWriter<'_>,
    side: Side,
) -> anyhow::Result<(u64, u64, f64)> {
    let mut docs = open_corpus(corpus, &a.corpus_args.options())?;
    let bar = DocProgress::new("embedding");
    let start = std::time::Instant::now();
    let (mut n, mut units) = (0u64, 0u64);
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        next_chunk(docs.as_mut(), CHUNK, &mut chunk)?;
        if chunk.is_empty() {
            break;
        }
        units += out.write(&chunk, side)?;
        n += chunk.len() as u64;
        bar.update(docs.progress(), n);
    }
    bar.finish();
    out.finish()?;
    Ok((n, units, start.elapsed().as_secs_f64()))
}

fn embed_sparse(a: &Args, corpus: &std::path::Path, model: &str, side: Side) -> anyhow::Result<()> {
    let device = resolve_device(a.device)?;
    let pruning = Pruning {
        top_k: a.sparse_top_k,
        threshold: a.sparse_threshold,
    };
    let loaded = Encoders::standalone(EmbedKind::Sparse, model, pruning, &device)?;
    let enc = loaded.sparse.expect("a sparse encoder");
    let (n, terms, secs) = embed_corpus(a, corpus, VectorsWriter::sparse(&enc, &a.out)?, side)?;
    eprintln!(
        "embedded {n} texts with {} (SPLADE, {:.1} terms per text) in {secs:.1} s ({:.0} texts/s) into {}",
        enc.name(),
        terms as f64 / n.max(1) as f64,
        n as f64 / secs.max(1e-9),
        a.out.display()
    );
    Ok(())
}

fn embed_multi(a: &Args, corpus: &std::path::Path, model: &str, side: Side) -> anyhow::Result<()> {
    let device = resolve_device(a.device)?;
    let loaded = Encoders::standalone(EmbedKind::Multi, model, Pruning::default(), &device)?;
    let enc = loaded.multi.expect("a token-vector encoder");
    let (n, tokens, secs) = embed_corpus(a, corpus, VectorsWriter::multi(&enc, &a.out)?, side)?;
    eprintln!(
        "embedded {n} texts with {} ({}-d token vectors, {:.1} per text) in {secs:.1} s ({:.0} texts/s) into {}",
        enc.name(),
        enc.dim(),
        tokens as f64 / n.max(1) as f64,
        n as f64 / secs.max(1e-9),
        a.out.display()
    );
    Ok(())
}

/// Writes an index's stored dense vectors, in document order, with their ids.
fn export(index: &std::path::Path, out: &std::path::Path) -> anyhow::Result<()> {
    let dir = IndexDir::open(index)?;
    let Some(settings) = dir.manifest().dense.clone() else {
        bail!("index {} has no dense vectors", index.display());
    };
    let dense = dir.dense()?;
    let map = dir.doc_map()?;
    let mut w = EmbeddingWriter::create(out, settings.dim)?;
    for start in (0..dense.len()).step_by(1024) {
        let end = (start + 1024).min(dense.len());
        let mut ids = Vec::with_capacity(end - start);
        let mut data = Vec::with_capacity((end - start) * settings.dim);
        for doc in start..end {
            let doc = doc as seine_index::DocId;
            ids.push(
                map.external(doc)
                    .context("doc map shorter than the vectors")?,
            );
            data.extend_from_slice(dense.vector(doc).expect("in range"));
        }
        w.write(&ids, &data)?;
    }
    w.finish()?;
    eprintln!(
        "exported {} vectors ({}-d, model {}) from {} into {}",
        dense.len(),
        settings.dim,
        settings.model,
        index.display(),
        out.display()
    );
    Ok(())
}
