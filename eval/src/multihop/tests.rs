use super::*;

#[test]
fn normalization_matches_hotpotqa() {
    assert_eq!(normalize_answer("The  Beatles!"), "beatles");
    assert_eq!(
        normalize_answer("Japan and Hong Kong"),
        "japan and hong kong"
    );
    assert_eq!(normalize_answer("A.B.C"), "abc");
    assert!(contains_tokens(
        "stores in japan and hong kong",
        "japan and hong kong"
    ));
    assert!(!contains_tokens("stores in japanese towns", "japan"));
    assert!(!contains_tokens("anything", ""));
}

fn query(id: &str, metadata: Value) -> Query {
    Query {
        id: id.into(),
        text: "?".into(),
        metadata,
    }
}

fn qrels(rows: &[(&str, &str, i32)]) -> Qrels {
    let mut q = Qrels::new();
    for (qid, doc, r) in rows {
        q.entry(qid.to_string())
            .or_default()
            .insert(doc.to_string(), *r);
    }
    q
}

#[test]
fn gold_from_supporting_facts_when_qrels_have_none() {
    let q = query(
        "q",
        json!({"answer": "x", "type": "bridge",
            "supporting_facts": [["A", 0], ["B", 1], ["A", 2]]}),
    );
    let qs = questions(&[q], &qrels(&[("q", "A", 0)])).unwrap();
    assert_eq!(qs[0].gold, vec!["A", "B"]);
    assert_eq!(
        qs[0].facts,
        vec![("A".into(), 0), ("B".into(), 1), ("A".into(), 2)]
    );
    assert_eq!(qs[0].qtype, "bridge");
    let bad = query("z", Value::Null);
    let e = questions(&[bad], &Qrels::new()).unwrap_err().to_string();
    assert!(e.contains("\"z\"") && e.contains("no gold passages"), "{e}");
}

/// Qrels win; hashed ids, aliases, a list answer and MuSiQue's id prefix as type.
#[test]
fn gold_from_qrels_aliases_and_type_from_the_id() {
    let q = query(
        "3hop1__123_456",
        json!({"answer": ["Paris", "City of Light"], "answer_aliases": ["Paree"]}),
    );
    let qr = qrels(&[
        ("3hop1__123_456", "h3", 1),
        ("3hop1__123_456", "h1", 2),
        ("3hop1__123_456", "h2", 1),
        ("3hop1__123_456", "hx", 0),
    ]);
    let qs = questions(&[q], &qr).unwrap();
    assert_eq!(qs[0].gold, vec!["h1", "h2", "h3"]);
    assert_eq!(qs[0].answer, "Paris");
    assert_eq!(qs[0].aliases, vec!["City of Light", "Paree"]);
    assert_eq!(qs[0].qtype, "3hop1");
    assert!(qs[0].facts.is_empty());
    let plain = query("5a7d", json!({"answer": "x"}));
    let qs = questions(&[plain], &qrels(&[("5a7d", "d", 1)])).unwrap();
    assert_eq!(qs[0].qtype, "unknown");
}

#[test]
fn summary_counts_partial_and_both() {
    let q = |t: &str| Question {
        id: "q".into(),
        text: "?".into(),
        answer: "yes".into(),
        aliases: vec![],
        qtype: t.into(),
        gold: vec!["A".into(), "B".into()],
        facts: vec![],
    };
    let o = |g: [usize; 4]| Outcome {
        ranking: vec![],
        gold_found: g,
        answer_found: [false; 4],
        seconds: 0.0,
        hops: None,
        stopped_early: None,
        facts_found: None,
    };
    let qs = vec![q("bridge"), q("comparison")];
    let os = vec![o([1, 2, 2, 2]), o([0, 1, 1, 2])];
    let s = summarize(&qs, &os);
    assert_eq!(s["recall_at_2"], json!(0.25));
    assert_eq!(s["both_gold_at_5"], json!(0.5));
    assert_eq!(s["both_gold_at_20"], json!(1.0));
    assert_eq!(s["answer_recall_questions"], json!(0));
    assert_eq!(s["by_type"]["bridge"]["both_gold_at_2"], json!(0.0));
    assert_eq!(s["by_type"]["bridge"]["both_gold_at_5"], json!(1.0));
}

/// Three gold passages: all-gold needs all three, recall counts thirds.
#[test]
fn all_gold_counts_every_passage() {
    let q = Question {
        id: "q".into(),
        text: "?".into(),
        answer: "x".into(),
        aliases: vec![],
        qtype: "3hop".into(),
        gold: vec!["A".into(), "B".into(), "C".into()],
        facts: vec![("A".into(), 0), ("C".into(), 1)],
    };
    let o = |g: [usize; 4], facts: Option<usize>| Outcome {
        ranking: vec![],
        gold_found: g,
        answer_found: [false; 4],
        seconds: 0.0,
        hops: None,
        stopped_early: None,
        facts_found: facts,
    };
    let s = summarize(
        &[q.clone(), q],
        &[o([2, 2, 3, 3], Some(1)), o([1, 2, 2, 3], Some(2))],
    );
    assert_eq!(s["both_gold_at_5"], json!(0.0));
    assert_eq!(s["both_gold_at_10"], json!(0.5));
    assert_eq!(s["both_gold_at_20"], json!(1.0));
    assert!((s["recall_at_2"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    assert_eq!(s["fact_recall"], json!(0.75));
    assert_eq!(s["gold_per_question"], json!(3.0));
}
