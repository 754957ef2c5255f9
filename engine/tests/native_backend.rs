//! The native CPU backend against candle's BertModel (the oracle) on random inputs:
//! lengths from 1 to the model's maximum (512 positions for splade-tiny, 256 tokens for
//! MiniLM), random batch compositions and token budgets. Dense vectors: cosine ≥ 0.9999
//! and token vectors within 1e-4; SPLADE: the same top-50 terms and weights within 1e-3.

use std::collections::HashMap;

use candle_core::Device;
use seine_engine::model::{Backend, ModelDir, resolve_model};
use seine_engine::{DenseEncoder, Side, SpladeEncoder};

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        seine_kernels::rng::step(&mut self.0);
        (self.0 % n as u64) as usize
    }
}

/// Random texts of whole vocabulary words (1..=max_words words each).
fn random_texts(rng: &mut Rng, vocab: &[String], n: usize, max_words: usize) -> Vec<String> {
    let words: Vec<&String> = vocab
        .iter()
        .filter(|w| w.len() > 2 && w.chars().all(|c| c.is_ascii_lowercase()))
        .collect();
    (0..n)
        .map(|_| {
            let len = 1 + rng.below(max_words);
            (0..len)
                .map(|_| words[rng.below(words.len())].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let d: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    d / (n(a) * n(b))
}

/// Splits texts into random consecutive groups.
fn random_groups<'a>(rng: &mut Rng, texts: &'a [&'a str]) -> Vec<&'a [&'a str]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < texts.len() {
        let n = 1 + rng.below(5);
        let end = (start + n).min(texts.len());
        out.push(&texts[start..end]);
        start = end;
    }
    out
}

#[test]
fn dense_native_equals_candle_on_random_lengths_and_batches() {
    let dir = ModelDir::open(
        &resolve_model(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/minilm"))
            .expect("run scripts/fetch-models.sh"),
    )
    .unwrap();
    let candle = DenseEncoder::load_with(&dir, &Device::Cpu, Backend::Candle).unwrap();
    let native = DenseEncoder::load_with(&dir, &Device::Cpu, Backend::Native)
        .unwrap()
        .with_token_budget(700);
    let vocab: Vec<String> = candle
        .tokenizer()
        .inner()
        .get_vocab(true)
        .into_keys()
        .collect();
    let mut rng = Rng(0x5eed_1234);
    // Up to 300 words: past MiniLM's 256-token truncation.
    let texts = random_texts(&mut rng, &vocab, 24, 300);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let skip = std::collections::HashSet::from([1012u32, 1010]);
    let (want, want_tok) = candle.encode_with_tokens(&refs, Some(&skip)).unwrap();
    let mut i = 0;
    for group in random_groups(&mut rng, &refs) {
        let (got, got_tok) = native.encode_with_tokens(group, Some(&skip)).unwrap();
        for j in 0..group.len() {
            let c = cosine(got.row(j), want.row(i + j));
            assert!(c >= 0.9999, "text {}: cosine {c}", i + j);
            assert_eq!(got_tok[j].len(), want_tok[i + j].len());
            let worst = got_tok[j]
                .iter()
                .zip(&want_tok[i + j])
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                worst < 1e-4,
                "text {}: token vectors differ by {worst}",
                i + j
            );
        }
        i += group.len();
    }
}

#[test]
fn splade_native_equals_candle_on_random_lengths_and_batches() {
    let dir = ModelDir::open(
        &resolve_model(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/splade-tiny"
        ))
        .expect("run scripts/fetch-models.sh"),
    )
    .unwrap();
    let candle = SpladeEncoder::load_with(&dir, None, &Device::Cpu, Backend::Candle).unwrap();
    let native = SpladeEncoder::load_with(&dir, None, &Device::Cpu, Backend::Native)
        .unwrap()
        .with_token_budget(900);
    let vocab = candle.vocab().to_vec();
    let mut rng = Rng(0xabc_def);
    // Up to 600 words: lengths up to the 512-position maximum.
    let texts = random_texts(&mut rng, &vocab, 20, 600);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let want = candle.encode(&refs, Side::Document).unwrap();
    let mut i = 0;
    for group in random_groups(&mut rng, &refs) {
        let got = native.encode(group, Side::Document).unwrap();
        for (j, g) in got.iter().enumerate() {
            let w = &want[i + j];
            let top = |v: &seine_engine::SparseVector| -> Vec<u32> {
                v.by_weight().iter().take(50).map(|x| x.0).collect()
            };
            let (gt, wt) = (top(g), top(w));
            // Ties at the 50th weight may order differently: compare the first 45.
            assert_eq!(gt[..45], wt[..45], "text {}: top terms", i + j);
            let gm: HashMap<u32, f32> = g.terms.iter().copied().zip(g.weights.clone()).collect();
            for (t, wv) in w.terms.iter().zip(&w.weights) {
                let gv = gm.get(t).copied().unwrap_or(0.0);
                assert!(
                    (gv - wv).abs() < 1e-3,
                    "text {}: term {t}: {gv} vs {wv}",
                    i + j
                );
            }
        }
        i += group.len();
    }
}
