//! Metadata filters hold inside every retriever (issue 17): random filters over a
//! SciFact subset with deterministic synthetic metadata (year, kind, published date,
//! impact — derived from the document id) and over HotpotQA passages with their
//! question's `type` and `level`. Every hit of every retriever, fusion, rerank and
//! multi-hop search passes the filter (checked against the corpus file's own
//! metadata), and the exact retrievers give the filtered top k of the whole corpus —
//! the filter is applied inside the search, not to its top k.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::Device;
use seine_datasets::{CorpusOptions, Doc, Metadata, open_corpus};
use seine_engine::indexer::{Imported, build};
use seine_engine::multihop::MultiHop;
use seine_engine::{Rerank, RerankKind, RetrieverSet, SearchRequest, Searcher};
use seine_index::filter::fields::extract;
use seine_index::filter::{FieldSpec, Filter};
use seine_index::lexical::{Bm25Mode, Bm25Params};
use seine_index::{
    BuildOptions, Compression, DenseSettings, GraphMode, HnswParams, IndexDir, LexicalSettings,
    MultiSettings, SourceInfo, SparseSettings, VectorDtype,
};

/// A search of `set` for `k` hits within `filter` (rerank as given).
fn request(set: &RetrieverSet, k: usize, rerank: Option<Rerank>, filter: &Filter) -> SearchRequest {
    SearchRequest {
        rerank,
        filter: Some(filter.clone()),
        ..SearchRequest::new(set.clone(), k)
    }
}

fn model(name: &str) -> String {
    format!("{}/../models/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn shared(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/datasets")
        .join(name)
}

const KINDS: [&str; 4] = ["review", "trial", "cohort", "case"];

/// SciFact's document `id` with its synthetic metadata (every tenth has no kind).
fn scifact_meta(id: &str) -> Metadata {
    let n: u64 = id.parse().unwrap_or(0);
    let year = 1990 + n % 33;
    let mut m = Metadata::new();
    m.insert("year".into(), serde_json::json!(year));
    if !n.is_multiple_of(10) {
        m.insert(
            "kind".into(),
            serde_json::json!(KINDS[(n / 7 % 4) as usize]),
        );
    }
    let date = format!("{year}-{:02}-{:02}", 1 + n % 12, 1 + n % 28);
    m.insert("published".into(), serde_json::json!(date));
    m.insert(
        "impact".into(),
        serde_json::json!((n % 1000) as f64 / 100.0),
    );
    m
}

/// The first `n` documents of `dataset` as JSONL with `meta(doc)` merged into each
/// line (part top-level, part inside a `metadata` object, as corpora come).
fn corpus(dir: &Path, dataset: &str, n: usize, meta: &dyn Fn(&Doc) -> Metadata) -> PathBuf {
    let mut docs = open_corpus(&shared(dataset), &CorpusOptions::default()).unwrap();
    let path = dir.join("corpus.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    for i in 0..n {
        let d = docs.next().unwrap().unwrap();
        let mut line = serde_json::json!({"_id": d.id, "title": d.title, "text": d.text});
        let m = meta(&d);
        let (top, nested): (Vec<_>, Vec<_>) = m.into_iter().partition(|_| i % 2 == 0);
        for (k, v) in top {
            line[k] = v;
        }
        line["metadata"] = serde_json::Value::Object(nested.into_iter().collect());
        writeln!(f, "{line}").unwrap();
    }
    path
}

fn specs(s: &str) -> Vec<FieldSpec> {
    s.split(',').map(|f| f.parse().unwrap()).collect()
}

