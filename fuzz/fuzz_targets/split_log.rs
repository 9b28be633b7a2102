//! Fuzzes the log scanner and the splitter with arbitrary logs: no panic, and nothing written
//! outside the output directory. Runs on stable: `cargo fuzz run -s none split_log`.
#![no_main]

use std::io::Cursor;

use kdc::dump::{DirSink, MemSink, scan_log, split_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut mem = MemSink::new(1 << 20);
    let _ = scan_log(Cursor::new(data), &mut mem);
    let mut mem = MemSink::new(1 << 20);
    let _ = split_text(Cursor::new(data), &mut mem);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let mut sink = DirSink::new(&dir, 1 << 20).unwrap();
    let _ = split_text(Cursor::new(data), &mut sink);
    for entry in std::fs::read_dir(tmp.path()).unwrap() {
        assert_eq!(entry.unwrap().file_name(), "out", "wrote outside the output directory");
    }
});
