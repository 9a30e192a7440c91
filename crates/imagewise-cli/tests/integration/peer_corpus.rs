//! Other projects' test inputs (../shared/peer-corpus/: Go's and libarchive's tar test
//! archives, e2fsprogs' images, a qcow2 disk, syft's package databases) through
//! `ls --json --digest`, each under a timeout and an address-space cap: no panic, no timeout,
//! exit 0 or 2 only. For the tars GNU tar extracts without complaint, the listing equals what GNU
//! tar extracted (paths, kinds, modes, owners, sizes, mtimes, link targets, devices, xattrs,
//! content digests); the differences the project accepts on purpose are listed with a reason.
//! The e2fsprogs images are opened as `disk:`, and those `e2fsck -fn` calls clean list as
//! debugfs's `rdump` writes them out.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{sha256_hex, shared};

fn corpus() -> PathBuf {
    shared().join("../peer-corpus")
}

/// Files larger than this (the 60 GB sparse members of Go's corpus) are compared by size: the
/// oracle would have to read them back whole.
const BIG: u64 = 1 << 30;

/// Archives whose listing differs from GNU tar's extraction on purpose.
const ACCEPTED: &[(&str, &str)] = &[
    (
        "gnu-sparse-big.tar",
        "a 60 GB sparse member, over the test's 8 GiB --max-unpacked-bytes",
    ),
    (
        "pax-sparse-big.tar",
        "a 60 GB sparse member, over the test's 8 GiB --max-unpacked-bytes",
    ),
    (
        "pax-global-records.tar",
        "GNU tar substitutes `.` for the empty name a global PAX record leaves; imagewise skips such members with a warning",
    ),
    (
        "test_read_format_tar_empty_filename.tar",
        "a member with an empty name is skipped with a warning, not extracted over `.`",
    ),
    (
        "pax-path-hdr.tar",
        "a PAX header with no member after it: GNU tar extracts nothing and exits 0; imagewise says the archive is cut where a member should be",
    ),
    (
        "test_read_format_tar_concatenated.tar",
        "both stop at the first end-of-archive marker; GNU tar's extraction still creates the directories named after it",
    ),
];

/// Entries of clean ext images where debugfs's `rdump` is not the truth, or where imagewise
/// refuses what e2fsck accepts.
const ACCEPTED_EXT: &[(&str, &str, &str)] = &[
    (
        "e2fsprogs_tests_d_inline_dump_image.gz",
        "/shortfile",
        "an inline-data file of 20 bytes (`debugfs stat` says 20): rdump writes the whole 60-byte inline area",
    ),
    (
        "e2fsprogs_tests_f_ea_inode_no_feature_image.gz",
        "*",
        "an xattr value in an inode on a filesystem without ea_inode: the kernel refuses it (getfattr: Structure needs cleaning), e2fsck -n says nothing; imagewise refuses it, by name",
    ),
    (
        "e2fsprogs_tests_f_ea_zero_size_image.gz",
        "*",
        "Lustre-style xattrs whose value inode is no xattr inode: the kernel refuses them (getfattr: Structure needs cleaning), e2fsck -n says nothing; imagewise refuses them, by name",
    ),
    (
        "e2fsprogs_tests_f_extent_too_deep_image.gz",
        "*",
        "an extent tree 7 levels deep: the kernel refuses more than 5 (EXT4_MAX_EXTENT_DEPTH), and so does imagewise, by name",
    ),
];

/// A minimal uudecoder (libarchive keeps its test archives uuencoded).
fn uudecode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut lines = text.lines().skip_while(|l| !l.starts_with("begin "));
    lines.next();
    for line in lines {
        if line == "end" || line == "`" {
            break;
        }
        let b = line.as_bytes();
        if b.is_empty() {
            continue;
        }
        let n = ((b[0] - b' ') & 0x3f) as usize;
        let mut chunk = Vec::new();
        for q in b[1..].chunks(4) {
            let v: Vec<u32> = (0..4)
                .map(|i| u32::from((q.get(i).copied().unwrap_or(b' ') - b' ') & 0x3f))
                .collect();
            let w = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
            chunk.extend_from_slice(&[(w >> 16) as u8, (w >> 8) as u8, w as u8]);
        }
        chunk.truncate(n);
        out.extend(chunk);
    }
    out
}

