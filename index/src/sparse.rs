//! Learned-sparse (SPLADE) impacts on tantivy.
//!
//! Each document's term weights are quantized to integer impacts,
//! `impact = round(weight × scale)` (default scale 100, as Anserini quantizes SPLADE),
//! and stored as the term frequencies of a dedicated field (`impacts`: frequencies on,
//! positions and field norms off) fed with a pre-tokenized string in which a term with
//! impact `n` occurs `n` times. Terms are the model's vocabulary strings.
//!
//! Search is block-max pruning ([`bmp`]) with a block-max table of seine's own
//! ([`blocks`], `blockmax.bin`, written at commit): exact by default, approximate with a
//! recall knob ([`SparseSearch`]). An index without the table (written before it, or
//! with impacts past 16 bits) is searched exhaustively by [`ImpactQuery`], a tantivy
//! `Query → Weight → Scorer` whose score is the sparse dot product
//! `Σ_t q_t × impact_t / scale` (float query weights, quantized document weights). Its
//! weight scores a segment term-at-a-time in windows of [`WINDOW`] documents (an
//! accumulator that stays in cache), every query term's postings advanced through each
//! window in turn; both paths add the same products in the same order, so they agree
//! bit for bit.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tantivy::postings::Postings;
use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{
    DocSet, Index, IndexReader, ReloadPolicy, SegmentReader, TERMINATED, TantivyDocument, Term,
};

use crate::{DocId, Error, Result, ScoredDoc, sort_hits};

/// Default quantization scale.
pub const DEFAULT_IMPACT_SCALE: f32 = 100.0;

/// How an index's sparse part was made (recorded in the manifest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparseSettings {
    /// The document encoder (a name under models/ or a folder).
    pub model: String,
    /// Where the model was found at build time and the hash of its files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<crate::ModelId>,
    /// A separate query encoder, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_model_id: Option<crate::ModelId>,
    /// `impact = round(weight × scale)`.
    pub scale: f32,
    /// Document pruning: at most this many terms per document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<usize>,
    /// Document pruning: weights at or below this were dropped.
    #[serde(default)]
    pub threshold: f32,
}

impl SparseSettings {
    /// Settings for `model` with the default scale and no pruning.
    pub fn new(model: &str) -> Self {
        SparseSettings {
            model: model.to_string(),
            model_id: None,
            query_model: None,
            query_model_id: None,
            scale: DEFAULT_IMPACT_SCALE,
            top_k: None,
            threshold: 0.0,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.scale.is_finite() && self.scale > 0.0 && self.scale <= 1e4) {
            return Err(Error::InvalidSetting(format!(
                "sparse impact scale must be within (0, 10000], got {}",
                self.scale
            )));
        }
        Ok(())
    }
}

/// Quantizes a weight: `round(w × scale)`, 0 for non-positive or non-finite weights.
pub fn quantize(weight: f32, scale: f32) -> u32 {
    if weight.is_finite() && weight > 0.0 {
        (weight * scale).round().min(u32::MAX as f32) as u32
    } else {
        0
    }
}

fn schema() -> (Schema, Field, Field) {
    let mut b = Schema::builder();
    let doc_id = b.add_u64_field("doc_id", FAST | STORED);
    let impacts = b.add_text_field(
        "impacts",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::WithFreqs)
                .set_fieldnorms(false),
        ),
    );
    (b.build(), doc_id, impacts)
}

/// Writes a new impact index into an empty directory.
pub struct SparseWriter {
    writer: tantivy::IndexWriter,
    doc_id: Field,
    impacts: Field,
    scale: f32,
    dir: std::path::PathBuf,
}

