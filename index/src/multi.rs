//! The token-vector store for late interaction: every document's token vectors in one
//! contiguous row-major matrix (`tokens.f16` by default, or `tokens.f32`), plus
//! `offsets.u64` (`n_docs + 1` little-endian row offsets). Both are written once by the
//! index build (and so committed atomically with the rest of the generation) and
//! memory-mapped for reading: the store is never loaded into RAM; the page cache holds
//! what searches touch.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use half::f16;
use memmap2::Mmap;
use seine_kernels::Tokens;
use serde::{Deserialize, Serialize};

use crate::{DocId, Error, Result};

const OFFSETS_FILE: &str = "offsets.u64";

/// Element type of the stored vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VectorDtype {
    #[default]
    F16,
    F32,
}

impl VectorDtype {
    fn file(self) -> &'static str {
        match self {
            VectorDtype::F16 => "tokens.f16",
            VectorDtype::F32 => "tokens.f32",
        }
    }

    fn bytes(self) -> usize {
        match self {
            VectorDtype::F16 => 2,
            VectorDtype::F32 => 4,
        }
    }
}

impl std::str::FromStr for VectorDtype {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f16" => Ok(VectorDtype::F16),
            "f32" => Ok(VectorDtype::F32),
            _ => Err(Error::InvalidSetting(format!(
                "unknown vector type {s:?} (expected f16 or f32)"
            ))),
        }
    }
}

/// How an index's token vectors were made (recorded in the manifest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiSettings {
    /// The multi-vector encoder (a name under models/ or a folder).
    pub model: String,
    /// Where the model was found at build time and the hash of its files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<crate::ModelId>,
    pub dim: usize,
    #[serde(default)]
    pub dtype: VectorDtype,
    /// Token vectors stored, over all documents.
    #[serde(default)]
    pub tokens: u64,
}

impl MultiSettings {
    /// Settings for `model` (`dim` filled in once the encoder is loaded).
    pub fn new(model: &str, dtype: VectorDtype) -> Self {
        MultiSettings {
            model: model.to_string(),
            model_id: None,
            dim: 0,
            dtype,
            tokens: 0,
        }
    }
}

/// Appends documents' token vectors; [`MultiWriter::finish`] writes the offsets.
pub(crate) struct MultiWriter {
    dir: PathBuf,
    dim: usize,
    dtype: VectorDtype,
    out: BufWriter<File>,
    offsets: Vec<u64>,
}

impl MultiWriter {
    pub(crate) fn create(dir: &Path, dim: usize, dtype: VectorDtype) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(dtype.file());
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(MultiWriter {
            dir: dir.to_path_buf(),
            dim,
            dtype,
            out: BufWriter::with_capacity(1 << 20, file),
            offsets: vec![0],
        })
    }

    /// Adds the next document's token vectors (row-major, `rows × dim`).
    pub(crate) fn push(&mut self, doc_id: &str, rows: &[f32]) -> Result<()> {
        if !rows.len().is_multiple_of(self.dim) {
            return Err(Error::InvalidSetting(format!(
                "document {doc_id:?}: {} floats is not a whole number of {}-d token vectors",
                rows.len(),
                self.dim
            )));
        }
        let path = self.dir.join(self.dtype.file());
        let mut buf = Vec::with_capacity(rows.len() * self.dtype.bytes());
        match self.dtype {
            VectorDtype::F16 => rows
                .iter()
                .for_each(|x| buf.extend_from_slice(&f16::from_f32(*x).to_le_bytes())),
            VectorDtype::F32 => rows
                .iter()
                .for_each(|x| buf.extend_from_slice(&x.to_le_bytes())),
        }
        self.out.write_all(&buf).map_err(|e| Error::io(&path, e))?;
        let last = *self.offsets.last().expect("starts with 0");
        self.offsets.push(last + (rows.len() / self.dim) as u64);
        Ok(())
    }

    /// Flushes the vectors and writes the offsets; returns the number of token vectors.
    pub(crate) fn finish(self) -> Result<u64> {
        let path = self.dir.join(self.dtype.file());
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        let opath = self.dir.join(OFFSETS_FILE);
        let bytes: Vec<u8> = self.offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
        std::fs::write(&opath, bytes).map_err(|e| Error::io(&opath, e))?;
        Ok(*self.offsets.last().expect("starts with 0"))
    }
}

