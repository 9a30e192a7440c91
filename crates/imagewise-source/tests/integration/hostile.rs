//! Hostile archives: each gives a clear error or is shown safely, never a panic, and nothing is
//! written anywhere.

use imagewise_source::{EntryKind, Error, Limits};

use crate::support::*;

fn assert_nothing_written<T>(dir: &std::path::Path, f: impl FnOnce() -> T) -> T {
    let before = snapshot(dir);
    let r = f();
    assert_eq!(
        before,
        snapshot(dir),
        "opening the image changed {}",
        dir.display()
    );
    r
}

#[test]
fn dotdot_and_absolute_names_are_clamped_to_the_root_with_a_warning() {
    let t = tempfile::tempdir().unwrap();
    let p = write(
        t.path(),
        "x.tar",
        &tar(&[
            file("../../../../tmp/imagewise-escape", b"escaped?"),
            file("/etc/abs", b"absolute"),
            file("a/../../b", b"dotdot inside"),
        ]),
    );
    let tree = assert_nothing_written(t.path(), || {
        open_path(format!("tar:{}", p.display())).unwrap()
    });
    assert!(!std::path::Path::new("/tmp/imagewise-escape").exists());
    assert_eq!(read_all(&tree, "/tmp/imagewise-escape"), b"escaped?");
    assert_eq!(read_all(&tree, "/etc/abs"), b"absolute");
    assert_eq!(read_all(&tree, "/b"), b"dotdot inside");
    assert!(
        tree.warnings()
            .iter()
            .any(|w| w.contains("above the image root")),
        "{:?}",
        tree.warnings()
    );
    assert!(
        tree.warnings().iter().any(|w| w.contains("absolute")),
        "{:?}",
        tree.warnings()
    );
}

#[test]
fn an_entry_written_through_a_symlink_that_points_out_stays_inside() {
    let t = tempfile::tempdir().unwrap();
    let p = write(
        t.path(),
        "x.tar",
        &tar(&[
            dir("etc"),
            symlink("evil", "/etc"),
            symlink("evil2", "../../../../../etc"),
            file("evil/passwd", b"root::0:0"),
            file("evil2/shadow", b"root:!:"),
        ]),
    );
    let tree = assert_nothing_written(t.path(), || open_path(p.display().to_string()).unwrap());
    // Resolved inside the image, as container runtimes scope a rootfs.
    assert_eq!(read_all(&tree, "/etc/passwd"), b"root::0:0");
    assert_eq!(read_all(&tree, "/etc/shadow"), b"root:!:");
    assert_eq!(tree.get("/evil").unwrap().kind, EntryKind::Symlink);
    assert!(tree.get("/evil/passwd").is_none());
    assert!(tree
        .warnings()
        .iter()
        .any(|w| w.contains("lies under a symlink")));
    // Reading through the outward symlink reads the image's /etc, never the host's.
    assert_eq!(read_all(&tree, "/evil/passwd"), b"root::0:0");
    assert!(
        tree.open("/evil2/../../../../etc/hostname").is_err(),
        "no host file is reachable"
    );
}

#[test]
fn a_hardlink_to_outside_or_to_nothing_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    for target in ["../../../etc/shadow", "/etc/shadow", "missing"] {
        let p = write(
            t.path(),
            "x.tar",
            &tar(&[file("a", b"x"), hardlink("h", target)]),
        );
        let e = open_path(p.display().to_string()).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{target}: {e}");
        assert!(e.to_string().contains("not an earlier entry"), "{e}");
    }
    let p = write(t.path(), "x.tar", &tar(&[dir("d"), hardlink("h", "d")]));
    let e = open_path(p.display().to_string()).unwrap_err();
    assert!(e.to_string().contains("hardlink to directory"), "{e}");
}

