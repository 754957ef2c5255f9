//! The block forward index of an impact index: every document's (term, impact) pairs by
//! [`DocId`], and, per term, the largest impact in each block of [`BLOCK`] consecutive
//! documents — what block-max pruning ([`super::bmp`], after BMP, Mallia et al.,
//! SIGIR'24) traverses.
//!
//! Terms are numbered in byte order (the order of tantivy's term dictionary and of
//! [`super::ImpactQuery`]'s clauses), and each document's pairs are stored ascending, so
//! a document's score summed over its pairs adds the same products in the same order as
//! the term-at-a-time accumulator: the same `f32`, bit for bit.
//!
//! Written at commit into `forward.bin` beside tantivy's files (the sparse folder is
//! staged with the rest of the generation, so it is never half there); read whole at
//! open, the block maxima recomputed from it then (one pass). Layout, little-endian:
//! magic `SEINEFW1`; `BLOCK` (u32); the document slots `N` (u64); the term count `T`
//! (u32); the pair count `P` (u64); the segment count and each segment's id (32 hex
//! digits) it was built from; `T` terms (u32 length, UTF-8 bytes); `N + 1` pair offsets
//! (u64); `P` term numbers (u32); `P` impacts (u16); a CRC-32 of everything before it.
//! Every count, offset and term number is checked. An index whose impacts exceed
//! `u16::MAX` has no table and is searched exhaustively.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use tantivy::schema::Field;

use crate::{DocId, Error, Result};

/// Documents per block (one 64-bit word of a [`crate::DocSet`]).
pub const BLOCK: usize = 64;

/// The file's name inside the sparse folder.
pub const FILE: &str = "forward.bin";

const MAGIC: &[u8; 8] = b"SEINEFW1";

/// The block forward index and block maxima of an impact index.
#[derive(Debug, Default, PartialEq)]
pub struct ImpactBlocks {
    /// Terms in byte order; a term's number is its position.
    pub(super) terms: Vec<String>,
    /// `N + 1` offsets into the pairs.
    pub(super) offsets: Vec<u64>,
    pub(super) pair_terms: Vec<u32>,
    pub(super) pair_impacts: Vec<u16>,
    /// The tantivy segments the table was built from.
    pub(super) segments: Vec<String>,
    /// Per term, `bm_offsets[t]..bm_offsets[t + 1]` into the block lists.
    pub(super) bm_offsets: Vec<u64>,
    pub(super) bm_blocks: Vec<u32>,
    pub(super) bm_max: Vec<u16>,
}

