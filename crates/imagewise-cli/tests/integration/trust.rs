//! `imagewise trust`: a cosign-style signature artifact built by cosign's published layout
//! (SIGNATURE_SPEC: a `sha256-<digest>.sig` manifest whose simple-signing payload names the
//! image and carries an ECDSA P-256 signature; no cosign binary installs here, so openssl signs
//! and checks it) against the same layout unsigned; an OCI referrer; a packaged file modified
//! after install, named as `dpkg --verify` names it; store snapshots with a good and a bad
//! signature.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::support::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn sh(script: &str) -> String {
    let out = Command::new("sh").args(["-ec", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn trust(args: &[&str]) -> Value {
    let mut a = vec!["trust", "--json"];
    a.extend_from_slice(args);
    serde_json::from_slice(&ok(&a)).unwrap()
}

/// Writes `bytes` as a blob of the layout; returns its descriptor fields.
fn blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let hex = sha256_hex(bytes);
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
    (format!("sha256:{hex}"), bytes.len())
}

/// Adds a manifest to the layout's index.json.
fn index_add(layout: &Path, descriptor: Value) {
    let path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    index["manifests"].as_array_mut().unwrap().push(descriptor);
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
}

/// A cosign-style signature of the layout's image, signed with the PEM key `key`; `names`
/// is the manifest digest the payload claims.
fn sign(layout: &Path, key: &Path, names: &str, image: &str) {
    let payload = serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": "registry.example/alpine"},
            "image": {"docker-manifest-digest": names},
            "type": "cosign container image signature"
        },
        "optional": null
    }))
    .unwrap();
    let (pd, pl) = blob(layout, &payload);
    let payload_file = layout.join("../payload.json");
    std::fs::write(&payload_file, &payload).unwrap();
    let sig = sh(&format!(
        "openssl dgst -sha256 -sign {} {} | base64 -w0",
        s(key),
        s(&payload_file)
    ));
    let config = serde_json::to_vec(&json!({
        "architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [pd]}
    }))
    .unwrap();
    let (cd, cl) = blob(layout, &config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cl},
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": pd, "size": pl,
            "annotations": {"dev.cosignproject.cosign/signature": sig}
        }]
    }))
    .unwrap();
    let (md, ml) = blob(layout, &manifest);
    index_add(
        layout,
        json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md, "size": ml,
            "annotations": {"org.opencontainers.image.ref.name": format!("{}.sig", image.replacen(':', "-", 1))}
        }),
    );
}