impl SparseWriter {
    pub fn create(dir: &Path, scale: f32, threads: usize, heap_bytes: usize) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let (schema, doc_id, impacts) = schema();
        let index = Index::create_in_dir(dir, schema)?;
        let threads = threads.clamp(1, 8);
        let writer =
            index.writer_with_num_threads(threads, heap_bytes.max(threads * 16_000_000))?;
        Ok(SparseWriter {
            writer,
            doc_id,
            impacts,
            scale,
            dir: dir.to_path_buf(),
        })
    }

    /// Adds a document's (term, weight) pairs; terms quantized to 0 are dropped.
    pub fn add(&mut self, doc_id: DocId, terms: &[(&str, f32)]) -> Result<()> {
        let mut tokens = Vec::new();
        for &(term, w) in terms {
            let n = quantize(w, self.scale);
            for _ in 0..n {
                let position = tokens.len();
                tokens.push(Token {
                    offset_from: 0,
                    offset_to: 0,
                    position,
                    text: term.to_string(),
                    position_length: 1,
                });
            }
        }
        let mut d = TantivyDocument::default();
        d.add_u64(self.doc_id, u64::from(doc_id));
        d.add_pre_tokenized_text(
            self.impacts,
            PreTokenizedString {
                text: String::new(),
                tokens,
            },
        );
        self.writer.add_document(d)?;
        Ok(())
    }

    /// Commits the postings, then writes the block-max table read back from the final
    /// segments ([`blocks`]); the files are synced to disk.
    pub fn commit(mut self) -> Result<()> {
        self.writer.commit()?;
        let index = self.writer.index().clone();
        self.writer.wait_merging_threads()?;
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        if let Some(table) = blocks::ImpactBlocks::compute(&searcher, self.impacts)? {
            table.write(&self.dir)?;
        }
        Ok(())
    }
}

/// A query's terms in byte order, repeated terms' weights added up, terms whose weight
/// is 0 or not finite dropped: the one clause list of both search paths.
fn merge_terms(terms: &[(&str, f32)]) -> Vec<(String, f32)> {
    let mut merged: Vec<(String, f32)> = terms.iter().map(|&(t, w)| (t.to_string(), w)).collect();
    merged.sort_by(|a, b| a.0.cmp(&b.0));
    merged.dedup_by(|b, a| {
        if a.0 == b.0 {
            a.1 += b.1;
            true
        } else {
            false
        }
    });
    merged.retain(|(_, w)| *w != 0.0 && w.is_finite());
    merged
}

/// Documents per window of the term-at-a-time accumulator (256 KiB of scores).
pub const WINDOW: u32 = 1 << 16;

/// Sparse dot product of float query weights with a field's quantized impacts.
#[derive(Debug, Clone)]
pub struct ImpactQuery {
    terms: Vec<(Term, f32)>,
    scale: f32,
    window: u32,
}

impl ImpactQuery {
    /// `terms`: (term, query weight) in `field`; repeated terms add up.
    pub fn new(field: Field, terms: &[(&str, f32)], scale: f32) -> Self {
        ImpactQuery {
            terms: merge_terms(terms)
                .into_iter()
                .map(|(t, w)| (Term::from_field_text(field, &t), w))
                .collect(),
            scale,
            window: WINDOW,
        }
    }

    /// The same query scored in windows of `window` documents.
    pub fn with_window(mut self, window: u32) -> Self {
        self.window = window.max(1);
        self
    }
}

impl Query for ImpactQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ImpactWeight {
            window: self.window,
            terms: self
                .terms
                .iter()
                .map(|(t, w)| (t.clone(), w / self.scale))
                .collect(),
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for (t, _) in &self.terms {
            visitor(t, false);
        }
    }
}

struct ImpactWeight {
    window: u32,
    /// (term, query weight / scale).
    terms: Vec<(Term, f32)>,
}

impl Weight for ImpactWeight {
    fn scorer(&self, reader: &SegmentReader, boost: f32) -> tantivy::Result<Box<dyn Scorer>> {
        let mut lists = Vec::with_capacity(self.terms.len());
        for (term, w) in &self.terms {
            let inverted = reader.inverted_index(term.field())?;
            if let Some(p) = inverted.read_postings(term, IndexRecordOption::WithFreqs)? {
                lists.push((p, w * boost));
            }
        }
        let max_doc = reader.max_doc();
        let mut acc = vec![0f32; self.window.min(max_doc) as usize];
        let mut hit = vec![false; acc.len()];
        let mut docs: Vec<(u32, f32)> = Vec::new();
        let mut lo = 0u32;
        while lo < max_doc {
            let hi = lo.saturating_add(self.window).min(max_doc);
            for (postings, w) in lists.iter_mut() {
                let mut doc = postings.doc();
                while doc < hi {
                    acc[(doc - lo) as usize] += *w * postings.term_freq() as f32;
                    hit[(doc - lo) as usize] = true;
                    doc = postings.advance();
                }
            }
            for i in 0..(hi - lo) as usize {
                if hit[i] {
                    docs.push((lo + i as u32, acc[i]));
                    (acc[i], hit[i]) = (0.0, false);
                }
            }
            lo = hi;
        }
        Ok(Box::new(AccScorer { docs, pos: 0 }))
    }

