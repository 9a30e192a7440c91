//! Vulnerability judgement for server images: the exact version order of each package
//! ecosystem (the ground every advisory match stands on), OSV records with the schema's rule for
//! whether a version is affected, an offline database of them ([`Database`], filled by
//! [`import_paths`]), and matching of installed packages by source package ([`scan`]).
//! It knows nothing of image formats: [`scan_image`] takes the facts `inspect` found, and
//! [`scan`] a [`Distro`] and [`Installed`] packages.
//!
//! ```
//! use imagewise_vuln::{compare, VersionOrder};
//! use std::cmp::Ordering;
//!
//! // A Debian backport is older than the release it was backported from.
//! assert_eq!(compare(VersionOrder::Dpkg, "1.2-1~bpo12+1", "1.2-1")?, Ordering::Less);
//! // An rpm pre-release sorts before the release.
//! assert_eq!(compare(VersionOrder::Rpm, "2.0~rc1-1", "2.0-1")?, Ordering::Less);
//! // apk: a post-release snapshot sorts after the plain version.
//! assert_eq!(compare(VersionOrder::Apk, "1.0_p1-r0", "1.0-r0")?, Ordering::Greater);
//! # Ok::<(), imagewise_vuln::VersionError>(())
//! ```

mod apk;
mod composer;
mod db;
mod dpkg;
mod ecosystems;
mod ignore;
mod import;
mod maven;
mod nuget;
mod osv;
mod report;
mod rpm;
mod rubygems;
mod scan;
mod severity;
mod update;
mod version;

pub use apk::{Apk3Version, ApkVersion};
pub use composer::{php_version_compare, ComposerVersion};
pub use db::{
    default_dir, Database, DbError, EcosystemStatus, ImportReport, Skipped, Status, DB_FILE,
    FORMAT_VERSION, MAX_DETAILS,
};
pub use dpkg::DpkgVersion;
pub use ecosystems::{
    base_name, os_ecosystems, version_order, Distro, DistroEcosystems, DistroError, EcosystemError,
};
pub use ignore::{IgnoreError, IgnoreRules, Rule};
pub use import::{import_paths, MAX_DOCUMENT};
pub use maven::MavenVersion;
pub use nuget::NugetVersion;
pub use osv::{
    Affected, Event, InvalidRange, OsvRecord, Package, Range, RangeType, Reference, Severity,
};
pub use report::{id_with_alias, scan_image, ScanOptions, ScanReport};
pub use rpm::{rpmvercmp, RpmVersion};
pub use rubygems::GemVersion;
pub use scan::{scan, scan_apps, AppInstalled, Finding, FixState, Installed, ScanResult};
pub use severity::{rate, score_vector, CvssScore, Level, Rated};
pub use update::{
    update, EcosystemUpdate, Mirror, MirrorError, Outcome, SourceState, UpdateReport,
    DEFAULT_MIRROR, MAX_DOWNLOAD,
};
pub use version::{compare, VersionError, VersionOrder};
