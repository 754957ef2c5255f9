//! The block-max table of a lexical index: for every searched field and term of every
//! segment, the term's postings cut into blocks of [`BLOCK`] documents, each with the
//! largest term frequency and the shortest field length (as its one-byte norm id) in
//! it. BM25 grows with the term frequency and falls with the length for any `k1 ≥ 0`
//! and `b ∈ [0, 1]`, so `idf · w · tf_max / (tf_max + norm(len_min))` bounds every
//! score in the block under whatever parameters a query brings — the table does not
//! depend on `k1`/`b` and survives a per-request override.
//!
//! Written at commit into `blockmax.bin` beside tantivy's files (the lexical folder is
//! staged with the rest of the generation, so it is never half there); read whole at
//! open (≈ 9 bytes per 128 postings). Layout, little-endian: magic `SEINEBM1`, the
//! segment count; per segment: its id (32 hex digits), the field count; per field: the
//! field id, the term count `T`, `T + 1` block offsets (u64), then the blocks
//! (`last_doc` u32, `max_tf` u32, `min_norm` u8); a CRC-32 of everything before it
//! closes the file. Every count and offset is checked against the file's length.

use std::collections::HashMap;
use std::path::Path;

use tantivy::postings::Postings;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocSet, TERMINATED};

use crate::Result;
use crate::table_file::Reader;

/// Documents per block (tantivy's own posting block size).
pub const BLOCK: usize = 128;

/// The file's name inside the lexical folder.
pub const FILE: &str = "blockmax.bin";

const MAGIC: &[u8; 8] = b"SEINEBM1";

/// One block of a term's postings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// The last (segment-local) document of the block.
    pub last_doc: u32,
    pub max_tf: u32,
    /// The smallest field-norm id (shortest length) in the block.
    pub min_norm: u8,
}

/// One field of one segment: blocks of every term, by term ordinal.
#[derive(Debug, Default)]
struct FieldBlocks {
    offsets: Vec<u64>,
    blocks: Vec<Block>,
}

/// The block-max table of a whole lexical index.
#[derive(Debug, Default)]
pub struct BlockMax {
    /// (segment id, field id) → blocks.
    fields: HashMap<(String, u32), FieldBlocks>,
}

impl BlockMax {
    /// The blocks of term `ord` of `field` in segment `segment`; None when the table
    /// does not cover that segment or field (a stale or foreign table).
    pub fn term(&self, segment: &str, field: Field, ord: u64) -> Option<&[Block]> {
        let f = self.fields.get(&(segment.to_string(), field.field_id()))?;
        let (a, b) = (
            *f.offsets.get(ord as usize)?,
            *f.offsets.get(ord as usize + 1)?,
        );
        f.blocks.get(a as usize..b as usize)
    }

    /// Whether the table covers every segment of `searcher` for `fields`.
    pub fn covers(&self, searcher: &tantivy::Searcher, fields: &[Field]) -> bool {
        searcher.segment_readers().iter().all(|r| {
            let id = r.segment_id().uuid_string();
            fields.iter().all(|f| {
                self.fields
                    .get(&(id.clone(), f.field_id()))
                    .is_some_and(|fb| {
                        r.inverted_index(*f).is_ok_and(|inv| {
                            fb.offsets.len() as u64 == inv.terms().num_terms() as u64 + 1
                        })
                    })
            })
        })
    }