fn image_digest(layout: &Path) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn cosign_style_signatures_are_found_and_verified() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let unsigned = t.path().join("unsigned");
    let signed = t.path().join("signed");
    sh(&format!(
        "cp -r {0}/. {1}/ && cp -r {0}/. {2}/ \
         && cd {3} && openssl ecparam -name prime256v1 -genkey -noout -out key.pem \
         && openssl ec -in key.pem -pubout -out key.pub 2>/dev/null \
         && openssl ecparam -name prime256v1 -genkey -noout -out other.pem \
         && openssl ec -in other.pem -pubout -out other.pub 2>/dev/null",
        s(&f.join("alpine-oci")),
        s(&unsigned),
        s(&signed),
        s(t.path())
    ));
    let image = image_digest(&signed);
    let key = t.path().join("key.pem");
    sign(&signed, &key, &image, &image);
    // The oracle: openssl itself checks what it signed.
    let sig_b64 = {
        let index: Value =
            serde_json::from_slice(&std::fs::read(signed.join("index.json")).unwrap()).unwrap();
        let m = &index["manifests"][1]["digest"];
        let hex = m.as_str().unwrap().trim_start_matches("sha256:");
        let man: Value =
            serde_json::from_slice(&std::fs::read(signed.join("blobs/sha256").join(hex)).unwrap())
                .unwrap();
        man["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .unwrap()
            .to_string()
    };
    std::fs::write(t.path().join("sig.b64"), &sig_b64).unwrap();
    let verified = sh(&format!(
        "cd {} && base64 -d sig.b64 > sig.der && openssl dgst -sha256 -verify key.pub -signature sig.der payload.json",
        s(t.path())
    ));
    assert!(verified.contains("Verified OK"), "{verified}");

    // Unsigned: absent.
    let v = trust(&[s(&unsigned)]);
    assert_eq!(v["signature"]["level"], "poor", "{v}");
    assert_eq!(v["signature"]["summary"], "absent", "{v}");
    // Signed, no key: present, names this manifest, unverified. The layout still opens
    // without a tag: the signature is not an image to choose.
    let v = trust(&[s(&signed)]);
    assert_eq!(v["signature"]["level"], "partial", "{v}");
    assert!(
        v["signature"]["evidence"][0]
            .as_str()
            .unwrap()
            .contains("unverified"),
        "{v}"
    );
    // With the signer's key: verified; with another: refused.
    let pub_key = t.path().join("key.pub");
    let v = trust(&["--key", s(&pub_key), s(&signed)]);
    assert_eq!(v["signature"]["level"], "good", "{v}");
    let other = t.path().join("other.pub");
    let v = trust(&["--key", s(&other), s(&signed)]);
    assert_eq!(v["signature"]["level"], "poor", "{v}");
    assert!(
        v["signature"]["evidence"][0]
            .as_str()
            .unwrap()
            .contains("does NOT verify"),
        "{v}"
    );
    // A signature whose payload names another image does not count for this one, key or not.
    let wrong = t.path().join("wrong");
    sh(&format!("cp -r {}/. {}/", s(&unsigned), s(&wrong)));
    sign(
        &wrong,
        &key,
        "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        &image,
    );
    let v = trust(&["--key", s(&pub_key), s(&wrong)]);
    assert_eq!(v["signature"]["level"], "poor", "{v}");
    assert!(
        v["signature"]["evidence"][0]
            .as_str()
            .unwrap()
            .contains("not this image"),
        "{v}"
    );
    // An OCI referrer (a manifest whose subject is the image): present, unverified.
    let refd = t.path().join("referrer");
    sh(&format!("cp -r {}/. {}/", s(&unsigned), s(&refd)));
    let index: Value =
        serde_json::from_slice(&std::fs::read(refd.join("index.json")).unwrap()).unwrap();
    let subject = index["manifests"][0].clone();
    let (cd, cl) = blob(&refd, b"{}");
    let (ld, ll) = blob(
        &refd,
        b"{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\"}",
    );
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cd, "size": cl},
        "layers": [{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "digest": ld, "size": ll}],
        "subject": {"mediaType": subject["mediaType"], "digest": subject["digest"], "size": subject["size"]}
    }))
    .unwrap();
    let (md, ml) = blob(&refd, &manifest);
    index_add(
        &refd,
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ml,
               "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}),
    );
    let v = trust(&[s(&refd)]);
    assert_eq!(v["signature"]["level"], "partial", "{v}");
    assert!(
        v["signature"]["evidence"][0]
            .as_str()
            .unwrap()
            .contains("sigstore.bundle"),
        "{v}"
    );
}

/// `dpkg --verify` in a chroot: (modified, missing) paths, conffiles left out.
fn dpkg_verify(root: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let out = Command::new("chroot")
        .args([s(root), "dpkg", "--verify"])
        .output()
        .unwrap();
    let mut modified = BTreeSet::new();
    let mut missing = BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(p) = line.strip_prefix("missing     ") {
            missing.insert(p.trim().to_string());
            continue;
        }
        // `??5?????? c /etc/x` (a conffile) or `??5??????   /usr/bin/x`.
        let (flags, rest) = line.split_at(9.min(line.len()));
        let rest = rest.trim_start();
        if let Some(p) = rest.strip_prefix("c ") {
            let _ = p;
            continue;
        }
        if flags.as_bytes().get(2) == Some(&b'5') {
            modified.insert(rest.to_string());
        }
    }
    (modified, missing)
}

