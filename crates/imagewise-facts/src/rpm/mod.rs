//! rpm's installed-package database in its three backends — SQLite (`rpmdb.sqlite`), ndb
//! (`Packages.db`) and Berkeley DB (`Packages`) — all holding the same header blobs.

mod bdb;
mod header;
pub(crate) mod manifest;
mod ndb;
mod sqlite;

use header::*;

use crate::packages::Distro;
use crate::report::{Ecosystem, Package};

/// Where rpm keeps its database, newest layout first; `/var/lib/rpm` is often a symlink to
/// `/usr/lib/sysimage/rpm`.
pub(crate) const LOCATIONS: [(&str, Backend); 6] = [
    ("/usr/lib/sysimage/rpm/rpmdb.sqlite", Backend::Sqlite),
    ("/var/lib/rpm/rpmdb.sqlite", Backend::Sqlite),
    ("/usr/lib/sysimage/rpm/Packages.db", Backend::Ndb),
    ("/var/lib/rpm/Packages.db", Backend::Ndb),
    ("/usr/lib/sysimage/rpm/Packages", Backend::Bdb),
    ("/var/lib/rpm/Packages", Backend::Bdb),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Ndb,
    Bdb,
}

impl Backend {
    pub fn format(self) -> &'static str {
        match self {
            Backend::Sqlite => "rpm-sqlite",
            Backend::Ndb => "rpm-ndb",
            Backend::Bdb => "rpm-bdb",
        }
    }
}

pub(crate) use crate::packages::DbError;

/// The result of reading one rpm database file.
pub(crate) struct RpmDb {
    pub packages: Vec<Package>,
    /// Headers whose SHA-256 header digest was checked and matched.
    pub verified: usize,
    pub problems: Vec<String>,
}

/// Read every package from a database file. `Err` means the file is not readable as that
/// backend at all; bad records are skipped and listed in `problems`.
pub(crate) fn read(bytes: &[u8], backend: Backend, database: &str) -> Result<RpmDb, DbError> {
    let mut problems = Vec::new();
    let blobs = match backend {
        Backend::Sqlite => sqlite::blobs(bytes)?,
        Backend::Ndb => ndb::blobs(bytes, &mut problems)?,
        Backend::Bdb => bdb::blobs(bytes, &mut problems)?,
    };
    let mut packages = Vec::new();
    let mut verified = 0;
    for (i, blob) in blobs.iter().enumerate() {
        let h = match Header::parse(blob) {
            Ok(h) => h,
            Err(e) => {
                // Berkeley DB keeps a 4-byte bookkeeping record beside the headers.
                if blob.len() > 8 {
                    problems.push(format!("record {}: {e}", i + 1));
                }
                continue;
            }
        };
        match h.digest_matches() {
            Some(true) => verified += 1,
            Some(false) => problems.push(format!(
                "record {}: header digest does not match its SHA256HEADER; read anyway",
                i + 1
            )),
            None => {}
        }
        match package(&h, database) {
            Some(p) if p.name == "gpg-pubkey" => {} // an imported signing key, not software
            Some(p) => packages.push(p),
            None => problems.push(format!("record {}: header has no name or version", i + 1)),
        }
    }
    Ok(RpmDb {
        packages,
        verified,
        problems,
    })
}

fn package(h: &Header<'_>, database: &str) -> Option<Package> {
    let name = h.string(TAG_NAME).filter(|s| !s.is_empty())?;
    let version = h.string(TAG_VERSION).filter(|s| !s.is_empty())?;
    let release = h.string(TAG_RELEASE).unwrap_or_default();
    let epoch = h.int(TAG_EPOCH);
    let evr = evr(epoch, &version, &release);
    let (source_name, source_version) = h
        .string(TAG_SOURCERPM)
        .and_then(|s| split_source_rpm(&s))
        .unwrap_or_else(|| (name.clone(), vr(&version, &release)));
    Some(Package {
        purl: String::new(),
        ecosystem: Ecosystem::Rpm,
        arch: h.string(TAG_ARCH).filter(|a| !a.is_empty()),
        source_name,
        source_version,
        epoch,
        installed_size: h.int(TAG_LONGSIZE).or_else(|| h.int(TAG_SIZE)),
        license: h.string(TAG_LICENSE).filter(|l| !l.is_empty()),
        copyright: None,
        maintainer: h
            .string(TAG_PACKAGER)
            .or_else(|| h.string(TAG_VENDOR))
            .filter(|m| !m.is_empty()),
        summary: h.string(TAG_SUMMARY),
        database: database.to_string(),
        layer: None,
        dependency: None,
        name,
        version: evr,
    })
}

fn vr(version: &str, release: &str) -> String {
    if release.is_empty() {
        version.to_string()
    } else {
        format!("{version}-{release}")
    }
}

fn evr(epoch: Option<u64>, version: &str, release: &str) -> String {
    match epoch {
        Some(e) => format!("{e}:{}", vr(version, release)),
        None => vr(version, release),
    }
}

/// `glibc-2.35-6.cm2.src.rpm` → (`glibc`, `2.35-6.cm2`).
fn split_source_rpm(s: &str) -> Option<(String, String)> {
    let stem = s
        .strip_suffix(".src.rpm")
        .or_else(|| s.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return None;
    }
    Some((name.to_string(), format!("{version}-{release}")))
}

/// purl `pkg:rpm/<distro id>/<name>@<version>-<release>?arch=…&epoch=…&distro=<id>-<version>`.
pub(crate) fn purl(p: &Package, distro: &Distro) -> String {
    let ns = if distro.id.is_empty() {
        "rpm"
    } else {
        &distro.id
    };
    let mut q = Vec::new();
    if let Some(a) = &p.arch {
        q.push(("arch", a.clone()));
    }
    if let Some(e) = p.epoch {
        q.push(("epoch", e.to_string()));
    }
    if let Some(d) = distro.qualifier() {
        q.push(("distro", d));
    }
    q.push((
        "upstream",
        format!("{}-{}.src.rpm", p.source_name, p.source_version),
    ));
    let version = match p.version.split_once(':') {
        Some((_, vr)) if p.epoch.is_some() => vr,
        _ => &p.version,
    };
    crate::packages::purl("rpm", ns, &p.name, version, &q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_rpm_names() {
        assert_eq!(
            split_source_rpm("glibc-2.35-6.cm2.src.rpm"),
            Some(("glibc".into(), "2.35-6.cm2".into()))
        );
        assert_eq!(
            split_source_rpm("python3-pip-21.3.1-4.el9.nosrc.rpm"),
            Some(("python3-pip".into(), "21.3.1-4.el9".into()))
        );
        assert_eq!(split_source_rpm("x.src.rpm"), None);
        assert_eq!(split_source_rpm("a-b.rpm"), None);
    }
}
