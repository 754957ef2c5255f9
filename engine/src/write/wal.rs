//! The write-ahead log of a generation: incremental writes on top of it.
//!
//! A write is appended to `<index>/wal-<generation>.jsonl` and fsynced before it is
//! applied (and before the caller is told it succeeded); opening the index replays
//! the log, re-encoding the documents it adds, into the searcher's view of the
//! written documents ([`crate::search::live`]). [`crate::Searcher::compact`] folds
//! everything into a new generation (HNSW has no delete) and starts an empty log.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One record of the write-ahead log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum WalRecord {
    Put {
        id: String,
        #[serde(default)]
        title: String,
        text: String,
        /// The document's metadata (what `--fields` filters read).
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        metadata: seine_datasets::Metadata,
    },
    Del {
        id: String,
    },
}

/// The log file of one generation, opened for appending by the index's one writer.
///
/// Record format, one per line: `<length> <crc32> <json>\n` — the JSON's length in
/// bytes and its CRC-32 (8 hex digits). A record whose length or checksum does not
/// hold is torn when it is the last line (a write cut short, never acknowledged) and
/// corrupt anywhere else; lines of the first format (bare JSON) are still read.
pub struct Wal {
    path: PathBuf,
    /// Opened at the first append (reading an index never creates files in it).
    file: Option<File>,
    /// Bytes of whole records: where the next record starts.
    len: u64,
    /// A failed append could not be cut back to `len`: appends retry the cut first.
    dirty: bool,
}

pub fn wal_path(root: &Path, generation: u64) -> PathBuf {
    root.join(format!("wal-{generation:06}.jsonl"))
}

/// One record as a log line.
fn encode_record(r: &WalRecord, out: &mut Vec<u8>) -> Result<()> {
    let json = serde_json::to_vec(r)
        .map_err(|e| Error::InvalidArgument(format!("cannot encode log record: {e}")))?;
    let crc = crc32fast::hash(&json);
    out.extend_from_slice(format!("{} {crc:08x} ", json.len()).as_bytes());
    out.extend_from_slice(&json);
    out.push(b'\n');
    Ok(())
}

/// A log line (without its newline) back as a record, or why it does not verify.
fn decode_record(line: &[u8]) -> std::result::Result<WalRecord, String> {
    if line.first() == Some(&b'{') {
        // The first format: bare JSON, no checksum.
        return serde_json::from_slice(line).map_err(|e| e.to_string());
    }
    let field = |from: usize| -> Option<(&str, usize)> {
        let rest = line.get(from..)?;
        let sp = rest.iter().take(24).position(|&b| b == b' ')?;
        Some((std::str::from_utf8(&rest[..sp]).ok()?, from + sp + 1))
    };
    let parsed = field(0).and_then(|(n, at)| {
        let (crc, json_at) = field(at)?;
        Some((
            n.parse::<usize>().ok()?,
            u32::from_str_radix(crc, 16).ok()?,
            json_at,
        ))
    });
    let Some((n, crc, at)) = parsed else {
        return Err("no length and checksum".into());
    };
    let json = &line[at..];
    if json.len() != n {
        return Err(format!("{} bytes where the record says {n}", json.len()));
    }
    if crc32fast::hash(json) != crc {
        return Err("checksum mismatch".into());
    }
    serde_json::from_slice(json).map_err(|e| e.to_string())
}

/// What reading a log found.
#[derive(Debug, Default)]
pub struct WalRead {
    pub records: Vec<WalRecord>,
    /// Bytes of whole records (a torn tail after them is not counted).
    pub good_len: u64,
    /// Bytes of the torn tail (dropped: never acknowledged).
    pub torn: u64,
}

/// A record in the middle of a log that fails its checksum (or does not parse).
#[derive(Debug, Clone)]
pub struct CorruptRecord {
    pub line: usize,
    pub offset: u64,
    pub reason: String,
}

/// Reads every record of `path` (absent: none); a bad record before the last line is
/// an error naming the file and line (repair with `seine repair`). Never writes.
pub fn read_log(path: &Path) -> Result<WalRead> {
    let (read, corrupt) = scan_log(path)?;
    match corrupt.first() {
        None => Ok(read),
        Some(c) => Err(Error::InvalidArgument(format!(
            "{}:{}: corrupt write-ahead log record ({}); run `seine repair {}` to keep \
             the records that verify",
            path.display(),
            c.line,
            c.reason,
            path.parent().unwrap_or(Path::new(".")).display()
        ))),
    }
}

