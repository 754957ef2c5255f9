use std::path::PathBuf;

use seine_datasets::open_corpus;
use seine_datasets::parquet_io::write_docs;

use super::CorpusArgs;

#[derive(clap::Args)]
pub struct Args {
    /// The corpus to read.
    corpus: PathBuf,
    /// Parquet file to write (id, title, text).
    #[arg(long, short)]
    out: PathBuf,
    #[command(flatten)]
    corpus_args: CorpusArgs,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let docs = open_corpus(&a.corpus, &a.corpus_args.options())?;
    let n = write_docs(&a.out, docs)?;
    eprintln!("wrote {n} documents to {}", a.out.display());
    Ok(())
}
