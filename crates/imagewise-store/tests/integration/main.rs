//! Store library tests: random trees survive snapshot → restore unchanged (run as root, like CI,
//! so owners, devices and every mode bit can be set).
#![allow(clippy::unwrap_used)]

mod backends;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use imagewise_source::OpenOptions;
use imagewise_store::{CreateOptions, InitOptions, Repo, RestoreOptions};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Item {
    File {
        data: Vec<u8>,
        holes: Vec<(u64, u8)>,
        len: u64,
    },
    Dir,
    Symlink(String),
    Hardlink(usize),
    Fifo,
}

#[derive(Debug, Clone)]
struct Spec {
    /// Bytes: names that are not UTF-8 must come back as the same bytes.
    name: Vec<u8>,
    /// Index of the directory it goes in (into the list of dirs made so far).
    parent: usize,
    item: Item,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, u32),
    xattr: Option<Vec<u8>>,
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-z]{1,8}".prop_map(String::into_bytes),
        "[A-Za-z0-9 ._-]{1,12}".prop_map(String::into_bytes),
        "(ü|é|日本|\\$|#|%|'|\\*){1,4}".prop_map(String::into_bytes),
        // Latin-1 and stray bytes, and text that spells the escape they are shown with.
        prop::collection::vec(
            prop_oneof![
                Just(b'a'),
                Just(b'\\'),
                Just(b'x'),
                Just(b'e'),
                Just(b'9'),
                0x80u8..=0xff,
            ],
            1..8
        ),
    ]
    .prop_filter("not . or ..", |n| n != b"." && n != b"..")
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => (
            prop::collection::vec(any::<u8>(), 0..3000),
            prop::collection::vec((0u64..3_000_000, any::<u8>()), 0..3),
            0u64..4_000_000
        )
            .prop_map(|(data, holes, len)| Item::File { data, holes, len }),
        2 => Just(Item::Dir),
        1 => "[a-z/.]{1,20}".prop_map(Item::Symlink),
        1 => (0usize..100).prop_map(Item::Hardlink),
        1 => Just(Item::Fifo),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        name(),
        0usize..100,
        item(),
        0u32..0o7777,
        0u32..70000,
        0u32..70000,
        (-100_000i64..4_000_000_000, 0u32..1_000_000_000),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
    )
        .prop_map(|(name, parent, item, mode, uid, gid, mtime, xattr)| Spec {
            name,
            parent,
            item,
            mode,
            uid,
            gid,
            mtime,
            xattr,
        })
}

fn set_meta(p: &Path, s: &Spec, symlink: bool) {
    std::os::unix::fs::lchown(p, Some(s.uid), Some(s.gid)).unwrap();
    if !symlink {
        fs::set_permissions(p, fs::Permissions::from_mode(s.mode)).unwrap();
    }
    if let Some(x) = &s.xattr {
        xattr::set(p, "trusted.iw", x).unwrap();
    }
    let t = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: s.mtime.0,
            tv_nsec: i64::from(s.mtime.1),
        },
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        p,
        &t,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// Build the tree; directories' metadata is set last so adding children does not change it.
fn build(root: &Path, specs: &[Spec]) {
    let mut dirs = vec![root.to_path_buf()];
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    let mut dir_meta = Vec::new();
    for s in specs {
        let parent = &dirs[s.parent % dirs.len()];
        let p = parent.join(std::ffi::OsStr::from_bytes(&s.name));
        if fs::symlink_metadata(&p).is_ok() {
            continue;
        }
        match &s.item {
            Item::File { data, holes, len } => {
                let mut f = fs::File::create(&p).unwrap();
                f.write_all(data).unwrap();
                for (off, b) in holes {
                    f.seek(SeekFrom::Start(*off)).unwrap();
                    f.write_all(&[*b]).unwrap();
                }
                if *len > data.len() as u64 {
                    f.set_len(*len).unwrap();
                }
                drop(f);
                set_meta(&p, s, false);
                files.push(p);
            }
            Item::Dir => {
                fs::create_dir(&p).unwrap();
                dirs.push(p.clone());
                dir_meta.push((p, s.clone()));
            }
            Item::Symlink(t) => {
                std::os::unix::fs::symlink(t, &p).unwrap();
                set_meta(&p, s, true);
            }
            Item::Hardlink(i) => {
                if files.is_empty() {
                    continue;
                }
                fs::hard_link(&files[i % files.len()], &p).unwrap();
            }
            Item::Fifo => {
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &p,
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::from_raw_mode(0o644),
                    0,
                )
                .unwrap();
                set_meta(&p, s, false);
            }
        }
    }
    for (p, s) in dir_meta.iter().rev() {
        set_meta(p, s, false);
    }
}

