//! Btrfs written by the real tools and read back, with the kernel as the oracle: the bookworm
//! tree copied through a loop mount onto filesystems mounted with `compress-force=zstd`, `lzo`
//! and `zlib` lists exactly as the directory does and as the kernel shows it
//! (`scripts/fs-manifest.py` on the mount: modes, owners, sizes, mtimes in ns, link targets,
//! devices, xattrs, digests); `mkfs.btrfs --rootdir` likewise, less what btrfs-progs 6.2's
//! `--rootdir` drops (device numbers and sub-second mtimes, which the kernel shows as 0 too);
//! and subvolumes (the default, `#subvol=`, a system in a `root` subvolume, nested subvolumes,
//! a snapshot's placeholder, `set-default`) with the shapes a copy of a tree may not reach —
//! 6,000 names in one directory, holes, preallocated and reflinked extents, a compressed
//! extent partly overwritten, long symlinks, many and large xattrs, ACLs, capabilities, 20-bit
//! minor device numbers, a 2038 timestamp.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::support::*;

fn assert_same(want: &BTreeMap<String, Value>, got: &BTreeMap<String, Value>, what: &str) {
    let problems = listing_differences(want, got, ALL_FIELDS, 0o7777);
    assert!(
        problems.is_empty(),
        "{what}: {} differences, first: {}",
        problems.len(),
        problems[..problems.len().min(20)].join("\n")
    );
}

/// Make an empty Btrfs, mount it with `options`, run `fill` (a script given the mount point),
/// take the kernel's listing, unmount.
fn made_by_the_kernel(
    img: &Path,
    size: &str,
    options: &str,
    fill: &str,
) -> BTreeMap<String, Value> {
    let mnt = img.with_extension("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    sh(&format!(
        "truncate -s {size} {i} && mkfs.btrfs -q -f {i} >/dev/null 2>&1 && mount -o loop,{options} {i} {m}",
        i = s(img),
        m = s(&mnt)
    ));
    let _m = Mounted(mnt.clone());
    sh(&fill.replace("$M", s(&mnt)));
    sh("sync");
    kernel(&mnt)
}

#[test]
fn bookworm_on_compressed_btrfs_lists_as_the_directory_and_the_kernel_do() {
    let f = fixtures();
    let tree = f.join("bookworm-rootfs");
    let want = ls(&format!("dir:{}", s(&tree)), &["--digest"]);
    let t = tempfile::tempdir().unwrap();
    for (alg, code) in [("zstd", 3), ("lzo", 2), ("zlib", 1)] {
        let img = t.path().join(format!("{alg}.btrfs"));
        let oracle = made_by_the_kernel(
            &img,
            "1500M",
            &format!("compress-force={alg}"),
            &format!("cp -a {}/. $M/", s(&tree)),
        );
        // The copy really is compressed with that algorithm.
        let compressed = sh(&format!(
            "btrfs inspect-internal dump-tree -t fs {} | grep -c 'compression {code} ' || true",
            s(&img)
        ));
        assert!(
            compressed.trim().parse::<u32>().unwrap() > 500,
            "{alg}: {compressed}"
        );
        let got = ls(s(&img), &["--digest"]);
        assert_same(&want, &got, &format!("{alg}: against the directory"));
        assert_same(
            &oracle,
            &unlinked(got),
            &format!("{alg}: against the kernel"),
        );
        if alg == "zstd" {
            // Wrapped in qcow2, and inspected.
            let qcow = t.path().join("zstd.qcow2");
            sh(&format!(
                "qemu-img convert -O qcow2 {} {}",
                s(&img),
                s(&qcow)
            ));
            assert_same(&want, &ls(s(&qcow), &["--digest"]), "zstd in qcow2");
            // The same facts as the directory's.
            assert_eq!(facts(s(&img)), facts(&format!("dir:{}", s(&tree))));
            let v: Value = serde_json::from_slice(&ok(&["inspect", "--json", s(&img)])).unwrap();
            assert_eq!(v["os"]["version_id"], "12");
            assert!(
                v["image"]["partition"].as_str().unwrap().ends_with("btrfs"),
                "{}",
                v["image"]
            );
        }
        std::fs::remove_file(&img).unwrap();
    }
}

