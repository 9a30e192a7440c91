//! Installed packages of every ecosystem the image has a database for, with their purls.

use std::collections::HashSet;

use imagewise_source::ImageTree;
use packageurl::PackageUrl;

use crate::files::{self, Files, Wants};
use crate::report::{Ecosystem, Package, PackageDatabase};
use crate::rpm;

/// The packages of a text database, unless it has content and no entry of it names a
/// package: then it is not `what` at all (dpkg refuses such a file), not an empty one.
fn unless_unnamed(
    list: Vec<Package>,
    named: usize,
    text: &str,
    what: &str,
) -> Result<Vec<Package>, DbError> {
    if named == 0 && !text.trim().is_empty() {
        Err(DbError::Corrupt(format!(
            "no entry names a package: this is not {what}"
        )))
    } else {
        Ok(list)
    }
}

/// A reader of a text database: (text, path, problems) → (packages, entries that named one).
type TextParser = fn(&str, &str, &mut Vec<String>) -> (Vec<Package>, usize);

/// Why a package database file cannot be read at all (bad records are problems, not errors).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// A database in a variant this reader does not follow (an encrypted Berkeley DB, a newer
    /// ndb format).
    #[error("{0}")]
    Unsupported(String),
    /// Bytes that do not follow the format.
    #[error("{0}")]
    Corrupt(String),
}

impl From<String> for DbError {
    fn from(detail: String) -> DbError {
        DbError::Corrupt(detail)
    }
}

impl From<&str> for DbError {
    fn from(detail: &str) -> DbError {
        DbError::Corrupt(detail.to_string())
    }
}

/// Biggest package database read (a Fedora workstation rpmdb is ~100 MiB).
const MAX_DB: u64 = 512 << 20;
const DPKG_STATUS: &str = "/var/lib/dpkg/status";
const DPKG_STATUS_D: &str = "/var/lib/dpkg/status.d";
const APK_INSTALLED: [&str; 2] = ["/lib/apk/db/installed", "/usr/lib/apk/db/installed"];
/// opkg's status file (OpenWrt keeps it under /usr/lib, Yocto under /var/lib).
const OPKG_STATUS: [&str; 2] = ["/usr/lib/opkg/status", "/var/lib/opkg/status"];

/// The distribution, as purls name it (`debian-12` in their `distro` qualifier).
pub use imagewise_types::Distro;

impl crate::report::Os {
    /// The distribution this os-release names.
    pub fn distro(&self) -> Distro {
        Distro {
            id: self.id.clone().unwrap_or_default(),
            id_like: self.id_like.clone(),
            version_id: self.version_id.clone(),
        }
    }
}

pub(crate) fn purl(
    ty: &str,
    namespace: &str,
    name: &str,
    version: &str,
    q: &[(&str, String)],
) -> String {
    let build = || -> Result<String, packageurl::Error> {
        let mut p = PackageUrl::new(ty, name)?;
        p.with_namespace(namespace)?.with_version(version)?;
        for (k, v) in q {
            p.add_qualifier(*k, v.as_str())?;
        }
        Ok(p.to_string())
    };
    // A name the purl rules refuse (empty, which the parsers never produce) still gets a purl-ish
    // string rather than losing the package.
    build().unwrap_or_else(|_| format!("pkg:{ty}/{namespace}/{name}@{version}"))
}

/// Give a package read from a database its purl.
pub(crate) fn finish(mut p: Package, distro: &Distro) -> Package {
    p.purl = match p.ecosystem {
        Ecosystem::Dpkg => crate::dpkg::purl(&p, distro),
        Ecosystem::Apk => crate::apk::purl(&p, distro),
        Ecosystem::Rpm => rpm::purl(&p, distro),
        Ecosystem::Opkg => crate::dpkg::opkg_purl(&p, distro),
        // Application packages carry their purl from the start.
        _ => return p,
    };
    p
}

pub(crate) fn want(tree: &ImageTree, w: &mut Wants) {
    w.whole(DPKG_STATUS, MAX_DB);
    for e in files::children(tree, DPKG_STATUS_D) {
        w.whole(e.path.clone(), MAX_DB);
    }
    for p in APK_INSTALLED {
        w.whole(p, MAX_DB);
    }
    for (p, _) in rpm::LOCATIONS {
        w.whole(p, MAX_DB);
    }
    for p in rpm::manifest::LOCATIONS.iter().chain(&OPKG_STATUS) {
        w.whole(*p, MAX_DB);
    }
}

