//! The SPLADE encoder against transformers' BertForMaskedLM on the same model folder
//! (engine/tests/data/splade_reference.json, scripts/make_splade_fixture.py).

use std::collections::HashMap;

use candle_core::Device;
use seine_engine::model::{Backend, ModelDir, resolve_model};
use seine_engine::{Pruning, Side, SpladeEncoder};

#[test]
fn splade_tiny_matches_transformers_native() {
    splade_tiny_matches_transformers(Backend::Native);
}

#[test]
fn splade_tiny_matches_transformers_candle() {
    splade_tiny_matches_transformers(Backend::Candle);
}

fn splade_tiny_matches_transformers(backend: Backend) {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("data/splade_reference.json")).unwrap();
    let texts: Vec<String> = serde_json::from_value(fixture["texts"].clone()).unwrap();
    let want = fixture["weights"].as_array().unwrap();
    assert!(texts.len() >= 20);

    let dir = ModelDir::open(
        &resolve_model(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/splade-tiny"
        ))
        .expect("run scripts/fetch-models.sh"),
    )
    .unwrap();
    let enc = SpladeEncoder::load_with(&dir, None, &Device::Cpu, backend).unwrap();
    assert_eq!(enc.vocab().len(), 30522);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batched = enc.encode(&refs, Side::Document).unwrap();
    for (i, text) in texts.iter().enumerate() {
        let got = &batched[i];
        let top: Vec<(String, f32)> = serde_json::from_value(want[i]["top"].clone()).unwrap();
        let nonzero = want[i]["nonzero"].as_u64().unwrap() as usize;
        assert_eq!(
            got.len(),
            nonzero,
            "{backend}: text {i} {text:?}: non-zero terms"
        );
        let ours: HashMap<&str, f32> = got
            .terms
            .iter()
            .zip(&got.weights)
            .map(|(&t, &w)| (enc.term(t), w))
            .collect();
        for (term, w) in &top {
            let g = ours.get(term.as_str()).copied().unwrap_or(0.0);
            assert!(
                (g - w).abs() <= 1e-3,
                "text {i} {text:?}: {term} {g} vs {w}"
            );
        }
        // The same top terms, in the same order.
        let our_top: Vec<&str> = got
            .by_weight()
            .iter()
            .take(top.len())
            .map(|&(t, _)| enc.term(t))
            .collect();
        let ref_top: Vec<&str> = top.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(our_top, ref_top, "text {i} {text:?}");
        // One text at a time (no padding) equals the padded batch.
        let single = enc.encode(&[text.as_str()], Side::Document).unwrap();
        assert_eq!(single[0].terms, got.terms, "text {i}");
        for (a, b) in single[0].weights.iter().zip(&got.weights) {
            assert!((a - b).abs() < 1e-4, "text {i}: {a} vs {b}");
        }
    }
}

#[test]
fn pruning_keeps_the_heaviest_terms() {
    let dir = ModelDir::open(
        &resolve_model(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/splade-tiny"
        ))
        .unwrap(),
    )
    .unwrap();
    let full = SpladeEncoder::load(&dir, None, &Device::Cpu).unwrap();
    let text = "Paris is the capital and most populous city of France.";
    let all = full.encode(&[text], Side::Document).unwrap().remove(0);
    let pruned = SpladeEncoder::load(&dir, None, &Device::Cpu)
        .unwrap()
        .with_pruning(
            Pruning {
                top_k: Some(10),
                threshold: 0.0,
            },
            Pruning {
                top_k: None,
                threshold: 0.5,
            },
        );
    let d = pruned.encode(&[text], Side::Document).unwrap().remove(0);
    assert_eq!(d.len(), 10);
    let heaviest: Vec<u32> = all.by_weight().iter().take(10).map(|x| x.0).collect();
    assert!(d.terms.iter().all(|t| heaviest.contains(t)));
    let q = pruned.encode(&[text], Side::Query).unwrap().remove(0);
    assert!(q.weights.iter().all(|&w| w > 0.5));
    assert_eq!(q.len(), all.weights.iter().filter(|&&w| w > 0.5).count());
}
