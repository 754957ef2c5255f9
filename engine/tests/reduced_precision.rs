//! `--precision int8|bf16` against f32 on real SciFact text (its own test binary: the
//! precision is a process-wide setting). The kernels are tested against portable
//! oracles in `seine_kernels::bert::{int8, bf16}`; here the whole encoder: MiniLM
//! vectors keep cosine ≥ 0.99 with the f32 ones and each stays nearest its own
//! document's f32 vector, and SPLADE-tiny keeps most of its top terms. The quality on
//! the full SciFact task is in the README (nDCG@10 within 0.002 of f32).

use std::path::Path;

use candle_core::Device;
use seine_datasets::{CorpusOptions, open_corpus};
use seine_engine::model::{Backend, ModelDir, Precision, resolve_model, set_cpu_precision};
use seine_engine::{DenseEncoder, Encoder, Side, SpladeEncoder};

fn model(name: &str) -> ModelDir {
    let p = format!("{}/../models/{name}", env!("CARGO_MANIFEST_DIR"));
    ModelDir::open(&resolve_model(&p).expect("run scripts/fetch-models.sh")).unwrap()
}

fn scifact_texts(n: usize) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/scifact");
    open_corpus(&src, &CorpusOptions::default())
        .unwrap()
        .take(n)
        .map(|d| {
            let d = d.unwrap();
            format!("{} {}", d.title, d.text)
        })
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn reduced_precision_stays_close_to_f32() {
    for p in [Precision::Int8, Precision::Bf16] {
        close_to_f32(p);
    }
}

fn close_to_f32(p: Precision) {
    let texts = scifact_texts(48);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (dense, sparse) = (model("minilm"), model("splade-tiny"));
    set_cpu_precision(Precision::F32);
    let f = DenseEncoder::load_with(&dense, &Device::Cpu, Backend::Native).unwrap();
    let sf = SpladeEncoder::load_with(&sparse, None, &Device::Cpu, Backend::Native).unwrap();
    set_cpu_precision(p);
    let q = DenseEncoder::load_with(&dense, &Device::Cpu, Backend::Native).unwrap();
    let sq = SpladeEncoder::load_with(&sparse, None, &Device::Cpu, Backend::Native).unwrap();
    set_cpu_precision(Precision::F32);

    let (ef, eq) = (
        f.encode(&refs, Side::Document).unwrap(),
        q.encode(&refs, Side::Document).unwrap(),
    );
    let mut worst = 1f32;
    for i in 0..refs.len() {
        let c = dot(ef.row(i), eq.row(i));
        worst = worst.min(c);
        // The int8 vector of a document is still nearest to that document's f32 vector.
        let best = (0..refs.len())
            .max_by(|&a, &b| dot(ef.row(a), eq.row(i)).total_cmp(&dot(ef.row(b), eq.row(i))))
            .unwrap();
        assert_eq!(best, i, "document {i}");
    }
    assert!(worst >= 0.99, "worst cosine {p} vs f32: {worst}");
    // Not a copy of the f32 path: the precision changes the numbers.
    assert!(worst < 0.99999, "{p} was not applied ({worst})");

    let (vf, vq) = (
        sf.encode(&refs[..16], Side::Document).unwrap(),
        sq.encode(&refs[..16], Side::Document).unwrap(),
    );
    for (a, b) in vf.iter().zip(&vq) {
        let top = |v: &seine_engine::SparseVector| -> Vec<u32> {
            v.by_weight().iter().take(20).map(|(t, _)| *t).collect()
        };
        let (ta, tb) = (top(a), top(b));
        let shared = ta.iter().filter(|t| tb.contains(t)).count();
        assert!(shared >= 16, "{p}: top-20 SPLADE terms shared: {shared}");
    }
}
