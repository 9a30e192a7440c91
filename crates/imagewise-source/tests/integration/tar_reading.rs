//! What the tar reader must get right that the peer corpus found wrong: binary xattr values,
//! PAX sizes past the data, names that are not UTF-8, fields other writers leave blank, V7
//! directories, compressions that are named instead of misread.

use imagewise_source::{EntryKind, Error};

use crate::support::*;

/// A PAX body: `LEN key=value\n` records, LEN counting the whole record.
fn pax(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let body = k.len() + v.len() + 3; // ' ', '=', '\n'
        let mut len = body + 1;
        while len != body + len.to_string().len() {
            len = body + len.to_string().len();
        }
        out.extend_from_slice(format!("{len} {k}=").as_bytes());
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

fn pax_member(data: &[u8]) -> Member<'_> {
    let mut m = file("PaxHeaders/x", data);
    m.kind = b'x';
    m
}

/// Rewrite a header's name with raw bytes and fix its checksum.
fn with_name(mut h: [u8; 512], name: &[u8]) -> [u8; 512] {
    h[..100].fill(0);
    h[..name.len()].copy_from_slice(name);
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

#[test]
fn binary_xattr_values_with_newlines_are_read_whole() {
    let t = tempfile::tempdir().unwrap();
    let ima: &[u8] = b"\x03\x02\x04\n\x00\xff\n=";
    let cap: &[u8] = b"\x01\x00\x00\x02\x00\x20\x00\x00\n\x00\x00\x00";
    let body = pax(&[
        ("SCHILY.xattr.security.ima", ima),
        ("SCHILY.xattr.security.capability", cap),
        ("LIBARCHIVE.xattr.user.a%3Db", b"aGVsbG8="),
    ]);
    let bytes = tar(&[
        pax_member(&body),
        file("bin/ping", b"ELF"),
        file("next", b"n"),
    ]);
    let p = write(t.path(), "x.tar", &bytes);
    let tree = open_path(p.display().to_string()).unwrap();
    let e = tree.get("/bin/ping").unwrap();
    assert_eq!(e.xattrs["security.ima"], ima);
    assert_eq!(e.xattrs["security.capability"], cap);
    assert_eq!(e.xattrs["user.a=b"], b"hello");
    assert!(tree.get("/next").is_some(), "the member after it is read");
}

#[test]
fn a_pax_size_past_the_data_is_a_truncated_archive_like_a_header_size() {
    let t = tempfile::tempdir().unwrap();
    let body = pax(&[("size", b"4000")]);
    // The PAX record says 4000 bytes; 10 follow, then another member, then the end.
    let with_pax = tar(&[pax_member(&body), file("a", b"0123456789"), file("b", b"b")]);
    let mut plain = file("a", b"0123456789");
    plain.declared = Some(4000);
    let without = tar(&[plain, file("b", b"b")]);
    for (label, bytes) in [("pax", with_pax), ("header", without)] {
        for (ext, data) in [
            ("tar", bytes.clone()),
            ("tar.gz", gzip(&bytes)),
            ("tar.zst", zstd(&bytes)),
        ] {
            let p = write(t.path(), &format!("{label}.{ext}"), &data);
            let e = open_path(p.display().to_string()).expect_err(&format!("{label}.{ext}"));
            assert!(matches!(e, Error::Corrupt { .. }), "{label}.{ext}: {e}");
            assert!(e.to_string().contains("truncated"), "{label}.{ext}: {e}");
        }
    }
}

#[test]
fn names_that_are_not_utf8_never_merge_and_read_back() {
    let t = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for (name, data) in [
        (&b"caf\xe9"[..], &b"latin-1"[..]),
        (b"caf\\xe9", b"literal backslash"),
        (b"caf\xc3\xa9", b"utf-8"),
    ] {
        bytes.extend_from_slice(&with_name(header(&file("placeholder", data)), name));
        bytes.extend_from_slice(data);
        bytes.resize(bytes.len().div_ceil(512) * 512, 0);
    }
    bytes.extend_from_slice(&[0u8; 1024]);
    let p = write(t.path(), "names.tar", &bytes);
    let tree = open_path(p.display().to_string()).unwrap();
    let names: Vec<&str> = tree
        .entries()
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(read_all(&tree, "/caf\\xe9"), b"latin-1");
    assert_eq!(read_all(&tree, "/caf\\\\xe9"), b"literal backslash");
    assert_eq!(read_all(&tree, "/café"), b"utf-8");
    for n in names {
        let raw = imagewise_source::names::to_bytes(n);
        assert_eq!(imagewise_source::names::from_bytes(&raw), n);
    }
}

#[test]
fn a_nul_ends_a_name_and_an_xattr_name_with_a_nul_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let body = pax(&[("path", b"real\0ignored")]);
    let p = write(
        t.path(),
        "nul.tar",
        &tar(&[pax_member(&body), file("x", b"1")]),
    );
    let tree = open_path(p.display().to_string()).unwrap();
    assert!(tree.get("/real").is_some());
    let body = pax(&[("SCHILY.xattr.user.a\0b", b"v")]);
    let p = write(
        t.path(),
        "xnul.tar",
        &tar(&[pax_member(&body), file("x", b"1")]),
    );
    let e = open_path(p.display().to_string()).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("NUL"), "{e}");
}

