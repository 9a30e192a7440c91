//! `imagewise inspect` and `imagewise sbom`: exit codes, the stable JSON keys, output files.

use serde_json::Value;

use crate::support::{fixtures, imagewise, ok, shared};

#[test]
fn inspect_json_has_the_keys_scripts_rely_on() {
    let alpine = shared().join("alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    let out = ok(&["inspect", "--json", alpine.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v.pointer("/os/id").unwrap(), "alpine");
    assert_eq!(v.pointer("/os/version_id").unwrap(), "3.20.3");
    assert!(v.pointer("/os/pretty_name").unwrap().is_string());
    assert_eq!(v["arch"], "amd64");
    assert_eq!(v.pointer("/libc/kind").unwrap(), "musl");
    assert_eq!(v.pointer("/libc/version").unwrap(), "1.2.5");
    let pkgs = v["packages"].as_array().unwrap();
    assert!(pkgs.len() > 10);
    for p in pkgs {
        for key in [
            "ecosystem",
            "name",
            "version",
            "arch",
            "source_name",
            "source_version",
            "purl",
        ] {
            assert!(p[key].is_string(), "{key} missing in {p}");
        }
        assert_eq!(p["ecosystem"], "apk");
    }
}

#[test]
fn inspect_human_report_names_the_essentials() {
    let fx = fixtures();
    let out = ok(&[
        "inspect",
        "--packages",
        fx.join("bookworm-rootfs").to_str().unwrap(),
    ]);
    let text = String::from_utf8(out).unwrap();
    for want in [
        "Debian GNU/Linux 12 (bookworm)",
        "glibc 2.36",
        "dpkg ",
        "libc6 ",
        "kind       application",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
}

#[test]
fn inspect_of_a_missing_image_is_an_input_error() {
    let out = imagewise(&["inspect", "/nonexistent/image.tar"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/image.tar"), "{err}");
}

#[test]
fn sbom_writes_a_file_and_honours_source_date_epoch() {
    let fx = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.cdx.json");
    let image = fx.join("distroless-rootfs");
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_imagewise"))
            .args(["sbom", "--format", "cyclonedx-json", "-o"])
            .arg(&file)
            .arg(&image)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env("IMAGEWISE_NO_PROGRESS", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "the document goes to the file only");
        std::fs::read(&file).unwrap()
    };
    let first = run();
    let v: Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(v["bomFormat"], "CycloneDX");
    assert_eq!(
        v.pointer("/metadata/timestamp").unwrap(),
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(
        v["components"].as_array().unwrap().len(),
        6,
        "os + 5 packages"
    );
    assert_eq!(
        run(),
        first,
        "same image, same SOURCE_DATE_EPOCH: same bytes"
    );

    let out = imagewise(&["sbom", "--format", "xml", image.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imagewise"))
        .args(["sbom", "--format", "spdx-json"])
        .arg(&image)
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SOURCE_DATE_EPOCH"));
}
