//! `imagewise check`: image against images (summary and JSON), single programs, a bundle, and
//! input errors. The verdicts themselves are compared with the real loaders in the compat
//! crate's tests; these check what the command prints and returns.

use serde_json::Value;

use crate::support::{fixtures, imagewise, ok, shared};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = imagewise(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn dir(name: &str) -> String {
    format!("dir:{}", fixtures().join(name).display())
}

fn bin(name: &str) -> String {
    fixtures()
        .join("compat-bins")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn image_on_images_prints_a_summary_and_lists_every_pair_in_json() {
    let (trixie, bookworm, bullseye) = (
        dir("trixie-rootfs"),
        dir("bookworm-rootfs"),
        dir("bullseye-rootfs"),
    );
    let (code, out, err) = run(&["check", &trixie, "--on", &bookworm, "--on", &bullseye]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!("on {bookworm} (amd64, glibc 2.36)")),
        "{out}"
    );
    assert!(
        out.contains("binaries: ") && out.contains("won't run"),
        "{out}"
    );
    assert!(out.contains("most common reasons:"), "{out}");
    assert!(out.contains("× needs GLIBC_2.38 from libc.so.6"), "{out}");
    assert!(
        out.contains("needs GLIBC_2.38") && out.contains("the image has glibc 2.31"),
        "{out}"
    );

    let (code, out, _) = run(&[
        "check", "--json", &trixie, "--on", &bookworm, "--on", &bullseye,
    ]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let results = v["results"].as_array().unwrap();
    let n = v["summary"]["binaries"].as_u64().unwrap() as usize;
    assert!(
        n > 50,
        "the PATH directories of trixie hold more than {n} programs"
    );
    assert_eq!(results.len(), 2 * n, "one result per binary and target");
    for r in results {
        assert!(r["binary"].as_str().unwrap().starts_with("/usr/"), "{r}");
        let t = r["target"].as_str().unwrap();
        assert!(t == bookworm || t == bullseye);
        let runs = r["runs"].as_bool().unwrap();
        let reasons = r["reasons"].as_array().unwrap();
        assert_eq!(runs, reasons.is_empty(), "{r}");
        for reason in reasons {
            assert!(
                reason["code"].as_str().unwrap().contains('-')
                    || reason["code"] == "version-not-found"
            );
            assert!(!reason["message"].as_str().unwrap().is_empty());
        }
        assert!(r.get("loaded").is_none(), "loaded only with --explain");
    }
    let ls = results
        .iter()
        .find(|r| r["binary"] == "/usr/bin/ls" && r["target"] == bullseye.as_str())
        .unwrap();
    assert!(ls["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["code"] == "version-not-found" && r["versions"][0] == "GLIBC_2.38"));
    let targets = v["summary"]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    for t in targets {
        assert_eq!(t["checked"].as_u64().unwrap() as usize, n);
        assert_eq!(
            t["run"].as_u64().unwrap() + t["wont_run"].as_u64().unwrap(),
            n as u64
        );
        assert_eq!(t["arch"], "amd64");
        let release = if t["target"] == bookworm.as_str() {
            "2.36"
        } else {
            "2.31"
        };
        assert_eq!(t["glibc"], release);
        assert!(!t["top_reasons"].as_array().unwrap().is_empty());
    }
    assert_eq!(v["summary"]["all_run"], false);

    // The other way round almost everything runs; a program that does answers exit 0.
    let (code, out, err) = run(&["check", &bookworm, "--path", "/usr/bin/ls", "--on", &trixie]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("/usr/bin/ls: runs"), "{out}");
}

#[test]
fn single_programs_say_why_they_do_not_run() {
    let (bookworm, bullseye, alpine) = (
        dir("bookworm-rootfs"),
        dir("bullseye-rootfs"),
        dir("alpine-rootfs"),
    );
    let (code, out, _) = run(&["check", &bin("static"), "--on", &bookworm, "--on", &alpine]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("static: runs").count(), 2, "{out}");

    let (code, out, _) = run(&["check", &bin("newglibc"), "--on", &bullseye]);
    assert_eq!(code, 1);
    assert!(
        out.contains("needs GLIBC_2.36 (and GLIBC_2.34) from libc.so.6 (used by: ")
            && out.contains("arc4random@GLIBC_2.36")
            && out.contains("the image has glibc 2.31"),
        "{out}"
    );
    let (code, out, _) = run(&["check", &bin("needs-missing"), "--on", &bookworm]);
    assert_eq!(code, 1);
    assert!(out.contains("libiwdemo.so.1 not found (needed by /opt/app/needs-missing; searched /etc/ld.so.cache, /lib/x86_64-linux-gnu"), "{out}");
    let (_, out, _) = run(&["check", &bin("musl"), "--on", &bookworm, "--on", &alpine]);
    assert!(out.contains("musl binary on a glibc image"), "{out}");
    assert!(out.contains("musl: runs"), "{out}");
    let (code, out, _) = run(&["check", &bin("hello"), "--on", &alpine]);
    assert_eq!(code, 1);
    assert!(
        out.contains("glibc binary on a musl image")
            && out.contains("interpreter /lib64/ld-linux-x86-64.so.2 is not in the image"),
        "{out}"
    );
    let (_, out, _) = run(&["check", &bin("arm64-busybox"), "--on", &bookworm]);
    assert!(out.contains("arm64 binary on an amd64 image"), "{out}");
}

#[test]
fn a_bundle_is_placed_whole_and_explained() {
    let bookworm = dir("bookworm-rootfs");
    let (code, out, err) = run(&["check", "--explain", &bin("bundle"), "--on", &bookworm]);
    // The bundle's decoy library for another machine is one of its ELF files: it won't run.
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("wrong/libiwdemo.so.1: won't run")
            && out.contains("arm64 binary on an amd64 image"),
        "{out}"
    );
    assert!(out.contains("bin/app-skip: runs"), "{out}");
    assert!(
        out.contains(
            "libiwdemo.so.1 => /opt/app/bin/../lib/libiwdemo.so.1 (runpath, from the app)"
        ),
        "{out}"
    );
    assert!(
        out.contains("libiwdemo.so.1 => /opt/app/bin/../lib/libiwdemo.so.1 (rpath, from the app)"),
        "{out}"
    );
    assert!(
        out.contains("libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (cache)"),
        "{out}"
    );
    // Elsewhere, $ORIGIN goes with it.
    let (code, out, _) = run(&[
        "check",
        "--json",
        "--explain",
        "--at",
        "/srv/x",
        &bin("bundle"),
        "--on",
        &bookworm,
    ]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let app = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["binary"] == "bin/app")
        .unwrap();
    assert!(
        app["loaded"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["path"] == "/srv/x/bin/../lib/libiwdemo.so.1" && l["from_app"] == true),
        "{app}"
    );
}

#[test]
fn images_are_checked_by_their_command_and_path_and_bad_input_is_exit_2() {
    let bookworm = dir("bookworm-rootfs");
    let scratch = fixtures().join("scratch.tar").display().to_string();
    // A scratch image whose one program is not on PATH: say so, and how to name it.
    let (code, _, err) = run(&["check", &scratch, "--on", &bookworm]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no ELF programs or libraries to check") && err.contains("--path"),
        "{err}"
    );
    let (code, out, err) = run(&["check", &scratch, "--path", "/app", "--on", &bookworm]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("/app: runs"), "{out}");

    let (code, _, err) = run(&["check", "/nonexistent/app", "--on", &bookworm]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["check", &bin("static"), "--on", "/nonexistent/image"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/image"), "{err}");
    let (code, _, err) = run(&[
        "check",
        "--at",
        "relative",
        &bin("static"),
        "--on",
        &bookworm,
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--at relative: must be an absolute path"),
        "{err}"
    );
    let (code, _, err) = run(&["check", "--path", "/x", &bin("bundle"), "--on", &bookworm]);
    assert_eq!(code, 2);
    assert!(err.contains("directory bundle"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["check", empty.path().to_str().unwrap(), "--on", &bookworm]);
    assert_eq!(code, 2);
    assert!(err.contains("no ELF programs or libraries"), "{err}");
    // A damaged ELF is a verdict, not a crash.
    let bad = empty.path().join("bad");
    let mut bytes = std::fs::read(bin("hello")).unwrap();
    bytes.truncate(200);
    std::fs::write(&bad, &bytes).unwrap();
    let (code, out, err) = run(&["check", bad.to_str().unwrap(), "--on", &bookworm]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("not a loadable ELF file"), "{out}");
}

#[test]
fn the_abi_note_needs_a_kernel_the_image_ships() {
    // A target with an old kernel's modules and the static program as its shell.
    let t = tempfile::tempdir().unwrap();
    for d in [
        "bin",
        "lib/modules/2.6.32-5-amd64",
        "lib/modules/2.6.18-old",
    ] {
        std::fs::create_dir_all(t.path().join(d)).unwrap();
    }
    std::fs::copy(bin("static"), t.path().join("bin/sh")).unwrap();
    let target = format!("dir:{}", t.path().display());
    let (code, out, _) = run(&["check", &bin("static"), "--on", &target]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("needs Linux 3.2.0 or newer (ABI note); the image's kernel is 2.6.32-5-amd64"),
        "{out}"
    );
    // A newer kernel: fine.
    std::fs::create_dir_all(t.path().join("lib/modules/6.1.0-13-amd64")).unwrap();
    let (code, out, _) = run(&["check", "--json", &bin("static"), "--on", &target]);
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["targets"][0]["kernel"], "6.1.0-13-amd64");
}

#[test]
fn a_layered_target_gives_the_verdicts_of_its_directory() {
    let f = fixtures();
    let trixie = dir("trixie-rootfs");
    let verdicts = |target: &str| {
        let (_, out, err) = run(&[
            "check", "--json", "--path", "/usr/bin", &trixie, "--on", target,
        ]);
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["binary"].as_str().unwrap().to_string(),
                    r["runs"].as_bool().unwrap(),
                    r["reasons"].as_array().unwrap().len(),
                )
            })
            .collect::<Vec<_>>()
    };
    let from_dir = verdicts(&dir("bookworm-rootfs"));
    assert!(from_dir.len() > 50);
    for other in [
        format!("oci:{}", f.join("bookworm-oci").display()),
        f.join("bookworm.tar.zst").display().to_string(),
        f.join("bookworm-gpt.qcow2").display().to_string(),
    ] {
        assert_eq!(verdicts(&other), from_dir, "{other}");
    }
}

#[test]
fn inspect_and_check_spell_an_images_architecture_the_same() {
    let alpine = shared().join("alpine");
    for (file, want) in [
        ("alpine-minirootfs-3.20.3-x86_64.tar.gz", "amd64"),
        ("alpine-minirootfs-3.20.3-aarch64.tar.gz", "arm64"),
    ] {
        let image = alpine.join(file).display().to_string();
        let inspected: Value = serde_json::from_slice(&ok(&["inspect", "--json", &image])).unwrap();
        let out = imagewise(&[
            "check",
            "--json",
            "--path",
            "/bin/busybox",
            &image,
            "--on",
            &image,
        ]);
        let checked: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(inspected["arch"], want, "{file}");
        assert_eq!(checked["summary"]["targets"][0]["arch"], want, "{file}");
    }
}
