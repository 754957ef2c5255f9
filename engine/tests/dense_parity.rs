//! The dense encoder against sentence-transformers reference embeddings of the same
//! model folder (engine/tests/data/minilm_reference.json, scripts/make_dense_fixture.py).

use candle_core::Device;
use seine_engine::model::{Backend, ModelDir, resolve_model};
use seine_engine::{DenseEncoder, Encoder, Side};

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn minilm_matches_sentence_transformers_native() {
    minilm_matches_sentence_transformers(Backend::Native);
}

#[test]
fn minilm_matches_sentence_transformers_candle() {
    minilm_matches_sentence_transformers(Backend::Candle);
}

fn minilm_matches_sentence_transformers(backend: Backend) {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("data/minilm_reference.json")).unwrap();
    let texts: Vec<String> = serde_json::from_value(fixture["texts"].clone()).unwrap();
    let want: Vec<Vec<f32>> = serde_json::from_value(fixture["embeddings"].clone()).unwrap();
    assert!(texts.len() >= 20);

    let dir = ModelDir::open(
        &resolve_model(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/minilm"))
            .expect("run scripts/fetch-models.sh"),
    )
    .unwrap();
    assert_eq!(dir.max_length, 256);
    assert!(dir.normalize);
    let enc = DenseEncoder::load_with(&dir, &Device::Cpu, backend).unwrap();
    assert_eq!(enc.backend(), backend);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batched = enc.encode(&refs, Side::Document).unwrap();
    assert_eq!(batched.len(), texts.len());
    for (i, text) in texts.iter().enumerate() {
        let c = cosine(batched.row(i), &want[i]);
        assert!(c >= 0.9999, "{backend}: text {i} {text:?}: cosine {c}");
        let norm: f32 = batched.row(i).iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        // One at a time (no padding) equals batched (padded with others).
        let single = enc.encode(&[text.as_str()], Side::Document).unwrap();
        let diff = single
            .row(0)
            .iter()
            .zip(batched.row(i))
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-5, "text {i}: batched vs single differ by {diff}");
    }
    // Small token budgets split batches differently; results stay the same.
    let small = DenseEncoder::load_with(&dir, &Device::Cpu, backend)
        .unwrap()
        .with_token_budget(64);
    let again = small.encode(&refs, Side::Document).unwrap();
    for i in 0..texts.len() {
        assert!(cosine(again.row(i), batched.row(i)) > 0.99999);
    }
}

#[test]
fn cuda_request_without_cuda_is_a_clear_error() {
    let spec: seine_engine::model::DeviceSpec = "cuda:0".parse().unwrap();
    if candle_core::utils::cuda_is_available() {
        eprintln!("skipped: a CUDA device is present");
        return;
    }
    let err = seine_engine::model::resolve_device(spec)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--device cpu"), "{err}");
    assert!("gpu".parse::<seine_engine::model::DeviceSpec>().is_err());
}
