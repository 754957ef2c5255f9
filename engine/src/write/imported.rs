//! Vectors computed elsewhere (read from Parquet files or shard folders), looked up by
//! document id while indexing. Each is streamed into an anonymous temporary file and
//! memory-mapped: RAM holds the ids (and offsets) only.

use std::collections::HashMap;
use std::path::Path;

use crate::{Error, Result};

/// f32 rows by document id (one vector, or a document's token vectors, per row).
struct Rows {
    dim: usize,
    by_id: HashMap<String, usize>,
    /// Per row: (first value, values) in `data`.
    spans: Vec<(usize, usize)>,
    data: VectorRows,
}

enum VectorRows {
    Owned(Vec<f32>),
    Mapped(memmap2::Mmap),
}

impl VectorRows {
    /// `len` values from value `start`.
    fn values(&self, start: usize, len: usize) -> &[f32] {
        match self {
            VectorRows::Owned(v) => &v[start..start + len],
            VectorRows::Mapped(m) => {
                // A page-aligned mapping of whole f32s written by `Rows::spool`
                // (little-endian targets).
                bytemuck::cast_slice(&m[start * 4..(start + len) * 4])
            }
        }
    }
}

/// A reader of one Parquet file's rows: calls `row(id, values)`, returns the dimension.
type ForEach = dyn Fn(
    &Path,
    &mut dyn FnMut(&str, &[f32]) -> seine_datasets::Result<()>,
) -> seine_datasets::Result<usize>;

impl Rows {
    /// Streams the file — or a folder of shards ([`seine_datasets::shards`]) — read by
    /// `each` into an anonymous temporary file, memory-mapped; RAM holds ids and
    /// offsets. Duplicate ids are an error naming both rows; `what` names the vectors
    /// in errors.
    fn spool(path: &Path, what: &str, each: &ForEach) -> Result<Self> {
        use std::io::Write;
        let io = |e: std::io::Error| Error::InvalidArgument(format!("{}: {e}", path.display()));
        let mut out = std::io::BufWriter::new(tempfile::tempfile().map_err(io)?);
        let (mut by_id, mut spans) = (HashMap::new(), Vec::new());
        let (mut pos, mut err, mut dim) = (0usize, None, None);
        for file in seine_datasets::shards::shard_files(path)? {
            let d = each(&file, &mut |id, v| {
                let row = spans.len();
                if let Some(first) = by_id.insert(id.to_string(), row) {
                    err.get_or_insert(format!(
                        "{} lists id {id:?} twice (rows {} and {})",
                        path.display(),
                        first + 1,
                        row + 1
                    ));
                }
                spans.push((pos, v.len()));
                pos += v.len();
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                out.write_all(&bytes)
                    .map_err(|e| seine_datasets::Error::io(&file, e))
            })?;
            if *dim.get_or_insert(d) != d {
                return Err(Error::InvalidArgument(format!(
                    "{}: {d}-d {what}, but the shards before it are {}-d",
                    file.display(),
                    dim.unwrap_or_default()
                )));
            }
        }
        if let Some(m) = err {
            return Err(Error::InvalidArgument(m));
        }
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        let data = if pos == 0 {
            VectorRows::Owned(Vec::new())
        } else {
            // SAFETY: the anonymous file is ours and no longer written.
            VectorRows::Mapped(unsafe { memmap2::Mmap::map(&file) }.map_err(io)?)
        };
        Ok(Rows {
            dim: dim.unwrap_or_default(),
            by_id,
            spans,
            data,
        })
    }

    /// Row `id`'s values; `missing` completes the error "document {id} …".
    fn get(&self, id: &str, missing: &str) -> Result<&[f32]> {
        let row = *self
            .by_id
            .get(id)
            .ok_or_else(|| Error::InvalidArgument(format!("document {id:?} {missing}")))?;
        let (start, len) = self.spans[row];
        Ok(self.data.values(start, len))
    }
}

/// Dense vectors computed elsewhere (e.g. read from Parquet), looked up by document id.
/// Read from Parquet they are streamed into an anonymous temporary file and
/// memory-mapped ([`PrecomputedVectors::from_parquet`]): RAM holds the ids only.
pub struct PrecomputedVectors {
    pub dim: usize,
    rows: Rows,
}

impl PrecomputedVectors {
    /// Streams a Parquet vectors file (`id`, `embedding`) — or a folder of such shards
    /// ([`seine_datasets::shards`]) — row group by row group into a temporary file;
    /// duplicate ids are an error naming both rows.
    pub fn from_parquet(path: &Path) -> Result<Self> {
        let rows = Rows::spool(path, "vectors", &|f, row| {
            seine_datasets::embeddings::for_each_embedding(f, row)
        })?;
        Ok(PrecomputedVectors {
            dim: rows.dim,
            rows,
        })
    }

    /// `ids[i]` has the vector `data[i*dim..(i+1)*dim]`; duplicate ids are an error.
    pub fn new(ids: Vec<String>, dim: usize, data: Vec<f32>) -> Result<Self> {
        let mut by_id = HashMap::with_capacity(ids.len());
        let spans = (0..ids.len()).map(|i| (i * dim, dim)).collect();
        for (i, id) in ids.into_iter().enumerate() {
            if let Some(first) = by_id.insert(id.clone(), i) {
                return Err(Error::InvalidArgument(format!(
                    "vectors file lists id {id:?} twice (rows {} and {})",
                    first + 1,
                    i + 1
                )));
            }
        }
        let data = VectorRows::Owned(data);
        Ok(PrecomputedVectors {
            dim,
            rows: Rows {
                dim,
                by_id,
                spans,
                data,
            },
        })
    }

