use std::path::{Path, PathBuf};

use seine_datasets::beir::BeirDir;
use seine_datasets::jsonl::{JsonlDocs, JsonlFields};
use seine_datasets::parquet_io::{ParquetDocs, write_docs};
use seine_datasets::{CorpusFormat, CorpusOptions, Doc, DocStream, open_corpus};

fn scifact() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/scifact")
}

#[test]
fn beir_scifact_streams_every_document_and_split() {
    let beir = BeirDir::open(&scifact()).unwrap();
    assert_eq!(beir.name(), "scifact");
    let mut docs = beir.corpus().unwrap();
    let first = docs.next().unwrap().unwrap();
    assert_eq!(first.id, "4983");
    assert!(first.title.starts_with("Microstructural development"));
    let rest = docs
        .by_ref()
        .inspect(|d| assert!(d.is_ok(), "{d:?}"))
        .count();
    assert_eq!(rest + 1, 5183);
    let p = docs.progress();
    assert_eq!(p.done, p.total.unwrap());

    let (queries, qrels) = beir.split("test").unwrap();
    assert_eq!(queries.len(), 300);
    assert_eq!(qrels.values().map(|d| d.len()).sum::<usize>(), 339);
    let (train, _) = beir.split("train").unwrap();
    assert_eq!(train.len(), 809);
}

#[test]
fn parquet_round_trip_across_row_groups() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("c.parquet");
    let docs: Vec<Doc> = (0..5000)
        .map(|i| Doc {
            id: format!("doc-{i}"),
            title: if i % 2 == 0 {
                format!("title {i}")
            } else {
                String::new()
            },
            text: format!("text of document {i} with ünïcode"),
            metadata: Default::default(),
        })
        .collect();
    let n = write_docs(&path, docs.iter().cloned().map(Ok)).unwrap();
    assert_eq!(n, 5000);
    let back: Vec<Doc> = ParquetDocs::open(&path)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(back, docs);
    // No temporary file left beside it.
    assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
    assert_eq!(CorpusFormat::detect(&path).unwrap(), CorpusFormat::Parquet);
}

#[test]
fn not_a_parquet_file_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    let bad = t.path().join("x.parquet");
    std::fs::write(&bad, b"not parquet at all").unwrap();
    let err = ParquetDocs::open(&bad).err().unwrap().to_string();
    assert!(
        err.contains("x.parquet") && err.contains("not a readable Parquet file"),
        "{err}"
    );
}

#[test]
fn jsonl_with_custom_fields_and_numeric_ids() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("c.jsonl");
    std::fs::write(
        &path,
        "{\"pid\": 7, \"body\": \"seven\", \"heading\": \"H\"}\n\n{\"pid\": \"8\", \"body\": \"eight\"}\n",
    )
    .unwrap();
    let fields = JsonlFields {
        id: vec!["pid".into()],
        title: Some("heading".into()),
        text: "body".into(),
    };
    let docs: Vec<Doc> = JsonlDocs::open(&path, fields.clone())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        docs[0],
        Doc {
            id: "7".into(),
            title: "H".into(),
            text: "seven".into(),
            metadata: Default::default(),
        }
    );
    assert_eq!(docs[1].id, "8");
    let opts = CorpusOptions {
        format: None,
        fields,
    };
    assert_eq!(open_corpus(&path, &opts).unwrap().count(), 2);
}

#[test]
fn unknown_format_and_missing_path() {
    let t = tempfile::tempdir().unwrap();
    let csv = t.path().join("c.csv");
    std::fs::write(&csv, "a,b").unwrap();
    let err = open_corpus(&csv, &CorpusOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("unknown corpus format"), "{err}");
    let err = open_corpus(&t.path().join("nope.jsonl"), &CorpusOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("nope.jsonl"), "{err}");
}

#[test]
fn jsonl_metadata_is_the_rest_of_the_line() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("c.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"_id": "a", "title": "T", "text": "x", "year": 2015, "metadata": {"type": "review", "year": 1}}"#,
            "\n",
            r#"{"_id": "b", "text": "y"}"#,
            "\n"
        ),
    )
    .unwrap();
    let docs: Vec<Doc> = JsonlDocs::open(&path, JsonlFields::default())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // A top-level field wins over the `metadata` object's entry of the same name.
    assert_eq!(
        serde_json::Value::Object(docs[0].metadata.clone()),
        serde_json::json!({"type": "review", "year": 2015})
    );
    assert!(docs[1].metadata.is_empty());
}

