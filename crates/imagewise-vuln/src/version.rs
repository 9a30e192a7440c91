//! One entry point for version order across ecosystems.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::apk::ApkVersion;
use crate::dpkg::DpkgVersion;
use crate::rpm::RpmVersion;

/// Package ecosystems with a version order of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Dpkg,
    Rpm,
    Apk,
}

impl std::str::FromStr for Ecosystem {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dpkg" | "deb" | "debian" => Ok(Ecosystem::Dpkg),
            "rpm" => Ok(Ecosystem::Rpm),
            "apk" | "alpine" => Ok(Ecosystem::Apk),
            _ => Err(format!("unknown ecosystem {s:?}; use dpkg, rpm or apk")),
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
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(match ecosystem {
        Ecosystem::Dpkg => DpkgVersion::parse(a)?.cmp(&DpkgVersion::parse(b)?),
        Ecosystem::Rpm => RpmVersion::parse(a)?.compare(&RpmVersion::parse(b)?),
        Ecosystem::Apk => ApkVersion::parse(a)?.compare(&ApkVersion::parse(b)?),
    })
}
