//! One entry point for version order across ecosystems.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::apk::{Apk3Version, ApkVersion};
use crate::composer::ComposerVersion;
use crate::dpkg::DpkgVersion;
use crate::maven::MavenVersion;
use crate::nuget::NugetVersion;
use crate::rpm::RpmVersion;
use crate::rubygems::GemVersion;

/// The version orders of package ecosystems: the OS package managers' own, SemVer, PEP 440 and
/// the language ecosystems' own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionOrder {
    Dpkg,
    Rpm,
    /// apk-tools 2 (Alpine up to 3.22).
    Apk,
    /// apk-tools 3 (Alpine 3.23 and later): leading zeros compare as strings, `~hash`, stricter
    /// letters and suffixes.
    Apk3,
    /// Semantic Versioning 2.0 precedence (build metadata ignored), as npm, Cargo and Go use.
    Semver,
    /// Python's PEP 440 (PyPI).
    Pep440,
    /// Maven's `ComparableVersion`.
    Maven,
    /// RubyGems' `Gem::Version`.
    Rubygems,
    /// Composer's normal form compared with PHP's `version_compare` (Packagist).
    Composer,
    /// NuGet's `VersionComparer` (SemVer 2.0 with a fourth part).
    Nuget,
}

impl VersionOrder {
    /// The order an ecosystem's versions sort in.
    pub fn of(e: imagewise_types::Ecosystem) -> VersionOrder {
        use imagewise_types::Ecosystem as E;
        match e {
            E::Apk => VersionOrder::Apk,
            E::Dpkg => VersionOrder::Dpkg,
            E::Rpm => VersionOrder::Rpm,
            // opkg compares versions with dpkg's algorithm.
            E::Opkg => VersionOrder::Dpkg,
            E::Pypi => VersionOrder::Pep440,
            E::Npm | E::Cargo | E::Golang => VersionOrder::Semver,
            E::Maven => VersionOrder::Maven,
            E::Gem => VersionOrder::Rubygems,
            E::Composer => VersionOrder::Composer,
            E::Nuget => VersionOrder::Nuget,
        }
    }
}

impl VersionOrder {
    /// Whether two orders belong to one package manager (apk-tools 2 and 3 are both apk).
    pub fn same_family(self, other: VersionOrder) -> bool {
        let f = |o| match o {
            VersionOrder::Apk3 => VersionOrder::Apk,
            o => o,
        };
        f(self) == f(other)
    }
}

impl std::str::FromStr for VersionOrder {
    type Err = imagewise_types::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dpkg" | "deb" | "debian" => Ok(VersionOrder::Dpkg),
            "rpm" => Ok(VersionOrder::Rpm),
            "apk" | "apk2" | "alpine" => Ok(VersionOrder::Apk),
            "apk3" => Ok(VersionOrder::Apk3),
            "semver" => Ok(VersionOrder::Semver),
            "pep440" | "pypi" => Ok(VersionOrder::Pep440),
            "maven" => Ok(VersionOrder::Maven),
            "rubygems" | "gem" => Ok(VersionOrder::Rubygems),
            "composer" | "packagist" => Ok(VersionOrder::Composer),
            "nuget" => Ok(VersionOrder::Nuget),
            _ => Err(imagewise_types::UnknownName::new(
                "ecosystem",
                s,
                "dpkg, rpm, apk (apk2), apk3, semver, pep440, maven, rubygems, composer or nuget",
            )),
        }
    }
}

/// A version that the ecosystem's own tools would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {ecosystem} version {version:?}: {reason}")]
pub struct VersionError {
    pub ecosystem: &'static str,
    pub version: String,
    pub reason: String,
}

impl imagewise_types::HasKind for VersionError {
    fn kind(&self) -> imagewise_types::ErrorKind {
        imagewise_types::ErrorKind::Usage
    }
}

impl VersionError {
    pub(crate) fn new(ecosystem: &'static str, version: &str, reason: &str) -> Self {
        VersionError {
            ecosystem,
            version: version.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Compare two versions of `ecosystem` exactly as its package manager does.
pub fn compare(ecosystem: VersionOrder, a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(match ecosystem {
        VersionOrder::Dpkg => DpkgVersion::parse(a)?.cmp(&DpkgVersion::parse(b)?),
        VersionOrder::Rpm => RpmVersion::parse(a)?.compare(&RpmVersion::parse(b)?),
        VersionOrder::Apk => ApkVersion::parse(a)?.compare(&ApkVersion::parse(b)?),
        VersionOrder::Apk3 => Apk3Version::parse(a)?.compare(&Apk3Version::parse(b)?),
        VersionOrder::Semver => {
            let p = |v: &str| {
                semver::Version::parse(v)
                    .map_err(|e| VersionError::new("semver", v, &e.to_string()))
            };
            p(a)?.cmp_precedence(&p(b)?)
        }
        VersionOrder::Pep440 => {
            let p = |v: &str| {
                v.parse::<pep440_rs::Version>()
                    .map_err(|e| VersionError::new("pep440", v, &e.to_string()))
            };
            p(a)?.cmp(&p(b)?)
        }
        VersionOrder::Maven => MavenVersion::parse(a)?.compare(&MavenVersion::parse(b)?),
        VersionOrder::Rubygems => GemVersion::parse(a)?.compare(&GemVersion::parse(b)?),
        VersionOrder::Composer => ComposerVersion::parse(a)?.compare(&ComposerVersion::parse(b)?),
        VersionOrder::Nuget => NugetVersion::parse(a)?.compare(&NugetVersion::parse(b)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn semver_precedence_as_the_spec_lists_it() {
        // semver.org, item 11, in increasing precedence; build metadata does not count.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for w in chain.windows(2) {
            assert_eq!(compare(VersionOrder::Semver, w[0], w[1]), Ok(Less), "{w:?}");
        }
        assert_eq!(
            compare(VersionOrder::Semver, "1.0.0+build.1", "1.0.0+build.2"),
            Ok(Equal)
        );
        assert!(compare(VersionOrder::Semver, "1.0", "1.0.0").is_err());
    }
}
