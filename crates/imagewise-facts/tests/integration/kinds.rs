//! Images without packages get a report, not an error: scratch (one static binary) and
//! distroless (libraries and a program, no shell, no package manager).

use imagewise_facts::{ImageKind, LibcKind};

use crate::support::{fixtures, inspect};

#[test]
fn scratch_with_one_static_binary() {
    let f = inspect(fixtures().join("scratch.tar").to_str().unwrap());
    assert_eq!(f.kind, ImageKind::Scratch);
    assert_eq!(f.libc.kind, LibcKind::None);
    assert!(f.packages.is_empty() && f.package_databases.is_empty());
    assert!(f.arch.is_some(), "arch from the binary's ELF header");
    assert_eq!(f.arch_detail.elf.values().sum::<u64>(), 1);
    assert!(
        f.notes.iter().any(|n| n.contains("no package database")),
        "{:?}",
        f.notes
    );
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("distribution is unknown")),
        "{:?}",
        f.notes
    );
    assert_eq!(f.size.files, 1);
}

#[test]
fn distroless_style_image() {
    let f = inspect(fixtures().join("distroless-rootfs").to_str().unwrap());
    assert_eq!(f.kind, ImageKind::Distroless);
    assert_eq!(f.libc.kind, LibcKind::Glibc);
    assert_eq!(f.os.id.as_deref(), Some("debian"));
    assert_eq!(f.init.system, "none");
    assert_eq!(f.security.users.len(), 2);
    assert!(f.security.users.iter().all(|u| !u.login_shell));
}

#[test]
fn empty_image() {
    let dir = tempfile::tempdir().unwrap();
    let f = inspect(dir.path().to_str().unwrap());
    assert_eq!(f.kind, ImageKind::Empty);
    assert_eq!(f.arch, None);
    assert_eq!(f.libc.kind, LibcKind::None);
}

/// syft's fixtures: a status file whose paragraphs name no package is corrupt, an empty one is
/// an image with no packages, and a status.d of one good file reads that file.
#[test]
fn dpkg_status_files_that_name_no_package_are_corrupt() {
    let syft = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/peer-corpus/syft/debian/testdata/var/lib/dpkg/status.d");
    for (file, status, packages) in [
        ("corrupt", "corrupt", 0),
        ("empty", "ok", 0),
        ("single", "ok", 1),
    ] {
        for (place, dbpath) in [
            ("status", "/var/lib/dpkg/status"),
            ("status.d", "/var/lib/dpkg/status.d"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let target = if place == "status" {
                dir.path().join("var/lib/dpkg/status")
            } else {
                dir.path().join("var/lib/dpkg/status.d").join(file)
            };
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(syft.join(file), &target).unwrap();
            let f = inspect(dir.path().to_str().unwrap());
            let db = f
                .package_databases
                .iter()
                .find(|d| d.path == dbpath)
                .unwrap_or_else(|| panic!("{file} as {place}: {:?}", f.package_databases));
            assert_eq!(db.status, status, "{file} as {place}: {db:?}");
            assert_eq!(db.packages, packages, "{file} as {place}: {db:?}");
        }
    }
}

/// syft reads CBL-Mariner's distroless rpm manifest and opkg's status file; so does imagewise.
#[test]
fn rpm_manifests_and_opkg_status_files_are_package_databases() {
    let corpus =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peer-corpus/syft");
    for (from, to, eco, format, n) in [
        (
            "redhat/testdata/container-manifest-2",
            "var/lib/rpmmanifest/container-manifest-2",
            "rpm",
            "rpm-manifest",
            5,
        ),
        (
            "debian/testdata/var/lib/opkg/status",
            "usr/lib/opkg/status",
            "opkg",
            "opkg-status",
            0,
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join(to);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(corpus.join(from), &target).unwrap();
        let f = inspect(dir.path().to_str().unwrap());
        let db = &f.package_databases[0];
        assert_eq!(
            (db.format.as_str(), db.status.as_str()),
            (format, "ok"),
            "{db:?}"
        );
        let want = if n > 0 {
            n
        } else {
            std::fs::read_to_string(&target)
                .unwrap()
                .matches("\nPackage: ")
                .count()
                + 1
        };
        assert_eq!(db.packages as usize, want, "{db:?}");
        let p = &f.packages[0];
        assert_eq!(p.ecosystem.as_str(), eco);
        assert!(p.purl.starts_with(&format!("pkg:{eco}/")), "{}", p.purl);
    }
}
