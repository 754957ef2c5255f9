//! The HTTP server over real TCP on 127.0.0.1 (ephemeral port): search, documents,
//! health, bad input → 4xx JSON errors (never 5xx, never a crash), SIGTERM → clean exit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use serde_json::Value;

use crate::util::{dataset, ok, path_str, seine};

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(index: &std::path::Path, extra: &[&str]) -> Server {
        let mut child = seine()
            .args(["serve", path_str(index), "--addr", "127.0.0.1:0"])
            .args(extra)
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
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw);
        let status: u16 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[test]
fn search_documents_bad_input_and_graceful_stop() {
    let t = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dataset("scifact").join("corpus.jsonl")).unwrap();
    let corpus = t.path().join("c.jsonl");
    std::fs::write(
        &corpus,
        text.lines().take(300).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let idx = t.path().join("idx");
    ok(&["index", path_str(&corpus), "--out", path_str(&idx)]);
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