/// Read every database; packages unsorted.
pub(crate) fn read(
    tree: &ImageTree,
    files: &Files,
    distro: &Distro,
) -> (Vec<Package>, Vec<PackageDatabase>) {
    let mut packages = Vec::new();
    let mut dbs = Vec::new();
    let mut add = |eco: Ecosystem,
                   path: &str,
                   format: &str,
                   raw: Result<Vec<Package>, DbError>,
                   mut problems: Vec<String>,
                   packages: &mut Vec<Package>| {
        let (status, n) = match raw {
            Ok(list) => {
                let n = list.len() as u64;
                packages.extend(list.into_iter().map(|p| finish(p, distro)));
                ("ok", n)
            }
            Err(e) => {
                let status = match e {
                    DbError::Unsupported(_) => "unsupported",
                    DbError::Corrupt(_) => "corrupt",
                };
                let e = e.to_string();
                problems.insert(0, e);
                (status, 0)
            }
        };
        dbs.push(PackageDatabase {
            ecosystem: eco,
            path: path.to_string(),
            format: format.to_string(),
            packages: n,
            status: status.to_string(),
            problems,
        });
    };

    if let Some(text) = files.text(DPKG_STATUS) {
        let mut problems = Vec::new();
        let (list, named) = crate::dpkg::parse(&text, DPKG_STATUS, &mut problems);
        let raw = unless_unnamed(list, named, &text, "a dpkg status file");
        add(
            Ecosystem::Dpkg,
            DPKG_STATUS,
            "dpkg-status",
            raw,
            problems,
            &mut packages,
        );
    }
    let status_d: Vec<String> = files::children(tree, DPKG_STATUS_D)
        .into_iter()
        .map(|e| e.path.clone())
        .filter(|p| !p.ends_with(".md5sums"))
        .collect();
    if !status_d.is_empty() {
        let mut problems = Vec::new();
        let mut list = Vec::new();
        let (mut with_text, mut corrupt) = (0, 0);
        for p in &status_d {
            if let Some(text) = files.text(p) {
                let (found, named) = crate::dpkg::parse(&text, p, &mut problems);
                if !text.trim().is_empty() {
                    with_text += 1;
                    if named == 0 {
                        corrupt += 1;
                        problems.push(format!("{p}: no paragraph names a package"));
                    }
                }
                list.extend(found);
            }
        }
        // Distroless images keep one file per package here: the directory is corrupt when no
        // file of it with content is a status file; otherwise the bad ones are its problems.
        let raw = if with_text > 0 && corrupt == with_text {
            Err(DbError::Corrupt(
                "no file names a package: these are not dpkg status files".into(),
            ))
        } else {
            Ok(list)
        };
        add(
            Ecosystem::Dpkg,
            DPKG_STATUS_D,
            "dpkg-status.d",
            raw,
            problems,
            &mut packages,
        );
    }
    let mut seen = HashSet::new();
    for path in APK_INSTALLED {
        let Some(text) = files.text(path) else {
            continue;
        };
        if !seen.insert(files.target(path).unwrap_or(path).to_string()) {
            continue;
        }
        let mut problems = Vec::new();
        let list = crate::apk::parse(&text, path, &mut problems);
        add(
            Ecosystem::Apk,
            path,
            "apk-installed",
            Ok(list),
            problems,
            &mut packages,
        );
    }
    let mut rpm_db_read = false;
    for (path, backend) in rpm::LOCATIONS {
        let Some(bytes) = files.get(path) else {
            continue;
        };
        if !seen.insert(files.target(path).unwrap_or(path).to_string()) {
            continue;
        }
        let (raw, problems) = match rpm::read(bytes, backend, path) {
            Ok(db) => (Ok(db.packages), db.problems),
            Err(e) => (Err(e), Vec::new()),
        };
        rpm_db_read |= raw.is_ok();
        add(
            Ecosystem::Rpm,
            path,
            backend.format(),
            raw,
            problems,
            &mut packages,
        );
    }
    // Text databases that list packages one per line or paragraph: a file with content but no
    // package named is corrupt, not empty.
    let mut text_db = |eco: Ecosystem,
                       path: &str,
                       format: &str,
                       parse: TextParser,
                       packages: &mut Vec<Package>| {
        let Some(text) = files.text(path) else {
            return;
        };
        if !seen.insert(files.target(path).unwrap_or(path).to_string()) {
            return;
        }
        let mut problems = Vec::new();
        let (list, named) = parse(&text, path, &mut problems);
        let raw = unless_unnamed(list, named, &text, format);
        add(eco, path, format, raw, problems, packages);
    };
    // The manifest stands in for a database that distroless images leave out; where the
    // database is there, it is the truth.
    for path in rpm::manifest::LOCATIONS.iter().filter(|_| !rpm_db_read) {
        text_db(
            Ecosystem::Rpm,
            path,
            "rpm-manifest",
            rpm::manifest::parse,
            &mut packages,
        );
    }
    for path in OPKG_STATUS {
        text_db(
            Ecosystem::Opkg,
            path,
            "opkg-status",
            crate::dpkg::parse_opkg,
            &mut packages,
        );
    }
    (packages, dbs)
}

/// One rpm database file read outside an image.
#[derive(Debug)]
pub struct RpmDatabase {
    pub packages: Vec<Package>,
    /// Headers whose `SHA256HEADER` digest was recomputed over the header and matched.
    pub verified_headers: usize,
    /// Records skipped or suspicious, and why.
    pub problems: Vec<String>,
}

/// Read one rpm database file outside an image (for tools and tests); the backend is chosen by
/// the file name as rpm names it.
pub fn read_rpm_database(
    bytes: &[u8],
    file_name: &str,
    distro: &Distro,
) -> Result<RpmDatabase, crate::Error> {
    let backend = match file_name.rsplit('/').next().unwrap_or(file_name) {
        "rpmdb.sqlite" => rpm::Backend::Sqlite,
        "Packages.db" => rpm::Backend::Ndb,
        "Packages" => rpm::Backend::Bdb,
        other => return Err(crate::Error::NotRpmDatabase(other.to_string())),
    };
    let db = rpm::read(bytes, backend, file_name).map_err(|e| match e {
        DbError::Unsupported(detail) => crate::Error::Unsupported {
            database: file_name.to_string(),
            detail,
        },
        DbError::Corrupt(detail) => crate::Error::Corrupt {
            database: file_name.to_string(),
            detail,
        },
    })?;
    Ok(RpmDatabase {
        packages: db.packages.into_iter().map(|p| finish(p, distro)).collect(),
        verified_headers: db.verified,
        problems: db.problems,
    })
}
