//! Typed settings of the search pipeline and their defaults: the one place each of them
//! is defined. The CLI, the server and the evaluation runner only parse text into these
//! types (`FromStr`, serde); nothing below them matches retriever, fusion or rerank
//! names as strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub use crate::fusion::{DEFAULT_FUSION_DEPTH, DEFAULT_RRF_K};

/// Hits returned by a search.
pub const DEFAULT_K: usize = 10;
/// First-stage candidates a late-interaction rerank rescores.
pub const DEFAULT_RERANK_DEPTH: usize = 100;
/// FLIPR: query-token maxima summed (the top k').
pub const DEFAULT_FLIPR_K: usize = 8;
/// Hops of the multi-hop loop.
pub const DEFAULT_HOPS: usize = 2;
/// Title-linked passages put first in a later hop's candidates (multi-hop).
pub const DEFAULT_LINKS: usize = 8;
/// Candidates kept per hop.
pub const DEFAULT_HOP_DEPTH: usize = 20;
/// Top passages per hop whose sentences the condenser scores.
pub const DEFAULT_CONDENSE_PASSAGES: usize = 5;
/// Facts (sentences) kept per hop.
pub const DEFAULT_FACTS: usize = 2;
/// Most hops of the multi-hop loop (1..=MAX_HOPS).
pub const MAX_HOPS: usize = 4;

/// Documents read and encoded per chunk (indexing, `seine embed`, the Python encoder).
pub const ENCODE_CHUNK: usize = 256;
/// Padded tokens per transformer forward pass, every encoder (and the server's
/// `--token-budget`).
pub const DEFAULT_TOKEN_BUDGET: usize = 8192;
/// Texts per forward pass at most.
pub const MAX_ENCODE_BATCH: usize = 128;
/// ColBERT's query length (`query_maxlen`) when the model folder does not say.
pub const DEFAULT_COLBERT_QUERY_LEN: usize = 32;
/// ColBERT's document length (`doc_maxlen`) when the model folder does not say.
pub const DEFAULT_COLBERT_DOC_LEN: usize = 180;
/// ColBERT's skiplist: ASCII punctuation, dropped from documents' token vectors.
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// A first-stage retriever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetrieverKind {
    /// BM25 over the lexical index.
    Bm25,
    /// The dense bi-encoder over HNSW (or exact) search.
    Dense,
    /// SPLADE impacts.
    Splade,
    /// Late interaction as a first stage: PLAID over compressed token vectors
    /// (exhaustive MaxSim over uncompressed ones).
    Maxsim,
}

impl RetrieverKind {
    pub const ALL: [RetrieverKind; 4] = [
        RetrieverKind::Bm25,
        RetrieverKind::Dense,
        RetrieverKind::Splade,
        RetrieverKind::Maxsim,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RetrieverKind::Bm25 => "bm25",
            RetrieverKind::Dense => "dense",
            RetrieverKind::Splade => "splade",
            RetrieverKind::Maxsim => "maxsim",
        }
    }
}

/// PLAID's search parameters ([`crate::plaid`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Plaid {
    /// Centroids probed per query token.
    pub nprobe: usize,
    /// Centroids whose best score over the query is below this are skipped in the
    /// pruned centroid interaction.
    pub centroid_threshold: f32,
    /// Documents kept after the pruned centroid interaction (a quarter of them reach
    /// exact MaxSim).
    pub ndocs: usize,
}

impl Plaid {
    /// The paper's settings by `k` (Table 2 of arXiv 2205.09707: k = 10 → 1 probe,
    /// threshold 0.5, 256 documents; k = 100 → 2, 0.45, 1024; k = 1000 → 4, 0.4,
    /// 4096).
    pub fn for_k(k: usize) -> Plaid {
        match k {
            0..=10 => Plaid {
                nprobe: 1,
                centroid_threshold: 0.5,
                ndocs: 256,
            },
            11..=100 => Plaid {
                nprobe: 2,
                centroid_threshold: 0.45,
                ndocs: 1024,
            },
            _ => Plaid {
                nprobe: 4,
                centroid_threshold: 0.4,
                ndocs: (4 * k).max(4096),
            },
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.nprobe == 0 || self.ndocs == 0 || !self.centroid_threshold.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "PLAID parameters need nprobe ≥ 1, ndocs ≥ 1 and a finite threshold: {self:?}"
            )));
        }
        Ok(())
    }
}

/// WARP's parameters of a `maxsim` first stage (the default engine on stores that carry
/// WARP's token lists; `search::warp`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Warp {
    /// Centroids probed per query token; a document with no token in them gets the
    /// score of the best centroid not probed for that query token.
    pub nprobe: usize,
    /// Best approximate candidates rescored by exact MaxSim (0: WARP's own scores
    /// are final).
    pub rescore: usize,
}

