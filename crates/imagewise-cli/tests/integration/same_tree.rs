//! Same content, same tree: one debootstrap rootfs in every wrapping lists identically and every
//! regular file has the same bytes.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{fixtures, ls, ok, sha256_hex, shape, shared};

/// Compare two listings field by field; report every difference, not just the first.
fn compare(
    name: &str,
    want: &BTreeMap<String, Value>,
    got: &BTreeMap<String, Value>,
    digests: bool,
) {
    let mut problems = Vec::new();
    for (p, w) in want {
        match got.get(p) {
            None => problems.push(format!("missing {p}")),
            Some(g) => {
                if shape(w) != shape(g) {
                    problems.push(format!("{p}: want {} got {}", shape(w), shape(g)));
                }
                if digests && w.get("sha256") != g.get("sha256") {
                    problems.push(format!(
                        "{p}: content differs: {:?} vs {:?}",
                        w.get("sha256"),
                        g.get("sha256")
                    ));
                }
            }
        }
    }
    for p in got.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(format!("extra {p}"));
    }
    assert!(
        problems.is_empty(),
        "{name}: {} differences:\n{}",
        problems.len(),
        problems
            .iter()
            .take(50)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Every listed regular file carries a digest; hardlinks carry their primary's.
fn assert_digested(name: &str, l: &BTreeMap<String, Value>) {
    let files: Vec<&Value> = l
        .values()
        .filter(|v| v["kind"] == "file" || v["kind"] == "hardlink")
        .collect();
    assert!(files.len() > 100, "{name}: only {} files", files.len());
    for v in files {
        assert!(
            v["sha256"].as_str().is_some_and(|d| d.len() == 64),
            "{name}: no digest for {}",
            v["path"]
        );
    }
}

/// `cat` a spread of files (the largest, a hardlinked one, one reached through a symlinked
/// directory, and every 400th file) and check the bytes against the listing's digest.
fn cat_sample(reference: &str, l: &BTreeMap<String, Value>) {
    let mut files: Vec<(&String, &Value)> = l.iter().filter(|(_, v)| v["kind"] == "file").collect();
    files.sort_by_key(|(_, v)| std::cmp::Reverse(v["size"].as_u64()));
    let mut picks: Vec<String> = vec![files[0].0.clone()];
    picks.extend(files.iter().step_by(400).map(|(p, _)| (*p).clone()));
    let via_link = "/bin/bash"; // /bin -> usr/bin in a merged-/usr system
    for p in picks
        .iter()
        .map(String::as_str)
        .chain([via_link, "/usr/bin/perl5.36.0"])
    {
        let bytes = ok(&["cat", reference, p]);
        let resolved = if p == via_link { "/usr/bin/bash" } else { p };
        let entry = &l[resolved];
        let digest = match entry["kind"].as_str() {
            Some("hardlink") => &l[entry["link"].as_str().expect("link")]["sha256"],
            _ => &entry["sha256"],
        };
        assert_eq!(
            Some(sha256_hex(&bytes).as_str()),
            digest.as_str(),
            "{reference}: cat {p}"
        );
    }
}

#[test]
fn bookworm_lists_the_same_in_every_format() {
    let f = fixtures();
    let dir = format!("dir:{}", f.join("bookworm-rootfs").display());
    let want = ls(&dir, &["--digest"]);
    assert!(
        want.len() > 5000,
        "the rootfs has only {} entries",
        want.len()
    );
    assert_digested(&dir, &want);
    assert_eq!(
        want["/usr/bin/perl5.36.0"]["kind"], "hardlink",
        "hardlinks are reported as such"
    );
    assert_eq!(want["/dev/null"]["device"], serde_json::json!([1, 3]));
    for (reference, layered) in [
        (format!("tar:{}", f.join("bookworm.tar").display()), false),
        (f.join("bookworm.tar.zst").display().to_string(), false),
        (f.join("bookworm-oci").display().to_string(), true),
        (
            format!("oci:{}:latest", f.join("bookworm-oci").display()),
            true,
        ),
        (
            format!(
                "docker-archive:{}:bookworm:latest",
                f.join("bookworm-docker.tar").display()
            ),
            true,
        ),
        (
            format!("disk:{}", f.join("bookworm-gpt.raw").display()),
            false,
        ),
        (f.join("bookworm-gpt.qcow2").display().to_string(), false),
    ] {
        let mut got = ls(&reference, &["--digest"]);
        if reference.contains("gpt") {
            // mkfs.ext4 adds /lost+found; ext4 carries no layers.
            let lf = got.remove("/lost+found").expect("ext4 has lost+found");
            assert_eq!(lf["kind"], "dir");
        }
        for v in got.values() {
            let layer = &v["layer"];
            if layered {
                assert_eq!(
                    layer, 0,
                    "{reference}: single-layer image, {} from layer {layer}",
                    v["path"]
                );
            } else {
                assert!(layer.is_null(), "{reference}: {} has a layer", v["path"]);
            }
        }
        compare(&reference, &want, &got, true);
        cat_sample(&reference, &got);
    }
}

/// The bookworm GPT disk written by `qemu-img convert` into every other container it makes:
/// each lists and reads exactly as the directory it was built from.
#[test]
fn bookworm_lists_the_same_in_vmdk_vhd_and_vhdx() {
    let f = fixtures();
    let dir = format!("dir:{}", f.join("bookworm-rootfs").display());
    let want = ls(&dir, &["--digest"]);
    let t = tempfile::tempdir().unwrap();
    let source = f.join("bookworm-gpt.qcow2");
    for (name, fmt, opts, container) in [
        ("sparse.vmdk", "vmdk", "subformat=monolithicSparse", "vmdk"),
        ("stream.vmdk", "vmdk", "subformat=streamOptimized", "vmdk"),
        ("dynamic.vhd", "vpc", "subformat=dynamic", "vhd-dynamic"),
        (
            "fixed.vhd",
            "vpc",
            "subformat=fixed,force_size=on",
            "vhd-fixed",
        ),
        ("disk.vhdx", "vhdx", "subformat=dynamic", "vhdx"),
    ] {
        let out = t.path().join(name);
        let st = std::process::Command::new("qemu-img")
            .args(["convert", "-O", fmt, "-o", opts])
            .arg(&source)
            .arg(&out)
            .status()
            .unwrap();
        assert!(st.success(), "qemu-img convert -O {fmt} -o {opts}");
        // Detected by magic: no prefix.
        let reference = out.display().to_string();
        let mut got = ls(&reference, &["--digest"]);
        let lf = got.remove("/lost+found").expect("ext4 has lost+found");
        assert_eq!(lf["kind"], "dir");
        compare(&reference, &want, &got, true);
        cat_sample(&reference, &got);
        let v: Value = serde_json::from_slice(&ok(&["inspect", "--json", &reference])).unwrap();
        assert_eq!(v["image"]["container"], container, "{name}");
        assert_eq!(v["os"]["version_id"], "12", "{name}");
    }
    // A VMDK descriptor naming extents in other files is refused by name.
    let flat = t.path().join("flat.vmdk");
    let st = std::process::Command::new("qemu-img")
        .args(["create", "-f", "vmdk", "-o", "subformat=monolithicFlat"])
        .arg(&flat)
        .arg("16M")
        .status()
        .unwrap();
    assert!(st.success());
    let out = crate::support::imagewise(&["ls", flat.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("monolithicFlat") && err.contains("qemu-img convert"),
        "{err}"
    );
}

#[test]
fn alpine_lists_the_same_as_tar_gz_oci_and_docker_archive() {
    let f = fixtures();
    let tgz = shared().join("alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    let tgz = tgz.display().to_string();
    let want = ls(&tgz, &["--digest"]);
    assert!(want.len() > 400, "alpine lists {} entries", want.len());
    assert_eq!(want["/bin/sh"]["link"], "/bin/busybox");
    // Oracle: GNU tar's own listing of the same archive (names and types).
    let out = std::process::Command::new("tar")
        .args(["-tzvf", &tgz])
        .output()
        .expect("tar");
    let listed = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(
        listed,
        want.len(),
        "tar -tzvf lists {listed} members; imagewise {} entries (root included)",
        want.len()
    );
    for reference in [
        f.join("alpine-oci").display().to_string(),
        format!("oci-archive:{}", f.join("alpine-oci.tar").display()),
        format!("docker-archive:{}", f.join("alpine-docker.tar").display()),
    ] {
        let got = ls(&reference, &["--digest"]);
        compare(&reference, &want, &got, true);
    }
}