/// Everything restore must keep, per path; hardlinks as groups named by their first path.
fn manifest(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, String> = BTreeMap::new();
    let mut paths: Vec<std::path::PathBuf> = walk(root);
    paths.sort();
    for p in paths {
        let m = fs::symlink_metadata(&p).unwrap();
        let rel = format!("{:?}", p.strip_prefix(root).unwrap().as_os_str());
        let ft = m.file_type();
        let mut line = format!(
            "{:o} {} {} {}.{:09}",
            m.mode(),
            m.uid(),
            m.gid(),
            m.mtime(),
            m.mtime_nsec()
        );
        if ft.is_file() {
            let group = inodes.entry(m.ino()).or_insert_with(|| rel.clone()).clone();
            let data = fs::read(&p).unwrap();
            line += &format!(
                " size={} nlink={} group={group} b3={}",
                m.len(),
                m.nlink(),
                blake3::hash(&data)
            );
        } else if ft.is_symlink() {
            line += &format!(" -> {}", fs::read_link(&p).unwrap().display());
        }
        let mut xs: Vec<String> = xattr::list(&p)
            .unwrap()
            .map(|k| format!("{}={:?}", k.to_string_lossy(), xattr::get(&p, &k).unwrap()))
            .collect();
        xs.sort();
        line += &xs.join(",");
        out.insert(rel, line);
    }
    out
}

fn walk(root: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            v.extend(walk(&p));
        }
        v.push(p);
    }
    v
}

fn allocated(p: &Path) -> u64 {
    fs::metadata(p).unwrap().blocks() * 512
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn snapshot_then_restore_is_the_identity(specs in prop::collection::vec(spec(), 0..40)) {
        let t = tempfile::tempdir().unwrap();
        let (src, repo_dir, out) = (t.path().join("src"), t.path().join("repo"), t.path().join("out"));
        fs::create_dir(&src).unwrap();
        build(&src, &specs);
        let repo = Repo::init(&repo_dir, &InitOptions::default()).unwrap();
        let tree = imagewise_source::open(&format!("dir:{}", src.display()), &OpenOptions::default()).unwrap();
        let made = repo.create_tree(&tree, &CreateOptions::default()).unwrap();
        let rep = repo.restore(&made.id.hex(), &out, &RestoreOptions::default()).unwrap();
        prop_assert!(rep.failures.is_empty(), "{:?}", rep.failures);
        prop_assert_eq!(manifest(&src), manifest(&out));
        // Holes stay holes: no restored file takes more room than its original.
        for p in walk(&src) {
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_file() {
                let q = out.join(p.strip_prefix(&src).unwrap());
                prop_assert!(allocated(&q) <= allocated(&p) + 8192, "{}", q.display());
            }
        }
        let check = repo.check(&imagewise_store::CheckOptions { read_data: true, ..Default::default() }).unwrap();
        prop_assert!(check.ok(), "{:?}", check.errors);
    }
}

