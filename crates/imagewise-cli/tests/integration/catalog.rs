//! `imagewise catalog` on real images: digests against the layouts' own index, a moved file
//! recognised, kill -9 during `add`, two `add`s at once, damaged catalog files refused, and
//! `refresh` after `db import` changing the scan summary that `rank --catalog` then judges.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::scan::{rec, write_json};
use crate::support::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn cat(args: &[&str], catalog: &Path) -> (Value, i32, String) {
    let mut a = vec!["catalog"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--catalog", s(catalog)]);
    let out = imagewise(&a);
    let code = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (v, code, stderr)
}

fn cat_ok(args: &[&str], catalog: &Path) -> Value {
    let (v, code, err) = cat(args, catalog);
    assert_eq!(code, 0, "catalog {args:?}: {err}");
    v
}

fn names(catalog: &Path) -> Vec<String> {
    cat_ok(&["list", "--json"], catalog)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn add_list_show_rm_and_digests() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let c = t.path().join("cat.sqlite");
    let oci = f.join("alpine-oci");
    let bookworm = f.join("bookworm-rootfs");
    let added = cat_ok(&["add", "--json", s(&bookworm), s(&oci)], &c);
    assert_eq!(added[0]["result"], "added", "{added}");
    // An OCI layout is keyed by its manifest digest, as its own index.json names it.
    let index: Value =
        serde_json::from_slice(&std::fs::read(oci.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        added[1]["digest"], index["manifests"][0]["digest"],
        "{added}"
    );
    assert!(added[0]["digest"]
        .as_str()
        .unwrap()
        .starts_with("tree:sha256:"));
    // The same image again is a no-op that says so.
    let again = cat_ok(&["add", "--json", s(&bookworm)], &c);
    assert_eq!(again[0]["result"], "already_present", "{again}");
    assert_eq!(again[0]["moved_from"], Value::Null);
    assert_eq!(names(&c), ["alpine-oci", "bookworm-rootfs"]);
    // A renamed copy of an archive is the same image: recognised by digest, followed.
    let moved = t.path().join("renamed.tar");
    std::fs::copy(f.join("alpine-docker.tar"), &moved).unwrap();
    let first = cat_ok(
        &[
            "add",
            "--json",
            "--name",
            "alpine-docker",
            s(&f.join("alpine-docker.tar")),
        ],
        &c,
    );
    assert_eq!(first[0]["name"], "alpine-docker");
    let second = cat_ok(&["add", "--json", s(&moved)], &c);
    assert_eq!(second[0]["result"], "already_present", "{second}");
    assert_eq!(second[0]["digest"], first[0]["digest"]);
    assert_eq!(
        second[0]["moved_from"],
        s(&f.join("alpine-docker.tar")),
        "{second}"
    );
    // The name is taken: a clear conflict.
    let (_, code, err) = cat(
        &[
            "add",
            "--name",
            "alpine-docker",
            s(&f.join("trixie-rootfs")),
        ],
        &c,
    );
    assert_ne!(code, 0);
    assert!(err.contains("taken"), "{err}");
    // show by name, by digest prefix; facts, lint and trust are recorded.
    let shown = cat_ok(&["show", "--json", "bookworm-rootfs"], &c);
    let digest = shown["digest"].as_str().unwrap().to_string();
    let hex = digest.rsplit(':').next().unwrap();
    let by_prefix = cat_ok(&["show", "--json", &hex[..10]], &c);
    assert_eq!(by_prefix["name"], "bookworm-rootfs");
    assert_eq!(shown["facts"]["os"]["version_id"], "12");
    assert!(shown["facts"]["packages"].as_array().unwrap().len() > 50);
    assert_eq!(
        shown["package_count"],
        shown["facts"]["packages"].as_array().unwrap().len()
    );
    assert!(
        shown["lint"]["pass"].as_u64().unwrap() > 0,
        "{}",
        shown["lint"]
    );
    assert_eq!(
        shown["trust"]["consistency"]["level"], "good",
        "{}",
        shown["trust"]
    );
    assert_eq!(shown["scan"], Value::Null, "no database, no scan summary");
    assert_eq!(
        shown["trust"]["vulnerabilities"]["summary"],
        "not scanned (give a vulnerability database)"
    );
    // rm; then the name is unknown.
    cat_ok(&["rm", "bookworm-rootfs"], &c);
    assert_eq!(names(&c), ["alpine-docker", "alpine-oci"]);
    let (_, code, err) = cat(&["show", "bookworm-rootfs"], &c);
    assert_ne!(code, 0);
    assert!(err.contains("no image \"bookworm-rootfs\""), "{err}");
}

/// `catalog add` of `image`, started now.
fn spawn_add(c: &Path, image: &Path, pause_ms: Option<u64>) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imagewise"));
    cmd.args(["catalog", "add", "--catalog", s(c), s(image)])
        .env("IMAGEWISE_NO_PROGRESS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(ms) = pause_ms {
        cmd.env("IMAGEWISE_CATALOG_TEST_PAUSE_MS", ms.to_string());
    }
    cmd.spawn().unwrap()
}

#[test]
fn kill_during_add_and_concurrent_adds() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let c = t.path().join("cat.sqlite");
    // Adds at once (four, onto a catalog that does not exist yet) all succeed.
    let children: Vec<_> = [
        "bookworm-rootfs",
        "alpine-rootfs",
        "bullseye-rootfs",
        "distroless-rootfs",
    ]
    .iter()
    .map(|n| spawn_add(&c, &f.join(n), None))
    .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        names(&c),
        [
            "alpine-rootfs",
            "bookworm-rootfs",
            "bullseye-rootfs",
            "distroless-rootfs"
        ]
    );
    for n in ["bullseye-rootfs", "distroless-rootfs"] {
        cat_ok(&["rm", n], &c);
    }
    // Killed inside the write transaction: the catalog is as before.
    let mut child = spawn_add(&c, &f.join("trixie-rootfs"), Some(20_000));
    let err = child.stderr.take().unwrap();
    let mut lines = BufReader::new(err).lines();
    let line = lines.next().unwrap().unwrap();
    assert!(line.contains("inside the catalog transaction"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(names(&c), ["alpine-rootfs", "bookworm-rootfs"]);
    // Killed at arbitrary moments: never half an image, and the next add works.
    for delay in [5u64, 40, 150, 400] {
        let mut child = spawn_add(&c, &f.join("trixie-rootfs"), None);
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill();
        child.wait().unwrap();
        let n = names(&c);
        assert!(
            n == ["alpine-rootfs", "bookworm-rootfs"]
                || n == ["alpine-rootfs", "bookworm-rootfs", "trixie-rootfs"],
            "{n:?}"
        );
        if n.len() == 3 {
            let shown = cat_ok(&["show", "--json", "trixie-rootfs"], &c);
            assert_eq!(shown["facts"]["os"]["version_id"], "13");
            cat_ok(&["rm", "trixie-rootfs"], &c);
        }
    }
    cat_ok(&["add", s(&f.join("trixie-rootfs"))], &c);
    assert_eq!(names(&c).len(), 3);
}

#[test]
fn damaged_catalog_files_are_refused_with_what_to_do() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    // Not SQLite at all.
    let junk = t.path().join("junk.sqlite");
    std::fs::write(&junk, b"this is not a catalog, it is a shopping list\n").unwrap();
    let (_, code, err) = cat(&["list"], &junk);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("not an SQLite file") && err.contains("move the file away"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&junk).unwrap(),
        b"this is not a catalog, it is a shopping list\n"
    );
    // SQLite, but something else's database.
    let other = t.path().join("other.sqlite");
    Command::new("python3")
        .args(["-c", &format!("import sqlite3; c=sqlite3.connect({:?}); c.execute('create table t(x)'); c.commit()", s(&other))])
        .status()
        .unwrap();
    let (_, code, err) = cat(&["list"], &other);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not an imagewise catalog"), "{err}");
    // A real catalog cut short.
    let c = t.path().join("cat.sqlite");
    cat_ok(
        &[
            "add",
            s(&f.join("bookworm-rootfs")),
            s(&f.join("alpine-rootfs")),
        ],
        &c,
    );
    // Fold the WAL into the file first, as a closed catalog has it.
    Command::new("python3")
        .args(["-c", &format!("import sqlite3; c=sqlite3.connect({:?}); c.execute('pragma wal_checkpoint(truncate)'); c.close()", s(&c))])
        .status()
        .unwrap();
    let len = std::fs::metadata(&c).unwrap().len();
    let bytes = std::fs::read(&c).unwrap();
    std::fs::write(&c, &bytes[..(len / 2) as usize]).unwrap();
    let (_, code, err) = cat(&["list"], &c);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("catalog") && err.contains("move the file away"),
        "{err}"
    );
    // A URL is refused, not made into a local directory named `s3:`.
    let (_, code, err) = cat(&["list"], Path::new("s3://bucket/catalog.sqlite"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("URLs are not supported"), "{err}");
    assert!(!Path::new("s3:").exists());
}

