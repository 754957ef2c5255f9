use std::path::PathBuf;

use seine_datasets::embeddings::EmbeddingWriter;
use seine_datasets::open_corpus;
use seine_engine::indexer::{doc_text, next_chunk};
use seine_engine::model::{DeviceSpec, ModelDir, resolve_device, resolve_model};
use seine_engine::{DenseEncoder, Encoder, Side};

use super::CorpusArgs;
use crate::progress::DocProgress;

#[derive(clap::Args)]
pub struct Args {
    /// The corpus to encode.
    corpus: PathBuf,
    /// Dense model: a folder or a name under models/.
    #[arg(long)]
    model: String,
    /// Parquet file to write (id, embedding).
    #[arg(long, short)]
    out: PathBuf,
    #[command(flatten)]
    corpus_args: CorpusArgs,
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let device = resolve_device(a.device)?;
    let enc = DenseEncoder::load(&ModelDir::open(&resolve_model(&a.model)?)?, &device)?;
    let mut docs = open_corpus(&a.corpus, &a.corpus_args.options())?;
    let mut out = EmbeddingWriter::create(&a.out, enc.dim())?;
    let bar = DocProgress::new("embedding");
    let start = std::time::Instant::now();
    let mut n = 0u64;
    let mut chunk = Vec::with_capacity(256);
    loop {
        next_chunk(docs.as_mut(), 256, &mut chunk)?;
        if chunk.is_empty() {
            break;
        }
        let texts: Vec<String> = chunk.iter().map(doc_text).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let emb = enc.encode(&refs, Side::Document)?;
        let ids: Vec<&str> = chunk.iter().map(|d| d.id.as_str()).collect();
        out.write(&ids, &emb.data)?;
        n += chunk.len() as u64;
        bar.update(docs.progress(), n);
    }
    bar.finish();
    out.finish()?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "embedded {n} documents with {} ({}-d) in {secs:.1} s ({:.0} docs/s) into {}",
        enc.name(),
        enc.dim(),
        n as f64 / secs.max(1e-9),
        a.out.display()
    );
    Ok(())
}
