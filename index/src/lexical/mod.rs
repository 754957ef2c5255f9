//! The lexical inverted index (tantivy) with Lucene-equivalent English analysis and
//! BM25 with configurable `k1`/`b`.
//!
//! Two layouts, as Pyserini's BEIR baselines: `flat` indexes title and text as one
//! field (`contents`); `multifield` indexes `title` and `text` separately and a query
//! scores both fields with equal weight (the sum of the two BM25 scores).

mod analyzer;
pub mod blockmax;
mod bm25;
pub mod porter;
mod pruned;

use std::collections::BTreeMap;
use std::path::Path;

use seine_datasets::Doc;
use tantivy::query::{BooleanQuery, Occur, Query};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

pub use analyzer::{ANALYZER_NAME, EnglishTokenizer, LUCENE_ENGLISH_STOP_WORDS, analyze, terms};
pub use bm25::{Bm25Params, Bm25TermQuery, idf};

use crate::{DocId, Error, Result, ScoredDoc, sort_hits};

/// Which fields BM25 indexes and searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bm25Mode {
    /// Title and text concatenated into one field (Pyserini "flat").
    #[default]
    Flat,
    /// Title and text as separate fields, equal weights (Pyserini "multifield").
    Multifield,
}

impl std::fmt::Display for Bm25Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bm25Mode::Flat => "flat",
            Bm25Mode::Multifield => "multifield",
        })
    }
}

impl std::str::FromStr for Bm25Mode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "flat" => Ok(Bm25Mode::Flat),
            "multifield" => Ok(Bm25Mode::Multifield),
            _ => Err(Error::InvalidSetting(format!(
                "unknown bm25 mode {s:?} (expected flat or multifield)"
            ))),
        }
    }
}

/// How a BM25 search walks the postings ([`LexicalIndex::search_mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// MaxScore with block-max bounds (the default).
    Pruned,
    /// MaxScore with per-term bounds only (no block-max table).
    TermBounds,
    /// Every posting of every query term, document at a time (the oracle).
    Exhaustive,
    /// tantivy's `BooleanQuery` of seine's term scorers (the path before pruning).
    Tantivy,
}

/// The tantivy fields of a lexical index.
#[derive(Debug, Clone)]
struct Fields {
    id: Field,
    doc_id: Field,
    title: Field,
    text: Field,
    /// The fields BM25 searches.
    searched: Vec<Field>,
    /// The flat field (`flat` mode only).
    contents: Option<Field>,
}

fn schema(mode: Bm25Mode) -> (Schema, Fields) {
    let mut b = Schema::builder();
    let analyzed = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER_NAME)
            .set_index_option(IndexRecordOption::WithFreqs)
            .set_fieldnorms(true),
    );
    let id = b.add_text_field("id", STRING | STORED);
    let doc_id = b.add_u64_field("doc_id", FAST | STORED);
    let (title, text, contents, searched) = match mode {
        Bm25Mode::Flat => {
            let title = b.add_text_field("title", STORED);
            let text = b.add_text_field("text", STORED);
            let contents = b.add_text_field("contents", analyzed);
            (title, text, Some(contents), vec![contents])
        }
        Bm25Mode::Multifield => {
            let title = b.add_text_field("title", analyzed.clone() | STORED);
            let text = b.add_text_field("text", analyzed | STORED);
            (title, text, None, vec![title, text])
        }
    };
    (
        b.build(),
        Fields {
            id,
            doc_id,
            title,
            text,
            searched,
            contents,
        },
    )
}

fn register(index: &Index) {
    index
        .tokenizers()
        .register(ANALYZER_NAME, TextAnalyzer::from(EnglishTokenizer));
}

/// Writes a new lexical index into an empty directory.
pub struct LexicalWriter {
    writer: tantivy::IndexWriter,
    fields: Fields,
    dir: std::path::PathBuf,
}

impl LexicalWriter {
    /// `threads` indexing threads sharing `heap_bytes` of buffer.
    pub fn create(dir: &Path, mode: Bm25Mode, threads: usize, heap_bytes: usize) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let (schema, fields) = schema(mode);
        let index = Index::create_in_dir(dir, schema)?;
        register(&index);
        let threads = threads.clamp(1, 8);
        let heap = heap_bytes.max(threads * 16_000_000);
        let writer = index.writer_with_num_threads(threads, heap)?;
        Ok(LexicalWriter {
            writer,
            fields,
            dir: dir.to_path_buf(),
        })
    }

    pub fn add(&mut self, doc_id: DocId, doc: &Doc) -> Result<()> {
        let f = &self.fields;
        let mut d = TantivyDocument::default();
        d.add_text(f.id, &doc.id);
        d.add_u64(f.doc_id, u64::from(doc_id));
        d.add_text(f.title, &doc.title);
        d.add_text(f.text, &doc.text);
        if let Some(contents) = f.contents {
            if doc.title.is_empty() {
                d.add_text(contents, &doc.text);
            } else {
                d.add_text(contents, format!("{} {}", doc.title, doc.text));
            }
        }
        self.writer.add_document(d)?;
        Ok(())
    }

    /// Commits and waits for background merges, then writes the block-max table of
    /// the final segments ([`blockmax`]); the files are synced to disk.
    pub fn commit(mut self) -> Result<()> {
        self.writer.commit()?;
        self.writer.wait_merging_threads()?;
        let index = Index::open_in_dir(&self.dir)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        blockmax::BlockMax::compute(&reader.searcher(), &self.fields.searched)?.write(&self.dir)?;
        Ok(())
    }
}

