use std::path::PathBuf;

use anyhow::bail;
use seine_datasets::CorpusOptions;
use seine_datasets::beir::BeirDir;
use seine_engine::Searcher;
use seine_eval::metrics::EvalOptions;
use seine_eval::report::{mteb_task_name, table, write_mteb, write_per_query};
use seine_eval::run::write_trec;
use seine_eval::runner::{RunSpec, Split, run_beir};
use seine_index::{IndexDir, SourceInfo};

use seine_engine::model::resolve_device;

use super::{
    Bm25Args, DenseArgs, FusionArgs, MultiArgs, MultiHopArgs, RerankArgs, SparseArgs, build_index,
    default_eval_index,
};
use crate::progress::counter;

#[derive(clap::Args)]
pub struct Args {
    /// A BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).
    dataset: PathBuf,
    /// Qrels split to evaluate.
    #[arg(long, default_value = "test")]
    split: String,
    /// Retriever to evaluate: bm25, dense, splade, or a fusion such as bm25+dense+splade.
    #[arg(long, default_value = "bm25")]
    retriever: String,
    #[command(flatten)]
    bm25: Bm25Args,
    #[command(flatten)]
    dense: DenseArgs,
    #[command(flatten)]
    sparse: SparseArgs,
    #[command(flatten)]
    fusion: FusionArgs,
    #[command(flatten)]
    multi: MultiArgs,
    #[command(flatten)]
    rerank: RerankArgs,
    /// Multi-hop evaluation (queries with metadata.supporting_facts): single-hop and
    /// multi-hop side by side, passage recall, both-gold and answer recall @2/5/10/20.
    #[arg(long)]
    multihop: bool,
    #[command(flatten)]
    hops: MultiHopArgs,
    /// Index to use; built when missing [default: <out>/indexes/<dataset>-bm25-<mode>].
    #[arg(long)]
    index: Option<PathBuf>,
    /// Rebuild the index even if it matches the dataset and settings.
    #[arg(long)]
    rebuild: bool,
    /// Where results go: <out>/<run>/<Task>.json (MTEB layout) and a TREC run file.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Hits retrieved per query (the deepest cut-off evaluated).
    #[arg(long, default_value_t = 1000)]
    depth: usize,
    /// Keep hits whose id equals the query id (BEIR drops them by default).
    #[arg(long)]
    keep_identical_ids: bool,
    /// Indexing threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    if a.depth == 0 {
        bail!("--depth must be at least 1");
    }
    a.bm25.params().validate()?;
    let parts: Vec<&str> = a.retriever.split('+').collect();
    for p in &parts {
        match *p {
            "bm25" => {}
            "dense" if a.dense.dense.is_some() => {}
            "dense" => bail!("retriever dense needs a model: --dense minilm (or a model folder)"),
            "splade" if a.sparse.sparse.is_some() => {}
            "splade" => {
                bail!("retriever splade needs a model: --sparse splade-tiny (or a model folder)")
            }
            other => bail!(
                "unknown retriever {other:?} (expected bm25, dense, splade, or a fusion like bm25+dense)"
            ),
        }
    }
    let fusion = a.fusion.fusion()?;
    fusion.validate(parts.len())?;
    let rerank = a.rerank.rerank()?;
    if rerank.is_some() && a.multi.multi.is_none() {
        bail!("--rerank needs token vectors: add --multi minilm (or another model)");
    }
    let beir = BeirDir::open(&a.dataset)?;
    // Read queries and judgments first: bad input fails before any indexing.
    let split = Split::load(&beir, &a.split)?;
    let dataset = beir.name();
    let explicit = a.index.is_some();
    let index_path = a.index.clone().unwrap_or_else(|| {
        default_eval_index(
            &a.out,
            &dataset,
            a.bm25.bm25_mode,
            a.dense.dense.as_deref(),
            a.sparse.sparse.as_deref(),
            a.multi.multi.as_deref(),
        )
    });
    let dir = open_or_build(&a, &beir, &index_path, explicit)?;
    let mut searcher = Searcher::open_on(dir, &resolve_device(a.dense.device)?)?;
    searcher.set_bm25_params(a.bm25.params())?;
    searcher.set_fusion(fusion.clone());
    searcher.set_rerank(rerank)?;
    if a.multihop {
        return run_multihop(&a, &searcher, &split, &dataset, &index_path, fusion, rerank);
    }

    let spec = RunSpec {
        retriever: a.retriever.clone(),
        depth: a.depth,
        eval: EvalOptions {
            ignore_identical_ids: !a.keep_identical_ids,
            ..EvalOptions::default()
        },
    };
    let bar = counter("searching", split.queries.len() as u64);
    let result = run_beir(&split, &searcher, &spec, &|| bar.inc(1))?;
    bar.finish_and_clear();

    let model_name = |m: &str| {
        std::path::Path::new(m)
            .file_name()
            .map_or(m.to_string(), |n| n.to_string_lossy().into_owned())
    };
    let run_name = match (a.retriever.as_str(), &a.dense.dense, &a.sparse.sparse) {
        ("dense", Some(model), _) => format!("seine-dense-{}", model_name(model)),
        ("splade", _, Some(model)) => format!("seine-splade-{}", model_name(model)),
        ("bm25", _, _) => format!("seine-bm25-{}", a.bm25.bm25_mode),
        (r, _, _) => format!("seine-{r}-{}", fusion.method),
    };
    let run_name = match &a.rerank.rerank {
        Some(how) => format!("{run_name}-{how}{}", a.rerank.rerank_depth),
        None => run_name,
    };
    let settings = serde_json::json!({
        "bm25_mode": a.bm25.bm25_mode,
        "k1": a.bm25.k1,
        "b": a.bm25.b,
        "depth": a.depth,
        "ignore_identical_ids": !a.keep_identical_ids,
        "dense_model": a.dense.dense,
        "sparse_model": a.sparse.sparse,
        "multi_model": a.multi.multi,
        "rerank": a.rerank.rerank.as_ref().map(|r| serde_json::json!({
            "method": r, "depth": a.rerank.rerank_depth, "flipr_k": a.rerank.flipr_k,
        })),
        "fusion": (parts.len() > 1).then(|| serde_json::json!({
            "method": fusion.method.to_string(),
            "rrf_k": a.fusion.rrf_k,
            "weights": fusion.weights,
            "depth": fusion.depth,
        })),
        "index": index_path,
    });
    let json_path = write_mteb(&a.out, &run_name, &result, settings)?;
    let run_path = json_path.with_file_name(format!(
        "{}.{}.trec",
        mteb_task_name(&result.dataset),
        a.split
    ));
    write_trec(&run_path, &result.run, &run_name)?;
    let per_query_path = json_path.with_file_name(format!(
        "{}.{}.per_query.json",
        mteb_task_name(&result.dataset),
        a.split
    ));
    write_per_query(&per_query_path, &result)?;

    print!("{}", table(&result));
    let m = &result.measures.mean;
    println!(
        "nDCG@10 {:.4}  Recall@100 {:.4}  ({run_name})",
        m["ndcg_at_10"], m["recall_at_100"]
    );
    println!("results: {}", json_path.display());
    println!("run:     {}", run_path.display());
    Ok(())
}

