use std::path::PathBuf;

use super::{Bm25Args, CorpusArgs, DenseArgs, MultiArgs, SparseArgs, build_index, build_options};

#[derive(clap::Args)]
pub struct Args {
    /// The corpus: a BEIR folder, a .jsonl or .parquet file, or a folder of .txt/.md.
    corpus: PathBuf,
    /// Index directory to create.
    #[arg(long, short)]
    out: PathBuf,
    #[command(flatten)]
    corpus_args: CorpusArgs,
    #[command(flatten)]
    bm25: Bm25Args,
    #[command(flatten)]
    dense: DenseArgs,
    #[command(flatten)]
    sparse: SparseArgs,
    #[command(flatten)]
    multi: MultiArgs,
    /// Replace an existing index at --out (atomically: until the new one is committed,
    /// the old one stays readable).
    #[arg(long)]
    overwrite: bool,
    /// Indexing threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let parts = super::Parts {
        dense: &a.dense,
        sparse: &a.sparse,
        multi: &a.multi,
    };
    let corpus_opts = a.corpus_args.options();
    let opts = build_options(
        &a.corpus,
        &corpus_opts,
        a.bm25.settings(),
        parts,
        a.overwrite,
        a.threads,
        &a.corpus_args.fields,
    );
    // A rebuild replaces what a server may be writing: it is a writer too (one per index).
    let _lock = match a.overwrite && a.out.join("manifest.json").is_file() {
        true => Some(seine_index::WriterLock::acquire(
            &a.out,
            "seine index --overwrite",
        )?),
        false => None,
    };
    let (dir, stats) = build_index(&a.corpus, &a.out, &corpus_opts, opts, parts)?;
    let m = dir.manifest();
    eprintln!(
        "indexed {} documents from {} in {:.1} s ({:.0} docs/s) into {} (generation {}, bm25 {}, dense {}, sparse {}, token vectors {})",
        stats.docs,
        a.corpus.display(),
        stats.seconds,
        stats.docs as f64 / stats.seconds.max(1e-9),
        dir.root().display(),
        m.generation,
        m.lexical
            .map(|l| l.mode.to_string())
            .unwrap_or_else(|| "none".into()),
        m.dense.as_ref().map_or("none".to_string(), |d| format!(
            "{} {}-d, {}",
            d.model,
            d.dim,
            match (d.has_graph(), d.beam, d.hnsw) {
                (true, Some(b), _) => format!(
                    "hnsw, default ef {} (recall@10 {:.3} for target {} on {} of its vectors)",
                    b.ef, b.recall, b.target, b.sample
                ),
                (true, None, Some(p)) => format!("hnsw, default ef {}", p.ef_search),
                _ => "exact".to_string(),
            }
        )),
        m.sparse.as_ref().map_or("none".to_string(), |s| format!(
            "{}, impact scale {}",
            s.model, s.scale
        )),
        m.multi
            .as_ref()
            .map_or("none".to_string(), |t| match t.centroids {
                Some(k) => format!(
                    "{} {}-d {} residuals, {k} centroids, {} vectors",
                    t.model, t.dim, t.compression, t.tokens
                ),
                None => format!(
                    "{} {}-d {:?}, {} vectors",
                    t.model, t.dim, t.dtype, t.tokens
                ),
            }),
    );
    Ok(())
}
