//! The write path against the generation it extends: documents written later are
//! encoded exactly like the generation's (same encoders, same SPLADE pruning), and
//! compaction copies everything under one read lock while writers wait.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::Device;
use seine_datasets::{CorpusOptions, Doc, open_corpus};
use seine_engine::indexer::{Imported, build};
use seine_engine::{Error, Searcher};
use seine_index::lexical::{Bm25Mode, Bm25Params};
use seine_index::{BuildOptions, IndexDir, LexicalSettings, SourceInfo, SparseSettings};

fn model(name: &str) -> String {
    format!("{}/../models/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The first `n` SciFact documents as a JSONL file, and the next `extra` as documents.
fn corpus(dir: &Path, n: usize, extra: usize) -> (PathBuf, Vec<Doc>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/scifact");
    let mut docs = open_corpus(&src, &CorpusOptions::default()).expect("../shared datasets");
    let path = dir.join("corpus.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    for _ in 0..n {
        let d = docs.next().unwrap().unwrap();
        let line = serde_json::json!({"_id": d.id, "title": d.title, "text": d.text});
        writeln!(f, "{line}").unwrap();
    }
    let later = (0..extra).map(|_| docs.next().unwrap().unwrap()).collect();
    (path, later)
}

fn build_sparse(dir: &Path, corpus: &Path, top_k: usize) -> IndexDir {
    let opts = BuildOptions {
        source: SourceInfo::of(corpus, "jsonl"),
        lexical: Some(LexicalSettings::new(Bm25Mode::Flat, Bm25Params::default())),
        dense: None,
        sparse: Some(SparseSettings {
            top_k: Some(top_k),
            ..SparseSettings::new(&model("splade-tiny"))
        }),
        multi: None,
        overwrite: false,
        command: None,
        threads: 1,
        fields: Vec::new(),
    };
    let mut docs = open_corpus(corpus, &CorpusOptions::default()).unwrap();
    build(
        docs.as_mut(),
        &dir.join("idx"),
        opts,
        &Imported::default(),
        &Device::Cpu,
        &mut |_, _| {},
    )
    .unwrap()
    .0
}

/// `--sparse-top-k` is a setting of the index: documents put through the write log
/// are pruned like the generation's (before, the searcher's encoder kept every term).
#[test]
fn documents_written_later_are_pruned_like_the_generation() {
    let t = tempfile::tempdir().unwrap();
    let (path, later) = corpus(t.path(), 30, 6);
    let dir = build_sparse(t.path(), &path, 5);
    let searcher = Searcher::open(dir).unwrap();
    let enc = searcher.sparse().unwrap().encoder();
    assert_eq!(enc.doc_pruning().top_k, Some(5), "pruning read back");
    searcher.put_documents(&later).unwrap();
    let new = searcher.reopen(searcher.compact().unwrap()).unwrap();
    let fwd = new.sparse().unwrap().index().forward(36).unwrap();
    assert_eq!(fwd.len(), 36);
    for i in 0..fwd.len() {
        let n = fwd.doc(i).count();
        assert!(n > 0, "doc {i} lost its terms");
        assert!(n <= 5, "doc {i} has {n} terms");
    }
}

/// Compaction against a stream of writers: it neither deadlocks nor loses a write.
/// Every acknowledged put is in the new generation or was refused with `Retired`.
#[test]
fn compaction_with_a_concurrent_writer() {
    let t = tempfile::tempdir().unwrap();
    let (path, later) = corpus(t.path(), 30, 24);
    let dir = build_sparse(t.path(), &path, 64);
    let searcher = Arc::new(Searcher::open(dir).unwrap());
    searcher.put_documents(&later[..4]).unwrap();
    let writer = {
        let s = searcher.clone();
        let docs = later[4..].to_vec();
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            for d in docs {
                match s.put_documents(std::slice::from_ref(&d)) {
                    Ok(_) => acked.push(d.id),
                    Err(Error::Retired) => break,
                    Err(e) => panic!("{e}"),
                }
                // Readers meanwhile: a search takes the same lock.
                let req = seine_engine::SearchRequest::new("bm25".parse().unwrap(), 5);
                s.search("cells", &req).unwrap();
            }
            acked
        })
    };
    let new_dir = searcher.compact().unwrap();
    let acked = writer.join().unwrap();
    let new = searcher.reopen(new_dir).unwrap();
    for id in later[..4]
        .iter()
        .map(|d| d.id.as_str())
        .chain(acked.iter().map(String::as_str))
    {
        assert!(
            new.get(id).unwrap().is_some(),
            "acknowledged write {id} lost"
        );
    }
    assert_eq!(new.doc_count(), 30 + 4 + acked.len());
}
