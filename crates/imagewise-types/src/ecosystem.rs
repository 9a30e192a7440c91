//! Package ecosystems: who installed a package and in whose version order it sorts.

use serde::{Deserialize, Serialize};

/// Where an installed package comes from: an OS package manager, or a language ecosystem's
/// metadata (an installed Python distribution, a `node_modules` package, a JAR's Maven
/// coordinates, a Go or Rust binary's embedded dependency list, …). The spelling is the one every
/// report uses; for application ecosystems it is the purl type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// Alpine's apk (and Wolfi, Chainguard).
    Apk,
    /// Debian's dpkg (and Ubuntu and every derivative).
    Dpkg,
    /// rpm (Red Hat, Fedora, SUSE, Amazon Linux, …; CBL-Mariner's distroless rpm manifest).
    Rpm,
    /// opkg (OpenWrt, Yocto and other embedded systems): dpkg's status format and version order.
    Opkg,
    /// Python distributions (`*.dist-info`, `*.egg-info`).
    Pypi,
    /// npm packages (`node_modules`, lock files).
    Npm,
    /// Java archives by their Maven coordinates.
    Maven,
    /// Go modules, from the build information in Go binaries.
    Golang,
    /// Rust crates, from cargo-auditable's list in Rust binaries.
    Cargo,
    /// Ruby gems (installed gem specifications).
    Gem,
    /// PHP packages (composer's `installed.json`).
    Composer,
    /// .NET packages (`*.deps.json`).
    Nuget,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 12] = [
        Ecosystem::Apk,
        Ecosystem::Dpkg,
        Ecosystem::Rpm,
        Ecosystem::Opkg,
        Ecosystem::Pypi,
        Ecosystem::Npm,
        Ecosystem::Maven,
        Ecosystem::Golang,
        Ecosystem::Cargo,
        Ecosystem::Gem,
        Ecosystem::Composer,
        Ecosystem::Nuget,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Apk => "apk",
            Ecosystem::Dpkg => "dpkg",
            Ecosystem::Rpm => "rpm",
            Ecosystem::Opkg => "opkg",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Maven => "maven",
            Ecosystem::Golang => "golang",
            Ecosystem::Cargo => "cargo",
            Ecosystem::Gem => "gem",
            Ecosystem::Composer => "composer",
            Ecosystem::Nuget => "nuget",
        }
    }

    /// An OS package manager's (the distribution's packages), not a language ecosystem's.
    pub fn is_os(self) -> bool {
        matches!(
            self,
            Ecosystem::Apk | Ecosystem::Dpkg | Ecosystem::Rpm | Ecosystem::Opkg
        )
    }

    /// The ecosystem's name in OSV records, for application ecosystems (OS packages are
    /// matched per distribution: `Debian:12`, `Alpine:v3.20`, …).
    pub fn osv_name(self) -> Option<&'static str> {
        Some(match self {
            Ecosystem::Pypi => "PyPI",
            Ecosystem::Npm => "npm",
            Ecosystem::Maven => "Maven",
            Ecosystem::Golang => "Go",
            Ecosystem::Cargo => "crates.io",
            Ecosystem::Gem => "RubyGems",
            Ecosystem::Composer => "Packagist",
            Ecosystem::Nuget => "NuGet",
            _ => return None,
        })
    }
}

impl std::fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Ecosystem {
    type Err = crate::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "apk" => Ok(Ecosystem::Apk),
            "dpkg" | "deb" => Ok(Ecosystem::Dpkg),
            "rpm" => Ok(Ecosystem::Rpm),
            "opkg" => Ok(Ecosystem::Opkg),
            "pypi" | "python" => Ok(Ecosystem::Pypi),
            "npm" => Ok(Ecosystem::Npm),
            "maven" | "java" => Ok(Ecosystem::Maven),
            "golang" | "go" => Ok(Ecosystem::Golang),
            "cargo" | "rust" => Ok(Ecosystem::Cargo),
            "gem" | "ruby" => Ok(Ecosystem::Gem),
            "composer" | "php" => Ok(Ecosystem::Composer),
            "nuget" | "dotnet" => Ok(Ecosystem::Nuget),
            _ => Err(crate::UnknownName::new(
                "package ecosystem",
                s,
                "apk, dpkg, rpm, opkg, pypi, npm, maven, golang, cargo, gem, composer or nuget",
            )),
        }
    }
}
