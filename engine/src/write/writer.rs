//! Becoming the index's one writer: the writer lock, and the checks that the index on
//! disk is still the one this searcher read (else writes would build on a stale view).

use std::sync::Arc;

use seine_index::IndexDir;

use super::wal::{self, Wal};
use crate::{Error, Result, Searcher};

/// The write side of an open index, behind [`Searcher`]'s writer mutex (which also
/// serializes writers, and compaction against them).
#[derive(Default)]
pub(crate) struct WriterState {
    /// The log, once this process holds the index's writer lock (None: read-only).
    pub wal: Option<Wal>,
    /// The index's writer lock, while this process may write.
    pub lock: Option<Arc<seine_index::WriterLock>>,
    /// Bytes of the log read at open: a writer taking over later checks that nobody
    /// wrote meanwhile.
    pub log_len: u64,
    /// A compaction has folded this state into a new generation: writes go there.
    pub retired: bool,
}

/// Who this process is, for the writer lock: its command line (shortened).
fn process_name() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut s = args.join(" ");
    if let Some((i, _)) = s.char_indices().nth(200) {
        s.truncate(i);
    }
    s
}

impl Searcher {
    /// Makes this process the index's one writer: takes its writer lock (`holder` says
    /// who, for a second writer's error) and opens the write-ahead log for appending.
    /// Fails, naming the holder, when another process writes the index. Writes take the
    /// lock by themselves when not yet held; a server takes it at start to fail early.
    pub fn take_writer(&self, holder: &str) -> Result<()> {
        let mut w = self.writer.lock().expect("writer lock");
        self.ensure_writer(&mut w, Some(holder))
    }

    /// [`Searcher::take_writer`] with a lock the caller already took (before opening
    /// the index, so nobody can have written since).
    pub fn adopt_writer(&self, lock: seine_index::WriterLock) -> Result<()> {
        let mut w = self.writer.lock().expect("writer lock");
        if w.lock.is_none() {
            w.lock = Some(Arc::new(lock));
        }
        self.ensure_writer(&mut w, None)
    }

    /// Whether this searcher holds the index's writer lock.
    pub fn is_writer(&self) -> bool {
        self.writer.lock().expect("writer lock").wal.is_some()
    }

    /// [`Searcher::take_writer`] under the writer mutex the caller holds.
    pub(crate) fn ensure_writer(&self, w: &mut WriterState, holder: Option<&str>) -> Result<()> {
        if w.retired {
            return Err(Error::Retired);
        }
        if w.wal.is_some() {
            return Ok(());
        }
        let lock = match &w.lock {
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
        let log = wal::read_log(&wal::wal_path(root, generation))?;
        if log.good_len != w.log_len {
            return Err(Error::ReadOnly(format!(
                "{}: documents were written to the index since it was opened: reopen it to \
                 write",
                root.display()
            )));
        }
        w.wal = Some(Wal::open_writer(root, generation, log.good_len)?);
        w.lock = Some(lock);
        self.index.remove_unused_generations();
        Ok(())
    }
}