#[test]
fn a_modified_packaged_file_is_named_as_dpkg_verify_names_it() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    sh(&format!(
        "cp -a {}/. {}/",
        s(&f.join("bookworm-rootfs")),
        s(&root)
    ));
    // Untouched: nothing to report, as dpkg says.
    let (m0, x0) = dpkg_verify(&root);
    let clean = trust(&["--full-verify", s(&root)]);
    assert_eq!(
        clean["consistency"]["level"], "good",
        "{}",
        clean["consistency"]
    );
    let files = &clean["files"];
    let listed = |k: &str| -> BTreeSet<String> {
        files[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(listed("modified"), m0);
    assert_eq!(listed("missing"), x0);
    assert_eq!(files["checked"], files["packaged_files"], "{files}");
    // One file changed after install, one removed.
    sh(&format!(
        "printf 'tampered' >> {r}/usr/bin/tac && rm {r}/usr/bin/yes",
        r = s(&root)
    ));
    let (m1, x1) = dpkg_verify(&root);
    assert!(
        m1.contains("/usr/bin/tac") && x1.contains("/usr/bin/yes"),
        "{m1:?} {x1:?}"
    );
    for args in [vec!["--full-verify", s(&root)], vec![s(&root)]] {
        let v = trust(&args);
        let files = &v["files"];
        let listed = |k: &str| -> BTreeSet<String> {
            files[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        // The sample mode checks every file changed after its package was installed, so it
        // names the same files as the full check.
        assert_eq!(listed("modified"), m1, "{args:?}: {files}");
        assert_eq!(listed("missing"), x1, "{args:?}: {files}");
        assert_eq!(v["consistency"]["level"], "poor", "{args:?}");
        let ev = v["consistency"]["evidence"].to_string();
        assert!(
            ev.contains("modified after install: /usr/bin/tac")
                && ev.contains("missing: /usr/bin/yes"),
            "{ev}"
        );
    }
}

#[test]
fn snapshot_signatures_good_and_bad() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let (key, other) = (t.path().join("key"), t.path().join("other"));
    ok(&["key", "generate", s(&key)]);
    ok(&["key", "generate", s(&other)]);
    let repo = t.path().join("repo");
    ok(&[
        "repo",
        "init",
        "--sign-key",
        &format!("{}.pub", s(&key)),
        s(&repo),
    ]);
    let src = f.join("alpine-rootfs");
    ok(&[
        "snapshot",
        "create",
        "--sign-key",
        s(&key),
        "--tag",
        "good",
        s(&repo),
        s(&src),
    ]);
    let v = trust(&[&format!("snapshot:{}@good", s(&repo))]);
    assert_eq!(v["signature"]["level"], "good", "{v}");
    assert!(
        v["signature"]["evidence"][0]
            .as_str()
            .unwrap()
            .contains("signature valid"),
        "{v}"
    );
    // The same snapshot with its signature line swapped for another key's.
    let other_repo = t.path().join("other-repo");
    ok(&[
        "repo",
        "init",
        "--sign-key",
        &format!("{}.pub", s(&other)),
        s(&other_repo),
    ]);
    ok(&[
        "snapshot",
        "create",
        "--sign-key",
        s(&other),
        s(&other_repo),
        s(&src),
    ]);
    let foreign = std::fs::read_dir(other_repo.join("snapshots"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .next()
        .unwrap();
    let foreign_sig = foreign.lines().nth(1).unwrap();
    let file = std::fs::read_dir(repo.join("snapshots"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!("{}\n{foreign_sig}\n", text.lines().next().unwrap()),
    )
    .unwrap();
    // `trust` reports it; it does not refuse to look.
    let v = trust(&[&format!("snapshot:{}@good", s(&repo))]);
    assert_eq!(v["signature"]["level"], "poor", "{v}");
    assert!(
        v["signature"]["evidence"][0]
            .as_str()
            .unwrap()
            .contains("does NOT verify"),
        "{v}"
    );
    // Every other command still refuses it.
    let out = imagewise(&["inspect", &format!("snapshot:{}@good", s(&repo))]);
    assert_ne!(out.status.code(), Some(0));
}