/// A memory-mapped token-vector store.
pub struct MultiIndex {
    dim: usize,
    dtype: VectorDtype,
    tokens: Mmap,
    offsets: Vec<u64>,
}

impl MultiIndex {
    pub fn open(dir: &Path, settings: &MultiSettings) -> Result<Self> {
        let bad = |path: &Path, message: String| Error::NotAnIndex {
            path: path.to_path_buf(),
            message,
        };
        let opath = dir.join(OFFSETS_FILE);
        let raw = std::fs::read(&opath).map_err(|e| Error::io(&opath, e))?;
        if !raw.len().is_multiple_of(8) || raw.len() < 8 {
            return Err(bad(
                &opath,
                format!("{} bytes is not a list of u64 offsets", raw.len()),
            ));
        }
        let offsets: Vec<u64> = raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        if offsets[0] != 0 || offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err(bad(&opath, "offsets are not non-decreasing from 0".into()));
        }
        let tpath = dir.join(settings.dtype.file());
        let file = File::open(&tpath).map_err(|e| Error::io(&tpath, e))?;
        // SAFETY: the generation's files are never modified after commit; seine maps
        // them read-only.
        let tokens = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&tpath, e))?;
        let want =
            *offsets.last().expect("non-empty") as usize * settings.dim * settings.dtype.bytes();
        if tokens.len() != want {
            return Err(bad(
                &tpath,
                format!("{} bytes, the offsets need {want}", tokens.len()),
            ));
        }
        #[cfg(unix)]
        let _ = tokens.advise(memmap2::Advice::Random);
        Ok(MultiIndex {
            dim: settings.dim,
            dtype: settings.dtype,
            tokens,
            offsets,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn dtype(&self) -> VectorDtype {
        self.dtype
    }

    /// Documents in the store.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A document's token vectors (borrowed from the mapping).
    pub fn doc(&self, doc: DocId) -> Option<Tokens<'_>> {
        let d = doc as usize;
        if d >= self.len() {
            return None;
        }
        let (a, b) = (
            self.offsets[d] as usize * self.dim,
            self.offsets[d + 1] as usize * self.dim,
        );
        Some(match self.dtype {
            VectorDtype::F16 => {
                let bytes = &self.tokens[a * 2..b * 2];
                // SAFETY: the mapping is page-aligned and every row starts at a multiple
                // of 2 bytes; f16 has no invalid bit patterns; little-endian targets only.
                Tokens::F16(unsafe {
                    std::slice::from_raw_parts(bytes.as_ptr() as *const f16, b - a)
                })
            }
            VectorDtype::F32 => {
                let bytes = &self.tokens[a * 4..b * 4];
                // SAFETY: as above, with 4-byte alignment of every row.
                Tokens::F32(unsafe {
                    std::slice::from_raw_parts(bytes.as_ptr() as *const f32, b - a)
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_f16_and_f32() {
        for dtype in [VectorDtype::F16, VectorDtype::F32] {
            let t = tempfile::tempdir().unwrap();
            let mut w = MultiWriter::create(t.path(), 3, dtype).unwrap();
            w.push("a", &[0.5, -1.0, 2.0, 0.25, 0.0, 1.0]).unwrap();
            w.push("empty", &[]).unwrap();
            w.push("c", &[1.0, 2.0, 3.0]).unwrap();
            assert!(w.push("bad", &[1.0]).is_err());
            assert_eq!(w.finish().unwrap(), 3);
            let s = MultiSettings {
                dim: 3,
                tokens: 3,
                ..MultiSettings::new("m", dtype)
            };
            let idx = MultiIndex::open(t.path(), &s).unwrap();
            assert_eq!(idx.len(), 3);
            assert_eq!(idx.doc(0).unwrap().rows(3), 2);
            assert_eq!(idx.doc(1).unwrap().rows(3), 0);
            let q = [1.0, 0.0, 0.0];
            assert_eq!(
                seine_kernels::maxsim::maxsim(&q, 3, idx.doc(0).unwrap()),
                0.5
            );
            assert_eq!(
                seine_kernels::maxsim::maxsim(&q, 3, idx.doc(2).unwrap()),
                1.0
            );
            assert!(idx.doc(3).is_none());
            // A truncated store is refused.
            let f = t.path().join(dtype.file());
            let len = std::fs::metadata(&f).unwrap().len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&f)
                .unwrap()
                .set_len(len - 2)
                .unwrap();
            assert!(MultiIndex::open(t.path(), &s).is_err());
        }
    }
}