#[test]
fn a_declared_size_past_the_end_is_reported_as_truncation() {
    let t = tempfile::tempdir().unwrap();
    let mut m = file("big", b"only a little");
    m.declared = Some(10 << 20);
    let mut bytes = tar(&[m]);
    bytes.truncate(512 + 512);
    let plain = write(t.path(), "x.tar", &bytes);
    let gz = write(t.path(), "x.tar.gz", &gzip(&bytes));
    for p in [plain, gz] {
        let e = open_path(p.display().to_string()).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{}: {e}", p.display());
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}

#[test]
fn truncated_compressed_archives_are_corrupt_not_short() {
    let t = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let bytes = tar(&[file("a", &data), file("b", b"after")]);
    for (name, mut c) in [("x.tar.gz", gzip(&bytes)), ("x.tar.zst", zstd(&bytes))] {
        c.truncate(c.len() / 2);
        let p = write(t.path(), name, &c);
        let e = open_path(p.display().to_string()).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{name}: {e}");
    }
}

#[test]
fn a_decompression_bomb_stops_at_the_limit_with_a_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 300 << 20];
    let bomb = gzip(&tar(&[file("zeros", &zeros)]));
    assert!(
        bomb.len() < 1 << 20,
        "300 MiB of zeros gzip to {} bytes",
        bomb.len()
    );
    let p = write(t.path(), "bomb.tar.gz", &bomb);
    let r = p.display().to_string();
    let e = open_limited(
        &r,
        Limits {
            max_unpacked_bytes: 100 << 20,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, Error::LimitExceeded { .. }), "{e}");
    assert!(
        e.to_string().contains("decompression bomb")
            && e.to_string().contains("--max-unpacked-bytes"),
        "{e}"
    );
    // The default ratio limit (1024:1) catches it too, long before the byte limit.
    let e = open_limited(
        &r,
        Limits {
            max_ratio: 100,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("ratio"), "{e}");
    // And a trusted input can be let through.
    let tree = open_limited(
        &r,
        Limits {
            max_ratio: 1 << 20,
            ..Limits::default()
        },
    )
    .unwrap();
    assert_eq!(tree.get("/zeros").unwrap().size, 300 << 20);
}

#[test]
fn too_many_entries_is_a_limit() {
    let t = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..100).map(|i| format!("f{i}")).collect();
    let members: Vec<_> = names.iter().map(|n| file(n, b"")).collect();
    let p = write(t.path(), "x.tar", &tar(&members));
    let e = open_limited(
        &p.display().to_string(),
        Limits {
            max_entries: 50,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, Error::LimitExceeded { .. }), "{e}");
}

#[test]
fn symlink_loops_are_errors_when_followed_and_entries_when_listed() {
    let t = tempfile::tempdir().unwrap();
    let p = write(
        t.path(),
        "x.tar",
        &tar(&[
            symlink("a", "b"),
            symlink("b", "a"),
            symlink("self", "self/x"),
        ]),
    );
    let tree = open_path(p.display().to_string()).unwrap();
    assert_eq!(tree.get("/a").unwrap().kind, EntryKind::Symlink);
    for path in ["/a", "/b/c", "/self"] {
        let e = tree.open(path).unwrap_err();
        assert!(
            e.to_string().contains("too many levels of symbolic links"),
            "{path}: {e}"
        );
    }
    // An entry that must be placed through a loop cannot be placed: a clear error.
    let p = write(
        t.path(),
        "y.tar",
        &tar(&[symlink("a", "b"), symlink("b", "a"), file("a/x", b"")]),
    );
    let e = open_path(p.display().to_string()).unwrap_err();
    assert!(e.to_string().contains("symbolic links"), "{e}");
}

#[test]
fn an_entry_under_a_regular_file_is_corrupt() {
    let t = tempfile::tempdir().unwrap();
    let p = write(
        t.path(),
        "x.tar",
        &tar(&[file("f", b"x"), file("f/g", b"y")]),
    );
    let e = open_path(p.display().to_string()).unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
}

