//! The real rpm databases in ../shared/fixtures/rpmdb, read back equal to Debian's `rpm` on the
//! same files (SQLite and Berkeley DB); the ndb one, which Debian's rpm cannot open, is checked
//! by recomputing every header's SHA-256 header digest.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use imagewise_facts::{read_rpm_database, Distro, Ecosystem};

use crate::support::{inspect, run, shared};

type Row = (String, String, String, String, Option<String>, Option<u64>);

/// Copy the read-only fixture into a temporary dbpath rpm may lock, and query it.
fn rpm_qa(file: &Path, backend: &str) -> BTreeSet<Row> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(file, dir.path().join(file.file_name().unwrap())).unwrap();
    let out = run(Command::new("rpm")
        .arg("--dbpath")
        .arg(dir.path())
        .args(["--define", &format!("_db_backend {backend}")])
        .args(["-qa", "--qf", "%{NAME}\\t%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}\\t%|LONGSIZE?{%{LONGSIZE}}:{%{SIZE}}|\\n"]));
    out.lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f[0] != "gpg-pubkey")
        .map(|f| {
            let source = f[3].trim_end_matches(".src.rpm");
            let (rest, rel) = source.rsplit_once('-').unwrap();
            let (sname, _) = rest.rsplit_once('-').unwrap();
            let _ = rel;
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].to_string(),
                sname.to_string(),
                Some(f[4].to_string()).filter(|l| l != "(none)"),
                f[5].parse().ok(),
            )
        })
        .collect()
}

fn ours(file: &Path) -> (BTreeSet<Row>, imagewise_facts::RpmDatabase) {
    let bytes = std::fs::read(file).unwrap();
    let db = read_rpm_database(&bytes, file.to_str().unwrap(), &Distro::default()).unwrap();
    let rows = db
        .packages
        .iter()
        .map(|p| {
            assert_eq!(p.ecosystem, Ecosystem::Rpm);
            (
                p.name.clone(),
                p.version.clone(),
                p.arch.clone().unwrap_or_default(),
                p.source_name.clone(),
                p.license.clone(),
                p.installed_size,
            )
        })
        .collect();
    (rows, db)
}

#[test]
fn sqlite_database_equals_rpm() {
    let file = shared().join("rpmdb/cbl-mariner-2.0/rpmdb.sqlite");
    let want = rpm_qa(&file, "sqlite");
    assert_eq!(want.len(), 129, "the fixture README says 129 packages");
    let (got, db) = ours(&file);
    assert_eq!(got, want);
    assert!(db.problems.is_empty(), "{:?}", db.problems);
    assert_eq!(
        db.verified_headers,
        db.packages.len(),
        "every header digest checks out"
    );
}

#[test]
fn berkeley_db_database_equals_rpm() {
    let file = shared().join("rpmdb/libuuid/Packages");
    let want = rpm_qa(&file, "bdb_ro");
    assert_eq!(want.len(), 1);
    let (got, db) = ours(&file);
    assert_eq!(got, want);
    assert!(db.problems.is_empty(), "{:?}", db.problems);
    assert_eq!(db.verified_headers, 1);
}

#[test]
fn ndb_database_headers_verify_against_their_own_digests() {
    let file = shared().join("rpmdb/sle15-bci/Packages.db");
    let (_, db) = ours(&file);
    assert!(db.packages.len() > 10, "{} packages", db.packages.len());
    assert!(db.problems.is_empty(), "{:?}", db.problems);
    // Each header's SHA256HEADER is over its exact immutable region: a byte off anywhere in the
    // slot/blob walk would break it.
    assert_eq!(db.verified_headers, db.packages.len());
    for p in &db.packages {
        assert!(
            !p.source_name.is_empty() && p.version.contains('-'),
            "{p:?}"
        );
    }
    assert!(db.packages.iter().any(|p| p.name == "glibc"));
}

#[test]
fn rpm_database_inside_an_image_is_found_and_named_for_its_distro() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("usr/lib/sysimage/rpm")).unwrap();
    std::fs::create_dir_all(root.join("var/lib")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::os::unix::fs::symlink("../../usr/lib/sysimage/rpm", root.join("var/lib/rpm")).unwrap();
    std::fs::copy(
        shared().join("rpmdb/cbl-mariner-2.0/rpmdb.sqlite"),
        root.join("usr/lib/sysimage/rpm/rpmdb.sqlite"),
    )
    .unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "ID=mariner\nVERSION_ID=\"2.0\"\nNAME=\"CBL-Mariner\"\n",
    )
    .unwrap();
    let f = inspect(root.to_str().unwrap());
    assert_eq!(
        f.package_databases.len(),
        1,
        "one database through two paths: {:?}",
        f.package_databases
    );
    assert_eq!(f.package_databases[0].format, "rpm-sqlite");
    assert_eq!(f.packages.len(), 129);
    let glibc = f.packages.iter().find(|p| p.name == "glibc").unwrap();
    assert!(
        glibc.purl.starts_with("pkg:rpm/mariner/glibc@"),
        "{}",
        glibc.purl
    );
    assert!(glibc.purl.contains("distro=mariner-2.0"), "{}", glibc.purl);
}

#[test]
fn corrupt_rpm_database_is_a_fact_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
    let mut bytes = std::fs::read(shared().join("rpmdb/cbl-mariner-2.0/rpmdb.sqlite")).unwrap();
    bytes.truncate(bytes.len() / 3);
    std::fs::write(root.join("var/lib/rpm/rpmdb.sqlite"), &bytes).unwrap();
    std::fs::write(
        root.join("var/lib/rpm/Packages"),
        b"not berkeley db at all, just text",
    )
    .unwrap();
    let f = inspect(root.to_str().unwrap());
    assert_eq!(f.package_databases.len(), 2, "{:?}", f.package_databases);
    for db in &f.package_databases {
        assert_eq!(db.status, "corrupt", "{db:?}");
        assert!(!db.problems.is_empty());
    }
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("rpmdb.sqlite is corrupt")),
        "{:?}",
        f.notes
    );
}
