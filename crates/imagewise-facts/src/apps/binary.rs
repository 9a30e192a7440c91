//! Dependencies compiled into programs: the build information Go writes into `.go.buildinfo`
//! (module path, version and dependencies, as `go version -m` prints them; Go 1.18 and later,
//! whose strings are inline) and the dependency list cargo-auditable writes into `.dep-v0`
//! (zlib-compressed JSON). Only the ELF header, the section table, its names and those two
//! sections are read where the image can seek; otherwise an ELF file is read once.
//!
//! goblin parses the headers; the two formats are small and specific (Go's `debug/buildinfo`,
//! the `auditable-serde` schema), so they are read here.

use std::io::{Cursor, Read, Seek, SeekFrom};

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::{header, Elf, SectionHeader};
use imagewise_source::FileRead;
use serde_json::Value;

use super::Scanned;
use crate::report::{Ecosystem, Package};

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// Sections past this are not read.
const MAX_SECTION: u64 = 16 << 20;
/// cargo-auditable's JSON past this (inflated) is refused.
const MAX_DEP_JSON: u64 = 64 << 20;

pub(crate) fn scan(path: &str, size: u64, r: &mut dyn FileRead, out: &mut Scanned) {
    match r.seekable() {
        Some(s) => elf(path, s, out),
        None => {
            let mut head = [0u8; 4];
            if r.read_exact(&mut head).is_err() || &head != b"\x7fELF" {
                return;
            }
            let mut buf = head.to_vec();
            buf.reserve(size as usize);
            if r.take(super::MAX_SCANNED).read_to_end(&mut buf).is_err() {
                return;
            }
            elf(path, Cursor::new(buf), out);
        }
    }
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, len: u64) -> Option<Vec<u8>> {
    r.seek(SeekFrom::Start(at)).ok()?;
    let mut b = vec![0u8; usize::try_from(len).ok()?];
    r.read_exact(&mut b).ok()?;
    Some(b)
}

fn elf<R: Read + Seek>(path: &str, mut r: R, out: &mut Scanned) {
    let Some(head) = read_at(&mut r, 0, 64) else {
        return;
    };
    if &head[..4] != b"\x7fELF" {
        return;
    }
    let Ok(h) = Elf::parse_header(&head) else {
        return;
    };
    let ctx = Ctx::new(
        if h.e_ident[header::EI_CLASS] == header::ELFCLASS64 {
            Container::Big
        } else {
            Container::Little
        },
        if h.e_ident[header::EI_DATA] == header::ELFDATA2LSB {
            Endian::Little
        } else {
            Endian::Big
        },
    );
    let (count, entsize) = (usize::from(h.e_shnum), u64::from(h.e_shentsize));
    if count == 0 || count > 65_535 || entsize < 40 {
        return;
    }
    let Some(table) = read_at(&mut r, h.e_shoff, entsize * count as u64) else {
        return;
    };
    // `parse_from`: the table was read on its own, so offset 0 is its start.
    let Ok(sections) = SectionHeader::parse_from(&table, 0, count, ctx) else {
        return;
    };
    let Some(names) = sections
        .get(usize::from(h.e_shstrndx))
        .filter(|s| s.sh_size <= MAX_SECTION)
        .and_then(|s| read_at(&mut r, s.sh_offset, s.sh_size))
    else {
        return;
    };
    let name_of = |s: &SectionHeader| {
        let start = s.sh_name;
        let rest = names.get(start..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    };
    for s in &sections {
        let Some(n) = name_of(s) else { continue };
        if n != ".go.buildinfo" && n != ".dep-v0" {
            continue;
        }
        // A section with no bytes in the file (SHT_NOBITS) or absurdly large is skipped.
        if s.sh_type == goblin::elf::section_header::SHT_NOBITS || s.sh_size > MAX_SECTION {
            continue;
        }
        let Some(bytes) = read_at(&mut r, s.sh_offset, s.sh_size) else {
            out.notes
                .push(format!("{path}: section {n} lies past the end of the file"));
            continue;
        };
        if n == ".go.buildinfo" {
            go(path, &bytes, out);
        } else {
            auditable(path, &bytes, out);
        }
    }
}

/// An unsigned LEB128 varint at the start of `b`: (value, bytes used).
fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &x) in b.iter().enumerate().take(10) {
        v |= u64::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// The strings of Go 1.18+ build information: (Go version, module information text).
fn go_strings(b: &[u8]) -> Option<(String, String)> {
    let mut at = 32;
    let mut next = || -> Option<String> {
        let (len, used) = uvarint(b.get(at..)?)?;
        at += used;
        let s = b.get(at..at.checked_add(usize::try_from(len).ok()?)?)?;
        at += s.len();
        Some(String::from_utf8_lossy(s).into_owned())
    };
    let version = next()?;
    let mut modinfo = next()?;
    // The module text is framed by 16 bytes of sentinel on each side.
    if modinfo.len() >= 33 && modinfo.as_bytes()[modinfo.len() - 17] == b'\n' {
        modinfo = String::from_utf8_lossy(&modinfo.as_bytes()[16..modinfo.len() - 16]).into_owned();
    }
    Some((version, modinfo))
}

fn go_package(module: &str, version: &str, database: &str) -> Package {
    let (ns, name) = match module.rsplit_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, module),
    };
    super::package(
        Ecosystem::Golang,
        module,
        version,
        super::purl("golang", ns, name, version),
        database,
    )
}

