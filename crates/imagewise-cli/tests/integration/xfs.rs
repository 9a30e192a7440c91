//! XFS written by the real tools and read back: the bookworm tree copied onto a v5 filesystem
//! through a loop mount (`mkfs.xfs`, `mount`, `cp -a`) lists exactly as the directory does and
//! as the kernel shows the mount (scripts/fs-manifest.py) —
//! modes, owners, sizes, mtimes in ns, link targets, devices, xattrs, digests; a v4 filesystem
//! without file types (`-m crc=0 -n ftype=0`, which this kernel cannot mount) populated by
//! `mkfs.xfs -p` from a protofile; and the shapes a copy of a tree may not reach — a file of
//! 2,000 extents (a B+tree data fork), a directory of 6,000 names (node form), a 1,000-byte
//! symlink (remote), many and large xattrs (leaf attribute blocks, remote values), POSIX ACLs
//! and a file capability — against what the kernel shows (`getfattr`, `sha256sum`) on the
//! mounted filesystem.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::support::*;

#[test]
fn bookworm_on_xfs_v5_lists_as_the_directory_does() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("v5.xfs");
    let mnt = t.path().join("m");
    std::fs::create_dir(&mnt).unwrap();
    sh(&format!(
        "truncate -s 1200M {i} && mkfs.xfs -q {i} && mount -o loop {i} {m}",
        i = s(&img),
        m = s(&mnt)
    ));
    let oracle = {
        let _m = Mounted(mnt.clone());
        sh(&format!(
            "cp -a {}/. {}/",
            s(&f.join("bookworm-rootfs")),
            s(&mnt)
        ));
        kernel(&mnt)
    };
    let want = ls(
        &format!("dir:{}", s(&f.join("bookworm-rootfs"))),
        &["--digest"],
    );
    // A bare filesystem, detected by its superblock; and wrapped in qcow2.
    let qcow = t.path().join("v5.qcow2");
    sh(&format!(
        "qemu-img convert -O qcow2 {} {}",
        s(&img),
        s(&qcow)
    ));
    for reference in [s(&img), s(&qcow)] {
        let got = ls(reference, &["--digest"]);
        let problems = listing_differences(&want, &got, ALL_FIELDS, 0o7777);
        assert!(problems.is_empty(), "{reference}: {}", problems.join("\n"));
    }
    // And as the kernel shows the mounted filesystem.
    let problems = listing_differences(
        &oracle,
        &unlinked(ls(s(&img), &["--digest"])),
        ALL_FIELDS,
        0o7777,
    );
    assert!(
        problems.is_empty(),
        "against the kernel: {}",
        problems.join("\n")
    );
    assert_eq!(
        facts(s(&img)),
        facts(&format!("dir:{}", s(&f.join("bookworm-rootfs"))))
    );
    let v: Value = serde_json::from_slice(&ok(&["inspect", "--json", s(&img)])).unwrap();
    assert_eq!(v["os"]["version_id"], "12");
    assert!(
        v["image"]["partition"].as_str().unwrap().contains("xfs"),
        "{}",
        v["image"]
    );
}