impl ImpactBlocks {
    /// Document slots.
    pub fn docs(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn blocks(&self) -> usize {
        self.docs().div_ceil(BLOCK)
    }

    /// The number of `term`, if any document has it.
    pub fn term_number(&self, term: &str) -> Option<u32> {
        self.terms
            .binary_search_by(|t| t.as_str().cmp(term))
            .ok()
            .map(|t| t as u32)
    }

    /// True when the table was built from exactly these segments.
    pub fn covers(&self, searcher: &tantivy::Searcher) -> bool {
        let ids: Vec<String> = searcher
            .segment_readers()
            .iter()
            .map(|r| r.segment_id().uuid_string())
            .collect();
        ids == self.segments
    }

    /// Reads the postings of `field` back into a table (two passes: count, fill); None
    /// when an impact does not fit 16 bits.
    pub fn compute(
        searcher: &tantivy::Searcher,
        field: Field,
        seg_doc_ids: &[Vec<DocId>],
    ) -> Result<Option<Self>> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for seg in searcher.segment_readers() {
            let inverted = seg.inverted_index(field)?;
            let mut stream = inverted
                .terms()
                .stream()
                .map_err(|e| Error::Internal(format!("reading sparse terms: {e}")))?;
            while stream.advance() {
                keys.push(stream.key().to_vec());
            }
        }
        keys.sort_unstable();
        keys.dedup();
        let terms = keys
            .iter()
            .map(|k| String::from_utf8(k.clone()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| Error::Internal("a sparse term is not UTF-8".into()))?;
        let mut number =
            |k: &[u8]| keys.binary_search_by(|t| t.as_slice().cmp(k)).unwrap_or(0) as u32;
        let docs = seg_doc_ids
            .iter()
            .flatten()
            .map(|&d| d as usize + 1)
            .max()
            .unwrap_or(0);
        let mut offsets = vec![0u64; docs + 1];
        let mut too_big = false;
        super::forward::walk_postings(searcher, field, seg_doc_ids, &mut number, |_, d, tf| {
            offsets[d as usize + 1] += 1;
            too_big |= tf > u32::from(u16::MAX);
        })?;
        if too_big {
            return Ok(None);
        }
        for i in 0..docs {
            offsets[i + 1] += offsets[i];
        }
        let total = offsets[docs] as usize;
        let mut fill: Vec<u64> = offsets[..docs].to_vec();
        let (mut pair_terms, mut pair_impacts) = (vec![0u32; total], vec![0u16; total]);
        super::forward::walk_postings(searcher, field, seg_doc_ids, &mut number, |t, d, tf| {
            let at = &mut fill[d as usize];
            pair_terms[*at as usize] = t;
            pair_impacts[*at as usize] = tf as u16;
            *at += 1;
        })?;
        // A document lives in one segment, whose terms are walked in byte order: its
        // pairs are ascending already.
        let mut table = ImpactBlocks {
            terms,
            offsets,
            pair_terms,
            pair_impacts,
            segments: searcher
                .segment_readers()
                .iter()
                .map(|r| r.segment_id().uuid_string())
                .collect(),
            ..Default::default()
        };
        table.compute_block_maxima()?;
        Ok(Some(table))
    }

    /// Per term, the blocks it occurs in and its largest impact in each (two passes
    /// over the pairs: count, fill); checks that every document's pairs ascend.
    fn compute_block_maxima(&mut self) -> Result<()> {
        let t_count = self.terms.len();
        let mut best = vec![0u16; t_count];
        let mut touched: Vec<u32> = Vec::new();
        let mut counts = vec![0u64; t_count + 1];
        let mut lists: Option<(Vec<u64>, Vec<u32>, Vec<u16>)> = None;
        for pass in 0..2 {
            for b in 0..self.blocks() {
                let (lo, hi) = (b * BLOCK, ((b + 1) * BLOCK).min(self.docs()));
                for d in lo..hi {
                    let (s, e) = (self.offsets[d] as usize, self.offsets[d + 1] as usize);
                    let mut prev = None;
                    for i in s..e {
                        let (t, imp) = (self.pair_terms[i], self.pair_impacts[i]);
                        if pass == 0 && prev.is_some_and(|p| p >= t) {
                            return Err(Error::Internal(format!(
                                "sparse forward index: document {d}'s terms do not ascend"
                            )));
                        }
                        prev = Some(t);
                        let slot = &mut best[t as usize];
                        if *slot == 0 {
                            touched.push(t);
                        }
                        *slot = (*slot).max(imp.max(1));
                    }
                }
                for &t in &touched {
                    match &mut lists {
                        None => counts[t as usize + 1] += 1,
                        Some((fill, blocks, maxima)) => {
                            let at = fill[t as usize] as usize;
                            blocks[at] = b as u32;
                            maxima[at] = best[t as usize];
                            fill[t as usize] += 1;
                        }
                    }
                    best[t as usize] = 0;
                }
                touched.clear();
            }
            if pass == 0 {
                for t in 0..t_count {
                    counts[t + 1] += counts[t];
                }
                let total = counts[t_count] as usize;
                lists = Some((counts[..t_count].to_vec(), vec![0; total], vec![0; total]));
            }
        }
        let (_, blocks, maxima) = lists.expect("second pass");
        (self.bm_offsets, self.bm_blocks, self.bm_max) = (counts, blocks, maxima);
        Ok(())
    }

    /// Writes the table into `dir` (a temporary file synced, then renamed).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(FILE);
        let tmp = dir.join(format!("{FILE}.tmp"));
        let io = |e: std::io::Error| Error::io(&path, e);
        let file = std::fs::File::create(&tmp).map_err(io)?;
        let mut w = Crc(BufWriter::new(file), crc32fast::Hasher::new());
        w.put(MAGIC).map_err(io)?;
        w.put(&(BLOCK as u32).to_le_bytes()).map_err(io)?;
        w.put(&(self.docs() as u64).to_le_bytes()).map_err(io)?;
        w.put(&(self.terms.len() as u32).to_le_bytes())
            .map_err(io)?;
        w.put(&(self.pair_terms.len() as u64).to_le_bytes())
            .map_err(io)?;
        w.put(&(self.segments.len() as u32).to_le_bytes())
            .map_err(io)?;
        for s in &self.segments {
            w.put(s.as_bytes()).map_err(io)?;
        }
        for t in &self.terms {
            w.put(&(t.len() as u32).to_le_bytes()).map_err(io)?;
            w.put(t.as_bytes()).map_err(io)?;
        }
        w.put_all(&self.offsets, |o| o.to_le_bytes()).map_err(io)?;
        w.put_all(&self.pair_terms, |t| t.to_le_bytes())
            .map_err(io)?;
        w.put_all(&self.pair_impacts, |i| i.to_le_bytes())
            .map_err(io)?;
        let crc = w.1.clone().finalize();
        let mut out = w.0;
        out.write_all(&crc.to_le_bytes()).map_err(io)?;
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(())
    }

