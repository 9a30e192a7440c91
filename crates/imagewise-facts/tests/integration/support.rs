use std::path::PathBuf;
use std::process::Command;

use imagewise_facts::ImageFacts;
use imagewise_source::OpenOptions;

/// The fixture cache; the suite refuses to run without it rather than pass vacuously.
pub fn fixtures() -> PathBuf {
    let dir = std::env::var_os("IMAGEWISE_FIXTURES").map(PathBuf::from).expect(
        "IMAGEWISE_FIXTURES is not set: run scripts/test.sh, which builds the fixture images and sets it",
    );
    for mark in [
        "bookworm-rootfs.complete",
        "kernel-rootfs.complete",
        "distroless-rootfs.complete",
        "sbom-schemas-v2.complete",
    ] {
        assert!(
            dir.join(mark).exists(),
            "{} has no {mark}: run scripts/fixtures.sh {}",
            dir.display(),
            dir.display()
        );
    }
    dir
}

pub fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

pub fn scripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts")
}

pub fn inspect(reference: &str) -> ImageFacts {
    let tree = imagewise_source::open(reference, &OpenOptions::default())
        .unwrap_or_else(|e| panic!("open {reference}: {e}"));
    imagewise_facts::inspect(&tree)
}

/// Run a reference tool and return its standard output, failing loudly when it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
