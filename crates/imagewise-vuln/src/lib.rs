//! Vulnerability judgement for server images. So far: the exact version order of each package
//! ecosystem, the ground every advisory match stands on, and OSV records with the schema's rule
//! for whether a version is affected.
//!
//! ```
//! use imagewise_vuln::{compare, Ecosystem};
//! use std::cmp::Ordering;
//!
//! // A Debian backport is older than the release it was backported from.
//! assert_eq!(compare(Ecosystem::Dpkg, "1.2-1~bpo12+1", "1.2-1")?, Ordering::Less);
//! // An rpm pre-release sorts before the release.
//! assert_eq!(compare(Ecosystem::Rpm, "2.0~rc1-1", "2.0-1")?, Ordering::Less);
//! // apk: a post-release snapshot sorts after the plain version.
//! assert_eq!(compare(Ecosystem::Apk, "1.0_p1-r0", "1.0-r0")?, Ordering::Greater);
//! # Ok::<(), imagewise_vuln::VersionError>(())
//! ```

mod apk;
mod dpkg;
mod osv;
mod rpm;
mod version;

pub use apk::ApkVersion;
pub use dpkg::DpkgVersion;
pub use osv::{Affected, Event, OsvRecord, Package, Range, RangeType, Severity};
pub use rpm::{rpmvercmp, RpmVersion};
pub use version::{compare, Ecosystem, VersionError};