/// A document's stored fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDoc {
    pub id: String,
    pub title: String,
    pub text: String,
}

/// An open lexical index, ready to search.
pub struct LexicalIndex {
    reader: IndexReader,
    fields: Fields,
    mode: Bm25Mode,
    params: Bm25Params,
    /// Per segment: segment-local doc → [`DocId`].
    seg_doc_ids: Vec<Vec<DocId>>,
    /// [`DocId`] → address (for stored fields).
    addresses: Vec<DocAddress>,
    /// Block maxima for pruning (None: an index written before them, or one whose
    /// segments they do not match — then only per-term bounds prune).
    block_max: Option<blockmax::BlockMax>,
}

impl LexicalIndex {
    pub fn open(dir: &Path, mode: Bm25Mode, params: Bm25Params) -> Result<Self> {
        params.validate()?;
        let index = Index::open_in_dir(dir)?;
        register(&index);
        let (expected, fields) = schema(mode);
        if index.schema() != expected {
            return Err(Error::NotAnIndex {
                path: dir.to_path_buf(),
                message: format!("lexical index schema does not match bm25 mode {mode}"),
            });
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let mut seg_doc_ids = Vec::new();
        let total = searcher.num_docs() as usize;
        let mut addresses = vec![DocAddress::new(u32::MAX, 0); total];
        for (ord, seg) in searcher.segment_readers().iter().enumerate() {
            let col = seg.fast_fields().u64("doc_id")?;
            let mut ids = Vec::with_capacity(seg.max_doc() as usize);
            for local in 0..seg.max_doc() {
                let id = col.first(local).ok_or_else(|| {
                    Error::Internal(format!("document without doc_id in segment {ord}"))
                })? as DocId;
                let slot = addresses.get_mut(id as usize).ok_or_else(|| {
                    Error::Internal(format!("doc_id {id} out of range ({total} documents)"))
                })?;
                *slot = DocAddress::new(ord as u32, local);
                ids.push(id);
            }
            seg_doc_ids.push(ids);
        }
        let block_max =
            blockmax::BlockMax::read(dir)?.filter(|t| t.covers(&searcher, &fields.searched));
        Ok(LexicalIndex {
            reader,
            fields,
            mode,
            params,
            seg_doc_ids,
            addresses,
            block_max,
        })
    }

    pub fn mode(&self) -> Bm25Mode {
        self.mode
    }

    pub fn params(&self) -> Bm25Params {
        self.params
    }

    pub fn num_docs(&self) -> usize {
        self.addresses.len()
    }

    /// The clauses of the BM25 query for `text`: one per searched field and distinct
    /// analyzed term (fields outer, terms in order), weighted by the term's count in
    /// the query. Empty when nothing is left after analysis (only stop words,
    /// punctuation).
    fn clauses(&self, text: &str) -> Vec<pruned::Clause> {
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        analyze(text, |t, _, _, _| {
            *counts.entry(t.to_string()).or_default() += 1
        });
        let mut out = Vec::new();
        for field in &self.fields.searched {
            for (term, n) in &counts {
                out.push(pruned::Clause {
                    field: *field,
                    term: Term::from_field_text(*field, term),
                    weight: *n as f32,
                });
            }
        }
        out
    }

    /// The BM25 query for `text` as a tantivy query (a `BooleanQuery` of
    /// [`Bm25TermQuery`] clauses, [`LexicalIndex::clauses`]); `None` when nothing is
    /// left after analysis. Explanations and the exhaustive reference use it.
    pub fn query(&self, text: &str, params: Bm25Params) -> Option<Box<dyn Query>> {
        let clauses: Vec<(Occur, Box<dyn Query>)> = self
            .clauses(text)
            .into_iter()
            .map(|c| {
                let q: Box<dyn Query> = Box::new(Bm25TermQuery::new(c.term, params, c.weight));
                (Occur::Should, q)
            })
            .collect();
        (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
    }

    /// The top `k` documents for `text` by BM25 with the index's parameters.
    pub fn search(&self, text: &str, k: usize) -> Result<Vec<ScoredDoc>> {
        self.search_with(text, k, self.params)
    }

    /// The top `k` documents for `text` by BM25 with the given parameters.
    pub fn search_with(&self, text: &str, k: usize, params: Bm25Params) -> Result<Vec<ScoredDoc>> {
        self.search_within(text, k, params, None)
    }

    /// The top `k` documents for `text` among the `allowed` ones (all when `None`):
    /// the filter is applied inside the collection, so `k` allowed documents come back
    /// whenever that many match. Exact dynamic pruning (MaxScore with block-max
    /// bounds): the same top `k` as scoring every posting.
    pub fn search_within(
        &self,
        text: &str,
        k: usize,
        params: Bm25Params,
        allowed: Option<&crate::DocSet>,
    ) -> Result<Vec<ScoredDoc>> {
        self.search_mode(text, k, params, allowed, Scan::Pruned)
    }

    /// [`LexicalIndex::search_within`] computed as `scan` says: the oracles the pruned
    /// search is tested and measured against.
    pub fn search_mode(
        &self,
        text: &str,
        k: usize,
        params: Bm25Params,
        allowed: Option<&crate::DocSet>,
        scan: Scan,
    ) -> Result<Vec<ScoredDoc>> {
        params.validate()?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        if scan == Scan::Tantivy {
            let Some(query) = self.query(text, params) else {
                return Ok(Vec::new());
            };
            let top = crate::filter::docset::collect_top(&searcher, &*query, k, allowed)?;
            let mut hits: Vec<ScoredDoc> = top
                .into_iter()
                .map(|(score, addr)| {
                    ScoredDoc::new(
                        self.seg_doc_ids[addr.segment_ord as usize][addr.doc_id as usize],
                        score,
                    )
                })
                .collect();
            sort_hits(&mut hits);
            return Ok(hits);
        }
        let table = match scan {
            Scan::Pruned => self.block_max.as_ref(),
            _ => None,
        };
        pruned::top_k(
            &searcher,
            &self.clauses(text),
            params,
            k,
            allowed,
            &self.seg_doc_ids,
            table,
            scan != Scan::Exhaustive,
        )
    }

    /// Whether this index has its block-max table (else only per-term bounds prune).
    pub fn has_block_max(&self) -> bool {
        self.block_max.is_some()
    }

    /// Stored fields of a document.
    pub fn stored(&self, doc: DocId) -> Result<Option<StoredDoc>> {
        let Some(addr) = self.addresses.get(doc as usize) else {
            return Ok(None);
        };
        let d: TantivyDocument = self.reader.searcher().doc(*addr)?;
        let get = |f: Field| {
            d.get_first(f)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        Ok(Some(StoredDoc {
            id: get(self.fields.id),
            title: get(self.fields.title),
            text: get(self.fields.text),
        }))
    }
}

/// A document's analyzed terms per searched field (term counts, length), for scoring
/// a document that is not in the index with the index's statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LexDoc {
    fields: Vec<(std::collections::HashMap<String, u32>, u32)>,
}

impl LexicalIndex {
    /// `doc` analyzed as the writer would index it.
    pub fn analyze_doc(&self, doc: &Doc) -> LexDoc {
        let texts: Vec<String> = match self.mode {
            Bm25Mode::Flat if doc.title.is_empty() => vec![doc.text.clone()],
            Bm25Mode::Flat => vec![format!("{} {}", doc.title, doc.text)],
            Bm25Mode::Multifield => vec![doc.title.clone(), doc.text.clone()],
        };
        LexDoc {
            fields: texts
                .iter()
                .map(|t| {
                    let mut counts = std::collections::HashMap::new();
                    let mut len = 0u32;
                    analyze(t, |term, _, _, _| {
                        *counts.entry(term.to_string()).or_insert(0u32) += 1;
                        len += 1;
                    });
                    (counts, len)
                })
                .collect(),
        }
    }

    /// BM25 scores of documents outside the index for `text`, with the index's
    /// statistics (document count, document frequencies, average length) and the
    /// same length quantization as indexed documents: the score such a document
    /// would get in this index if the statistics did not move.
    pub fn score_outside(
        &self,
        text: &str,
        params: Bm25Params,
        docs: &[&LexDoc],
    ) -> Result<Vec<f32>> {
        params.validate()?;
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        analyze(text, |t, _, _, _| {
            *counts.entry(t.to_string()).or_default() += 1
        });
        let mut scores = vec![0f32; docs.len()];
        if counts.is_empty() || docs.is_empty() {
            return Ok(scores);
        }
        let searcher = self.reader.searcher();
        for (fi, field) in self.fields.searched.iter().enumerate() {
            let (avgdl, doc_count) = bm25::field_stats(&searcher, *field)?;
            for (term, n) in &counts {
                let df = searcher.doc_freq(&Term::from_field_text(*field, term))?;
                let idf = idf(df, doc_count);
                for (score, d) in scores.iter_mut().zip(docs) {
                    let Some((terms, len)) = d.fields.get(fi) else {
                        continue;
                    };
                    let Some(&tf) = terms.get(term) else {
                        continue;
                    };
                    let qlen = tantivy::fieldnorm::FieldNormReader::id_to_fieldnorm(
                        tantivy::fieldnorm::FieldNormReader::fieldnorm_to_id(*len),
                    ) as f32;
                    let norm = bm25::length_norm(params, qlen, avgdl);
                    *score += *n as f32 * idf * bm25::tf_saturation(tf as f32, norm);
                }
            }
        }
        Ok(scores)
    }
}
