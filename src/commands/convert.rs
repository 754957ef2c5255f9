use std::path::PathBuf;

use seine_datasets::open_corpus;
use seine_datasets::parquet_io::write_docs_with;
use seine_datasets::parquet_meta::MetaColumns;

use super::CorpusArgs;

#[derive(clap::Args)]
pub struct Args {
    /// The corpus to read.
    corpus: PathBuf,
    /// Parquet file to write: id, title, text, and one column per metadata key (the
    /// JSONL line's other fields).
    #[arg(long, short)]
    out: PathBuf,
    #[command(flatten)]
    corpus_args: CorpusArgs,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    // Two passes: the metadata columns' types cover every document, then the write.
    let mut meta = MetaColumns::default();
    for d in open_corpus(&a.corpus, &a.corpus_args.options())? {
        meta.observe(&a.corpus, &d?)?;
    }
    let docs = open_corpus(&a.corpus, &a.corpus_args.options())?;
    let n = write_docs_with(&a.out, docs, &meta)?;
    eprintln!(
        "wrote {n} documents to {} ({} metadata columns)",
        a.out.display(),
        meta.columns()
    );
    Ok(())
}
