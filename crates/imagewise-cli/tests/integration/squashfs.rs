//! squashfs made by `mksquashfs` from the bookworm tree, with each compressor it has here
//! (gzip, xz, lzo, lz4, zstd): every image lists and reads as the directory
//! does — modes, owners, sizes, mtimes (squashfs keeps whole seconds), link targets, devices,
//! hardlinks, xattrs, contents — and so does the same squashfs as a partition of a GPT disk;
//! squashfs-tools' own listing (`unsquashfs -lln`) agrees name by name.

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
            agrees_with_unsquashfs(&img, &got);
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

/// `YYYY-MM-DD HH:MM` of a Unix time, in UTC (days to civil date, as in Howard Hinnant's
/// algorithm).
fn utc_minute(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// squashfs-tools' own listing (`unsquashfs -lln -UTC`) as the oracle for what imagewise reads:
/// type, permissions, owner, size of files and links (directories are sized differently),
/// device numbers, mtime to the minute and link target, name by name. (unsquashfs decodes
/// device numbers the old way, 8 bits of minor; the tree's devices all fit.)
fn agrees_with_unsquashfs(img: &Path, got: &std::collections::BTreeMap<String, Value>) {
    let out = Command::new("unsquashfs")
        .args(["-lln", "-UTC", "-d", ""])
        .arg(img)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut problems = Vec::new();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        // perms, uid/gid, size (or "major,  minor"), date, time, name[ -> target].
        let t: Vec<&str> = line.split_whitespace().collect();
        assert!(t.len() >= 5, "{line}");
        let (size, at) = if t[2].ends_with(',') {
            (format!("{}{}", t[2], t[3]), 4)
        } else {
            (t[2].to_string(), 3)
        };
        let stamp = format!("{} {}", t[at], t[at + 1]);
        let rest = match line.find(&format!("{stamp} ")) {
            Some(i) => &line[i + stamp.len() + 1..],
            None => "",
        };
        let (path, link) = match rest.split_once(" -> ") {
            Some((p, l)) if t[0].starts_with('l') => (p, Some(l)),
            _ => (rest, None),
        };
        let path = if path.is_empty() { "/" } else { path };
        let Some(g) = got.get(path) else {
            problems.push(format!("imagewise lacks {path}"));
            continue;
        };
        n += 1;
        let perms = t[0].as_bytes();
        let kind = match perms[0] {
            b'd' => "dir",
            b'l' => "symlink",
            b'c' => "char",
            b'b' => "block",
            b'p' => "fifo",
            b's' => "socket",
            _ => "file",
        };
        let mine_kind = if g["kind"] == "hardlink" {
            "file"
        } else {
            g["kind"].as_str().unwrap()
        };
        let mut mode = 0u32;
        for (i, &c) in perms[1..10].iter().enumerate() {
            let bit = 1 << (8 - i);
            if c != b'-' && c != b'S' && c != b'T' {
                mode |= bit;
            }
        }
        for (i, special) in [(3, 0o4000), (6, 0o2000), (9, 0o1000)] {
            if matches!(perms[i], b's' | b'S' | b't' | b'T') {
                mode |= special;
            }
        }
        let (uid, gid) = t[1].split_once('/').unwrap();
        let minute = stamp;
        let mut checks = vec![
            ("kind", mine_kind.to_string(), kind.to_string()),
            (
                "mode",
                g["mode"].as_str().unwrap().to_string(),
                format!("{mode:04o}"),
            ),
            ("uid", g["uid"].to_string(), uid.to_string()),
            ("gid", g["gid"].to_string(), gid.to_string()),
            ("mtime", utc_minute(g["mtime"].as_i64().unwrap()), minute),
        ];
        match kind {
            "file" | "symlink" => checks.push(("size", g["size"].to_string(), size)),
            "char" | "block" => checks.push((
                "device",
                format!("{},{}", g["device"][0], g["device"][1]),
                size,
            )),
            _ => {}
        }
        if let Some(l) = link {
            checks.push((
                "link",
                g["link"].as_str().unwrap_or("").to_string(),
                l.to_string(),
            ));
        }
        for (what, mine, theirs) in checks {
            if mine != theirs {
                problems.push(format!(
                    "{path} {what}: imagewise {mine}, unsquashfs {theirs}"
                ));
            }
        }
    }
    assert_eq!(
        n,
        got.len(),
        "unsquashfs lists {n} names, imagewise {}",
        got.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
