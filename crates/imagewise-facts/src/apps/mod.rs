//! Application packages: what the language ecosystems put in an image. Python distributions
//! (`*.dist-info/METADATA`, `*.egg-info`), npm packages (`node_modules/**/package.json`, and
//! `package-lock.json`, `yarn.lock` or `pnpm-lock.yaml` where no `node_modules` is installed), JARs by their Maven coordinates
//! (nested archives too), Go modules from Go binaries' build information, Rust crates from
//! cargo-auditable's list, Ruby gem specifications, composer's `installed.json` and .NET
//! `*.deps.json`.
//!
//! Like the rest of the facts, the files are chosen from metadata alone and read in the one pass
//! over the image: metadata files whole, archives and binaries by a scanner that reads only what
//! it needs (a few pieces where the reader can seek, the file once otherwise) and keeps the
//! packages, not the bytes. Malformed metadata is a note, never an error.

mod binary;
mod java;
mod jslock;
mod npm;
mod python;
mod small;

use imagewise_source::{Entry, EntryKind, FileRead, ImageTree};

use crate::files::{Files, Wants};
use crate::report::{Ecosystem, Package};

/// Metadata files past this are skipped with a note.
const MAX_METADATA: u64 = 64 << 20;
/// Archives and binaries past this are not scanned.
pub(crate) const MAX_SCANNED: u64 = 1 << 30;

/// How a scanned file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// A ZIP archive of Java classes (JAR, WAR, EAR).
    Java,
    /// An executable that may be a Go or cargo-auditable Rust binary.
    Binary,
}

/// What scanning one file found.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    pub packages: Vec<Package>,
    pub notes: Vec<String>,
}

/// The kind of metadata file a path is, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meta {
    Python,
    NpmPackage,
    NpmProject,
    NpmLock,
    YarnLock,
    PnpmLock,
    Composer,
    ComposerLock,
    Gem,
    Nuget,
}

fn meta_kind(path: &str) -> Option<Meta> {
    let in_site = path.contains("/site-packages/") || path.contains("/dist-packages/");
    if in_site
        && (path.ends_with(".dist-info/METADATA")
            || path.ends_with(".egg-info/PKG-INFO")
            || path.ends_with(".egg/EGG-INFO/PKG-INFO")
            || path.ends_with(".egg-info"))
    {
        return Some(Meta::Python);
    }
    if path.ends_with("/package.json") {
        return Some(if npm::is_package_root(path) {
            Meta::NpmPackage
        } else {
            Meta::NpmProject
        });
    }
    if (path.ends_with("/package-lock.json") || path.ends_with("/npm-shrinkwrap.json"))
        && !path.contains("/node_modules/")
    {
        return Some(Meta::NpmLock);
    }
    if path.ends_with("/yarn.lock") && !path.contains("/node_modules/") {
        return Some(Meta::YarnLock);
    }
    if path.ends_with("/pnpm-lock.yaml") && !path.contains("/node_modules/") {
        return Some(Meta::PnpmLock);
    }
    if path.ends_with("/vendor/composer/installed.json") {
        return Some(Meta::Composer);
    }
    if path.ends_with("/composer.lock") {
        return Some(Meta::ComposerLock);
    }
    if path.ends_with(".gemspec") && path.contains("/specifications/") {
        return Some(Meta::Gem);
    }
    if path.ends_with(".deps.json") {
        return Some(Meta::Nuget);
    }
    None
}

fn scan_kind(e: &Entry) -> Option<Scan> {
    let lower = e.path.to_ascii_lowercase();
    if [".jar", ".war", ".ear"].iter().any(|x| lower.ends_with(x)) {
        return Some(Scan::Java);
    }
    // Go and Rust programs are executables; shared libraries (`x.so`, `x.so.1`) are left out.
    let file = lower.rsplit('/').next().unwrap_or(&lower);
    let library = file.ends_with(".so") || file.contains(".so.");
    if e.mode & 0o111 != 0 && e.size >= 1024 && !library {
        return Some(Scan::Binary);
    }
    None
}

/// Ask for the files application packages are read from.
pub(crate) fn want(tree: &ImageTree, w: &mut Wants) {
    for e in tree.entries() {
        if e.kind != EntryKind::File {
            continue;
        }
        if let Some(kind) = meta_kind(&e.path) {
            // A project's package.json only matters beside its node_modules.
            if kind == Meta::NpmProject && !npm::has_node_modules(tree, &e.path) {
                continue;
            }
            w.whole(e.path.clone(), MAX_METADATA);
        } else if let Some(kind) = scan_kind(e) {
            if e.size <= MAX_SCANNED {
                w.scan(e.path.clone(), kind);
            }
        }
    }
}

/// Scan one file (called from the one pass with its reader).
pub(crate) fn scan(kind: Scan, e: &Entry, r: &mut dyn FileRead) -> Scanned {
    let mut out = Scanned::default();
    match kind {
        Scan::Java => java::scan(&e.path, e.size, r, &mut out),
        Scan::Binary => binary::scan(&e.path, e.size, r, &mut out),
    }
    out
}

