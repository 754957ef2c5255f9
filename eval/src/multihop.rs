//! Multi-hop evaluation on a multi-hop set in BEIR layout (HotpotQA, 2WikiMultihopQA,
//! MuSiQue, …). Gold passages come from `qrels/<split>.tsv` (relevance > 0); when a
//! question has none there, from `metadata.supporting_facts` (`[[title, sentence], ...]`,
//! titles = corpus ids). Answers: `metadata.answer` (a string, or a list whose first
//! entry is the answer) plus `metadata.answer_aliases`. The question type: `metadata.type`,
//! else the id's prefix before `__` (MuSiQue's `2hop__…`), else `unknown`. Retrieval
//! runs over the pooled corpus (every paragraph of the file). Measures at k = 2, 5, 10, 20:
//! - `recall_at_k`: the fraction of a question's gold passages in the top k;
//! - `both_gold_at_k`: every gold passage in the top k (all of them, however many);
//! - `answer_recall_at_k`: the answer or one of its aliases, normalized as the HotpotQA
//!   evaluation script does (lower case, punctuation and articles removed, whitespace
//!   collapsed), occurs as a whole-token run in a normalized top-k passage (title +
//!   text). Questions answered `yes`/`no` are left out of this measure (any passage
//!   could contain the word); `answer_recall_questions` says how many count;
//! - `fact_recall` (multi-hop, questions with `supporting_facts`): the fraction of the
//!   supporting sentences among the chain's condensed facts (a fact matches by passage
//!   id or title and sentence index).
//!
//! All are averaged over questions, overall and per question type.

use std::collections::{BTreeMap, HashSet};

use rayon::prelude::*;
use seine_datasets::Query;
use seine_datasets::beir::Qrels;
use seine_engine::multihop::{HopTrace, MultiHop};
use seine_engine::{SearchRequest, Searcher};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::{Error, Result};

pub const KS: [usize; 4] = [2, 5, 10, 20];

/// A multi-hop question with its gold passages.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub id: String,
    pub text: String,
    pub answer: String,
    /// Other accepted answers (`answer_aliases`).
    pub aliases: Vec<String>,
    pub qtype: String,
    /// Gold passage ids: the question's relevant qrels (else the supporting facts'
    /// titles), in order of first mention.
    pub gold: Vec<String>,
    /// Supporting sentences (title or id, sentence index), when the set has them.
    pub facts: Vec<(String, usize)>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(xs)) => xs
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The questions of a split with their gold passages (see the module docs); errors
/// name the query.
pub fn questions(queries: &[Query], qrels: &Qrels) -> Result<Vec<Question>> {
    let mut out = Vec::new();
    for q in queries {
        let m = &q.metadata;
        let mut facts: Vec<(String, usize)> = Vec::new();
        if let Some(sf) = m.get("supporting_facts").and_then(Value::as_array) {
            for f in sf {
                let title = f.get(0).and_then(Value::as_str);
                let sent = f.get(1).and_then(Value::as_u64);
                let (Some(title), Some(sent)) = (title, sent) else {
                    return Err(Error::Empty(format!(
                        "query {:?}: supporting fact {f} is not [title, sentence]",
                        q.id
                    )));
                };
                facts.push((title.to_string(), sent as usize));
            }
        }
        let mut gold: Vec<String> = Vec::new();
        let judged: Vec<&String> = qrels
            .get(&q.id)
            .map(|j| j.iter().filter(|(_, r)| **r > 0).map(|(d, _)| d).collect())
            .unwrap_or_default();
        // Qrels first; their order follows the supporting facts where those name them.
        for (title, _) in &facts {
            if judged.contains(&title) && !gold.contains(title) {
                gold.push(title.clone());
            }
        }
        for d in &judged {
            if !gold.contains(d) {
                gold.push((*d).clone());
            }
        }
        if judged.is_empty() {
            for (title, _) in &facts {
                if !gold.contains(title) {
                    gold.push(title.clone());
                }
            }
        }
        if gold.is_empty() {
            return Err(Error::Empty(format!(
                "query {:?} has no gold passages: no judgment above 0 in the qrels and no \
                 metadata.supporting_facts",
                q.id
            )));
        }
        let mut answers = strings(m.get("answer"));
        answers.extend(strings(m.get("answer_aliases")));
        let answer = if answers.is_empty() {
            String::new()
        } else {
            answers.remove(0)
        };
        let qtype = match m.get("type").and_then(Value::as_str) {
            Some(t) => t.to_string(),
            None => match q.id.split_once("__") {
                Some((prefix, _)) if !prefix.is_empty() => prefix.to_string(),
                _ => "unknown".to_string(),
            },
        };
        out.push(Question {
            id: q.id.clone(),
            text: q.text.clone(),
            answer,
            aliases: answers,
            qtype,
            gold,
            facts,
        });
    }
    Ok(out)
}

