//! Documents put and deleted through the write-ahead log, visible to every retriever
//! as soon as the call returns; the log replayed when an index opens.

use std::collections::{HashMap, HashSet};

use seine_datasets::Doc;
use seine_index::DocId;

use super::wal::WalRecord;
use crate::search::{LiveDoc, Reader};
use crate::{Error, Result, Searcher, Side};

/// Longest document id, in bytes.
pub const MAX_ID_BYTES: usize = 512;

/// Whether `id` can name a written document: 1..=512 bytes, not blank, and no control
/// or invisible formatting characters (zero-width spaces, bidirectional overrides,
/// byte-order marks): two ids that print the same must be the same id.
pub fn check_doc_id(id: &str) -> Result<()> {
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}'
                | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E0FFF}')
    };
    if id.trim().is_empty() || id.len() > MAX_ID_BYTES || id.chars().any(invisible) {
        let shown: String = id.chars().take(64).flat_map(char::escape_default).collect();
        return Err(Error::InvalidArgument(format!(
            "document id \"{shown}\" must be 1..={MAX_ID_BYTES} bytes, not blank, without \
             control or invisible characters (zero-width, bidirectional, byte-order mark)"
        )));
    }
    Ok(())
}

impl Reader {
    /// Every part of `docs` this index has, encoded with the index's own encoders
    /// (SPLADE pruned and quantized as the generation's documents are).
    fn encode_docs(&self, docs: &[Doc]) -> Result<Vec<LiveDoc>> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let texts: Vec<String> = docs.iter().map(crate::encode::doc_text).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let shares = self.encoders.multi_shares_dense();
        let (dense, tokens) = match (&self.dense, &self.multi, &self.encoders.multi) {
            (Some(_), Some(_), Some(m)) if shares => {
                let (e, t) = m.encode_both(&refs, Side::Document)?;
                (Some(e), Some(t))
            }
            (d, store, m) => (
                d.as_ref()
                    .map(|r| r.encoder().encode(&refs, Side::Document))
                    .transpose()?,
                match (store, m) {
                    (Some(_), Some(m)) => Some(m.encode(&refs, Side::Document)?),
                    _ => None,
                },
            ),
        };
        let sparse = match &self.sparse {
            Some(r) => {
                let enc = r.encoder();
                let scale = r.index().scale();
                let vs = enc.encode(&refs, Side::Document)?;
                Some(
                    vs.iter()
                        .map(|v| {
                            enc.named_terms(v)
                                .into_iter()
                                .map(|(t, w)| {
                                    // As the impact index stores it.
                                    let q = seine_index::sparse::quantize(w, scale) as f32 / scale;
                                    (t, q)
                                })
                                .filter(|(_, w)| *w > 0.0)
                                .collect::<HashMap<String, f32>>()
                        })
                        .collect::<Vec<_>>(),
                )
            }
            None => None,
        };
        let mut tokens = tokens.map(|t| t.into_iter());
        let mut sparse = sparse.map(|s| s.into_iter());
        Ok(docs
            .iter()
            .enumerate()
            .map(|(i, doc)| LiveDoc {
                doc: doc.clone(),
                dense: dense.as_ref().map(|e| {
                    let mut v = e.row(i).to_vec();
                    if !seine_kernels::l2_normalize(&mut v) {
                        v.iter_mut().for_each(|x| *x = 0.0);
                    }
                    v
                }),
                sparse: sparse.as_mut().and_then(|s| s.next()),
                tokens: tokens.as_mut().and_then(|t| t.next()),
                lex: self.bm25.as_ref().map(|r| r.index().analyze_doc(doc)),
            })
            .collect())
    }
}

/// Applies the log of `reader`'s generation (on open).
pub(crate) fn replay(reader: &Reader, records: Vec<WalRecord>) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    // The last operation on each id wins; order of first appearance is kept.
    let mut order: Vec<String> = Vec::new();
    let mut last: HashMap<String, Option<Doc>> = HashMap::new();
    for r in records {
        let (id, doc) = match r {
            WalRecord::Put {
                id,
                title,
                text,
                metadata,
            } => (
                id.clone(),
                Some(Doc {
                    id,
                    title,
                    text,
                    metadata,
                }),
            ),
            WalRecord::Del { id } => (id, None),
        };
        if !last.contains_key(&id) {
            order.push(id.clone());
        }
        last.insert(id, doc);
    }
    let mut live = reader.live.write().expect("live lock");
    let mut puts = Vec::new();
    for id in &order {
        match &last[id] {
            Some(doc) => puts.push(doc.clone()),
            None => {
                live.remove(id, reader.doc_map.internal(id));
            }
        }
    }
    for chunk in puts.chunks(64) {
        for d in reader.encode_docs(chunk)? {
            let base = reader.doc_map.internal(&d.doc.id);
            live.put(d, base);
        }
    }
    Ok(())
}

impl Searcher {
    /// Adds or replaces documents. When this returns they are in the write-ahead log
    /// (fsynced) and visible to every retriever.
    pub fn put_documents(&self, docs: &[Doc]) -> Result<Vec<DocId>> {
        let mut seen = HashSet::new();
        for d in docs {
            check_doc_id(&d.id)?;
            if !seen.insert(d.id.as_str()) {
                return Err(Error::InvalidArgument(format!(
                    "document id {:?} appears twice in one batch",
                    d.id
                )));
            }
        }
        self.check_metadata(docs)?;
        let encoded = self.encode_docs(docs)?;
        let mut w = self.writer.lock().expect("writer lock");
        let records: Vec<WalRecord> = docs
            .iter()
            .map(|d| WalRecord::Put {
                id: d.id.clone(),
                title: d.title.clone(),
                text: d.text.clone(),
                metadata: d.metadata.clone(),
            })
            .collect();
        self.ensure_writer(&mut w, None)?;
        w.wal.as_mut().expect("writer").append(&records)?;
        let mut live = self.live.write().expect("live lock");
        Ok(encoded
            .into_iter()
            .map(|d| {
                let base = self.doc_map.internal(&d.doc.id);
                live.put(d, base)
            })
            .collect())
    }

    /// Deletes a document from every retriever; false when no such document is visible.
    pub fn delete(&self, id: &str) -> Result<bool> {
        let mut w = self.writer.lock().expect("writer lock");
        self.ensure_writer(&mut w, None)?;
        let base = self.doc_map.internal(id);
        let visible = {
            // Writers are serialized by `w`: what is visible now stays so until below.
            let live = self.live.read().expect("live lock");
            live.by_id.contains_key(id) || base.is_some_and(|b| !live.hidden.contains(&b))
        };
        if !visible {
            return Ok(false);
        }
        w.wal
            .as_mut()
            .expect("writer")
            .append(&[WalRecord::Del { id: id.to_string() }])?;
        Ok(self.live.write().expect("live lock").remove(id, base))
    }
}