    pub(crate) fn get(&self, id: &str) -> Result<&[f32]> {
        self.rows.get(id, "has no vector in the vectors file")
    }
}

/// Sparse vectors computed elsewhere (e.g. read from Parquet), looked up by document id.
/// Read from Parquet they are streamed into an anonymous temporary file
/// ([`PrecomputedSparse::from_parquet`]): RAM holds the ids and offsets only.
pub struct PrecomputedSparse {
    by_id: std::collections::HashMap<String, (usize, usize)>,
    /// Per row: (u32 term length, term bytes, f32 weight)*.
    data: Vec<u8>,
    mapped: Option<memmap2::Mmap>,
}

fn encode_sparse(terms: &[String], weights: &[f32], out: &mut Vec<u8>) {
    for (t, w) in terms.iter().zip(weights) {
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(t.as_bytes());
        out.extend_from_slice(&w.to_le_bytes());
    }
}

impl PrecomputedSparse {
    /// `rows[i]` = (id, terms, weights); duplicate ids are an error.
    pub fn new(rows: Vec<(String, Vec<String>, Vec<f32>)>) -> Result<Self> {
        let mut s = PrecomputedSparse {
            by_id: Default::default(),
            data: Vec::new(),
            mapped: None,
        };
        for (i, (id, terms, weights)) in rows.into_iter().enumerate() {
            let start = s.data.len();
            encode_sparse(&terms, &weights, &mut s.data);
            let end = s.data.len();
            s.insert(id, i, start, end)?;
        }
        Ok(s)
    }

    fn insert(&mut self, id: String, row: usize, a: usize, b: usize) -> Result<()> {
        if self.by_id.insert(id.clone(), (a, b)).is_some() {
            return Err(crate::Error::InvalidArgument(format!(
                "sparse vectors file lists id {id:?} twice (second at row {})",
                row + 1
            )));
        }
        Ok(())
    }

    /// Streams a Parquet sparse vectors file (`id`, `terms`, `weights`) — or a folder
    /// of such shards — into a temporary file; duplicate ids are an error naming the row.
    pub fn from_parquet(path: &std::path::Path) -> Result<Self> {
        use std::io::Write;
        let io =
            |e: std::io::Error| crate::Error::InvalidArgument(format!("{}: {e}", path.display()));
        let mut out = std::io::BufWriter::new(tempfile::tempfile().map_err(io)?);
        let mut s = PrecomputedSparse {
            by_id: Default::default(),
            data: Vec::new(),
            mapped: None,
        };
        let (mut pos, mut row, mut err) = (0usize, 0usize, None);
        let mut buf = Vec::new();
        for file in seine_datasets::shards::shard_files(path)? {
            seine_datasets::sparse_io::for_each_sparse(&file, |(id, terms, weights)| {
                buf.clear();
                encode_sparse(&terms, &weights, &mut buf);
                if let Err(e) = s.insert(id, row, pos, pos + buf.len()) {
                    err.get_or_insert(e);
                }
                (row, pos) = (row + 1, pos + buf.len());
                out.write_all(&buf)
                    .map_err(|e| seine_datasets::Error::io(&file, e))
            })?;
        }
        if let Some(e) = err {
            return Err(e);
        }
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        if pos > 0 {
            // SAFETY: the anonymous file is ours and no longer written.
            s.mapped = Some(unsafe { memmap2::Mmap::map(&file) }.map_err(io)?);
        }
        Ok(s)
    }

    pub(crate) fn get(&self, id: &str) -> Result<Vec<(String, f32)>> {
        let &(a, b) = self.by_id.get(id).ok_or_else(|| {
            crate::Error::InvalidArgument(format!(
                "document {id:?} has no entry in the sparse vectors file"
            ))
        })?;
        let bytes = match &self.mapped {
            Some(m) => &m[a..b],
            None => &self.data[a..b],
        };
        let (mut out, mut p) = (Vec::new(), 0);
        while p < bytes.len() {
            let n = u32::from_le_bytes(bytes[p..p + 4].try_into().expect("4 bytes")) as usize;
            let t = String::from_utf8_lossy(&bytes[p + 4..p + 4 + n]).into_owned();
            let w = f32::from_le_bytes(bytes[p + 4 + n..p + 8 + n].try_into().expect("4 bytes"));
            out.push((t, w));
            p += 8 + n;
        }
        Ok(out)
    }
}

/// Token vectors computed elsewhere (`id`, `tokens` Parquet — [`seine_datasets::tokens_io`]
/// — or a folder of such shards), looked up by document id.
pub struct PrecomputedTokens {
    pub dim: usize,
    rows: Rows,
}

impl PrecomputedTokens {
    /// Streams the file or the folder's shards into a temporary file; duplicate ids
    /// are an error naming both rows.
    pub fn from_parquet(path: &Path) -> Result<Self> {
        let rows = Rows::spool(path, "token vectors", &|f, row| {
            seine_datasets::tokens_io::for_each_tokens(f, row)
        })?;
        Ok(PrecomputedTokens {
            dim: rows.dim,
            rows,
        })
    }

    /// Document `id`'s token vectors, row-major.
    pub(crate) fn get(&self, id: &str) -> Result<&[f32]> {
        self.rows.get(id, "has no entry in the token vectors file")
    }
}
