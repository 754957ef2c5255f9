//! Compressed token vectors and late interaction as a first stage (`--retriever maxsim`,
//! WARP by default, PLAID on request) through the CLI, on the first 300 SciFact documents.

use serde_json::Value;

use crate::util::{dataset, head_lines, hit_ids, ok, path_str, run, stderr};

const QUERIES: [&str; 6] = [
    "glucose metabolism in cancer cells",
    "microstructural development of white matter in newborns",
    "vitamin D deficiency and bone fractures",
    "stem cell transplantation outcomes",
    "antibiotic resistance in bacteria",
    "gene expression in the brain",
];

#[test]
fn compressed_store_serves_rerank_and_the_plaid_first_stage() {
    let t = tempfile::tempdir().unwrap();
    let corpus = t.path().join("c.jsonl");
    head_lines(&dataset("scifact").join("corpus.jsonl"), 300, &corpus);
    let idx = t.path().join("idx");
    ok(&[
        "index",
        path_str(&corpus),
        "--out",
        path_str(&idx),
        "--dense",
        "minilm",
        "--hnsw",
        "off",
        "--multi",
        "minilm",
        "--multi-compression",
        "2bit",
        "--multi-centroids",
        "256",
    ]);
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(idx.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["multi"]["compression"], "2bit");
    assert_eq!(m["multi"]["centroids"], 256);
    let files: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in [
        "codes.bin",
        "cids.u32",
        "centroids.f16",
        "ivf.u32",
        "codec.json",
        "warp.u64",
        "warp.u32",
        "warp.codes",
        "warp.norm",
    ] {
        assert!(files.iter().any(|x| x.ends_with(f)), "{f} in {files:?}");
    }
    assert!(
        !files
            .iter()
            .any(|x| x.contains("tokens.f16") || x.contains("uncompressed"))
    );
    let search = |q: &str, args: &[&str]| -> Value {
        let mut a = vec!["search", path_str(&idx), q, "--json"];
        a.extend_from_slice(args);
        serde_json::from_slice(&ok(&a).stdout).unwrap()
    };
    let (mut overlap, mut warp_overlap) = (0, 0);
    for q in QUERIES {
        // Exact MaxSim over every document: the dense list of all 300 (exact search)
        // reranked by MaxSim over the compressed tokens.
        let exact = hit_ids(&search(
            q,
            &[
                "-k",
                "10",
                "--retriever",
                "dense",
                "--rerank",
                "maxsim",
                "--rerank-depth",
                "300",
            ],
        ));
        // PLAID probing every centroid without pruning is exact too.
        let wide = hit_ids(&search(
            q,
            &[
                "-k",
                "10",
                "--retriever",
                "maxsim",
                "--plaid-nprobe",
                "256",
                "--plaid-threshold",
                "-10",
                "--plaid-ndocs",
                "10000",
            ],
        ));
        assert_eq!(wide, exact, "{q}");
        // So is WARP probing every centroid, on its own scores (no exact rescoring):
        // every token of every document is scored through the lookup tables.
        let all = hit_ids(&search(
            q,
            &[
                "-k",
                "10",
                "--retriever",
                "maxsim",
                "--warp-nprobe",
                "256",
                "--warp-rescore",
                "0",
            ],
        ));
        assert_eq!(all, exact, "WARP, every centroid: {q}");
        let plaid = hit_ids(&search(
            q,
            &[
                "-k",
                "10",
                "--retriever",
                "maxsim",
                "--maxsim-engine",
                "plaid",
            ],
        ));
        assert_eq!(plaid.len(), 10);
        overlap += plaid.iter().filter(|d| exact.contains(d)).count();
        let warp = hit_ids(&search(
            q,
            &[
                "-k",
                "10",
                "--retriever",
                "maxsim",
                "--maxsim-engine",
                "warp",
            ],
        ));
        assert_eq!(warp.len(), 10);
        warp_overlap += warp.iter().filter(|d| exact.contains(d)).count();
    }
    let recall = overlap as f64 / (10 * QUERIES.len()) as f64;
    assert!(
        recall >= 0.8,
        "PLAID recall@10 against exact MaxSim {recall}"
    );
    let warp_recall = warp_overlap as f64 / (10 * QUERIES.len()) as f64;
    eprintln!("recall@10 against exact MaxSim: WARP {warp_recall}, PLAID {recall}");
    assert!(
        warp_recall >= 0.95,
        "WARP recall@10 against exact MaxSim {warp_recall}"
    );
    // maxsim fuses like any retriever.
    let f = search(
        QUERIES[0],
        &[
            "-k",
            "5",
            "--retriever",
            "bm25+maxsim",
            "--fusion",
            "rrf",
            "--explain",
        ],
    );
    let sources = f["hits"][0]["sources"].as_array().unwrap();
    assert!(sources.iter().any(|s| s["retriever"] == "maxsim"), "{f}");
    // Bad PLAID parameters are refused.
    let o = run(&[
        "search",
        path_str(&idx),
        "q",
        "--retriever",
        "maxsim",
        "--plaid-nprobe",
        "0",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("nprobe"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "search",
        path_str(&idx),
        "q",
        "--retriever",
        "maxsim",
        "--warp-nprobe",
        "0",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("WARP needs nprobe"),
        "{}",
        stderr(&o)
    );
}