fn critical(id: &str, name: &str, fixed: &str) -> Value {
    let mut r = rec(
        id,
        "Debian:12",
        name,
        json!([{"introduced": "0"}, {"fixed": fixed}]),
    );
    r["severity"] =
        json!([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]);
    r
}

#[test]
fn refresh_after_db_import_changes_the_scan_and_rank_follows() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let c = t.path().join("cat.sqlite");
    let db = t.path().join("db");
    let recs = t.path().join("recs");
    std::fs::create_dir_all(&recs).unwrap();
    // A first import that touches nothing in the image.
    write_json(&recs, &critical("DSA-9990-1", "no-such-package", "1.0"));
    ok(&["db", "import", "--db", s(&db), s(&recs)]);
    // An archive: its file is unchanged at refresh, so it is rejudged, not reopened.
    let tar = f.join("bookworm.tar");
    let added = cat_ok(&["add", "--json", "--db", s(&db), s(&tar)], &c);
    let shown = cat_ok(&["show", "--json", "bookworm"], &c);
    assert_eq!(shown["scan"]["counts"]["total"], 0, "{}", shown["scan"]);
    assert_eq!(shown["trust"]["vulnerabilities"]["level"], "good");
    // A critical advisory for a package the image has (coreutils, fixed in a version later
    // than the installed one).
    std::fs::remove_dir_all(&recs).unwrap();
    std::fs::create_dir_all(&recs).unwrap();
    write_json(&recs, &critical("DSA-9991-1", "coreutils", "99.0"));
    ok(&["db", "import", "--db", s(&db), s(&recs)]);
    let refreshed = cat_ok(&["refresh", "--json", "--db", s(&db)], &c);
    assert_eq!(refreshed[0]["action"], "rejudged", "{refreshed}");
    assert_eq!(refreshed[0]["digest"], added[0]["digest"]);
    let shown = cat_ok(&["show", "--json", "bookworm"], &c);
    assert_eq!(shown["scan"]["counts"]["critical"], 1, "{}", shown["scan"]);
    assert_eq!(
        shown["scan"]["counts"]["critical_fixed"], 1,
        "{}",
        shown["scan"]
    );
    assert_eq!(shown["trust"]["vulnerabilities"]["level"], "poor");
    // rank --catalog judges what the catalog recorded.
    let out = imagewise(&[
        "rank",
        "--json",
        "--catalog",
        s(&c),
        "--require",
        "no-critical",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let why = &v["rejected"][0]["unmet"][0];
    assert_eq!(why["needed"], "at most 0 critical", "{v}");
    assert_eq!(why["found"], "1 critical", "{v}");
    // The same judgement ranking the image itself with the database.
    let out = imagewise(&[
        "rank",
        "--json",
        "--db",
        s(&db),
        "--require",
        "no-critical",
        s(&tar),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let direct: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        direct["rejected"][0]["unmet"][0]["found"], "1 critical",
        "{direct}"
    );
    let out = imagewise(&[
        "rank",
        "--json",
        "--catalog",
        s(&c),
        "--require",
        "critical<=1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A file that changed is reopened and gets its new digest.
    let file = t.path().join("image.tar");
    std::fs::copy(f.join("alpine-docker.tar"), &file).unwrap();
    let before = cat_ok(&["add", "--json", "--name", "swapped", s(&file)], &c);
    std::fs::copy(f.join("alpine-oci.tar"), &file).unwrap();
    let refreshed = cat_ok(&["refresh", "--json", "swapped"], &c);
    assert_eq!(refreshed[0]["action"], "reopened", "{refreshed}");
    assert_eq!(
        refreshed[0]["previous_digest"], before[0]["digest"],
        "{refreshed}"
    );
    assert_ne!(refreshed[0]["digest"], before[0]["digest"]);
    // A file that is gone is reported (exit 1) and kept.
    std::fs::remove_file(&file).unwrap();
    let (v, code, _) = cat(&["refresh", "--json", "swapped"], &c);
    assert_eq!(code, 1);
    assert_eq!(v[0]["action"], "missing", "{v}");
    assert!(names(&c).contains(&"swapped".to_string()));
}

#[test]
fn rank_over_the_catalog_explains_as_rank_over_images_does() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let c = t.path().join("cat.sqlite");
    let refs: Vec<String> = [
        "bookworm-rootfs",
        "trixie-rootfs",
        "bullseye-rootfs",
        "alpine-arm64-rootfs",
    ]
    .iter()
    .map(|n| f.join(n).display().to_string())
    .collect();
    let mut args = vec!["add"];
    args.extend(refs.iter().map(String::as_str));
    cat_ok(&args, &c);
    // The same requirement over the images and over the catalog: the same choice and reasons.
    let spec = "arch=amd64 libc=glibc>=2.38 pkg:coreutils>=9";
    let direct = imagewise(
        &[
            &["rank", "--json", "--require", spec][..],
            &refs.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
    );
    let listed = imagewise(&["rank", "--json", "--catalog", s(&c), "--require", spec]);
    let (d, l): (Value, Value) = (
        serde_json::from_slice(&direct.stdout).unwrap(),
        serde_json::from_slice(&listed.stdout).unwrap(),
    );
    assert_eq!(d["winner"], refs[1].as_str(), "{d}");
    assert_eq!(l["winner"], d["winner"], "{l}");
    let reasons = |v: &Value| -> Vec<Value> {
        v["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| json!([r["reference"], r["unmet"]]))
            .collect()
    };
    assert_eq!(reasons(&l), reasons(&d));
    // An app requirement reopens the recorded images to check it.
    let app = f.join("trixie-rootfs/usr/bin/ls");
    let out = imagewise(&[
        "rank",
        "--pick",
        "--catalog",
        s(&c),
        "--require",
        &format!("app={}", app.display()),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), refs[1]);
}