impl Warp {
    /// Defaults by `k` (measured on SciFact's ColBERT tokens and the scale bench's
    /// synthetic bags: README, "Dense and late interaction at scale").
    pub fn for_k(k: usize) -> Warp {
        Warp {
            nprobe: 16,
            rescore: (4 * k).max(32),
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.nprobe == 0 {
            return Err(Error::InvalidArgument("WARP needs nprobe ≥ 1".into()));
        }
        Ok(())
    }
}

/// Per-call retriever parameters; `None`: the index's own (BM25 as built, HNSW's
/// stored `ef_search`, PLAID by each search's `k`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueryParams {
    /// BM25 `k1` and `b`.
    pub bm25: Option<seine_index::lexical::Bm25Params>,
    /// HNSW beam width of dense searches.
    pub ef: Option<usize>,
    /// PLAID's parameters of a `maxsim` first stage; given, PLAID runs instead of WARP.
    pub plaid: Option<Plaid>,
    /// WARP's parameters of a `maxsim` first stage (`None`: [`Warp::for_k`]).
    pub warp: Option<Warp>,
    /// Learned-sparse search: exact (default) or approximate with its recall knob.
    pub sparse: seine_index::sparse::SparseSearch,
}

impl QueryParams {
    pub fn validate(&self) -> Result<()> {
        if let Some(b) = &self.bm25 {
            b.validate()?;
        }
        if self.ef == Some(0) {
            return Err(Error::InvalidArgument("ef must be at least 1".into()));
        }
        if let Some(p) = &self.plaid {
            p.validate()?;
        }
        if let Some(w) = &self.warp {
            w.validate()?;
        }
        self.sparse.validate()?;
        Ok(())
    }
}

/// One search as a front end asks for it: the CLI's flags, the HTTP body and Python's
/// keyword arguments each build one (defaults from here), and the searcher, which
/// holds no per-search state, runs it for a query
/// ([`crate::Searcher::search_fused`]). The multi-hop loop builds one per hop.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The first stage: one retriever or a fusion.
    pub retrievers: RetrieverSet,
    /// Hits returned.
    pub k: usize,
    /// How a fusion combines its retrievers' lists.
    pub fusion: crate::fusion::Fusion,
    /// Late-interaction rerank of the first stage's top `rerank.depth`.
    pub rerank: Option<Rerank>,
    pub params: QueryParams,
    /// Only documents whose metadata pass (applied inside every retriever).
    pub filter: Option<seine_index::filter::Filter>,
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            retrievers: RetrieverSet::default(),
            k: DEFAULT_K,
            fusion: crate::fusion::Fusion::default(),
            rerank: None,
            params: QueryParams::default(),
            filter: None,
        }
    }
}

impl SearchRequest {
    /// The top `k` of `retrievers`, every other setting at its default.
    pub fn new(retrievers: RetrieverSet, k: usize) -> Self {
        SearchRequest {
            retrievers,
            k,
            ..SearchRequest::default()
        }
    }

    /// The settings alone (the searcher checks them against its index).
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 {
            return Err(Error::InvalidArgument("k must be at least 1".into()));
        }
        if self.retrievers.is_fusion() {
            self.fusion.validate(self.retrievers.parts().len())?;
        }
        if let Some(r) = &self.rerank {
            r.validate()?;
        }
        self.params.validate()
    }
}

impl fmt::Display for RetrieverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RetrieverKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        RetrieverKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::UnknownRetriever {
                name: s.to_string(),
                available: "bm25, dense, splade, maxsim".into(),
            })
    }
}

/// One retriever (`bm25`) or several fused (`bm25+dense+splade`), in the order named
/// (fusion weights follow that order). Never empty, never a retriever twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RetrieverSet(Vec<RetrieverKind>);

impl RetrieverSet {
    pub fn new(parts: Vec<RetrieverKind>) -> Result<Self> {
        if parts.is_empty() {
            return Err(Error::InvalidArgument("no retriever named".into()));
        }
        let mut uniq = parts.clone();
        uniq.sort();
        uniq.dedup();
        if uniq.len() != parts.len() {
            let name = RetrieverSet(parts).to_string();
            return Err(Error::InvalidArgument(format!(
                "retriever {name:?} names one retriever twice"
            )));
        }
        Ok(RetrieverSet(parts))
    }

    pub fn one(kind: RetrieverKind) -> Self {
        RetrieverSet(vec![kind])
    }

    pub fn parts(&self) -> &[RetrieverKind] {
        &self.0
    }

    /// More than one retriever: the lists are fused.
    pub fn is_fusion(&self) -> bool {
        self.0.len() > 1
    }

    pub fn contains(&self, kind: RetrieverKind) -> bool {
        self.0.contains(&kind)
    }
}

impl Default for RetrieverSet {
    fn default() -> Self {
        RetrieverSet::one(RetrieverKind::Bm25)
    }
}

