//! The HTTP server over real TCP on 127.0.0.1 (ephemeral port): search, documents,
//! health, bad input → 4xx JSON errors (never 5xx, never a crash), SIGTERM → clean exit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use serde_json::Value;

use crate::util::{dataset, head_lines, hit_ids, ok, path_str, seine};

pub(crate) struct Server {
    child: Child,
    addr: String,
}

impl Server {
    pub(crate) fn start(index: &std::path::Path, extra: &[&str]) -> Server {
        Self::start_env(index, extra, &[])
    }

    /// [`Server::start`] with environment variables set for the server.
    fn start_env(index: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = seine()
            .args(["serve", path_str(index), "--addr", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// One HTTP/1.1 request; returns (status, body as JSON or null).
    pub(crate) fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
        self.request_with(method, path, body, None)
    }

    /// [`Server::request`] with `Authorization: Bearer <key>`.
    fn request_with(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        key: Option<&str>,
    ) -> (u16, Value) {
        let (st, text) = self.raw(method, path, body, key);
        (st, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// (status, body text).
    fn raw(&self, method: &str, path: &str, body: &[u8], key: Option<&str>) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw);
        let status: u16 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = text.split_once("\r\n\r\n").map_or("", |p| p.1);
        (status, body.to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Reaped before the next server opens the index (one writer per index).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An index of SciFact's first `n` documents in `dir/idx`, built with `extra` flags.
fn scifact_index(dir: &std::path::Path, n: usize, extra: &[&str]) -> std::path::PathBuf {
    let corpus = dir.join("c.jsonl");
    head_lines(&dataset("scifact").join("corpus.jsonl"), n, &corpus);
    let idx = dir.join("idx");
    let mut args = vec!["index", path_str(&corpus), "--out", path_str(&idx)];
    args.extend_from_slice(extra);
    ok(&args);
    idx
}

#[test]
fn search_documents_bad_input_and_graceful_stop() {
    let t = tempfile::tempdir().unwrap();
    let idx = scifact_index(t.path(), 300, &[]);
    let text = std::fs::read_to_string(dataset("scifact").join("corpus.jsonl")).unwrap();
    let first_id: String =
        serde_json::from_str::<Value>(text.lines().next().unwrap()).unwrap()["_id"]
            .as_str()
            .unwrap()
            .to_string();

    let mut server = Server::start(&idx, &["--max-body-bytes", "4096", "--max-k", "100"]);
    let (st, v) = server.request("GET", "/health", b"");
    assert_eq!(st, 200);
    assert_eq!(v["documents"], 300);

    let (st, v) = server.request(
        "POST",
        "/search",
        br#"{"query": "cancer cells and immunotherapy", "k": 5, "explain": true}"#,
    );
    assert_eq!(st, 200, "{v}");
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 5);
    assert_eq!(v["retriever"], "bm25");
    assert!(hits[0]["title"].is_string());
    assert_eq!(hits[0]["sources"][0]["rank"], 1);
    // The same answer as the CLI.
    let cli: Value = serde_json::from_slice(
        &ok(&[
            "search",
            path_str(&idx),
            "cancer cells and immunotherapy",
            "-k",
            "5",
            "--json",
            "--retriever",
            "bm25",
        ])
        .stdout,
    )
    .unwrap();
    for (a, b) in hits.iter().zip(cli["hits"].as_array().unwrap()) {
        assert_eq!(a["id"], b["id"]);
    }
    // BM25's k1/b per request (one SearchRequest): the CLI's --k1/--b answer, and the
    // next request is back to the index's own.
    let q = "cancer cells and immunotherapy";
    let (st, tuned) = server.request(
        "POST",
        "/search",
        br#"{"query": "cancer cells and immunotherapy", "k": 5, "k1": 2.0, "b": 0.1}"#,
    );
    assert_eq!(st, 200, "{tuned}");
    let cli_tuned: Value = serde_json::from_slice(
        &ok(&[
            "search",
            path_str(&idx),
            q,
            "-k",
            "5",
            "--json",
            "--retriever",
            "bm25",
            "--k1",
            "2.0",
            "--b",
            "0.1",
        ])
        .stdout,
    )
    .unwrap();
    let scores = |v: &Value| -> Vec<f64> {
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["score"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(hit_ids(&tuned), hit_ids(&cli_tuned));
    for (a, b) in scores(&tuned).iter().zip(scores(&cli_tuned)) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    assert_ne!(scores(&tuned), scores(&v));
    let (_, again) = server.request(
        "POST",
        "/search",
        br#"{"query": "cancer cells and immunotherapy", "k": 5, "explain": true}"#,
    );
    assert_eq!(scores(&again), scores(&v));
    // The OpenAPI document states this server's --max-k.
    let (st, doc) = server.request("GET", "/openapi.json", b"");
    assert_eq!(st, 200);
    assert_eq!(
        doc["components"]["schemas"]["SearchRequest"]["properties"]["k"]["maximum"],
        100
    );

    let (st, v) = server.request("GET", &format!("/documents/{first_id}"), b"");
    assert_eq!(st, 200);
    assert_eq!(v["id"], first_id.as_str());
    let (st, v) = server.request("GET", "/documents/no-such-doc", b"");
    assert_eq!((st, v["error_type"].as_str()), (404, Some("not_found")));

    // Bad input: a 4xx with a JSON error, never 5xx.
    let big = format!(r#"{{"query": "{}"}}"#, "a".repeat(5000));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("malformed JSON", br#"{"query": "x""#.to_vec(), 400),
        ("wrong type", br#"{"query": "x", "k": "ten"}"#.to_vec(), 422),
        ("unknown field", br#"{"query": "x", "kk": 3}"#.to_vec(), 422),
        ("empty query", br#"{"query": "   "}"#.to_vec(), 422),
        ("k = 0", br#"{"query": "x", "k": 0}"#.to_vec(), 422),
        ("huge k", br#"{"query": "x", "k": 100000000}"#.to_vec(), 422),
        (
            "unknown retriever",
            br#"{"query": "x", "retriever": "colbert"}"#.to_vec(),
            422,
        ),
        (
            "rerank without token vectors",
            br#"{"query": "x", "rerank": "maxsim"}"#.to_vec(),
            422,
        ),
        (
            "bad fusion",
            br#"{"query": "x", "retriever": "bm25", "fusion": "mean"}"#.to_vec(),
            422,
        ),
        (
            "BM25 b above 1",
            br#"{"query": "x", "b": 1.5}"#.to_vec(),
            422,
        ),
        ("negative k1", br#"{"query": "x", "k1": -1}"#.to_vec(), 422),
        ("ef = 0", br#"{"query": "x", "ef": 0}"#.to_vec(), 422),
        (
            "sparse search alpha past 1",
            br#"{"query": "x", "sparse_search": "approx:7"}"#.to_vec(),
            422,
        ),
        (
            "unknown sparse search",
            br#"{"query": "x", "sparse_search": "fastest:0.5:9:9"}"#.to_vec(),
            422,
        ),
        ("body over the limit", big.into_bytes(), 413),
        ("invalid UTF-8", b"{\"query\": \"\xff\xfe\"}".to_vec(), 400),
    ];
    for (what, body, want) in cases {
        let (st, v) = server.request("POST", "/search", &body);
        assert_eq!(st, want, "{what}: {v}");
        assert!(
            v["error"].is_string() && v["error_type"].is_string(),
            "{what}: {v}"
        );
    }
    // The other endpoints.
    let cases: Vec<(&str, &str, &[u8], u16)> = vec![
        ("POST", "/documents", br#"{"documents": []}"#, 422),
        (
            "POST",
            "/documents",
            br#"{"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}"#,
            422,
        ),
        (
            "POST",
            "/documents",
            br#"{"documents": [{"id": "  ", "text": "x"}]}"#,
            422,
        ),
        (
            "POST",
            "/documents",
            br#"{"documents": [{"id": "a"}]}"#,
            422,
        ),
        ("POST", "/documents", br#"{"docs": []}"#, 422),
        ("POST", "/documents", br#"{"documents": ["#, 400),
        ("POST", "/embed", br#"{"input": "x"}"#, 422), // no dense encoder in this index
        (
            "POST",
            "/embed",
            br#"{"input": "x", "kind": "colbert"}"#,
            422,
        ),
        ("POST", "/embed", br#"{"input": [], "kind": "dense"}"#, 422),
        ("POST", "/embed", br#"{"input": [1, 2]}"#, 422),
        (
            "POST",
            "/v1/embeddings",
            br#"{"input": "x", "model": "m"}"#,
            422,
        ),
        ("POST", "/v1/embeddings", br#"{"input": "x"}"#, 422),
        ("DELETE", "/documents/no-such-doc", b"", 404),
    ];
    for (method, path, body, want) in cases {
        let (st, v) = server.request(method, path, body);
        assert_eq!(
            st,
            want,
            "{method} {path} {}: {v}",
            String::from_utf8_lossy(body)
        );
        assert!(v["error_type"].is_string(), "{v}");
    }
    let (st, _) = server.request("GET", "/nowhere", b"");
    assert_eq!(st, 404);
    // Still serving after all that.
    assert_eq!(server.request("GET", "/health", b"").0, 200);

    // SIGTERM: graceful stop, exit status 0.
    // SAFETY: plain kill(2) on our child's pid.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

fn unbase64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        bits = (bits << 6) | A.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn search(server: &Server, retriever: &str, query: &str, k: usize) -> Vec<String> {
    let body = serde_json::json!({"query": query, "k": k, "retriever": retriever});
    let (st, v) = server.request("POST", "/search", body.to_string().as_bytes());
    assert_eq!(st, 200, "{v}");
    hit_ids(&v)
}

const NEW_DOC: &str = r#"{"documents": [
  {"id": "new-1", "title": "Zorblax kinase", "text": "The zorblax kinase phosphorylates quokka proteins in marsupial liver cells."},
  {"id": "new-2", "title": "Tea", "text": "Green tea polyphenols and their effect on sleep quality in adults."}
]}"#;

#[test]
fn writes_restart_compaction_embed() {
    let t = tempfile::tempdir().unwrap();
    let idx = scifact_index(t.path(), 120, &["--dense", "minilm", "--multi", "minilm"]);
    let first_id = {
        let mut s = Server::start(&idx, &[]);
        let (st, v) = s.request("GET", "/health", b"");
        assert_eq!((st, v["documents"].as_u64()), (200, Some(120)));
        let victim = search(&s, "bm25", "cancer", 1)[0].clone();

        // Add: visible to every retriever when the call returns.
        let (st, v) = s.request("POST", "/documents", NEW_DOC.as_bytes());
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["documents"], 122);
        for r in ["bm25", "dense", "bm25+dense"] {
            let hits = search(&s, r, "zorblax kinase quokka proteins", 3);
            assert_eq!(hits[0], "new-1", "{r}: {hits:?}");
        }
        let (st, v) = s.request(
            "POST",
            "/search",
            br#"{"query": "zorblax kinase quokka", "k": 3, "retriever": "bm25", "rerank": "maxsim", "explain": true}"#,
        );
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["hits"][0]["id"], "new-1");
        assert!(v["hits"][0]["token_maxima"].is_array());
        // Multi-hop over HTTP: the chain comes back.
        let (st, v) = s.request(
            "POST",
            "/search",
            br#"{"query": "zorblax kinase quokka", "k": 5, "retriever": "bm25+dense", "hops": 2}"#,
        );
        assert_eq!(st, 200, "{v}");
        let chain = v["chain"].as_array().unwrap();
        assert!(!chain.is_empty() && chain.len() <= 2, "{v}");
        assert_eq!(chain[0]["picks"][0], "new-1", "{v}");
        assert!(
            chain[0]["facts"][0]["text"]
                .as_str()
                .unwrap()
                .contains("zorblax")
        );
        assert_eq!(
            s.request("POST", "/search", br#"{"query": "x", "hops": 9}"#)
                .0,
            422
        );
        let (st, v) = s.request("GET", "/documents/new-2", b"");
        assert_eq!((st, v["title"].as_str()), (200, Some("Tea")));

        // Replace: the old text no longer matches, the new one does.
        let (st, _) = s.request(
            "POST",
            "/documents",
            br#"{"documents": [{"id": "new-2", "text": "Volcanic basalt weathering rates in Iceland."}]}"#,
        );
        assert_eq!(st, 200);
        assert!(
            !search(&s, "bm25", "green tea polyphenols sleep", 5).contains(&"new-2".to_string())
        );
        assert_eq!(
            search(&s, "bm25", "volcanic basalt weathering", 1)[0],
            "new-2"
        );

        // Delete a generation document: gone from every retriever at once.
        let (st, v) = s.request("DELETE", &format!("/documents/{victim}"), b"");
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["documents"], 121);
        for r in ["bm25", "dense", "bm25+dense"] {
            assert!(!search(&s, r, "cancer", 50).contains(&victim), "{r}");
        }
        assert_eq!(
            s.request("GET", &format!("/documents/{victim}"), b"").0,
            404
        );
        assert_eq!(
            s.request("DELETE", &format!("/documents/{victim}"), b"").0,
            404
        );

        // Embeddings: dense (query side, normalized), multi, OpenAI float and base64.
        let (st, v) = s.request(
            "POST",
            "/embed",
            br#"{"input": ["a", "b c"], "kind": "dense"}"#,
        );
        assert_eq!(st, 200, "{v}");
        let e = v["data"][1]["embedding"].as_array().unwrap();
        assert_eq!(e.len(), 384);
        let norm: f64 = e.iter().map(|x| x.as_f64().unwrap().powi(2)).sum();
        assert!((norm - 1.0).abs() < 1e-3);
        let (st, v) = s.request(
            "POST",
            "/embed",
            br#"{"input": "two words", "kind": "multi"}"#,
        );
        assert_eq!(st, 200, "{v}");
        assert!(v["data"][0]["tokens"].as_array().unwrap().len() >= 2);
        assert_eq!(
            s.request("POST", "/embed", br#"{"input": "x", "kind": "sparse"}"#)
                .0,
            422
        );
        let (st, v) = s.request(
            "POST",
            "/v1/embeddings",
            br#"{"input": ["hello world"], "model": "text-embedding-3-small"}"#,
        );
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["object"], "list");
        let floats: Vec<f32> = v["data"][0]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let (st, v) = s.request(
            "POST",
            "/v1/embeddings",
            br#"{"input": "hello world", "model": "m", "encoding_format": "base64"}"#,
        );
        assert_eq!(st, 200, "{v}");
        let bytes = unbase64(v["data"][0]["embedding"].as_str().unwrap());
        assert_eq!(bytes.len(), 384 * 4);
        for (i, c) in bytes.chunks(4).enumerate() {
            let x = f32::from_le_bytes(c.try_into().unwrap());
            assert!((x - floats[i]).abs() < 1e-6);
        }

        // Metrics name the routes.
        let (st, text) = s.raw("GET", "/metrics", b"", None);
        assert_eq!(st, 200);
        assert!(
            text.contains(
                "seine_http_requests_total{method=\"POST\",route=\"/documents\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("seine_documents 121"), "{text}");
        // SIGKILL: no graceful anything; the log has every acknowledged write.
        let _ = s.child.kill();
        let _ = s.child.wait();
        victim
    };

    // Restart on the same directory: every acknowledged write is there.
    let s = Server::start(&idx, &[]);
    let (_, v) = s.request("GET", "/health", b"");
    assert_eq!(v["documents"], 121, "{v}");
    assert_eq!(
        (v["pending_added"].as_u64(), v["pending_deleted"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        search(&s, "dense", "zorblax kinase quokka proteins", 1)[0],
        "new-1"
    );
    assert_eq!(
        search(&s, "bm25", "volcanic basalt weathering", 1)[0],
        "new-2"
    );
    assert!(!search(&s, "bm25", "cancer", 50).contains(&first_id));

    // Compaction folds the log into a new generation; nothing changes for search.
    let before = search(&s, "bm25+dense", "cancer treatment outcomes", 10);
    let (st, v) = s.request("POST", "/admin/compact", b"");
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["generation"].as_u64(), v["documents"].as_u64()),
        (Some(2), Some(121))
    );
    let (_, h) = s.request("GET", "/health", b"");
    assert_eq!(
        (h["pending_added"].as_u64(), h["pending_deleted"].as_u64()),
        (Some(0), Some(0))
    );
    let after = search(&s, "bm25+dense", "cancer treatment outcomes", 10);
    let overlap = before.iter().filter(|d| after.contains(d)).count();
    assert!(overlap >= 8, "{before:?} vs {after:?}");
    assert_eq!(
        search(&s, "dense", "zorblax kinase quokka proteins", 1)[0],
        "new-1"
    );
    // Writes after a compaction go to the new generation's log.
    let (st, _) = s.request(
        "POST",
        "/documents",
        br#"{"documents": [{"id": "new-3", "text": "Penguin colonies on Antarctic sea ice."}]}"#,
    );
    assert_eq!(st, 200);
    drop(s);
    let s = Server::start(&idx, &[]);
    assert_eq!(
        search(&s, "bm25", "penguin colonies antarctic", 1)[0],
        "new-3"
    );
    assert_eq!(s.request("GET", "/health", b"").1["documents"], 122);
    // The CLI sees the same index (generation + log).
    let cli: Value = serde_json::from_slice(
        &ok(&[
            "search",
            path_str(&idx),
            "penguin colonies antarctic",
            "-k",
            "1",
            "--json",
            "--retriever",
            "bm25",
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(cli["hits"][0]["id"], "new-3");
}

#[test]
fn crash_during_acknowledged_writes() {
    let t = tempfile::tempdir().unwrap();
    let idx = scifact_index(t.path(), 50, &[]);
    let mut s = Server::start(&idx, &[]);
    let addr = s.addr.clone();
    // A writer thread streams single-document writes and records each acknowledged id;
    // the server is SIGKILLed mid-stream.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let writer = {
        let acked = acked.clone();
        std::thread::spawn(move || {
            for i in 0..100_000 {
                let id = format!("crash-{i}");
                let body = serde_json::json!({"documents": [{"id": id, "text": format!("acknowledged write number {i} marmot{i}")}]});
                let Ok(mut stream) = TcpStream::connect(&addr) else {
                    break;
                };
                let b = body.to_string();
                let head = format!(
                    "POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    b.len()
                );
                if stream
                    .write_all(head.as_bytes())
                    .and_then(|_| stream.write_all(b.as_bytes()))
                    .is_err()
                {
                    break;
                }
                let mut raw = String::new();
                if stream.read_to_string(&mut raw).is_err() {
                    break;
                }
                if raw.starts_with("HTTP/1.1 200") {
                    acked.lock().unwrap().push(id);
                } else {
                    break;
                }
            }
        })
    };
    // Let some writes through, then kill without warning.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    while acked.lock().unwrap().len() < 30 {
        assert!(
            !writer.is_finished() && std::time::Instant::now() < deadline,
            "the writer stopped before 30 acknowledged writes"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = s.child.kill();
    let _ = s.child.wait();
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 30);
    let s = Server::start(&idx, &[]);
    let (_, h) = s.request("GET", "/health", b"");
    assert!(
        h["documents"].as_u64().unwrap() >= 50 + acked.len() as u64,
        "{h}"
    );
    for id in &acked {
        assert_eq!(
            s.request("GET", &format!("/documents/{id}"), b"").0,
            200,
            "{id}"
        );
        let n = id.trim_start_matches("crash-");
        let hits = search(&s, "bm25", &format!("marmot{n}"), 1);
        assert_eq!(hits.first(), Some(id), "{id}");
    }
}

#[test]
fn api_key_on_and_off() {
    let t = tempfile::tempdir().unwrap();
    let idx = scifact_index(t.path(), 30, &[]);
    let q = br#"{"query": "cells", "k": 2}"#;
    let w = br#"{"documents": [{"id": "k1", "text": "keyed write"}]}"#;
    // Off: everything open.
    {
        let s = Server::start(&idx, &[]);
        assert_eq!(s.request("POST", "/search", q).0, 200);
        assert_eq!(s.request("POST", "/documents", w).0, 200);
    }
    // On: writes, embeddings and search need the key; health, metrics, openapi do not.
    {
        let s = Server::start(&idx, &["--api-key", "s3cret"]);
        let (st, v) = s.request("POST", "/search", q);
        assert_eq!((st, v["error_type"].as_str()), (401, Some("unauthorized")));
        assert_eq!(s.request_with("POST", "/search", q, Some("wrong")).0, 401);
        assert_eq!(s.request_with("POST", "/search", q, Some("s3cret")).0, 200);
        assert_eq!(s.request("POST", "/documents", w).0, 401);
        assert_eq!(s.request("DELETE", "/documents/k1", b"").0, 401);
        assert_eq!(s.request("POST", "/embed", br#"{"input": "x"}"#).0, 401);
        assert_eq!(
            s.request("POST", "/v1/embeddings", br#"{"input": "x", "model": "m"}"#)
                .0,
            401
        );
        assert_eq!(s.request("POST", "/admin/compact", b"").0, 401);
        assert_eq!(s.request("GET", "/documents/k1", b"").0, 401);
        assert_eq!(
            s.request_with("DELETE", "/documents/k1", b"", Some("s3cret"))
                .0,
            200
        );
        assert_eq!(s.request("GET", "/health", b"").0, 200);
        assert_eq!(s.raw("GET", "/metrics", b"", None).0, 200);
        assert_eq!(s.raw("GET", "/openapi.json", b"", None).0, 200);
    }
    // --public-search: search and reads open, writes still keyed.
    {
        let s = Server::start(&idx, &["--api-key", "s3cret", "--public-search"]);
        assert_eq!(s.request("POST", "/search", q).0, 200);
        assert_eq!(s.request("POST", "/documents", w).0, 401);
        assert_eq!(s.request("POST", "/embed", br#"{"input": "x"}"#).0, 401);
        assert_eq!(
            s.request_with("POST", "/documents", w, Some("s3cret")).0,
            200
        );
        assert_eq!(s.request("GET", "/documents/k1", b"").0, 200);
    }
    // The key from the environment works the same.
    let s = Server::start_env(&idx, &[], &[("SEINE_API_KEY", "envkey")]);
    assert_eq!(s.request("POST", "/search", q).0, 401);
    assert_eq!(s.request_with("POST", "/search", q, Some("envkey")).0, 200);
}

/// schemathesis (from .venv, scripts/setup-test-env.sh) against `/openapi.json` on
/// loopback, bounded in examples and time: zero 5xx, every response in the schema.
#[test]
fn schemathesis_finds_no_5xx_and_no_schema_violation() {
    let t = tempfile::tempdir().unwrap();
    let idx = scifact_index(t.path(), 60, &["--dense", "minilm"]);
    // Generous timeouts: a loaded CI machine must not turn slow answers into errors.
    let s = Server::start(&idx, &["--max-batch", "8", "--timeout-s", "120"]);
    let mut child = std::process::Command::new(crate::util::python())
        .args(["-m", "schemathesis.cli", "run"])
        .arg(format!("http://{}/openapi.json", s.addr))
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--max-examples",
            "20",
            "--seed",
            "7",
            "--request-timeout",
            "150",
            "--no-color",
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        // Its cache (.schemathesis/) goes to the temporary folder, not the checkout.
        .current_dir(t.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("schemathesis (run scripts/setup-test-env.sh)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(400);
    while child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "schemathesis ran past 400 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
    // The server is still up.
    assert_eq!(s.request("GET", "/health", b"").0, 200);
}
