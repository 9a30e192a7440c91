//! The snapshot store end to end, against real trees and the real tools: `find -printf`,
//! `sha256sum`, `getfattr`, `stat`, `cmp`, `du`, `mkfs.ext4 -d`, and `kill -9`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::*;

fn sh(script: &str) {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{script}\nfailed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tool(cmd: &str, args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn nul_fields(b: &[u8]) -> Vec<String> {
    b.split(|&c| c == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

/// Every path of a tree with type, mode, owner, size, mtime in ns, link target, link count,
/// hardlink group, device numbers, SHA-256 of the content and all xattrs — from `find -printf`,
/// `sha256sum`, `stat` and `getfattr`. Directory sizes are left out (they depend on the
/// filesystem's history, not on the tree).
pub fn manifest(dir: &Path) -> BTreeMap<String, String> {
    let find = tool(
        "find",
        &[
            ".",
            "-printf",
            "%p\\0%y\\0%#m\\0%U\\0%G\\0%s\\0%T@\\0%l\\0%n\\0%i\\0",
        ],
        dir,
    );
    let f = nul_fields(&find);
    let mut rows: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut inodes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in f.chunks_exact(10) {
        let (path, kind) = (r[0].clone(), r[1].as_str());
        let size = if kind == "d" {
            "-".into()
        } else {
            r[5].clone()
        };
        if kind != "d" && r[8] != "1" {
            inodes.entry(r[9].clone()).or_default().push(path.clone());
        }
        rows.insert(
            path,
            vec![
                kind.into(),
                r[2].clone(),
                r[3].clone(),
                r[4].clone(),
                size,
                r[6].clone(),
                r[7].clone(),
                r[8].clone(),
            ],
        );
    }
    // Hardlink groups by their first name.
    for names in inodes.values() {
        let first = names.iter().min().cloned().unwrap_or_default();
        for n in names {
            rows.get_mut(n).unwrap().push(format!("group={first}"));
        }
    }
    let sums = tool(
        "bash",
        &["-c", "find . -type f -print0 | xargs -0 -r sha256sum -z"],
        dir,
    );
    for line in sums.split(|&c| c == 0).filter(|l| !l.is_empty()) {
        let s = String::from_utf8_lossy(line);
        let (hash, path) = s.split_once("  ").expect("sha256sum line");
        rows.get_mut(path)
            .unwrap_or_else(|| panic!("{path} not found"))
            .push(format!("sha256={hash}"));
    }
    let devs = tool(
        "bash",
        &[
            "-c",
            "find . \\( -type b -o -type c \\) -exec stat --printf '%n\\0%t:%T\\0' {} +",
        ],
        dir,
    );
    for r in nul_fields(&devs).chunks_exact(2) {
        rows.get_mut(&r[0]).unwrap().push(format!("dev={}", r[1]));
    }
    let xattrs = tool(
        "getfattr",
        &["-R", "-P", "-h", "-d", "-m", "-", "-e", "hex", "."],
        dir,
    );
    let mut current: Option<String> = None;
    for line in String::from_utf8_lossy(&xattrs).lines() {
        if let Some(p) = line.strip_prefix("# file: ") {
            let p = if p == "." || p.starts_with("./") {
                p.to_string()
            } else {
                format!("./{p}")
            };
            current = Some(p);
        } else if !line.is_empty() {
            let p = current.as_ref().expect("getfattr names the file first");
            rows.get_mut(p)
                .unwrap_or_else(|| panic!("getfattr path {p}"))
                .push(format!("xattr {line}"));
        }
    }
    rows.into_iter().map(|(k, v)| (k, v.join(" "))).collect()
}

fn assert_same_tree(a: &Path, b: &Path) {
    let (ma, mb) = (manifest(a), manifest(b));
    let mut diffs = Vec::new();
    for (p, x) in &ma {
        match mb.get(p) {
            Some(y) if x == y => {}
            Some(y) => diffs.push(format!("{p}:\n  {x}\n  {y}")),
            None => diffs.push(format!("{p}: missing")),
        }
    }
    for p in mb.keys().filter(|p| !ma.contains_key(*p)) {
        diffs.push(format!("{p}: extra"));
    }
    assert!(
        diffs.is_empty(),
        "{} differs from {} in {} paths:\n{}",
        b.display(),
        a.display(),
        diffs.len(),
        diffs[..diffs.len().min(20)].join("\n")
    );
    assert!(ma.len() > 1, "empty manifest of {}", a.display());
}

pub(crate) fn json(args: &[&str]) -> Value {
    serde_json::from_slice(&ok(args)).expect("JSON")
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A copy of the bookworm rootfs with everything the store must keep added: capabilities and
/// other xattrs, setuid, odd owners, nanosecond mtimes, hardlinks, a fifo, devices, a sparse
/// file, empty directories, names with spaces and UTF-8, a dangling symlink, a mode-000 file.
fn rich_rootfs(dest: &Path) {
    let src = fixtures().join("bookworm-rootfs");
    sh(&format!(
        r#"cp -a {src}/. {d}/
        cd {d}
        cp bin/true usr/local/bin/capped
        chown 0:0 usr/local/bin/capped && chmod 4755 usr/local/bin/capped
        setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 usr/local/bin/capped
        setfattr -n user.imagewise -v hello etc/hostname
        setfattr -n trusted.overlay.opaque -v y etc/issue
        mkfifo run/fifo
        mknod dev/iw-null c 1 3 && mknod dev/iw-loop9 b 7 9 && chown 0:6 dev/iw-loop9
        mkdir -p srv/empty/nested 'srv/with space' srv/ünïcødé
        chown 1234:5678 srv/empty && chmod 2750 srv/empty
        truncate -s 64M srv/sparse
        printf data | dd of=srv/sparse bs=1 seek=10485760 conv=notrunc status=none
        printf tail | dd of=srv/sparse bs=1 seek=67108860 conv=notrunc status=none
        : > srv/empty-file
        ln etc/passwd srv/passwd.hard && ln etc/passwd 'srv/with space/passwd.hard2'
        ln -s ../../nowhere/x srv/dangling
        echo secret > srv/secret && chmod 000 srv/secret
        chmod 1777 srv/ünïcødé
        touch -d '2001-02-03 04:05:06.123456789' etc/issue srv/empty/nested srv/empty-file
        touch -h -d '1999-12-31 23:59:59.987654321' srv/dangling
        touch -d '1970-01-01 00:00:00' srv/secret"#,
        src = src.display(),
        d = dest.display()
    ));
}

#[test]
fn round_trip_of_a_real_rootfs_keeps_every_metadata_field() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo, out) = (
        t.path().join("src"),
        t.path().join("repo"),
        t.path().join("out"),
    );
    std::fs::create_dir(&src).unwrap();
    rich_rootfs(&src);
    ok(&["repo", "init", s(&repo)]);
    let made = json(&[
        "snapshot",
        "create",
        "--json",
        "--tag",
        "rich",
        s(&repo),
        s(&src),
    ]);
    assert!(made["files"].as_u64().unwrap() > 4000);
    // Everything is read but the holes of srv/sparse (64 MiB, 8 bytes of data).
    let (read, bytes) = (
        made["bytes_read"].as_u64().unwrap(),
        made["bytes"].as_u64().unwrap(),
    );
    assert!(
        read < bytes - (60 << 20) && read >= bytes - (64 << 20),
        "{made}"
    );
    // `snapshot ls` lists every path of the source, and one directory on its own.
    let listed: Vec<String> =
        String::from_utf8(ok(&["snapshot", "ls", "--json", s(&repo), "rich"]))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["path"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
    let mut from_find: Vec<String> = manifest(&src)
        .into_keys()
        .map(|p| {
            if p == "." {
                "/".to_string()
            } else {
                p[1..].to_string()
            }
        })
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    from_find.sort();
    assert_eq!(sorted, from_find);
    let one = String::from_utf8(ok(&["snapshot", "ls", s(&repo), "rich", "/srv/empty"])).unwrap();
    assert_eq!(one.lines().count(), 2, "{one}");
    assert!(
        one.lines().nth(1).unwrap().ends_with("/srv/empty/nested"),
        "{one}"
    );
    let restored = json(&["restore", "--json", s(&repo), "rich", s(&out)]);
    assert_eq!(restored["ok"], true, "{restored}");
    assert_same_tree(&src, &out);
    // The sparse file stays sparse: 64 MiB apparent, a few blocks on disk.
    let du = String::from_utf8(tool("du", &["-k", "srv/sparse"], &out)).unwrap();
    let kib: u64 = du.split_whitespace().next().unwrap().parse().unwrap();
    assert!(kib < 1024, "restored sparse file takes {kib} KiB");
    // A second restore of one path only.
    let part = t.path().join("part");
    ok(&[
        "restore",
        "--path",
        "/srv/empty",
        "--path",
        "etc/issue",
        s(&repo),
        "latest",
        s(&part),
    ]);
    let got: Vec<String> = manifest(&part).into_keys().collect();
    assert_eq!(
        got,
        [
            ".",
            "./etc",
            "./etc/issue",
            "./srv",
            "./srv/empty",
            "./srv/empty/nested"
        ]
    );
    assert_eq!(
        manifest(&part)["./srv/empty"],
        manifest(&src)["./srv/empty"]
    );
}

#[test]
fn every_image_format_stores_the_same_content() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    ok(&["repo", "init", s(&repo)]);
    let mut ids = Vec::new();
    for reference in [
        "bookworm-rootfs",
        "bookworm.tar.zst",
        "bookworm-oci",
        "bookworm-gpt.qcow2",
    ] {
        let v = json(&[
            "snapshot",
            "create",
            "--json",
            s(&repo),
            s(&f.join(reference)),
        ]);
        ids.push((reference, v["id"].as_str().unwrap().to_string()));
    }
    // Later formats add almost nothing: the same files are the same chunks.
    let stats = json(&["repo", "stats", "--json", s(&repo)]);
    let first = json(&["snapshot", "show", "--json", s(&repo), &ids[0].1]);
    let total_new = stats["blob_bytes"].as_u64().unwrap();
    let first_new = first["snapshot"]["summary"]["bytes_new"].as_u64().unwrap();
    assert!(
        total_new < first_new + (8 << 20),
        "{total_new} vs {first_new}"
    );
    for (reference, id) in &ids[1..] {
        let d = json(&["snapshot", "diff", "--json", s(&repo), &ids[0].1, id]);
        let content: Vec<&Value> = d["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["change"] != "metadata" && c["path"] != "/lost+found")
            .collect();
        assert!(content.is_empty(), "{reference}: {content:?}");
    }
}

#[test]
fn incremental_snapshot_stores_about_the_changed_bytes() {
    let f = fixtures();
    let (a, b) = (f.join("bookworm-rootfs"), f.join("bookworm-plus-rootfs"));
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    ok(&["repo", "init", s(&repo)]);
    let first = json(&["snapshot", "create", "--json", s(&repo), s(&a)]);
    let second = json(&["snapshot", "create", "--json", s(&repo), s(&b)]);
    // What changed, independently: bytes of files in b that are not byte-identical in a.
    let mut changed = 0u64;
    for e in walkdir::WalkDir::new(&b).into_iter().map(|e| e.unwrap()) {
        if !e.file_type().is_file() {
            continue;
        }
        let rel = e.path().strip_prefix(&b).unwrap();
        let new = std::fs::read(e.path()).unwrap();
        if std::fs::read(a.join(rel)).ok().as_deref() != Some(new.as_slice()) {
            changed += new.len() as u64;
        }
    }
    let new = second["bytes_new"].as_u64().unwrap();
    eprintln!(
        "full: {} bytes new of {}; incremental: {new} bytes new, {} stored; files changed or added: {changed} bytes",
        first["bytes_new"], first["bytes"], second["bytes_stored"]
    );
    assert!(
        changed > 1 << 20,
        "the fixture changed only {changed} bytes"
    );
    // Trees of changed directories come on top; chunks shared with old versions come off.
    assert!(
        new <= changed + changed / 10 + (2 << 20),
        "{new} new for {changed} changed"
    );
    assert!(new >= changed / 2, "{new} new for {changed} changed");
    let out = t.path().join("out");
    ok(&["restore", s(&repo), "latest", s(&out)]);
    assert_same_tree(&b, &out);
}

#[test]
fn raw_disk_restores_bit_for_bit_and_stays_sparse() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let disk = t.path().join("disk.raw");
    sh(&format!(
        "truncate -s 400M {d} && mkfs.ext4 -q -F -d {src} {d}",
        d = disk.display(),
        src = f.join("alpine-rootfs").display()
    ));
    let repo = t.path().join("repo");
    ok(&["repo", "init", s(&repo)]);
    let v = json(&["snapshot", "create", "--raw", "--json", s(&repo), s(&disk)]);
    assert_eq!(v["bytes"], 400 << 20);
    assert!(v["bytes_read"].as_u64().unwrap() < 100 << 20, "{v}");
    let qcow = f.join("alpine-base.qcow2");
    let q = json(&[
        "snapshot",
        "create",
        "--raw",
        "--json",
        "--tag",
        "q",
        s(&repo),
        s(&qcow),
    ]);
    for (id, orig) in [
        (v["id"].as_str().unwrap(), disk.as_path()),
        ("q", qcow.as_path()),
    ] {
        let out = t.path().join(format!("restored-{}", &id[..1]));
        ok(&["restore", s(&repo), id, s(&out)]);
        sh(&format!("cmp {} {}", orig.display(), out.display()));
        let du = |p: &Path| -> u64 {
            let o = String::from_utf8(tool("du", &["-k", s(p)], t.path())).unwrap();
            o.split_whitespace().next().unwrap().parse().unwrap()
        };
        assert!(
            du(&out) <= du(orig) + 64,
            "{}: {} KiB restored vs {} KiB",
            orig.display(),
            du(&out),
            du(orig)
        );
    }
    assert!(q["bytes_stored"].as_u64().unwrap() > 0);
    // A raw snapshot restores to a file, never over one.
    let again = imagewise(&["restore", s(&repo), "q", s(&disk)]);
    assert_eq!(again.status.code(), Some(2));
}

fn restore_and_compare(repo: &Path, snap: &str, original: &Path, scratch: &Path) {
    let out = scratch.join(format!("check-{snap}"));
    let _ = std::fs::remove_dir_all(&out);
    ok(&["restore", s(repo), snap, s(&out)]);
    assert_same_tree(original, &out);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn kill_9_at_random_moments_never_damages_the_repository() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    ok(&["repo", "init", s(&repo)]);
    let small = f.join("alpine-rootfs");
    let other = f.join("distroless-rootfs");
    ok(&["snapshot", "create", "--tag", "small", s(&repo), s(&small)]);
    ok(&["snapshot", "create", "--tag", "other", s(&repo), s(&other)]);
    // Three different images, so most rounds have new data to write when the kill comes.
    let bigs = [
        f.join("bookworm-rootfs"),
        f.join("trixie-rootfs"),
        f.join("bullseye-rootfs"),
    ];
    let big = bigs[0].clone();
    // How long an uninterrupted create takes, to spread the kills over it.
    let started = std::time::Instant::now();
    let probe = t.path().join("probe");
    ok(&["repo", "init", s(&probe)]);
    ok(&["snapshot", "create", s(&probe), s(&big)]);
    let span = started.elapsed().as_millis() as u64;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut finished = 0;
    let mut done: Vec<(String, PathBuf)> = Vec::new();
    for round in 0..10 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = seed % (span * 3 / 4 + 20);
        let src = &bigs[round % 3];
        let tag = format!("killed-{}", round % 3);
        let mut child = imagewise_cmd()
            .args(["snapshot", "create", "--tag", &tag, s(&repo), s(src)])
            .env("IMAGEWISE_NO_PROGRESS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(at));
        let _ = Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        if status.success() {
            finished += 1;
            done.push((tag, src.clone()));
        }
        let check = imagewise(&["repo", "check", "--read-data", s(&repo)]);
        assert!(
            check.status.success(),
            "round {round}, killed after {at} ms: check failed:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        restore_and_compare(&repo, "small", &small, t.path());
    }
    restore_and_compare(&repo, "other", &other, t.path());
    for (tag, src) in &done {
        restore_and_compare(&repo, tag, src, t.path());
    }
    eprintln!("10 kills over {span} ms, {finished} creates finished before their kill");
    // What the killed writers left is unreferenced; prune removes it and keeps the rest whole.
    ok(&["prune", s(&repo)]);
    assert!(std::fs::read_dir(repo.join("tmp"))
        .unwrap()
        .next()
        .is_none());
    let check = json(&["repo", "check", "--read-data", "--json", s(&repo)]);
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(
        check["report"]["warnings"].as_array().unwrap().len(),
        0,
        "{check}"
    );
    restore_and_compare(&repo, "small", &small, t.path());
}

#[test]
fn two_concurrent_creates_both_succeed() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    ok(&["repo", "init", s(&repo)]);
    let (a, b) = (f.join("bookworm-rootfs"), f.join("alpine-rootfs"));
    let spawn = |src: &Path, tag: &str| {
        imagewise_cmd()
            .args(["snapshot", "create", "--tag", tag, s(&repo), s(src)])
            .env("IMAGEWISE_NO_PROGRESS", "1")
            .output()
    };
    let (ra, rb) = std::thread::scope(|sc| {
        let x = sc.spawn(|| spawn(&a, "a"));
        let y = sc.spawn(|| spawn(&b, "b"));
        (x.join().unwrap().unwrap(), y.join().unwrap().unwrap())
    });
    assert!(
        ra.status.success(),
        "{}",
        String::from_utf8_lossy(&ra.stderr)
    );
    assert!(
        rb.status.success(),
        "{}",
        String::from_utf8_lossy(&rb.stderr)
    );
    ok(&["repo", "check", "--read-data", s(&repo)]);
    restore_and_compare(&repo, "a", &a, t.path());
    restore_and_compare(&repo, "b", &b, t.path());
    // Prune waits for nobody: with a writer's lock present it refuses.
    std::fs::write(
        repo.join("locks/held"),
        format!(
            r#"{{"exclusive":false,"host":"{}","pid":1,"time":"now","command":"snapshot create"}}"#,
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap()
                .trim()
        ),
    )
    .unwrap();
    let p = imagewise(&["prune", s(&repo)]);
    assert_eq!(p.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&p.stderr).contains("locked by `snapshot create`"));
}

/// Restore the first snapshot `check` named: exactly its named paths fail, the rest is intact.
fn restore_what_check_named(
    repo: &Path,
    hit: &[(String, String)],
    sources: &[(String, &str, PathBuf)],
    out: &Path,
) {
    let (id, tag, src) = sources
        .iter()
        .find(|s| s.0 == hit[0].0)
        .expect("a known snapshot");
    let named: Vec<String> = hit
        .iter()
        .filter(|h| &h.0 == id)
        .map(|h| h.1.clone())
        .collect();
    restore_reports_exactly(repo, tag, src, &named, out);
}

/// A new repository whose packs close at 1 MiB (the smallest allowed), so damage to one pack
/// reaches some files, not all.
pub(crate) fn init_with_small_packs(repo: &Path) {
    ok(&["repo", "init", s(repo)]);
    let cfg = repo.join("config");
    let mut c: Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    c["pack_size"] = Value::from(1u64 << 20);
    std::fs::write(&cfg, serde_json::to_vec(&c).unwrap()).unwrap();
}

/// A pristine repository with two snapshots, copied for each kind of damage.
fn damaged_copy(pristine: &Path, name: &str) -> PathBuf {
    let d = pristine.parent().unwrap().join(name);
    sh(&format!("cp -a {} {}", pristine.display(), d.display()));
    d
}

pub(crate) fn packs(repo: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(repo.join("packs"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).unwrap().len()));
    v
}

/// `repo check --read-data` on a damaged repository: exit 1, and the paths it names.
pub(crate) fn damaged_paths(repo: &Path) -> Vec<(String, String)> {
    let out = imagewise(&["repo", "check", "--read-data", "--json", s(repo)]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    v["report"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].is_string())
        .map(|e| {
            (
                e["snapshot"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Restore everything: exit 1, exactly the named paths fail, every other file is intact.
fn restore_reports_exactly(repo: &Path, snap: &str, original: &Path, named: &[String], out: &Path) {
    let r = imagewise(&["restore", "--json", s(repo), snap, s(out)]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    let mut failed: Vec<String> = v["report"]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f[0].as_str().unwrap().to_string())
        .collect();
    failed.sort();
    let mut want = named.to_vec();
    want.sort();
    assert_eq!(failed, want);
    let (mo, mr) = (manifest(original), manifest(out));
    for (p, m) in &mo {
        let abs = p.trim_start_matches('.');
        let hit = |n: &String| abs == n || abs.starts_with(&format!("{n}/"));
        if p == "." {
            continue;
        }
        if named.iter().any(hit) {
            // A damaged file is not left behind; a directory whose listing is lost stays empty.
            if !m.starts_with('d') || !named.iter().any(|n| n == abs) {
                assert!(!mr.contains_key(p), "{p} restored although damaged");
            }
            continue;
        }
        if mo[p].starts_with('d') {
            continue; // a directory's mtime moves when a damaged child is removed
        }
        assert_eq!(mr.get(p), Some(m), "{p}");
    }
}

#[test]
fn damage_is_named_and_spares_the_rest() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let pristine = t.path().join("pristine");
    let (a, b) = (f.join("alpine-rootfs"), f.join("distroless-rootfs"));
    // Small packs so damage to one pack hits some files, not all.
    init_with_small_packs(&pristine);
    ok(&["snapshot", "create", "--tag", "a", s(&pristine), s(&a)]);
    ok(&["snapshot", "create", "--tag", "b", s(&pristine), s(&b)]);
    ok(&["repo", "check", "--read-data", s(&pristine)]);
    let short = |tag: &str| {
        json(&["snapshot", "show", "--json", s(&pristine), tag])["id"]
            .as_str()
            .unwrap()[..16]
            .to_string()
    };
    let snap_a = short("a");
    let sources = [
        (snap_a.clone(), "a", a.clone()),
        (short("b"), "b", b.clone()),
    ];

    // One flipped byte in the middle of the biggest pack.
    let r = damaged_copy(&pristine, "flip");
    let p = &packs(&r)[0];
    let mut bytes = std::fs::read(p).unwrap();
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0x40;
    std::fs::write(p, &bytes).unwrap();
    let hit = damaged_paths(&r);
    assert!(!hit.is_empty());
    restore_what_check_named(&r, &hit, &sources, &t.path().join("out-flip"));
    // Structure alone does not read data: the flipped byte goes unnoticed without --read-data.
    ok(&["repo", "check", s(&r)]);

    // A truncated pack: its tail blobs and its header are gone.
    let r = damaged_copy(&pristine, "trunc");
    let p = &packs(&r)[0];
    let len = std::fs::metadata(p).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let hit = damaged_paths(&r);
    let out = imagewise(&["repo", "check", s(&r)]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "structure check sees a short pack"
    );
    assert!(!hit.is_empty());
    restore_what_check_named(&r, &hit, &sources, &t.path().join("out-trunc"));

    // A deleted index file: the chunks it listed are in no index; `repo repair` re-indexes the
    // packs from their own headers and everything is whole again.
    let r = damaged_copy(&pristine, "noindex");
    let idx: Vec<PathBuf> = std::fs::read_dir(r.join("index"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(idx.len(), 2, "one index file per create");
    std::fs::remove_file(&idx[0]).unwrap();
    let o = imagewise(&["repo", "check", "--read-data", s(&r)]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("is in no index"), "{text}");
    assert!(!damaged_paths(&r).is_empty());
    ok(&["repo", "repair", s(&r)]);
    ok(&["repo", "check", "--read-data", s(&r)]);
    restore_and_compare(&r, "a", &a, t.path());
    restore_and_compare(&r, "b", &b, t.path());

    // A deleted pack: check names it; prune refuses to make things worse and deletes nothing.
    let r = damaged_copy(&pristine, "nopack");
    std::fs::remove_file(&packs(&r)[0]).unwrap();
    let o = imagewise(&["repo", "check", s(&r)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("the pack is missing"));
    let before = packs(&r).len();
    let p = imagewise(&["prune", s(&r)]);
    assert_ne!(p.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&p.stderr).contains("refusing to prune"),
        "{}",
        String::from_utf8_lossy(&p.stderr)
    );
    assert_eq!(packs(&r).len(), before);

    // A damaged snapshot file is named too; the other snapshot still restores.
    let r = damaged_copy(&pristine, "snapfile");
    let snap_file = std::fs::read_dir(r.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&snap_a)
        })
        .unwrap();
    let mut sb = std::fs::read(&snap_file).unwrap();
    sb[10] ^= 1;
    std::fs::write(&snap_file, sb).unwrap();
    let out = imagewise(&["repo", "check", s(&r)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("does not match its name"));
    restore_and_compare(&r, "b", &b, t.path());
}

#[test]
fn signed_repositories_refuse_unsigned_and_foreign_snapshots() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let (key, other) = (t.path().join("key"), t.path().join("other"));
    ok(&["key", "generate", s(&key)]);
    ok(&["key", "generate", s(&other)]);
    assert_eq!(
        std::fs::metadata(&key)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .unwrap(),
        0o600
    );
    // A key file is never overwritten.
    assert_eq!(
        imagewise(&["key", "generate", s(&key)]).status.code(),
        Some(2)
    );
    let repo = t.path().join("repo");
    ok(&[
        "repo",
        "init",
        "--sign-key",
        &format!("{}.pub", s(&key)),
        s(&repo),
    ]);
    let src = f.join("alpine-rootfs");
    let no_key = imagewise(&["snapshot", "create", s(&repo), s(&src)]);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("--sign-key"));
    let wrong = imagewise(&[
        "snapshot",
        "create",
        "--sign-key",
        s(&other),
        s(&repo),
        s(&src),
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    ok(&[
        "snapshot",
        "create",
        "--sign-key",
        s(&key),
        "--tag",
        "good",
        s(&repo),
        s(&src),
    ]);
    ok(&["repo", "check", s(&repo)]);
    let shown = json(&["snapshot", "show", "--json", s(&repo), "good"]);
    assert_eq!(shown["signature"], "valid");

    // An unsigned snapshot made elsewhere and copied in.
    let plain = t.path().join("plain");
    ok(&["repo", "init", s(&plain)]);
    ok(&[
        "snapshot",
        "create",
        "--tag",
        "unsigned",
        s(&plain),
        s(&src),
    ]);
    sh(&format!(
        "cp -a {p}/snapshots/. {r}/snapshots/ && cp -a {p}/index/. {r}/index/ && cp -a {p}/packs/. {r}/packs/",
        p = plain.display(),
        r = repo.display()
    ));
    let out = t.path().join("out");
    let refused = imagewise(&["restore", s(&repo), "unsigned", s(&out)]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unsigned"));
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
    let check = imagewise(&["repo", "check", s(&repo)]);
    assert_eq!(check.status.code(), Some(1));
    ok(&["repo", "check", "--allow-unsigned", s(&repo)]);
    // Pinning a key on the command line: the repository's own passes, another does not.
    let pinned = t.path().join("pinned");
    ok(&[
        "restore",
        "--trust-key",
        &format!("{}.pub", s(&key)),
        s(&repo),
        "good",
        s(&pinned),
    ]);
    let pin_other = imagewise(&[
        "restore",
        "--trust-key",
        &format!("{}.pub", s(&other)),
        s(&repo),
        "good",
        s(&t.path().join("p2")),
    ]);
    assert_ne!(pin_other.status.code(), Some(0));
    ok(&["restore", "--allow-unsigned", s(&repo), "unsigned", s(&out)]);
    assert_same_tree(&src, &out);

    // A snapshot signed by another key (its signature line swapped).
    let good = shown["id"].as_str().unwrap();
    let file = repo.join("snapshots").join(good);
    let text = std::fs::read_to_string(&file).unwrap();
    let body = text.lines().next().unwrap();
    let other_repo = t.path().join("other-repo");
    ok(&["repo", "init", "--sign-key", s(&other), s(&other_repo)]);
    ok(&[
        "snapshot",
        "create",
        "--sign-key",
        s(&other),
        s(&other_repo),
        s(&src),
    ]);
    let foreign_sig = std::fs::read_dir(other_repo.join("snapshots"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .next()
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    std::fs::write(&file, format!("{body}\n{foreign_sig}\n")).unwrap();
    let out2 = t.path().join("out2");
    let refused = imagewise(&["restore", s(&repo), "good", s(&out2)]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("signed by another key"));
    ok(&["restore", "--allow-unsigned", s(&repo), "good", s(&out2)]);
    assert_same_tree(&src, &out2);
}

#[test]
fn diff_forget_and_prune() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    sh(&format!(
        "mkdir -p {a} && cp -a {src}/. {a}/
         cp -a {a} {b}
         echo changed >> {b}/etc/motd
         chmod 600 {b}/etc/fstab
         rm {b}/etc/issue
         mkdir {b}/srv/new && head -c 300000 /dev/urandom > {b}/srv/new/blob",
        src = f.join("alpine-rootfs").display(),
        a = a.display(),
        b = b.display()
    ));
    ok(&["repo", "init", s(&repo)]);
    ok(&["snapshot", "create", "--tag", "a", s(&repo), s(&a)]);
    ok(&["snapshot", "create", "--tag", "b", s(&repo), s(&b)]);
    let d = json(&["snapshot", "diff", "--json", s(&repo), "a", "b"]);
    let mut got: Vec<(String, String)> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap().into(),
                c["change"].as_str().unwrap().into(),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, String)> = [
        ("/etc", "metadata"),
        ("/etc/fstab", "metadata"),
        ("/etc/issue", "removed"),
        ("/etc/motd", "changed"),
        ("/srv", "metadata"),
        ("/srv/new", "added"),
        ("/srv/new/blob", "added"),
    ]
    .iter()
    .map(|(p, c)| (p.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(d["bytes_added"], 300000);

    // Three more snapshots of b; keep the last two and the one tagged `a`'s source group's last.
    for _ in 0..3 {
        ok(&["snapshot", "create", s(&repo), s(&b)]);
    }
    let before = json(&["repo", "stats", "--json", s(&repo)]);
    let dry = json(&[
        "forget",
        "--json",
        "--keep-last",
        "1",
        "--dry-run",
        s(&repo),
    ]);
    assert_eq!(dry["removed"], 3);
    assert_eq!(
        json(&["snapshot", "list", "--json", s(&repo)])
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let forgot = json(&["forget", "--json", "--keep-last", "1", s(&repo)]);
    assert_eq!(forgot["kept"], 2, "the newest of each source: {forgot}");
    let left: Vec<Value> = json(&["snapshot", "list", "--json", s(&repo)])
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(left.len(), 2);
    let pr = json(&["prune", "--json", s(&repo)]);
    let after = json(&["repo", "stats", "--json", s(&repo)]);
    assert_eq!(pr["snapshots"], 2);
    // Nothing was unique to the forgotten copies of b: the data stays.
    assert_eq!(before["blob_bytes"], after["blob_bytes"]);
    ok(&["forget", "--keep-tag", "a", s(&repo)]);
    let pr = json(&["prune", "--json", s(&repo)]);
    assert!(pr["blobs_removed"].as_u64().unwrap() > 0, "{pr}");
    let after = json(&["repo", "stats", "--json", s(&repo)]);
    assert!(after["pack_bytes"].as_u64().unwrap() < before["pack_bytes"].as_u64().unwrap());
    ok(&["repo", "check", "--read-data", s(&repo)]);
    restore_and_compare(&repo, "latest", &a, t.path());
    let none = imagewise(&["forget", s(&repo)]);
    assert_eq!(
        none.status.code(),
        Some(2),
        "forget without a keep rule is refused"
    );
}

#[test]
fn a_read_only_repository_can_be_checked_and_restored() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let (repo, ro) = (t.path().join("repo"), t.path().join("ro"));
    ok(&["repo", "init", s(&repo)]);
    ok(&["snapshot", "create", s(&repo), s(&f.join("alpine-rootfs"))]);
    std::fs::create_dir(&ro).unwrap();
    sh(&format!(
        "mount --bind -o ro {} {}",
        repo.display(),
        ro.display()
    ));
    let checked = imagewise(&["repo", "check", "--read-data", s(&ro)]);
    let out = t.path().join("out");
    let restored = imagewise(&["restore", s(&ro), "latest", s(&out)]);
    let created = imagewise(&["snapshot", "create", s(&ro), s(&f.join("alpine-rootfs"))]);
    sh(&format!("umount {}", ro.display()));
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(String::from_utf8_lossy(&checked.stderr).contains("reading without one"));
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert_same_tree(&f.join("alpine-rootfs"), &out);
    assert_ne!(created.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&created.stderr).contains("Read-only file system"));
}

#[test]
fn bad_input_gets_clear_errors() {
    let t = tempfile::tempdir().unwrap();
    let not_repo = t.path().join("nothing");
    let r = imagewise(&["snapshot", "list", s(&not_repo)]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("repo init"));
    let full = t.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), "x").unwrap();
    assert_eq!(
        imagewise(&["repo", "init", s(&full)]).status.code(),
        Some(2)
    );
    let repo = t.path().join("repo");
    ok(&["repo", "init", s(&repo)]);
    assert_eq!(
        imagewise(&["restore", s(&repo), "latest", s(&t.path().join("o"))])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        imagewise(&[
            "repo",
            "init",
            "--compression",
            "lzma",
            s(&t.path().join("r2"))
        ])
        .status
        .code(),
        Some(2)
    );
    // A newer format is refused with what to do.
    let cfg = repo.join("config");
    let mut c: Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    c["version"] = Value::from(99);
    std::fs::write(&cfg, serde_json::to_vec(&c).unwrap()).unwrap();
    let r = imagewise(&["snapshot", "list", s(&repo)]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("upgrade imagewise"));
}

/// Debian and Ubuntu VM images carry POSIX ACLs (`/var/log/journal`): a snapshot of such a disk
/// restores them as `getfacl` showed them on the original tree, and `ls` shows the standard
/// xattr form, not ext4's on-disk one. A value kept in an inode of its own (`ea_inode`) is read.
#[test]
fn acls_and_large_xattrs_of_an_ext4_disk_survive_snapshot_and_restore() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let disk = t.path().join("disk.raw");
    // With 1 KiB blocks a 3000-byte value cannot sit in the inode or its xattr block: mke2fs
    // puts it in an inode of its own (and the host's 4 KiB blocks can still hold it).
    let big = "v".repeat(3000);
    sh(&format!(
        "mkdir -p {s}/var/log/journal/abc {s}/srv/shared && echo hi > {s}/srv/shared/file && \
         setfacl -m u:1000:rwx,g:adm:r-x,m::rwx {s}/var/log/journal && \
         setfacl -d -m g:adm:r-x,u:1000:rwx {s}/var/log/journal && \
         setfacl -m u:33:r {s}/srv/shared/file && \
         setfattr -n user.big -v {big} {s}/srv/shared/file && \
         truncate -s 64M {d} && mkfs.ext4 -q -F -b 1024 -O ea_inode -d {s} {d}",
        s = src.display(),
        d = disk.display()
    ));
    let acls = |root: &Path| {
        String::from_utf8(tool(
            "getfacl",
            &["-R", "-n", "-p", "var/log/journal", "srv/shared"],
            root,
        ))
        .unwrap()
    };
    let repo = t.path().join("repo");
    ok(&["repo", "init", s(&repo)]);
    ok(&[
        "snapshot",
        "create",
        "--tag",
        "vm",
        s(&repo),
        &format!("disk:{}", s(&disk)),
    ]);
    let out = t.path().join("out");
    ok(&["restore", s(&repo), "vm", s(&out)]);
    assert_eq!(acls(&out), acls(&src));
    assert!(acls(&src).contains("user:1000:rwx"), "{}", acls(&src));
    let restored = std::fs::read(out.join("srv/shared/file")).unwrap();
    assert_eq!(restored, b"hi\n");
    let v = xattr::get(out.join("srv/shared/file"), "user.big").unwrap();
    assert_eq!(v.as_deref(), Some(big.as_bytes()));
}

/// Sparse files in every wrapping that records holes — a host directory (`SEEK_HOLE`), GNU
/// tar's sparse formats, ext4 extents, a stored snapshot — are stored without reading their
/// holes, restored sparse and bit for bit (`cmp`, `du`), and digested as `sha256sum` does.
#[test]
fn recorded_holes_are_passed_unread_and_kept() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let apparent: u64 = 256 << 20;
    // Data at the start, in the middle and in the last block; holes in between.
    sh(&format!(
        "mkdir -p {s} && truncate -s {apparent} {s}/sparse.bin && \
         head -c 5000 /dev/urandom | dd of={s}/sparse.bin conv=notrunc status=none && \
         dd if=/dev/urandom of={s}/sparse.bin bs=4096 seek=20000 count=3 conv=notrunc status=none && \
         printf tail | dd of={s}/sparse.bin bs=1 seek={last} conv=notrunc status=none && \
         head -c 70000 /dev/urandom > {s}/dense.bin",
        s = src.display(),
        last = apparent - 4
    ));
    let want = String::from_utf8(tool("sha256sum", &["sparse.bin"], &src)).unwrap();
    let want = want.split_whitespace().next().unwrap().to_string();
    let mut sources = vec![("dir".to_string(), s(&src).to_string())];
    for (name, flags) in [
        ("gnu", "--format=gnu"),
        ("pax-0.0", "--format=posix --sparse-version=0.0"),
        ("pax-0.1", "--format=posix --sparse-version=0.1"),
        ("pax-1.0", "--format=posix --sparse-version=1.0"),
    ] {
        let tar = t.path().join(format!("{name}.tar"));
        sh(&format!(
            "tar --sparse {flags} -C {s} -cf {t} sparse.bin dense.bin",
            s = src.display(),
            t = tar.display()
        ));
        sources.push((name.to_string(), s(&tar).to_string()));
    }
    let disk = t.path().join("disk.raw");
    sh(&format!(
        "truncate -s 64M {d} && mkfs.ext4 -q -F -d {s} {d}",
        s = src.display(),
        d = disk.display()
    ));
    sources.push(("ext4".into(), format!("disk:{}", s(&disk))));
    let repo = t.path().join("repo");
    ok(&["repo", "init", s(&repo)]);
    for (name, reference) in &sources {
        let digest = |r: &str| {
            ls(r, &["--digest"])["/sparse.bin"]["sha256"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no digest"))
                .to_string()
        };
        assert_eq!(digest(reference), want, "{name}: ls --digest");
        let made = json(&[
            "snapshot",
            "create",
            "--json",
            "--tag",
            name,
            s(&repo),
            reference,
        ]);
        let read = made["bytes_read"].as_u64().unwrap();
        assert!(
            read < 1 << 20,
            "{name}: {read} bytes read for 82 KiB of data: {made}"
        );
        let stored = format!("snapshot:{}@{name}", s(&repo));
        assert_eq!(digest(&stored), want, "{name}: ls --digest of the snapshot");
        // A snapshot of the snapshot passes the holes unread too.
        let again = json(&["snapshot", "create", "--json", s(&repo), &stored]);
        assert!(
            again["bytes_read"].as_u64().unwrap() < 1 << 20,
            "{name}: {again}"
        );
        let out = t.path().join(format!("out-{name}"));
        ok(&["restore", s(&repo), name, s(&out)]);
        sh(&format!(
            "cmp {s}/sparse.bin {o}/sparse.bin && cmp {s}/dense.bin {o}/dense.bin && \
             test $(du -k {o}/sparse.bin | cut -f1) -lt 1024",
            s = src.display(),
            o = out.display()
        ));
    }
}
