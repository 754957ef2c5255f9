//! File helpers of index directories: listing, syncing, removing what a commit left.

use std::path::Path;

use crate::manifest::sync_dir;
use crate::{Error, Result};

pub(super) fn dir_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// Removes generation folders other than the committed one (a build killed after
/// moving its generation in place but before the manifest swap).
pub(super) fn remove_stale_generations(root: &Path, current: u64) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(g) = name
            .strip_prefix("gen-")
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        if g != current && entry.path().is_dir() && crate::lock::unread(root, g) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

pub(super) fn list_files(
    base: &Path,
    dir: &Path,
    prefix: &str,
    out: &mut Vec<String>,
) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            list_files(base, &path, prefix, out)?;
        } else {
            let rel = path.strip_prefix(base).unwrap_or(&path);
            out.push(format!("{prefix}/{}", rel.to_string_lossy()));
        }
    }
    Ok(())
}

/// fsyncs every file and directory under `dir`.
pub(super) fn sync_tree(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&path, e))?;
        }
    }
    sync_dir(dir)
}
