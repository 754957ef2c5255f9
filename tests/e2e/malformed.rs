//! Bad input: non-zero exit, an error naming file and line (or row), and no index left.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::util::{leftovers, path_str, run, stderr};

const GOOD: &str = r#"{"_id": "d1", "title": "Cells", "text": "Stem cells divide."}"#;
const GOOD2: &str = r#"{"_id": "d2", "title": "", "text": "Neurons fire."}"#;

/// Indexes `corpus` into a fresh target and checks the failure.
fn assert_index_fails(corpus: &Path, expect: &[&str]) {
    let dir = corpus.parent().unwrap();
    let out = dir.join("index-out");
    let o = run(&["index", path_str(corpus), "--out", path_str(&out)]);
    let err = stderr(&o);
    assert!(
        !o.status.success(),
        "expected failure for {}",
        corpus.display()
    );
    for e in expect {
        assert!(
            err.contains(e),
            "error for {} should mention {e:?}:\n{err}",
            corpus.display()
        );
    }
    assert!(!out.exists(), "an index directory was left behind");
    assert!(
        leftovers(dir).is_empty(),
        "staging left behind: {:?}",
        leftovers(dir)
    );
}

fn write_jsonl(dir: &Path, name: &str, lines: &[&str]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

#[test]
fn malformed_jsonl_corpora() {
    let t = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        (
            "truncated.jsonl",
            vec![GOOD, GOOD2, r#"{"_id": "d3", "text": "cut he"#],
            vec!["truncated.jsonl:line 3", "malformed JSON"],
        ),
        (
            "noid.jsonl",
            vec![GOOD, r#"{"title": "x", "text": "no id"}"#],
            vec!["noid.jsonl:line 2", "missing field"],
        ),
        (
            "dup.jsonl",
            vec![GOOD, GOOD2, "", GOOD],
            vec!["dup.jsonl:line 4", "duplicate id \"d1\"", "line 1"],
        ),
        (
            "notext.jsonl",
            vec![GOOD, r#"{"_id": "d9", "title": "only a title"}"#],
            vec!["notext.jsonl:line 2", "\"text\""],
        ),
        (
            "array.jsonl",
            vec![GOOD, "[1, 2]"],
            vec!["array.jsonl:line 2", "expected a JSON object"],
        ),
    ];
    for (name, lines, expect) in cases {
        let sub = t.path().join(name.trim_end_matches(".jsonl"));
        std::fs::create_dir(&sub).unwrap();
        let corpus = write_jsonl(&sub, name, &lines);
        assert_index_fails(&corpus, &expect);
    }
}

#[test]
fn invalid_utf8_is_named() {
    let t = tempfile::tempdir().unwrap();
    let corpus = t.path().join("latin1.jsonl");
    let mut bytes = format!("{GOOD}\n").into_bytes();
    bytes.extend_from_slice(b"{\"_id\": \"d2\", \"text\": \"caf\xe9\"}\n");
    std::fs::write(&corpus, bytes).unwrap();
    assert_index_fails(&corpus, &["latin1.jsonl:line 2", "invalid UTF-8"]);

    let folder = t.path().join("notes");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::fs::write(folder.join("a.txt"), "fine\n").unwrap();
    std::fs::write(folder.join("sub/b.md"), b"# Title\nline two\ncaf\xe9\n").unwrap();
    let out = t.path().join("notes-index");
    let o = run(&["index", path_str(&folder), "--out", path_str(&out)]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("b.md:line 3") && err.contains("invalid UTF-8"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn parquet_null_id_names_row_group_and_row() {
    let t = tempfile::tempdir().unwrap();
    let corpus = t.path().join("corpus.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("text", DataType::Utf8, true),
    ]));
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(10))
        .build();
    let file = std::fs::File::create(&corpus).unwrap();
    let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).unwrap();
    let ids: Vec<Option<String>> = (0..20)
        .map(|i| if i == 15 { None } else { Some(format!("p{i}")) })
        .collect();
    let texts: Vec<Option<String>> = (0..20).map(|i| Some(format!("text {i}"))).collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(ids)) as ArrayRef,
            Arc::new(StringArray::from(texts)) as ArrayRef,
        ],
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    assert_index_fails(
        &corpus,
        &["corpus.parquet:row group 1, row 5", "null or empty id"],
    );
}

#[test]
fn bad_queries_and_qrels_fail_eval_before_indexing() {
    let t = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "{\"_id\": \"q1\", \"text\": \"stem cells\"}\n{\"_id\": \"q2\", \"text\": ",
            "query-id\tcorpus-id\tscore\nq1\td1\t1\n",
            vec!["queries.jsonl:line 2", "malformed JSON"],
        ),
        (
            "{\"_id\": \"q1\", \"text\": \"stem cells\"}\n",
            "qid\tdocid\trel\nq1\td1\t1\n",
            vec!["test.tsv:line 1", "bad qrels header"],
        ),
        (
            "{\"_id\": \"q1\", \"text\": \"stem cells\"}\n",
            "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\thigh\n",
            vec!["test.tsv:line 3", "bad grade \"high\""],
        ),
        (
            "{\"_id\": \"q1\", \"text\": \"stem cells\"}\n",
            "query-id\tcorpus-id\tscore\nq1\td1\n",
            vec!["test.tsv:line 2", "3 tab-separated columns"],
        ),
    ];
    for (i, (queries, qrels, expect)) in cases.into_iter().enumerate() {
        let ds = t.path().join(format!("ds{i}"));
        std::fs::create_dir_all(ds.join("qrels")).unwrap();
        std::fs::write(ds.join("corpus.jsonl"), format!("{GOOD}\n{GOOD2}\n")).unwrap();
        std::fs::write(ds.join("queries.jsonl"), queries).unwrap();
        std::fs::write(ds.join("qrels/test.tsv"), qrels).unwrap();
        let out = t.path().join(format!("out{i}"));
        let o = run(&["eval", path_str(&ds), "--out", path_str(&out)]);
        let err = stderr(&o);
        assert!(!o.status.success(), "case {i} should fail");
        for e in expect {
            assert!(
                err.contains(e),
                "case {i}: error should mention {e:?}:\n{err}"
            );
        }
        assert!(
            !out.join("indexes").exists(),
            "case {i}: an index was built"
        );
    }
}

#[test]
fn refuses_to_clobber_a_foreign_directory() {
    let t = tempfile::tempdir().unwrap();
    let corpus = write_jsonl(t.path(), "c.jsonl", &[GOOD, GOOD2]);
    let out = t.path().join("precious");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let o = run(&[
        "index",
        path_str(&corpus),
        "--out",
        path_str(&out),
        "--overwrite",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a seine index"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}