fn build_index(dir: &Path, corpus: &Path, fields: Vec<FieldSpec>, models: bool) -> IndexDir {
    let opts = BuildOptions {
        source: SourceInfo::of(corpus, "jsonl"),
        lexical: Some(LexicalSettings::new(Bm25Mode::Flat, Bm25Params::default())),
        dense: models
            .then(|| DenseSettings::new(&model("minilm"), GraphMode::Off, HnswParams::default())),
        sparse: models.then(|| SparseSettings::new(&model("splade-tiny"))),
        multi: models.then(|| MultiSettings {
            compression: Compression::Bits(2),
            ..MultiSettings::new(&model("minilm"), VectorDtype::F16)
        }),
        overwrite: false,
        command: None,
        threads: 1,
        fields,
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

/// Whether the document with this metadata passes (the oracle: the corpus file's
/// values, typed as declared).
fn passes(f: &Filter, specs: &[FieldSpec], id: &str, m: &Metadata) -> bool {
    f.matches(&|name| {
        let spec = specs.iter().find(|s| s.name == name)?;
        extract(spec, id, m).unwrap()
    })
}

/// A deterministic pseudo-random stream (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random filter expression over the SciFact fields.
fn random_filter(r: &mut Rng, depth: usize) -> String {
    let ops = ["=", "!=", "<", "<=", ">", ">="];
    let leaf = |r: &mut Rng| match r.below(5) {
        0 => format!("year {} {}", ops[r.below(6) as usize], 1990 + r.below(33)),
        1 => format!("kind = \"{}\"", KINDS[r.below(4) as usize]),
        2 => {
            let a = KINDS[r.below(4) as usize];
            let b = KINDS[r.below(4) as usize];
            let not = if r.below(3) == 0 { "NOT " } else { "" };
            format!("kind {not}IN (\"{a}\", \"{b}\")")
        }
        3 => format!(
            "published {} \"{}-{:02}-15\"",
            ops[2 + r.below(4) as usize],
            1990 + r.below(33),
            1 + r.below(12)
        ),
        _ => format!("impact < {}.{}", r.below(10), r.below(10)),
    };
    if depth == 0 {
        return leaf(r);
    }
    match r.below(4) {
        0 => leaf(r),
        1 => format!(
            "({}) AND ({})",
            random_filter(r, depth - 1),
            random_filter(r, depth - 1)
        ),
        2 => format!(
            "({}) OR ({})",
            random_filter(r, depth - 1),
            random_filter(r, depth - 1)
        ),
        _ => format!("NOT ({})", random_filter(r, depth - 1)),
    }
}

/// Scores of the exact filtered top `k`: every document ranked, the filter applied
/// afterwards (the oracle for retrievers that are exact).
fn oracle_scores(
    s: &Searcher,
    set: &RetrieverSet,
    q: &str,
    k: usize,
    keep: &dyn Fn(&str) -> bool,
) -> Vec<f32> {
    let all = s
        .search(q, &SearchRequest::new(set.clone(), s.doc_count()))
        .unwrap();
    all.iter()
        .filter(|h| keep(&h.id))
        .take(k)
        .map(|h| h.score)
        .collect()
}

fn assert_scores_eq(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (a, b) in got.iter().zip(want) {
        assert!(
            (a - b).abs() <= 1e-4 * b.abs().max(1.0),
            "{what}: {got:?} vs {want:?}"
        );
    }
}

#[test]
fn random_filters_hold_in_every_retriever_on_scifact() {
    let t = tempfile::tempdir().unwrap();
    let n = 600;
    let path = corpus(t.path(), "scifact", n, &|d| scifact_meta(&d.id));
    let fields = specs("year:integer,kind:keyword,published:date,impact:float");
    let searcher = Searcher::open(build_index(t.path(), &path, fields.clone(), true)).unwrap();
    let meta: HashMap<String, Metadata> = open_corpus(&path, &CorpusOptions::default())
        .unwrap()
        .map(|d| {
            let d = d.unwrap();
            (d.id.clone(), d.metadata)
        })
        .collect();
    // Stored values read back as written.
    let (doc, _) = searcher.get("4983").unwrap().unwrap();
    let m = searcher.metadata(doc);
    assert_eq!(m["year"], meta["4983"]["year"]);
    assert_eq!(m["published"], meta["4983"]["published"]);
    assert_eq!(m["impact"], meta["4983"]["impact"]);

    let queries = [
        "vitamin D deficiency and bone fractures",
        "stem cells differentiation in the heart",
        "antibiotic resistance in hospital infections",
    ];
    let exact = ["bm25", "splade", "dense"];
    let all_sets = ["bm25", "dense", "splade", "maxsim", "bm25+dense+splade"];
    let mut rng = Rng(17);
    let mut checked = 0usize;
    let mut selectivities = Vec::new();
    for round in 0..24 {
        let expr = random_filter(&mut rng, 2);
        let filter: Filter = expr.parse().unwrap_or_else(|e| panic!("{expr}: {e}"));
        let keep = |id: &str| passes(&filter, &fields, id, &meta[id]);
        let allowed = searcher.allowed(&filter).unwrap();
        let want = meta.keys().filter(|id| keep(id)).count();
        assert_eq!(allowed.len(), want, "{expr}: allowed set vs oracle");
        selectivities.push(want as f64 / n as f64);
        let q = queries[round % queries.len()];
        for set in all_sets {
            let set: RetrieverSet = set.parse().unwrap();
            let hits = searcher
                .search_fused(q, &request(&set, 10, None, &filter))
                .unwrap();
            assert!(hits.len() <= 10.min(want));
            for h in &hits {
                assert!(keep(&h.hit.id), "{set}: {} fails {expr}", h.hit.id);
                checked += 1;
            }
            if exact.contains(&set.to_string().as_str()) {
                let got: Vec<f32> = hits.iter().map(|h| h.hit.score).collect();
                let want = oracle_scores(&searcher, &set, q, 10, &keep);
                assert_scores_eq(&got, &want, &format!("{set} with {expr}"));
            }
        }
        // Rerank and multi-hop see only filtered candidates.
        let rerank = Rerank::new(RerankKind::MaxSim, 50, 8);
        let set: RetrieverSet = "bm25+dense".parse().unwrap();
        let hits = searcher
            .search_fused(q, &request(&set, 10, Some(rerank), &filter))
            .unwrap();
        assert!(hits.iter().all(|h| keep(&h.hit.id)), "rerank with {expr}");
        if round % 6 == 0 {
            let cfg = MultiHop {
                hops: 2,
                retriever: "bm25".parse().unwrap(),
                filter: Some(filter.clone()),
                ..MultiHop::default()
            };
            let r = searcher.search_multihop(q, 10, &cfg).unwrap();
            assert!(
                r.ranking.iter().all(|h| keep(&h.id)),
                "multi-hop with {expr}"
            );
        }
    }
    assert!(checked > 500, "only {checked} hits checked");
    let tight = selectivities.iter().filter(|&&s| s < 0.1).count();
    let loose = selectivities.iter().filter(|&&s| s > 0.5).count();
    assert!(tight >= 2 && loose >= 2, "selectivities {selectivities:?}");
}

#[test]
fn filters_cover_written_documents_and_survive_compaction() {
    let t = tempfile::tempdir().unwrap();
    let path = corpus(t.path(), "scifact", 120, &|d| scifact_meta(&d.id));
    let fields = specs("year:integer,kind:keyword,published:date,impact:float");
    let searcher = Searcher::open(build_index(t.path(), &path, fields, false)).unwrap();
    let bm25: RetrieverSet = "bm25".parse().unwrap();
    let doc = |id: &str, year: u64, kind: &str| Doc {
        id: id.into(),
        title: "Vitamin D".into(),
        text: "vitamin D supplements and bone fractures in older adults".into(),
        metadata: serde_json::json!({"year": year, "kind": kind})
            .as_object()
            .unwrap()
            .clone(),
    };
    searcher
        .put_documents(&[doc("new-a", 2030, "trial"), doc("new-b", 1980, "trial")])
        .unwrap();
    let f: Filter = "year >= 2025 AND kind = \"trial\"".parse().unwrap();
    let search = |s: &Searcher| -> Vec<String> {
        s.search_fused("vitamin D bone fractures", &request(&bm25, 10, None, &f))
            .unwrap()
            .into_iter()
            .map(|h| h.hit.id)
            .collect()
    };
    assert_eq!(search(&searcher), vec!["new-a"]);
    // A wrong type is refused before anything is logged.
    let mut bad = doc("new-c", 2030, "trial");
    bad.metadata
        .insert("year".into(), serde_json::json!("soon"));
    let e = searcher.put_documents(&[bad]).unwrap_err().to_string();
    assert!(e.contains("\"year\"") && e.contains("new-c"), "{e}");
    // Replayed from the log, then compacted: the metadata stays. (The first searcher,
    // this process's writer, closes first: one writer per index.)
    let root = searcher.index().root().to_path_buf();
    drop(searcher);
    let reopened = Searcher::open(IndexDir::open(&root).unwrap()).unwrap();
    assert_eq!(search(&reopened), vec!["new-a"]);
    let compacted = reopened.reopen(reopened.compact().unwrap()).unwrap();
    assert_eq!(search(&compacted), vec!["new-a"]);
    let (d, _) = compacted.get("new-a").unwrap().unwrap();
    assert_eq!(compacted.metadata(d)["year"], 2030);
    let (d, _) = compacted.get("4983").unwrap().unwrap();
    assert_eq!(compacted.metadata(d), scifact_meta("4983"));
    // Deleted documents are not allowed.
    compacted.delete("new-a").unwrap();
    assert!(search(&compacted).is_empty());
    // Errors name the field.
    let e = compacted
        .allowed(&"yeer > 3".parse().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"yeer\"") && e.contains("year"), "{e}");
    let e = compacted
        .allowed(&"year = \"x\"".parse().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"year\"") && e.contains("integer"), "{e}");
}