/// Every file of a repository, relative to it (packs, index files, snapshots, config).
fn repo_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = walk(root)
        .into_iter()
        .filter(|p| fs::symlink_metadata(p).unwrap().is_file())
        .filter(|p| !p.starts_with(root.join("locks")) && !p.starts_with(root.join("tmp")))
        .collect();
    v.sort();
    v
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A damaged repository (one byte flipped, or one file cut short, anywhere) never makes
    /// check, restore, diff or reading the snapshot as an image panic; what an image read
    /// returns is the original's bytes; when `check --read-data` calls it sound, restore gives
    /// back exactly the original and every file reads.
    #[test]
    fn damaged_repositories_are_caught_never_crash(
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        truncate in any::<bool>(),
    ) {
        static PRISTINE: std::sync::OnceLock<(tempfile::TempDir, String)> = std::sync::OnceLock::new();
        let (dir, snap) = PRISTINE.get_or_init(|| {
            let t = tempfile::tempdir().unwrap();
            let src = t.path().join("src");
            fs::create_dir_all(src.join("etc/sub")).unwrap();
            for i in 0..40u32 {
                let body: Vec<u8> = (0..(i * 997 % 70_000)).map(|j| (j * 7 + i) as u8).collect();
                fs::write(src.join(format!("etc/f{i}")), body).unwrap();
            }
            fs::write(src.join("etc/sub/big"), vec![7u8; 300_000]).unwrap();
            std::os::unix::fs::symlink("f1", src.join("etc/link")).unwrap();
            let repo = Repo::init(&t.path().join("repo"), &InitOptions::default()).unwrap();
            let tree = imagewise_source::open(&format!("dir:{}", src.display()), &OpenOptions::default()).unwrap();
            let made = repo.create_tree(&tree, &CreateOptions::default()).unwrap();
            (t, made.id.hex())
        });
        let t = tempfile::tempdir().unwrap();
        let repo_dir = t.path().join("repo");
        copy_dir(&dir.path().join("repo"), &repo_dir);
        let files = repo_files(&repo_dir);
        let victim = which.get(&files);
        let mut bytes = fs::read(victim).unwrap();
        if bytes.is_empty() {
            return Ok(());
        }
        let i = at.index(bytes.len());
        if truncate {
            bytes.truncate(i);
        } else {
            bytes[i] ^= flip;
        }
        fs::write(victim, &bytes).unwrap();
        let Ok(repo) = Repo::open(&repo_dir) else { return Ok(()) };
        let check = repo.check(&imagewise_store::CheckOptions { read_data: true, ..Default::default() });
        let out = t.path().join("out");
        let restored = repo.restore(snap, &out, &RestoreOptions::default());
        let _ = repo.diff(snap, "latest");
        // Read in place as an image: every file, whatever the damage, without a panic; what
        // reads must be the original's bytes.
        let image = repo.image_tree("snapshot:damaged", snap, None, false, &OpenOptions::default());
        let mut read_all = image.is_ok();
        if let Ok(image) = &image {
            for e in image.entries().iter().filter(|e| e.kind == imagewise_source::EntryKind::File) {
                match image.read(&e.path, 1 << 20) {
                    Ok(b) => {
                        let original = fs::read(dir.path().join("src").join(&e.path[1..])).unwrap();
                        prop_assert!(b == original, "{} reads otherwise than stored", e.path);
                    }
                    Err(_) => read_all = false,
                }
            }
        }
        if let Ok(c) = check {
            if c.ok() {
                prop_assert!(read_all, "check passed, so the snapshot reads as an image");
                let r = restored.expect("check passed, so restore works");
                prop_assert!(r.failures.is_empty(), "{:?}", r.failures);
                prop_assert_eq!(manifest(&dir.path().join("src")), manifest(&out));
            } else {
                prop_assert!(!c.errors.is_empty());
            }
        }
    }
}

/// A live tree changes under the reader: what was read is stored, with a warning, never a
/// half-written snapshot or an error that loses the rest.
#[test]
fn files_that_change_while_read_are_stored_as_read() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("log"), b"first line\n").unwrap();
    fs::write(src.join("shrinks"), vec![b'x'; 10_000]).unwrap();
    fs::write(src.join("steady"), b"steady\n").unwrap();
    fs::write(src.join("vanishes"), b"soon gone\n").unwrap();
    let tree =
        imagewise_source::open(&format!("dir:{}", src.display()), &OpenOptions::default()).unwrap();
    // After listing, before reading.
    fs::OpenOptions::new()
        .append(true)
        .open(src.join("log"))
        .unwrap()
        .write_all(b"second line\n")
        .unwrap();
    fs::write(src.join("shrinks"), b"short").unwrap();
    fs::remove_file(src.join("vanishes")).unwrap();
    let repo = Repo::init(&t.path().join("repo"), &InitOptions::default()).unwrap();
    let made = repo.create_tree(&tree, &CreateOptions::default()).unwrap();
    assert_eq!(made.warnings.len(), 3, "{:?}", made.warnings);
    assert!(made
        .warnings
        .iter()
        .any(|w| w.starts_with("/vanishes: left out")));
    assert!(made
        .warnings
        .iter()
        .any(|w| w.starts_with("/log: changed while it was read")));
    let out = t.path().join("out");
    let rep = repo
        .restore("latest", &out, &RestoreOptions::default())
        .unwrap();
    assert!(rep.failures.is_empty());
    assert!(!out.join("vanishes").exists());
    for name in ["log", "shrinks", "steady"] {
        let got = fs::read(out.join(name)).unwrap();
        let now = fs::read(src.join(name)).unwrap();
        // Whatever the reader saw is a consistent prefix of the file as it is now, or all of it.
        assert!(
            now.starts_with(&got) || got.starts_with(&now),
            "{name}: {got:?} vs {now:?}"
        );
        assert_eq!(
            fs::metadata(out.join(name)).unwrap().len(),
            got.len() as u64
        );
    }
    let check = repo
        .check(&imagewise_store::CheckOptions {
            read_data: true,
            ..Default::default()
        })
        .unwrap();
    assert!(check.ok(), "{:?}", check.errors);
}
