//! The compressed token-vector store (ColBERTv2 residual compression, PLAID's
//! centroid lists). Written by [`compress`] at the end of a build from the
//! uncompressed vectors the writer streamed to a temporary file (then removed), so the
//! codec's centroids are trained on the corpus being indexed:
//!
//! ```text
//! multi/codec.json      dim, bits, k, cut-offs, bucket values, normalize
//! multi/centroids.f16   k × dim
//! multi/cids.u32        one centroid id per token (token order = offsets.u64)
//! multi/codes.bin       tokens × ⌈dim·bits/8⌉ packed residual codes
//! multi/ivf.u64         k + 1 offsets into ivf.u32
//! multi/ivf.u32         for each centroid, the documents with a token assigned to it
//! multi/warp.*          the tokens again, centroid-major, for WARP (`warp.rs`)
//! ```
//!
//! Everything is written inside the generation being built (committed atomically with
//! it) and memory-mapped for reading.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use memmap2::Mmap;
use seine_kernels::residual::Codec;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub(super) const CODEC_FILE: &str = "codec.json";
const CENTROIDS_FILE: &str = "centroids.f16";
const CIDS_FILE: &str = "cids.u32";
const CODES_FILE: &str = "codes.bin";
const IVF_OFFSETS: &str = "ivf.u64";
const IVF_DOCS: &str = "ivf.u32";

/// Tokens drawn for k-means (at most; the whole store when smaller).
const SAMPLE_TOKENS: usize = 1 << 17;
/// Tokens encoded per step.
const ENCODE_CHUNK: usize = 1 << 16;
/// Lloyd iterations (ColBERTv2's default is 4).
const KMEANS_ITERS: usize = 4;
const SEED: u64 = 0x5e17e;

#[derive(Serialize, Deserialize)]
struct CodecFile {
    dim: usize,
    bits: u8,
    k: usize,
    cutoffs: Vec<f32>,
    weights: Vec<f32>,
    normalize: bool,
}

/// ColBERTv2's number of centroids for `n` token vectors: the power of two at or below
/// `16·√n`, at least 1 and at most `n`.
pub fn auto_centroids(n: u64) -> usize {
    let t = (16.0 * (n as f64).sqrt()).max(1.0);
    (1usize << (t.log2().floor() as u32)).min(n.max(1) as usize)
}