    /// Reads the table of `dir`; None when there is none (an index written before it,
    /// or one whose impacts do not fit 16 bits).
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(FILE);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        let bad = |message: String| Error::NotAnIndex {
            path: path.clone(),
            message: format!("sparse forward index: {message}"),
        };
        let mut r = CrcReader {
            inner: BufReader::with_capacity(1 << 20, file),
            crc: crc32fast::Hasher::new(),
            left: len.checked_sub(4).ok_or_else(|| bad("truncated".into()))?,
        };
        let mut table = decode(&mut r).map_err(bad)?;
        let mut tail = [0u8; 4];
        r.inner
            .read_exact(&mut tail)
            .map_err(|e| bad(e.to_string()))?;
        if r.left != 0 {
            return Err(bad("trailing bytes".into()));
        }
        if u32::from_le_bytes(tail) != r.crc.finalize() {
            return Err(bad("checksum mismatch (the file is damaged)".into()));
        }
        table
            .compute_block_maxima()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Some(table))
    }
}

fn decode(r: &mut CrcReader) -> std::result::Result<ImpactBlocks, String> {
    if &r.bytes(8)? != MAGIC {
        return Err("not a seine sparse forward index (bad magic)".into());
    }
    let block = r.u32()?;
    if block as usize != BLOCK {
        return Err(format!("block size {block}, this build uses {BLOCK}"));
    }
    let n = r_u64(r)?;
    let docs = r.count(n, 8)?;
    let n = r.u32()?;
    let t_count = r.count(u64::from(n), 4)?;
    let n = r_u64(r)?;
    let pairs = r.count(n, 6)?;
    let n = r.u32()?;
    let seg_count = r.count(u64::from(n), 32)?;
    let mut segments = Vec::with_capacity(seg_count);
    for _ in 0..seg_count {
        segments.push(String::from_utf8(r.bytes(32)?).map_err(|_| "bad segment id")?);
    }
    let mut terms = Vec::with_capacity(t_count);
    for _ in 0..t_count {
        let n = r.u32()?;
        let n = r.count(u64::from(n), 1)?;
        let t = String::from_utf8(r.bytes(n)?).map_err(|_| "a term is not UTF-8")?;
        if terms
            .last()
            .is_some_and(|p: &String| p.as_str() >= t.as_str())
        {
            return Err("terms out of order".into());
        }
        terms.push(t);
    }
    let offsets: Vec<u64> = r.all(docs + 1, u64::from_le_bytes)?;
    if offsets.windows(2).any(|w| w[0] > w[1])
        || offsets.first() != Some(&0)
        || offsets.last() != Some(&(pairs as u64))
    {
        return Err("pair offsets out of order or not spanning the pairs".into());
    }
    let pair_terms: Vec<u32> = r.all(pairs, u32::from_le_bytes)?;
    if let Some(t) = pair_terms.iter().find(|&&t| t as usize >= t_count) {
        return Err(format!("term number {t} of {t_count}"));
    }
    let pair_impacts: Vec<u16> = r.all(pairs, u16::from_le_bytes)?;
    Ok(ImpactBlocks {
        terms,
        offsets,
        pair_terms,
        pair_impacts,
        segments,
        ..Default::default()
    })
}

