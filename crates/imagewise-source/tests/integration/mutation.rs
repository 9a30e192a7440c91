//! Mutated inputs never panic: byte flips and truncations of valid tar, OCI archive, qcow2,
//! VMDK (sparse, stream-optimized), VHD (dynamic, fixed), VHDX, GPT, XFS, Btrfs, squashfs and
//! ISO images either open (and then read without panicking) or fail with an error. This is the
//! stable-toolchain stand-in for the cargo-fuzz targets in fuzz/.

use std::path::PathBuf;
use std::sync::OnceLock;

use imagewise_source::{open, ImageTree, Limits, OpenOptions};
use proptest::prelude::*;

use crate::support::*;

struct Seeds {
    _dir: tempfile::TempDir,
    tar_gz: Vec<u8>,
    oci_tar: Vec<u8>,
    qcow2: Vec<u8>,
    gpt: Vec<u8>,
    /// (qemu-img format and options, bytes) of the GPT disk in the other containers.
    containers: Vec<(&'static str, Vec<u8>)>,
    /// A small XFS v5 filesystem made by `mkfs.xfs -p` (directories in short and leaf form,
    /// a symlink, a multi-block file).
    xfs: Vec<u8>,
    /// The same small tree as a zstd squashfs.
    squashfs: Vec<u8>,
    /// The same tree as a Rock Ridge and Joliet ISO made by xorriso.
    iso: Vec<u8>,
    /// The same tree as a mixed-block-group Btrfs made by `mkfs.btrfs --rootdir`, and where
    /// its tree nodes are (their checksums are redone after a flip, so that damage gets past
    /// them to the parser).
    btrfs: Vec<u8>,
    btrfs_nodes: Vec<usize>,
}

fn seeds() -> &'static Seeds {
    static S: OnceLock<Seeds> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let layer = tar(&[
            dir_m("etc"),
            file("etc/os-release", b"ID=mut\n"),
            symlink("etc/link", "os-release"),
            hardlink("etc/hard", "etc/os-release"),
            file("bin/tool", &[7u8; 3000]),
        ]);
        let tar_gz = gzip(&layer);
        let layout = dir.path().join("layout");
        let m = image(&layout, "amd64", &[(LAYER_GZ, tar_gz.clone())]);
        write_index(&layout, vec![m]);
        let oci_tar = run_tar(&layout, &dir.path().join("o.tar"));
        // A small ext4 filesystem in a GPT disk, and its compressed qcow2.
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/os-release"), b"ID=mut\n").unwrap();
        std::fs::write(root.join("big"), vec![3u8; 70_000]).unwrap();
        let fs = dir.path().join("fs.raw");
        std::fs::write(&fs, vec![0u8; 2 << 20]).unwrap();
        sh(
            "mkfs.ext4",
            &[
                "-q",
                "-F",
                "-b",
                "1024",
                "-N",
                "64",
                "-d",
                root.to_str().unwrap(),
                fs.to_str().unwrap(),
            ],
        );
        let disk = dir.path().join("gpt.raw");
        std::fs::write(&disk, vec![0u8; 4 << 20]).unwrap();
        sh(
            "sgdisk",
            &["-n", "1:2048:+2M", "-t", "1:8300", disk.to_str().unwrap()],
        );
        let mut gpt = std::fs::read(&disk).unwrap();
        let fsb = std::fs::read(&fs).unwrap();
        gpt[1 << 20..(1 << 20) + fsb.len()].copy_from_slice(&fsb);
        std::fs::write(&disk, &gpt).unwrap();
        let q = dir.path().join("d.qcow2");
        sh(
            "qemu-img",
            &[
                "convert",
                "-c",
                "-O",
                "qcow2",
                "-o",
                "cluster_size=4096",
                disk.to_str().unwrap(),
                q.to_str().unwrap(),
            ],
        );
        let qcow2 = std::fs::read(&q).unwrap();
        let mut containers = Vec::new();
        for (name, fmt, opt) in [
            ("vmdk", "vmdk", "subformat=monolithicSparse"),
            ("vmdk-stream", "vmdk", "subformat=streamOptimized"),
            ("vhd-dynamic", "vpc", "subformat=dynamic"),
            ("vhd-fixed", "vpc", "subformat=fixed,force_size=on"),
            ("vhdx", "vhdx", "subformat=dynamic,block_size=1M"),
        ] {
            let out = dir.path().join(name);
            sh(
                "qemu-img",
                &[
                    "convert",
                    "-O",
                    fmt,
                    "-o",
                    opt,
                    disk.to_str().unwrap(),
                    out.to_str().unwrap(),
                ],
            );
            containers.push((name, std::fs::read(&out).unwrap()));
        }
        let xroot = dir.path().join("xroot");
        std::fs::create_dir_all(xroot.join("etc")).unwrap();
        std::fs::create_dir_all(xroot.join("many")).unwrap();
        std::fs::write(xroot.join("etc/os-release"), b"ID=mut\n").unwrap();
        std::fs::write(xroot.join("big"), vec![5u8; 200_000]).unwrap();
        for i in 0..300 {
            std::fs::write(xroot.join(format!("many/entry-{i:04}")), b"x").unwrap();
        }
        // Inline only: xfsprogs 6.1's `mkfs.xfs -p` writes a v5 remote symlink block without its
        // XSLM header (xfs_db reports the CRC error too); imagewise rightly refuses that.
        std::os::unix::fs::symlink("etc/os-release", xroot.join("link")).unwrap();
        let proto = dir.path().join("proto");
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/xfs-proto.py");
        let out = std::process::Command::new("python3")
            .arg(&script)
            .arg(&xroot)
            .output()
            .unwrap();
        std::fs::write(&proto, &out.stdout).unwrap();
        let x = dir.path().join("x.xfs");
        std::fs::write(&x, vec![0u8; 16 << 20]).unwrap();
        // mkfs.xfs refuses under 300 MB unless it is told this is a test filesystem.
        let st = std::process::Command::new("mkfs.xfs")
            .args([
                "-q",
                "-f",
                "-p",
                proto.to_str().unwrap(),
                x.to_str().unwrap(),
            ])
            .env("TEST_DIR", "1")
            .env("TEST_DEV", "1")
            .env("QA_CHECK_FS", "1")
            .status()
            .unwrap();
        assert!(st.success(), "mkfs.xfs of the seed");
        let xfs = std::fs::read(&x).unwrap();
        let q = dir.path().join("x.sqfs");
        let st = std::process::Command::new("mksquashfs")
            .arg(&xroot)
            .arg(&q)
            .args([
                "-comp",
                "zstd",
                "-noappend",
                "-no-progress",
                "-quiet",
                "-b",
                "4096",
            ])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "mksquashfs of the seed");
        let squashfs = std::fs::read(&q).unwrap();
        let i = dir.path().join("x.iso");
        let st = std::process::Command::new("xorriso")
            .args(["-as", "mkisofs", "-R", "-J", "-o"])
            .arg(&i)
            .arg(&xroot)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "xorriso of the seed");
        let iso = std::fs::read(&i).unwrap();
        let b = dir.path().join("x.btrfs");
        std::fs::write(&b, vec![0u8; 16 << 20]).unwrap();
        sh(
            "mkfs.btrfs",
            &[
                "-q",
                "-f",
                "-M",
                "--rootdir",
                xroot.to_str().unwrap(),
                b.to_str().unwrap(),
            ],
        );
        let btrfs = std::fs::read(&b).unwrap();
        let fsid = &btrfs[0x10020..0x10030];
        let nodesize = u32::from_le_bytes(btrfs[0x10094..0x10098].try_into().unwrap()) as usize;
        let btrfs_nodes: Vec<usize> = (0..btrfs.len() / nodesize)
            .map(|i| i * nodesize)
            .filter(|&o| o != 0x10000 && &btrfs[o + 0x20..o + 0x30] == fsid)
            .collect();
        assert!(btrfs_nodes.len() >= 4, "{} nodes", btrfs_nodes.len());
        Seeds {
            _dir: dir,
            tar_gz,
            oci_tar,
            qcow2,
            gpt,
            containers,
            xfs,
            squashfs,
            iso,
            btrfs,
            btrfs_nodes,
        }
    })
}

