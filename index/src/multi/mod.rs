//! The token-vector store for late interaction: every document's token vectors in one
//! contiguous row-major matrix (`tokens.f16` by default, or `tokens.f32`), or
//! residual-compressed (`compressed.rs`: centroid id + 1/2/4-bit residual per token,
//! with centroid → document lists for PLAID candidate generation), plus `offsets.u64`
//! (`n_docs + 1` little-endian row offsets). Everything is written once by the index
//! build (and so committed atomically with the rest of the generation) and
//! memory-mapped for reading: the store is never loaded into RAM; the page cache holds
//! what searches touch.

mod compressed;
mod warp;

pub use compressed::auto_centroids;
pub use warp::{Cluster, WarpLists};

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

impl std::fmt::Display for VectorDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VectorDtype::F16 => "f16",
            VectorDtype::F32 => "f32",
        })
    }
}

/// How token vectors are stored: as they are (in [`VectorDtype`]) or
/// residual-compressed with `b` bits per dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Bits(u8),
}

impl std::str::FromStr for Compression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Compression::None),
            "1bit" => Ok(Compression::Bits(1)),
            "2bit" => Ok(Compression::Bits(2)),
            "4bit" => Ok(Compression::Bits(4)),
            _ => Err(Error::InvalidSetting(format!(
                "unknown token-vector compression {s:?} (expected none, 1bit, 2bit or 4bit)"
            ))),
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compression::None => write!(f, "none"),
            Compression::Bits(b) => write!(f, "{b}bit"),
        }
    }
}

impl Serialize for Compression {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Compression {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
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
    /// Residual compression of the stored vectors.
    #[serde(default, skip_serializing_if = "is_none")]
    pub compression: Compression,
    /// Centroids of the compression codec: asked for (`None` = ColBERTv2's
    /// `2^⌊log2(16·√tokens)⌋`), then the number trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub centroids: Option<usize>,
}

fn is_none(c: &Compression) -> bool {
    *c == Compression::None
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
            compression: Compression::None,
            centroids: None,
        }
    }
}

/// Appends documents' token vectors; [`MultiWriter::finish`] writes the offsets (and,
/// when compressing, compresses the vectors streamed to a temporary file).
pub(crate) struct MultiWriter {
    dir: PathBuf,
    dim: usize,
    dtype: VectorDtype,
    compression: Compression,
    centroids: Option<usize>,
    /// A codec to compress with instead of training one.
    codec: Option<seine_kernels::residual::Codec>,
    /// Where the vectors go: the store itself, or the temporary file to compress.
    file: PathBuf,
    out: BufWriter<File>,
    offsets: Vec<u64>,
}

/// What [`MultiWriter::finish`] wrote.
pub(crate) struct MultiStats {
    pub tokens: u64,
    pub centroids: Option<usize>,
}

impl MultiWriter {
    pub(crate) fn create(dir: &Path, settings: &MultiSettings) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let file = match settings.compression {
            Compression::None => dir.join(settings.dtype.file()),
            Compression::Bits(_) => dir.join(format!("uncompressed.{}", settings.dtype.file())),
        };
        let f = File::create(&file).map_err(|e| Error::io(&file, e))?;
        Ok(MultiWriter {
            dir: dir.to_path_buf(),
            dim: settings.dim,
            dtype: settings.dtype,
            compression: settings.compression,
            centroids: settings.centroids,
            codec: None,
            file,
            out: BufWriter::with_capacity(1 << 20, f),
            offsets: vec![0],
        })
    }

    pub(crate) fn reuse_codec(&mut self, codec: seine_kernels::residual::Codec) {
        self.codec = Some(codec);
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
        let mut buf = Vec::with_capacity(rows.len() * self.dtype.bytes());
        match self.dtype {
            VectorDtype::F16 => rows
                .iter()
                .for_each(|x| buf.extend_from_slice(&f16::from_f32(*x).to_le_bytes())),
            VectorDtype::F32 => rows
                .iter()
                .for_each(|x| buf.extend_from_slice(&x.to_le_bytes())),
        }
        self.out
            .write_all(&buf)
            .map_err(|e| Error::io(&self.file, e))?;
        let last = *self.offsets.last().expect("starts with 0");
        self.offsets.push(last + (rows.len() / self.dim) as u64);
        Ok(())
    }

    /// Flushes the vectors and writes the offsets (compressing first when asked).
    pub(crate) fn finish(self) -> Result<MultiStats> {
        let path = &self.file;
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
        let opath = self.dir.join(OFFSETS_FILE);
        let bytes: Vec<u8> = self.offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
        std::fs::write(&opath, bytes).map_err(|e| Error::io(&opath, e))?;
        let tokens = *self.offsets.last().expect("starts with 0");
        let centroids = match self.compression {
            Compression::None => None,
            Compression::Bits(bits) => {
                // Read back with plain reads, chunk by chunk (a mapping of the whole
                // file would count every page read in the build's resident memory).
                let raw =
                    std::cell::RefCell::new(File::open(path).map_err(|e| Error::io(path, e))?);
                let buf = std::cell::RefCell::new(Vec::<f32>::new());
                let (dim, dtype) = (self.dim, self.dtype);
                let rows = |j0: usize, n: usize, out: &mut [f32]| -> Result<()> {
                    use std::io::{Read, Seek, SeekFrom};
                    let bytes = n * dim * dtype.bytes();
                    let mut b = buf.borrow_mut();
                    b.resize(bytes.div_ceil(4), 0.0);
                    let view = &mut bytemuck::cast_slice_mut::<f32, u8>(&mut b[..])[..bytes];
                    let mut f = raw.borrow_mut();
                    f.seek(SeekFrom::Start((j0 * dim * dtype.bytes()) as u64))
                        .and_then(|_| f.read_exact(view))
                        .map_err(|e| Error::io(path, e))?;
                    match dtype {
                        VectorDtype::F16 => Tokens::F16(cast(view)),
                        VectorDtype::F32 => Tokens::F32(cast(view)),
                    }
                    .rows_f32(0, n, dim, out);
                    Ok(())
                };
                let how = match self.codec {
                    Some(c) if c.bits() == bits && c.dim() == dim => compressed::How::Reuse(c),
                    _ => compressed::How::Train {
                        bits,
                        centroids: self.centroids,
                    },
                };
                let k = compressed::compress(&self.dir, dim, how, &self.offsets, &rows)?;
                std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
                Some(k)
            }
        };
        Ok(MultiStats { tokens, centroids })
    }
}

