//! Baleen-style multi-hop retrieval (Khattab et al., arXiv 2101.00436): condensed
//! retrieval with focused late interaction.
//!
//! For hop 1..H: retrieve the top `depth` passages with the configured pipeline
//! (first stage, fusion, late-interaction rerank — FLIPR for the multi-part queries of
//! later hops), leaving out passages already taken; **condense**: split the top
//! `condense_passages` passages into sentences, score each against the hop's query
//! ([`FactScorer`]) and keep the best `facts` new sentences; the passages those facts
//! come from are the hop's picks. The next hop's query is the question followed by
//! every fact so far, each with its passage title (`title | sentence`). The final
//! ranking is each hop's picks in hop order, then the other candidates by their rank
//! in their hop's list (later hops first on ties: they saw more context). A hop that
//! finds no new fact (or no new passage) ends the chain early.

use std::collections::HashSet;

use seine_index::DocId;
use serde::Serialize;

use crate::fusion::Fusion;
use crate::settings::{
    DEFAULT_CONDENSE_PASSAGES, DEFAULT_FACTS, DEFAULT_HOP_DEPTH, DEFAULT_HOPS, RetrieverSet,
};
use crate::{Error, Hit, Rerank, Result, Searcher, Side};

/// How the condenser scores a sentence against the hop's query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FactScorer {
    /// Cosine of pooled dense vectors: each sentence (with its title) encoded again.
    Dense,
    /// Token-level MaxSim contributions: each query token's best match among the
    /// sentence's tokens, averaged over query tokens. The sentence's tokens are the
    /// passage's own (contextualized) token vectors from the index, mapped to the
    /// sentence by their character spans: nothing is encoded but the query. Sentences
    /// without stored tokens (past the encoder's truncation, ColBERT checkpoints) are
    /// encoded on their own.
    MaxSim,
    /// Distinct analyzed query terms in the sentence, over `1 + ln(sentence terms)`:
    /// for indexes without an encoder.
    Lexical,
}

impl FactScorer {
    /// The best scorer `searcher`'s index supports: maxsim with token vectors, else
    /// dense with a dense encoder, else lexical.
    pub fn best_for(searcher: &Searcher) -> FactScorer {
        if searcher.has_tokens() {
            FactScorer::MaxSim
        } else if searcher.dense().is_some() {
            FactScorer::Dense
        } else {
            FactScorer::Lexical
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FactScorer::Dense => "dense",
            FactScorer::MaxSim => "maxsim",
            FactScorer::Lexical => "lexical",
        }
    }
}

impl std::fmt::Display for FactScorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FactScorer {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "dense" => Ok(FactScorer::Dense),
            "maxsim" => Ok(FactScorer::MaxSim),
            "lexical" => Ok(FactScorer::Lexical),
            _ => Err(Error::InvalidArgument(format!(
                "unknown fact scorer {s:?} (expected dense, maxsim or lexical)"
            ))),
        }
    }
}

/// Settings of the multi-hop loop.
#[derive(Debug, Clone)]
pub struct MultiHop {
    /// Hops (1..=4).
    pub hops: usize,
    /// First-stage retriever(s).
    pub retriever: RetrieverSet,
    pub fusion: Fusion,
    /// Rerank of the first hop (None: first-stage order).
    pub rerank: Option<Rerank>,
    /// Rerank of later hops (their queries carry facts: FLIPR by default).
    pub rerank_later: Option<Rerank>,
    /// Candidates kept per hop.
    pub depth: usize,
    /// Top passages of a hop whose sentences the condenser scores.
    pub condense_passages: usize,
    /// Facts kept per hop.
    pub facts: usize,
    /// How the condenser scores sentences; None: the best the index supports
    /// ([`FactScorer::best_for`]).
    pub scorer: Option<FactScorer>,
}

impl Default for MultiHop {
    fn default() -> Self {
        MultiHop {
            hops: DEFAULT_HOPS,
            retriever: RetrieverSet::default(),
            fusion: Fusion::default(),
            rerank: None,
            rerank_later: None,
            depth: DEFAULT_HOP_DEPTH,
            condense_passages: DEFAULT_CONDENSE_PASSAGES,
            facts: DEFAULT_FACTS,
            scorer: None,
        }
    }
}

