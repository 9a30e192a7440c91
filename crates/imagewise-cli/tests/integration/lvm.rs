//! LVM2 inside a disk: a GPT disk whose second partition is a physical volume written by the
//! LVM tools (`pvcreate`, `vgcreate`, `vgcfgrestore`; scripts/lvm-disk.sh — this kernel has no
//! device-mapper, so the volumes' data is copied to the extents `lvs` reports). The logical
//! volume holding `/etc/os-release` is chosen by default and lists exactly as the directory it
//! was made from; `#vg/lv` picks one; a striped volume and damaged metadata get clear errors.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn logical_volumes_open_like_partitions() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("lvm.img");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lvm-disk.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(f.join("alpine-rootfs"))
        .arg(&img)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // lvm2's own account of where the volumes lie: root in two segments, out of order.
    let segs = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        segs.contains("root 10 ") && segs.contains(":40-59"),
        "{segs}"
    );

    let want = ls(
        &format!("dir:{}", s(&f.join("alpine-rootfs"))),
        &["--digest"],
    );
    let qcow = t.path().join("lvm.qcow2");
    assert!(Command::new("qemu-img")
        .args(["convert", "-O", "qcow2", s(&img), s(&qcow)])
        .status()
        .unwrap()
        .success());
    for reference in [
        s(&img).to_string(),
        format!("disk:{}#vgimw/root", s(&img)),
        s(&qcow).to_string(),
    ] {
        let mut got = ls(&reference, &["--digest"]);
        got.remove("/lost+found").expect("ext4 has lost+found");
        let mut problems = Vec::new();
        for (p, w) in &want {
            match got.get(p) {
                Some(g) if shape(w) == shape(g) && w["sha256"] == g["sha256"] => {}
                other => problems.push(format!("{p}: {w} vs {other:?}")),
            }
        }
        problems.extend(
            got.keys()
                .filter(|p| !want.contains_key(*p))
                .map(|p| format!("extra {p}")),
        );
        assert!(problems.is_empty(), "{reference}: {}", problems.join("\n"));
    }
    let v: Value = serde_json::from_slice(&ok(&["inspect", "--json", s(&img)])).unwrap();
    assert_eq!(
        v["image"]["partition"], "#vgimw/root lvm ext4",
        "{}",
        v["image"]
    );
    let var = ls(&format!("disk:{}#vgimw/var", s(&img)), &[]);
    assert_eq!(var.keys().collect::<Vec<_>>(), ["/", "/lost+found"]);
    // A striped volume: named, refused.
    let wide = imagewise(&["ls", &format!("disk:{}#vgimw/wide", s(&img))]);
    assert_eq!(wide.status.code(), Some(2));
    let err = String::from_utf8_lossy(&wide.stderr);
    assert!(err.contains("2 stripes") && err.contains("linear"), "{err}");
    let none = imagewise(&["ls", &format!("disk:{}#vgimw/nope", s(&img))]);
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(
        err.contains("no logical volume vgimw/nope") && err.contains("vgimw/var (LVM, ext4)"),
        "{err}"
    );
    // Damaged metadata text: its checksum no longer matches. The circular buffer still holds
    // vgcreate's older copy; the newest (vgcfgrestore's) comes last.
    let mut bytes = std::fs::read(&img).unwrap();
    let at = bytes
        .windows(8)
        .rposition(|w| w == b"vgimw {\n")
        .expect("metadata text");
    bytes[at + 20] ^= 0x20;
    let bad = t.path().join("bad.img");
    std::fs::write(&bad, &bytes).unwrap();
    let out = imagewise(&["ls", s(&bad)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("metadata text checksum does not match"),
        "{err}"
    );
}

/// The RHEL-family layout: XFS on a logical volume (the same script with `xfs`, populated
/// through a loop mount and `cp -a`), chosen by default and listing exactly as the directory.
#[test]
fn xfs_in_a_logical_volume_as_rhel_images_have_it() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("lvm-xfs.img");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lvm-disk.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(f.join("alpine-rootfs"))
        .arg(&img)
        .args(["xfs", "vgrhel"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = ls(
        &format!("dir:{}", s(&f.join("alpine-rootfs"))),
        &["--digest"],
    );
    let got = ls(s(&img), &["--digest"]);
    let problems = listing_differences(&want, &got, ALL_FIELDS, 0o7777);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let v: Value = serde_json::from_slice(&ok(&["inspect", "--json", s(&img)])).unwrap();
    assert_eq!(
        v["image"]["partition"], "#vgrhel/root lvm xfs",
        "{}",
        v["image"]
    );
    assert_eq!(v["os"]["id"], "alpine");
    let var = ls(&format!("disk:{}#vgrhel/var", s(&img)), &[]);
    assert_eq!(var.keys().collect::<Vec<_>>(), ["/"]);
}