/// Reinterprets bytes of a page-aligned mapping as f16/f32 (little-endian targets;
/// bytemuck checks length and alignment).
fn cast<T: bytemuck::Pod>(b: &[u8]) -> &[T] {
    bytemuck::cast_slice(b)
}

/// A memory-mapped token-vector store.
pub struct MultiIndex {
    dim: usize,
    dtype: VectorDtype,
    /// The uncompressed vectors (empty when compressed).
    tokens: Option<Mmap>,
    comp: Option<compressed::Store>,
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
        let n = *offsets.last().expect("non-empty");
        let (mut tokens, mut comp) = (None, None);
        if settings.compression == Compression::None {
            let tpath = dir.join(settings.dtype.file());
            let file = File::open(&tpath).map_err(|e| Error::io(&tpath, e))?;
            // SAFETY: the generation's files are never modified after commit; seine
            // maps them read-only.
            let t = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&tpath, e))?;
            let want = n as usize * settings.dim * settings.dtype.bytes();
            if t.len() != want {
                return Err(bad(
                    &tpath,
                    format!("{} bytes, the offsets need {want}", t.len()),
                ));
            }
            #[cfg(unix)]
            let _ = t.advise(memmap2::Advice::Random);
            tokens = Some(t);
        } else {
            comp = Some(compressed::Store::open(
                dir,
                settings.dim,
                n,
                offsets.len() - 1,
            )?);
        }
        Ok(MultiIndex {
            dim: settings.dim,
            dtype: settings.dtype,
            tokens,
            comp,
            offsets,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn dtype(&self) -> VectorDtype {
        self.dtype
    }

    /// The residual codec, when the store is compressed.
    pub fn codec(&self) -> Option<&seine_kernels::residual::Codec> {
        self.comp.as_ref().map(|c| &c.codec)
    }

    /// WARP's centroid-major token lists (compressed stores written since WARP).
    pub fn warp(&self) -> Option<&WarpLists> {
        self.comp.as_ref()?.warp.as_ref()
    }

    /// The documents with a token assigned to centroid `c` (compressed stores only).
    pub fn centroid_docs(&self, c: usize) -> &[u32] {
        self.comp.as_ref().map_or(&[], |s| s.centroid_docs(c))
    }

    /// A document's centroid ids (compressed stores only).
    pub fn doc_centroids(&self, doc: DocId) -> Option<&[u32]> {
        let (a, b) = self.span(doc)?;
        Some(self.comp.as_ref()?.rows(a, b).cids)
    }

    /// Bytes on disk by part: vectors or codes, centroid ids, centroid lists,
    /// centroids, offsets.
    pub fn bytes(&self) -> [u64; 5] {
        let off = self.offsets.len() as u64 * 8;
        match (&self.tokens, &self.comp) {
            (_, Some(c)) => {
                let [a, b, l, z] = c.bytes();
                [a, b, l, z, off]
            }
            (Some(t), None) => [t.len() as u64, 0, 0, 0, off],
            (None, None) => [0, 0, 0, 0, off],
        }
    }

    /// Documents in the store.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn span(&self, doc: DocId) -> Option<(usize, usize)> {
        let d = doc as usize;
        (d < self.len()).then(|| (self.offsets[d] as usize, self.offsets[d + 1] as usize))
    }

    /// A document's token vectors (borrowed from the mapping).
    pub fn doc(&self, doc: DocId) -> Option<Tokens<'_>> {
        let (ra, rb) = self.span(doc)?;
        if let Some(c) = &self.comp {
            return Some(Tokens::Compressed(c.rows(ra, rb)));
        }
        let t = self.tokens.as_ref().expect("uncompressed store");
        let (a, b) = (ra * self.dim, rb * self.dim);
        Some(match self.dtype {
            VectorDtype::F16 => Tokens::F16(cast(&t[a * 2..b * 2])),
            VectorDtype::F32 => Tokens::F32(cast(&t[a * 4..b * 4])),
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
            let s = MultiSettings {
                dim: 3,
                tokens: 3,
                ..MultiSettings::new("m", dtype)
            };
            let mut w = MultiWriter::create(t.path(), &s).unwrap();
            w.push("a", &[0.5, -1.0, 2.0, 0.25, 0.0, 1.0]).unwrap();
            w.push("empty", &[]).unwrap();
            w.push("c", &[1.0, 2.0, 3.0]).unwrap();
            assert!(w.push("bad", &[1.0]).is_err());
            assert_eq!(w.finish().unwrap().tokens, 3);
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

    #[test]
    fn compressed_store_round_trip_and_centroid_lists() {
        let t = tempfile::tempdir().unwrap();
        let dim = 16;
        let mut s = MultiSettings {
            dim,
            compression: Compression::Bits(2),
            centroids: Some(16),
            ..MultiSettings::new("m", VectorDtype::F16)
        };
        let mut w = MultiWriter::create(t.path(), &s).unwrap();
        let mut x = 0x1234_5678u64;
        let mut docs = Vec::new();
        for d in 0..200 {
            let rows = d % 13;
            let mut v: Vec<f32> = (0..rows * dim)
                .map(|_| seine_kernels::rng::centered(&mut x))
                .collect();
            v.chunks_exact_mut(dim).for_each(|r| {
                seine_kernels::l2_normalize(r);
            });
            w.push(&format!("d{d}"), &v).unwrap();
            docs.push(v);
        }
        let stats = w.finish().unwrap();
        assert_eq!(stats.centroids, Some(16));
        (s.tokens, s.centroids) = (stats.tokens, stats.centroids);
        let names: Vec<String> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with("uncompressed")),
            "{names:?}"
        );
        let idx = MultiIndex::open(t.path(), &s).unwrap();
        let codec = idx.codec().unwrap();
        assert_eq!((codec.k(), codec.bits()), (16, 2));
        let q: Vec<f32> = docs[5][..3 * dim].to_vec();
        for (d, v) in docs.iter().enumerate() {
            let doc = idx.doc(d as u32).unwrap();
            assert_eq!(doc.rows(dim), v.len() / dim);
            // Decoded vectors are close to the originals (2 bits, normalized).
            let dec = doc.to_f32(dim);
            for (a, b) in dec.chunks_exact(dim).zip(v.chunks_exact(dim)) {
                let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                assert!(cos > 0.7, "doc {d}: cosine {cos}");
            }
            // MaxSim on the compressed tokens = MaxSim on the decoded ones.
            let got = seine_kernels::maxsim::maxsim(&q, dim, doc);
            let want = seine_kernels::maxsim::maxsim(&q, dim, Tokens::F32(&dec));
            assert!((got - want).abs() < 1e-4, "doc {d}: {got} vs {want}");
            // Every centroid of the document lists it.
            for &c in idx.doc_centroids(d as u32).unwrap() {
                assert!(idx.centroid_docs(c as usize).contains(&(d as u32)));
            }
        }
        // The lists hold exactly the (centroid, document) pairs of the store.
        let listed: usize = (0..16).map(|c| idx.centroid_docs(c).len()).sum();
        let pairs: usize = (0..200u32)
            .map(|d| {
                let mut c = idx.doc_centroids(d).unwrap().to_vec();
                c.sort();
                c.dedup();
                c.len()
            })
            .sum();
        assert_eq!(listed, pairs);
        // A truncated code file is refused.
        let f = t.path().join("codes.bin");
        let len = std::fs::metadata(&f).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&f)
            .unwrap()
            .set_len(len - 1)
            .unwrap();
        assert!(MultiIndex::open(t.path(), &s).is_err());
        assert!("3bit".parse::<Compression>().is_err());
        assert_eq!("4bit".parse::<Compression>().unwrap().to_string(), "4bit");
    }
}