#[test]
fn not_a_tar_at_all() {
    let t = tempfile::tempdir().unwrap();
    let p = write(
        t.path(),
        "x.tar.gz",
        &gzip(b"this is just text, not a tar archive, but long enough to fill a block?"),
    );
    let e = open_path(format!("tar:{}", p.display()));
    // A short non-tar decompresses to something without a valid header: error or empty tree,
    // but never a panic; a tree, if any, holds nothing but the root.
    if let Ok(tree) = e {
        assert_eq!(tree.entries().len(), 1);
    }
    let p = write(t.path(), "x.bz2", b"BZh91AY&SY....");
    let e = open_path(p.display().to_string()).unwrap_err();
    assert!(e.to_string().contains("bzip2"), "{e}");
}

fn oci_with_layer(dir: &std::path::Path, layer: &[u8]) -> serde_json::Value {
    let m = image(dir, "amd64", &[(LAYER_GZ, gzip(layer))]);
    write_index(dir, vec![m.clone()]);
    m
}

#[test]
fn oci_missing_blob_traversal_digest_and_mismatch() {
    let t = tempfile::tempdir().unwrap();
    let layer = tar(&[file("etc/os-release", b"ID=test\n")]);
    let dir = t.path().join("oci");
    let m = oci_with_layer(&dir, &layer);
    assert!(open_path(format!("oci:{}", dir.display())).is_ok());

    // A manifest that names a missing blob.
    let mut missing = m.clone();
    missing["digest"] = serde_json::json!(format!("sha256:{}", "0".repeat(64)));
    write_index(&dir, vec![missing]);
    let e = open_path(format!("oci:{}", dir.display())).unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");

    // A digest that tries to walk out of blobs/.
    let mut evil = m.clone();
    evil["digest"] = serde_json::json!("sha256:../../../../etc/passwd");
    write_index(&dir, vec![evil]);
    let e = open_path(format!("oci:{}", dir.display())).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");

    // A layer whose bytes do not match its digest.
    write_index(&dir, vec![m.clone()]);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.join("blobs/sha256")
                .join(&m["digest"].as_str().unwrap()[7..]),
        )
        .unwrap(),
    )
    .unwrap();
    let layer_path = dir
        .join("blobs/sha256")
        .join(&manifest["layers"][0]["digest"].as_str().unwrap()[7..]);
    let mut bytes = std::fs::read(&layer_path).unwrap();
    // Flip a bit of the gzip header's MTIME: still a valid gzip stream of the same size, so only
    // the digest can tell.
    bytes[4] ^= 1;
    std::fs::write(&layer_path, &bytes).unwrap();
    let e = open_path(format!("oci:{}", dir.display())).unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    assert!(e.to_string().contains("digest mismatch"), "{e}");
    bytes[4] ^= 1;
    std::fs::write(&layer_path, &bytes).unwrap();

    // A manifest blob edited in place: caught by its digest.
    let mpath = dir
        .join("blobs/sha256")
        .join(&m["digest"].as_str().unwrap()[7..]);
    let mut mb = std::fs::read(&mpath).unwrap();
    let i = mb.iter().position(|&b| b == b'2').unwrap();
    mb[i] = b'3';
    std::fs::write(&mpath, &mb).unwrap();
    let e = open_path(format!("oci:{}", dir.display())).unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
}

