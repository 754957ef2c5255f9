//! The documents written since the generation was built, as every retriever sees them:
//! added documents (with each part the index has, searched exhaustively beside the
//! generation's own indexes) and the generation's documents deleted or replaced
//! (tombstones, hidden from every retriever at once). The write path
//! ([`crate::write`]) logs each change before it applies it here; this module only
//! holds the state.

use std::collections::{HashMap, HashSet};

use seine_datasets::Doc;
use seine_index::DocId;
use seine_index::lexical::LexDoc;

/// An added document with every part the index has.
#[derive(Debug, Clone, Default)]
pub struct LiveDoc {
    pub doc: Doc,
    pub dense: Option<Vec<f32>>,
    /// term → weight.
    pub sparse: Option<HashMap<String, f32>>,
    /// Token vectors, row-major.
    pub tokens: Option<Vec<f32>>,
    pub lex: Option<LexDoc>,
}

/// The documents added and deleted since the generation was built.
pub struct Live {
    /// Documents in the generation; added documents get ids from here on.
    pub base_len: u32,
    /// `DocId - base_len` → document (None once deleted or replaced).
    pub docs: Vec<Option<LiveDoc>>,
    /// Current added documents by external id.
    pub by_id: HashMap<String, DocId>,
    /// Generation documents deleted or replaced.
    pub hidden: HashSet<DocId>,
}

impl Live {
    pub fn new(base_len: u32) -> Self {
        Live {
            base_len,
            docs: Vec::new(),
            by_id: HashMap::new(),
            hidden: HashSet::new(),
        }
    }

    pub fn get(&self, doc: DocId) -> Option<&LiveDoc> {
        doc.checked_sub(self.base_len)
            .and_then(|i| self.docs.get(i as usize))
            .and_then(|d| d.as_ref())
    }

    /// Live (visible) added documents with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (DocId, &LiveDoc)> {
        self.docs
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.as_ref().map(|d| (self.base_len + i as u32, d)))
    }

    pub fn live_count(&self) -> usize {
        self.by_id.len()
    }

    /// Hides the current version of `id` (`base` is its generation DocId, if any).
    /// Returns whether something was visible.
    pub fn remove(&mut self, id: &str, base: Option<DocId>) -> bool {
        if let Some(doc) = self.by_id.remove(id) {
            let slot = (doc - self.base_len) as usize;
            self.docs[slot] = None;
            return true;
        }
        match base {
            Some(b) => self.hidden.insert(b),
            None => false,
        }
    }

    /// Adds (or replaces) a document.
    pub fn put(&mut self, doc: LiveDoc, base: Option<DocId>) -> DocId {
        let id = doc.doc.id.clone();
        self.remove(&id, base);
        let doc_id = self.base_len + self.docs.len() as u32;
        self.docs.push(Some(doc));
        self.by_id.insert(id, doc_id);
        doc_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_replace_delete() {
        let mut live = Live::new(10);
        let d = |id: &str| LiveDoc {
            doc: Doc {
                id: id.into(),
                ..Doc::default()
            },
            ..LiveDoc::default()
        };
        assert_eq!(live.put(d("a"), None), 10);
        // Replacing a generation document hides it.
        assert_eq!(live.put(d("b"), Some(3)), 11);
        assert!(live.hidden.contains(&3));
        // Replacing an added document frees its slot.
        assert_eq!(live.put(d("a"), None), 12);
        assert!(live.get(10).is_none());
        assert_eq!(live.live_count(), 2);
        assert!(live.remove("b", Some(3)));
        assert!(!live.remove("zzz", None));
        assert_eq!(live.iter().map(|(i, _)| i).collect::<Vec<_>>(), vec![12]);
    }
}
