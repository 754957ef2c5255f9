//! Becoming the index's one writer: the writer lock, and the checks that the index on
//! disk is still the one this searcher read (else writes would build on a stale view).

use std::sync::Arc;

use seine_index::IndexDir;

use super::Searcher;
use crate::live::{Live, Wal};
use crate::{Error, Result};

/// Who this process is, for the writer lock: its command line (shortened).
fn process_name() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut s = args.join(" ");
    if let Some((i, _)) = s.char_indices().nth(200) {
        s.truncate(i);
    }
    s
}

/// The generation's id map must hold the documents the manifest says (a hand-edited
/// count would size every per-document table).
pub(super) fn check_doc_count(index: &IndexDir, n: usize) -> Result<()> {
    let m = index.manifest();
    if n as u64 != m.doc_count {
        return Err(Error::Index(seine_index::Error::NotAnIndex {
            path: index.root().to_path_buf(),
            message: format!(
                "the manifest says {} documents, the generation's id map has {n}",
                m.doc_count
            ),
        }));
    }
    Ok(())
}

impl Searcher {
    /// Makes this process the index's one writer: takes its writer lock (`holder` says
    /// who, for a second writer's error) and opens the write-ahead log for appending.
    /// Fails, naming the holder, when another process writes the index. Writes take the
    /// lock by themselves when not yet held; a server takes it at start to fail early.
    pub fn take_writer(&self, holder: &str) -> Result<()> {
        let _w = self.writes.lock().expect("writes lock");
        let mut live = self.live.write().expect("live lock");
        self.ensure_writer(&mut live, Some(holder))
    }

    /// [`Searcher::take_writer`] with a lock the caller already took (before opening
    /// the index, so nobody can have written since).
    pub fn adopt_writer(&self, lock: seine_index::WriterLock) -> Result<()> {
        let _w = self.writes.lock().expect("writes lock");
        let mut live = self.live.write().expect("live lock");
        if live.lock.is_none() {
            live.lock = Some(Arc::new(lock));
        }
        self.ensure_writer(&mut live, None)
    }

    /// Whether this searcher holds the index's writer lock.
    pub fn is_writer(&self) -> bool {
        self.live.read().expect("live lock").wal.is_some()
    }

    /// [`Searcher::take_writer`] under the locks the caller holds (`writes` and `live`).
    pub(crate) fn ensure_writer(&self, live: &mut Live, holder: Option<&str>) -> Result<()> {
        if live.retired {
            return Err(Error::Retired);
        }
        if live.wal.is_some() {
            return Ok(());
        }
        let lock = match &live.lock {
            Some(l) => l.clone(),
            None => {
                let who = holder.map_or_else(process_name, str::to_string);
                Arc::new(seine_index::WriterLock::acquire(self.index.root(), &who)?)
            }
        };
        let root = self.index.root();
        let generation = self.index.manifest().generation;
        let now = IndexDir::open(root)?.manifest().generation;
        if now != generation {
            return Err(Error::ReadOnly(format!(
                "{}: the index was compacted since it was opened (generation {generation}, \
                 now {now}): reopen it to write",
                root.display()
            )));
        }
        let log = crate::live::read_log(&crate::live::wal_path(root, generation))?;
        if log.good_len != live.log_len {
            return Err(Error::ReadOnly(format!(
                "{}: documents were written to the index since it was opened: reopen it to \
                 write",
                root.display()
            )));
        }
        live.wal = Some(Wal::open_writer(root, generation, log.good_len)?);
        live.lock = Some(lock);
        self.index.remove_unused_generations();
        Ok(())
    }
}
