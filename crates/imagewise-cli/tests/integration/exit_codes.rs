//! Exit codes and messages for bad input (DESIGN.md: 2 = usage or input error).

use crate::support::{fixtures, imagewise};

fn fails_with(args: &[&str], code: i32, needle: &str) {
    let out = imagewise(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "imagewise {args:?}: {err}");
    assert!(
        err.contains(needle),
        "imagewise {args:?}: message lacks {needle:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_references_and_paths_are_input_errors() {
    let f = fixtures();
    let oci = f.join("bookworm-oci").display().to_string();
    fails_with(&["ls", "/no/such/image"], 2, "no such file or directory");
    fails_with(
        &["ls", &format!("oci:{oci}:nope")],
        2,
        "no image tagged \"nope\"",
    );
    fails_with(&["cat", &oci, "/etc/no-such-file"], 2, "no such file");
    fails_with(&["cat", &oci, "/etc"], 2, "not a regular file");
    fails_with(&["ls", "--platform", "linux", &oci], 2, "os/arch");
    fails_with(
        &["ls", "--platform", "linux/arm64", &oci],
        2,
        "not the requested platform linux/arm64",
    );
    let raw = f.join("bookworm-gpt.raw").display().to_string();
    fails_with(
        &["ls", &format!("disk:{raw}#1")],
        2,
        "partition 1 (EFI System)",
    );
    fails_with(&["ls", &format!("disk:{raw}#7")], 2, "no partition 7");
}

#[test]
fn cat_follows_symlinks_inside_the_image_and_ls_takes_a_path() {
    let f = fixtures();
    let tar = f.join("bookworm.tar").display().to_string();
    let out = imagewise(&["cat", &tar, "/etc/os-release"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("bookworm"));
    let out = imagewise(&["ls", "--json", &tar, "/etc/apt"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().all(|l| l.contains("\"path\":\"/etc/apt")),
        "{text}"
    );
    assert!(text.lines().count() > 3);
}

#[test]
fn digest_of_a_listed_hardlink_whose_primary_is_not_listed() {
    let f = fixtures();
    let tar = f.join("bookworm.tar").display().to_string();
    let out = imagewise(&["ls", "--json", "--digest", &tar, "/usr/bin/perl5.36.0"]);
    assert!(out.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(out.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(v["kind"], "hardlink");
    assert_eq!(v["link"], "/usr/bin/perl");
    assert_eq!(v["sha256"].as_str().map(str::len), Some(64), "{v}");
}

#[test]
fn vercmp_prints_the_order_and_refuses_invalid_versions() {
    for (eco, a, b, want) in [
        ("dpkg", "1.2-1~bpo12+1", "1.2-1", "<"),
        ("dpkg", "1:0.1", "9.9", ">"),
        ("rpm", "2.0~rc1-1.el9", "2.0-1.el9", "<"),
        ("rpm", "1.0^git1", "1.0", ">"),
        ("apk", "1.0_p1-r0", "1.0-r0", ">"),
        ("apk", "1.0", "1.00", ">"),
        ("dpkg", "1.0", "1.0-0", "="),
        ("pep440", "1.0rc1", "1.0", "<"),
        ("pep440", "1.0.post1", "1.0", ">"),
        ("semver", "1.0.0-rc.1", "1.0.0", "<"),
        ("semver", "1.0.0+a", "1.0.0+b", "="),
    ] {
        let out = imagewise(&["vercmp", "--ecosystem", eco, a, b]);
        assert!(out.status.success(), "{eco} {a} {b}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            want,
            "{eco} {a} {b}"
        );
    }
    let out = imagewise(&["vercmp", "--ecosystem", "rpm", "--json", "1-1", "1-2"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["order"], "<");
    assert_eq!(v["ecosystem"], "rpm");
    fails_with(
        &["vercmp", "--ecosystem", "dpkg", "1.0", "1.0_1"],
        2,
        "invalid dpkg version \"1.0_1\"",
    );
    fails_with(
        &["vercmp", "--ecosystem", "apk", "1.0_foo", "1.0"],
        2,
        "invalid apk version",
    );
    fails_with(
        &["vercmp", "--ecosystem", "pip", "1", "2"],
        2,
        "unknown ecosystem",
    );
}

/// One case per `ErrorKind` the command line can meet, with the exit code DESIGN.md gives it
/// (0 ok, 1 the answer is no or stored data is damaged, 2 usage or input, 3 bugs only) and the
/// words the message must carry. `Transient` needs a network backend and `Internal` a bug:
/// those two are checked on `ErrorKind` itself below.
#[test]
fn every_error_kind_has_its_exit_code() {
    use imagewise_types::ErrorKind;
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let p = |name: &str| t.path().join(name).display().to_string();
    let alpine = f.join("alpine-rootfs").display().to_string();

    // A repository with one snapshot, a copy of it with its data pack damaged, and a lock held
    // by a live process (this test) of this host.
    let repo = p("repo");
    crate::support::ok(&["repo", "init", &repo]);
    crate::support::ok(&["snapshot", "create", "--tag", "a", &repo, &alpine]);
    let damaged = p("damaged");
    assert!(std::process::Command::new("cp")
        .args(["-a", &repo, &damaged])
        .status()
        .unwrap()
        .success());
    // Every pack: which one holds the file's chunk and its trees depends on which worker
    // thread packed them.
    for pack in crate::store::packs(std::path::Path::new(&damaged)) {
        let mut bytes = std::fs::read(&pack).unwrap();
        for i in (0..bytes.len()).step_by(97) {
            bytes[i] ^= 0x55;
        }
        std::fs::write(&pack, bytes).unwrap();
    }
    let locked = p("locked");
    crate::support::ok(&["repo", "init", &locked]);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let lock = serde_json::json!({
        "exclusive": true, "host": host.trim(), "pid": std::process::id(),
        "time": "2026-01-01T00:00:00Z", "command": "prune"
    });
    std::fs::write(format!("{locked}/locks/held"), lock.to_string()).unwrap();
    // Keys: the snapshot is checked against a key that did not sign it.
    let (key, other) = (p("key"), p("other"));
    crate::support::ok(&["key", "generate", &key]);
    crate::support::ok(&["key", "generate", &other]);
    let signed = p("signed");
    crate::support::ok(&["repo", "init", "--sign-key", &format!("{key}.pub"), &signed]);
    crate::support::ok(&["snapshot", "create", "--sign-key", &key, &signed, &alpine]);
    std::fs::write(p("bad.tar.gz"), b"\x1f\x8b\x08\x00garbage, not deflate").unwrap();

    let snap = |r: &str| format!("snapshot:{r}");
    let other_pub = format!("{other}.pub");
    let cases: Vec<(ErrorKind, Vec<String>, &str)> = vec![
        (
            ErrorKind::Usage,
            vec!["ls".into(), "tar:".into()],
            "no path after tar:",
        ),
        (
            ErrorKind::Corrupt,
            vec!["ls".into(), format!("tar:{}", p("bad.tar.gz"))],
            "is corrupt",
        ),
        (
            ErrorKind::Damaged,
            vec!["cat".into(), snap(&damaged), "/etc/alpine-release".into()],
            // Whichever blob the damage reaches first (a tree or the file's chunk) is named.
            "in pack",
        ),
        (
            ErrorKind::Unsupported,
            vec!["ls".into(), "snapshot:s3://bucket/golden".into()],
            "not supported by this build",
        ),
        (
            ErrorKind::UnsafeInput,
            vec!["ls".into(), "--trust-key".into(), other_pub, snap(&signed)],
            "refusing it",
        ),
        (
            ErrorKind::LimitExceeded,
            vec![
                "ls".into(),
                "--max-entries".into(),
                "3".into(),
                alpine.clone(),
            ],
            "--max-entries",
        ),
        (
            ErrorKind::NotFound,
            vec!["ls".into(), p("nothing")],
            "no such file",
        ),
        (
            ErrorKind::Conflict,
            vec![
                "snapshot".into(),
                "create".into(),
                locked.clone(),
                alpine.clone(),
            ],
            "is locked by `prune`",
        ),
        (
            ErrorKind::Io,
            vec![
                "key".into(),
                "generate".into(),
                "/proc/imagewise-key".into(),
            ],
            "creating /proc/imagewise-key",
        ),
    ];
    for (kind, args, needle) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_with(&args, i32::from(kind.exit_code()), needle);
    }
    // The two kinds no command line here can provoke.
    assert_eq!(ErrorKind::Transient.exit_code(), 2);
    assert!(ErrorKind::Transient.retryable());
    assert_eq!(ErrorKind::Internal.exit_code(), 3);
    // Every kind is covered once: the table above and these two.
    let mut seen: Vec<ErrorKind> = cases.iter().map(|c| c.0).collect();
    seen.extend([ErrorKind::Transient, ErrorKind::Internal]);
    seen.sort();
    assert_eq!(seen, ErrorKind::ALL.to_vec());
    // Damaged stored data is the one input failure that exits 1.
    assert_eq!(ErrorKind::Damaged.exit_code(), 1);
}
