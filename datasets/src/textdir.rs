//! A folder of `.txt` / `.md` files: one document per file, id = path relative to the
//! folder (with `/` separators), title = the first Markdown heading of `.md` files.

use std::path::{Path, PathBuf};

use crate::{Doc, DocStream, Error, Location, Progress, Result};

/// Streams the text files under a folder, in sorted path order.
pub struct TextDirDocs {
    root: PathBuf,
    files: Vec<PathBuf>,
    next: usize,
}

impl TextDirDocs {
    pub fn open(root: &Path) -> Result<Self> {
        let mut files = Vec::new();
        collect(root, &mut files)?;
        files.sort();
        if files.is_empty() {
            return Err(Error::UnsupportedInput {
                path: root.to_path_buf(),
                message: "no .txt or .md files in this folder".into(),
            });
        }
        Ok(TextDirDocs {
            root: root.to_path_buf(),
            files,
            next: 0,
        })
    }

    fn read(&self, path: &Path) -> Result<Doc> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            Error::malformed(path, Location::Line(line), "invalid UTF-8")
        })?;
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        let id = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let title = if path.extension().is_some_and(|e| e == "md") {
            text.lines()
                .map(str::trim)
                .find(|l| l.starts_with('#'))
                .map(|l| l.trim_start_matches('#').trim().to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Doc {
            id,
            title,
            text,
            metadata: Default::default(),
        })
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "txt" || e == "md") {
            out.push(path);
        }
    }
    Ok(())
}

impl Iterator for TextDirDocs {
    type Item = Result<Doc>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.files.get(self.next)?.clone();
        self.next += 1;
        let item = self.read(&path);
        if item.is_err() {
            self.next = self.files.len();
        }
        Some(item)
    }
}

impl DocStream for TextDirDocs {
    fn source(&self) -> &Path {
        &self.root
    }

    fn progress(&self) -> Progress {
        Progress {
            done: self.next as u64,
            total: Some(self.files.len() as u64),
            unit: "files",
        }
    }
}
