//! Metadata filters on the read path: a [`Filter`] checked against the index's
//! declared fields and evaluated into the [`DocSet`] every retriever searches within —
//! the generation's documents from the stored fast fields, the documents written since
//! from their metadata.

use seine_index::filter::fields::extract;
use seine_index::filter::{FieldSpec, Filter, Matcher};
use seine_index::{DocId, DocSet};

use super::Live;
use super::Reader;
use crate::{Error, Result};

impl Reader {
    /// The metadata fields this index stores (`seine index --fields`).
    pub fn fields(&self) -> &[FieldSpec] {
        &self.index.manifest().fields
    }

    /// Checks `filter` against this index's fields: an unknown field or a value of the
    /// wrong type is an [`Error::InvalidArgument`] naming the field.
    pub fn check_filter(&self, filter: &Filter) -> Result<()> {
        filter.validate(self.fields()).map_err(|e| {
            let hint = if self.fields().is_empty() {
                " — index with --fields name:type,... to filter on metadata"
            } else {
                ""
            };
            Error::InvalidArgument(format!("{}{hint}", seine_index_message(e)))
        })
    }

    /// The visible documents `filter` allows.
    pub fn allowed(&self, filter: &Filter) -> Result<DocSet> {
        self.check_filter(filter)?;
        let live = self.live.read().expect("live lock");
        Ok(self.allowed_in(&live, filter))
    }

    /// [`Reader::allowed`] (already checked) under a lock the caller holds.
    pub(crate) fn allowed_in(&self, live: &Live, filter: &Filter) -> DocSet {
        let universe = live.base_len as usize + live.docs.len();
        let mut set = match &self.fields {
            Some(store) => store.allowed(filter, universe),
            // No stored values: each generation document has none.
            None if filter.matches(&|_| None) => DocSet::from_fn(universe, |d| d < live.base_len),
            None => DocSet::empty(universe),
        };
        let specs = self.fields();
        let matcher = Matcher::compile(filter);
        for (id, d) in live.iter() {
            let get = |name: &str| {
                let spec = specs.iter().find(|s| s.name == name)?;
                extract(spec, &d.doc.id, &d.doc.metadata).ok().flatten()
            };
            if matcher.matches(&get) {
                set.insert(id);
            }
        }
        for &h in &live.hidden {
            set.remove(h);
        }
        set
    }

    /// Checks the declared fields of documents about to be written (a value of the
    /// wrong type is refused before anything is logged).
    pub(crate) fn check_metadata(&self, docs: &[seine_datasets::Doc]) -> Result<()> {
        for d in docs {
            for spec in self.fields() {
                extract(spec, &d.id, &d.metadata)
                    .map_err(|e| Error::InvalidArgument(seine_index_message(e)))?;
            }
        }
        Ok(())
    }

    /// A document's metadata: a generation document's declared fields as stored, a
    /// written document's metadata as written.
    pub fn metadata(&self, doc: DocId) -> seine_datasets::Metadata {
        let live = self.live.read().expect("live lock");
        self.metadata_in(&live, doc)
    }

    /// [`Reader::metadata`] under a lock the caller holds.
    pub(crate) fn metadata_in(&self, live: &Live, doc: DocId) -> seine_datasets::Metadata {
        if let Some(d) = live.get(doc) {
            return d.doc.metadata.clone();
        }
        match &self.fields {
            Some(f) if doc < live.base_len => f.metadata(doc),
            _ => Default::default(),
        }
    }
}

/// The message of an index-layer error without its variant's prefix.
fn seine_index_message(e: seine_index::Error) -> String {
    match e {
        seine_index::Error::InvalidSetting(m) => m,
        other => other.to_string(),
    }
}