fn dir_m(name: &str) -> Member<'_> {
    dir(name)
}

fn sh(cmd: &str, args: &[&str]) {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_tar(dir: &std::path::Path, out: &std::path::Path) -> Vec<u8> {
    sh(
        "tar",
        &[
            "-C",
            dir.to_str().unwrap(),
            "-cf",
            out.to_str().unwrap(),
            ".",
        ],
    );
    std::fs::read(out).unwrap()
}

/// Open the mutated bytes and, if that works, read every file: no panic either way.
fn exercise(prefix: &str, bytes: &[u8]) {
    let t = tempfile::tempdir().unwrap();
    let p: PathBuf = write(t.path(), "input", bytes);
    let opts = OpenOptions {
        limits: Limits {
            max_unpacked_bytes: 64 << 20,
            max_entries: 100_000,
            ..Limits::default()
        },
        ..OpenOptions::default()
    };
    if let Ok(tree) = open(&format!("{prefix}{}", p.display()), &opts) {
        read_everything(&tree);
    }
}

fn read_everything(tree: &ImageTree) {
    for e in tree.entries() {
        let _ = tree.read(&e.path, 1 << 24);
        let _ = tree.resolve(&e.path, true);
    }
}

fn mutate(seed: &[u8], flips: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut b = seed.to_vec();
    for &(at, x) in flips {
        let i = at % b.len();
        b[i] ^= x.max(1);
    }
    if let Some(c) = cut {
        b.truncate(c % (b.len() + 1));
    }
    b
}

fn flips() -> impl Strategy<Value = Vec<(usize, u8)>> {
    proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn mutated_tar_gz_never_panics(f in flips(), cut in proptest::option::of(any::<usize>())) {
        exercise("tar:", &mutate(&seeds().tar_gz, &f, cut));
    }

    #[test]
    fn mutated_plain_tar_never_panics(f in flips(), cut in proptest::option::of(any::<usize>())) {
        let plain = tar(&[file("a", b"x"), symlink("l", "../../a"), hardlink("h", "a"), dir("d")]);
        exercise("tar:", &mutate(&plain, &f, cut));
    }

    #[test]
    fn mutated_oci_archive_never_panics(f in flips(), cut in proptest::option::of(any::<usize>())) {
        exercise("oci-archive:", &mutate(&seeds().oci_tar, &f, cut));
    }

    #[test]
    fn mutated_qcow2_never_panics(f in flips(), cut in proptest::option::of(any::<usize>())) {
        // Aim most flips at the header and tables, where the structure is.
        let f: Vec<(usize, u8)> = f.into_iter().map(|(a, x)| (a % 8192, x)).collect();
        exercise("disk:", &mutate(&seeds().qcow2, &f, cut));
    }

    #[test]
    fn mutated_vmdk_vhd_vhdx_never_panic(f in flips(), cut in proptest::option::of(any::<usize>()), which in 0usize..5) {
        let (name, seed) = &seeds().containers[which];
        // Aim the flips at where each keeps its structure: headers, tables and footers at
        // the start and the end of the file.
        let len = seed.len();
        let f: Vec<(usize, u8)> = f.into_iter().map(|(a, x)| {
            let window = if *name == "vhdx" { 4 << 20 } else { 65_536 };
            let a = a % (2 * window);
            (if a < window { a } else { len.saturating_sub(1 + a - window) }, x)
        }).collect();
        exercise("disk:", &mutate(seed, &f, cut));
    }

    #[test]
    fn mutated_xfs_never_panics(f in flips(), cut in proptest::option::of(any::<usize>())) {
        // Superblock, AG headers, the first inode chunk and directory blocks are near the start.
        let f: Vec<(usize, u8)> = f.into_iter().map(|(a, x)| (a % (256 << 10), x)).collect();
        exercise("disk:", &mutate(&seeds().xfs, &f, cut));
    }

    #[test]
    fn mutated_squashfs_never_panics(f in flips(), cut in proptest::option::of(any::<usize>())) {
        // The superblock and data at the start; inode, directory and id tables at the end.
        let len = seeds().squashfs.len();
        let f: Vec<(usize, u8)> = f.into_iter().map(|(a, x)| {
            let a = a % 16_384;
            (if a < 4096 { a } else { len.saturating_sub(1 + a - 4096) }, x)
        }).collect();
        exercise("disk:", &mutate(&seeds().squashfs, &f, cut));
    }

    #[test]
    fn mutated_btrfs_never_panics(f in flips(), cut in proptest::option::of(any::<usize>()), fix in any::<bool>()) {
        // Flips in the superblock and the tree nodes; usually with their checksums redone, so
        // that the damage reaches the parser behind them.
        let seeds = seeds();
        let nodesize = u32::from_le_bytes(seeds.btrfs[0x10094..0x10098].try_into().unwrap()) as usize;
        let blocks: Vec<usize> = std::iter::once(0x10000).chain(seeds.btrfs_nodes.iter().copied()).collect();
        let f: Vec<(usize, u8)> = f.into_iter().map(|(a, x)| {
            let block = blocks[a % blocks.len()];
            (block + (a / blocks.len()) % if block == 0x10000 { 4096 } else { nodesize }, x)
        }).collect();
        let mut b = mutate(&seeds.btrfs, &f, None);
        if fix {
            for &block in &blocks {
                let len = if block == 0x10000 { 4096 } else { nodesize };
                let crc = crc32c::crc32c(&b[block + 32..block + len]);
                b[block..block + 4].copy_from_slice(&crc.to_le_bytes());
            }
        }
        if let Some(c) = cut {
            b.truncate(c % (b.len() + 1));
        }
        exercise("disk:", &b);
    }

    #[test]
    fn mutated_iso_never_panics(f in flips(), cut in proptest::option::of(any::<usize>())) {
        // Volume descriptors from 32 KiB, then path tables and directories.
        let f: Vec<(usize, u8)> = f.into_iter().map(|(a, x)| (32_768 + a % 65_536, x)).collect();
        exercise("disk:", &mutate(&seeds().iso, &f, cut));
    }

    #[test]
    fn mutated_gpt_ext4_never_panics(f in flips(), cut in proptest::option::of(any::<usize>())) {
        // The partition table and the filesystem's metadata blocks.
        let f: Vec<(usize, u8)> = f.into_iter().map(|(a, x)| {
            let a = a % 40_000;
            (if a < 20_000 { a } else { (1 << 20) + a }, x)
        }).collect();
        exercise("disk:", &mutate(&seeds().gpt, &f, cut));
    }
}

#[test]
fn the_seeds_themselves_open() {
    let s = seeds();
    for (prefix, bytes) in [
        ("tar:", &s.tar_gz),
        ("oci-archive:", &s.oci_tar),
        ("disk:", &s.qcow2),
        ("disk:", &s.gpt),
        ("disk:", &s.containers[0].1),
        ("disk:", &s.containers[1].1),
        ("disk:", &s.containers[2].1),
        ("disk:", &s.containers[3].1),
        ("disk:", &s.containers[4].1),
        ("disk:", &s.xfs),
        ("disk:", &s.squashfs),
        ("disk:", &s.iso),
        // Detected by magic, without a prefix.
        ("", &s.iso),
        ("", &s.xfs),
        ("", &s.containers[0].1),
        ("", &s.containers[2].1),
        ("", &s.containers[4].1),
    ] {
        let t = tempfile::tempdir().unwrap();
        let p = write(t.path(), "input", bytes);
        let tree = open(&format!("{prefix}{}", p.display()), &OpenOptions::default())
            .unwrap_or_else(|e| panic!("{prefix} seed: {e}"));
        assert_eq!(
            tree.read("/etc/os-release", 100).unwrap(),
            b"ID=mut\n",
            "{prefix}"
        );
    }
}