/// Parquet's columns besides id/title/text are the documents' metadata (scalars only;
/// a list column such as an embedding is not read; nulls are no value).
#[test]
fn parquet_extra_columns_are_metadata() {
    use std::sync::Arc;

    use arrow_array::builder::{Float32Builder, ListBuilder};
    use arrow_array::{
        ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    };
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("m.parquet");
    let mut emb = ListBuilder::new(Float32Builder::new());
    for _ in 0..2 {
        emb.values().append_value(0.5);
        emb.append(true);
    }
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(StringArray::from(vec!["a", "b"]))),
        ("text", Arc::new(StringArray::from(vec!["x", "y"]))),
        ("year", Arc::new(Int64Array::from(vec![Some(2015), None]))),
        ("kind", Arc::new(StringArray::from(vec!["review", "trial"]))),
        ("score", Arc::new(Float64Array::from(vec![0.25, 1.5]))),
        ("open", Arc::new(BooleanArray::from(vec![true, false]))),
        // 2015-03-01 and 1970-01-01.
        ("published", Arc::new(Date32Array::from(vec![16_495, 0]))),
        ("embedding", Arc::new(emb.finish())),
    ];
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let f = std::fs::File::create(&path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let docs: Vec<_> = ParquetDocs::open(&path)
        .unwrap()
        .map(|d| d.unwrap())
        .collect();
    let m = |i: usize| serde_json::Value::Object(docs[i].metadata.clone());
    assert_eq!(
        m(0),
        serde_json::json!({"year": 2015, "kind": "review", "score": 0.25, "open": true,
            "published": "2015-03-01"})
    );
    assert_eq!(
        m(1),
        serde_json::json!({"kind": "trial", "score": 1.5, "open": false,
            "published": "1970-01-01"})
    );
    assert_eq!((docs[1].id.as_str(), docs[1].text.as_str()), ("b", "y"));
}

/// JSONL → Parquet keeps metadata: typed columns (widened across documents), nulls for
/// missing keys, mixed or nested values as JSON text; read back as the same metadata.
#[test]
fn parquet_writer_keeps_metadata() {
    use seine_datasets::parquet_io::write_docs_with;
    use seine_datasets::parquet_meta::MetaColumns;
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("m.parquet");
    let meta = |v: serde_json::Value| v.as_object().unwrap().clone();
    let docs = vec![
        Doc {
            id: "a".into(),
            text: "x".into(),
            metadata: meta(serde_json::json!({"year": 2015, "score": 1, "open": true,
                "kind": "review", "mixed": 3, "tags": ["p", "q"], "published": "2015-03-01"})),
            ..Doc::default()
        },
        Doc {
            id: "b".into(),
            text: "y".into(),
            metadata: meta(serde_json::json!({"score": 0.5, "mixed": "three", "kind": null})),
            ..Doc::default()
        },
    ];
    let mut cols = MetaColumns::default();
    for d in &docs {
        cols.observe(&path, d).unwrap();
    }
    assert_eq!(cols.columns(), 7);
    write_docs_with(&path, docs.iter().cloned().map(Ok), &cols).unwrap();
    let back: Vec<Doc> = ParquetDocs::open(&path)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        serde_json::Value::Object(back[0].metadata.clone()),
        serde_json::json!({"year": 2015, "score": 1.0, "open": true, "kind": "review",
            "mixed": "3", "tags": "[\"p\",\"q\"]", "published": "2015-03-01"})
    );
    assert_eq!(
        serde_json::Value::Object(back[1].metadata.clone()),
        serde_json::json!({"score": 0.5, "mixed": "three"})
    );
    // A key named like a document column is refused, naming the document.
    let mut bad = MetaColumns::default();
    let d = Doc {
        id: "c".into(),
        metadata: meta(serde_json::json!({"title": "t"})),
        ..Doc::default()
    };
    let e = bad.observe(&path, &d).unwrap_err().to_string();
    assert!(e.contains("\"c\"") && e.contains("title"), "{e}");
}
