//! JSON Lines: one JSON object per line, fields configurable.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::{Doc, DocStream, Error, IdSet, Location, Progress, Result};

/// Reads a text file line by line, validating UTF-8 and counting lines and bytes.
/// Blank lines are skipped.
pub(crate) struct LineReader {
    path: PathBuf,
    reader: BufReader<File>,
    buf: Vec<u8>,
    line: u64,
    bytes: u64,
    total: u64,
}

impl LineReader {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let total = file.metadata().map_err(|e| Error::io(path, e))?.len();
        Ok(LineReader {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, file),
            buf: Vec::new(),
            line: 0,
            bytes: 0,
            total,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn progress(&self) -> Progress {
        Progress {
            done: self.bytes,
            total: Some(self.total),
            unit: "bytes",
        }
    }

    /// The next non-blank line with its 1-based number and the file's path, or `None`
    /// at the end.
    pub(crate) fn next_line(&mut self) -> Option<Result<(u64, &Path, &str)>> {
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(n) => {
                    self.bytes += n as u64;
                    self.line += 1;
                }
                Err(e) => return Some(Err(Error::io(&self.path, e))),
            }
            if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let line = self.line;
            return Some(match std::str::from_utf8(&self.buf) {
                Ok(s) => Ok((line, self.path.as_path(), s.trim_end_matches(['\n', '\r']))),
                Err(e) => Err(Error::malformed(
                    &self.path,
                    Location::Line(line),
                    format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()),
                )),
            });
        }
    }
}

/// Parses one line as a JSON object.
pub(crate) fn parse_object(path: &Path, line: u64, text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Error::malformed(
            path,
            Location::Line(line),
            format!("expected a JSON object, found {}", json_kind(&other)),
        )),
        Err(e) => Err(Error::malformed(
            path,
            Location::Line(line),
            format!("malformed JSON: {e}"),
        )),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Takes a string field (numbers are accepted for ids and turned into strings).
pub(crate) fn string_field(
    path: &Path,
    line: u64,
    obj: &mut Map<String, Value>,
    names: &[&str],
    required: bool,
) -> Result<Option<String>> {
    for name in names {
        match obj.remove(*name) {
            None => continue,
            Some(Value::String(s)) => return Ok(Some(s)),
            Some(Value::Number(n)) => return Ok(Some(n.to_string())),
            Some(Value::Null) if !required => return Ok(None),
            Some(other) => {
                return Err(Error::malformed(
                    path,
                    Location::Line(line),
                    format!(
                        "field {name:?} must be a string, found {}",
                        json_kind(&other)
                    ),
                ));
            }
        }
    }
    if required {
        let names = names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(" or ");
        return Err(Error::malformed(
            path,
            Location::Line(line),
            format!("missing field {names}"),
        ));
    }
    Ok(None)
}

/// Which JSON fields hold the id, title and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonlFields {
    /// Candidates for the id, first present wins (default `_id`, then `id`).
    pub id: Vec<String>,
    /// Optional title field (default `title`).
    pub title: Option<String>,
    /// Text field (default `text`).
    pub text: String,
}

impl Default for JsonlFields {
    fn default() -> Self {
        JsonlFields {
            id: vec!["_id".into(), "id".into()],
            title: Some("title".into()),
            text: "text".into(),
        }
    }
}

/// Streams documents from a JSONL file.
pub struct JsonlDocs {
    lines: LineReader,
    fields: JsonlFields,
    ids: IdSet,
    failed: bool,
}

impl JsonlDocs {
    pub fn open(path: &Path, fields: JsonlFields) -> Result<Self> {
        Ok(JsonlDocs {
            lines: LineReader::open(path)?,
            fields,
            ids: IdSet::default(),
            failed: false,
        })
    }
}

fn parse_doc(
    fields: &JsonlFields,
    ids: &mut IdSet,
    path: &Path,
    line: u64,
    text: &str,
) -> Result<Doc> {
    let mut obj = parse_object(path, line, text)?;
    let id_names: Vec<&str> = fields.id.iter().map(String::as_str).collect();
    let id = string_field(path, line, &mut obj, &id_names, true)?.unwrap_or_default();
    if id.is_empty() {
        return Err(Error::malformed(
            path,
            Location::Line(line),
            "empty document id",
        ));
    }
    let title = match &fields.title {
        Some(t) => string_field(path, line, &mut obj, &[t.as_str()], false)?,
        None => None,
    };
    let body = string_field(path, line, &mut obj, &[fields.text.as_str()], true)?;
    ids.insert(path, &id, Location::Line(line))?;
    // The rest of the line is metadata; a `metadata` object's entries are merged in
    // (a top-level field of the same name wins).
    let mut metadata = crate::Metadata::new();
    if let Some(serde_json::Value::Object(m)) = obj.remove("metadata") {
        metadata.extend(m);
    }
    metadata.extend(obj);
    Ok(Doc {
        id,
        title: title.unwrap_or_default(),
        text: body.unwrap_or_default(),
        metadata,
    })
}

impl Iterator for JsonlDocs {
    type Item = Result<Doc>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = match self.lines.next_line()? {
            Ok((line, path, text)) => parse_doc(&self.fields, &mut self.ids, path, line, text),
            Err(e) => Err(e),
        };
        self.failed = item.is_err();
        Some(item)
    }
}

impl DocStream for JsonlDocs {
    fn source(&self) -> &Path {
        self.lines.path()
    }

    fn progress(&self) -> Progress {
        self.lines.progress()
    }
}
