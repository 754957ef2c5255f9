//! Metadata filters end to end: `seine index --fields`, `seine search --filter`, the
//! server's `filter` (JSON and expression) and written documents' metadata; errors
//! name the field (CLI) and are 422s (server).

use serde_json::{Value, json};

use crate::server::Server;
use crate::util::{dataset, ok, path_str, run, stderr, stdout};

/// SciFact's first `n` documents with `year` (top level) and `kind` (in `metadata`).
fn corpus(path: &std::path::Path, n: usize) {
    let text = std::fs::read_to_string(dataset("scifact").join("corpus.jsonl")).unwrap();
    let mut out = String::new();
    for line in text.lines().take(n) {
        let mut v: Value = serde_json::from_str(line).unwrap();
        let id: u64 = v["_id"].as_str().unwrap().parse().unwrap();
        v["year"] = json!(2000 + id % 20);
        let kind = ["review", "trial"][(id % 2) as usize];
        v["metadata"] = json!({ "kind": kind });
        out.push_str(&v.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

fn passes(hit: &Value) -> bool {
    hit["metadata"]["year"].as_u64().unwrap() >= 2010 && hit["metadata"]["kind"] == "trial"
}

#[test]
fn index_fields_search_filter_and_server_filter() {
    let t = tempfile::tempdir().unwrap();
    let c = t.path().join("c.jsonl");
    corpus(&c, 400);
    let idx = t.path().join("idx");
    ok(&[
        "index",
        path_str(&c),
        "--out",
        path_str(&idx),
        "--fields",
        "year:integer,kind:keyword",
    ]);
    let q = "cancer cells and immunotherapy";
    let filter = r#"year >= 2010 AND kind = "trial""#;
    let o = ok(&[
        "search",
        path_str(&idx),
        q,
        "--filter",
        filter,
        "--json",
        "-k",
        "20",
    ]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 20, "{v}");
    assert!(hits.iter().all(passes), "{v}");

    // The same corpus through `seine convert` (metadata as Parquet columns) filters
    // the same.
    let pq = t.path().join("c.parquet");
    ok(&["convert", path_str(&c), "--out", path_str(&pq)]);
    let idx_pq = t.path().join("idx-pq");
    ok(&[
        "index",
        path_str(&pq),
        "--out",
        path_str(&idx_pq),
        "--fields",
        "year:integer,kind:keyword",
    ]);
    let o = ok(&[
        "search",
        path_str(&idx_pq),
        q,
        "--filter",
        filter,
        "--json",
        "-k",
        "20",
    ]);
    let w: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(w["hits"], v["hits"]);

    // Errors name the field.
    let o = run(&["search", path_str(&idx), q, "--filter", "yeer > 2010"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("unknown field \"yeer\"") && e.contains("year, kind"),
        "{e}"
    );
    let o = run(&["search", path_str(&idx), q, "--filter", r#"year = "soon""#]);
    let e = stderr(&o);
    assert!(
        !o.status.success() && e.contains("field \"year\" is integer"),
        "{e}"
    );
    let o = run(&["search", path_str(&idx), q, "--filter", "year >>= 3"]);
    assert!(
        !o.status.success() && stderr(&o).contains("--filter"),
        "{}",
        stderr(&o)
    );

    // A declared field with a value of the wrong type fails the build; nothing written.
    let bad = t.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"_id\": \"a\", \"text\": \"x\", \"year\": 2001}\n{\"_id\": \"b\", \"text\": \"y\", \"year\": \"later\"}\n",
    )
    .unwrap();
    let out = t.path().join("bad-idx");
    let o = run(&[
        "index",
        path_str(&bad),
        "--out",
        path_str(&out),
        "--fields",
        "year:integer",
    ]);
    let e = stderr(&o);
    assert!(
        !o.status.success() && e.contains("\"b\"") && e.contains("\"year\""),
        "{e}"
    );
    assert!(!out.exists());

    // The server: JSON and expression filters, 422s naming the field, written
    // documents' metadata.
    let server = Server::start(&idx, &[]);
    let (st, info) = server.request("GET", "/info", b"");
    assert_eq!(
        (st, &info["fields"]),
        (200, &json!(["year:integer", "kind:keyword"]))
    );
    let json_filter = json!({"and": [
        {"field": "year", "op": ">=", "value": 2010},
        {"field": "kind", "in": ["trial"]}
    ]});
    for f in [json_filter, json!(filter)] {
        let body = json!({"query": q, "k": 20, "filter": f, "retriever": "bm25"});
        let (st, v) = server.request("POST", "/search", body.to_string().as_bytes());
        assert_eq!(st, 200, "{v}");
        let ids: Vec<&Value> = v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| &h["id"])
            .collect();
        assert_eq!(ids, hits.iter().map(|h| &h["id"]).collect::<Vec<_>>());
        assert!(v["hits"].as_array().unwrap().iter().all(passes), "{v}");
    }
    for (f, field) in [
        (json!("yeer > 3"), "yeer"),
        (json!({"field": "kind", "op": "=", "value": 3}), "kind"),
        (json!({"field": "year", "op": "~", "value": 3}), "~"),
        (json!(17), "filter"),
    ] {
        let body = json!({"query": q, "filter": f});
        let (st, v) = server.request("POST", "/search", body.to_string().as_bytes());
        assert_eq!(st, 422, "{f}: {v}");
        assert!(v.to_string().contains(field), "{f}: {v}");
    }
    let doc = json!({"documents": [{"id": "new", "title": "Immunotherapy",
        "text": "cancer cells and immunotherapy trial",
        "metadata": {"year": 2024, "kind": "trial"}}]});
    let (st, v) = server.request("POST", "/documents", doc.to_string().as_bytes());
    assert_eq!(st, 200, "{v}");
    let body = json!({"query": q, "k": 5, "filter": "year = 2024"});
    let (st, v) = server.request("POST", "/search", body.to_string().as_bytes());
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["hits"][0]["id"], "new", "{v}");
    assert_eq!(
        v["hits"][0]["metadata"],
        json!({"year": 2024, "kind": "trial"})
    );
    assert!(
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["metadata"]["year"] == 2024)
    );
    let bad = json!({"documents": [{"id": "bad", "text": "t", "metadata": {"year": "soon"}}]});
    let (st, v) = server.request("POST", "/documents", bad.to_string().as_bytes());
    assert_eq!(st, 422, "{v}");
    assert!(v.to_string().contains("year"), "{v}");
}
