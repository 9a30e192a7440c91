//! ISO 9660 images made by `xorriso -as mkisofs`: a live-ISO shape (the bookworm tree as
//! `live/filesystem.squashfs`) opens as that root filesystem and lists as the directory does;
//! `#0` gives the ISO's own tree, whose Rock Ridge names, modes, owners, symlinks, times and
//! deep directories list as the directory it was made from; a Joliet-only image gives Joliet's
//! names; a file past 4 GiB, which ISO 9660 keeps in several extents, reads back whole.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::*;

fn compare(
    want: &BTreeMap<String, Value>,
    got: &BTreeMap<String, Value>,
    fields: &[&str],
) -> Vec<String> {
    let mut problems = Vec::new();
    for (p, w) in want {
        let Some(g) = got.get(p) else {
            problems.push(format!("missing {p}"));
            continue;
        };
        for k in fields {
            if w[*k] != g[*k] {
                problems.push(format!("{p} {k}: {} vs {}", w[*k], g[*k]));
            }
        }
    }
    problems.extend(
        got.keys()
            .filter(|p| !want.contains_key(*p))
            .map(|p| format!("extra {p}")),
    );
    problems
}

#[test]
fn live_iso_opens_its_root_filesystem_and_partition_0_its_own_tree() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("iso-root");
    let deep = "d1/d2/d3/d4/d5/d6/d7/d8/d9/d10";
    sh(&format!(
        "mkdir -p {r}/live {r}/boot/grub {r}/{deep} \
         && mksquashfs {src} {r}/live/filesystem.squashfs -comp zstd -noappend -no-progress -quiet >/dev/null \
         && printf 'menuentry live {{}}\\n' > {r}/boot/grub/grub.cfg \
         && printf 'deep\\n' > {r}/{deep}/file.txt \
         && printf 'x' > '{r}/a file with a rather long name that ISO 9660 alone cannot hold.txt' \
         && ln -s ../boot/grub/grub.cfg {r}/live/link && chmod 0750 {r}/boot && chown -R 1234:55 {r}/d1 \
         && xorriso -as mkisofs -R -J -V LIVE -o {iso} {r} 2>/dev/null",
        r = s(&tree),
        src = s(&f.join("bookworm-rootfs")),
        iso = s(&t.path().join("live.iso")),
    ));
    let iso = t.path().join("live.iso");
    // The live root filesystem, by default.
    let want = ls(
        &format!("dir:{}", s(&f.join("bookworm-rootfs"))),
        &["--digest"],
    );
    let got = ls(s(&iso), &["--digest"]);
    let problems = compare(
        &want,
        &got,
        &[
            "kind", "mode", "uid", "gid", "size", "link", "device", "mtime", "sha256",
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let v: Value = serde_json::from_slice(&ok(&["inspect", "--json", s(&iso)])).unwrap();
    assert_eq!(v["os"]["version_id"], "12");
    assert!(
        v["image"]["partition"]
            .as_str()
            .unwrap()
            .contains("squashfs"),
        "{}",
        v["image"]
    );
    // The ISO's own tree: Rock Ridge gives it back as it was.
    let want = ls(&format!("dir:{}", s(&tree)), &["--digest"]);
    let got = ls(&format!("disk:{}#0", s(&iso)), &["--digest"]);
    let problems = compare(
        &want,
        &got,
        &[
            "kind", "mode", "uid", "gid", "size", "link", "mtime", "sha256",
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // A partition an ISO does not have.
    let out = imagewise(&["ls", &format!("disk:{}#2", s(&iso))]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn joliet_names_without_rock_ridge() {
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("j");
    sh(&format!(
        "mkdir -p {r}/Mixed.Case/sub && printf 1 > '{r}/Mixed.Case/Long name.text' && printf 22 > {r}/Mixed.Case/sub/x.y \
         && xorriso -as mkisofs -J -o {iso} {r} 2>/dev/null",
        r = s(&tree),
        iso = s(&t.path().join("j.iso"))
    ));
    let got = ls(s(&t.path().join("j.iso")), &["--digest"]);
    let names: Vec<&String> = got.keys().collect();
    assert_eq!(
        names,
        [
            "/",
            "/Mixed.Case",
            "/Mixed.Case/Long name.text",
            "/Mixed.Case/sub",
            "/Mixed.Case/sub/x.y"
        ],
        "{got:?}"
    );
    assert_eq!(got["/Mixed.Case/sub/x.y"]["size"], 2);
    assert_eq!(got["/Mixed.Case/sub/x.y"]["sha256"], sha256_hex(b"22"));
}

/// A file past 4 GiB is stored in several extents (multi-extent records); it lists at its
/// full size and reads back byte for byte (markers at the start, across the 4 GiB line and at
/// the end of a sparse source; the ISO is written sparse too).
#[test]
fn a_file_past_4_gib_reads_back_whole() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let big = src.join("big");
    let iso = t.path().join("big.iso");
    let size: u64 = 4200 << 20;
    sh(&format!(
        "truncate -s {size} {b} && printf START | dd of={b} conv=notrunc status=none \
         && printf EDGE | dd of={b} bs=1 seek={edge} conv=notrunc status=none \
         && printf END | dd of={b} bs=1 seek={end} conv=notrunc status=none \
         && echo small > {s}/small \
         && xorriso -as mkisofs -R -J -iso-level 3 -o - {s} 2>/dev/null | cp --sparse=always /dev/stdin {i}",
        b = s(&big),
        s = s(&src),
        i = s(&iso),
        edge = (4u64 << 30) - 2,
        end = size - 3,
    ));
    let want = sh(&format!(
        "python3 -c \"
import hashlib, sys
h = hashlib.sha256()
f = open(sys.argv[1], 'rb')
for b in iter(lambda: f.read(1 << 22), b''): h.update(b)
print(h.hexdigest())\" {}",
        s(&big)
    ));
    let got = ls(&format!("disk:{}#0", s(&iso)), &["--digest"]);
    assert_eq!(got["/big"]["size"], size);
    assert_eq!(got["/big"]["sha256"].as_str().unwrap(), want.trim());
    assert_eq!(got["/small"]["size"], 6);
}
