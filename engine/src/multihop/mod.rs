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

mod condense;
pub(crate) mod links;
mod sentences;

pub use sentences::{sentence_spans, split_sentences};

use std::collections::HashSet;

use seine_index::DocId;
use serde::Serialize;

use crate::fusion::Fusion;
pub use crate::settings::MAX_HOPS;
use crate::settings::{
    DEFAULT_CONDENSE_PASSAGES, DEFAULT_FACTS, DEFAULT_HOP_DEPTH, DEFAULT_HOPS, DEFAULT_LINKS,
    QueryParams, RerankKind, RetrieverSet, SearchRequest,
};
use crate::{Error, Hit, Reader, Rerank, Result};

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
    pub fn best_for(searcher: &Reader) -> FactScorer {
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
    /// Hops (1..=[`MAX_HOPS`]).
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
    /// A metadata filter every hop searches within.
    pub filter: Option<seine_index::filter::Filter>,
    /// Retriever parameters of every hop (BM25, HNSW, PLAID).
    pub params: QueryParams,
    /// Passages the previous hop's picks (and, after the first hop, the passages the
    /// question names) name by title ([`links`]), put first in a later hop's
    /// candidates: at most this many (0: none).
    pub links: usize,
    /// The first hop's passages titled with an entity the question names lead the
    /// final ranking (in the first hop's order): a question about named entities
    /// (a comparison) keeps them at the top whatever later hops add.
    pub named_first: bool,
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
            filter: None,
            params: QueryParams::default(),
            links: DEFAULT_LINKS,
            named_first: true,
        }
    }
}

impl MultiHop {
    /// The later hops' default rerank: FLIPR (top `flipr_k` query-token maxima; their
    /// queries carry facts) at the first hop's rerank depth, when the first hop
    /// reranks. The CLI, the server and Python all take it from here.
    pub fn default_later_rerank(first: Option<Rerank>, flipr_k: usize) -> Option<Rerank> {
        first.map(|r| Rerank::new(RerankKind::Flipr, r.depth, flipr_k.max(1)))
    }

    /// The search one hop runs: this loop's retrievers, fusion, parameters and filter,
    /// with `rerank`, for `k` hits.
    pub fn hop_request(&self, rerank: Option<Rerank>, k: usize) -> SearchRequest {
        SearchRequest {
            retrievers: self.retriever.clone(),
            k,
            fusion: self.fusion.clone(),
            rerank,
            params: self.params,
            filter: self.filter.clone(),
        }
    }

    /// The condenser's scorer on `searcher`'s index.
    pub fn scorer_for(&self, searcher: &Reader) -> FactScorer {
        self.scorer
            .unwrap_or_else(|| FactScorer::best_for(searcher))
    }

    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_HOPS).contains(&self.hops) {
            return Err(Error::InvalidArgument(format!(
                "hops must be within 1..={MAX_HOPS}, got {}",
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

impl Reader {
    /// Multi-hop retrieval of `question`: the chain and a ranking of `k` passages.
    pub fn search_multihop(
        &self,
        question: &str,
        k: usize,
        cfg: &MultiHop,
    ) -> Result<MultiHopResult> {
        cfg.validate()?;
        self.check(&cfg.hop_request(cfg.rerank, cfg.depth))?;
        let mut taken: HashSet<DocId> = HashSet::new();
        let mut picks: Vec<(DocId, f32)> = Vec::new();
        let mut facts: Vec<Fact> = Vec::new();
        let mut traces = Vec::new();
        // (doc, rank in its hop, hop) of every candidate seen.
        let mut seen: Vec<(DocId, usize, usize)> = Vec::new();
        let mut stopped_early = false;
        let mut query = question.trim().to_string();
        let mut last_picks: Vec<DocId> = Vec::new();
        // The first hop's passages whose titles the question names.
        let mut named: Vec<DocId> = Vec::new();
        for hop in 0..cfg.hops {
            let rerank = if hop == 0 {
                cfg.rerank
            } else {
                cfg.rerank_later
            };
            let want = cfg.depth + taken.len();
            let mut hits: Vec<_> = self
                .search_fused(&query, &cfg.hop_request(rerank, want))?
                .into_iter()
                .filter(|h| !taken.contains(&h.hit.doc))
                .take(cfg.depth)
                .collect();
            if hop > 0 && cfg.links > 0 {
                hits = self.with_links(hits, &query, &last_picks, &facts, &taken, cfg)?;
            }
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
            last_picks = hop_picks.clone();
            if hop == 0 && (cfg.links > 0 || cfg.named_first) {
                let top: Vec<DocId> = hits.iter().map(|h| h.hit.doc).collect();
                named = self.question_names(question, &top)?;
            }
            if hop == 0 && cfg.links > 0 {
                // The passages the question names link too (a comparison of two named
                // entities needs both entities' links).
                for d in &named {
                    if !last_picks.contains(d) {
                        last_picks.push(*d);
                    }
                }
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
        // The question's named passages of the first hop, then the chain: picks in hop
        // order, then the rest by rank (later hop first on ties).
        let mut order: Vec<DocId> = if cfg.named_first { named } else { Vec::new() };
        order.extend(picks.iter().map(|p| p.0));
        seen.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)));
        order.extend(seen.iter().map(|s| s.0));
        let mut ranking: Vec<Hit> = Vec::new();
        let mut placed: HashSet<DocId> = HashSet::new();
        let n = order.len();
        for d in order {
            if placed.insert(d) {
                let i = ranking.len();
                ranking.push(self.hit(d, (n - i) as f32));
            }
        }
        ranking.truncate(k);
        Ok(MultiHopResult {
            hops: traces,
            ranking,
            stopped_early,
        })
    }
}

impl Reader {
    /// A later hop's candidates with the passages the previous picks name by title
    /// first (scored by this hop's query, within the filter), then the rest.
    fn with_links(
        &self,
        hits: Vec<crate::FusedSearchHit>,
        query: &str,
        picks: &[DocId],
        facts: &[Fact],
        taken: &HashSet<DocId>,
        cfg: &MultiHop,
    ) -> Result<Vec<crate::FusedSearchHit>> {
        let mut linked = self.title_links(picks, facts, cfg.links, taken)?;
        if let Some(f) = &cfg.filter {
            let allowed = self.allowed(f)?;
            linked.retain(|d| allowed.contains(*d));
        }
        let Some(&max) = linked.iter().max() else {
            return Ok(hits);
        };
        let mut set = seine_index::DocSet::empty(max as usize + 1);
        linked.iter().for_each(|d| set.insert(*d));
        let req = SearchRequest {
            filter: None,
            ..cfg.hop_request(None, linked.len())
        };
        let mut out = self.search_docs(query, &req, &set)?;
        let first: HashSet<DocId> = out.iter().map(|h| h.hit.doc).collect();
        out.extend(hits.into_iter().filter(|h| !first.contains(&h.hit.doc)));
        out.truncate(cfg.depth.max(first.len()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