/// How an input is opened and checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Opened by detection; tars are compared with GNU tar's extraction.
    Detected,
    /// An e2fsprogs image or a qcow2 disk: opened as `disk:`; clean ext images are compared
    /// with debugfs's `rdump`.
    Disk,
}

/// Every input: (name, path on disk, kind). Compressed e2fsprogs images are decompressed.
fn inputs(scratch: &Path) -> Vec<(String, PathBuf, Kind)> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(corpus()).sort_by_file_name() {
        let e = e.unwrap();
        if !e.file_type().is_file() {
            continue;
        }
        let p = e.path().to_path_buf();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name == "README.md" || name.ends_with(".tsv") {
            continue;
        }
        let rel = p
            .strip_prefix(corpus())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = name.strip_suffix(".uu") {
            let text = std::fs::read_to_string(&p).unwrap();
            let decoded = scratch.join(stem);
            std::fs::write(&decoded, uudecode(&text)).unwrap();
            out.push((stem.to_string(), decoded, Kind::Detected));
        } else if rel.starts_with("e2fsprogs/") && !name.contains(".tar") {
            let label = rel.replace('/', "_");
            let tool = match name.rsplit('.').next() {
                Some("gz") => Some("gzip"),
                Some("bz2") => Some("bzip2"),
                _ => None,
            };
            let path = match tool {
                Some(tool) => {
                    let raw = Command::new(tool).arg("-dc").arg(&p).output().unwrap();
                    assert!(raw.status.success(), "{tool} -dc {}", p.display());
                    let d = scratch.join(&label);
                    std::fs::write(&d, raw.stdout).unwrap();
                    d
                }
                None => p,
            };
            out.push((label, path, Kind::Disk));
        } else if name.ends_with(".qcow2") {
            out.push((name, p, Kind::Disk));
        } else {
            out.push((name, p, Kind::Detected));
        }
    }
    out
}

/// The ext images e2fsck calls clean, through debugfs's `rdump` (which keeps modes, owners and
/// the times of files and directories, and writes no devices, FIFOs or sockets).
fn rdump(image: &Path, out: &Path) -> bool {
    // A clean image checks in well under a second; e2fsck spins for minutes on some of the
    // damaged ones (f_illitable_flexbg, f_misstable), which are no oracle anyway. It catches
    // SIGTERM and may not look at the flag while it spins (a cold run saw it go on for 13
    // minutes): KILL it 5 s after.
    let fsck = Command::new("timeout")
        .args(["-k", "5", "10", "e2fsck", "-fn"])
        .arg(image)
        .output()
        .unwrap();
    // `e2fsck -n` exits 0 even when it found something and answered "no" to fixing it.
    if !fsck.status.success() || String::from_utf8_lossy(&fsck.stdout).contains("? no") {
        return false;
    }
    std::fs::create_dir_all(out).unwrap();
    let d = Command::new("debugfs")
        .arg("-R")
        .arg(format!("rdump / {}", out.display()))
        .arg(image)
        .output()
        .unwrap();
    // debugfs exits 0 when it cannot open the filesystem at all.
    d.status.success() && !String::from_utf8_lossy(&d.stderr).contains("while trying to open")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `imagewise ls --json --digest REF`, at most 120 s and 4 GiB of address space.
fn ls(reference: &str) -> Run {
    let out = Command::new("timeout")
        .args(["120", "prlimit", "--as=4294967296", "--"])
        .arg(env!("CARGO_BIN_EXE_imagewise"))
        .args(["ls", "--json", "--digest", reference])
        .env("IMAGEWISE_NO_PROGRESS", "1")
        // Bounded work: Go's two 6 KB archives of a 60 GB sparse member would be hashed whole
        // (40 s each) for a digest the oracle cannot check; under 8 GiB they are refused at
        // once. Under the default limit they list at their real size (tar_reading.rs).
        .env("IMAGEWISE_MAX_UNPACKED_BYTES", "8589934592")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One entry as compared: everything `ls --json` says that extraction can reproduce.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    kind: String,
    mode: String,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: Option<i64>,
    link: Option<String>,
    device: Option<(u64, u64)>,
    xattrs: BTreeMap<String, String>,
    sha256: Option<String>,
}

/// The tree GNU tar extracted, walked with lstat and read back.
fn walk(root: &Path) -> BTreeMap<String, Seen> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e.unwrap();
        let rel = format!(
            "/{}",
            imagewise_source::names::from_bytes(
                e.path().strip_prefix(root).unwrap().as_os_str().as_bytes()
            )
        );
        let m = std::fs::symlink_metadata(e.path()).unwrap();
        let t = m.file_type();
        let kind = if t.is_dir() {
            "dir"
        } else if t.is_symlink() {
            "symlink"
        } else if t.is_char_device() {
            "char"
        } else if t.is_block_device() {
            "block"
        } else if t.is_fifo() {
            "fifo"
        } else if t.is_socket() {
            "socket"
        } else {
            "file"
        };
        let link = t.is_symlink().then(|| {
            imagewise_source::names::from_bytes(
                std::fs::read_link(e.path()).unwrap().as_os_str().as_bytes(),
            )
        });
        let mut xattrs = BTreeMap::new();
        if !t.is_symlink() {
            for n in xattr::list(e.path()).unwrap() {
                let n = n.to_string_lossy().into_owned();
                if let Some(v) = xattr::get(e.path(), &n).unwrap() {
                    xattrs.insert(n, hex::encode(v));
                }
            }
        }
        let dev = m.rdev();
        out.insert(
            rel,
            Seen {
                kind: kind.into(),
                // Linux gives every symlink mode 0777 whatever the archive says.
                mode: if t.is_symlink() {
                    "any".into()
                } else {
                    format!("{:04o}", m.mode() & 0o7777)
                },
                uid: u64::from(m.uid()),
                gid: u64::from(m.gid()),
                size: match kind {
                    "file" => m.size(),
                    "symlink" => link.as_ref().map_or(0, |l| l.len() as u64),
                    _ => 0,
                },
                // Directories' times change as their children are extracted; symlinks'
                // are set where the system lets tar.
                mtime: (kind != "dir").then_some(m.mtime()),
                link,
                device: matches!(kind, "char" | "block")
                    .then(|| (u64::from(major(dev)), u64::from(minor(dev)))),
                xattrs,
                sha256: (kind == "file" && m.size() <= BIG)
                    .then(|| sha256_hex(&std::fs::read(e.path()).unwrap())),
            },
        );
    }
    out
}

