//! Disks: bare filesystem, MBR, GPT, qcow2 v2 and v3 with compressed and zero clusters and a
//! backing file; every container's virtual disk byte for byte against `qemu-img convert -O
//! raw`; and damaged ones.

use std::collections::BTreeMap;

use imagewise_source::{open, Entry, EntryKind, Error, OpenOptions};

use crate::support::*;

fn listing(reference: &str, opts: &OpenOptions) -> BTreeMap<String, Entry> {
    let t = open(reference, opts).unwrap_or_else(|e| panic!("{reference}: {e}"));
    t.entries()
        .iter()
        .map(|e| (e.path.clone(), e.clone()))
        .collect()
}

fn key(e: &Entry) -> (EntryKind, u32, u32, u32, u64, Option<String>) {
    (e.kind, e.mode, e.uid, e.gid, e.size, e.link.clone())
}

#[test]
fn alpine_disk_in_every_container_matches_its_rootfs() {
    let f = fixtures();
    let dir = listing(
        &format!("dir:{}", f.join("alpine-rootfs").display()),
        &opts(),
    );
    let backing = OpenOptions {
        allow_backing: true,
        ..OpenOptions::default()
    };
    for (name, o, table) in [
        ("alpine-ext4.raw", &opts(), "none"),
        ("alpine-mbr.raw", &opts(), "mbr"),
        ("alpine-v2.qcow2", &opts(), "mbr"),
        ("alpine-base.qcow2", &opts(), "mbr"),
        ("alpine-overlay.qcow2", &backing, "mbr"),
    ] {
        let reference = f.join(name).display().to_string();
        let tree = open(&reference, o).unwrap();
        let disk = tree.info().disk.clone().expect("disk info");
        assert_eq!(disk.selected.table, table, "{name}");
        assert_eq!(disk.selected.filesystem, "ext4", "{name}");
        assert_eq!(
            disk.selected.number,
            if table == "none" { 0 } else { 1 },
            "{name}"
        );
        let got: BTreeMap<String, Entry> = tree
            .entries()
            .iter()
            .map(|e| (e.path.clone(), e.clone()))
            .collect();
        for (p, want) in &dir {
            if p == "/" {
                continue;
            }
            let g = got.get(p).unwrap_or_else(|| panic!("{name}: missing {p}"));
            assert_eq!(key(g), key(want), "{name}: {p}");
        }
        let extra: Vec<&String> = got
            .keys()
            .filter(|p| !dir.contains_key(*p) && *p != "/lost+found")
            .collect();
        assert!(extra.is_empty(), "{name}: extra {extra:?}");
        // Contents agree with the host files, the pattern file aside (zeroed in the overlay).
        tree.for_each_file(
            |e| e.path != "/opt/pattern",
            |e, r| {
                let mut data = Vec::new();
                r.read_to_end(&mut data).unwrap();
                let host = std::fs::read(f.join("alpine-rootfs").join(&e.path[1..])).unwrap();
                assert!(data == host, "{name}: {} differs", e.path);
                Ok(())
            },
        )
        .unwrap();
    }
}

