//! The block-max table of an impact index: for every segment and term, the blocks of
//! [`BLOCK`] consecutive (segment-local) documents the term occurs in, each with the
//! term's largest impact there — what block-max pruning ([`super::bmp`]) bounds scores
//! with. The postings themselves stay tantivy's.
//!
//! Written at commit into `blockmax.bin` beside tantivy's files (the sparse folder is
//! staged with the rest of the generation, so it is never half there); read whole at
//! open. Layout, little-endian: magic `SEINESB1`; `BLOCK` (u32); the segment count; per
//! segment: its id (32 hex digits), `max_doc` (u32), the term count `T` (u32), `T + 1`
//! entry offsets (u64), then the entries' block numbers (u32) and maxima (u16); a CRC-32
//! of everything before it closes the file. Every count, offset and block number is
//! checked. An index whose impacts exceed `u16::MAX` has no table and is searched
//! exhaustively.

use std::collections::HashMap;
use std::path::Path;

use tantivy::postings::Postings;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocSet, TERMINATED};

use crate::table_file::Reader;
use crate::{Error, Result};

/// Documents per block.
pub const BLOCK: u32 = 64;

/// The file's name inside the sparse folder.
pub const FILE: &str = "blockmax.bin";

const MAGIC: &[u8; 8] = b"SEINESB1";

/// One segment's blocks of every term, by term ordinal.
#[derive(Debug, Default, PartialEq)]
pub(super) struct SegmentBlocks {
    pub(super) max_doc: u32,
    pub(super) offsets: Vec<u64>,
    pub(super) blocks: Vec<u32>,
    pub(super) maxima: Vec<u16>,
}

impl SegmentBlocks {
    pub(super) fn n_blocks(&self) -> usize {
        self.max_doc.div_ceil(BLOCK) as usize
    }

    /// Term `ord`'s (block numbers, maxima).
    pub(super) fn term(&self, ord: u64) -> (&[u32], &[u16]) {
        let ord = ord as usize;
        match (self.offsets.get(ord), self.offsets.get(ord + 1)) {
            (Some(&lo), Some(&hi)) => (
                &self.blocks[lo as usize..hi as usize],
                &self.maxima[lo as usize..hi as usize],
            ),
            _ => (&[], &[]),
        }
    }
}

/// The block-max table of a whole impact index.
#[derive(Debug, Default, PartialEq)]
pub struct ImpactBlocks {
    /// Segment id → blocks.
    pub(super) segments: HashMap<String, SegmentBlocks>,
}

impl ImpactBlocks {
    /// The blocks of the segment `id` when the table covers it.
    pub(super) fn segment(&self, reader: &tantivy::SegmentReader) -> Option<&SegmentBlocks> {
        self.segments
            .get(&reader.segment_id().uuid_string())
            .filter(|s| s.max_doc == reader.max_doc())
    }

    /// True when the table covers every segment of `searcher`.
    pub fn covers(&self, searcher: &tantivy::Searcher) -> bool {
        searcher
            .segment_readers()
            .iter()
            .all(|r| self.segment(r).is_some())
    }

    /// Walks every posting of `field` once; None when an impact does not fit 16 bits.
    pub fn compute(searcher: &tantivy::Searcher, field: Field) -> Result<Option<Self>> {
        let mut out = ImpactBlocks::default();
        let io = |e: std::io::Error| Error::Internal(format!("reading sparse postings: {e}"));
        for seg in searcher.segment_readers() {
            let inverted = seg.inverted_index(field)?;
            let mut s = SegmentBlocks {
                max_doc: seg.max_doc(),
                offsets: vec![0],
                ..Default::default()
            };
            let mut stream = inverted.terms().stream().map_err(io)?;
            while stream.advance() {
                let mut p = inverted
                    .read_postings_from_terminfo(stream.value(), IndexRecordOption::WithFreqs)
                    .map_err(io)?;
                let mut doc = p.doc();
                while doc != TERMINATED {
                    let tf = p.term_freq();
                    if tf > u32::from(u16::MAX) {
                        return Ok(None);
                    }
                    let b = doc / BLOCK;
                    let same = s.blocks.len() as u64 > *s.offsets.last().expect("offsets")
                        && s.blocks.last() == Some(&b);
                    if same {
                        let m = s.maxima.last_mut().expect("entry");
                        *m = (*m).max(tf as u16);
                    } else {
                        s.blocks.push(b);
                        s.maxima.push(tf as u16);
                    }
                    doc = p.advance();
                }
                s.offsets.push(s.blocks.len() as u64);
            }
            out.segments.insert(seg.segment_id().uuid_string(), s);
        }
        Ok(Some(out))
    }

    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&BLOCK.to_le_bytes());
        b.extend_from_slice(&(self.segments.len() as u32).to_le_bytes());
        let mut ids: Vec<&String> = self.segments.keys().collect();
        ids.sort();
        for id in ids {
            let s = &self.segments[id];
            b.extend_from_slice(id.as_bytes());
            b.extend_from_slice(&s.max_doc.to_le_bytes());
            b.extend_from_slice(&((s.offsets.len() - 1) as u32).to_le_bytes());
            s.offsets
                .iter()
                .for_each(|o| b.extend_from_slice(&o.to_le_bytes()));
            s.blocks
                .iter()
                .for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
            s.maxima
                .iter()
                .for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        }
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        let (body, tail) = bytes.split_at(bytes.len().checked_sub(4).ok_or("truncated")?);
        if crc32fast::hash(body) != u32::from_le_bytes(tail.try_into().expect("4")) {
            return Err("checksum mismatch (the file is damaged)".into());
        }
        let mut r = Reader::new(body);
        if r.take(8)? != MAGIC {
            return Err("not a seine sparse block-max table (bad magic)".into());
        }
        let block = r.u32()?;
        if block != BLOCK {
            return Err(format!("block size {block}, this build uses {BLOCK}"));
        }
        let mut out = ImpactBlocks::default();
        for _ in 0..r.u32()? {
            let id = String::from_utf8(r.take(32)?.to_vec()).map_err(|_| "bad segment id")?;
            let max_doc = r.u32()?;
            let terms = r.u32()? as usize;
            let offsets = r.array(terms + 1, 8, |c| {
                u64::from_le_bytes(c.try_into().expect("8"))
            })?;
            let n = *offsets.last().expect("one offset") as usize;
            if offsets[0] != 0 || offsets.windows(2).any(|w| w[0] > w[1]) {
                return Err("entry offsets out of order".into());
            }
            let blocks = r.array(n, 4, |c| u32::from_le_bytes(c.try_into().expect("4")))?;
            let maxima = r.array(n, 2, |c| u16::from_le_bytes(c.try_into().expect("2")))?;
            if blocks.iter().any(|&b| b >= max_doc.div_ceil(BLOCK)) {
                return Err("a block past the segment's end".into());
            }
            out.segments.insert(
                id,
                SegmentBlocks {
                    max_doc,
                    offsets,
                    blocks,
                    maxima,
                },
            );
        }
        if r.at != r.buf.len() {
            return Err("trailing bytes".into());
        }
        Ok(out)
    }

    /// Writes the table into `dir` (a temporary file synced, then renamed).
    pub fn write(&self, dir: &Path) -> Result<()> {
        crate::table_file::write(dir, FILE, &self.encode())
    }

    /// Reads the table of `dir`; None when there is none (an index written before it,
    /// or one whose impacts do not fit 16 bits).
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        crate::table_file::read(dir, FILE, "sparse block-max table", ImpactBlocks::decode)
    }
}