fn major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

fn minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}

/// imagewise's listing in the same terms: a hardlink is its file (extraction cannot tell
/// names of one inode apart).
fn listed(stdout: &str) -> BTreeMap<String, Seen> {
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_path: BTreeMap<&str, &Value> = lines
        .iter()
        .map(|v| (v["path"].as_str().unwrap(), v))
        .collect();
    let mut out = BTreeMap::new();
    for v in &lines {
        let path = v["path"].as_str().unwrap();
        if path == "/" {
            continue;
        }
        let mut kind = v["kind"].as_str().unwrap().to_string();
        let mut sha = v["sha256"].as_str().map(str::to_string);
        if kind == "hardlink" {
            kind = "file".into();
            let primary = by_path[v["link"].as_str().unwrap()];
            sha = primary["sha256"].as_str().map(str::to_string);
        }
        let xattrs = v["xattrs"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, x)| (k.clone(), x.as_str().unwrap().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(
            path.to_string(),
            Seen {
                mode: if kind == "symlink" {
                    "any".into()
                } else {
                    v["mode"].as_str().unwrap().to_string()
                },
                uid: v["uid"].as_u64().unwrap(),
                gid: v["gid"].as_u64().unwrap(),
                size: v["size"].as_u64().unwrap(),
                mtime: (kind != "dir").then(|| v["mtime"].as_i64().unwrap()),
                link: (kind == "symlink").then(|| v["link"].as_str().unwrap().to_string()),
                device: v["device"]
                    .as_array()
                    .map(|d| (d[0].as_u64().unwrap(), d[1].as_u64().unwrap())),
                xattrs,
                sha256: if kind == "file" && v["size"].as_u64().unwrap() <= BIG {
                    sha
                } else {
                    None
                },
                kind,
            },
        );
    }
    out
}

/// Directories tar creates for members' parents carry the extraction's mode and owner, and
/// imagewise's implicit directories their own defaults: compare what the archive names.
fn named_in_archive(file: &Path) -> Option<BTreeSet<String>> {
    let out = Command::new("tar").arg("-tf").arg(file).output().unwrap();
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let t = l.trim_start_matches("./").trim_end_matches('/');
                format!("/{}", t.trim_start_matches('/'))
            })
            .collect()
    })
}

