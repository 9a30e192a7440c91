//! Which C library the image's programs run on, and its version: glibc (`libc.so.6` beside an
//! `ld-linux*` loader) or musl (`ld-musl-<arch>.so.1`, which is the library itself), else none.
//!
//! The version comes from the library's own bytes — glibc embeds `… release version 2.36.`,
//! musl its bare version string — and falls back to the package that ships it.

use imagewise_source::{EntryKind, ImageTree};

use crate::elf::{self, ElfHead};
use crate::files::{self, Files, Wants};
use crate::report::{Libc, LibcKind, Package};

const LIB_DIRS: [&str; 4] = ["/lib", "/lib64", "/usr/lib", "/usr/lib64"];
const MAX_LIBC: u64 = 64 << 20;

/// Where the C library and its loader are, from names alone.
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    glibc: Vec<String>,
    glibc_loaders: Vec<String>,
    musl: Vec<String>,
}

/// The library directories, with Debian's multiarch ones (`/usr/lib/x86_64-linux-gnu`, …).
pub(crate) fn lib_dirs(tree: &ImageTree) -> Vec<String> {
    let mut dirs: Vec<String> = LIB_DIRS.iter().map(|d| d.to_string()).collect();
    for d in LIB_DIRS {
        for e in files::children(tree, d) {
            if e.kind == EntryKind::Dir && files::base_name(&e.path).contains("-linux-") {
                dirs.push(files::join(d, files::base_name(&e.path)));
            }
        }
    }
    dirs
}

pub(crate) fn candidates(tree: &ImageTree) -> Candidates {
    let mut c = Candidates::default();
    for d in &lib_dirs(tree) {
        for e in files::children(tree, d) {
            let name = files::base_name(&e.path);
            let path = files::join(d, name);
            if name == "libc.so.6" {
                c.glibc.push(path);
            } else if name.starts_with("ld-musl-") && name.ends_with(".so.1") {
                c.musl.push(path);
            } else if name.starts_with("ld-linux")
                || name.starts_with("ld64.so")
                || name == "ld.so.1"
            {
                c.glibc_loaders.push(path);
            }
        }
    }
    for v in [&mut c.glibc, &mut c.glibc_loaders, &mut c.musl] {
        // The same file through /lib -> usr/lib shows twice; keep the first spelling.
        let mut seen = std::collections::HashSet::new();
        v.retain(|p| {
            let real = tree
                .resolve(p, true)
                .map(|e| e.path.clone())
                .unwrap_or_default();
            !real.is_empty() && seen.insert(real)
        });
    }
    c
}

impl Candidates {
    /// The C library files and loaders, whose ELF headers tell the architecture too.
    pub fn files(&self) -> Vec<String> {
        self.glibc
            .iter()
            .chain(&self.glibc_loaders)
            .chain(&self.musl)
            .cloned()
            .collect()
    }
}

pub(crate) fn want(c: &Candidates, w: &mut Wants) {
    for p in c.glibc.iter().chain(&c.musl) {
        w.whole(p.clone(), MAX_LIBC);
    }
}