#[test]
fn bookworm_made_by_mkfs_rootdir_lists_as_the_kernel_shows_it() {
    let f = fixtures();
    let tree = f.join("bookworm-rootfs");
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("rootdir.btrfs");
    let mnt = t.path().join("m");
    std::fs::create_dir(&mnt).unwrap();
    sh(&format!(
        "truncate -s 1500M {i} && mkfs.btrfs -q -f --rootdir {r} {i} >/dev/null 2>&1",
        i = s(&img),
        r = s(&tree)
    ));
    let oracle = {
        sh(&format!("mount -o loop,ro {} {}", s(&img), s(&mnt)));
        let _m = Mounted(mnt.clone());
        kernel(&mnt)
    };
    let got = ls(s(&img), &["--digest"]);
    assert_same(&oracle, &unlinked(got.clone()), "against the kernel");
    // Against the directory: everything but what btrfs-progs 6.2 `--rootdir` does not store
    // (the kernel above shows device 0,0 and whole-second mtimes as well).
    // mkfs stamps the root directory with the time it ran.
    let mut want = ls(&format!("dir:{}", s(&tree)), &["--digest"]);
    want.get_mut("/").unwrap()["mtime"] = got["/"]["mtime"].clone();
    let problems = listing_differences(
        &want,
        &got,
        &[
            "kind", "mode", "uid", "gid", "size", "link", "mtime", "xattrs", "sha256",
        ],
        0o7777,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        got.values().any(|v| v["kind"] == "hardlink"),
        "the tree's hardlinks survive"
    );
}