    fn explain(&self, reader: &SegmentReader, doc: u32) -> tantivy::Result<Explanation> {
        let mut parts = Vec::new();
        let mut total = 0f32;
        for (term, w) in &self.terms {
            let inverted = reader.inverted_index(term.field())?;
            if let Some(mut p) = inverted.read_postings(term, IndexRecordOption::WithFreqs)?
                && seek_to(&mut p, doc)
            {
                let tf = p.term_freq();
                total += w * tf as f32;
                parts.push((term.value().as_str().unwrap_or("?").to_string(), *w, tf));
            }
        }
        if parts.is_empty() {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        let mut e = Explanation::new("sparse dot product Σ q_t × impact_t / scale", total);
        for (t, w, tf) in parts {
            e.add_detail(Explanation::new_with_string(
                format!("{t}: query weight / scale {w} × impact {tf}"),
                w * tf as f32,
            ));
        }
        Ok(e)
    }
}

/// Moves postings to `doc`; false when the term is not in it.
fn seek_to(p: &mut tantivy::postings::SegmentPostings, doc: u32) -> bool {
    // tantivy's seek needs a target at or past the current document.
    p.doc() == doc || (p.doc() < doc && p.seek(doc) == doc)
}

/// Iterates precomputed (doc, score) pairs in doc order.
struct AccScorer {
    docs: Vec<(u32, f32)>,
    pos: usize,
}

impl DocSet for AccScorer {
    fn advance(&mut self) -> u32 {
        self.pos += 1;
        self.doc()
    }

    fn seek(&mut self, target: u32) -> u32 {
        if self.doc() >= target {
            return self.doc();
        }
        self.pos += self.docs[self.pos..].partition_point(|d| d.0 < target);
        self.doc()
    }

    fn doc(&self) -> u32 {
        self.docs.get(self.pos).map_or(TERMINATED, |d| d.0)
    }

    fn size_hint(&self) -> u32 {
        (self.docs.len() - self.pos.min(self.docs.len())) as u32
    }
}

impl Scorer for AccScorer {
    fn score(&mut self) -> f32 {
        self.docs[self.pos].1
    }
}

/// A searchable impact index.
pub struct SparseIndex {
    reader: IndexReader,
    impacts: Field,
    scale: f32,
    seg_doc_ids: Vec<Vec<DocId>>,
    blocks: Option<blocks::ImpactBlocks>,
}

/// Every segment's `doc_id` column: `[segment][local] → DocId`.
fn seg_doc_ids(searcher: &tantivy::Searcher) -> Result<Vec<Vec<DocId>>> {
    let mut out = Vec::new();
    for seg in searcher.segment_readers() {
        let col = seg.fast_fields().u64("doc_id")?;
        let ids = (0..seg.max_doc())
            .map(|d| col.first(d).map(|v| v as DocId))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::Internal("sparse document without doc_id".into()))?;
        out.push(ids);
    }
    Ok(out)
}

/// How a search scans the impacts (the pruned default, or the exhaustive accumulator
/// that benchmarks and tests compare it with).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SparseScan {
    /// Block-max pruning, exact or approximate (the accumulator when the index has no
    /// block forward index).
    Blocks(SparseSearch),
    /// Term-at-a-time over every posting in windows of this many documents (tantivy's
    /// top-k collector); [`WINDOW`] is the default, `u32::MAX` one window per segment
    /// (the layout before windows, for benchmarks).
    Accumulator(u32),
}

impl SparseScan {
    /// The exhaustive scan as the index without a table runs it.
    pub const EXHAUSTIVE: SparseScan = SparseScan::Accumulator(WINDOW);
}

impl SparseIndex {
    pub fn open(dir: &Path, settings: &SparseSettings) -> Result<Self> {
        let index = Index::open_in_dir(dir)?;
        let impacts = index
            .schema()
            .get_field("impacts")
            .map_err(|_| Error::NotAnIndex {
                path: dir.to_path_buf(),
                message: "no impacts field".into(),
            })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let seg_doc_ids = seg_doc_ids(&searcher)?;
        let blocks = blocks::ImpactBlocks::read(dir)?.filter(|t| t.covers(&searcher));
        Ok(SparseIndex {
            reader,
            impacts,
            scale: settings.scale,
            seg_doc_ids,
            blocks,
        })
    }

    /// True when the block-max table is there (search is pruned).
    pub fn has_blocks(&self) -> bool {
        self.blocks.is_some()
    }

    pub fn scale(&self) -> f32 {
        self.scale
    }

