//! Shared by the fuzz targets: write the input to a file (image references are paths), open it
//! with tight limits, and read everything the tree offers. Any panic is a bug.
#![allow(dead_code)] // each target uses part of it

use imagewise_source::{open, Limits, OpenOptions};

pub fn exercise(prefix: &str, data: &[u8]) {
    if let Some(tree) = open_input(prefix, data) {
        for e in tree.entries() {
            let _ = tree.read(&e.path, 1 << 20);
            let _ = tree.resolve(&e.path, true);
        }
    }
}

/// Write the input to a file and open it as `prefix:FILE` with tight limits.
pub fn open_input(prefix: &str, data: &[u8]) -> Option<imagewise_source::ImageTree> {
    let dir = std::env::temp_dir().join(format!("imagewise-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("input");
    if std::fs::write(&path, data).is_err() {
        return None;
    }
    let opts = OpenOptions {
        limits: Limits {
            max_unpacked_bytes: 32 << 20,
            max_ratio: 1024,
            max_entries: 10_000,
        },
        ..OpenOptions::default()
    };
    open(&format!("{prefix}{}", path.display()), &opts).ok()
}