/// Reads a log as [`read_log`], but goes past corrupt records, listing them.
pub fn scan_log(path: &Path) -> Result<(WalRead, Vec<CorruptRecord>)> {
    use std::io::{BufRead, BufReader};
    let io = |e: std::io::Error| Error::Index(seine_index::Error::io(path, e));
    let mut out = WalRead::default();
    let mut corrupt = Vec::new();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((out, corrupt)),
        Err(e) => return Err(io(e)),
    };
    let total = file.metadata().map_err(io)?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    let mut offset = 0u64;
    let mut line_no = 0usize;
    let mut pending: Option<CorruptRecord> = None;
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line).map_err(io)? as u64;
        if n == 0 {
            break;
        }
        line_no += 1;
        if line.last() != Some(&b'\n') {
            break; // torn tail: no newline, never acknowledged
        }
        if let Some(c) = pending.take() {
            // A bad record with more after it: corrupt, not torn.
            corrupt.push(c);
        }
        match decode_record(&line[..line.len() - 1]) {
            Ok(rec) => {
                out.records.push(rec);
                out.good_len = offset + n;
            }
            Err(reason) => {
                pending = Some(CorruptRecord {
                    line: line_no,
                    offset,
                    reason,
                });
            }
        }
        offset += n;
    }
    out.torn = total.saturating_sub(out.good_len);
    Ok((out, corrupt))
}

impl Wal {
    /// Opens the log of `generation` for appending after `good_len` bytes (what
    /// [`read_log`] verified): a torn tail is cut off, and logs of older generations
    /// (left by a compaction interrupted after its commit) are removed. Only the
    /// index's writer (holding its write lock) opens a `Wal`.
    pub fn open_writer(root: &Path, generation: u64, good_len: u64) -> Result<Wal> {
        let path = wal_path(root, generation);
        if let Ok(entries) = std::fs::read_dir(root) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let older = name
                    .strip_prefix("wal-")
                    .and_then(|n| n.strip_suffix(".jsonl"))
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|g| g < generation);
                if older {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let io = |e: std::io::Error| Error::Index(seine_index::Error::io(&path, e));
        let mut file = None;
        if path.exists() {
            let f = OpenOptions::new().append(true).open(&path).map_err(io)?;
            if f.metadata().map_err(io)?.len() != good_len {
                f.set_len(good_len).map_err(io)?;
                f.sync_all().map_err(io)?;
            }
            file = Some(f);
        }
        Ok(Wal {
            path,
            file,
            len: good_len,
            dirty: false,
        })
    }

