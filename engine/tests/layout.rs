//! The engine's layout by role holds: the read path (`src/search/`) never reaches into
//! the write path (`src/write/`, or its modules re-exported at the crate root), nor
//! into the `Searcher` that joins the two.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn search_never_imports_write() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/search");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() >= 5, "{files:?}");
    let forbidden = [
        "crate::write",
        "crate::build",
        "crate::indexer",
        "crate::embed",
        "crate::Searcher",
        "crate::check_doc_id",
        "crate::searcher",
    ];
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue; // documentation may name the write path
            }
            for bad in forbidden {
                if code.contains(bad) {
                    found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "search/ imports the write path:\n{}",
        found.join("\n")
    );
}
