//! squashfs made by `mksquashfs` from the bookworm tree, with each compressor it has here
//! (gzip, xz, lzo, lz4, zstd): every image lists and reads as the directory
//! does — modes, owners, sizes, mtimes (squashfs keeps whole seconds), link targets, devices,
//! hardlinks, xattrs, contents — and so does the same squashfs as a partition of a GPT disk.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn mksquashfs(src: &Path, out: &Path, comp: &str) {
    let st = Command::new("mksquashfs")
        .arg(src)
        .arg(out)
        .args([
            "-comp",
            comp,
            "-noappend",
            "-no-progress",
            "-quiet",
            "-xattrs",
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "mksquashfs -comp {comp}");
}

#[test]
fn bookworm_in_squashfs_lists_as_the_directory_does() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    // The fast compressors on the bookworm tree, the slow ones (xz) on the Alpine one.
    for (comp, tree, version) in [
        ("gzip", "bookworm-rootfs", "12"),
        ("zstd", "bookworm-rootfs", "12"),
        ("xz", "alpine-rootfs", "3.20.3"),
        ("lz4", "alpine-rootfs", "3.20.3"),
        ("lzo", "alpine-rootfs", "3.20.3"),
    ] {
        let src = f.join(tree);
        let want = ls(&format!("dir:{}", s(&src)), &["--digest"]);
        let img = t.path().join(format!("{comp}.sqfs"));
        mksquashfs(&src, &img, comp);
        let reference = s(&img).to_string();
        let got = ls(&reference, &["--digest"]);
        let mut problems = Vec::new();
        for (p, w) in &want {
            let Some(g) = got.get(p) else {
                problems.push(format!("missing {p}"));
                continue;
            };
            for k in [
                "kind", "mode", "uid", "gid", "size", "link", "device", "mtime", "xattrs", "sha256",
            ] {
                if w[k] != g[k] {
                    problems.push(format!("{p} {k}: {} vs {}", w[k], g[k]));
                }
            }
        }
        problems.extend(
            got.keys()
                .filter(|p| !want.contains_key(*p))
                .map(|p| format!("extra {p}")),
        );
        assert!(problems.is_empty(), "{comp}: {}", problems.join("\n"));
        let v: Value = serde_json::from_slice(&ok(&["inspect", "--json", &reference])).unwrap();
        assert_eq!(v["os"]["version_id"], version, "{comp}");
        if comp == "gzip" {
            assert_eq!(facts(&reference), facts(&format!("dir:{}", s(&src))));
        }
    }
    // The same squashfs as partition 1 of a GPT disk.
    let img = t.path().join("zstd.sqfs");
    let disk = t.path().join("disk.raw");
    let len = std::fs::metadata(&img).unwrap().len();
    let st = Command::new("bash")
        .args([
            "-ec",
            &format!(
                "truncate -s {} {d} && sgdisk -n 1:2048:0 -t 1:8300 {d} >/dev/null && dd if={i} of={d} bs=1M seek=1 conv=notrunc status=none",
                (len + (4 << 20)),
                d = s(&disk),
                i = s(&img)
            ),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let want = ls(
        &format!("dir:{}", s(&f.join("bookworm-rootfs"))),
        &["--digest"],
    );
    let got = ls(s(&disk), &["--digest"]);
    assert_eq!(got.len(), want.len());
    assert_eq!(got["/usr/bin/ls"]["sha256"], want["/usr/bin/ls"]["sha256"]);
}
