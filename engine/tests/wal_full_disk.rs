//! A full disk (a file-size limit stands in for it: `RLIMIT_FSIZE`, no root mounts)
//! must not lose or corrupt acknowledged writes. Its own test binary: the limit is
//! process-wide.

use seine_engine::Error;
use seine_engine::write::wal::{Wal, WalRecord, read_log, wal_path};

fn put(i: usize) -> WalRecord {
    WalRecord::Put {
        id: format!("doc-{i}"),
        title: String::new(),
        text: "x".repeat(300),
        metadata: Default::default(),
    }
}

fn set_fsize(limit: u64) {
    let l = libc::rlimit {
        rlim_cur: limit,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit with a valid pointer to a local rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &l) }, 0);
}

/// Regression: a failed append left its partial bytes in the log; the next
/// acknowledged record was glued to them and lost at restart (or, with two, the
/// index refused to open: "corrupt write-ahead log record").
#[test]
fn a_failed_append_leaves_the_log_as_before_and_writes_resume() {
    // SAFETY: ignoring SIGXFSZ (so the write fails with EFBIG instead of killing us).
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = wal_path(dir.path(), 1);
    let mut wal = Wal::open_writer(dir.path(), 1, 0).unwrap();
    let mut acked = Vec::new();
    for i in 0..3 {
        wal.append(&[put(i)]).unwrap();
        acked.push(put(i));
    }
    let len = std::fs::metadata(&path).unwrap().len();
    // Room for a little more than one record: the second append fails half-written.
    set_fsize(len + 400);
    let mut failures = 0;
    for i in 3..8 {
        match wal.append(&[put(i)]) {
            Ok(()) => acked.push(put(i)),
            Err(Error::Storage { full, message }) => {
                assert!(full, "{message}");
                failures += 1;
                // Exactly the acknowledged records, nothing torn.
                let read = read_log(&path).unwrap();
                assert_eq!(read.records, acked);
                assert_eq!(read.torn, 0);
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(failures, 4, "one append fits, four do not");
    // Space is back: writes work again, and everything acknowledged reads back.
    set_fsize(libc::RLIM_INFINITY);
    for i in 8..10 {
        wal.append(&[put(i)]).unwrap();
        acked.push(put(i));
    }
    drop(wal);
    assert_eq!(read_log(&path).unwrap().records, acked);
}
