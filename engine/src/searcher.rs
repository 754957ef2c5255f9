use seine_index::lexical::{Bm25Params, StoredDoc};
use seine_index::{DocId, DocMap, IndexDir};

use std::sync::Arc;

use candle_core::Device;

use crate::model::{ModelDir, resolve_model};
use crate::{Bm25Retriever, DenseEncoder, DenseRetriever, Error, Result, Retriever};

/// A search result with its external id.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub doc: DocId,
    pub id: String,
    pub score: f32,
}

/// Searches an index with the retrievers it has.
pub struct Searcher {
    index: IndexDir,
    doc_map: DocMap,
    bm25: Option<Bm25Retriever>,
    dense: Option<DenseRetriever>,
}

impl Searcher {
    /// Opens every retriever the index was built with; models run on the CPU.
    pub fn open(index: IndexDir) -> Result<Self> {
        Self::open_on(index, &Device::Cpu)
    }

    /// Opens every retriever the index was built with; query encoders run on `device`.
    pub fn open_on(index: IndexDir, device: &Device) -> Result<Self> {
        let doc_map = index.doc_map()?;
        let bm25 = match index.manifest().lexical {
            Some(_) => Some(Bm25Retriever::new(index.lexical()?)),
            None => None,
        };
        let dense = match &index.manifest().dense {
            Some(settings) => {
                let dir = ModelDir::open(&resolve_model(&settings.model)?)?;
                let encoder: Arc<dyn crate::Encoder> = Arc::new(DenseEncoder::load(&dir, device)?);
                Some(DenseRetriever::new(encoder, index.dense()?)?)
            }
            None => None,
        };
        Ok(Searcher {
            index,
            doc_map,
            bm25,
            dense,
        })
    }

    pub fn index(&self) -> &IndexDir {
        &self.index
    }

    pub fn doc_map(&self) -> &DocMap {
        &self.doc_map
    }

    /// Names of the retrievers this index supports.
    pub fn retrievers(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.bm25.iter().map(|r| r.name()).collect();
        v.extend(self.dense.iter().map(|r| r.name()));
        v
    }

    /// Overrides the BM25 parameters for the searches that follow.
    pub fn set_bm25_params(&mut self, params: Bm25Params) -> Result<()> {
        if let Some(r) = self.bm25.take() {
            self.bm25 = Some(r.with_params(params)?);
        }
        Ok(())
    }

    /// Sets the HNSW beam width of dense searches.
    pub fn set_dense_ef(&mut self, ef: Option<usize>) {
        if let Some(d) = &mut self.dense {
            d.set_ef(ef);
        }
    }

    /// The retriever called `name`.
    pub fn retriever(&self, name: &str) -> Result<&dyn Retriever> {
        match name {
            "bm25" if self.bm25.is_some() => Ok(self.bm25.as_ref().unwrap()),
            "dense" if self.dense.is_some() => Ok(self.dense.as_ref().unwrap()),
            _ => Err(Error::UnknownRetriever {
                name: name.to_string(),
                available: self.retrievers().join(", "),
            }),
        }
    }

    /// The top `k` hits of retriever `name` for `query`.
    pub fn search(&self, name: &str, query: &str, k: usize) -> Result<Vec<Hit>> {
        let hits = self.retriever(name)?.retrieve(query, k)?;
        Ok(hits
            .into_iter()
            .map(|h| Hit {
                doc: h.doc,
                id: self.doc_map.external(h.doc).unwrap_or_default().to_string(),
                score: h.score,
            })
            .collect())
    }

    /// Stored title/text of a document (from the lexical index).
    pub fn stored(&self, doc: DocId) -> Result<Option<StoredDoc>> {
        match &self.bm25 {
            Some(r) => Ok(r.index().stored(doc)?),
            None => Ok(None),
        }
    }
}
