//! Runs: per query, the retrieved documents with scores; TREC run files
//! (`qid Q0 docid rank score tag`).

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use crate::metrics::trec_order;
use crate::{Error, Result};

/// Query id → (document id, score), in any order.
pub type Run = BTreeMap<String, Vec<(String, f64)>>;

/// Writes a TREC run file, each query's hits in trec_eval order with ranks from 1.
pub fn write_trec(path: &Path, run: &Run, tag: &str) -> Result<()> {
    let tag = if tag.is_empty() || tag.contains(char::is_whitespace) {
        "seine"
    } else {
        tag
    };
    let tmp = path.with_extension("tmp");
    let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut out = BufWriter::new(file);
    for (qid, hits) in run {
        for (rank, (doc, score)) in trec_order(hits).iter().enumerate() {
            writeln!(out, "{qid} Q0 {doc} {} {score} {tag}", rank + 1)
                .map_err(|e| Error::io(&tmp, e))?;
        }
    }
    out.into_inner()
        .map_err(|e| Error::io(&tmp, e.into_error()))?
        .sync_all()
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Reads a TREC run file (six whitespace-separated columns). The rank column is
/// ignored, as trec_eval ignores it.
pub fn read_trec(path: &Path) -> Result<Run> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut run = Run::new();
    let mut seen = HashSet::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line_no = i as u64 + 1;
        let bad = |message: String| Error::RunFile {
            path: path.to_path_buf(),
            line: line_no,
            message,
        };
        let line = line.map_err(|e| bad(format!("unreadable line: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() != 6 {
            return Err(bad(format!(
                "expected 6 columns (qid Q0 docid rank score tag), found {}",
                cols.len()
            )));
        }
        let score: f64 = cols[4]
            .parse()
            .map_err(|_| bad(format!("bad score {:?}", cols[4])))?;
        if !seen.insert((cols[0].to_string(), cols[2].to_string())) {
            return Err(bad(format!(
                "document {} listed twice for query {}",
                cols[2], cols[0]
            )));
        }
        run.entry(cols[0].to_string())
            .or_default()
            .push((cols[2].to_string(), score));
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.trec");
        let mut run = Run::new();
        run.insert("q1".into(), vec![("d2".into(), 0.5), ("d1".into(), 1.25)]);
        run.insert("q2".into(), vec![("d3".into(), -2.0)]);
        write_trec(&path, &run, "bm25").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("q1 Q0 d1 1 1.25 bm25\nq1 Q0 d2 2 0.5 bm25\n"),
            "{text}"
        );
        let back = read_trec(&path).unwrap();
        assert_eq!(
            back["q1"],
            vec![("d1".to_string(), 1.25), ("d2".to_string(), 0.5)]
        );
        assert_eq!(back["q2"], run["q2"]);
    }

    #[test]
    fn malformed_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.trec");
        std::fs::write(&path, "q1 Q0 d1 1 1.0 x\nq1 Q0 d2 2 oops x\n").unwrap();
        let err = read_trec(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("oops"), "{err}");
    }
}
