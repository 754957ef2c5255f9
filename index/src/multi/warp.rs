//! The token lists WARP searches (Scheerer et al., SIGIR'25): every token of the
//! compressed store again, grouped by centroid, so that scoring the tokens of one probed
//! centroid streams through contiguous memory:
//!
//! ```text
//! multi/warp.u64     k + 1 offsets (tokens before centroid c)
//! multi/warp.u32     the document of each token, centroid-major, ascending within one
//! multi/warp.codes   the token's packed residual code (codes.bin's row)
//! multi/warp.norm    1 / ‖c + r̂‖ of each token as f32 (1 when the codec does not
//!                    normalize): the decoded vector MaxSim scores is (c + r̂)/‖c + r̂‖,
//!                    so q·that = (q·c + q·r̂) · norm — exact without decoding
//! ```
//!
//! Written by `compressed::compress` after the doc-order files (and so committed with
//! the generation); a store written before WARP has none of them, and late-interaction
//! search falls back to PLAID there. Costs `4 + row_bytes + 4` bytes per token on disk.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use memmap2::Mmap;
use seine_kernels::residual::Codec;

use crate::{Error, Result};

const OFFSETS: &str = "warp.u64";
const DOCS: &str = "warp.u32";
const CODES: &str = "warp.codes";
const NORMS: &str = "warp.norm";

/// Writes the centroid-major lists of `cids` (one per token, doc order), `codes`
/// (doc-order rows) and `offsets` (each document's tokens) into `dir`.
pub(super) fn write(
    dir: &Path,
    codec: &Codec,
    offsets: &[u64],
    cids: &[u32],
    codes: &[u8],
) -> Result<()> {
    let (k, rb, dim) = (codec.k(), codec.row_bytes(), codec.dim());
    let n = cids.len();
    assert_eq!(codes.len(), n * rb, "one code row per token");
    // Counting sort by centroid (stable: doc order inside a centroid).
    let mut start = vec![0u64; k + 1];
    for &c in cids {
        start[c as usize + 1] += 1;
    }
    for c in 0..k {
        start[c + 1] += start[c];
    }
    let mut next: Vec<u64> = start[..k].to_vec();
    let mut order = vec![0u32; n];
    for (t, &c) in cids.iter().enumerate() {
        order[next[c as usize] as usize] = t as u32;
        next[c as usize] += 1;
    }
    let mut doc_of = vec![0u32; n];
    for (d, w) in offsets.windows(2).enumerate() {
        doc_of[w[0] as usize..w[1] as usize].fill(d as u32);
    }
    let create = |name: &str| -> Result<(BufWriter<File>, std::path::PathBuf)> {
        let p = dir.join(name);
        Ok((
            BufWriter::new(File::create(&p).map_err(|e| Error::io(&p, e))?),
            p,
        ))
    };
    let (mut docs_w, dp) = create(DOCS)?;
    let (mut codes_w, cp) = create(CODES)?;
    let (mut norms_w, np) = create(NORMS)?;
    let mut row = vec![0f32; dim];
    for &t in &order {
        let t = t as usize;
        let code = &codes[t * rb..(t + 1) * rb];
        docs_w
            .write_all(&doc_of[t].to_le_bytes())
            .map_err(|e| Error::io(&dp, e))?;
        codes_w.write_all(code).map_err(|e| Error::io(&cp, e))?;
        let inv = if codec.normalize() {
            codec.decode_raw(cids[t], code, &mut row);
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 { 1.0 / norm } else { 0.0 }
        } else {
            1.0
        };
        norms_w
            .write_all(&inv.to_le_bytes())
            .map_err(|e| Error::io(&np, e))?;
    }
    for (w, p) in [(docs_w, &dp), (codes_w, &cp), (norms_w, &np)] {
        let f = w.into_inner().map_err(|e| Error::io(p, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(p, e))?;
    }
    let off: Vec<u8> = start.iter().flat_map(|o| o.to_le_bytes()).collect();
    let op = dir.join(OFFSETS);
    let mut f = File::create(&op).map_err(|e| Error::io(&op, e))?;
    f.write_all(&off).map_err(|e| Error::io(&op, e))?;
    f.sync_all().map_err(|e| Error::io(&op, e))
}

/// The opened lists.
pub struct WarpLists {
    offsets: Vec<u64>,
    docs: Mmap,
    codes: Mmap,
    norms: Mmap,
    row_bytes: usize,
}

/// The tokens of one centroid: their documents, packed codes and inverse norms.
pub struct Cluster<'a> {
    pub docs: &'a [u32],
    pub codes: &'a [u8],
    pub norms: &'a [f32],
}

fn bad(path: &Path, message: String) -> Error {
    Error::NotAnIndex {
        path: path.to_path_buf(),
        message,
    }
}

impl WarpLists {
    /// Opens the lists of a store of `tokens` tokens and `n_docs` documents; `None` when
    /// the store predates them.
    pub(super) fn open(
        dir: &Path,
        codec: &Codec,
        tokens: u64,
        n_docs: usize,
    ) -> Result<Option<Self>> {
        let op = dir.join(OFFSETS);
        if !op.exists() {
            return Ok(None);
        }
        let raw = std::fs::read(&op).map_err(|e| Error::io(&op, e))?;
        if raw.len() != (codec.k() + 1) * 8 {
            return Err(bad(
                &op,
                format!("{} bytes for {} centroids", raw.len(), codec.k()),
            ));
        }
        let offsets: Vec<u64> = raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        if offsets[0] != 0
            || offsets.windows(2).any(|w| w[0] > w[1])
            || offsets[codec.k()] != tokens
        {
            return Err(bad(
                &op,
                "offsets do not cover the store's tokens in order".into(),
            ));
        }
        let n = tokens as usize;
        let rb = codec.row_bytes();
        let map = |name: &str, want: usize| -> Result<Mmap> {
            let p = dir.join(name);
            let f = File::open(&p).map_err(|e| Error::io(&p, e))?;
            // SAFETY: the generation's files are never modified after commit.
            let m = unsafe { Mmap::map(&f) }.map_err(|e| Error::io(&p, e))?;
            if m.len() != want {
                return Err(bad(
                    &p,
                    format!("{} bytes, {n} tokens need {want}", m.len()),
                ));
            }
            Ok(m)
        };
        let docs = map(DOCS, n * 4)?;
        let codes = map(CODES, n * rb)?;
        let norms = map(NORMS, n * 4)?;
        let d: &[u32] = bytemuck::cast_slice(&docs[..]);
        if d.iter().any(|&x| x as usize >= n_docs) {
            return Err(bad(&dir.join(DOCS), "a document id out of range".into()));
        }
        Ok(Some(WarpLists {
            offsets,
            docs,
            codes,
            norms,
            row_bytes: rb,
        }))
    }

    /// The tokens assigned to centroid `c`.
    pub fn cluster(&self, c: usize) -> Cluster<'_> {
        let (a, b) = (self.offsets[c] as usize, self.offsets[c + 1] as usize);
        let docs: &[u32] = bytemuck::cast_slice(&self.docs[..]);
        let norms: &[f32] = bytemuck::cast_slice(&self.norms[..]);
        Cluster {
            docs: &docs[a..b],
            codes: &self.codes[a * self.row_bytes..b * self.row_bytes],
            norms: &norms[a..b],
        }
    }

    /// Tokens assigned to centroid `c`.
    pub fn cluster_len(&self, c: usize) -> usize {
        (self.offsets[c + 1] - self.offsets[c]) as usize
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        (self.docs.len() + self.codes.len() + self.norms.len() + self.offsets.len() * 8) as u64
    }
}
