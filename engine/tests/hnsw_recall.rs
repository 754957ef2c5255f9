//! HNSW against exact search on the real SciFact corpus vectors (MiniLM), and the
//! Parquet export/import of those vectors.

use std::path::Path;

use candle_core::Device;
use seine_datasets::beir::BeirDir;
use seine_datasets::embeddings::{EmbeddingWriter, read_embeddings};
use seine_engine::indexer::doc_text;
use seine_engine::model::{ModelDir, resolve_model};
use seine_engine::{DenseEncoder, Encoder, Side};
use seine_index::dense::{DenseIndex, HnswParams, build_hnsw};
use seine_index::ScoredDoc;

#[test]
fn hnsw_recall_at_10_against_exact_search() {
    let beir = BeirDir::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/scifact")).unwrap();
    let enc = DenseEncoder::load(&ModelDir::open(&resolve_model("minilm").unwrap()).unwrap(), &Device::Cpu).unwrap();
    let docs: Vec<_> = beir.corpus().unwrap().map(Result::unwrap).collect();
    let texts: Vec<String> = docs.iter().map(doc_text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = enc.encode(&refs, Side::Document).unwrap();
    assert_eq!(vectors.len(), 5183);

    // Parquet round trip of the real vectors.
    let t = tempfile::tempdir().unwrap();
    let pq = t.path().join("v.parquet");
    let mut w = EmbeddingWriter::create(&pq, enc.dim()).unwrap();
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    w.write(&ids[..1000], &vectors.data[..1000 * enc.dim()]).unwrap();
    w.write(&ids[1000..], &vectors.data[1000 * enc.dim()..]).unwrap();
    assert_eq!(w.finish().unwrap(), 5183);
    let (back_ids, dim, back) = read_embeddings(&pq).unwrap();
    assert_eq!((back_ids.len(), dim), (5183, 384));
    assert_eq!(back_ids[17], docs[17].id);
    assert_eq!(back, vectors.data);

    let exact = DenseIndex::from_vectors(enc.dim(), vectors.data.clone());
    let graph = build_hnsw(&vectors.data, enc.dim(), HnswParams::default()).unwrap();
    let queries: Vec<String> = beir.split("test").unwrap().0.into_iter().map(|q| q.text).collect();
    let qrefs: Vec<&str> = queries.iter().map(String::as_str).collect();
    let qv = enc.encode(&qrefs, Side::Query).unwrap();
    let (mut found, mut total) = (0usize, 0usize);
    for q in qv.rows() {
        let want: Vec<ScoredDoc> = exact.search_exact(q, 10).unwrap();
        let got = graph.search(q, 10, HnswParams::default().ef_search);
        let got: Vec<usize> = got.iter().map(|n| n.d_id).collect();
        found += want.iter().filter(|h| got.contains(&(h.doc as usize))).count();
        total += want.len();
    }
    let recall = found as f64 / total as f64;
    eprintln!("HNSW recall@10 vs exact (M=16, efC=200, efS=128): {recall:.4}");
    assert!(recall >= 0.99, "recall@10 {recall}");
}