/// Reuses the index when it was built from this corpus (same file, size and time) with
/// the same BM25 mode; builds it otherwise.
fn open_or_build(
    a: &Args,
    beir: &BeirDir,
    path: &std::path::Path,
    explicit: bool,
) -> anyhow::Result<IndexDir> {
    let want = SourceInfo::of(beir.root(), "beir");
    let mut overwrite = false;
    if path.exists() && !a.rebuild {
        match IndexDir::open(path) {
            Ok(dir) => {
                let m = dir.manifest();
                let same_source =
                    m.source.path == want.path && m.source.fingerprint == want.fingerprint;
                let same_mode = m.lexical.map(|l| l.mode) == Some(a.bm25.bm25_mode);
                let same_dense =
                    m.dense.as_ref().map(|d| d.model.as_str()) == a.dense.dense.as_deref();
                let same_sparse =
                    m.sparse.as_ref().map(|s| s.model.as_str()) == a.sparse.sparse.as_deref();
                if same_source && same_mode && same_dense && same_sparse {
                    eprintln!(
                        "reusing index {} ({} documents)",
                        path.display(),
                        m.doc_count
                    );
                    return Ok(dir);
                }
                if explicit {
                    bail!(
                        "{} was built from {} with bm25 mode {:?} (dense {:?}, sparse {:?}), not \
                         from this dataset with mode {} and these models: pass --rebuild to \
                         replace it",
                        path.display(),
                        m.source.path,
                        m.lexical.map(|l| l.mode.to_string()),
                        m.dense.as_ref().map(|d| d.model.clone()),
                        m.sparse.as_ref().map(|s| s.model.clone()),
                        a.bm25.bm25_mode
                    );
                }
                overwrite = true;
            }
            Err(e) if explicit => return Err(e.into()),
            Err(_) => overwrite = true,
        }
    } else if path.exists() {
        overwrite = true;
    }
    eprintln!("building index {}", path.display());
    let (dir, stats) = build_index(
        beir.root(),
        path,
        &CorpusOptions::default(),
        a.bm25.settings(),
        super::Parts {
            dense: &a.dense,
            sparse: &a.sparse,
            multi: &a.multi,
        },
        overwrite,
        a.threads,
    )?;
    eprintln!("indexed {} documents in {:.1} s", stats.docs, stats.seconds);
    Ok(dir)
}