impl fmt::Display for RetrieverSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, k) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            f.write_str(k.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for RetrieverSet {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let parts = s
            .split('+')
            .map(|p| {
                p.trim().parse().map_err(|_| Error::UnknownRetriever {
                    name: p.trim().to_string(),
                    available: "bm25, dense, splade, or a fusion such as bm25+dense".into(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        RetrieverSet::new(parts)
    }
}

impl Serialize for RetrieverSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RetrieverSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How a late-interaction rerank reduces the per-query-token maxima.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RerankKind {
    /// ColBERT's MaxSim: the sum of every query token's maximum.
    MaxSim,
    /// Baleen's FLIPR: the sum of the top k' maxima.
    Flipr,
}

impl RerankKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RerankKind::MaxSim => "maxsim",
            RerankKind::Flipr => "flipr",
        }
    }
}

impl fmt::Display for RerankKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RerankKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "maxsim" => Ok(RerankKind::MaxSim),
            "flipr" => Ok(RerankKind::Flipr),
            _ => Err(Error::InvalidArgument(format!(
                "unknown rerank {s:?} (expected maxsim or flipr)"
            ))),
        }
    }
}

/// Late-interaction reranking of the first stage's top candidates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rerank {
    /// First-stage candidates rescored.
    pub depth: usize,
    /// MaxSim, or FLIPR (sum of the top-k per-query-token maxima).
    pub reduce: seine_kernels::Reduce,
}

impl Rerank {
    /// A rerank of `kind` over `depth` candidates (`flipr_k` used by FLIPR only).
    pub fn new(kind: RerankKind, depth: usize, flipr_k: usize) -> Self {
        let reduce = match kind {
            RerankKind::MaxSim => seine_kernels::Reduce::MaxSim,
            RerankKind::Flipr => seine_kernels::Reduce::Flipr { k: flipr_k },
        };
        Rerank { depth, reduce }
    }

    pub fn kind(&self) -> RerankKind {
        match self.reduce {
            seine_kernels::Reduce::MaxSim => RerankKind::MaxSim,
            seine_kernels::Reduce::Flipr { .. } => RerankKind::Flipr,
        }
    }

    /// `maxsim`, or `flipr<k>`: names a run.
    pub fn label(&self) -> String {
        match self.reduce {
            seine_kernels::Reduce::MaxSim => "maxsim".into(),
            seine_kernels::Reduce::Flipr { k } => format!("flipr{k}"),
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.depth == 0 {
            return Err(Error::InvalidArgument(
                "rerank depth must be at least 1".into(),
            ));
        }
        if let seine_kernels::Reduce::Flipr { k: 0 } = self.reduce {
            return Err(Error::InvalidArgument("flipr k must be at least 1".into()));
        }
        Ok(())
    }
}

/// Which vectors an embedding request wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EmbedKind {
    #[default]
    Dense,
    Sparse,
    Multi,
}

impl EmbedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EmbedKind::Dense => "dense",
            EmbedKind::Sparse => "sparse",
            EmbedKind::Multi => "multi",
        }
    }
}

impl FromStr for EmbedKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "dense" => Ok(EmbedKind::Dense),
            "sparse" => Ok(EmbedKind::Sparse),
            "multi" => Ok(EmbedKind::Multi),
            _ => Err(Error::InvalidArgument(format!(
                "unknown embedding kind {s:?} (expected dense, sparse or multi)"
            ))),
        }
    }
}

/// How dense vectors are written in an API answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// JSON numbers.
    #[default]
    Float,
    /// Standard base64 of little-endian f32 bytes (OpenAI's `encoding_format`).
    Base64,
}

impl FromStr for EncodingFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "float" => Ok(EncodingFormat::Float),
            "base64" => Ok(EncodingFormat::Base64),
            _ => Err(Error::InvalidArgument(format!(
                "unknown encoding_format {s:?} (expected float or base64)"
            ))),
        }
    }
}

impl FromStr for crate::Side {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "query" => Ok(crate::Side::Query),
            "document" => Ok(crate::Side::Document),
            _ => Err(Error::InvalidArgument(format!(
                "unknown side {s:?} (expected query or document)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retriever_sets_parse_and_print() {
        let s: RetrieverSet = "bm25+dense+splade".parse().unwrap();
        assert_eq!(s.to_string(), "bm25+dense+splade");
        assert!(s.is_fusion());
        assert!(!"dense".parse::<RetrieverSet>().unwrap().is_fusion());
        let e = "bm25+bm25".parse::<RetrieverSet>().unwrap_err().to_string();
        assert!(e.contains("twice"), "{e}");
        let e = "bm25+colbert"
            .parse::<RetrieverSet>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("colbert"), "{e}");
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(j, "\"bm25+dense+splade\"");
        assert_eq!(serde_json::from_str::<RetrieverSet>(&j).unwrap(), s);
    }

    #[test]
    fn rerank_names() {
        let r = Rerank::new("flipr".parse().unwrap(), 50, 4);
        assert_eq!(
            (r.kind(), r.label(), r.depth),
            (RerankKind::Flipr, "flipr4".into(), 50)
        );
        assert!(Rerank::new(RerankKind::MaxSim, 0, 8).validate().is_err());
        assert!("colbert".parse::<RerankKind>().is_err());
    }
}
