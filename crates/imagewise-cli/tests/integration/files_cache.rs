//! The files cache of `snapshot create`: a file whose size, mtime, ctime and inode did not
//! change since the parent snapshot is not read again; an unchanged image layer is not
//! decompressed again. Each snapshot's `--json` summary says how many files were read and how
//! many were taken unchanged; `--force` is the reference (every file read).

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::*;

/// `imagewise` with its own cache directory.
fn run(cache: &Path, args: &[&str]) -> Output {
    imagewise_cmd()
        .env("IMAGEWISE_CACHE_DIR", cache)
        .args(args)
        .output()
        .unwrap()
}

/// `snapshot create --json`, with its warnings.
fn create(cache: &Path, repo: &Path, src: &str, extra: &[&str]) -> (Value, String) {
    let mut args = vec!["snapshot", "create", "--json"];
    args.extend_from_slice(extra);
    args.extend([s(repo), src]);
    let out = run(cache, &args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {err}");
    (serde_json::from_slice(&out.stdout).unwrap(), err)
}

fn counts(v: &Value) -> (u64, u64) {
    (
        v["files_read"].as_u64().unwrap(),
        v["files_unchanged"].as_u64().unwrap(),
    )
}

fn root(v: &Value) -> String {
    v["snapshot"]["root"]["subtree"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The one cache file of a repository.
fn cache_file(cache: &Path, repo: &Path) -> PathBuf {
    let config: Value =
        serde_json::from_slice(&std::fs::read(repo.join("config")).unwrap()).unwrap();
    let dir = cache.join("files").join(config["id"].as_str().unwrap());
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

fn data_blobs(cache: &Path, repo: &Path) -> u64 {
    let out = run(cache, &["repo", "stats", "--json", s(repo)]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["data_blobs"].as_u64().unwrap()
}

#[test]
fn unchanged_files_are_not_read_again() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    // Content-defined chunks need content: 300 KiB of varied bytes, and small files.
    let big: Vec<u8> = (0..300 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(src.join("big"), &big).unwrap();
    std::fs::write(src.join("small"), b"first version\n").unwrap();
    std::fs::write(src.join("sub/c"), b"cccccccc").unwrap();
    std::fs::write(src.join("sub/d"), b"dddd").unwrap();
    std::fs::write(src.join("sub/e"), b"eeee").unwrap();
    let n = 5;
    let repo = t.path().join("repo");
    ok(&["repo", "init", s(&repo)]);
    let srcs = s(&src);

    let (first, _) = create(&cache, &repo, srcs, &[]);
    assert_eq!(counts(&first), (n, 0), "nothing cached yet");
    let (second, _) = create(&cache, &repo, srcs, &[]);
    assert_eq!(counts(&second), (0, n), "nothing changed");
    assert_eq!(second["bytes_read"], 0);
    assert_eq!(root(&second), root(&first));

    // New content and mtime in one file: exactly that file is read.
    std::fs::write(src.join("small"), b"second version\n").unwrap();
    let (third, _) = create(&cache, &repo, srcs, &[]);
    assert_eq!(counts(&third), (1, n - 1));
    assert_eq!(third["bytes_read"], 15);

    // Replaced by another file of the same size and mtime: a new inode, so it is read.
    let c = src.join("sub/c");
    std::fs::write(src.join("sub/c.new"), b"CCCCCCCC").unwrap();
    sh(&format!(
        "touch -r {c} {new} && mv {new} {c}",
        c = s(&c),
        new = s(&src.join("sub/c.new"))
    ));
    let (fourth, _) = create(&cache, &repo, srcs, &[]);
    assert_eq!(counts(&fourth), (1, n - 1));
    assert_ne!(root(&fourth), root(&third), "the new bytes are stored");

    // A mode change alone: the file is read again (its ctime moved) but no data is new.
    let blobs = data_blobs(&cache, &repo);
    sh(&format!("chmod 600 {}", s(&src.join("sub/d"))));
    let (fifth, _) = create(&cache, &repo, srcs, &[]);
    assert_eq!(counts(&fifth), (1, n - 1));
    assert_eq!(data_blobs(&cache, &repo), blobs, "only trees are new");
    assert_ne!(root(&fifth), root(&fourth));

    // --force reads everything and gives the same trees.
    let (forced, _) = create(&cache, &repo, srcs, &["--force"]);
    assert_eq!(counts(&forced), (n, 0));
    assert_eq!(root(&forced), root(&fifth));

    // Deleting the cache changes nothing but speed.
    std::fs::remove_dir_all(&cache).unwrap();
    let (uncached, _) = create(&cache, &repo, srcs, &[]);
    assert_eq!(counts(&uncached), (n, 0));
    assert_eq!(root(&uncached), root(&fifth));
    let (again, _) = create(&cache, &repo, srcs, &[]);
    assert_eq!(counts(&again), (0, n));

    // A cache from another repository is ignored, with a warning.
    let other = t.path().join("other");
    ok(&["repo", "init", s(&other)]);
    create(&cache, &other, srcs, &[]);
    let mine = cache_file(&cache, &repo);
    std::fs::copy(cache_file(&cache, &other), &mine).unwrap();
    let (foreign, err) = create(&cache, &repo, srcs, &[]);
    assert_eq!(counts(&foreign), (n, 0));
    assert!(err.contains("belongs to another repository"), "{err}");
    assert_eq!(root(&foreign), root(&fifth));

    // A damaged cache file is ignored, with a warning.
    let mut bytes = std::fs::read(&mine).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(&mine, &bytes).unwrap();
    let (damaged, err) = create(&cache, &repo, srcs, &[]);
    assert_eq!(counts(&damaged), (n, 0));
    assert!(err.contains("is damaged"), "{err}");
    assert_eq!(root(&damaged), root(&fifth));

    // A parent named with --parent that is not the one the cache describes: every file is read;
    // the newest again: none.
    let first_id = first["id"].as_str().unwrap();
    let (named, _) = create(&cache, &repo, srcs, &["--parent", first_id]);
    assert_eq!(counts(&named), (n, 0));
    let (latest, _) = create(&cache, &repo, srcs, &["--parent", "latest"]);
    assert_eq!(counts(&latest), (0, n));
    assert_eq!(root(&latest), root(&fifth));
    let out = run(
        &cache,
        &["snapshot", "create", "--parent", "nosuch", s(&repo), srcs],
    );
    assert_eq!(out.status.code(), Some(2), "a parent that does not exist");

    // Another tag set is another lineage: no parent, every file read.
    let (tagged, _) = create(&cache, &repo, srcs, &["--tag", "golden"]);
    assert_eq!(counts(&tagged), (n, 0));
    let (tagged, _) = create(&cache, &repo, srcs, &["--tag", "golden"]);
    assert_eq!(counts(&tagged), (0, n), "its own cache");
    let (untagged, _) = create(&cache, &repo, srcs, &[]);
    assert_eq!(counts(&untagged), (0, n), "each lineage keeps its cache");

    // What is stored restores to the source.
    let out = t.path().join("out");
    ok(&["restore", s(&repo), "latest", s(&out)]);
    sh(&format!("diff -r {} {}", s(&src), s(&out)));
    ok(&["repo", "check", "--read-data", s(&repo)]);
}

/// When the listing (every entry's metadata, every file's stamp) is the parent's and no file
/// changed, the parent's trees are taken whole: no blob at all is new. Any change to a directory,
/// a symlink or an owner still makes the trees `--force` makes, without reading a file.
#[test]
fn an_unchanged_listing_takes_the_parents_trees() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::create_dir_all(src.join("e")).unwrap();
    std::fs::write(src.join("d/f"), b"ffff").unwrap();
    std::fs::write(src.join("e/g"), b"gggggg").unwrap();
    std::os::unix::fs::symlink("d/f", src.join("l")).unwrap();
    let repo = t.path().join("repo");
    ok(&["repo", "init", s(&repo)]);
    let srcs = s(&src);
    let (first, _) = create(&cache, &repo, srcs, &[]);
    assert_eq!(counts(&first), (2, 0));
    let (same, _) = create(&cache, &repo, srcs, &[]);
    assert_eq!(counts(&same), (0, 2));
    assert_eq!(root(&same), root(&first));
    assert_eq!(
        (same["blobs_new"].as_u64(), same["bytes_new"].as_u64()),
        (Some(0), Some(0))
    );
    for k in ["entries", "files", "dirs", "bytes"] {
        assert_eq!(
            same[k], first[k],
            "{k}: the summary counts what the snapshot holds"
        );
    }
    let mut last = root(&same);
    for change in [
        "chmod 700 e",
        "ln -sfn e/g l",
        "touch -d @5 d",
        "mkdir d/new",
        "chown 1234:5678 e",
        "touch -r d/f d/f",
    ] {
        sh(&format!("cd {srcs} && {change}"));
        let (cached, _) = create(&cache, &repo, srcs, &[]);
        let (forced, _) = create(&cache, &repo, srcs, &["--force"]);
        assert_eq!(root(&cached), root(&forced), "after `{change}`");
        let (again, _) = create(&cache, &repo, srcs, &[]);
        assert_eq!(
            counts(&again),
            (0, 2),
            "after `{change}`, nothing more changed"
        );
        assert_eq!(root(&again), root(&forced));
        if change.starts_with("touch -r") {
            // The same metadata again, but a new ctime: the file is read, the tree is the same.
            assert_eq!(counts(&cached), (1, 1));
            assert_eq!(root(&cached), last);
        } else {
            assert_eq!(
                counts(&cached),
                (0, 2),
                "`{change}` changes no file's stamp"
            );
            assert_ne!(root(&cached), last, "`{change}` is in the trees");
        }
        last = root(&again);
    }
    let out = t.path().join("out");
    ok(&["restore", s(&repo), "latest", s(&out)]);
    sh(&format!("diff -r --no-dereference {} {}", s(&src), s(&out)));
}

/// A layered image stored again: no layer is decompressed (no file read), the same trees.
#[test]
fn an_unchanged_image_is_not_read_again() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let repo = t.path().join("repo");
    ok(&["repo", "init", s(&repo)]);
    for image in [
        format!("oci:{}:latest", s(&fixtures().join("layered-oci"))),
        format!("tar:{}", s(&fixtures().join("bookworm.tar.zst"))),
    ] {
        let (first, _) = create(&cache, &repo, &image, &[]);
        let files = first["files"].as_u64().unwrap();
        assert_eq!(counts(&first), (files, 0), "{image}");
        let (second, _) = create(&cache, &repo, &image, &[]);
        assert_eq!(counts(&second), (0, files), "{image}");
        assert_eq!(second["bytes_read"], 0, "{image}");
        assert_eq!(root(&second), root(&first), "{image}");
    }
}
