//! Folders of vector shards: Parquet files in the schema `seine embed` writes (dense:
//! `id` + `embedding`; sparse: `id` + `terms` + `weights`), as `seine.ray.encode`
//! writes them, read as one file.
//!
//! A folder with a `manifest.json` (`{"shards": [{"file": ...}, ...], "complete":
//! true, ...}`) is read in the manifest's order and must be complete (every shard
//! listed and present); a folder without one is every `*.parquet` in it, by name.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The name of a shard folder's manifest.
pub const MANIFEST: &str = "manifest.json";

/// The Parquet files `path` stands for: itself when it is a file, a folder's shards
/// otherwise (see the module docs). An empty folder or an incomplete shard set is an
/// error naming the folder.
pub fn shard_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let unsupported = |message: String| Error::UnsupportedInput {
        path: path.to_path_buf(),
        message,
    };
    let manifest = path.join(MANIFEST);
    if manifest.is_file() {
        let text = std::fs::read_to_string(&manifest).map_err(|e| Error::io(&manifest, e))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::malformed(&manifest, crate::Location::File, format!("not JSON: {e}"))
        })?;
        if v["complete"] != serde_json::Value::Bool(true) {
            return Err(unsupported(format!(
                "the shard set is not complete ({MANIFEST} says \"complete\": {}); run the \
                 encoding again to finish it",
                v["complete"]
            )));
        }
        let Some(shards) = v["shards"].as_array() else {
            return Err(Error::malformed(
                &manifest,
                crate::Location::File,
                "no \"shards\" list".to_string(),
            ));
        };
        let mut files = Vec::with_capacity(shards.len());
        for s in shards {
            let Some(name) = s["file"].as_str() else {
                return Err(Error::malformed(
                    &manifest,
                    crate::Location::File,
                    format!("a shard without \"file\": {s}"),
                ));
            };
            let f = path.join(name);
            if !f.is_file() {
                return Err(unsupported(format!(
                    "shard {name} is listed in {MANIFEST} but missing"
                )));
            }
            files.push(f);
        }
        return Ok(files);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Error::io(path, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(unsupported("no .parquet shard in this folder".into()));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_list_shards_by_name_or_by_manifest() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        assert!(shard_files(d).is_err(), "an empty folder is an error");
        for n in ["b.parquet", "a.parquet", "notes.txt"] {
            std::fs::write(d.join(n), b"x").unwrap();
        }
        let names = |v: Vec<PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(shard_files(d).unwrap()), ["a.parquet", "b.parquet"]);
        std::fs::write(
            d.join(MANIFEST),
            r#"{"complete": true, "shards": [{"file": "b.parquet"}, {"file": "a.parquet"}]}"#,
        )
        .unwrap();
        assert_eq!(names(shard_files(d).unwrap()), ["b.parquet", "a.parquet"]);
        std::fs::write(
            d.join(MANIFEST),
            r#"{"complete": false, "shards": [{"file": "b.parquet"}]}"#,
        )
        .unwrap();
        let e = shard_files(d).unwrap_err().to_string();
        assert!(e.contains("not complete"), "{e}");
        std::fs::write(
            d.join(MANIFEST),
            r#"{"complete": true, "shards": [{"file": "c.parquet"}]}"#,
        )
        .unwrap();
        let e = shard_files(d).unwrap_err().to_string();
        assert!(e.contains("c.parquet") && e.contains("missing"), "{e}");
        let f = d.join("a.parquet");
        assert_eq!(shard_files(&f).unwrap(), [f]);
    }
}