fn r_u64(r: &mut CrcReader) -> std::result::Result<u64, String> {
    let b = r.bytes(8)?;
    Ok(u64::from_le_bytes(b.try_into().expect("8")))
}

/// A writer that checksums what it writes.
struct Crc<W: Write>(W, crc32fast::Hasher);

impl<W: Write> Crc<W> {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.1.update(b);
        self.0.write_all(b)
    }

    /// Every item of `items` as its little-endian bytes, in chunks.
    fn put_all<T: Copy, const N: usize>(
        &mut self,
        items: &[T],
        le: impl Fn(T) -> [u8; N],
    ) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(N * 65536);
        for chunk in items.chunks(65536) {
            buf.clear();
            buf.extend(chunk.iter().flat_map(|&x| le(x)));
            self.put(&buf)?;
        }
        Ok(())
    }
}

/// A reader that checksums what it reads and never reads past `left` bytes.
struct CrcReader {
    inner: BufReader<std::fs::File>,
    crc: crc32fast::Hasher,
    left: u64,
}

impl CrcReader {
    fn bytes(&mut self, n: usize) -> std::result::Result<Vec<u8>, String> {
        if n as u64 > self.left {
            return Err("truncated".into());
        }
        let mut b = vec![0u8; n];
        self.inner.read_exact(&mut b).map_err(|e| e.to_string())?;
        self.crc.update(&b);
        self.left -= n as u64;
        Ok(b)
    }

    /// `n` items of `N` bytes each, decoded by `from`, read in chunks.
    fn all<T, const N: usize>(
        &mut self,
        n: usize,
        from: impl Fn([u8; N]) -> T,
    ) -> std::result::Result<Vec<T>, String> {
        self.count(n as u64, N as u64)?;
        let mut out = Vec::with_capacity(n);
        let mut buf = vec![0u8; N * 65536];
        let mut left = n;
        while left > 0 {
            let m = left.min(65536);
            let b = &mut buf[..m * N];
            self.inner.read_exact(b).map_err(|e| e.to_string())?;
            self.crc.update(b);
            out.extend(
                b.chunks_exact(N)
                    .map(|c| from(c.try_into().expect("N bytes"))),
            );
            left -= m;
        }
        self.left -= (n * N) as u64;
        Ok(out)
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4")))
    }

    /// `n` items of at least `each` bytes, refused when the rest of the file cannot
    /// hold them (a damaged count never allocates past the file).
    fn count(&self, n: u64, each: u64) -> std::result::Result<usize, String> {
        if n.checked_mul(each).is_none_or(|b| b > self.left) {
            return Err(format!("count {n} exceeds the file"));
        }
        usize::try_from(n).map_err(|_| format!("count {n} too large"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_maxima_are_per_term_per_block() {
        let mut t = ImpactBlocks {
            terms: vec!["a".into(), "b".into()],
            offsets: vec![0; BLOCK + 3],
            ..Default::default()
        };
        // Document 0: a 3, b 1; document BLOCK + 1: a 7.
        t.pair_terms = vec![0, 1, 0];
        t.pair_impacts = vec![3, 1, 7];
        for d in 1..=BLOCK + 2 {
            t.offsets[d] = if d <= BLOCK + 1 { 2 } else { 3 };
        }
        t.compute_block_maxima().unwrap();
        assert_eq!(t.bm_offsets, vec![0, 2, 3]);
        assert_eq!(t.bm_blocks, vec![0, 1, 0]);
        assert_eq!(t.bm_max, vec![3, 7, 1]);
        t.pair_terms = vec![1, 0, 0];
        assert!(
            t.compute_block_maxima().is_err(),
            "descending pairs refused"
        );
    }
}
