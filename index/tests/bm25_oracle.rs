//! BM25 through tantivy (our Query/Weight/Scorer) against a brute-force oracle that
//! analyzes every document itself and applies Lucene's formula.

use std::collections::HashMap;
use std::path::PathBuf;

use seine_datasets::Doc;
use seine_datasets::beir::BeirDir;
use seine_index::lexical::{Bm25Mode, Bm25Params, idf, terms};
use seine_index::{BuildOptions, IndexDir, IndexWriter, LexicalSettings, SourceInfo};
use tantivy::fieldnorm::FieldNormReader;

fn scifact() -> BeirDir {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/scifact");
    BeirDir::open(&root).expect("../shared/datasets/scifact")
}

/// Field length as stored: the largest one-byte code not above the true length.
fn quantized(len: usize) -> f32 {
    let mut best = 0;
    for id in 0..=255u8 {
        if FieldNormReader::id_to_fieldnorm(id) as usize <= len {
            best = FieldNormReader::id_to_fieldnorm(id);
        }
    }
    best as f32
}

struct Oracle {
    docs: Vec<HashMap<String, u32>>,
    lens: Vec<usize>,
    df: HashMap<String, u64>,
}

impl Oracle {
    fn new(fields: &[String]) -> Self {
        let mut docs = Vec::new();
        let mut lens = Vec::new();
        let mut df: HashMap<String, u64> = HashMap::new();
        for text in fields {
            let t = terms(text);
            lens.push(t.len());
            let mut tf: HashMap<String, u32> = HashMap::new();
            for term in t {
                *tf.entry(term).or_default() += 1;
            }
            for term in tf.keys() {
                *df.entry(term.clone()).or_default() += 1;
            }
            docs.push(tf);
        }
        Oracle { docs, lens, df }
    }

    fn scores(&self, query: &str, p: Bm25Params) -> Vec<f32> {
        let n = self.docs.len() as u64;
        let avgdl = self.lens.iter().sum::<usize>() as f32 / n as f32;
        let mut qtf: HashMap<String, u32> = HashMap::new();
        for t in terms(query) {
            *qtf.entry(t).or_default() += 1;
        }
        (0..self.docs.len())
            .map(|d| {
                let mut s = 0f32;
                for (t, w) in &qtf {
                    let Some(&tf) = self.docs[d].get(t) else {
                        continue;
                    };
                    let tf = tf as f32;
                    let norm = p.k1 * (1.0 - p.b + p.b * quantized(self.lens[d]) / avgdl);
                    s += *w as f32 * idf(self.df[t], n) * tf / (tf + norm);
                }
                s
            })
            .collect()
    }
}

#[test]
fn tantivy_bm25_equals_brute_force() {
    let beir = scifact();
    let docs: Vec<Doc> = beir
        .corpus()
        .unwrap()
        .take(600)
        .map(Result::unwrap)
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    for mode in [Bm25Mode::Flat, Bm25Mode::Multifield] {
        let path = tmp.path().join(mode.to_string());
        let opts = BuildOptions {
            source: SourceInfo::default(),
            lexical: Some(LexicalSettings::new(mode, Bm25Params::default())),
            dense: None,
            sparse: None,
            multi: None,
            overwrite: false,
            command: None,
            threads: 2,
            fields: Vec::new(),
        };
        let mut w = IndexWriter::create(&path, opts).unwrap();
        for d in &docs {
            w.add(d, None).unwrap();
        }
        let index = IndexDir::open(w.commit().unwrap().root()).unwrap();
        let lexical = index.lexical().unwrap();
        let oracles: Vec<Oracle> = match mode {
            Bm25Mode::Flat => vec![Oracle::new(
                &docs
                    .iter()
                    .map(|d| format!("{} {}", d.title, d.text))
                    .collect::<Vec<_>>(),
            )],
            Bm25Mode::Multifield => vec![
                Oracle::new(&docs.iter().map(|d| d.title.clone()).collect::<Vec<_>>()),
                Oracle::new(&docs.iter().map(|d| d.text.clone()).collect::<Vec<_>>()),
            ],
        };
        let queries = beir.queries().unwrap();
        for params in [Bm25Params::default(), Bm25Params { k1: 1.2, b: 0.75 }] {
            for q in queries.iter().take(60) {
                let mut want = vec![0f32; docs.len()];
                for o in &oracles {
                    for (d, s) in o.scores(&q.text, params).into_iter().enumerate() {
                        want[d] += s;
                    }
                }
                let hits = lexical.search_with(&q.text, 20, params).unwrap();
                let matching = want.iter().filter(|&&s| s > 0.0).count();
                assert_eq!(hits.len(), matching.min(20), "query {}", q.id);
                for h in &hits {
                    let w = want[h.doc as usize];
                    assert!(
                        (h.score - w).abs() <= 1e-4 * w.max(1.0),
                        "query {} doc {}: {} vs {}",
                        q.id,
                        h.doc,
                        h.score,
                        w
                    );
                }
                // The k-th best oracle score bounds every missing document.
                let mut sorted = want.clone();
                sorted.sort_by(|a, b| b.total_cmp(a));
                if let Some(last) = hits.last() {
                    assert!(
                        (last.score - sorted[hits.len() - 1]).abs() <= 1e-4 * last.score.max(1.0)
                    );
                }
            }
        }
    }
}
