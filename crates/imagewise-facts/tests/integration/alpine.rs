//! The real Alpine 3.20.3 minirootfs tarballs (x86_64 and aarch64): packages equal the apk
//! database's own P:/V:/o:/A: records (read here with `tar` and split by hand), musl, arch.

use std::collections::BTreeSet;
use std::process::Command;

use imagewise_facts::{Ecosystem, LibcKind};

use crate::support::{inspect, run, shared};

/// (name, version, origin, arch) straight from the database file in the tarball.
fn apk_records(tarball: &std::path::Path) -> BTreeSet<(String, String, String, String)> {
    let db = run(Command::new("tar")
        .arg("-xzOf")
        .arg(tarball)
        .args(["--wildcards", "*lib/apk/db/installed"]));
    db.split("\n\n")
        .filter(|r| !r.trim().is_empty())
        .map(|r| {
            let get = |k: &str| {
                r.lines()
                    .find_map(|l| l.strip_prefix(k))
                    .unwrap_or_default()
                    .to_string()
            };
            (get("P:"), get("V:"), get("o:"), get("A:"))
        })
        .collect()
}

#[test]
fn minirootfs_packages_libc_and_arch_for_both_architectures() {
    for (file, arch, apk_arch) in [
        ("alpine-minirootfs-3.20.3-x86_64.tar.gz", "amd64", "x86_64"),
        (
            "alpine-minirootfs-3.20.3-aarch64.tar.gz",
            "arm64",
            "aarch64",
        ),
    ] {
        let path = shared().join("alpine").join(file);
        let want = apk_records(&path);
        assert!(want.len() >= 10, "{file}: {} records", want.len());
        let f = inspect(&format!("tar:{}", path.display()));
        let got: BTreeSet<_> = f
            .packages
            .iter()
            .map(|p| {
                assert_eq!(p.ecosystem, Ecosystem::Apk);
                (
                    p.name.clone(),
                    p.version.clone(),
                    p.source_name.clone(),
                    p.arch.clone().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, want, "{file}");
        assert!(want.iter().all(|r| r.3 == apk_arch));
        assert_eq!(f.os.id.as_deref(), Some("alpine"));
        assert_eq!(f.os.version_id.as_deref(), Some("3.20.3"));
        assert_eq!(f.libc.kind, LibcKind::Musl, "{file}");
        let musl = want.iter().find(|r| r.0 == "musl").unwrap();
        assert_eq!(
            f.libc.version.as_deref(),
            musl.1.split('-').next(),
            "{file}"
        );
        assert_eq!(
            f.libc.loader.as_deref(),
            Some(&*format!("/lib/ld-musl-{apk_arch}.so.1"))
        );
        assert_eq!(f.arch.as_deref(), Some(arch), "{file}: {:?}", f.arch_detail);
        assert_eq!(f.arch_detail.source.as_deref(), Some("elf"));
        assert!(!f.arch_detail.mixed);
        let p = f.packages.iter().find(|p| p.name == "libcrypto3").unwrap();
        assert_eq!(p.source_name, "openssl");
        assert_eq!(
            p.purl,
            format!("pkg:apk/alpine/libcrypto3@{}?arch={apk_arch}&distro=alpine-3.20.3&upstream=openssl", p.version)
        );
        assert!(p.license.is_some() && p.installed_size.is_some());
    }
}

#[test]
fn musl_version_read_from_the_library_when_there_is_no_package_database() {
    let fx = crate::support::fixtures();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("lib")).unwrap();
    let name = std::fs::read_dir(fx.join("alpine-rootfs/lib"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with("ld-musl-"))
        .unwrap();
    std::fs::copy(
        fx.join("alpine-rootfs/lib").join(&name),
        dir.path().join("lib").join(&name),
    )
    .unwrap();
    let f = inspect(dir.path().to_str().unwrap());
    assert_eq!(f.libc.kind, LibcKind::Musl);
    assert_eq!(f.libc.version_source.as_deref(), Some("binary"));
    // ldd's own report is the oracle: the library prints its version when run as ldd.
    let ldd = Command::new(fx.join("alpine-rootfs/lib").join(&name))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ldd.stderr);
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("Version "))
        .unwrap()
        .trim();
    assert_eq!(f.libc.version.as_deref(), Some(version));
}
