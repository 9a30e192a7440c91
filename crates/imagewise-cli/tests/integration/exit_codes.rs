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