    /// Computes the table of `searcher`'s segments for `fields` (one pass over their
    /// postings).
    pub fn compute(searcher: &tantivy::Searcher, fields: &[Field]) -> Result<BlockMax> {
        let mut out = BlockMax::default();
        for reader in searcher.segment_readers() {
            let id = reader.segment_id().uuid_string();
            for &field in fields {
                let inverted = reader.inverted_index(field)?;
                let norms = reader.get_fieldnorms_reader(field)?;
                let mut fb = FieldBlocks::default();
                let mut stream = inverted
                    .terms()
                    .stream()
                    .map_err(tantivy::TantivyError::from)?;
                fb.offsets.push(0);
                while stream.advance() {
                    let info = stream.value();
                    let mut p = inverted
                        .read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)
                        .map_err(tantivy::TantivyError::from)?;
                    let mut cur = Block {
                        last_doc: 0,
                        max_tf: 0,
                        min_norm: u8::MAX,
                    };
                    let mut n = 0usize;
                    let mut doc = p.doc();
                    while doc != TERMINATED {
                        cur.last_doc = doc;
                        cur.max_tf = cur.max_tf.max(p.term_freq());
                        cur.min_norm = cur.min_norm.min(norms.fieldnorm_id(doc));
                        n += 1;
                        if n == BLOCK {
                            fb.blocks.push(cur);
                            cur.max_tf = 0;
                            cur.min_norm = u8::MAX;
                            n = 0;
                        }
                        doc = p.advance();
                    }
                    if n > 0 {
                        fb.blocks.push(cur);
                    }
                    fb.offsets.push(fb.blocks.len() as u64);
                }
                out.fields.insert((id.clone(), field.field_id()), fb);
            }
        }
        Ok(out)
    }

    fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        buf.extend_from_slice(MAGIC);
        // Segments in a stable order (the file's bytes do not depend on hashing).
        let mut segs: Vec<&String> = self.fields.keys().map(|(s, _)| s).collect();
        segs.sort();
        segs.dedup();
        buf.extend_from_slice(&(segs.len() as u32).to_le_bytes());
        for seg in segs {
            let mut fields: Vec<(&u32, &FieldBlocks)> = self
                .fields
                .iter()
                .filter(|((s, _), _)| s == seg)
                .map(|((_, f), b)| (f, b))
                .collect();
            fields.sort_by_key(|(f, _)| **f);
            let id = seg.as_bytes();
            buf.extend_from_slice(&(id.len() as u32).to_le_bytes());
            buf.extend_from_slice(id);
            buf.extend_from_slice(&(fields.len() as u32).to_le_bytes());
            for (f, fb) in fields {
                buf.extend_from_slice(&f.to_le_bytes());
                let terms = fb.offsets.len().saturating_sub(1) as u64;
                buf.extend_from_slice(&terms.to_le_bytes());
                for o in &fb.offsets {
                    buf.extend_from_slice(&o.to_le_bytes());
                }
                for b in &fb.blocks {
                    buf.extend_from_slice(&b.last_doc.to_le_bytes());
                    buf.extend_from_slice(&b.max_tf.to_le_bytes());
                    buf.push(b.min_norm);
                }
            }
        }
        let crc = crc32fast::hash(&buf);
        buf.extend_from_slice(&crc.to_le_bytes());
        buf
    }

    fn decode(bytes: &[u8]) -> std::result::Result<BlockMax, String> {
        if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
            return Err("not a block-max table".into());
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err("checksum mismatch".into());
        }
        let mut r = Reader {
            buf: body,
            at: MAGIC.len(),
        };
        let mut out = BlockMax::default();
        let segs = r.u32()?;
        for _ in 0..segs {
            let n = r.u32()? as usize;
            let id = std::str::from_utf8(r.take(n)?)
                .map_err(|_| "segment id is not utf-8".to_string())?
                .to_string();
            let nf = r.u32()?;
            for _ in 0..nf {
                let field = r.u32()?;
                let terms = r.u64()?;
                // Each offset takes 8 bytes: a count the file cannot hold is refused
                // before anything is allocated for it.
                if terms >= r.left() as u64 / 8 {
                    return Err(format!("{terms} terms do not fit the file"));
                }
                let mut offsets = Vec::with_capacity(terms as usize + 1);
                for _ in 0..=terms {
                    offsets.push(r.u64()?);
                }
                if offsets.windows(2).any(|w| w[0] > w[1]) || offsets.first() != Some(&0) {
                    return Err("block offsets are not increasing from 0".into());
                }
                let nb = *offsets.last().expect("terms + 1 offsets");
                if nb > r.left() as u64 / 9 {
                    return Err(format!("{nb} blocks do not fit the file"));
                }
                let mut blocks = Vec::with_capacity(nb as usize);
                for _ in 0..nb {
                    blocks.push(Block {
                        last_doc: r.u32()?,
                        max_tf: r.u32()?,
                        min_norm: r.take(1)?[0],
                    });
                }
                out.fields
                    .insert((id.clone(), field), FieldBlocks { offsets, blocks });
            }
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

    /// Reads the table of `dir`; None when there is none (an index written before it).
    pub fn read(dir: &Path) -> Result<Option<BlockMax>> {
        crate::table_file::read(dir, FILE, "block-max table", BlockMax::decode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BlockMax {
        let mut t = BlockMax::default();
        t.fields.insert(
            ("0123456789abcdef0123456789abcdef".into(), 3),
            FieldBlocks {
                offsets: vec![0, 2, 2, 3],
                blocks: vec![
                    Block {
                        last_doc: 127,
                        max_tf: 4,
                        min_norm: 9,
                    },
                    Block {
                        last_doc: 300,
                        max_tf: 1,
                        min_norm: 2,
                    },
                    Block {
                        last_doc: 5,
                        max_tf: 70000,
                        min_norm: 0,
                    },
                ],
            },
        );
        t
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let t = sample();
        let bytes = t.encode();
        let back = BlockMax::decode(&bytes).unwrap();
        let seg = "0123456789abcdef0123456789abcdef";
        let f = Field::from_field_id(3);
        assert_eq!(back.term(seg, f, 0).unwrap().len(), 2);
        assert!(back.term(seg, f, 1).unwrap().is_empty());
        assert_eq!(back.term(seg, f, 2).unwrap()[0].max_tf, 70000);
        assert!(back.term(seg, f, 3).is_none());
        assert!(back.term("other", f, 0).is_none());
        // Every truncation and every flipped byte is refused, never a panic.
        for n in 0..bytes.len() {
            assert!(BlockMax::decode(&bytes[..n]).is_err(), "truncated at {n}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x41;
            assert!(BlockMax::decode(&b).is_err(), "byte {i} flipped");
        }
    }

    /// A huge term count with a valid checksum is refused before allocating.
    #[test]
    fn counts_are_checked_against_the_length() {
        let mut buf = MAGIC.to_vec();
        buf.extend_from_slice(&1u32.to_le_bytes());
        buf.extend_from_slice(&1u32.to_le_bytes());
        buf.push(b'a');
        buf.extend_from_slice(&1u32.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
        let crc = crc32fast::hash(&buf);
        buf.extend_from_slice(&crc.to_le_bytes());
        let err = BlockMax::decode(&buf).unwrap_err();
        assert!(err.contains("do not fit"), "{err}");
    }
}
