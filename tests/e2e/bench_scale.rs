//! `seine bench scale` end to end at a small size: the generators fitted to SciFact
//! (printed and saved), bm25 and splade on the calibrated and stress corpora, every
//! pruned scan checked against the exhaustive one, and the table, JSON and PNG written.

use serde_json::Value;

use crate::util::{dataset, ok, path_str, stdout};

#[test]
fn bench_scale_calibrates_prunes_exactly_and_reports() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("scale");
    let data = dataset("scifact");
    let o = ok(&[
        "bench",
        "scale",
        "--sizes",
        "3000",
        "--parts",
        "bm25,splade",
        "--queries",
        "40",
        "--calibration-data",
        path_str(&data),
        "--calibration-docs",
        "60",
        "--out",
        path_str(&out),
    ]);
    let text = stdout(&o);
    assert!(text.contains("calibration on scifact"), "{text}");
    assert!(
        text.contains("collection-frequency Zipf exponent"),
        "{text}"
    );
    let c: Value =
        serde_json::from_slice(&std::fs::read(out.join("calibration.json")).unwrap()).unwrap();
    let zipf = c["bm25"]["zipf_s"].as_f64().unwrap();
    assert!((0.5..1.5).contains(&zipf), "Zipf exponent {zipf}");
    // splade-tiny documents carry hundreds of terms; queries tens.
    let doc_terms = c["splade"]["doc_terms_mu"].as_f64().unwrap().exp();
    assert!((50.0..2000.0).contains(&doc_terms), "{doc_terms}");
    let j: Value = serde_json::from_slice(&std::fs::read(out.join("scale.json")).unwrap()).unwrap();
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "bm25 and splade × calibrated and stress");
    for r in rows {
        assert!(r["qps"].as_f64().unwrap() > 0.0, "{r}");
        assert_eq!(r["pruned_mismatches"], 0, "{r}");
        assert!(
            r["pruning_table_bytes_per_doc"].as_f64().unwrap() > 0.0,
            "{r}"
        );
        if r["part"] == "splade" {
            assert_eq!(r["has_blocks"], true, "{r}");
            assert!(!r["approx"].as_array().unwrap().is_empty(), "{r}");
        }
    }
    assert!(std::fs::metadata(out.join("scale.png")).unwrap().len() > 1000);
}

#[test]
fn bench_scale_calibrates_dense_and_token_vectors() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("scale");
    let data = dataset("scifact");
    let o = ok(&[
        "bench",
        "scale",
        "--sizes",
        "2000",
        "--parts",
        "dense,maxsim",
        "--corpora",
        "calibrated",
        "--queries",
        "20",
        "--calibration-data",
        path_str(&data),
        "--calibration-docs",
        "80",
        "--out",
        path_str(&out),
    ]);
    let text = stdout(&o);
    assert!(text.contains("calibration: dense (minilm)"), "{text}");
    assert!(text.contains("calibration: tokens (minilm)"), "{text}");
    let c: Value =
        serde_json::from_slice(&std::fs::read(out.join("calibration.json")).unwrap()).unwrap();
    let v = &c["vectors"];
    assert_eq!(v["dense"]["dim"], 384);
    assert_eq!(v["tokens"]["space"]["dim"], 128);
    assert_eq!(v["tokens"]["model_dim"], 384);
    // The generators reproduce what they were fitted to: nearest-neighbour cosines of
    // the synthetic samples near the real ones (queries by construction of gamma,
    // documents as a check of the cluster model).
    for (space, key) in [
        (&v["dense"], "doc_nn_cos"),
        (&v["dense"], "query_nn_cos"),
        (&v["tokens"]["space"], "query_nn_cos"),
    ] {
        let (real, synth) = (
            space[key][0].as_f64().unwrap(),
            space[key][1].as_f64().unwrap(),
        );
        assert!(real > 0.2 && real < 1.0, "{key} {real}");
        assert!(
            (real - synth).abs() < 0.1,
            "{key}: real {real}, synthetic {synth}"
        );
    }
    let j: Value = serde_json::from_slice(&std::fs::read(out.join("scale.json")).unwrap()).unwrap();
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "dense and maxsim, calibrated");
    for r in rows {
        assert_eq!(r["corpus"], "calibrated", "{r}");
        let recall = r["recall_at_10"].as_f64().unwrap();
        assert!(recall >= 0.8, "{r}");
    }
}
