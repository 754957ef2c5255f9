//! `--hnsw auto` is a setting of the index, not of one build: a generation too small for
//! a graph records it, and a later generation built from the manifest's settings (what
//! compaction does) gets its graph once the index is large enough.

use seine_datasets::Doc;
use seine_index::dense::HNSW_AUTO_MIN_DOCS;
use seine_index::{
    BuildOptions, DenseSettings, GraphMode, HnswParams, IndexDir, IndexWriter, SourceInfo,
};

fn build(root: &std::path::Path, dense: DenseSettings, n: usize, overwrite: bool) -> IndexDir {
    let opts = BuildOptions {
        source: SourceInfo::default(),
        lexical: None,
        dense: Some(dense),
        sparse: None,
        multi: None,
        overwrite,
        command: None,
        threads: 1,
        fields: Vec::new(),
    };
    let mut w = IndexWriter::create(root, opts).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..n {
        let v: Vec<f32> = (0..8)
            .map(|_| seine_kernels::rng::centered(&mut state))
            .collect();
        let doc = Doc {
            id: format!("d{i}"),
            ..Doc::default()
        };
        w.add(&doc, Some(&v)).unwrap();
    }
    w.commit().unwrap()
}

#[test]
fn hnsw_auto_survives_a_rebuild_from_the_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("idx");
    let mut settings = DenseSettings::new("m", GraphMode::Auto, HnswParams::default());
    settings.dim = 8;
    let small = build(&root, settings, 100, false);
    let d = small.manifest().dense.clone().unwrap();
    assert!(!d.graph && !d.has_graph(), "100 documents: exact search");
    assert!(
        d.hnsw_auto && d.hnsw.is_some(),
        "the setting is kept: {d:?}"
    );
    assert!(small.dense().unwrap().len() == 100);

    // Rebuilt from its own manifest with more documents (compaction after writes).
    let n = HNSW_AUTO_MIN_DOCS as usize + 10;
    let big = build(&root, d, n, true);
    let d = big.manifest().dense.clone().unwrap();
    assert!(d.has_graph(), "{n} documents under auto: a graph: {d:?}");
    let idx = big.dense().unwrap();
    assert!(idx.has_hnsw());
}