pub(crate) fn detect(
    c: &Candidates,
    files: &Files,
    packages: &[Package],
    heads: &[(String, ElfHead)],
) -> Libc {
    let pkg = |names: &[&str]| {
        packages
            .iter()
            .find(|p| names.contains(&p.name.as_str()))
            .map(|p| (format!("{} {}", p.name, p.version), upstream(p)))
    };
    if let Some(path) = c.glibc.first() {
        let bytes = files.get(path);
        // `GNU C Library (…) stable release version 2.36.\nCopyright …`; format strings with
        // `%s` match the marker too.
        let from_binary = bytes.and_then(glibc_release);
        let max_symbol_version = bytes
            .map(elf::glibc_versions_defined)
            .and_then(|v| v.last().cloned());
        let package = pkg(&["libc6", "glibc", "libc6-amd64", "glibc-minimal-langpack"]);
        let (version, version_source) = match (&from_binary, &package) {
            (Some(v), _) => (Some(v.clone()), Some("binary".to_string())),
            (None, Some((_, v))) => (Some(v.clone()), Some("package".to_string())),
            _ => (None, None),
        };
        return Libc {
            kind: LibcKind::Glibc,
            version,
            version_source,
            package: package.map(|(p, _)| p),
            path: Some(path.clone()),
            loader: c.glibc_loaders.first().cloned(),
            max_symbol_version,
        };
    }
    if let Some(path) = c.musl.first() {
        let package = pkg(&["musl"]);
        let from_binary = files.get(path).and_then(musl_version);
        let (version, version_source) = match (&package, from_binary) {
            (Some((_, v)), _) => (Some(v.clone()), Some("package".to_string())),
            (None, Some(v)) => (Some(v), Some("binary".to_string())),
            _ => (None, None),
        };
        return Libc {
            kind: LibcKind::Musl,
            version,
            version_source,
            package: package.map(|(p, _)| p),
            path: Some(path.clone()),
            loader: Some(path.clone()),
            max_symbol_version: None,
        };
    }
    // No C library: whatever runs here is static (or needs a loader the image lacks).
    let loader = heads.iter().find_map(|(_, h)| h.interp.clone());
    Libc {
        kind: LibcKind::None,
        version: None,
        version_source: None,
        package: None,
        path: None,
        loader,
        max_symbol_version: None,
    }
}

/// The upstream part of a package version: no epoch, no Debian revision or apk `-rN`.
fn upstream(p: &Package) -> String {
    let v = p
        .version
        .split_once(':')
        .map_or(p.version.as_str(), |(_, v)| v);
    v.rsplit_once('-').map_or(v, |(u, _)| u).to_string()
}

/// musl keeps its version as a bare `x.y.z` string next to the `Version %s` that `ldd` prints.
fn musl_version(bytes: &[u8]) -> Option<String> {
    let anchor = bytes.windows(11).position(|w| w == b"Version %s\n")?;
    bytes[anchor..]
        .split(|&b| b == 0)
        .take(2000)
        .filter_map(|s| std::str::from_utf8(s).ok())
        .find(|s| s.len() <= 16 && s.split('.').count() == 3 && elf::parse_dotted(s).is_some())
        .map(str::to_string)
}

/// The release of a glibc `libc.so.6` (`2.36`) from its own bytes: its banner says
/// `GNU C Library (…) stable release version 2.36.`. Format strings such as `release version %s`
/// match the marker too and are passed over. The newest `GLIBC_x.y` symbol version can be older
/// than the release (2.31 defined none), so this is the release to report. `check` and `inspect`
/// both read it here.
pub fn glibc_release(bytes: &[u8]) -> Option<String> {
    const MARK: &[u8] = b"release version ";
    let mut from = 0;
    while let Some(at) = find_bytes(bytes.get(from..)?, MARK) {
        let rest = &bytes[from + at + MARK.len()..];
        from += at + MARK.len();
        let end = rest
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'.'))
            .unwrap_or(rest.len());
        let v = std::str::from_utf8(&rest[..end])
            .unwrap_or("")
            .trim_end_matches('.');
        if elf::parse_dotted(v).is_some() {
            return Some(v.to_string());
        }
    }
    None
}

/// Where `needle` first occurs in `hay`: jumps between occurrences of its first byte, which the
/// standard library scans a word at a time (a C library is megabytes). `check` searches loaders
/// with it too.
pub fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if hay.get(at + 1..at + needle.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod release_tests {
    use super::glibc_release;

    #[test]
    fn the_banner_gives_the_release() {
        let lib = b"\0release version %s\0GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36.\nCopyright";
        assert_eq!(glibc_release(lib).as_deref(), Some("2.36"));
        assert_eq!(
            glibc_release(b"release version 2.31\0").as_deref(),
            Some("2.31")
        );
        assert_eq!(glibc_release(b"release version .\0"), None);
        assert_eq!(glibc_release(b"no banner"), None);
    }
}