    /// Appends records and fsyncs: when this returns they survive a crash. When it
    /// fails (a full disk, an I/O error) the log is cut back to what it was, so the
    /// failed records are never applied and the next append starts on a clean record;
    /// if even the cut fails, appends refuse until it succeeds.
    pub fn append(&mut self, records: &[WalRecord]) -> Result<()> {
        let mut buf = Vec::new();
        for r in records {
            encode_record(r, &mut buf)?;
        }
        let path = self.path.clone();
        let io = |e: std::io::Error| Error::storage(&path, e);
        if self.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(io)?;
            // The new name must survive a crash too.
            if let Some(dir) = self.path.parent() {
                File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
            }
            self.file = Some(f);
        }
        let file = self.file.as_mut().expect("opened above");
        if self.dirty {
            file.set_len(self.len)
                .and_then(|_| file.sync_all())
                .map_err(io)?;
            self.dirty = false;
        }
        let written = file.write_all(&buf).and_then(|_| file.sync_data());
        if let Err(e) = written {
            // Cut the partial records off: the log is as before this call.
            match file.set_len(self.len).and_then(|_| file.sync_all()) {
                Ok(()) => {}
                Err(_) => self.dirty = true,
            }
            return Err(io(e));
        }
        self.len += buf.len() as u64;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the log (after a compaction committed its records).
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Rewrites the log of `generation` keeping the records that verify (the corrupt
/// ones and a torn tail are dropped), after copying the original aside to
/// `<log>.corrupt-<unix seconds>`. Returns the records kept and the problems found.
/// Only for the index's writer: take its lock first.
pub fn repair_log(root: &Path, generation: u64) -> Result<(WalRead, Vec<CorruptRecord>)> {
    let path = wal_path(root, generation);
    let (read, corrupt) = scan_log(&path)?;
    if corrupt.is_empty() && read.torn == 0 {
        return Ok((read, corrupt));
    }
    let io = |e: std::io::Error| Error::Index(seine_index::Error::io(&path, e));
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let backup = path.with_extension(format!("jsonl.corrupt-{secs}"));
    std::fs::copy(&path, &backup).map_err(io)?;
    let tmp = path.with_extension("jsonl.repair");
    let mut buf = Vec::new();
    for r in &read.records {
        encode_record(r, &mut buf)?;
    }
    let mut f = File::create(&tmp).map_err(io)?;
    f.write_all(&buf).and_then(|_| f.sync_all()).map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(io)?;
    File::open(root).and_then(|d| d.sync_all()).map_err(io)?;
    Ok((read, corrupt))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(id: &str) -> WalRecord {
        WalRecord::Put {
            id: id.into(),
            title: String::new(),
            metadata: Default::default(),
            text: format!("text of {id}"),
        }
    }

    #[test]
    fn log_round_trip_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = wal_path(dir.path(), 3);
        assert!(read_log(&path).unwrap().records.is_empty());
        let mut wal = Wal::open_writer(dir.path(), 3, 0).unwrap();
        // Opening creates nothing: a read-only index stays untouched by readers.
        assert!(!wal.path().exists());
        wal.append(&[put("a"), WalRecord::Del { id: "a".into() }, put("b")])
            .unwrap();
        drop(wal);
        // A crash mid-append leaves half a record.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"57 0badf00d {\"op\":\"put\",\"id\":\"c\",\"te")
            .unwrap();
        drop(f);
        let before = std::fs::read(&path).unwrap();
        let read = read_log(&path).unwrap();
        assert_eq!(
            read.records,
            vec![put("a"), WalRecord::Del { id: "a".into() }, put("b")]
        );
        assert!(read.torn > 0);
        // Regression: reading cut the torn tail (a reader could cut a writer's record).
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // The writer cuts it: the next append starts on a clean line.
        let mut wal = Wal::open_writer(dir.path(), 3, read.good_len).unwrap();
        wal.append(&[put("d")]).unwrap();
        drop(wal);
        let recs = read_log(&path).unwrap().records;
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[3], put("d"));
        // An older generation's log is stale and removed by the next writer.
        Wal::open_writer(dir.path(), 4, 0).unwrap();
        assert!(!path.exists());
    }

    /// Regression: a record edited in place was accepted silently (JSON still parsed).
    #[test]
    fn checksums_catch_edits_and_repair_keeps_what_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = wal_path(dir.path(), 1);
        let mut wal = Wal::open_writer(dir.path(), 1, 0).unwrap();
        wal.append(&[put("a"), put("b"), put("c")]).unwrap();
        drop(wal);
        let good = std::fs::read_to_string(&path).unwrap();
        // The middle record edited (still valid JSON): corrupt, named by line.
        std::fs::write(&path, good.replacen("text of b", "text of B", 1)).unwrap();
        let err = read_log(&path).err().unwrap().to_string();
        assert!(
            err.contains("wal-000001.jsonl:2")
                && err.contains("checksum")
                && err.contains("seine repair"),
            "{err}"
        );
        let (read, corrupt) = repair_log(dir.path(), 1).unwrap();
        assert_eq!(corrupt.len(), 1);
        assert_eq!(corrupt[0].line, 2);
        assert_eq!(read.records, vec![put("a"), put("c")]);
        assert_eq!(read_log(&path).unwrap().records, vec![put("a"), put("c")]);
        let backups = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".corrupt-")
            })
            .count();
        assert_eq!(backups, 1);
        // The last record edited: torn (never acknowledged), dropped, not an error.
        std::fs::write(&path, good.replacen("text of c", "text of C", 1)).unwrap();
        let read = read_log(&path).unwrap();
        assert_eq!(read.records, vec![put("a"), put("b")]);
        // Logs of the first format (bare JSON lines) still read.
        std::fs::write(&path, "{\"op\":\"del\",\"id\":\"x\"}\n").unwrap();
        assert_eq!(
            read_log(&path).unwrap().records,
            vec![WalRecord::Del { id: "x".into() }]
        );
    }

    #[test]
    fn corrupt_middle_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = wal_path(dir.path(), 1);
        std::fs::write(
            &path,
            "{\"op\":\"del\",\"id\":\"x\"}\nnot json\n{\"op\":\"del\",\"id\":\"y\"}\n",
        )
        .unwrap();
        let err = read_log(&path).err().unwrap().to_string();
        assert!(err.contains("wal-000001.jsonl:2"), "{err}");
    }
}