fn go(path: &str, b: &[u8], out: &mut Scanned) {
    if !b.starts_with(GO_MAGIC) || b.len() < 32 {
        return;
    }
    if b[15] & 2 == 0 {
        out.notes.push(format!(
            "{path}: a Go binary from before Go 1.18, whose build information is not read"
        ));
        return;
    }
    let Some((version, modinfo)) = go_strings(b) else {
        out.notes
            .push(format!("{path}: Go build information is cut short"));
        return;
    };
    if let Some(v) = version.strip_prefix("go") {
        // The standard library, as OSV's Go ecosystem names it.
        let v = v.split([' ', '-']).next().unwrap_or(v);
        out.packages.push(super::package(
            Ecosystem::Golang,
            "stdlib",
            v,
            super::purl("golang", None, "stdlib", v),
            path,
        ));
    }
    let mut pending: Option<Package> = None;
    for line in modinfo.lines() {
        match line.split('\t').collect::<Vec<_>>().as_slice() {
            ["mod", module, version, ..] | ["dep", module, version, ..] => {
                out.packages.extend(pending.take());
                pending = Some(go_package(module, version, path));
            }
            // A replacement of the module just listed: the one built in (a replacement by a
            // local directory has no version of its own: the requirement stands).
            ["=>", module, version, ..] if !module.starts_with(['.', '/']) => {
                if let Some(p) = pending.as_mut() {
                    *p = go_package(module, version, path);
                }
            }
            _ => {}
        }
    }
    out.packages.extend(pending.take());
}

fn auditable(path: &str, b: &[u8], out: &mut Scanned) {
    let mut json = Vec::new();
    if let Err(e) = flate2::read::ZlibDecoder::new(b)
        .take(MAX_DEP_JSON + 1)
        .read_to_end(&mut json)
    {
        out.notes.push(format!(
            "{path}: cargo-auditable data does not inflate ({e})"
        ));
        return;
    }
    if json.len() as u64 > MAX_DEP_JSON {
        out.notes.push(format!(
            "{path}: cargo-auditable data inflates past {MAX_DEP_JSON} bytes"
        ));
        return;
    }
    let v: Value = match serde_json::from_slice(&json) {
        Ok(v) => v,
        Err(e) => {
            out.notes
                .push(format!("{path}: cargo-auditable data is not JSON ({e})"));
            return;
        }
    };
    let Some(list) = v["packages"].as_array() else {
        out.notes
            .push(format!("{path}: cargo-auditable data lists no packages"));
        return;
    };
    let root_deps: Vec<u64> = list
        .iter()
        .find(|p| p["root"].as_bool() == Some(true))
        .and_then(|p| p["dependencies"].as_array())
        .map(|d| d.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    for (i, e) in list.iter().enumerate() {
        let (Some(name), Some(version)) = (e["name"].as_str(), e["version"].as_str()) else {
            continue;
        };
        let mut p = super::package(
            Ecosystem::Cargo,
            name,
            version,
            super::purl("cargo", None, name, version),
            path,
        );
        if e["root"].as_bool() != Some(true) {
            p.dependency = Some(
                if root_deps.contains(&(i as u64)) {
                    "direct"
                } else {
                    "transitive"
                }
                .into(),
            );
        }
        out.packages.push(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_build_information() {
        let modinfo = "path\texample.com/cmd/x\nmod\texample.com\t(devel)\t\ndep\tgolang.org/x/sys\tv0.1.0\th1:abc=\ndep\tgithub.com/a/b\tv1.0.0\th1:x=\n=>\tgithub.com/fork/b\tv1.0.1-0.20230101000000-abcdef123456\th1:y=\nbuild\tGOOS=linux\n";
        let framed = format!("{}{modinfo}{}", "0".repeat(16), "1".repeat(16));
        let mut b = GO_MAGIC.to_vec();
        b.extend([8u8, 2]);
        b.resize(32, 0);
        for s in ["go1.21.5", framed.as_str()] {
            b.push(s.len() as u8 & 0x7f | 0x80);
            b.push((s.len() >> 7) as u8);
            b.extend(s.as_bytes());
        }
        let mut out = Scanned::default();
        go("/usr/bin/x", &b, &mut out);
        let got: Vec<(&str, &str)> = out
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("stdlib", "1.21.5"),
                ("example.com", "(devel)"),
                ("golang.org/x/sys", "v0.1.0"),
                ("github.com/fork/b", "v1.0.1-0.20230101000000-abcdef123456"),
            ]
        );
        assert_eq!(out.packages[2].purl, "pkg:golang/golang.org/x/sys@v0.1.0");
        // Cut short: a note, no panic.
        let mut out = Scanned::default();
        go("/usr/bin/x", &b[..40], &mut out);
        assert_eq!(out.notes.len(), 1);
    }
}