#[test]
fn blank_fields_v7_directories_and_sized_hardlinks_read_as_gnu_tar_reads_them() {
    let t = tempfile::tempdir().unwrap();
    // Blank uid/gid (plexus archiver writes spaces), a V7 directory with a size, an old-style
    // hardlink that carries its target's size, then a file that must still be found.
    let mut h = header(&file("blank", b"abc"));
    h[108..116].copy_from_slice(b"       \0");
    h[116..124].fill(0);
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut bytes = h.to_vec();
    bytes.extend_from_slice(b"abc");
    bytes.resize(1024, 0);
    let mut v7 = file("olddir/", b"");
    v7.kind = 0;
    v7.declared = Some(1);
    let mut link = hardlink("again", "blank");
    link.declared = Some(3);
    let rest = tar(&[v7, link, file("last", b"z")]);
    bytes.extend_from_slice(&rest);
    let p = write(t.path(), "old.tar", &bytes);
    let tree = open_path(p.display().to_string()).unwrap();
    let e = tree.get("/blank").unwrap();
    assert_eq!((e.uid, e.gid, e.size), (0, 0, 3));
    assert_eq!(tree.get("/olddir").unwrap().kind, EntryKind::Dir);
    // Two names of one file: the first in byte order is the file, the other its hardlink.
    assert_eq!(tree.get("/blank").unwrap().kind, EntryKind::Hardlink);
    assert_eq!(read_all(&tree, "/again"), b"abc");
    assert_eq!(read_all(&tree, "/last"), b"z");
}

#[test]
fn compressions_that_are_not_read_are_named() {
    let t = tempfile::tempdir().unwrap();
    for (magic, name) in [
        (&[0x1f, 0x9d, 0x90][..], "compress (.Z)"),
        (&[0x89, b'L', b'Z', b'O', 0, 0x0d, 0x0a, 0x1a, 0x0a], "lzop"),
        (&[0x02, 0x21, 0x4c, 0x18], "lz4 (legacy format)"),
        (&[0x04, 0x22, 0x4d, 0x18], "lz4"),
        (b"BZh91AY&SY", "bzip2"),
    ] {
        let mut data = magic.to_vec();
        data.resize(2048, 0x55);
        let p = write(t.path(), "c.tar.x", &data);
        let e = open_path(p.display().to_string()).unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{name}: {e}");
        assert!(
            e.to_string().contains(&format!("compressed with {name},")),
            "{name}: {e}"
        );
    }
    // Garbage named as a tar says so, in words.
    let p = write(t.path(), "garbage", &[0xa5; 2048]);
    let e = open_path(format!("tar:{}", p.display())).unwrap_err();
    assert!(
        e.to_string().contains("does not look like a tar archive"),
        "{e}"
    );
}

#[test]
fn zstd_after_a_skippable_frame_is_read() {
    let t = tempfile::tempdir().unwrap();
    let inner = tar(&[file("f", b"data")]);
    let mut data = vec![0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4];
    data.extend_from_slice(&zstd(&inner));
    let p = write(t.path(), "skip.tar.zst", &data);
    let tree = open_path(p.display().to_string()).unwrap();
    assert_eq!(read_all(&tree, "/f"), b"data");
}

/// Go's 6 KB archives holding a 60 GB sparse member: the unpacked-bytes limit applies to what
/// sparse members unpack to, so a lowered limit refuses them before any hole is read.
#[test]
fn sparse_members_count_against_the_unpacked_bytes_limit() {
    let go = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/peer-corpus/golang-archive-tar/testdata");
    for name in ["gnu-sparse-big.tar", "pax-sparse-big.tar"] {
        let p = go.join(name).display().to_string();
        let limits = imagewise_source::Limits {
            max_unpacked_bytes: 1 << 30,
            ..imagewise_source::Limits::default()
        };
        let e = open_limited(&p, limits).unwrap_err();
        assert!(matches!(e, Error::LimitExceeded { .. }), "{name}: {e}");
        assert!(e.to_string().contains("--max-unpacked-bytes"), "{e}");
        // Under the default limit it is listed, at its real size.
        let tree = open_path(&p).unwrap();
        assert!(
            tree.entries().iter().any(|e| e.size == 60_000_000_000),
            "{name}"
        );
    }
}