/// HotpotQA's `normalize_answer`: lower case, no punctuation, no articles, single spaces.
pub fn normalize_answer(s: &str) -> String {
    let lower = s.to_lowercase();
    let no_punct: String = lower
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    no_punct
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether normalized `needle` occurs as whole tokens in normalized `hay`.
fn contains_tokens(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let padded = format!(" {hay} ");
    padded.contains(&format!(" {needle} "))
}

/// One question's outcome for one pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Top-20 ids.
    pub ranking: Vec<String>,
    /// For k in [`KS`]: gold passages found, answer found.
    #[serde(skip)]
    pub gold_found: [usize; 4],
    #[serde(skip)]
    pub answer_found: [bool; 4],
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hops: Option<Vec<HopTrace>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<bool>,
    /// Supporting sentences among the chain's facts (multi-hop, sets with facts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts_found: Option<usize>,
}

fn score(searcher: &Searcher, q: &Question, ids: Vec<(u32, String)>) -> Result<Outcome> {
    let gold: HashSet<&str> = q.gold.iter().map(String::as_str).collect();
    let answers: Vec<String> = std::iter::once(&q.answer)
        .chain(&q.aliases)
        .map(|a| normalize_answer(a))
        .filter(|a| !a.is_empty())
        .collect();
    let mut gold_found = [0usize; 4];
    let mut answer_found = [false; 4];
    let mut g = 0;
    let mut found_answer = false;
    for (rank, (doc, id)) in ids.iter().enumerate().take(20) {
        if gold.contains(id.as_str()) {
            g += 1;
        }
        if !found_answer && let Some(d) = searcher.stored(*doc)? {
            let hay = normalize_answer(&format!("{} {}", d.title, d.text));
            found_answer = answers.iter().any(|a| contains_tokens(&hay, a));
        }
        for (i, k) in KS.iter().enumerate() {
            if rank + 1 == *k {
                gold_found[i] = g;
                answer_found[i] = found_answer;
            }
        }
    }
    // Fewer than k hits: what was found holds for every larger k.
    for (i, k) in KS.iter().enumerate() {
        if ids.len() < *k {
            gold_found[i] = g;
            answer_found[i] = found_answer;
        }
    }
    Ok(Outcome {
        ranking: ids.into_iter().take(20).map(|(_, id)| id).collect(),
        gold_found,
        answer_found,
        seconds: 0.0,
        hops: None,
        stopped_early: None,
        facts_found: None,
    })
}

/// Single-hop retrieval: `req` (the multi-hop loop's first hop, for 20 hits).
pub fn single_hop(searcher: &Searcher, q: &Question, req: &SearchRequest) -> Result<Outcome> {
    let t = std::time::Instant::now();
    let hits = searcher.search_fused(&q.text, req)?;
    let seconds = t.elapsed().as_secs_f64();
    let mut o = score(
        searcher,
        q,
        hits.into_iter().map(|h| (h.hit.doc, h.hit.id)).collect(),
    )?;
    o.seconds = seconds;
    Ok(o)
}

/// Multi-hop retrieval.
pub fn multi_hop(searcher: &Searcher, q: &Question, cfg: &MultiHop) -> Result<Outcome> {
    let t = std::time::Instant::now();
    let r = searcher.search_multihop(&q.text, 20, cfg)?;
    let seconds = t.elapsed().as_secs_f64();
    let mut o = score(
        searcher,
        q,
        r.ranking.into_iter().map(|h| (h.doc, h.id)).collect(),
    )?;
    o.seconds = seconds;
    if !q.facts.is_empty() {
        let found = q
            .facts
            .iter()
            .filter(|(t, i)| {
                r.hops
                    .iter()
                    .flat_map(|h| &h.facts)
                    .any(|f| (f.id == *t || f.title == *t) && f.sentence == *i)
            })
            .count();
        o.facts_found = Some(found);
    }
    o.hops = Some(r.hops);
    o.stopped_early = Some(r.stopped_early);
    Ok(o)
}

