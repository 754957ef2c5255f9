//! The small binary tables seine writes beside tantivy's files (the lexical and sparse
//! block-max tables): written whole to a synced temporary file and renamed, read whole
//! (None when absent), decoded through a bounds-checked [`Reader`].

use std::path::Path;

use crate::{Error, Result};

/// Writes `bytes` to `dir/name` atomically (a temporary file synced, then renamed).
pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let io = |e: std::io::Error| Error::io(&path, e);
    {
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, &path).map_err(io)
}

/// Reads `dir/name` and decodes it; None when there is no such file. A decoding error
/// is `NotAnIndex` naming the file and `what` it is.
pub(crate) fn read<T>(
    dir: &Path,
    name: &str,
    what: &str,
    decode: impl FnOnce(&[u8]) -> std::result::Result<T, String>,
) -> Result<Option<T>> {
    let path = dir.join(name);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    decode(&bytes)
        .map(Some)
        .map_err(|message| Error::NotAnIndex {
            path: path.clone(),
            message: format!("{what}: {message}"),
        })
}

/// A cursor over a table's bytes; every read is checked against the end.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, at: 0 }
    }

    /// Bytes not read yet.
    pub(crate) fn left(&self) -> usize {
        self.buf.len() - self.at
    }

    pub(crate) fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| "truncated".to_string())?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    pub(crate) fn u32(&mut self) -> std::result::Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    pub(crate) fn u64(&mut self) -> std::result::Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    /// `n` items of `each` bytes (the count checked against the rest before reading).
    pub(crate) fn array<T>(
        &mut self,
        n: usize,
        each: usize,
        from: impl Fn(&[u8]) -> T,
    ) -> std::result::Result<Vec<T>, String> {
        let bytes = self.take(n.checked_mul(each).ok_or("count overflows")?)?;
        Ok(bytes.chunks_exact(each).map(from).collect())
    }
}
