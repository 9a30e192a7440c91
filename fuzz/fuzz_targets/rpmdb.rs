//! Fuzz the rpm database readers (SQLite, ndb, Berkeley DB, and the header blobs inside them):
//! the first byte picks the backend.
#![no_main]

use imagewise_facts::{read_rpm_database, Distro};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let name = ["rpmdb.sqlite", "Packages.db", "Packages"][usize::from(pick % 3)];
    let _ = read_rpm_database(rest, name, &Distro::default());
});
