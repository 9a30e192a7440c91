//! Fuzz `inspect` over a tarball: every facts reader (os-release, dpkg, apk, rpm, ELF headers,
//! kernel config, passwd/shadow, sshd_config, …) sees whatever the archive holds.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(tree) = common::open_input("tar:", data) {
        let facts = imagewise_facts::inspect(&tree);
        let _ = imagewise_facts::sbom::spdx(&facts, "2026-01-01T00:00:00Z");
        let _ = imagewise_facts::sbom::cyclonedx(&facts, "2026-01-01T00:00:00Z");
    }
});
