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
    /// rpm (Red Hat, Fedora, SUSE, Amazon Linux, …).
    Rpm,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 3] = [Ecosystem::Apk, Ecosystem::Dpkg, Ecosystem::Rpm];

    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Apk => "apk",
            Ecosystem::Dpkg => "dpkg",
            Ecosystem::Rpm => "rpm",
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
            _ => Err(crate::UnknownName::new(
                "package ecosystem",
                s,
                "apk, dpkg or rpm",
            )),
        }
    }
}