/// HotpotQA passages carry their question's `type` (and `level`: every question of
/// the shared set is `hard`).
#[test]
fn type_filter_on_hotpotqa() {
    let mut of: HashMap<String, (String, String)> = HashMap::new();
    let queries =
        std::fs::read_to_string(shared("hotpotqa-distractor").join("queries.jsonl")).unwrap();
    let mut questions = Vec::new();
    for line in queries.lines() {
        let q: serde_json::Value = serde_json::from_str(line).unwrap();
        let m = &q["metadata"];
        let ty = m["type"].as_str().unwrap().to_string();
        let level = m["level"].as_str().unwrap().to_string();
        for c in m["candidates"].as_array().unwrap() {
            of.entry(c.as_str().unwrap().to_string())
                .or_insert((ty.clone(), level.clone()));
        }
        questions.push(q["text"].as_str().unwrap().to_string());
    }
    let t = tempfile::tempdir().unwrap();
    let path = corpus(t.path(), "hotpotqa-distractor", 3000, &|d| {
        let (ty, level) = of.get(&d.id).cloned().unwrap_or_default();
        serde_json::json!({"type": ty, "level": level})
            .as_object()
            .unwrap()
            .clone()
    });
    let fields = specs("type:keyword,level:keyword");
    let searcher = Searcher::open(build_index(t.path(), &path, fields.clone(), false)).unwrap();
    let meta: HashMap<String, Metadata> = open_corpus(&path, &CorpusOptions::default())
        .unwrap()
        .map(|d| d.map(|d| (d.id, d.metadata)).unwrap())
        .collect();
    let bm25: RetrieverSet = "bm25".parse().unwrap();
    for (i, expr) in [
        "type = \"comparison\"",
        "type = \"bridge\" AND level = \"hard\"",
        "NOT type IN (\"bridge\") OR level = \"easy\"",
    ]
    .iter()
    .enumerate()
    {
        let f: Filter = expr.parse().unwrap();
        let keep = |id: &str| passes(&f, &fields, id, &meta[id]);
        assert!(searcher.allowed(&f).unwrap().len() > 300, "{expr}");
        for q in questions.iter().skip(i).step_by(97).take(8) {
            let hits = searcher
                .search_fused(q, &request(&bm25, 20, None, &f))
                .unwrap();
            assert!(hits.iter().all(|h| keep(&h.hit.id)), "{expr}: {q}");
            let got: Vec<f32> = hits.iter().map(|h| h.hit.score).collect();
            assert_scores_eq(&got, &oracle_scores(&searcher, &bm25, q, 20, &keep), expr);
        }
    }
}