impl MultiHop {
    /// The condenser's scorer on `searcher`'s index.
    pub fn scorer_for(&self, searcher: &Searcher) -> FactScorer {
        self.scorer
            .unwrap_or_else(|| FactScorer::best_for(searcher))
    }

    pub fn validate(&self) -> Result<()> {
        if !(1..=4).contains(&self.hops) {
            return Err(Error::InvalidArgument(format!(
                "hops must be within 1..=4, got {}",
                self.hops
            )));
        }
        if self.depth == 0 || self.facts == 0 || self.condense_passages == 0 {
            return Err(Error::InvalidArgument(
                "multi-hop depth, facts and condense passages must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// A passage's stored token vectors and their byte spans in its text.
type PassageTokens = (Vec<f32>, Vec<(usize, usize)>);

/// A sentence the condenser kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    pub id: String,
    #[serde(skip)]
    pub doc: DocId,
    pub title: String,
    /// Sentence index within the passage.
    pub sentence: usize,
    pub text: String,
    pub score: f32,
}

/// One hop of the chain.
#[derive(Debug, Clone, Serialize)]
pub struct HopTrace {
    pub query: String,
    /// The hop's candidates (ids, in rank order).
    pub retrieved: Vec<String>,
    /// Passages taken at this hop.
    pub picks: Vec<String>,
    pub facts: Vec<Fact>,
}

/// The chain and its final ranking.
#[derive(Debug, Clone)]
pub struct MultiHopResult {
    pub hops: Vec<HopTrace>,
    pub ranking: Vec<Hit>,
    /// The chain ended before the configured number of hops.
    pub stopped_early: bool,
}

/// Splits passage text into sentences: after `.`, `!` or `?` (and any closing quotes
/// or brackets) followed by whitespace and an upper-case letter, digit or opening
/// quote; not after single-letter initials or common abbreviations. Each sentence is
/// trimmed; empty ones are dropped. Byte spans into `text`.
pub fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    const ABBREV: [&str; 22] = [
        "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "no", "co", "inc", "ltd", "mt",
        "ft", "gen", "col", "lt", "sgt", "capt", "rev", "etc",
    ];
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let (_, c) = chars[i];
        if matches!(c, '.' | '!' | '?') {
            let mut j = i + 1;
            while j < chars.len() && matches!(chars[j].1, '"' | '\'' | ')' | ']' | '”' | '’') {
                j += 1;
            }
            let ws = j < chars.len() && chars[j].1.is_whitespace();
            let mut k = j;
            while k < chars.len() && chars[k].1.is_whitespace() {
                k += 1;
            }
            let next_ok = k < chars.len()
                && (chars[k].1.is_uppercase()
                    || chars[k].1.is_ascii_digit()
                    || matches!(chars[k].1, '"' | '“' | '\'' | '('));
            let boundary = ws && next_ok && {
                if c != '.' {
                    true
                } else {
                    // The word before the period.
                    let end = chars[i].0;
                    let word_start = text[..end]
                        .char_indices()
                        .rev()
                        .find(|(_, ch)| ch.is_whitespace() || *ch == '(')
                        .map_or(0, |(p, ch)| p + ch.len_utf8());
                    let word = &text[word_start..end];
                    let single_initial =
                        word.chars().count() == 1 && word.chars().all(char::is_uppercase);
                    let dotted = word.contains('.'); // "U.S", "e.g"
                    !(single_initial || dotted || ABBREV.contains(&word.to_lowercase().as_str()))
                }
            };
            if boundary {
                let end = chars.get(j).map_or(text.len(), |x| x.0);
                push_trimmed(text, start, end, &mut out);
                start = chars.get(k).map_or(text.len(), |x| x.0);
                i = k;
                continue;
            }
        }
        i += 1;
    }
    push_trimmed(text, start, text.len(), &mut out);
    out
}

fn push_trimmed(text: &str, start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    let s = &text[start..end];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    if lead < s.len() {
        out.push((start + lead, end - trail));
    }
}

/// The sentences of [`sentence_spans`], as strings.
pub fn split_sentences(text: &str) -> Vec<String> {
    sentence_spans(text)
        .into_iter()
        .map(|(a, b)| text[a..b].to_string())
        .collect()
}

/// The next hop's query: the question, then each fact as `title | sentence`.
pub fn hop_query(question: &str, facts: &[Fact]) -> String {
    let mut q = question.trim().to_string();
    for f in facts {
        q.push_str(" [SEP] ");
        q.push_str(&f.title);
        q.push_str(" | ");
        q.push_str(&f.text);
    }
    q
}

impl Searcher {
    /// Multi-hop retrieval of `question`: the chain and a ranking of `k` passages.
    pub fn search_multihop(
        &self,
        question: &str,
        k: usize,
        cfg: &MultiHop,
    ) -> Result<MultiHopResult> {
        cfg.validate()?;
        self.check(&cfg.retriever)?;
        let mut taken: HashSet<DocId> = HashSet::new();
        let mut picks: Vec<(DocId, f32)> = Vec::new();
        let mut facts: Vec<Fact> = Vec::new();
        let mut traces = Vec::new();
        // (doc, rank in its hop, hop) of every candidate seen.
        let mut seen: Vec<(DocId, usize, usize)> = Vec::new();
        let mut stopped_early = false;
        let mut query = question.trim().to_string();
        for hop in 0..cfg.hops {
            let rerank = if hop == 0 {
                cfg.rerank
            } else {
                cfg.rerank_later
            };
            let want = cfg.depth + taken.len();
            let hits: Vec<_> = self
                .search_with(&cfg.retriever, &query, want, &cfg.fusion, rerank)?
                .into_iter()
                .filter(|h| !taken.contains(&h.hit.doc))
                .take(cfg.depth)
                .collect();
            if hits.is_empty() {
                stopped_early = hop + 1 < cfg.hops || hop == 0;
                break;
            }
            for (rank, h) in hits.iter().enumerate() {
                seen.push((h.hit.doc, rank, hop));
            }
            let new_facts = self.condense(&query, &hits, &facts, cfg)?;
            let mut hop_picks: Vec<DocId> = Vec::new();
            for f in &new_facts {
                if !hop_picks.contains(&f.doc) {
                    hop_picks.push(f.doc);
                }
            }
            if hop_picks.is_empty() {
                // No sentence to condense: the top passage is the hop's pick.
                hop_picks.push(hits[0].hit.doc);
            }
            for d in &hop_picks {
                taken.insert(*d);
                let score = hits
                    .iter()
                    .find(|h| h.hit.doc == *d)
                    .map_or(0.0, |h| h.hit.score);
                picks.push((*d, score));
            }
            traces.push(HopTrace {
                query: query.clone(),
                retrieved: hits.iter().map(|h| h.hit.id.clone()).collect(),
                picks: hop_picks.iter().map(|d| self.hit(*d, 0.0).id).collect(),
                facts: new_facts.clone(),
            });
            if new_facts.is_empty() {
                stopped_early = hop + 1 < cfg.hops;
                break;
            }
            facts.extend(new_facts);
            query = hop_query(question, &facts);
        }
        // Picks in hop order, then the rest by rank (later hop first on ties).
        let mut ranking: Vec<Hit> = Vec::new();
        let mut placed: HashSet<DocId> = HashSet::new();
        let n = picks.len() + seen.len();
        for (i, (d, score)) in picks.iter().enumerate() {
            if placed.insert(*d) {
                let mut h = self.hit(*d, *score);
                h.score = (n - i) as f32;
                ranking.push(h);
            }
        }
        seen.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)));
        for (d, _, _) in &seen {
            if placed.insert(*d) {
                let i = ranking.len();
                ranking.push(self.hit(*d, (n - i) as f32));
            }
        }
        ranking.truncate(k);
        Ok(MultiHopResult {
            hops: traces,
            ranking,
            stopped_early,
        })
    }

    /// The best `cfg.facts` sentences (not yet taken) of the hop's top passages.
    fn condense(
        &self,
        query: &str,
        hits: &[crate::FusedSearchHit],
        taken: &[Fact],
        cfg: &MultiHop,
    ) -> Result<Vec<Fact>> {
        // (fact, passage text as the encoder saw it, span of the sentence in it)
        let mut cands: Vec<(Fact, usize, (usize, usize))> = Vec::new();
        // (doc, doc text, byte length of the title inside it)
        let mut passages: Vec<(DocId, String, usize)> = Vec::new();
        for h in hits.iter().take(cfg.condense_passages) {
            let Some(stored) = self.stored(h.hit.doc)? else {
                continue;
            };
            let doc_text = crate::indexer::doc_text(&seine_datasets::Doc {
                id: String::new(),
                title: stored.title.clone(),
                text: stored.text.clone(),
            });
            // Where `text` starts inside doc_text (= "title text", trimmed).
            let full_len = stored.title.len() + 1 + stored.text.len();
            let lead = full_len
                - format!("{} {}", stored.title, stored.text)
                    .trim_start()
                    .len();
            let shift = (stored.title.len() + 1) as isize - lead as isize;
            let p = passages.len();
            for (i, (a, b)) in sentence_spans(&stored.text).into_iter().enumerate() {
                if taken.iter().any(|f| f.doc == h.hit.doc && f.sentence == i) {
                    continue;
                }
                let span = (
                    (a as isize + shift).max(0) as usize,
                    (b as isize + shift).max(0) as usize,
                );
                cands.push((
                    Fact {
                        id: h.hit.id.clone(),
                        doc: h.hit.doc,
                        title: stored.title.clone(),
                        sentence: i,
                        text: stored.text[a..b].to_string(),
                        score: 0.0,
                    },
                    p,
                    span,
                ));
            }
            let title_len = if stored.title.is_empty() {
                0
            } else {
                stored.title.trim().len()
            };
            passages.push((h.hit.doc, doc_text, title_len));
        }
        if cands.is_empty() {
            return Ok(Vec::new());
        }
        let with_title = |f: &Fact| {
            if f.title.is_empty() {
                f.text.clone()
            } else {
                format!("{} | {}", f.title, f.text)
            }
        };
        let scores: Vec<f32> = match cfg.scorer_for(self) {
            FactScorer::Lexical => {
                let q: HashSet<String> = seine_index::lexical::terms(query).into_iter().collect();
                cands
                    .iter()
                    .map(|(f, _, _)| {
                        let terms = seine_index::lexical::terms(&with_title(f));
                        let distinct: HashSet<&String> = terms.iter().collect();
                        let hits = distinct.iter().filter(|t| q.contains(**t)).count();
                        hits as f32 / (1.0 + (terms.len().max(1) as f32).ln())
                    })
                    .collect()
            }
            FactScorer::Dense => {
                let enc = self
                    .dense()
                    .ok_or_else(|| {
                        Error::InvalidArgument(
                            "the dense fact scorer needs a dense encoder (index with --dense)"
                                .into(),
                        )
                    })?
                    .encoder();
                let texts: Vec<String> = cands.iter().map(|(f, _, _)| with_title(f)).collect();
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let q = enc.encode(&[query], Side::Query)?;
                let s = enc.encode(&refs, Side::Document)?;
                s.rows().map(|r| seine_kernels::dot(q.row(0), r)).collect()
            }
            FactScorer::MaxSim => {
                let enc = self.multi_encoder().ok_or_else(|| {
                    Error::InvalidArgument(
                        "the maxsim fact scorer needs token vectors (index with --multi)".into(),
                    )
                })?;
                let dim = enc.dim();
                let q = enc.encode(&[query], Side::Query)?.remove(0);
                let lq = (q.len() / dim).max(1);
                let mut maxima = vec![0f32; lq];
                let mut score_rows = |rows: &[f32]| {
                    seine_kernels::token_maxima(
                        &q,
                        dim,
                        seine_kernels::Tokens::F32(rows),
                        &mut maxima,
                    );
                    maxima.iter().sum::<f32>() / lq as f32
                };
                // Each passage's stored token vectors with their spans.
                let mut per_passage: Vec<Option<PassageTokens>> = Vec::new();
                for (doc, text, _) in &passages {
                    let spans = enc.doc_token_spans(text)?;
                    let tokens = self.doc_tokens(*doc);
                    per_passage.push(match (tokens, spans) {
                        (Some(t), Some(s)) if t.len() == s.len() * dim => Some((t, s)),
                        _ => None,
                    });
                }
                let mut scores = vec![f32::NAN; cands.len()];
                let mut rows = Vec::new();
                for (i, (_, p, (a, b))) in cands.iter().enumerate() {
                    let Some((t, spans)) = &per_passage[*p] else {
                        continue;
                    };
                    rows.clear();
                    let title_len = passages[*p].2;
                    // The sentence's tokens and the title's (as `title | sentence`).
                    for (j, (x, y)) in spans.iter().enumerate() {
                        if x < y && ((*x >= *a && *y <= *b) || *y <= title_len) {
                            rows.extend_from_slice(&t[j * dim..(j + 1) * dim]);
                        }
                    }
                    if !rows.is_empty() {
                        scores[i] = score_rows(&rows);
                    }
                }
                // Sentences without stored tokens: encode them on their own.
                let missing: Vec<usize> =
                    (0..cands.len()).filter(|i| scores[*i].is_nan()).collect();
                if !missing.is_empty() {
                    let texts: Vec<String> =
                        missing.iter().map(|i| with_title(&cands[*i].0)).collect();
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    for (i, t) in missing.iter().zip(enc.encode(&refs, Side::Document)?) {
                        scores[*i] = if t.is_empty() { 0.0 } else { score_rows(&t) };
                    }
                }
                scores
            }
        };
        let mut facts: Vec<Fact> = cands
            .into_iter()
            .zip(scores)
            .map(|((mut f, _, _), s)| {
                f.score = s;
                f
            })
            .collect();
        facts.sort_by(|a, b| {
            seine_index::score_order(a.score, b.score)
                .then(a.doc.cmp(&b.doc))
                .then(a.sentence.cmp(&b.sentence))
        });
        facts.truncate(cfg.facts);
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_on_boundaries_not_abbreviations() {
        let t = "Gerry Shamray is an American comic book artist. He illustrated many issues of \"American Splendor\", Harvey Pekar's autobiographical comics. In an introduction, R. Crumb stated that Dr. Smith lived in the U.S. Army base. Was it 1950? Yes.";
        let s = split_sentences(t);
        assert_eq!(
            s,
            vec![
                "Gerry Shamray is an American comic book artist.",
                "He illustrated many issues of \"American Splendor\", Harvey Pekar's autobiographical comics.",
                "In an introduction, R. Crumb stated that Dr. Smith lived in the U.S. Army base.",
                "Was it 1950?",
                "Yes.",
            ]
        );
        assert_eq!(split_sentences("  "), Vec::<String>::new());
        // Multi-byte whitespace before an abbreviation.
        assert_eq!(
            split_sentences("Based on the\u{a0}U.S. model. Sold in 2000."),
            vec!["Based on the\u{a0}U.S. model.", "Sold in 2000."]
        );
        assert_eq!(split_sentences("no period"), vec!["no period"]);
        assert_eq!(
            split_sentences("He said \"stop.\" Then he left."),
            vec!["He said \"stop.\"", "Then he left."]
        );
    }

    #[test]
    fn next_query_carries_titles_and_facts() {
        let f = Fact {
            id: "X-Large".into(),
            doc: 3,
            title: "X-Large".into(),
            sentence: 2,
            text: "It has stores in Japan.".into(),
            score: 1.0,
        };
        assert_eq!(
            hop_query(" Where? ", &[f]),
            "Where? [SEP] X-Large | It has stores in Japan."
        );
    }
}
