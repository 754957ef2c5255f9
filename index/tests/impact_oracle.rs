//! The SPLADE impact query (our tantivy Query/Weight/Scorer) against a brute-force
//! sparse dot product over the same quantized weights.

use seine_datasets::Doc;
use seine_index::sparse::quantize;
use seine_index::{BuildOptions, IndexDir, IndexWriter, SourceInfo, SparseSettings};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        seine_kernels::rng::step(&mut self.0)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Zipf-like term ids: frequent terms appear in many documents.
    fn term(&mut self, vocab: usize) -> usize {
        ((self.unit().powi(3)) * vocab as f32) as usize % vocab
    }
}

fn sparse_vec(rng: &mut Rng, vocab: usize, n: usize) -> Vec<(String, f32)> {
    let mut v: Vec<(String, f32)> = (0..n)
        .map(|_| (format!("t{}", rng.term(vocab)), rng.unit() * 3.0))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

#[test]
fn impact_scores_equal_the_quantized_dot_product() {
    let mut rng = Rng(0x5eed);
    let vocab = 400;
    let docs: Vec<Vec<(String, f32)>> = (0..1500)
        .map(|i| {
            let n = 1 + (i % 60);
            sparse_vec(&mut rng, vocab, n)
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let opts = BuildOptions {
        source: SourceInfo::default(),
        lexical: None,
        dense: None,
        sparse: Some(SparseSettings::new("test")),
        multi: None,
        overwrite: false,
        command: None,
        threads: 2,
        fields: Vec::new(),
    };
    let mut w = IndexWriter::create(&tmp.path().join("idx"), opts).unwrap();
    for (i, d) in docs.iter().enumerate() {
        let doc = Doc {
            id: format!("d{i}"),
            ..Doc::default()
        };
        let terms: Vec<(&str, f32)> = d.iter().map(|(t, w)| (t.as_str(), *w)).collect();
        w.add_with(&doc, None, Some(&terms)).unwrap();
    }
    let dir = w.commit().unwrap();
    let index = IndexDir::open(dir.root()).unwrap().sparse().unwrap();
    let scale = index.scale();
    let k = 10;
    for qi in 0..200 {
        let q = sparse_vec(&mut rng, vocab, 1 + qi % 25);
        let qt: Vec<(&str, f32)> = q.iter().map(|(t, w)| (t.as_str(), *w)).collect();
        // Brute force over the same quantized impacts.
        let exact: Vec<f32> = docs
            .iter()
            .map(|d| {
                let mut s = 0f64;
                for (t, w) in &q {
                    if let Some((_, dw)) = d.iter().find(|(dt, _)| dt == t) {
                        s += *w as f64 * quantize(*dw, scale) as f64 / scale as f64;
                    }
                }
                s as f32
            })
            .collect();
        let hits = index.search(&qt, k).unwrap();
        let matching = exact.iter().filter(|&&s| s > 0.0).count();
        assert_eq!(hits.len(), matching.min(k), "query {qi}");
        for h in &hits {
            let want = exact[h.doc as usize];
            assert!(
                (h.score - want).abs() <= 1e-4 * want.abs().max(1.0),
                "query {qi} doc {}: {} vs {want}",
                h.doc,
                h.score
            );
            // The explanation adds up to the score.
            let parts = index.explain(&qt, h.doc).unwrap();
            let sum: f32 = parts.iter().map(|(_, w, tf)| w * *tf as f32 / scale).sum();
            assert!((sum - h.score).abs() <= 1e-4 * sum.abs().max(1.0));
        }
        // The top-k equals the brute-force top-k (up to ties at the k-th score).
        let mut order: Vec<usize> = (0..docs.len()).filter(|&d| exact[d] > 0.0).collect();
        order.sort_by(|&a, &b| exact[b].total_cmp(&exact[a]).then(a.cmp(&b)));
        order.truncate(k);
        if let Some(&last) = order.last() {
            let kth = exact[last];
            for (h, &d) in hits.iter().zip(&order) {
                assert!(
                    (h.score - exact[d]).abs() <= 1e-4 * exact[d].max(1.0),
                    "query {qi}"
                );
                if exact[d] > kth + 1e-4 {
                    assert!(
                        hits.iter().any(|x| x.doc as usize == d),
                        "query {qi}: doc {d} missing"
                    );
                }
            }
        }
    }
}