fn write_all(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = BufWriter::new(File::create(path).map_err(|e| Error::io(path, e))?);
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    let f = f
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// Reads token rows `j0..j0 + n` as f32 into the buffer (`n × dim`).
pub(super) type RowReader<'a> = dyn Fn(usize, usize, &mut [f32]) -> Result<()> + 'a;

/// Where the codec comes from.
pub(super) enum How {
    /// Trained on a sample of the vectors: `bits` per dimension, `centroids` (or
    /// [`auto_centroids`]).
    Train { bits: u8, centroids: Option<usize> },
    /// Given (a compaction keeps its generation's codec).
    Reuse(Codec),
}

/// Compresses `n` token vectors (read as f32 rows by `rows(j0, n, out)`) into `dir`,
/// with `offsets` giving each document's tokens. Returns the number of centroids.
pub(super) fn compress(
    dir: &Path,
    dim: usize,
    how: How,
    offsets: &[u64],
    rows: &RowReader<'_>,
) -> Result<usize> {
    let n = *offsets.last().expect("offsets start with 0") as usize;
    let codec = match how {
        How::Reuse(c) => c,
        How::Train { .. } if n == 0 => {
            return Err(Error::InvalidSetting(
                "no token vectors to compress (every document is empty)".into(),
            ));
        }
        How::Train { bits, centroids } => train(dim, bits, centroids, n, rows)?,
    };
    let bits = codec.bits();
    // Encode every token, chunk by chunk.
    let (cpath, rpath) = (dir.join(CIDS_FILE), dir.join(CODES_FILE));
    let mut cids_out = BufWriter::new(File::create(&cpath).map_err(|e| Error::io(&cpath, e))?);
    let mut codes_out = BufWriter::new(File::create(&rpath).map_err(|e| Error::io(&rpath, e))?);
    let mut all_cids = Vec::with_capacity(n);
    let mut buf = vec![0f32; ENCODE_CHUNK * dim];
    for j0 in (0..n).step_by(ENCODE_CHUNK) {
        let m = (n - j0).min(ENCODE_CHUNK);
        rows(j0, m, &mut buf)?;
        let (mut cids, mut codes) = (Vec::with_capacity(m), Vec::new());
        codec.encode(&buf[..m * dim], &mut cids, &mut codes);
        let cb: Vec<u8> = cids.iter().flat_map(|c| c.to_le_bytes()).collect();
        cids_out.write_all(&cb).map_err(|e| Error::io(&cpath, e))?;
        codes_out
            .write_all(&codes)
            .map_err(|e| Error::io(&rpath, e))?;
        all_cids.extend_from_slice(&cids);
    }
    for (w, p) in [(cids_out, &cpath), (codes_out, &rpath)] {
        let f = w.into_inner().map_err(|e| Error::io(p, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(p, e))?;
    }
    // Centroid → documents lists.
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(n);
    for (d, w) in offsets.windows(2).enumerate() {
        for &c in &all_cids[w[0] as usize..w[1] as usize] {
            pairs.push((c, d as u32));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let mut ivf_off = vec![0u64; codec.k() + 1];
    for &(c, _) in &pairs {
        ivf_off[c as usize + 1] += 1;
    }
    for c in 0..codec.k() {
        ivf_off[c + 1] += ivf_off[c];
    }
    let docs: Vec<u8> = pairs.iter().flat_map(|(_, d)| d.to_le_bytes()).collect();
    drop(pairs);
    write_all(&dir.join(IVF_DOCS), &docs)?;
    drop(docs);
    // WARP's centroid-major token lists, from the codes just written.
    let codes = map(&rpath)?;
    super::warp::write(dir, &codec, offsets, &all_cids, &codes)?;
    drop(codes);
    let off: Vec<u8> = ivf_off.iter().flat_map(|o| o.to_le_bytes()).collect();
    write_all(&dir.join(IVF_OFFSETS), &off)?;
    let half: Vec<u8> = codec
        .centroids()
        .iter()
        .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
        .collect();
    write_all(&dir.join(CENTROIDS_FILE), &half)?;
    let meta = CodecFile {
        dim,
        bits,
        k: codec.k(),
        cutoffs: codec.cutoffs().to_vec(),
        weights: codec.weights().to_vec(),
        normalize: codec.normalize(),
    };
    let json = serde_json::to_vec_pretty(&meta).expect("serializable");
    write_all(&dir.join(CODEC_FILE), &json)?;
    Ok(codec.k())
}

fn train(
    dim: usize,
    bits: u8,
    centroids: Option<usize>,
    n: usize,
    rows: &RowReader<'_>,
) -> Result<Codec> {
    let k = centroids
        .unwrap_or_else(|| auto_centroids(n as u64))
        .clamp(1, n);
    // A seeded sample of token positions, in store order.
    let mut rng = seine_kernels::rng::Rng::new(SEED);
    let mut pick: Vec<usize> = if n <= SAMPLE_TOKENS {
        (0..n).collect()
    } else {
        (0..SAMPLE_TOKENS).map(|_| rng.below(n)).collect()
    };
    pick.sort_unstable();
    pick.dedup();
    let mut sample = vec![0f32; pick.len() * dim];
    for (o, &j) in sample.chunks_exact_mut(dim).zip(&pick) {
        rows(j, 1, o)?;
    }
    let c = Codec::train(&sample, dim, k, bits, KMEANS_ITERS, SEED);
    // Centroids are stored as f16 (as ColBERTv2 does): round them before encoding, so
    // the codes are made against exactly the centroids decoding will use.
    let half: Vec<f32> = c
        .centroids()
        .iter()
        .map(|&x| half::f16::from_f32(x).to_f32())
        .collect();
    let (cut, w) = (c.cutoffs().to_vec(), c.weights().to_vec());
    Ok(Codec::new(dim, bits, half, cut, w, c.normalize()).expect("same shapes"))
}

/// An opened compressed store.
pub(super) struct Store {
    pub(super) codec: Codec,
    cids: Mmap,
    codes: Mmap,
    ivf_offsets: Vec<u64>,
    ivf_docs: Mmap,
    pub(super) warp: Option<super::warp::WarpLists>,
}

fn map(path: &Path) -> Result<Mmap> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: the generation's files are never modified after commit.
    unsafe { Mmap::map(&f) }.map_err(|e| Error::io(path, e))
}

fn bad(path: &Path, message: String) -> Error {
    Error::NotAnIndex {
        path: path.to_path_buf(),
        message,
    }
}

fn read_u64s(path: &Path) -> Result<Vec<u64>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if !raw.len().is_multiple_of(8) {
        return Err(bad(
            path,
            format!("{} bytes is not a list of u64", raw.len()),
        ));
    }
    Ok(raw
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

/// Reinterprets a mapping as u32s (page-aligned, length checked at open to be a
/// multiple of 4; little-endian targets only).
fn u32s(m: &Mmap) -> &[u32] {
    bytemuck::cast_slice(&m[..])
}

impl Store {
    pub(super) fn open(dir: &Path, dim: usize, tokens: u64, n_docs: usize) -> Result<Store> {
        let cpath = dir.join(CODEC_FILE);
        let raw = std::fs::read(&cpath).map_err(|e| Error::io(&cpath, e))?;
        let meta: CodecFile =
            serde_json::from_slice(&raw).map_err(|e| bad(&cpath, e.to_string()))?;
        if meta.dim != dim {
            return Err(bad(&cpath, format!("dimension {} ≠ {dim}", meta.dim)));
        }
        let zpath = dir.join(CENTROIDS_FILE);
        let craw = std::fs::read(&zpath).map_err(|e| Error::io(&zpath, e))?;
        if craw.len() != meta.k * dim * 2 {
            return Err(bad(
                &zpath,
                format!("{} bytes for {} centroids", craw.len(), meta.k),
            ));
        }
        let centroids = craw
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect();
        let codec = Codec::new(
            dim,
            meta.bits,
            centroids,
            meta.cutoffs,
            meta.weights,
            meta.normalize,
        )
        .map_err(|m| bad(&cpath, m))?;
        let cids = map(&dir.join(CIDS_FILE))?;
        let codes = map(&dir.join(CODES_FILE))?;
        let n = tokens as usize;
        if cids.len() != n * 4 {
            return Err(bad(
                &dir.join(CIDS_FILE),
                format!("{} bytes, {n} tokens", cids.len()),
            ));
        }
        if codes.len() != n * codec.row_bytes() {
            let p = dir.join(CODES_FILE);
            return Err(bad(&p, format!("{} bytes, {n} tokens", codes.len())));
        }
        if u32s(&cids).iter().any(|&c| c as usize >= codec.k()) {
            return Err(bad(
                &dir.join(CIDS_FILE),
                "a centroid id out of range".into(),
            ));
        }
        let opath = dir.join(IVF_OFFSETS);
        let ivf_offsets = read_u64s(&opath)?;
        let ivf_docs = map(&dir.join(IVF_DOCS))?;
        if ivf_offsets.len() != codec.k() + 1
            || ivf_offsets.windows(2).any(|w| w[0] > w[1])
            || ivf_docs.len() as u64 != ivf_offsets[codec.k()] * 4
        {
            return Err(bad(&opath, "centroid lists do not match ivf.u32".into()));
        }
        #[cfg(unix)]
        for m in [&cids, &codes] {
            let _ = m.advise(memmap2::Advice::Random);
        }
        let warp = super::warp::WarpLists::open(dir, &codec, tokens, n_docs)?;
        Ok(Store {
            codec,
            cids,
            codes,
            ivf_offsets,
            ivf_docs,
            warp,
        })
    }

    /// Tokens `a..b` as compressed rows.
    pub(super) fn rows(&self, a: usize, b: usize) -> seine_kernels::Compressed<'_> {
        let rb = self.codec.row_bytes();
        seine_kernels::Compressed {
            codec: &self.codec,
            cids: &u32s(&self.cids)[a..b],
            codes: &self.codes[a * rb..b * rb],
        }
    }

    /// The documents with a token assigned to centroid `c` (ascending).
    pub(super) fn centroid_docs(&self, c: usize) -> &[u32] {
        let (a, b) = (
            self.ivf_offsets[c] as usize,
            self.ivf_offsets[c + 1] as usize,
        );
        &u32s(&self.ivf_docs)[a..b]
    }

    /// On-disk bytes of the codes, centroid ids, centroid lists and centroids.
    pub(super) fn bytes(&self) -> [u64; 4] {
        [
            self.codes.len() as u64,
            self.cids.len() as u64,
            self.ivf_docs.len() as u64 + self.ivf_offsets.len() as u64 * 8,
            (self.codec.centroids().len() * 2) as u64,
        ]
    }
}
