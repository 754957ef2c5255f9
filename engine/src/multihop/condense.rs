//! The condenser: the hop's top passages split into sentences, each scored against
//! the hop's query ([`FactScorer`]); the best new ones become the hop's facts.

use std::collections::HashSet;

use seine_index::DocId;

use super::{Fact, FactScorer, MultiHop, sentence_spans};
use crate::{Error, Reader, Result, Side};

/// A passage's stored token vectors and their byte spans in its text.
type PassageTokens = (Vec<f32>, Vec<(usize, usize)>);

/// A candidate fact: the sentence, its passage (index into the hop's passages) and
/// its byte span in the passage's text as the encoder saw it.
type Candidate = (Fact, usize, (usize, usize));

/// A passage the condenser reads: its document, its text as the encoder saw it
/// (`title text`) and the byte length of the title inside it.
type Passage = (DocId, String, usize);

/// `title | sentence`, or the sentence when there is no title.
fn with_title(f: &Fact) -> String {
    if f.title.is_empty() {
        f.text.clone()
    } else {
        format!("{} | {}", f.title, f.text)
    }
}

impl Reader {
    /// The sentences (not yet taken) of the hop's top `cfg.condense_passages`
    /// passages, and those passages.
    fn fact_candidates(
        &self,
        hits: &[crate::FusedSearchHit],
        taken: &[Fact],
        cfg: &MultiHop,
    ) -> Result<(Vec<Candidate>, Vec<Passage>)> {
        let mut cands: Vec<Candidate> = Vec::new();
        let mut passages: Vec<Passage> = Vec::new();
        for h in hits.iter().take(cfg.condense_passages) {
            let Some(stored) = self.stored(h.hit.doc)? else {
                continue;
            };
            // What the encoders saw, and where `text` starts inside it.
            let (doc_text, shift) = crate::encode::join_title_text(&stored.title, &stored.text);
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
        Ok((cands, passages))
    }

    /// Token-level MaxSim of each candidate sentence (with its title) against the
    /// query, from the passages' stored token vectors where they cover it.
    fn maxsim_fact_scores(
        &self,
        query: &str,
        cands: &[Candidate],
        passages: &[Passage],
    ) -> Result<Vec<f32>> {
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
            seine_kernels::token_maxima(&q, dim, seine_kernels::Tokens::F32(rows), &mut maxima);
            maxima.iter().sum::<f32>() / lq as f32
        };
        // Each passage's stored token vectors with their spans.
        let mut per_passage: Vec<Option<PassageTokens>> = Vec::new();
        for (doc, text, _) in passages {
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
        let missing: Vec<usize> = (0..cands.len()).filter(|i| scores[*i].is_nan()).collect();
        if !missing.is_empty() {
            let texts: Vec<String> = missing.iter().map(|i| with_title(&cands[*i].0)).collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            for (i, t) in missing.iter().zip(enc.encode(&refs, Side::Document)?) {
                scores[*i] = if t.is_empty() { 0.0 } else { score_rows(&t) };
            }
        }
        Ok(scores)
    }

    /// The best `cfg.facts` sentences (not yet taken) of the hop's top passages.
    pub(super) fn condense(
        &self,
        query: &str,
        hits: &[crate::FusedSearchHit],
        taken: &[Fact],
        cfg: &MultiHop,
    ) -> Result<Vec<Fact>> {
        let (cands, passages) = self.fact_candidates(hits, taken, cfg)?;
        if cands.is_empty() {
            return Ok(Vec::new());
        }
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
            FactScorer::MaxSim => self.maxsim_fact_scores(query, &cands, &passages)?,
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