#[test]
fn xfs_v4_without_file_types_made_from_a_protofile() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("v4.xfs");
    let proto = t.path().join("proto");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/xfs-proto.py");
    sh(&format!(
        "python3 {} {} > {}",
        s(&script),
        s(&f.join("bookworm-rootfs")),
        s(&proto)
    ));
    sh(&format!(
        "truncate -s 1200M {i} && mkfs.xfs -q -f -m crc=0 -n ftype=0 -p {p} {i} 2>/dev/null",
        i = s(&img),
        p = s(&proto)
    ));
    let v4 = sh(&format!(
        "xfs_db -r -c 'sb 0' -c 'p versionnum' {}",
        s(&img)
    ));
    assert!(
        v4.trim().ends_with('4') || v4.contains("0xb4"),
        "not v4: {v4}"
    );
    let mut want = ls(
        &format!("dir:{}", s(&f.join("bookworm-rootfs"))),
        &["--digest"],
    );
    let got = ls(s(&img), &["--digest"]);
    // A protofile has no hardlinks (each name is its own copy), no mtimes, no xattrs and no
    // sticky bit: compare what it carries.
    for w in want.values_mut() {
        if w["kind"] == "hardlink" {
            w["kind"] = Value::from("file");
            w["link"] = Value::Null;
        }
    }
    let problems = listing_differences(
        &want,
        &got,
        &[
            "kind", "mode", "uid", "gid", "size", "link", "device", "sha256",
        ],
        0o6777,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn xfs_shapes_a_copy_may_not_reach_agree_with_the_kernel() {
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("e.xfs");
    let mnt = t.path().join("m");
    std::fs::create_dir(&mnt).unwrap();
    sh(&format!(
        "truncate -s 300M {i} && mkfs.xfs -q -f -i size=512 {i} && mount -o loop {i} {m}",
        i = s(&img),
        m = s(&mnt)
    ));
    let (oracle, frag_sum, mtime) = {
        let _m = Mounted(mnt.clone());
        let m = s(&mnt);
        sh(&format!(
            "mkdir {m}/x {m}/x/big && cd {m}/x \
             && python3 -c \"
f = open('frag', 'wb')
for i in range(2000):
    f.seek(i * 8192); f.write(bytes([i % 251 + 1]) * 1000)
\" \
             && for i in $(seq -w 0 5999); do : > big/f$i-$(printf '%*s' $((10#$i % 40)) '' | tr ' ' n); done \
             && ln -s $(printf 't%.0s' $(seq 1000)) longlink \
             && printf a > acl && setfacl -m u:1234:rwx,g:55:r acl && setfacl -d -m u:99:rx big \
             && setfattr -n user.note -v hello acl \
             && setfattr -n trusted.big -v $(head -c 3000 /dev/zero | tr '\\0' v) acl \
             && setcap cap_net_raw+ep acl \
             && for i in $(seq 40); do setfattr -n user.many$i -v value-$i frag; done \
             && mknod chr c 10 200 && mkfifo fifo && touch -d '2038-06-01 12:00:00.123456789' acl"
        ));
        let extents = sh(&format!("xfs_bmap {m}/x/frag | wc -l"));
        assert!(extents.trim().parse::<u32>().unwrap() > 1000, "{extents}");
        let oracle = sh(&format!(
            "cd {m} && getfattr -d -m - -e hex --absolute-names x/acl x/big x/frag"
        ));
        let sum = sh(&format!("sha256sum {m}/x/frag"));
        let mtime = sh(&format!("stat -c %Y.%y {m}/x/acl"));
        (oracle, sum, mtime)
    };
    let got = ls(s(&img), &["--digest"]);
    // The kernel's xattrs, minus XFS's own raw ACL names (shown as system.posix_acl_*).
    let mut want: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut file = String::new();
    for line in oracle.lines() {
        if let Some(p) = line.strip_prefix("# file: ") {
            file = format!("/{p}");
        } else if let Some((k, v)) = line.split_once('=') {
            if !k.starts_with("trusted.SGI_ACL") {
                want.entry(file.clone())
                    .or_default()
                    .insert(k.to_string(), v.trim_start_matches("0x").to_string());
            }
        }
    }
    assert_eq!(want.len(), 3, "{oracle}");
    for (p, attrs) in &want {
        let mine: BTreeMap<String, String> = got[p]["xattrs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        assert_eq!(&mine, attrs, "{p}");
    }
    assert_eq!(
        got["/x/frag"]["sha256"].as_str().unwrap(),
        frag_sum.split_whitespace().next().unwrap()
    );
    assert_eq!(
        got["/x/longlink"]["link"].as_str().unwrap(),
        "t".repeat(1000)
    );
    let names = got.keys().filter(|p| p.starts_with("/x/big/f")).count();
    assert_eq!(names, 6000);
    assert_eq!(got["/x/chr"]["device"], serde_json::json!([10, 200]));
    assert_eq!(got["/x/fifo"]["kind"], "fifo");
    // A 2038 timestamp with nanoseconds (v5 filesystems made by this mkfs use bigtime).
    let (sec, rest) = mtime.trim().split_once('.').unwrap();
    assert_eq!(
        got["/x/acl"]["mtime"],
        sec.parse::<i64>().unwrap(),
        "{mtime}"
    );
    assert!(rest.contains(".123456789"), "{mtime}");
    assert_eq!(got["/x/acl"]["mtime_nsec"], 123456789);
}