#[test]
fn peer_corpus_never_crashes_and_tars_list_as_gnu_tar_extracts_them() {
    let t = tempfile::tempdir().unwrap();
    let scratch = t.path().join("inputs");
    std::fs::create_dir_all(&scratch).unwrap();
    let all = inputs(&scratch);
    assert!(all.len() > 300, "the peer corpus is missing: {}", all.len());
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut disks_compared = 0;
    for (i, (name, path, kind)) in all.iter().enumerate() {
        let reference = match kind {
            Kind::Disk => format!("disk:{}", path.display()),
            Kind::Detected => path.display().to_string(),
        };
        let r = ls(&reference);
        let unread_compression = r.stderr.contains("which imagewise does not read");
        if !(r.code == 0 || r.code == 2) || r.stderr.contains("panicked") {
            failures.push(format!(
                "{name}: exit {} (timeout is 124, a killed run 137): {}",
                r.code,
                r.stderr.lines().last().unwrap_or("")
            ));
            continue;
        }
        if *kind == Kind::Disk {
            let out = t.path().join(format!("x{i}"));
            let skip_all = ACCEPTED_EXT.iter().any(|(n, p, _)| n == name && *p == "*");
            if name.starts_with("e2fsprogs") && !skip_all && rdump(path, &out) {
                if r.code != 0 {
                    failures.push(format!(
                        "{name}: e2fsck calls it clean, imagewise refuses it: {}",
                        r.stderr.lines().last().unwrap_or("")
                    ));
                    continue;
                }
                disks_compared += 1;
                let got = listed(&r.stdout);
                compare_ext(name, &walk(&out), &got, &mut failures);
                compare_ext_xattrs_and_devices(name, path, &got, &mut failures);
            }
            continue;
        }
        let is_tar = name.contains(".tar") || name.ends_with(".tgz") || name.ends_with(".txz");
        // bzip2 and compress (.Z) are named and refused, not read (the error says how to
        // decompress first).
        if !is_tar || unread_compression || ACCEPTED.iter().any(|(n, _)| n == name) {
            continue;
        }
        let out = t.path().join(format!("x{i}"));
        std::fs::create_dir_all(&out).unwrap();
        let gnu = Command::new("tar")
            .args([
                "--xattrs",
                "--xattrs-include=*",
                "--selinux",
                "--numeric-owner",
                "-xf",
            ])
            .arg(path)
            .arg("-C")
            .arg(&out)
            .output()
            .unwrap();
        if !gnu.status.success() || !gnu.stderr.is_empty() {
            // GNU tar refuses it or warns about it: no oracle for the listing.
            continue;
        }
        if r.code != 0 {
            failures.push(format!(
                "{name}: GNU tar extracts it, imagewise refuses it: {}",
                r.stderr.lines().last().unwrap_or("")
            ));
            continue;
        }
        compared += 1;
        let want = walk(&out);
        let got = listed(&r.stdout);
        let named = named_in_archive(path).unwrap_or_default();
        let paths: BTreeSet<&String> = want.keys().chain(got.keys()).collect();
        for p in paths {
            match (want.get(p), got.get(p)) {
                (Some(w), Some(g)) => {
                    if named.contains(p) && w != g {
                        failures.push(format!(
                            "{name} {p}:\n  GNU tar:   {w:?}\n  imagewise: {g:?}"
                        ));
                    } else if w.kind != g.kind {
                        failures.push(format!(
                            "{name} {p}: GNU tar made a {}, imagewise lists a {}",
                            w.kind, g.kind
                        ));
                    }
                }
                (Some(_), None) => failures.push(format!("{name} {p}: extracted, not listed")),
                (None, Some(_)) => failures.push(format!("{name} {p}: listed, not extracted")),
                (None, None) => {}
            }
        }
    }
    assert!(compared >= 50, "only {compared} tars were compared");
    assert!(
        disks_compared >= 40,
        "only {disks_compared} ext images were compared"
    );
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// An ext image against its rdump: every directory, file and symlink with its mode, owner,
/// size, link target and content, and the mtimes of files (rdump sets symlinks' to now).
fn compare_ext(
    name: &str,
    want: &BTreeMap<String, Seen>,
    got: &BTreeMap<String, Seen>,
    failures: &mut Vec<String>,
) {
    let dumped = |s: &Seen| matches!(s.kind.as_str(), "file" | "dir" | "symlink");
    let accepted = |p: &str| {
        ACCEPTED_EXT
            .iter()
            .any(|(n, path, _)| *n == name && *path == p)
    };
    for (p, g) in got.iter().filter(|(p, g)| dumped(g) && !accepted(p)) {
        let Some(w) = want.get(p) else {
            failures.push(format!("{name} {p}: listed, not in debugfs's rdump"));
            continue;
        };
        let mut g = Seen {
            xattrs: BTreeMap::new(),
            ..g.clone()
        };
        let mut w = Seen {
            xattrs: BTreeMap::new(),
            ..w.clone()
        };
        if g.kind == "symlink" {
            g.mtime = None;
            w.mtime = None;
        }
        if g != w {
            failures.push(format!(
                "{name} {p}:\n  debugfs:   {w:?}\n  imagewise: {g:?}"
            ));
        }
    }
    for p in want.keys().filter(|p| !got.contains_key(*p)) {
        failures.push(format!("{name} {p}: in debugfs's rdump, not listed"));
    }
}

/// What `rdump` cannot show, from debugfs itself in one run per image: the xattrs of every
/// entry (`ea_list`: names and value sizes; values too where debugfs prints them as imagewise
/// must, i.e. everything but POSIX ACLs, which debugfs shows in ext4's on-disk form) and the
/// device numbers of device nodes (`stat`).
fn compare_ext_xattrs_and_devices(
    name: &str,
    image: &Path,
    got: &BTreeMap<String, Seen>,
    failures: &mut Vec<String>,
) {
    let paths: Vec<&String> = got
        .keys()
        .filter(|p| !p.contains('"') && !p.contains('\\'))
        .collect();
    let mut cmds = String::new();
    for p in &paths {
        cmds.push_str(&format!("ea_list \"{p}\"\nstat \"{p}\"\n"));
    }
    let cmdfile = image.with_extension("debugfs-cmds");
    std::fs::write(&cmdfile, cmds).unwrap();
    let out = Command::new("debugfs")
        .arg("-f")
        .arg(&cmdfile)
        .arg(image)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // Blocks of output, one per command, keyed by (command, path).
    let mut blocks: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("debugfs: ") {
            current = cmd
                .split_once(' ')
                .map(|(c, p)| (c.to_string(), p.trim_matches('"').to_string()));
            continue;
        }
        if let Some(k) = &current {
            blocks.entry(k.clone()).or_default().push(line.to_string());
        }
    }
    for p in paths {
        let g = &got[p];
        // `  NAME (LEN)` lines, with ` = VALUE` when the value is short; a name that is not
        // printable comes as hex bytes.
        let mut want: BTreeMap<String, (usize, Option<Vec<u8>>)> = BTreeMap::new();
        for l in blocks
            .get(&("ea_list".into(), p.clone()))
            .into_iter()
            .flatten()
        {
            let Some(l) = l.strip_prefix("  ") else {
                continue;
            };
            let (head, value) = match l.split_once(") = ") {
                Some((h, v)) => (format!("{h})"), Some(v)),
                None => (l.trim_end().to_string(), None),
            };
            let Some((xname, len)) = head.rsplit_once(" (") else {
                continue;
            };
            let Ok(len) = len.trim_end_matches(')').parse::<usize>() else {
                continue;
            };
            let xname = xname.trim_end();
            let hex_name: Option<Vec<u8>> = xname
                .split(' ')
                .map(|h| {
                    (h.len() == 2)
                        .then(|| u8::from_str_radix(h, 16).ok())
                        .flatten()
                })
                .collect();
            let xname = match hex_name {
                Some(b) if xname.contains(' ') => String::from_utf8_lossy(&b).into_owned(),
                _ => xname.to_string(),
            };
            let bytes = value.and_then(|value| {
                if let Some(q) = value.strip_prefix('"') {
                    q.strip_suffix('"')
                        .filter(|v| !v.contains('\\'))
                        .map(|v| v.as_bytes().to_vec())
                } else {
                    value
                        .split_whitespace()
                        .map(|h| u8::from_str_radix(h, 16).ok())
                        .collect::<Option<Vec<u8>>>()
                }
            });
            // ext4's internal inline-data attribute, which no reader of the file sees.
            if xname != "system.data" {
                want.insert(xname, (len, bytes));
            }
        }
        let mine: BTreeMap<&String, Vec<u8>> = g
            .xattrs
            .iter()
            .map(|(k, v)| (k, hex::decode(v).unwrap()))
            .collect();
        let names_want: BTreeSet<&String> = want.keys().collect();
        let names_got: BTreeSet<&String> = mine.keys().copied().collect();
        if names_want != names_got {
            failures.push(format!(
                "{name} {p}: xattrs {names_got:?}, debugfs lists {names_want:?}"
            ));
            continue;
        }
        for (xname, (len, bytes)) in &want {
            if xname.starts_with("system.posix_acl") {
                continue;
            }
            let v = &mine[xname];
            if v.len() != *len || bytes.as_ref().is_some_and(|b| b != v) {
                failures.push(format!(
                    "{name} {p}: xattr {xname} is {} bytes {:?}, debugfs says {len} bytes {:?}",
                    v.len(),
                    String::from_utf8_lossy(v),
                    bytes
                        .as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                ));
            }
        }
        if let Some((major, minor)) = g.device {
            let stat = blocks
                .get(&("stat".into(), p.clone()))
                .cloned()
                .unwrap_or_default();
            let want = stat.iter().find_map(|l| {
                let rest = l.split("Device major/minor number: ").nth(1)?;
                let (ma, mi) = rest.split_whitespace().next()?.split_once(':')?;
                Some((ma.parse::<u64>().ok()?, mi.parse::<u64>().ok()?))
            });
            if want != Some((major, minor)) {
                failures.push(format!(
                    "{name} {p}: device {major}:{minor}, debugfs says {want:?}"
                ));
            }
        }
    }
}

