//! `seine repair`: the documented way past a corrupt write-ahead log record.

use std::path::PathBuf;

use seine_index::{IndexDir, WriterLock};

#[derive(clap::Args)]
pub struct Args {
    /// Index directory whose write-ahead log to repair.
    index: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let dir = IndexDir::open(&a.index)?;
    let _lock = WriterLock::acquire(&a.index, "seine repair")?;
    let generation = dir.manifest().generation;
    let path = seine_engine::write::wal::wal_path(&a.index, generation);
    let (read, corrupt) = seine_engine::write::wal::repair_log(&a.index, generation)?;
    if corrupt.is_empty() && read.torn == 0 {
        println!(
            "{}: {} records, all verify; nothing to repair",
            path.display(),
            read.records.len()
        );
        return Ok(());
    }
    for c in &corrupt {
        println!("dropped line {} (byte {}): {}", c.line, c.offset, c.reason);
    }
    if read.torn > 0 {
        println!(
            "dropped a torn tail of {} bytes (never acknowledged)",
            read.torn
        );
    }
    println!(
        "{}: kept {} records; the original is beside it as {}.corrupt-<time>",
        path.display(),
        read.records.len(),
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    Ok(())
}