#[test]
fn btrfs_subvolumes_and_shapes_agree_with_the_kernel() {
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("sub.btrfs");
    // A system in subvolume `root` (with a nested subvolume and the shapes), `home` beside it,
    // and a snapshot of `root` taken after the nested subvolume was made (its placeholder).
    let fill = r#"cd $M && btrfs -q subvolume create root && btrfs -q subvolume create home \
        && mkdir -p root/etc root/var/lib root/x/big && printf 'ID=fedora\nVERSION_ID=40\n' > root/etc/os-release \
        && btrfs -q subvolume create root/var/lib/machines && echo inner > root/var/lib/machines/file \
        && echo h > home/h \
        && cd root/x \
        && for i in $(seq -w 0 5999); do : > big/f$i-$(printf '%*s' $((10#$i % 40)) '' | tr ' ' n); done \
        && python3 -c "
import os
f = open('frag', 'wb')
for i in range(300):
    f.seek(i * 65536); f.write(os.urandom(3000)); f.flush(); os.fsync(f.fileno())
" \
        && truncate -s 50M sparse && echo end >> sparse && fallocate -l 3M prealloc \
        && fallocate -o 8M -l 1M -n sparse \
        && python3 -c "open('squeezed', 'w').write('compressible line\n' * 110000)" && sync \
        && printf 'XYZ' | dd of=squeezed bs=1 seek=700000 conv=notrunc status=none \
        && head -c 700000 /dev/urandom > plain && sync && cp --reflink=always plain clone \
        && printf 'overwritten' | dd of=clone bs=1 seek=300000 conv=notrunc status=none \
        && ln -s $(printf 't%.0s' $(seq 4000)) longlink && ln plain hard \
        && printf a > acl && setfacl -m u:1234:rwx,g:55:r acl && setfacl -d -m u:99:rx big \
        && setfattr -n user.note -v hello acl \
        && setfattr -n trusted.big -v $(head -c 12000 /dev/zero | tr '\0' v) acl \
        && setcap cap_net_raw+ep acl \
        && for i in $(seq 60); do setfattr -n user.many$i -v value-$i frag; done \
        && mknod chr c 10 200 && mknod blk b 259 70000 && mkfifo fifo \
        && printf tiny > tiny && touch -d '2038-06-01 12:00:00.123456789' acl \
        && cd $M && btrfs -q subvolume snapshot root snap && echo changed > snap/etc/os-release"#;
    let top = made_by_the_kernel(&img, "600M", "compress-force=lzo", fill);
    let mnt = t.path().join("m");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = |options: &str| {
        sh(&format!(
            "mount -o loop,ro,{options} {} {}",
            s(&img),
            s(&mnt)
        ));
        let _m = Mounted(mnt.clone());
        kernel(&mnt)
    };
    let reference = |sel: &str| format!("disk:{}#{sel}", s(&img));

    // The top level shows every subvolume in place; the snapshot's placeholder for the
    // subvolume it did not capture is an empty directory (the kernel stamps it with the time of
    // the lookup; imagewise with its parent's mtime).
    let mut got = unlinked(ls(&reference("subvol=/"), &["--digest"]));
    let placeholder = "/snap/var/lib/machines";
    assert_eq!(got[placeholder]["kind"], "dir");
    assert!(!got.keys().any(|p| p.starts_with("/snap/var/lib/machines/")));
    for f in ["mtime", "mtime_nsec"] {
        got.get_mut(placeholder).unwrap()[f] = top[placeholder][f].clone();
    }
    assert_same(&top, &got, "the top level");
    assert_eq!(
        got.keys()
            .filter(|p| p.starts_with("/root/x/big/f"))
            .count(),
        6000
    );

    // Without a selector: the default subvolume is the top level, which holds no system, so
    // the subvolume that does is read — as the kernel mounts it with subvol=root.
    let root = mounted("subvol=root");
    let got = unlinked(ls(&format!("disk:{}", s(&img)), &["--digest"]));
    assert_same(&root, &got, "subvol=root, chosen");
    assert_same(
        &root,
        &unlinked(ls(&reference("subvol=root"), &["--digest"])),
        "subvol=root",
    );
    let v: Value = serde_json::from_slice(&ok(&["inspect", "--json", s(&img)])).unwrap();
    assert_eq!(v["os"]["id"], "fedora");
    assert!(
        v["image"]["partition"]
            .as_str()
            .unwrap()
            .ends_with("btrfs subvol=root"),
        "{}",
        v["image"]
    );
    // What the shapes came to, so that the comparison above covered them.
    let x = |p: &str| &got[&format!("/x/{p}")];
    assert_eq!(x("chr")["device"], serde_json::json!([10, 200]));
    assert_eq!(x("blk")["device"], serde_json::json!([259, 70000]));
    assert_eq!(x("longlink")["link"].as_str().unwrap().len(), 4000);
    assert_eq!(x("acl")["mtime_nsec"], 123456789);
    assert!(x("acl")["mtime"].as_i64().unwrap() > 1 << 31);
    assert!(x("acl")["xattrs"]["system.posix_acl_access"].is_string());
    assert_eq!(x("frag")["xattrs"].as_object().unwrap().len(), 60);
    let extents = sh(&format!(
        "btrfs inspect-internal dump-tree -t 256 {} | grep -c 'extent data offset [1-9]' || true",
        s(&img)
    ));
    assert!(
        extents.trim().parse::<u32>().unwrap() >= 2,
        "extents that start inside their data (reflinked, overwritten): {extents}"
    );
    assert_same(
        &mounted("subvol=root/var/lib/machines"),
        &ls(&reference("subvol=root/var/lib/machines"), &["--digest"]),
        "a nested subvolume",
    );

    // A snapshot made the default is what a plain mount and imagewise read.
    sh(&format!(
        "mount -o loop {i} {m} && btrfs subvolume set-default {m}/snap; umount {m}",
        i = s(&img),
        m = s(&mnt)
    ));
    let mut got = unlinked(ls(&format!("disk:{}", s(&img)), &["--digest"]));
    let snap = mounted("ro");
    let placeholder = "/var/lib/machines";
    for f in ["mtime", "mtime_nsec"] {
        got.get_mut(placeholder).unwrap()[f] = snap[placeholder][f].clone();
    }
    assert_same(&snap, &got, "the default subvolume");
    assert_eq!(got["/etc/os-release"]["size"], 8);

    // Names that are not subvolumes are refused, with the ones there are.
    for (sel, says) in [
        (
            "subvol=nope",
            "no subvolume nope; subvolumes: home, root, root/var/lib/machines, snap",
        ),
        (
            "subvol=root/etc",
            "root/etc is a directory, not a subvolume",
        ),
        ("subvol=snap/var/lib/machines", "placeholder"),
        ("2,subvol=root", "no partition 2"),
    ] {
        let out = imagewise(&["ls", &reference(sel)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{sel}: {err}");
        assert!(err.contains(says), "{sel}: {err}");
    }
    // A subvolume asked of a filesystem that has none.
    let ext = t.path().join("e.ext4");
    sh(&format!(
        "truncate -s 8M {e} && mkfs.ext4 -q {e}",
        e = s(&ext)
    ));
    let out = imagewise(&["ls", &format!("disk:{}#subvol=root", s(&ext))]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no Btrfs filesystem"), "{err}");
}
