//! Small format cases built with the real tools: compression found by magic whatever the file
//! is called, and extended attributes carried the same by a directory, a PAX tar and ext4.

use std::process::Command;

use imagewise_source::open;

use crate::support::*;

#[test]
fn compression_is_detected_by_magic_not_by_name() {
    let t = tempfile::tempdir().unwrap();
    let plain = tar(&[dir("etc"), file("etc/os-release", b"ID=magic\n")]);
    let p = write(t.path(), "plain", &plain);
    for (tool, args, misleading_name) in [
        ("gzip", vec!["-c"], "image.tar.zst"),
        ("zstd", vec!["-q", "-c"], "image.tar.xz"),
        ("xz", vec!["-c"], "image.tgz"),
        ("cat", vec![], "image.tar.gz"),
    ] {
        let out = Command::new(tool).args(&args).arg(&p).output().unwrap();
        assert!(out.status.success(), "{tool}");
        let f = write(t.path(), misleading_name, &out.stdout);
        let tree = open_path(f.display().to_string())
            .unwrap_or_else(|e| panic!("{tool} as {misleading_name}: {e}"));
        assert_eq!(read_all(&tree, "/etc/os-release"), b"ID=magic\n", "{tool}");
        let want = if tool == "cat" { "none" } else { tool };
        assert_eq!(tree.info().layers[0].compression.as_str(), want);
    }
}

#[test]
fn xattrs_are_the_same_from_a_directory_a_pax_tar_and_ext4() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::write(root.join("bin/ping"), b"\x7fELF pretend").unwrap();
    let set = |name: &str, value: &[u8]| {
        xattr_set(&root.join("bin/ping"), name, value);
    };
    set("user.origin", b"imagewise test");
    // A file capability (cap_net_raw+ep), as Debian's ping carries.
    set(
        "security.capability",
        &[
            1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    );
    let tar_path = t.path().join("x.tar");
    let st = Command::new("tar")
        .args(["--posix", "--xattrs", "--xattrs-include=*", "-C"])
        .arg(&root)
        .arg("-cf")
        .arg(&tar_path)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let fs = t.path().join("fs.raw");
    std::fs::write(&fs, vec![0u8; 4 << 20]).unwrap();
    let st = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&root)
        .arg(&fs)
        .status()
        .unwrap();
    assert!(st.success());
    let mut seen = Vec::new();
    for r in [
        format!("dir:{}", root.display()),
        format!("tar:{}", tar_path.display()),
        format!("disk:{}", fs.display()),
    ] {
        let tree = open(&r, &opts()).unwrap();
        let x = tree.get("/bin/ping").unwrap().xattrs.clone();
        assert_eq!(
            x.get("user.origin").map(Vec::as_slice),
            Some(&b"imagewise test"[..]),
            "{r}: {x:?}"
        );
        assert_eq!(
            x.get("security.capability").map(|v| v[5]),
            Some(0x20),
            "{r}: {x:?}"
        );
        seen.push(x);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
}

fn xattr_set(path: &std::path::Path, name: &str, value: &[u8]) {
    // setfattr takes values as text; 0x-prefixed hex keeps binary values intact.
    let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
    let st = Command::new("setfattr")
        .args(["-n", name, "-v", &format!("0x{hex}")])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "setfattr {name}");
}

/// Regression: `/etc/systemd/system.conf` sorts between `/etc/systemd/system` and its children
/// (`.` < `/`), and `subtree` once stopped there, hiding every child.
#[test]
fn subtree_finds_children_past_siblings_that_sort_between() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("etc/systemd/system");
    std::fs::create_dir_all(sys.join("multi-user.target.wants")).unwrap();
    std::fs::write(dir.path().join("etc/systemd/system.conf"), "x").unwrap();
    std::fs::write(dir.path().join("etc/systemd/system-generators"), "x").unwrap();
    std::os::unix::fs::symlink(
        "/lib/systemd/system/ssh.service",
        sys.join("multi-user.target.wants/ssh.service"),
    )
    .unwrap();
    let tree = open(dir.path().to_str().unwrap(), &Default::default()).unwrap();
    let d = tree.get("/etc/systemd/system").unwrap();
    let paths: Vec<&str> = tree.subtree(d).map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/etc/systemd/system",
            "/etc/systemd/system/multi-user.target.wants",
            "/etc/systemd/system/multi-user.target.wants/ssh.service"
        ]
    );
    let root = tree.get("/").unwrap();
    assert_eq!(tree.subtree(root).count(), tree.entries().len());
    let file = tree.get("/etc/systemd/system.conf").unwrap();
    assert_eq!(tree.subtree(file).count(), 1);
}