/// POSIX ACLs of the e2fsprogs images, value for value, against the kernel: each image whose
/// listing has ACLs is loop-mounted read-only and `getfattr -e hex` reads them back (debugfs
/// shows ACLs in ext4's on-disk form, so the main test compares them by name only).
#[test]
fn ext_acl_values_equal_what_the_kernel_shows() {
    let scratch = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(corpus().join("e2fsprogs/tests")).unwrap() {
        let dir = entry.unwrap().path();
        let gz = dir.join("image.gz");
        if !gz.exists() {
            continue;
        }
        let img = scratch.path().join("image");
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("zcat '{}' > '{}'", gz.display(), img.display()))
            .status()
            .unwrap();
        if !out.success() {
            continue;
        }
        let run = ls(&format!("disk:{}", img.display()));
        if run.code != 0 || !run.stdout.contains("system.posix_acl") {
            continue;
        }
        let mnt = scratch.path().join("mnt");
        std::fs::create_dir_all(&mnt).unwrap();
        let mounted = Command::new("mount")
            .args(["-o", "loop,ro"])
            .arg(&img)
            .arg(&mnt)
            .status()
            .unwrap();
        assert!(
            mounted.success(),
            "{}: mount -o loop,ro failed",
            dir.display()
        );
        let got = Command::new("getfattr")
            .args([
                "-R",
                "-P",
                "-h",
                "-d",
                "-m",
                "^system\\.posix_acl",
                "-e",
                "hex",
                ".",
            ])
            .current_dir(&mnt)
            .output()
            .unwrap();
        let _ = Command::new("umount").arg(&mnt).status();
        let mut want: BTreeMap<String, String> = BTreeMap::new();
        let mut file = String::new();
        for line in String::from_utf8_lossy(&got.stdout).lines() {
            if let Some(p) = line.strip_prefix("# file: ") {
                file = format!("/{}", p.trim_start_matches("./").trim_start_matches('.'));
            } else if let Some((k, v)) = line.split_once('=') {
                want.insert(
                    format!("{file} {k}"),
                    v.trim_start_matches("0x").to_string(),
                );
            }
        }
        let mut ours: BTreeMap<String, String> = BTreeMap::new();
        for line in run.stdout.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if let Some(x) = v["xattrs"].as_object() {
                for (k, val) in x.iter().filter(|(k, _)| k.starts_with("system.posix_acl")) {
                    ours.insert(
                        format!("{} {k}", v["path"].as_str().unwrap()),
                        val.as_str().unwrap().to_string(),
                    );
                }
            }
        }
        assert!(
            !want.is_empty(),
            "{}: getfattr shows no ACLs",
            dir.display()
        );
        assert_eq!(
            ours,
            want,
            "{}: ACLs differ from the kernel's",
            dir.display()
        );
        checked += 1;
    }
    assert!(checked >= 1, "no e2fsprogs image with ACLs was found");
}
