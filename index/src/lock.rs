//! Who may change an index, across processes: one writer, any number of readers.
//!
//! - The **writer lock** is an exclusive advisory lock (`flock`) on `<index>/write.lock`,
//!   held for as long as a process may write, log or compact the index (`seine serve`,
//!   a Python `Index` at its first write). The file says who holds it (pid, what,
//!   since), and a second writer is refused with that. The kernel drops the lock when
//!   the holder exits, however it exits: a stale file never blocks anybody.
//! - A **reader lease** is a shared lock on `<index>/gen-NNNNNN.readers`, taken by every
//!   open [`crate::IndexDir`] of that generation. The writer removes a generation that
//!   a compaction replaced only once it can take that file exclusively, so a reader that
//!   outlives a compaction keeps its generation readable until it closes. Readers open
//!   the file read-only and never create it: an index on read-only storage opens as
//!   before (without a lease, which no writer there could break anyway).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

pub const WRITE_LOCK_FILE: &str = "write.lock";

fn flock(f: &File, op: libc::c_int) -> std::io::Result<()> {
    // SAFETY: flock on a file descriptor this `File` owns; no memory is passed.
    let r = unsafe { libc::flock(f.as_raw_fd(), op | libc::LOCK_NB) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The exclusive right to change one index; released when dropped (or when the
/// process ends).
#[derive(Debug)]
pub struct WriterLock {
    file: File,
    path: PathBuf,
}

impl WriterLock {
    /// Takes the writer lock of the index at `root`; `holder` says who takes it (shown
    /// to a second writer). Fails at once, naming the holder, when another process (or
    /// another open index in this one) has it.
    pub fn acquire(root: &Path, holder: &str) -> Result<WriterLock> {
        let path = root.join(WRITE_LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        if let Err(e) = flock(&file, libc::LOCK_EX) {
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(Error::io(&path, e));
            }
            let mut who = String::new();
            let _ = file.read_to_string(&mut who);
            let who = who.trim();
            return Err(Error::Locked {
                path: root.to_path_buf(),
                holder: if who.is_empty() {
                    "another process".into()
                } else {
                    who.chars().take(300).collect()
                },
            });
        }
        let text = format!(
            "pid {} ({holder}) since {}\n",
            std::process::id(),
            crate::manifest::now_rfc3339()
        );
        file.set_len(0)
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|_| file.sync_data())
            .map_err(|e| Error::io(&path, e))?;
        Ok(WriterLock { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // Leave the file (removing it would race a process opening it); clear who.
        let _ = self.file.set_len(0);
    }
}

/// The readers file of a generation.
pub(crate) fn readers_path(root: &Path, generation: u64) -> PathBuf {
    root.join(format!("gen-{generation:06}.readers"))
}

/// A shared lease on one generation (see the module docs).
#[derive(Debug)]
pub struct ReaderLease {
    _file: File,
}

impl ReaderLease {
    /// The lease of `generation`, or None where the index has no readers file (built
    /// before leases, or read-only storage).
    pub(crate) fn take(root: &Path, generation: u64) -> Result<Option<ReaderLease>> {
        let path = readers_path(root, generation);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        // A writer holds the file exclusively only for the instant it checks that no
        // reader is left before removing the generation: wait it out.
        for _ in 0..200 {
            match flock(&file, libc::LOCK_SH) {
                Ok(()) => return Ok(Some(ReaderLease { _file: file })),
                Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Ok(None)
    }
}

/// Creates the readers file of `generation` (by the writer, before the generation is
/// published).
pub(crate) fn create_readers_file(root: &Path, generation: u64) -> Result<()> {
    let path = readers_path(root, generation);
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map(drop)
        .map_err(|e| Error::io(&path, e))
}

/// Whether no reader holds a lease on `generation` (then the caller, the writer, may
/// remove it); the readers file is removed with the answer yes.
pub(crate) fn unread(root: &Path, generation: u64) -> bool {
    let path = readers_path(root, generation);
    let Ok(file) = File::open(&path) else {
        return true;
    };
    if flock(&file, libc::LOCK_EX).is_err() {
        return false;
    }
    let _ = std::fs::remove_file(&path);
    true
}
