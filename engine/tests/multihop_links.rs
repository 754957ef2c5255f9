//! Title links and named-first ranking in multi-hop retrieval (issue 18), on the
//! shared 2WikiMultihopQA passages with BM25 and the lexical condenser: the second
//! passage of a compositional question comes from a title the first passage names,
//! and a question naming two films starts its ranking with them and follows both
//! films' links to their directors.

use std::path::Path;

use candle_core::Device;
use seine_datasets::{CorpusOptions, open_corpus};
use seine_engine::Searcher;
use seine_engine::indexer::{Imported, build};
use seine_engine::multihop::{FactScorer, MultiHop};
use seine_index::lexical::{Bm25Mode, Bm25Params};
use seine_index::{BuildOptions, LexicalSettings, SourceInfo};

fn searcher(dir: &Path) -> Searcher {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/datasets/2wikimultihopqa-distractor/corpus.jsonl");
    let opts = BuildOptions {
        source: SourceInfo::of(&corpus, "jsonl"),
        lexical: Some(LexicalSettings::new(Bm25Mode::Flat, Bm25Params::default())),
        dense: None,
        sparse: None,
        multi: None,
        overwrite: false,
        command: None,
        threads: 2,
        fields: Vec::new(),
    };
    let mut docs = open_corpus(&corpus, &CorpusOptions::default()).unwrap();
    let dir = build(
        docs.as_mut(),
        &dir.join("idx"),
        opts,
        &Imported::default(),
        &Device::Cpu,
        &mut |_, _| {},
    )
    .unwrap()
    .0;
    Searcher::open(dir).unwrap()
}

fn cfg(links: usize, named_first: bool) -> MultiHop {
    MultiHop {
        hops: 2,
        retriever: "bm25".parse().unwrap(),
        scorer: Some(FactScorer::Lexical),
        links,
        named_first,
        ..MultiHop::default()
    }
}

#[test]
fn title_links_and_named_first() {
    let t = tempfile::tempdir().unwrap();
    let s = searcher(t.path());
    let top = |r: &seine_engine::multihop::MultiHopResult, n: usize| -> Vec<String> {
        r.ranking.iter().take(n).map(|h| h.id.clone()).collect()
    };

    // "Where was the place of burial of Charles Mathew's father?": BM25's first hop
    // picks the father's passage; the passage the question names leads the ranking.
    let q = "Where was the place of burial of Charles Mathew's father?";
    let gold = ["Charles Mathew", "James Charles Mathew"];
    let on = s.search_multihop(q, 10, &cfg(4, true)).unwrap();
    assert_eq!(top(&on, 1), vec!["Charles Mathew"]);
    assert!(
        gold.iter().all(|g| top(&on, 2).contains(&g.to_string())),
        "{:?}",
        top(&on, 10)
    );
    let off = s.search_multihop(q, 10, &cfg(0, false)).unwrap();
    assert!(
        !top(&off, 2).contains(&"Charles Mathew".to_string()),
        "{:?}",
        top(&off, 10)
    );

    // Two films named in the question lead the ranking; the picked film's passage
    // names its director, whose passage the second hop puts first.
    let q = "Which film has the director who died later, The More The Merrier or Sleep, My Love?";
    let on = s.search_multihop(q, 10, &cfg(4, true)).unwrap();
    let mut first = top(&on, 2);
    first.sort();
    assert_eq!(first, vec!["Sleep, My Love", "The More the Merrier"]);
    assert!(on.hops[0].picks.contains(&"Sleep, My Love".to_string()));
    assert_eq!(on.hops[1].retrieved[0], "Douglas Sirk");
    assert!(top(&on, 10).contains(&"Douglas Sirk".to_string()));
    // Both named films link: both directors (the four gold passages) in the top 10.
    let ids = top(&s.search_multihop(q, 10, &cfg(8, true)).unwrap(), 10);
    for g in [
        "Sleep, My Love",
        "The More the Merrier",
        "Douglas Sirk",
        "George Stevens",
    ] {
        assert!(ids.contains(&g.to_string()), "{g} not in {ids:?}");
    }
    let off = s.search_multihop(q, 10, &cfg(0, false)).unwrap();
    assert!(!off.hops[1].retrieved.contains(&"Douglas Sirk".to_string()));
    assert!(!top(&off, 2).contains(&"The More the Merrier".to_string()));
}
