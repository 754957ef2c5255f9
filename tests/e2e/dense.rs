//! Dense retrieval end to end on SciFact with MiniLM (models from
//! scripts/fetch-models.sh): the published nDCG@10, HNSW recall against exact search on
//! the same index's vectors, and embeddings out to Parquet.

use std::path::Path;

use candle_core::Device;
use seine_datasets::beir::BeirDir;
use seine_datasets::embeddings::read_embeddings;
use seine_engine::indexer::{DenseSource, Sources, index_corpus};
use seine_engine::model::{ModelDir, resolve_model};
use seine_engine::{DenseEncoder, Encoder, Side};
use seine_index::lexical::{Bm25Mode, Bm25Params};
use seine_index::{
    BuildOptions, DenseSettings, GraphMode, HnswParams, IndexDir, IndexWriter, LexicalSettings,
    SourceInfo,
};
use serde_json::Value;

use crate::util::{dataset, head_lines, ok, path_str, stdout};

/// Encodes all of SciFact at full length (5,183 abstracts × up to 256 tokens: ~3 min on
/// 2 cores with the native backend).
#[test]
fn scifact_dense_minilm_matches_published_ndcg() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("results");
    let o = ok(&[
        "eval",
        path_str(&dataset("scifact")),
        "--retriever",
        "dense",
        "--dense",
        "minilm",
        "--out",
        path_str(&out),
    ]);
    assert!(stdout(&o).contains("nDCG@10"));
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("seine-dense-minilm/SciFact.json")).unwrap(),
    )
    .unwrap();
    let ndcg = r["scores"]["test"][0]["ndcg_at_10"].as_f64().unwrap();
    // Published (MTEB/BEIR) all-MiniLM-L6-v2 on SciFact: 0.6451.
    assert!(
        (ndcg - 0.6451).abs() <= 0.002,
        "dense nDCG@10 {ndcg} vs published 0.6451"
    );
    let index = IndexDir::open(&out.join("indexes/scifact-bm25-flat-dense-minilm")).unwrap();
    assert!(index.dense().unwrap().has_hnsw());
}