/// Averages over questions, overall and by type: the JSON object of one pipeline.
pub fn summarize(questions: &[Question], outcomes: &[Outcome]) -> Value {
    fn block(items: &[(&Question, &Outcome)]) -> Map<String, Value> {
        let n = items.len().max(1) as f64;
        let mut m = Map::new();
        m.insert("questions".into(), json!(items.len()));
        for (i, k) in KS.iter().enumerate() {
            let r: f64 = items
                .iter()
                .map(|(q, o)| o.gold_found[i] as f64 / q.gold.len().max(1) as f64)
                .sum::<f64>()
                / n;
            let both = items
                .iter()
                .filter(|(q, o)| o.gold_found[i] == q.gold.len())
                .count() as f64
                / n;
            m.insert(format!("recall_at_{k}"), json!(r));
            m.insert(format!("both_gold_at_{k}"), json!(both));
        }
        let answerable: Vec<_> = items
            .iter()
            .filter(|(q, _)| !matches!(normalize_answer(&q.answer).as_str(), "yes" | "no" | ""))
            .collect();
        let na = answerable.len().max(1) as f64;
        for (i, k) in KS.iter().enumerate() {
            let a = answerable.iter().filter(|(_, o)| o.answer_found[i]).count() as f64 / na;
            m.insert(format!("answer_recall_at_{k}"), json!(a));
        }
        m.insert("answer_recall_questions".into(), json!(answerable.len()));
        let with_facts: Vec<_> = items
            .iter()
            .filter_map(|(q, o)| Some(o.facts_found? as f64 / q.facts.len().max(1) as f64))
            .collect();
        if !with_facts.is_empty() {
            let r = with_facts.iter().sum::<f64>() / with_facts.len() as f64;
            m.insert("fact_recall".into(), json!(r));
            m.insert("fact_recall_questions".into(), json!(with_facts.len()));
        }
        let golds: Vec<usize> = items.iter().map(|(q, _)| q.gold.len()).collect();
        m.insert(
            "gold_per_question".into(),
            json!(golds.iter().sum::<usize>() as f64 / golds.len().max(1) as f64),
        );
        let mut secs: Vec<f64> = items.iter().map(|(_, o)| o.seconds).collect();
        secs.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            secs.get(((secs.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(0.0)
                * 1000.0
        };
        m.insert("latency_ms_p50".into(), json!(pct(0.5)));
        m.insert("latency_ms_p99".into(), json!(pct(0.99)));
        m
    }
    let all: Vec<(&Question, &Outcome)> = questions.iter().zip(outcomes).collect();
    let mut top = block(&all);
    let mut by_type: BTreeMap<&str, Vec<(&Question, &Outcome)>> = BTreeMap::new();
    for (q, o) in &all {
        by_type.entry(q.qtype.as_str()).or_default().push((q, o));
    }
    let bt: Map<String, Value> = by_type
        .into_iter()
        .map(|(t, items)| (t.to_string(), Value::Object(block(&items))))
        .collect();
    top.insert("by_type".into(), Value::Object(bt));
    Value::Object(top)
}

/// Runs both pipelines over every question, in parallel over questions.
/// Each question single-hop (the loop's first hop alone: same retrievers, fusion,
/// rerank and parameters) and multi-hop, in parallel over questions.
pub fn run(
    searcher: &Searcher,
    questions: &[Question],
    cfg: &MultiHop,
    on_done: &(dyn Fn() + Sync),
) -> Result<(Vec<Outcome>, Vec<Outcome>)> {
    let single = cfg.hop_request(cfg.rerank, 20);
    searcher.check(&single)?;
    cfg.validate()?;
    let pairs = questions
        .par_iter()
        .map(|q| {
            let s = single_hop(searcher, q, &single)?;
            let m = multi_hop(searcher, q, cfg)?;
            on_done();
            Ok((s, m))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(pairs.into_iter().unzip())
}

/// A readable side-by-side table: measure × (single, multi), overall and by type.
pub fn table(single: &Value, multi: &Value, hops: usize) -> String {
    let mut out = String::new();
    let mut sections: Vec<(String, &Value, &Value)> = vec![("all".into(), single, multi)];
    if let (Some(a), Some(b)) = (single["by_type"].as_object(), multi["by_type"].as_object()) {
        for (t, v) in a {
            if let Some(w) = b.get(t) {
                sections.push((t.clone(), v, w));
            }
        }
    }
    out.push_str(&format!(
        "{:<22} {:>12} {:>12}\n",
        "measure",
        "single-hop",
        format!("{hops}-hop")
    ));
    for (name, s, m) in sections {
        out.push_str(&format!("-- {name} ({} questions)\n", s["questions"]));
        for what in ["recall", "both_gold", "answer_recall"] {
            for k in KS {
                let key = format!("{what}_at_{k}");
                out.push_str(&format!(
                    "{:<22} {:>12.4} {:>12.4}\n",
                    key,
                    s[&key].as_f64().unwrap_or(0.0),
                    m[&key].as_f64().unwrap_or(0.0)
                ));
            }
        }
    }
    out
}

/// A multi-hop evaluation's outputs: the summary JSON, one line per question, the
/// table and the headline.
pub struct Report<'a> {
    pub dataset: &'a str,
    pub split: &'a str,
    /// Names the files (`multihop-<dataset>-<run_name>-h<hops>`).
    pub run_name: &'a str,
    pub questions: &'a [Question],
    pub single: &'a [Outcome],
    pub multi: &'a [Outcome],
    pub cfg: &'a MultiHop,
    /// The condenser's scorer as run (the configured one, or the index's best).
    pub scorer: seine_engine::multihop::FactScorer,
    /// The first-stage pipeline as the caller describes it.
    pub pipeline: Value,
}

impl Report<'_> {
    fn summaries(&self) -> (Value, Value) {
        (
            summarize(self.questions, self.single),
            summarize(self.questions, self.multi),
        )
    }

    /// Writes `<out>/<stem>.json` (atomically) and `<out>/<stem>.questions.jsonl`;
    /// returns both paths.
    pub fn write(&self, out: &std::path::Path) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
        let (s, m) = self.summaries();
        let cfg = self.cfg;
        let result = json!({
            "dataset": self.dataset,
            "split": self.split,
            "questions": self.questions.len(),
            "corpus": "pooled (every paragraph of the file)",
            "pipeline": self.pipeline,
            "multihop": {
                "hops": cfg.hops,
                "hop_depth": cfg.depth,
                "condense_passages": cfg.condense_passages,
                "facts": cfg.facts,
                "condense_scorer": self.scorer,
                "condense_scorer_chosen_by_index": cfg.scorer.is_none(),
                "later_rerank": cfg.rerank_later.map(|r| r.label()),
            },
            "single_hop": s,
            "multi_hop": m,
        });
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        let stem =
            format!("multihop-{}-{}-h{}", self.dataset, self.run_name, cfg.hops).replace('+', "_");
        let json_path = out.join(format!("{stem}.json"));
        let tmp = json_path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&result).expect("JSON values serialize");
        std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &json_path).map_err(|e| Error::io(&json_path, e))?;
        // One line per question: the gold, both rankings and the chain.
        let per_q = out.join(format!("{stem}.questions.jsonl"));
        let mut lines = String::new();
        for ((q, s), m) in self.questions.iter().zip(self.single).zip(self.multi) {
            let line = json!({
                "id": q.id, "question": q.text, "type": q.qtype, "answer": q.answer,
                "answer_aliases": q.aliases, "gold": q.gold, "single_hop": s, "multi_hop": m,
            });
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
        std::fs::write(&per_q, lines).map_err(|e| Error::io(&per_q, e))?;
        Ok((json_path, per_q))
    }

    /// Single- and multi-hop measures side by side, overall and by question type.
    pub fn table(&self) -> String {
        let (s, m) = self.summaries();
        table(&s, &m, self.cfg.hops)
    }

    /// `both-gold@10: single-hop …, H-hop …  (run)`.
    pub fn headline(&self) -> String {
        let (s, m) = self.summaries();
        format!(
            "both-gold@10: single-hop {:.4}, {}-hop {:.4}  ({})",
            s["both_gold_at_10"].as_f64().unwrap_or(0.0),
            self.cfg.hops,
            m["both_gold_at_10"].as_f64().unwrap_or(0.0),
            self.run_name
        )
    }
}

#[cfg(test)]
mod tests;