    pub fn query(&self, terms: &[(&str, f32)]) -> ImpactQuery {
        ImpactQuery::new(self.impacts, terms, self.scale)
    }

    /// Top `k` documents by sparse dot product with the query's (term, weight) pairs
    /// (exact).
    pub fn search(&self, terms: &[(&str, f32)], k: usize) -> Result<Vec<ScoredDoc>> {
        self.search_within(terms, k, None, SparseSearch::Exact)
    }

    /// [`SparseIndex::search`] among the `allowed` documents (all when `None`), the
    /// filter applied inside the scan, exact or approximate as `mode` says.
    pub fn search_within(
        &self,
        terms: &[(&str, f32)],
        k: usize,
        allowed: Option<&crate::DocSet>,
        mode: SparseSearch,
    ) -> Result<Vec<ScoredDoc>> {
        Ok(self
            .search_scan(terms, k, allowed, SparseScan::Blocks(mode))?
            .0)
    }

    /// The top `k` through `scan`, with what the block traversal counted (zeros for
    /// the accumulator).
    pub fn search_scan(
        &self,
        terms: &[(&str, f32)],
        k: usize,
        allowed: Option<&crate::DocSet>,
        scan: SparseScan,
    ) -> Result<(Vec<ScoredDoc>, BlockStats)> {
        if k == 0 || terms.is_empty() {
            return Ok((Vec::new(), BlockStats::default()));
        }
        if let (SparseScan::Blocks(mode), Some(table)) = (scan, &self.blocks) {
            mode.validate()?;
            let mut query: Vec<(String, f32)> = merge_terms(terms)
                .into_iter()
                .map(|(t, w)| (t, w / self.scale))
                .collect();
            let cut = mode.query_cut();
            if cut > 0 && query.len() > cut {
                // The heaviest terms, back in byte order.
                query.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
                query.truncate(cut);
                query.sort_by(|a, b| a.0.cmp(&b.0));
            }
            let searcher = self.reader.searcher();
            return table.top_k(
                &searcher,
                self.impacts,
                &query,
                k,
                allowed,
                &self.seg_doc_ids,
                mode,
            );
        }
        let window = match scan {
            SparseScan::Accumulator(w) => w.max(1),
            SparseScan::Blocks(_) => WINDOW,
        };
        Ok((
            self.accumulate(terms, k, allowed, window)?,
            BlockStats::default(),
        ))
    }

    fn accumulate(
        &self,
        terms: &[(&str, f32)],
        k: usize,
        allowed: Option<&crate::DocSet>,
        window: u32,
    ) -> Result<Vec<ScoredDoc>> {
        let searcher = self.reader.searcher();
        let top = crate::filter::docset::collect_top(
            &searcher,
            &self.query(terms).with_window(window),
            k,
            allowed,
        )?;
        let mut hits: Vec<ScoredDoc> = top
            .into_iter()
            .map(|(s, a)| {
                ScoredDoc::new(
                    self.seg_doc_ids[a.segment_ord as usize][a.doc_id as usize],
                    s,
                )
            })
            .collect();
        sort_hits(&mut hits);
        Ok(hits)
    }

    /// Per-term contributions to a document's score: (term, query weight, impact).
    pub fn explain(&self, terms: &[(&str, f32)], doc: DocId) -> Result<Vec<(String, f32, u32)>> {
        let searcher = self.reader.searcher();
        let Some((seg, local)) = self
            .seg_doc_ids
            .iter()
            .enumerate()
            .find_map(|(s, ids)| ids.iter().position(|&d| d == doc).map(|l| (s, l as u32)))
        else {
            return Ok(Vec::new());
        };
        let reader = searcher.segment_reader(seg as u32);
        let inverted = reader.inverted_index(self.impacts)?;
        let mut out = Vec::new();
        for &(t, w) in terms {
            let term = Term::from_field_text(self.impacts, t);
            if let Some(mut p) = inverted
                .read_postings(&term, IndexRecordOption::WithFreqs)
                .map_err(|e| Error::Internal(format!("reading postings: {e}")))?
                && seek_to(&mut p, local)
            {
                out.push((t.to_string(), w, p.term_freq()));
            }
        }
        Ok(out)
    }
}

pub mod blocks;
mod bmp;
mod forward;
pub use bmp::{BlockStats, DEFAULT_APPROX_ALPHA, SparseSearch};
pub use forward::Forward;

#[cfg(test)]
mod tests;
