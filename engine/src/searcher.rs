//! [`Searcher`]: an open index, read and written. It is the read path ([`Reader`], in
//! [`crate::search`], reached through `Deref`) joined with the write side
//! ([`crate::write`]: the writer lock and the write-ahead log); opening one replays
//! what the log holds, so a reader opened after a write sees it.

use std::ops::Deref;
use std::sync::Mutex;

use candle_core::Device;
use seine_index::IndexDir;

use crate::Result;
use crate::encoders::Encoders;
use crate::search::Reader;
use crate::write::{WriterState, replay, wal};

/// Searches an index with the retrievers it has (every read method is [`Reader`]'s);
/// takes writes (write-ahead log) and compacts them into a new generation.
pub struct Searcher {
    reader: Reader,
    /// The write side; its mutex serializes writers (and compaction against writers).
    pub(crate) writer: Mutex<WriterState>,
}

impl Deref for Searcher {
    type Target = Reader;

    fn deref(&self) -> &Reader {
        &self.reader
    }
}

impl Searcher {
    /// Opens every retriever the index was built with; models run on the CPU.
    pub fn open(index: IndexDir) -> Result<Self> {
        Self::open_on(index, &Device::Cpu)
    }

    /// Opens every retriever the index was built with; query encoders run on `device`
    /// (the models the index recorded, checked by hash: [`Encoders::for_index`]).
    /// Writes logged since the generation was built are replayed (their documents
    /// re-encoded).
    pub fn open_on(index: IndexDir, device: &Device) -> Result<Self> {
        let enc = Encoders::for_index(index.manifest(), device)?;
        Self::with_encoders(index, enc)
    }

    /// Opens `index` with encoders already loaded for it.
    pub fn with_encoders(index: IndexDir, enc: Encoders) -> Result<Self> {
        let reader = Reader::with_encoders(index, enc)?;
        // Read only: the log is opened for appending when this process becomes the
        // index's writer ([`Searcher::take_writer`], or the first write).
        let log = wal::read_log(&wal::wal_path(
            reader.index.root(),
            reader.index.manifest().generation,
        ))?;
        let writer = WriterState {
            log_len: log.good_len,
            ..WriterState::default()
        };
        replay(&reader, log.records)?;
        Ok(Searcher {
            reader,
            writer: Mutex::new(writer),
        })
    }

    /// Opens another generation of the same index with this searcher's encoders
    /// (after [`Searcher::compact`]); a writer hands its writer lock on.
    pub fn reopen(&self, index: IndexDir) -> Result<Self> {
        let s = Self::with_encoders(index, self.encoders.clone())?;
        let lock = self.writer.lock().expect("writer lock").lock.clone();
        if let Some(lock) = lock {
            let mut w = s.writer.lock().expect("writer lock");
            w.lock = Some(lock);
            s.ensure_writer(&mut w, None)?;
        }
        Ok(s)
    }
}
