//! Fuzz OSV import and matching: the input is written as one file (a zip when it starts with
//! `PK`, else a JSON document), imported into a fresh database, and a few installed packages of
//! every order are scanned against whatever was stored.
#![no_main]

use imagewise_vuln::{import_paths, scan, Database, Distro, VersionOrder, Installed};

fn pkg(order: VersionOrder, name: &str, version: &str) -> Installed {
    Installed {
        order,
        name: name.into(),
        version: version.into(),
        source_name: name.into(),
        source_version: version.into(),
        epoch: None,
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("imagewise-fuzz-osv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join(if data.starts_with(b"PK") { "all.zip" } else { "r.json" });
    std::fs::write(&input, data).expect("write input");
    let db_dir = dir.join("db");
    let mut db = Database::create(&db_dir).expect("create db");
    let _ = import_paths(&mut db, &[input.as_path()], &mut |_| {});
    drop(db);
    let db = Database::open(&db_dir).expect("reopen db");
    let _ = db.status();
    for (id, version, order) in [
        ("debian", "12", VersionOrder::Dpkg),
        ("alpine", "3.20.3", VersionOrder::Apk),
        ("rocky", "9.4", VersionOrder::Rpm),
    ] {
        let distro = Distro {
            id: id.into(),
            id_like: vec![],
            version_id: Some(version.into()),
        };
        let pkgs = [pkg(order, "a", "1.0-1"), pkg(order, "openssl", "3.0.2-r1")];
        let _ = scan(&db, &distro, &pkgs);
    }
});
