//! The `seine` command line: argument parsing and dispatch only.

mod commands;
mod progress;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "seine",
    version,
    about = "Retrieval and embedding engine: index, search, evaluate"
)]
struct Cli {
    /// How BERT-family encoders run on the CPU: `native` (seine's kernels: packed
    /// sequences, fused ops, AVX2/AVX-512 chosen at run time; the default) or `candle`
    /// (candle's BertModel, for comparison). CUDA devices always use candle.
    /// [env: SEINE_BACKEND]
    #[arg(long, global = true, value_enum)]
    backend: Option<BackendArg>,
    /// Arithmetic of the native encoder's linear layers: `f32` (the default), `int8`
    /// (weights per output channel, activations per token; AVX-512 VNNI or AVX2) or
    /// `bf16` (AVX512-BF16). Measured on SciFact nDCG@10 vs f32: int8 MiniLM -0.0006,
    /// SPLADE-tiny +0.0005; bf16 +0.0015 / -0.0005. MiniLM encoding on 2 cores: int8
    /// 2.3x, bf16 1.5x the f32 speed (README, "CPU inference"). Index and search with
    /// the same precision. [env: SEINE_PRECISION]
    #[arg(long, global = true)]
    precision: Option<seine_engine::model::Precision>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum BackendArg {
    Native,
    Candle,
}

#[derive(Subcommand)]
enum Command {
    /// Index a corpus (BEIR folder, .jsonl, .parquet or a folder of .txt/.md files).
    Index(commands::index::Args),
    /// Search an index.
    Search(commands::search::Args),
    /// Evaluate a retriever on a BEIR dataset (builds or reuses an index).
    Eval(commands::eval::Args),
    /// Encode a corpus into Parquet: dense (id, embedding) or SPLADE (id, terms, weights).
    Embed(commands::embed::Args),
    /// Convert a corpus to Parquet (id, title, text).
    Convert(commands::convert::Args),
    /// Benchmarks of the hot paths (print figures, not pass/fail).
    Bench(commands::bench::Args),
    /// Serve an index over HTTP (POST /search, GET /documents/{id}, GET /health).
    Serve(commands::serve::Args),
    /// Repair an index's write-ahead log: keep the records that verify, drop corrupt
    /// ones (the original is copied aside first). Takes the index's writer lock.
    Repair(commands::repair::Args),
    /// Fine-tune a dense encoder or a ColBERT head contrastively (InfoNCE, mined hard
    /// negatives, confidence regularizer); writes a sentence-transformers/PyLate folder.
    Train(commands::train::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(b) = cli.backend {
        seine_engine::model::set_cpu_backend(match b {
            BackendArg::Native => seine_engine::model::Backend::Native,
            BackendArg::Candle => seine_engine::model::Backend::Candle,
        });
    }
    if let Some(p) = cli.precision {
        if p != seine_engine::model::Precision::F32
            && matches!(cli.backend, Some(BackendArg::Candle))
        {
            eprintln!("error: --precision {p} needs the native backend");
            return std::process::ExitCode::FAILURE;
        }
        seine_engine::model::set_cpu_precision(p);
    }
    let result = match cli.command {
        Command::Index(a) => commands::index::run(a),
        Command::Search(a) => commands::search::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Convert(a) => commands::convert::run(a),
        Command::Embed(a) => commands::embed::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::Serve(a) => commands::serve::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Repair(a) => commands::repair::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
