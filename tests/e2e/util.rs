use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `seine` binary under test.
pub fn seine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_seine"))
}

/// Runs `seine` with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    seine().args(args).output().expect("spawn seine")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `seine` and asserts success.
pub fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert!(
        o.status.success(),
        "seine {args:?} failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    o
}

/// `../shared/datasets/<name>`.
pub fn dataset(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets")
        .join(name);
    assert!(
        p.is_dir(),
        "{} missing: the tests need ../shared beside the checkout",
        p.display()
    );
    p
}

/// The Python interpreter with the reference packages (scripts/setup-test-env.sh).
pub fn python() -> PathBuf {
    let p = std::env::var_os("SEINE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    assert!(
        p.exists(),
        "{} missing: run scripts/setup-test-env.sh (scripts/test.sh does)",
        p.display()
    );
    p
}

pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Entries of `dir` whose names contain `.building-` (leftovers of a build).
pub fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".building-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Writes the first `n` lines of a JSONL file to `to`.
pub fn head_lines(from: &Path, n: usize, to: &Path) {
    let text = std::fs::read_to_string(from).unwrap();
    let head: Vec<&str> = text.lines().take(n).collect();
    std::fs::write(to, head.join("\n") + "\n").unwrap();
}

/// The ids of a `{"hits": [{"id": ...}]}` answer (CLI `--json` or HTTP), in order.
pub fn hit_ids(v: &serde_json::Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}