/// `--multihop`: single-hop and multi-hop over the pooled corpus, one table, one JSON.
fn run_multihop(
    a: &Args,
    searcher: &Searcher,
    split: &Split,
    dataset: &str,
    index_path: &std::path::Path,
    fusion: seine_engine::Fusion,
    rerank: Option<seine_engine::Rerank>,
) -> anyhow::Result<()> {
    use seine_eval::multihop;
    let questions = multihop::questions(&split.queries)?;
    let cfg = a
        .hops
        .config(&a.retriever, fusion.clone(), rerank, a.rerank.flipr_k)?;
    let bar = counter("questions", questions.len() as u64);
    let (single, multi) = multihop::run(searcher, &questions, &a.retriever, &cfg, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let s = multihop::summarize(&questions, &single);
    let m = multihop::summarize(&questions, &multi);
    let run_name = match &a.rerank.rerank {
        Some(how) => format!("{}-{how}{}", a.retriever, a.rerank.rerank_depth),
        None => a.retriever.clone(),
    };
    let result = serde_json::json!({
        "dataset": dataset,
        "split": split.name,
        "questions": questions.len(),
        "corpus": "pooled (every paragraph of the file)",
        "pipeline": {
            "retriever": a.retriever,
            "fusion": (a.retriever.contains('+')).then(|| fusion.method.to_string()),
            "weights": fusion.weights,
            "rerank": a.rerank.rerank,
            "rerank_depth": a.rerank.rerank_depth,
            "flipr_k": a.rerank.flipr_k,
            "dense_model": a.dense.dense,
            "multi_model": a.multi.multi,
            "index": index_path,
        },
        "multihop": {
            "hops": cfg.hops,
            "hop_depth": cfg.depth,
            "condense_passages": cfg.condense_passages,
            "facts": cfg.facts,
            "condense_scorer": cfg.scorer,
            "later_rerank": cfg.rerank_later.map(|r| match r.reduce {
                seine_engine::Reduce::MaxSim => "maxsim".to_string(),
                seine_engine::Reduce::Flipr { k } => format!("flipr{k}"),
            }),
        },
        "single_hop": s,
        "multi_hop": m,
    });
    std::fs::create_dir_all(&a.out)?;
    let stem = format!("multihop-{dataset}-{run_name}-h{}", cfg.hops).replace('+', "_");
    let json_path = a.out.join(format!("{stem}.json"));
    let tmp = json_path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&result)?)?;
    std::fs::rename(&tmp, &json_path)?;
    // One line per question: the gold, both rankings and the chain.
    let per_q = a.out.join(format!("{stem}.questions.jsonl"));
    let mut lines = String::new();
    for ((q, s), m) in questions.iter().zip(&single).zip(&multi) {
        lines.push_str(&serde_json::to_string(&serde_json::json!({
            "id": q.id, "question": q.text, "type": q.qtype, "answer": q.answer, "gold": q.gold,
            "single_hop": s, "multi_hop": m,
        }))?);
        lines.push('\n');
    }
    std::fs::write(&per_q, lines)?;
    print!("{}", multihop::table(&s, &m, cfg.hops));
    println!(
        "both-gold@10: single-hop {:.4}, {}-hop {:.4}  ({run_name})",
        s["both_gold_at_10"].as_f64().unwrap_or(0.0),
        cfg.hops,
        m["both_gold_at_10"].as_f64().unwrap_or(0.0)
    );
    println!("results:   {}", json_path.display());
    println!("questions: {}", per_q.display());
    Ok(())
}
