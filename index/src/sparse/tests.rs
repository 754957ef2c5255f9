use crate::{BuildOptions, DocParts, IndexWriter, SourceInfo, SparseSettings};

/// The forward view read back from the postings equals what was indexed (weights
/// quantized to the impact scale), document by document, across segments.
#[test]
fn forward_reads_back_every_document() {
    let t = tempfile::tempdir().unwrap();
    let opts = BuildOptions {
        source: SourceInfo {
            path: "mem".into(),
            format: "test".into(),
            fingerprint: String::new(),
        },
        lexical: None,
        dense: None,
        sparse: Some(SparseSettings::new("m")),
        multi: None,
        overwrite: false,
        command: None,
        threads: 1,
        fields: Vec::new(),
    };
    let docs: Vec<Vec<(String, f32)>> = (0..300)
        .map(|i| {
            (0..(i % 7))
                .map(|j| (format!("t{}", (i * 31 + j * 7) % 50), 0.25 + j as f32))
                .collect()
        })
        .collect();
    let mut w = IndexWriter::create(&t.path().join("idx"), opts).unwrap();
    for (i, d) in docs.iter().enumerate() {
        let refs: Vec<(&str, f32)> = d.iter().map(|(s, w)| (s.as_str(), *w)).collect();
        let doc = seine_datasets::Doc {
            id: format!("d{i}"),
            ..Default::default()
        };
        w.add_doc(
            &doc,
            DocParts {
                sparse: Some(&refs),
                ..Default::default()
            },
        )
        .unwrap();
    }
    let dir = w.commit().unwrap();
    let f = dir.sparse().unwrap().forward(docs.len()).unwrap();
    assert_eq!(f.len(), docs.len());
    for (i, d) in docs.iter().enumerate() {
        let mut want: Vec<(String, f32)> = d.clone();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        want.dedup_by(|b, a| {
            if a.0 == b.0 {
                a.1 += b.1;
                true
            } else {
                false
            }
        });
        let mut got: Vec<(String, f32)> = f.doc(i).map(|(t, w)| (t.to_string(), w)).collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got.len(), want.len(), "doc {i}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.0, w.0);
            assert!(
                (g.1 - w.1).abs() < 0.006,
                "doc {i} {}: {} vs {}",
                g.0,
                g.1,
                w.1
            );
        }
    }
}