/// HNSW with default parameters against exact search on the vectors of the whole
/// SciFact corpus (MiniLM, documents truncated at 64 tokens to keep CI fast on a
/// 2-core machine) with the 300 real test queries; then the CLI searches that index.
#[test]
fn hnsw_recall_on_scifact_vectors() {
    let mut dir = ModelDir::open(&resolve_model("minilm").unwrap()).unwrap();
    dir.max_length = 64;
    let enc = DenseEncoder::load(&dir, &Device::Cpu).unwrap();
    let beir = BeirDir::open(&dataset("scifact")).unwrap();
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("idx");
    let opts = BuildOptions {
        source: SourceInfo::of(beir.root(), "beir"),
        lexical: Some(LexicalSettings::new(Bm25Mode::Flat, Bm25Params::default())),
        dense: Some(DenseSettings {
            dim: 384,
            ..DenseSettings::new("minilm", GraphMode::Auto, HnswParams::default())
        }),
        sparse: None,
        multi: None,
        overwrite: false,
        command: None,
        threads: 2,
        fields: Vec::new(),
    };
    let writer = IndexWriter::create(&root, opts).unwrap();
    let mut docs = beir.corpus().unwrap();
    let (index, stats) = index_corpus(
        &mut docs,
        writer,
        Sources {
            dense: Some(DenseSource::Encoder(&enc)),
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(stats.docs, 5183);
    let dense = index.dense().unwrap();
    assert!(dense.has_hnsw(), "auto builds HNSW for 5,183 documents");

    let queries: Vec<String> = beir
        .split("test")
        .unwrap()
        .0
        .into_iter()
        .map(|q| q.text)
        .collect();
    let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
    let qv = enc.encode(&refs, Side::Query).unwrap();
    // The default beam is the one fitted at build time to recall@10 0.95 on the index's
    // own vectors; a wide beam reaches the graph's ceiling.
    let recall_at = |ef: Option<usize>| {
        let (mut found, mut total) = (0usize, 0usize);
        for q in qv.rows() {
            let exact = dense.search_exact(q, 10).unwrap();
            let approx: Vec<u32> = dense
                .search(q, 10, ef)
                .unwrap()
                .iter()
                .map(|h| h.doc)
                .collect();
            found += exact.iter().filter(|h| approx.contains(&h.doc)).count();
            total += exact.len();
        }
        found as f64 / total as f64
    };
    let (fitted, wide) = (recall_at(None), recall_at(Some(128)));
    eprintln!(
        "HNSW recall@10 vs exact (M=16, efC=200): {fitted:.4} at the fitted ef {}, {wide:.4} at ef 128",
        dense.ef_search()
    );
    assert!(fitted >= 0.94, "HNSW recall@10 {fitted} at the fitted beam");
    assert!(wide >= 0.99, "HNSW recall@10 {wide} at ef 128");

    // The CLI reopens the index (HNSW reloaded from disk) and answers with both retrievers.
    let s = ok(&[
        "search",
        path_str(&root),
        "diffusion tensor imaging of newborn white matter",
        "-k",
        "3",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&stdout(&s)).unwrap();
    assert_eq!(v["results"]["bm25"][0]["id"], "4983", "{v}");
    assert_eq!(v["results"]["dense"].as_array().unwrap().len(), 3, "{v}");
}

#[test]
fn embed_writes_parquet_equal_to_the_encoder() {
    let t = tempfile::tempdir().unwrap();
    let corpus = t.path().join("c.jsonl");
    head_lines(&dataset("scifact").join("corpus.jsonl"), 40, &corpus);
    let pq = t.path().join("v.parquet");
    ok(&[
        "embed",
        path_str(&corpus),
        "--model",
        "minilm",
        "--out",
        path_str(&pq),
    ]);
    let (ids, dim, data) = read_embeddings(&pq).unwrap();
    assert_eq!((ids.len(), dim), (40, 384));
    assert_eq!(ids[0], "4983");
    let enc = DenseEncoder::load(
        &ModelDir::open(&resolve_model("minilm").unwrap()).unwrap(),
        &Device::Cpu,
    )
    .unwrap();
    let docs: Vec<_> = seine_datasets::jsonl::JsonlDocs::open(&corpus, Default::default())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let text = seine_engine::encode::doc_text(&docs[7]);
    let want = enc.encode(&[text.as_str()], Side::Document).unwrap();
    let got = &data[7 * dim..8 * dim];
    let diff = want
        .row(0)
        .iter()
        .zip(got)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-5, "{diff}");
    assert!(Path::new(&pq).is_file());

    // Bring the vectors back in: an index built from the Parquet file answers like one
    // built by encoding.
    let from_file = t.path().join("idx-file");
    let encoded = t.path().join("idx-enc");
    ok(&[
        "index",
        path_str(&corpus),
        "--out",
        path_str(&from_file),
        "--dense",
        "minilm",
        "--dense-vectors",
        path_str(&pq),
    ]);
    ok(&[
        "index",
        path_str(&corpus),
        "--out",
        path_str(&encoded),
        "--dense",
        "minilm",
    ]);
    let q = "white matter of newborns";
    let a = stdout(&ok(&[
        "search",
        path_str(&from_file),
        q,
        "--retriever",
        "dense",
        "--json",
    ]));
    let b = stdout(&ok(&[
        "search",
        path_str(&encoded),
        q,
        "--retriever",
        "dense",
        "--json",
    ]));
    assert_eq!(a, b);
    // A vectors file missing a document is an error, and nothing is left behind.
    let short = t.path().join("short.jsonl");
    std::fs::write(
        &short,
        std::fs::read_to_string(&corpus).unwrap() + "{\"_id\": \"extra\", \"text\": \"x\"}\n",
    )
    .unwrap();
    let bad = t.path().join("idx-bad");
    let o = crate::util::run(&[
        "index",
        path_str(&short),
        "--out",
        path_str(&bad),
        "--dense",
        "minilm",
        "--dense-vectors",
        path_str(&pq),
    ]);
    assert!(!o.status.success());
    assert!(
        crate::util::stderr(&o).contains("\"extra\" has no vector"),
        "{}",
        crate::util::stderr(&o)
    );
    assert!(!bad.exists());
}