/// The application packages of the image, from the files read.
pub(crate) fn read(tree: &ImageTree, files: &Files, notes: &mut Vec<String>) -> Vec<Package> {
    let mut out = Vec::new();
    let mut npm_projects = Vec::new();
    let mut npm_locks = Vec::new();
    for e in tree.entries() {
        if e.kind != EntryKind::File {
            continue;
        }
        let Some(kind) = meta_kind(&e.path) else {
            continue;
        };
        let Some(bytes) = files.get(&e.path) else {
            continue;
        };
        let text = String::from_utf8_lossy(bytes);
        let found = match kind {
            Meta::Python => python::parse(&e.path, &text, notes),
            Meta::NpmPackage => npm::package(&e.path, &text, notes),
            Meta::NpmProject => {
                npm_projects.push((e.path.clone(), text.to_string()));
                Vec::new()
            }
            Meta::NpmLock | Meta::YarnLock | Meta::PnpmLock => {
                npm_locks.push((e.path.clone(), text.to_string()));
                Vec::new()
            }
            Meta::Composer => small::composer(&e.path, &text, notes),
            // A lock file stands for what is installed only where nothing is.
            Meta::ComposerLock => {
                let dir = e.path.rsplit_once('/').map_or("", |(d, _)| d);
                if tree
                    .get(&format!("{dir}/vendor/composer/installed.json"))
                    .is_some()
                {
                    Vec::new()
                } else {
                    small::composer(&e.path, &text, notes)
                }
            }
            Meta::Gem => small::gemspec(&e.path, &text, notes),
            Meta::Nuget => small::deps_json(&e.path, &text, notes),
        };
        out.extend(found.into_iter().map(|mut p| {
            p.layer = e.layer;
            p
        }));
    }
    npm::mark_direct(&mut out, &npm_projects, notes);
    for (path, text) in &npm_locks {
        // npm uses npm-shrinkwrap.json over package-lock.json; neither where packages are
        // installed (node_modules says what is).
        let shrinkwrap = format!(
            "{}/npm-shrinkwrap.json",
            path.rsplit_once('/').map_or("", |(d, _)| d)
        );
        if npm::has_node_modules(tree, path)
            || (path.ends_with("/package-lock.json") && tree.get(&shrinkwrap).is_some())
        {
            continue;
        }
        let layer = tree.get(path).and_then(|e| e.layer);
        let found = match meta_kind(path) {
            Some(Meta::YarnLock) => jslock::yarn(path, text, notes),
            Some(Meta::PnpmLock) => jslock::pnpm(path, text, notes),
            _ => npm::lock(path, text, notes),
        };
        out.extend(found.into_iter().map(|mut p| {
            p.layer = layer;
            p
        }));
    }
    for (path, scanned) in files.scanned() {
        let layer = tree.get(path).and_then(|e| e.layer);
        notes.extend(scanned.notes.iter().cloned());
        out.extend(scanned.packages.iter().cloned().map(|mut p| {
            p.layer = layer;
            p
        }));
    }
    out
}

/// A package of an application ecosystem; `database` is where it was found.
pub(crate) fn package(
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
    purl: String,
    database: &str,
) -> Package {
    Package {
        ecosystem,
        name: name.to_string(),
        version: version.to_string(),
        arch: None,
        source_name: name.to_string(),
        source_version: version.to_string(),
        epoch: None,
        installed_size: None,
        license: None,
        copyright: None,
        maintainer: None,
        summary: None,
        purl,
        database: database.to_string(),
        layer: None,
        dependency: None,
    }
}

/// A purl of type `ty`; names the purl rules refuse still get a purl-ish string.
pub(crate) fn purl(ty: &str, namespace: Option<&str>, name: &str, version: &str) -> String {
    let build = || -> Result<String, packageurl::Error> {
        let mut p = packageurl::PackageUrl::new(ty, name)?;
        if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
            p.with_namespace(ns)?;
        }
        if !version.is_empty() {
            p.with_version(version)?;
        }
        Ok(p.to_string())
    };
    build().unwrap_or_else(|_| match namespace {
        Some(ns) => format!("pkg:{ty}/{ns}/{name}@{version}"),
        None => format!("pkg:{ty}/{name}@{version}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, mode: u32, size: u64) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::File,
            mode,
            uid: 0,
            gid: 0,
            size,
            mtime: 0,
            mtime_nsec: 0,
            link: None,
            device: None,
            xattrs: Default::default(),
            layer: None,
        }
    }

    #[test]
    fn what_is_scanned() {
        assert_eq!(
            scan_kind(&entry("/usr/bin/skopeo", 0o755, 9000)),
            Some(Scan::Binary)
        );
        assert_eq!(
            scan_kind(&entry("/usr/bin/also", 0o755, 9000)),
            Some(Scan::Binary)
        );
        assert_eq!(scan_kind(&entry("/usr/lib/libx.so.1", 0o755, 9000)), None);
        assert_eq!(scan_kind(&entry("/usr/lib/libx.so", 0o755, 9000)), None);
        assert_eq!(scan_kind(&entry("/etc/passwd", 0o644, 9000)), None);
        assert_eq!(
            scan_kind(&entry("/app/App.JAR", 0o644, 9000)),
            Some(Scan::Java)
        );
        assert_eq!(
            meta_kind("/srv/web/node_modules/@a/b/package.json"),
            Some(Meta::NpmPackage)
        );
        assert_eq!(meta_kind("/srv/web/package.json"), Some(Meta::NpmProject));
        assert_eq!(meta_kind("/x/node_modules/a/package-lock.json"), None);
        assert_eq!(
            meta_kind("/usr/lib/python3/dist-packages/x.egg-info"),
            Some(Meta::Python)
        );
        assert_eq!(meta_kind("/home/x.egg-info"), None);
    }
}
