use std::path::{Path, PathBuf};

use anyhow::bail;
use seine_datasets::CorpusOptions;
use seine_datasets::beir::BeirDir;
use seine_engine::encoders::model_label;
use seine_engine::{QueryParams, Rerank, RetrieverKind, RetrieverSet, SearchRequest, Searcher};
use seine_eval::metrics::EvalOptions;
use seine_eval::report::{mteb_task_name, table, write_mteb, write_per_query};
use seine_eval::run::write_trec;
use seine_eval::runner::{RunSpec, Split, run_beir};

use seine_engine::model::resolve_device;

use super::{
    Bm25Args, DenseArgs, FusionArgs, MultiArgs, MultiHopArgs, Parts, RerankArgs, SparseArgs,
    build_options, default_eval_index, open_or_build,
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
    retriever: RetrieverSet,
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
    #[command(flatten)]
    plaid: super::PlaidArgs,
    /// Learned-sparse search: exact, approx, approx:ALPHA or approx:ALPHA:CUT (as
    /// `seine search`); an approximate run also runs the exact one and prints its
    /// recall@10 against it.
    #[arg(long, default_value = "exact")]
    sparse_search: seine_index::sparse::SparseSearch,
    /// Multi-hop evaluation (gold passages from the split's qrels, else
    /// metadata.supporting_facts): single-hop and multi-hop side by side, passage
    /// recall, all-gold ("both-gold") and answer recall (answer + answer_aliases)
    /// @2/5/10/20, by question type, and the chain's supporting-fact recall.
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
    check_models(&a)?;
    let fusion = a.fusion.fusion()?;
    fusion.validate(a.retriever.parts().len())?;
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
    let parts = Parts {
        dense: &a.dense,
        sparse: &a.sparse,
        multi: &a.multi,
    };
    let opts = build_options(
        beir.root(),
        &CorpusOptions::default(),
        a.bm25.settings(),
        parts,
        false,
        a.threads,
        &[],
    );
    let dir = open_or_build(beir.root(), &index_path, opts, parts, explicit, a.rebuild)?;
    let searcher = Searcher::open_on(dir, &resolve_device(a.dense.device)?)?;
    let request = SearchRequest {
        retrievers: a.retriever.clone(),
        k: a.depth,
        fusion: fusion.clone(),
        rerank,
        params: QueryParams {
            bm25: Some(a.bm25.params()),
            ef: None,
            plaid: a.plaid.plaid(a.depth),
            warp: a.plaid.warp(a.depth),
            sparse: a.sparse_search,
        },
        filter: None,
    };
    searcher.check(&request)?;
    if a.multihop {
        return run_multihop(&a, &searcher, &split, &dataset, &index_path, &request);
    }

    let spec = RunSpec {
        request,
        depth: a.depth,
        eval: EvalOptions {
            ignore_identical_ids: !a.keep_identical_ids,
            ..EvalOptions::default()
        },
    };
    let bar = counter("searching", split.queries.len() as u64);
    let result = run_beir(&split, &searcher, &spec, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let recall_vs_exact = approx_recall(&split, &searcher, &spec, &result)?;

    let run_name = run_name(&a, &fusion, rerank);
    let settings = settings_json(&a, &fusion, rerank, &index_path, recall_vs_exact);
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

/// The run's settings as stored in its results JSON.
fn settings_json(
    a: &Args,
    fusion: &seine_engine::Fusion,
    rerank: Option<Rerank>,
    index_path: &Path,
    recall_vs_exact: Option<f64>,
) -> serde_json::Value {
    serde_json::json!({
        "bm25_mode": a.bm25.bm25_mode,
        "k1": a.bm25.k1,
        "b": a.bm25.b,
        "depth": a.depth,
        "ignore_identical_ids": !a.keep_identical_ids,
        "dense_model": a.dense.dense,
        "sparse_model": a.sparse.sparse,
        "multi_model": a.multi.multi,
        "rerank": rerank.map(|r| serde_json::json!({
            "method": r.kind(), "depth": r.depth, "flipr_k": a.rerank.flipr_k,
        })),
        "fusion": a.retriever.is_fusion().then(|| serde_json::json!({
            "method": fusion.method.to_string(),
            "rrf_k": a.fusion.rrf_k,
            "weights": fusion.weights,
            "depth": fusion.depth,
        })),
        "index": index_path,
        "sparse_search": {"mode": a.sparse_search.to_string(), "recall_at_10_vs_exact": recall_vs_exact},
    })
}

/// For an approximate sparse search: the run's mean recall@10 against the exact one's
/// top 10 (the exact run made here); None for an exact search.
fn approx_recall(
    split: &Split,
    searcher: &Searcher,
    spec: &RunSpec,
    result: &seine_eval::runner::BeirResult,
) -> anyhow::Result<Option<f64>> {
    let uses_sparse = spec
        .request
        .retrievers
        .parts()
        .contains(&RetrieverKind::Splade);
    if spec.request.params.sparse == Default::default() || !uses_sparse {
        return Ok(None);
    }
    let mut exact = spec.clone();
    exact.request.params.sparse = Default::default();
    let bar = counter("exact sparse search (recall)", split.queries.len() as u64);
    let want = run_beir(split, searcher, &exact, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let (mut hit, mut total) = (0usize, 0usize);
    for (q, exact_hits) in &want.run {
        let top: Vec<&String> = exact_hits.iter().take(10).map(|h| &h.0).collect();
        let got = result.run.get(q).map_or(&[][..], |v| &v[..]);
        hit += got.iter().take(10).filter(|h| top.contains(&&h.0)).count();
        total += top.len();
    }
    let recall = (total > 0).then(|| hit as f64 / total as f64);
    if let Some(r) = recall {
        println!(
            "sparse search {}: recall@10 {r:.4} against exact search",
            spec.request.params.sparse
        );
    }
    Ok(recall)
}

/// Every retriever asked for has its model.
fn check_models(a: &Args) -> anyhow::Result<()> {
    for kind in a.retriever.parts() {
        match kind {
            RetrieverKind::Bm25 => {}
            RetrieverKind::Dense if a.dense.dense.is_none() => {
                bail!("retriever dense needs a model: --dense minilm (or a model folder)")
            }
            RetrieverKind::Splade if a.sparse.sparse.is_none() => {
                bail!("retriever splade needs a model: --sparse splade-tiny (or a model folder)")
            }
            RetrieverKind::Maxsim if a.multi.multi.is_none() => {
                bail!("retriever maxsim needs token vectors: --multi minilm (or a ColBERT model)")
            }
            RetrieverKind::Dense | RetrieverKind::Splade | RetrieverKind::Maxsim => {}
        }
    }
    Ok(())
}

/// `seine-<retriever>-<model or mode or fusion>[-<rerank><depth>]`.
fn run_name(
    a: &Args,
    fusion: &seine_engine::Fusion,
    rerank: Option<seine_engine::Rerank>,
) -> String {
    let parts = a.retriever.parts();
    let base = match (parts, &a.dense.dense, &a.sparse.sparse) {
        ([RetrieverKind::Dense], Some(model), _) => format!("seine-dense-{}", model_label(model)),
        ([RetrieverKind::Splade], _, Some(model)) => {
            format!("seine-splade-{}", model_label(model))
        }
        ([RetrieverKind::Bm25], _, _) => format!("seine-bm25-{}", a.bm25.bm25_mode),
        ([RetrieverKind::Maxsim], _, _) => match &a.multi.multi {
            Some(model) => format!("seine-maxsim-{}", model_label(model)),
            None => "seine-maxsim".to_string(),
        },
        _ => format!("seine-{}-{}", a.retriever, fusion.method),
    };
    match rerank {
        Some(r) => format!("{base}-{}{}", r.kind(), r.depth),
        None => base,
    }
}

/// `--multihop`: single-hop and multi-hop over the pooled corpus, one table, one JSON.
fn run_multihop(
    a: &Args,
    searcher: &Searcher,
    split: &Split,
    dataset: &str,
    index_path: &std::path::Path,
    request: &SearchRequest,
) -> anyhow::Result<()> {
    use seine_eval::multihop;
    let (fusion, rerank) = (&request.fusion, request.rerank);
    let questions = multihop::questions(&split.queries, &split.qrels)?;
    let mut cfg = a
        .hops
        .config(&a.retriever, fusion.clone(), rerank, a.rerank.flipr_k)?;
    cfg.params = request.params;
    let scorer = cfg.scorer_for(searcher);
    eprintln!(
        "multi-hop: {} hops, condenser {scorer}{}",
        cfg.hops,
        if cfg.scorer.is_none() {
            " (the best this index supports)"
        } else {
            ""
        }
    );
    let bar = counter("questions", questions.len() as u64);
    let (single, multi) = multihop::run(searcher, &questions, &cfg, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let run_name = match rerank {
        Some(r) => format!("{}-{}{}", a.retriever, r.kind(), r.depth),
        None => a.retriever.to_string(),
    };
    let pipeline = serde_json::json!({
        "retriever": a.retriever,
        "fusion": a.retriever.is_fusion().then(|| fusion.method.to_string()),
        "weights": fusion.weights,
        "rerank": rerank.map(|r| r.kind()),
        "rerank_depth": a.rerank.rerank_depth,
        "flipr_k": a.rerank.flipr_k,
        "dense_model": a.dense.dense,
        "multi_model": a.multi.multi,
        "index": index_path,
    });
    let report = multihop::Report {
        dataset,
        split: &split.name,
        run_name: &run_name,
        questions: &questions,
        single: &single,
        multi: &multi,
        cfg: &cfg,
        scorer,
        pipeline,
    };
    let (json_path, per_q) = report.write(&a.out)?;
    print!("{}", report.table());
    println!("{}", report.headline());
    println!("results:   {}", json_path.display());
    println!("questions: {}", per_q.display());
    Ok(())
}