#[test]
fn docker_archive_member_paths_cannot_leave_the_archive() {
    let t = tempfile::tempdir().unwrap();
    let layer = tar(&[file("x", b"y")]);
    let manifest = serde_json::json!([{"Config": "../../etc/passwd", "RepoTags": ["a:b"], "Layers": ["l/layer.tar"]}]);
    let outer = tar(&[
        file("manifest.json", manifest.to_string().as_bytes()),
        dir("l"),
        file("l/layer.tar", &layer),
        symlink("l/evil.tar", "../../../etc/passwd"),
    ]);
    let p = write(t.path(), "d.tar", &outer);
    let e = open_path(format!("docker-archive:{}", p.display())).unwrap_err();
    assert!(matches!(e, Error::Unsafe { .. }), "{e}");
    let manifest =
        serde_json::json!([{"Config": "c.json", "RepoTags": ["a:b"], "Layers": ["l/evil.tar"]}]);
    let outer = tar(&[
        file("manifest.json", manifest.to_string().as_bytes()),
        file("c.json", br#"{"architecture":"amd64","os":"linux","rootfs":{"diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#),
        dir("l"),
        symlink("l/evil.tar", "../../../etc/passwd"),
    ]);
    let p = write(t.path(), "d.tar", &outer);
    let e = open_path(format!("docker-archive:{}", p.display())).unwrap_err();
    assert!(e.to_string().contains("outside the archive"), "{e}");
}

#[test]
fn an_oci_layout_whose_blobs_directory_is_a_symlink_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let real = t.path().join("real");
    oci_with_layer(&real, &tar(&[file("x", b"y")]));
    // A second layout whose blobs/ points at the first one's: content outside the layout.
    let evil = t.path().join("evil");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::copy(real.join("index.json"), evil.join("index.json")).unwrap();
    std::fs::copy(real.join("oci-layout"), evil.join("oci-layout")).unwrap();
    std::os::unix::fs::symlink(real.join("blobs"), evil.join("blobs")).unwrap();
    let e = open_path(format!("oci:{}", evil.display())).unwrap_err();
    assert!(matches!(e, Error::Unsafe { .. }), "{e}");
    assert!(open_path(format!("oci:{}", real.display())).is_ok());
}

#[test]
fn a_long_name_bomb_is_refused_before_it_is_read() {
    let t = tempfile::tempdir().unwrap();
    // A GNU long-name member that declares 4 GiB: the tar crate would read it all into memory.
    let mut m = file("././@LongLink", b"");
    m.kind = b'L';
    m.declared = Some(4 << 30);
    let mut bytes = tar(&[m]);
    bytes.truncate(512);
    bytes.extend(std::iter::repeat_n(b'a', 1 << 20));
    let p = write(t.path(), "bomb.tar.gz", &gzip(&bytes));
    let e = open_path(p.display().to_string()).unwrap_err();
    assert!(matches!(e, Error::LimitExceeded { .. }), "{e}");
    assert!(e.to_string().contains("long name"), "{e}");
}

#[test]
fn long_names_and_links_still_work() {
    let t = tempfile::tempdir().unwrap();
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(150));
    let target = format!("../{}", "t".repeat(200));
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("d".repeat(120))).unwrap();
    std::fs::write(src.join(&long), b"deep").unwrap();
    std::os::unix::fs::symlink(&target, src.join("link")).unwrap();
    for (fmt, name) in [
        ("--format=gnu", "gnu.tar.gz"),
        ("--format=posix", "pax.tar.gz"),
    ] {
        let out = t.path().join(name);
        let st = std::process::Command::new("tar")
            .args([
                fmt,
                "-czf",
                out.to_str().unwrap(),
                "-C",
                src.to_str().unwrap(),
                ".",
            ])
            .status()
            .unwrap();
        assert!(st.success());
        let tree = open_path(out.display().to_string()).unwrap();
        assert_eq!(read_all(&tree, &format!("/{long}")), b"deep", "{fmt}");
        assert_eq!(
            tree.get("/link").unwrap().link.as_deref(),
            Some(target.as_str()),
            "{fmt}"
        );
    }
}

#[test]
fn an_overlong_name_of_multibyte_characters_is_refused_cleanly() {
    // A PAX path of 20,000 bytes of 'é' (2 bytes each): over the limit, and cutting it for the
    // message must respect character boundaries.
    let t = tempfile::tempdir().unwrap();
    let name = format!("x{}", "é".repeat(10_000));
    let record = |k: &str, v: &str| {
        let body = format!(" {k}={v}\n");
        let mut n = body.len() + 1;
        while format!("{n}{body}").len() != n {
            n = format!("{n}{body}").len();
        }
        format!("{n}{body}")
    };
    let pax = record("path", &name);
    let mut h = file("PaxHeaders/x", pax.as_bytes());
    h.kind = b'x';
    let p = write(t.path(), "long.tar", &tar(&[h, file("short", b"data")]));
    let e = open_path(p.display().to_string()).unwrap_err();
    assert!(matches!(e, Error::Unsafe { .. }), "{e}");
    assert!(e.to_string().contains("bytes long"), "{e}");
}