/// The virtual disk imagewise reads out of each container is the one qemu-img reads: the
/// Alpine MBR disk converted by qemu-img into every container, each read whole and compared
/// with `qemu-img convert -O raw` of the same file.
#[test]
fn every_container_reads_the_bytes_qemu_img_reads() {
    use sha2::Digest;
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let source = f.join("alpine-mbr.raw");
    let digest = |r: &mut dyn std::io::Read| {
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        hex::encode(h.finalize())
    };
    let mut seen = Vec::new();
    for (name, fmt, opts, container) in [
        ("c.qcow2", "qcow2", "compression_type=zlib", "qcow2"),
        ("v2.qcow2", "qcow2", "compat=0.10", "qcow2"),
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
        ("fixed.vhdx", "vhdx", "subformat=fixed", "vhdx"),
    ] {
        let img = t.path().join(name);
        let raw = t.path().join(format!("{name}.raw"));
        let mut args = vec!["convert", "-O", fmt, "-o", opts];
        if name == "c.qcow2" {
            args.push("-c");
        }
        for (from, to, a) in [
            (&source, &img, args.clone()),
            // Named: qemu-img's probe takes a fixed VHD (no header, only a footer) for raw.
            (&img, &raw, vec!["convert", "-f", fmt, "-O", "raw"]),
        ] {
            let st = std::process::Command::new("qemu-img")
                .args(&a)
                .arg(from)
                .arg(to)
                .status()
                .unwrap();
            assert!(st.success(), "qemu-img {a:?}");
        }
        let mut mine = imagewise_source::DiskBytes::open(&img, &OpenOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(mine.container(), container, "{name}");
        assert_eq!(
            mine.size(),
            std::fs::metadata(&raw).unwrap().len(),
            "{name}: virtual size"
        );
        let want = digest(&mut std::fs::File::open(&raw).unwrap());
        assert_eq!(digest(&mut mine), want, "{name}: bytes");
        seen.push(want);
        std::fs::remove_file(&raw).unwrap();
    }
    // The same disk throughout, save the dynamic VHD's size rounding (CHS geometry).
    assert!(
        seen.windows(2).filter(|w| w[0] != w[1]).count() <= 2,
        "{seen:?}"
    );
}

#[test]
fn zero_clusters_over_backing_data_read_as_zeros() {
    let f = fixtures();
    let zero_at: usize = std::fs::read_to_string(f.join("alpine-overlay.zero"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let overlay = f.join("alpine-overlay.qcow2").display().to_string();
    let o = OpenOptions {
        allow_backing: true,
        ..OpenOptions::default()
    };
    let data = open(&overlay, &o)
        .unwrap()
        .read("/opt/pattern", 1 << 21)
        .unwrap();
    assert_eq!(data.len(), 1 << 20);
    assert!(data[..zero_at].iter().all(|&b| b == 0xaa));
    assert!(
        data[zero_at..zero_at + 65536].iter().all(|&b| b == 0),
        "the zero clusters hide the backing data"
    );
    assert!(data[zero_at + 65536..].iter().all(|&b| b == 0xaa));
    let base = open_path(f.join("alpine-base.qcow2").display().to_string()).unwrap();
    assert!(base
        .read("/opt/pattern", 1 << 21)
        .unwrap()
        .iter()
        .all(|&b| b == 0xaa));
}

#[test]
fn a_backing_file_needs_permission_and_must_sit_beside_the_image() {
    let f = fixtures();
    let overlay = f.join("alpine-overlay.qcow2").display().to_string();
    let e = open_path(&overlay).unwrap_err().to_string();
    assert!(e.contains("--allow-backing"), "{e}");
    let t = tempfile::tempdir().unwrap();
    let o = t.path().join("o.qcow2");
    let st = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(f.join("alpine-base.qcow2"))
        .arg(&o)
        .status()
        .unwrap();
    assert!(st.success());
    let e = open(
        o.to_str().unwrap(),
        &OpenOptions {
            allow_backing: true,
            ..OpenOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, Error::Unsafe { .. }), "{e}");
    assert!(e.to_string().contains("not beside the image"), "{e}");
}

fn be_write(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_be_bytes());
}

#[test]
fn qcow2_tables_pointing_past_the_end_are_corrupt() {
    let f = fixtures();
    let good = std::fs::read(f.join("alpine-v2.qcow2")).unwrap();
    let t = tempfile::tempdir().unwrap();
    // L1 table offset far beyond the file.
    let mut b = good.clone();
    be_write(&mut b, 40, 1 << 40);
    let p = write(t.path(), "l1.qcow2", &b);
    let e = open_path(p.display().to_string()).unwrap_err();
    assert!(
        matches!(e, Error::Corrupt { .. }) && e.to_string().contains("past the end"),
        "{e}"
    );
    // L1 entries pointing at L2 tables past the end.
    let mut b = good.clone();
    let l1 = u64::from_be_bytes(b[40..48].try_into().unwrap()) as usize;
    be_write(&mut b, l1, (1u64 << 40) | (1 << 63));
    let p = write(t.path(), "l2.qcow2", &b);
    let e = open_path(p.display().to_string()).unwrap_err();
    assert!(
        e.to_string().contains("L2 table") && e.to_string().contains("past the end"),
        "{e}"
    );
    // Truncated to half: clusters are missing.
    let p = write(t.path(), "half.qcow2", &good[..good.len() / 2]);
    let e = open_path(p.display().to_string()).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");
    // Nonsense cluster size.
    let mut b = good.clone();
    b[20..24].copy_from_slice(&40u32.to_be_bytes());
    let p = write(t.path(), "cb.qcow2", &b);
    let e = open_path(p.display().to_string()).unwrap_err();
    assert!(e.to_string().contains("cluster_bits"), "{e}");
}

#[test]
fn a_broken_ext4_superblock_is_a_clear_error() {
    let f = fixtures();
    let good = std::fs::read(f.join("alpine-ext4.raw")).unwrap();
    let t = tempfile::tempdir().unwrap();
    // A damaged field: caught by the metadata checksum.
    let mut b = good.clone();
    b[1024 + 24] = 9;
    let p = write(t.path(), "bs.raw", &b);
    let e = open_path(format!("disk:{}", p.display())).unwrap_err();
    assert!(
        matches!(e, Error::Corrupt { .. }) && e.to_string().contains("checksum"),
        "{e}"
    );
    // A damaged field with its checksum made to match: caught by validation.
    let fix_csum = |b: &mut Vec<u8>| {
        let c = !crc32c::crc32c(&b[1024..1024 + 0x3fc]);
        b[1024 + 0x3fc..1024 + 0x400].copy_from_slice(&c.to_le_bytes());
    };
    for (off, val, needle) in [
        (24usize, 9u8, "block size"),
        (40 + 3, 0xff, "inodes per group"),
        (3, 0xff, "more inodes"),
        (88, 3, "inode size"),
    ] {
        let mut b = good.clone();
        b[1024 + off] = val;
        fix_csum(&mut b);
        let p = write(t.path(), "v.raw", &b);
        let e = open_path(format!("disk:{}", p.display())).unwrap_err();
        assert!(
            matches!(e, Error::Corrupt { .. }) && e.to_string().contains(needle),
            "{off}: {e}"
        );
    }
    // No magic at all: named as "no filesystem imagewise recognises".
    let mut b = good.clone();
    b[1024 + 56] = 0;
    let p = write(t.path(), "nomagic.raw", &b);
    let e = open_path(format!("disk:{}", p.display())).unwrap_err();
    assert!(
        e.to_string().contains("no filesystem imagewise recognises"),
        "{e}"
    );
}

/// A 4 MiB MBR disk whose one partition starts with `magic` at `at`.
fn mbr_disk_with(magic: &[u8], at: usize) -> Vec<u8> {
    let mut d = vec![0u8; 4 << 20];
    let e = 446;
    d[e + 4] = 0x83;
    d[e + 8..e + 12].copy_from_slice(&2048u32.to_le_bytes());
    d[e + 12..e + 16].copy_from_slice(&4096u32.to_le_bytes());
    d[510] = 0x55;
    d[511] = 0xaa;
    d[(1 << 20) + at..(1 << 20) + at + magic.len()].copy_from_slice(magic);
    d
}

#[test]
fn unknown_filesystems_are_named_with_their_partition() {
    let t = tempfile::tempdir().unwrap();
    for (magic, at, name) in [
        (&b"LUKS\xba\xbe"[..], 0usize, "LUKS"),
        (b"\x10\x20\xf5\xf2", 0x400, "f2fs"),
    ] {
        let p = write(t.path(), "d.raw", &mbr_disk_with(magic, at));
        let e = open_path(format!("disk:{}", p.display())).unwrap_err();
        let s = e.to_string();
        assert!(matches!(e, Error::Unsupported { .. }), "{s}");
        assert!(s.contains("partition 1 (Linux)") && s.contains(name), "{s}");
    }
    // Btrfs and XFS are read: a bare magic with nothing sound behind it is corrupt, and says
    // why.
    let p = write(t.path(), "b.raw", &mbr_disk_with(b"_BHRfS_M", 0x10040));
    let e = open_path(format!("disk:{}", p.display())).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");
    assert!(
        e.to_string().contains("Btrfs") && e.to_string().contains("superblock"),
        "{e}"
    );
    let p = write(t.path(), "x.raw", &mbr_disk_with(b"XFSB", 0));
    let e = open_path(format!("disk:{}", p.display())).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");
    assert!(
        e.to_string().contains("XFS") && e.to_string().contains("block size"),
        "{e}"
    );
    // A partition that runs past the end of the disk.
    let mut d = mbr_disk_with(b"", 0);
    d[446 + 12..446 + 16].copy_from_slice(&1_000_000u32.to_le_bytes());
    let p = write(t.path(), "big.raw", &d);
    let e = open_path(format!("disk:{}", p.display())).unwrap_err();
    assert!(e.to_string().contains("past the end of the disk"), "{e}");
}

#[test]
fn gpt_falls_back_to_the_backup_header_and_rejects_hostile_tables() {
    let t = tempfile::tempdir().unwrap();
    let f = fixtures();
    // A small GPT disk holding the Alpine filesystem in partition 2.
    let disk = t.path().join("gpt.raw");
    let fs = std::fs::read(f.join("alpine-ext4.raw")).unwrap();
    std::fs::write(&disk, vec![0u8; (80 << 20) as usize]).unwrap();
    let st = std::process::Command::new("sgdisk")
        .args([
            "-n",
            "1:2048:+4M",
            "-t",
            "1:ef00",
            "-n",
            "2:0:+64M",
            "-t",
            "2:8300",
        ])
        .arg(&disk)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let mut d = std::fs::read(&disk).unwrap();
    let start = (2048 + 4 * 2048) * 512;
    d[start..start + fs.len()].copy_from_slice(&fs);
    let p = write(t.path(), "gpt.raw", &d);
    let tree = open_path(format!("disk:{}", p.display())).unwrap();
    let info = tree.info().disk.clone().unwrap();
    assert_eq!(
        (info.selected.number, info.selected.table.as_str()),
        (2, "gpt")
    );
    assert_eq!(info.partitions.len(), 2);
    assert_eq!(info.partitions[0].type_name, "EFI System");
    // Primary header damaged: the backup at the end of the disk is used.
    let mut b = d.clone();
    b[512 + 100] ^= 0xff;
    b[512 + 16] ^= 0xff;
    let p = write(t.path(), "primary.raw", &b);
    assert!(open_path(format!("disk:{}", p.display())).is_ok());
    // Both headers damaged.
    let n = b.len();
    b[n - 512 + 16] ^= 0xff;
    let p = write(t.path(), "both.raw", &b);
    let e = open_path(format!("disk:{}", p.display())).unwrap_err();
    assert!(e.to_string().contains("CRC"), "{e}");
    // A header with a valid CRC that claims a huge entry array.
    let mut b = d.clone();
    b[512 + 80..512 + 84].copy_from_slice(&1_000_000u32.to_le_bytes());
    b[512 + 16..512 + 20].fill(0);
    let c = crc32fast::hash(&b[512..512 + 92]);
    b[512 + 16..512 + 20].copy_from_slice(&c.to_le_bytes());
    let n = b.len();
    b[n - 512..n].fill(0);
    let p = write(t.path(), "huge.raw", &b);
    let e = open_path(format!("disk:{}", p.display())).unwrap_err();
    assert!(e.to_string().contains("partition entries"), "{e}");
}

/// A bare ext4 filesystem whose first sector ends in 55AA (a leftover boot sector) is read as
/// the filesystem it is, not as an MBR disk with no partitions.
#[test]
fn a_bare_filesystem_with_a_boot_signature_is_a_filesystem() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/os-release"), "ID=demo\n").unwrap();
    let img = t.path().join("fs.img");
    let st = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "truncate -s 16M {i} && mkfs.ext4 -q -F -d {s} {i} && printf '\\x55\\xaa' | dd of={i} bs=1 seek=510 conv=notrunc status=none",
            i = img.display(),
            s = src.display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
    for reference in [img.display().to_string(), format!("disk:{}", img.display())] {
        let tree = open(&reference, &opts()).unwrap_or_else(|e| panic!("{reference}: {e}"));
        assert_eq!(tree.info().disk.as_ref().unwrap().selected.table, "none");
        assert_eq!(read_all(&tree, "/etc/os-release"), b"ID=demo\n");
    }
}

/// The identity fstab names filesystems by — UUID and label of ext4, FAT, XFS, Btrfs and swap,
/// and the GPT partition GUIDs — equals what blkid and sgdisk read, each filesystem made by
/// its own mkfs in a partition of one GPT disk.
#[test]
fn partition_and_filesystem_ids_are_what_blkid_reads() {
    let t = tempfile::tempdir().unwrap();
    let disk = t.path().join("d.raw");
    let d = disk.display();
    // 1 MiB alignment; sizes above each mkfs's minimum (XFS wants 300 MiB).
    let parts: [(&str, &str, u64); 5] = [
        ("ext4", "mkfs.ext4 -q -F -L rootfs", 64),
        ("vfat", "mkfs.vfat -n EFIBOOT", 64),
        ("xfs", "mkfs.xfs -q -f -L data", 320),
        ("btrfs", "mkfs.btrfs -q -f -L pool", 128),
        ("swap", "mkswap -L swap0", 16),
    ];
    let mut script = format!("truncate -s 700M {d} && sgdisk -o {d} >/dev/null");
    let mut start = 2048u64;
    for (i, (_, _, mib)) in parts.iter().enumerate() {
        let end = start + mib * 2048 - 1;
        script += &format!(" && sgdisk -n {}:{start}:{end} {d} >/dev/null", i + 1);
        start = end + 1;
    }
    let mut offsets = Vec::new();
    let mut s = 2048u64;
    for (i, (_, mkfs, mib)) in parts.iter().enumerate() {
        let f = t.path().join(format!("p{i}"));
        script += &format!(
            " && truncate -s {mib}M {f} && {mkfs} {f} >/dev/null 2>&1 && dd if={f} of={d} bs=1M seek={} conv=notrunc status=none",
            s / 2048,
            f = f.display()
        );
        offsets.push(s * 512);
        s += mib * 2048;
    }
    let st = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .status()
        .unwrap();
    assert!(st.success(), "{script}");
    let blkid = |i: usize, tag: &str| -> Option<String> {
        let f = t.path().join(format!("p{i}"));
        let out = std::process::Command::new("blkid")
            .args(["-o", "value", "-s", tag])
            .arg(&f)
            .output()
            .unwrap();
        let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (!v.is_empty()).then_some(v)
    };
    let tree = open(&format!("disk:{d}#1"), &OpenOptions::default()).unwrap();
    let info = tree.info().disk.clone().unwrap();
    assert_eq!(info.partitions.len(), parts.len());
    for (i, p) in info.partitions.iter().enumerate() {
        assert_eq!(p.filesystem, parts[i].0, "partition {}", i + 1);
        assert_eq!(p.start, offsets[i]);
        assert_eq!(p.fs_uuid, blkid(i, "UUID"), "{} UUID", parts[i].0);
        assert_eq!(p.fs_label, blkid(i, "LABEL"), "{} label", parts[i].0);
        let sg = std::process::Command::new("sgdisk")
            .args(["-i", &(i + 1).to_string()])
            .arg(&disk)
            .output()
            .unwrap();
        let guid = String::from_utf8_lossy(&sg.stdout)
            .lines()
            .find_map(|l| {
                l.strip_prefix("Partition unique GUID: ")
                    .map(str::to_string)
            })
            .unwrap();
        assert_eq!(
            p.part_uuid.as_deref().map(str::to_ascii_uppercase),
            Some(guid)
        );
    }
}
