//! `snapshot:REPO[@SNAP]` wherever an image is accepted: every command on a stored snapshot says
//! what it says on the directory that was stored (apart from the fields that name the image),
//! file bytes come back exactly, and damage fails only the files it touches.

use serde_json::Value;

use crate::golden::osv_db;
use crate::store::{damaged_paths, init_with_small_packs, json, packs, s};
use crate::support::*;

/// Run imagewise; stdout parsed as one JSON document or as JSON lines, and the exit code.
fn doc(args: &[&str]) -> (Value, i32) {
    let out = imagewise_cmd()
        .args(args)
        .env("IMAGEWISE_NO_PROGRESS", "1")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "imagewise {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        Value::Array(
            out.stdout
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect(),
        )
    });
    (v, code)
}

/// The document with the image's name, format and tags taken out: what may differ between an
/// image and its stored snapshot.
fn unnamed(v: &Value, reference: &str) -> Value {
    match v {
        Value::String(t) => Value::String(
            t.replace(reference, "$IMAGE")
                .replace("snapshot image", "$FORMAT image")
                .replace("dir image", "$FORMAT image"),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| unnamed(x, reference)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "format" | "tags" | "documentNamespace" | "serialNumber"
                    ) && !k.ends_with("_seconds")
                })
                .map(|(k, x)| (k.clone(), unnamed(x, reference)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn every_command_reads_a_stored_snapshot_as_the_directory_it_was() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let root = f.join("bookworm-rootfs");
    let dir = format!("dir:{}", s(&root));
    let repo = t.path().join("repo");
    ok(&["repo", "init", s(&repo)]);
    ok(&["snapshot", "create", "--tag", "v1", s(&repo), &dir]);
    let snap = format!("snapshot:{}@v1", s(&repo));
    let db = osv_db(t.path());
    let db = s(&db);
    // The other side of a check: another image, so that only the stored one is renamed.
    let other = format!("dir:{}", s(&f.join("trixie-rootfs")));
    let cases: Vec<Vec<&str>> = vec![
        vec!["ls", "--json", "--digest", "$"],
        vec!["ls", "--json", "$", "/etc/apt"],
        vec!["inspect", "--json", "$"],
        vec!["sbom", "--format", "spdx-json", "$"],
        vec!["sbom", "--format", "cyclonedx-json", "$"],
        vec!["scan", "--json", "--db", db, "$"],
        vec!["check", "--json", "--path", "/usr/bin", "$", "--on", &other],
        vec!["check", "--json", "--path", "/usr/bin", &other, "--on", "$"],
    ];
    for case in cases {
        let with = |image: &str| -> Vec<String> {
            case.iter()
                .map(|a| {
                    if *a == "$" {
                        image.to_string()
                    } else {
                        a.to_string()
                    }
                })
                .collect()
        };
        let (a, b) = (with(&dir), with(&snap));
        let (from_dir, code_dir) = doc(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let (from_snap, code_snap) = doc(&b.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code_dir, code_snap, "{case:?}");
        let (x, y) = (unnamed(&from_dir, &dir), unnamed(&from_snap, &snap));
        assert!(
            x == y,
            "{case:?}: the snapshot says otherwise than the directory"
        );
        assert_ne!(x, Value::Array(vec![]), "{case:?} printed nothing");
    }
    // The snapshot's own fields: its format, and the tags it was stored with.
    let (v, _) = doc(&["inspect", "--json", &snap]);
    assert_eq!(v["image"]["format"], "snapshot");
    assert_eq!(v["image"]["tags"], serde_json::json!(["v1"]));

    // `cat` gives the stored bytes back: a program, a hardlink's second name, a config file.
    for path in ["/usr/bin/bash", "/usr/bin/perl5.36.0", "/etc/passwd"] {
        let stored = ok(&["cat", &snap, path]);
        let original = std::fs::read(root.join(&path[1..])).unwrap();
        assert!(stored == original, "{path}: bytes differ");
    }
    // `latest` is the default, an id prefix names it too, and `snapshot ls` is `ls`.
    let latest = ok(&[
        "ls",
        "--json",
        &format!("snapshot:{}", s(&repo)),
        "/etc/apt",
    ]);
    let id = json(&["snapshot", "show", "--json", s(&repo), "v1"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let by_id = ok(&[
        "ls",
        "--json",
        &format!("snapshot:{}@{}", s(&repo), &id[..8]),
        "/etc/apt",
    ]);
    let alias = ok(&["snapshot", "ls", "--json", s(&repo), "v1", "/etc/apt"]);
    assert_eq!(latest, by_id);
    assert_eq!(latest, alias);
}

/// A deterministic 4 MiB of incompressible bytes (xorshift), so the chunks and packs are the
/// same on every run.
fn noise() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..4 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn a_damaged_pack_fails_the_files_it_holds_and_nothing_else() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let ok_cp = std::process::Command::new("cp")
        .args(["-a", s(&f.join("alpine-rootfs")), s(&src)])
        .status()
        .unwrap();
    assert!(ok_cp.success());
    std::fs::write(src.join("big"), noise()).unwrap();
    let repo = t.path().join("repo");
    // Small packs: the big file's chunks fill packs of their own.
    init_with_small_packs(&repo);
    ok(&["snapshot", "create", "--threads", "1", s(&repo), s(&src)]);
    let p = &packs(&repo)[0];
    let mut bytes = std::fs::read(p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(p, &bytes).unwrap();
    // The oracle: what `repo check --read-data` says the damage reaches.
    let hit: Vec<String> = damaged_paths(&repo).into_iter().map(|h| h.1).collect();
    assert_eq!(hit, vec!["/big".to_string()]);

    let snap = format!("snapshot:{}", s(&repo));
    let listed = ls(&snap, &[]);
    assert_eq!(listed.len(), ls(&format!("dir:{}", s(&src)), &[]).len());
    let out = imagewise(&["cat", &snap, "/big"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "damaged data exits 1: {err}");
    assert!(err.contains("/big") && err.contains("snapshot"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Every other file reads back exactly.
    let mut files = 0;
    for (path, v) in &listed {
        if v["kind"] != "file" || path == "/big" {
            continue;
        }
        let stored = ok(&["cat", &snap, path]);
        assert!(
            stored == std::fs::read(src.join(&path[1..])).unwrap(),
            "{path}"
        );
        files += 1;
    }
    assert!(files > 50, "only {files} files compared");
}

#[test]
fn signatures_and_snapshot_kinds_are_checked_before_reading() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let (key, other) = (t.path().join("k"), t.path().join("other"));
    ok(&["key", "generate", s(&key)]);
    ok(&["key", "generate", s(&other)]);
    let repo = t.path().join("repo");
    let pubkey = format!("{}.pub", s(&key));
    ok(&["repo", "init", "--sign-key", &pubkey, s(&repo)]);
    let alpine = f.join("alpine-rootfs");
    ok(&[
        "snapshot",
        "create",
        "--sign-key",
        s(&key),
        s(&repo),
        s(&alpine),
    ]);
    let snap = format!("snapshot:{}", s(&repo));
    ok(&["cat", &snap, "/etc/alpine-release"]);
    // Verified with a key that did not sign it: refused (exit 2), unless told to accept it.
    let other_pub = format!("{}.pub", s(&other));
    let out = imagewise(&[
        "cat",
        "--trust-key",
        &other_pub,
        &snap,
        "/etc/alpine-release",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("refusing it"), "{err}");
    ok(&[
        "cat",
        "--trust-key",
        &other_pub,
        "--allow-unsigned",
        &snap,
        "/etc/alpine-release",
    ]);

    // A raw snapshot is a disk's bytes, not a tree: said so, with what to do.
    let raw = f.join("alpine-ext4.raw");
    let raw_repo = t.path().join("raw");
    ok(&["repo", "init", s(&raw_repo)]);
    ok(&["snapshot", "create", "--raw", s(&raw_repo), s(&raw)]);
    let out = imagewise(&["ls", &format!("snapshot:{}", s(&raw_repo))]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("restore it to a file"), "{err}");

    // No repository there, and a location scheme this build has no backend for.
    let out = imagewise(&["ls", &format!("snapshot:{}", s(&t.path().join("none")))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an imagewise repository"));
    let out = imagewise(&["ls", "snapshot:s3://bucket/golden"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not supported by this build"));
}
