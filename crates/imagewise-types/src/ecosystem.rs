//! Package ecosystems: who installed a package and in whose version order it sorts.

use serde::{Deserialize, Serialize};

/// Where an installed package comes from. The spelling is the one every report uses.
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
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 4] = [
        Ecosystem::Apk,
        Ecosystem::Dpkg,
        Ecosystem::Rpm,
        Ecosystem::Opkg,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Apk => "apk",
            Ecosystem::Dpkg => "dpkg",
            Ecosystem::Rpm => "rpm",
            Ecosystem::Opkg => "opkg",
        }
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
            _ => Err(crate::UnknownName::new(
                "package ecosystem",
                s,
                "apk, dpkg, rpm or opkg",
            )),
        }
    }
}
