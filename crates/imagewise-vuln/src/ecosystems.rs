//! OSV ecosystem names: which version order each uses, and which ecosystems an installed
//! distribution's packages belong to.
//!
//! An OSV ecosystem string is a base name, optionally followed by `:` and a release
//! (`Debian:12`, `Alpine:v3.20`, `Ubuntu:22.04:LTS`, `Rocky Linux:9`). The base names are those
//! of the OSV schema's ecosystem list (`osv-schema/ecosystems.txt`).

use crate::version::VersionOrder;

/// Every base name the OSV schema defines, with the version order imagewise compares it in
/// (`None`: a valid OSV ecosystem whose order imagewise does not implement).
const OSV_ECOSYSTEMS: &[(&str, Option<VersionOrder>)] = &[
    ("AlmaLinux", Some(VersionOrder::Rpm)),
    ("Alpaquita", Some(VersionOrder::Apk)),
    ("Alpine", Some(VersionOrder::Apk)),
    ("Android", None),
    ("Azure Linux", Some(VersionOrder::Rpm)),
    ("BellSoft Hardened Containers", Some(VersionOrder::Apk)),
    ("Bioconductor", None),
    ("Bitnami", None),
    ("Chainguard", Some(VersionOrder::Apk)),
    ("CleanStart", None),
    ("ConanCenter", None),
    ("CRAN", None),
    ("crates.io", Some(VersionOrder::Semver)),
    ("Debian", Some(VersionOrder::Dpkg)),
    ("Docker Hardened Images", None),
    ("Echo", None),
    ("FreeBSD", None),
    ("GHC", None),
    ("GIT", None),
    ("GitHub Actions", None),
    ("Go", Some(VersionOrder::Semver)),
    ("Hackage", None),
    ("Hex", None),
    ("Julia", None),
    ("Linux", None),
    ("Mageia", Some(VersionOrder::Rpm)),
    ("Maven", Some(VersionOrder::Maven)),
    ("MinimOS", Some(VersionOrder::Apk)),
    ("npm", Some(VersionOrder::Semver)),
    ("NuGet", Some(VersionOrder::Nuget)),
    ("opam", None),
    ("openEuler", Some(VersionOrder::Rpm)),
    ("openSUSE", Some(VersionOrder::Rpm)),
    ("OSS-Fuzz", None),
    ("Packagist", Some(VersionOrder::Composer)),
    ("Photon OS", Some(VersionOrder::Rpm)),
    ("Pub", None),
    ("PyPI", Some(VersionOrder::Pep440)),
    ("Red Hat", Some(VersionOrder::Rpm)),
    ("Rocky Linux", Some(VersionOrder::Rpm)),
    ("Root", None),
    ("RubyGems", Some(VersionOrder::Rubygems)),
    ("SUSE", Some(VersionOrder::Rpm)),
    ("SwiftURL", None),
    ("Ubuntu", Some(VersionOrder::Dpkg)),
    ("VSCode", None),
    ("Wolfi", Some(VersionOrder::Apk)),
];

/// Why an OSV ecosystem string cannot be matched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcosystemError {
    #[error("unknown ecosystem {0:?} (not one the OSV schema defines)")]
    Unknown(String),
    #[error("ecosystem {0:?} is valid OSV but imagewise has no version order for it yet")]
    Unsupported(String),
}

impl imagewise_types::HasKind for EcosystemError {
    fn kind(&self) -> imagewise_types::ErrorKind {
        match self {
            EcosystemError::Unknown(_) => imagewise_types::ErrorKind::Usage,
            EcosystemError::Unsupported(_) => imagewise_types::ErrorKind::Unsupported,
        }
    }
}

/// The base name of an OSV ecosystem string: `Debian:12` → `Debian`.
pub fn base_name(osv_ecosystem: &str) -> &str {
    osv_ecosystem
        .split_once(':')
        .map_or(osv_ecosystem, |(b, _)| b)
}

/// Alpine 3.23 and later ship apk-tools 3 and its version rules; earlier releases apk-tools 2.
fn alpine_order(release: &str) -> VersionOrder {
    let mut parts = release.trim_start_matches('v').split('.');
    let num = |p: Option<&str>| p.and_then(|x| x.parse::<u32>().ok());
    match (num(parts.next()), num(parts.next())) {
        (Some(major), Some(minor)) if (major, minor) >= (3, 23) => VersionOrder::Apk3,
        (Some(major), None) if major > 3 => VersionOrder::Apk3,
        _ => VersionOrder::Apk,
    }
}

/// The version order of an OSV ecosystem string such as `Debian:12` or `PyPI` (`Alpine:v3.23`
/// and later: apk-tools 3's).
pub fn version_order(osv_ecosystem: &str) -> Result<VersionOrder, EcosystemError> {
    let base = base_name(osv_ecosystem);
    if base == "Alpine" {
        if let Some((_, release)) = osv_ecosystem.split_once(':') {
            return Ok(alpine_order(release));
        }
    }
    match OSV_ECOSYSTEMS.iter().find(|(n, _)| *n == base) {
        Some((_, Some(order))) => Ok(*order),
        Some((_, None)) => Err(EcosystemError::Unsupported(osv_ecosystem.to_string())),
        None => Err(EcosystemError::Unknown(osv_ecosystem.to_string())),
    }
}

/// The OSV ecosystems of operating-system packages imagewise matches (dpkg, rpm and apk
/// families), by base name.
pub fn os_ecosystems() -> Vec<&'static str> {
    OSV_ECOSYSTEMS
        .iter()
        .filter(|(_, o)| {
            matches!(
                o,
                Some(VersionOrder::Dpkg | VersionOrder::Rpm | VersionOrder::Apk)
            )
        })
        .map(|(n, _)| *n)
        .collect()
}

pub use imagewise_types::Distro;

/// Which OSV ecosystems hold a distribution's advisories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistroEcosystems {
    /// Exact OSV ecosystem strings (`Debian:12`).
    pub exact: Vec<String>,
    /// Prefixes for families whose strings carry more than a release (`Red Hat:enterprise_linux:9::`
    /// matches `Red Hat:enterprise_linux:9::appstream`).
    pub prefixes: Vec<String>,
    /// The version order of its packages.
    pub order: VersionOrder,
}

impl DistroEcosystems {
    /// Does the OSV ecosystem string `e` belong to this distribution release?
    pub fn covers(&self, e: &str) -> bool {
        self.exact.iter().any(|x| x == e) || self.prefixes.iter().any(|p| e.starts_with(p))
    }

    /// How the ecosystems are written for people: `Debian:12`, `Red Hat:enterprise_linux:9::*`.
    pub fn describe(&self) -> String {
        let mut v: Vec<String> = self.exact.clone();
        v.extend(self.prefixes.iter().map(|p| format!("{p}*")));
        v.join(", ")
    }
}

/// Why a distribution's packages cannot be matched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DistroError {
    #[error(
        "cannot scan OS packages: unknown distribution {0:?} (no OSV ecosystem is known for it)"
    )]
    Unknown(String),
    #[error("cannot scan OS packages: {id} has no VERSION_ID in os-release, so its OSV release ecosystem ({family}:<release>) is unknown")]
    NoRelease { id: String, family: &'static str },
}

impl imagewise_types::HasKind for DistroError {
    fn kind(&self) -> imagewise_types::ErrorKind {
        imagewise_types::ErrorKind::Unsupported
    }
}

/// `major` of `9.4`; `major.minor` of `3.20.3`.
fn leading(v: &str, parts: usize) -> String {
    v.split('.').take(parts).collect::<Vec<_>>().join(".")
}

impl DistroEcosystems {
    /// The OSV ecosystems of a distribution release, as osv.dev names them.
    pub fn of(distro: &Distro) -> Result<DistroEcosystems, DistroError> {
        let ver = distro.version_id.as_deref().filter(|v| !v.is_empty());
        let need = |family: &'static str| {
            ver.ok_or_else(|| DistroError::NoRelease {
                id: distro.id.clone(),
                family,
            })
        };
        let exact = |order, names: Vec<String>| DistroEcosystems {
            exact: names,
            prefixes: vec![],
            order,
        };
        let prefix = |order, p: String| DistroEcosystems {
            exact: vec![],
            prefixes: vec![p],
            order,
        };
        use VersionOrder::*;
        Ok(match distro.id.as_str() {
            "debian" => exact(
                Dpkg,
                vec![format!("Debian:{}", leading(need("Debian")?, 1))],
            ),
            "ubuntu" => {
                let v = need("Ubuntu")?;
                let (year, month) = v.split_once('.').unwrap_or((v, ""));
                let lts = month == "04" && year.parse::<u32>().is_ok_and(|y| y % 2 == 0);
                exact(
                    Dpkg,
                    vec![if lts {
                        format!("Ubuntu:{v}:LTS")
                    } else {
                        format!("Ubuntu:{v}")
                    }],
                )
            }
            "alpine" => {
                let v = leading(need("Alpine")?, 2);
                exact(alpine_order(&v), vec![format!("Alpine:v{v}")])
            }
            "wolfi" => exact(Apk, vec!["Wolfi".into()]),
            "chainguard" => exact(Apk, vec!["Chainguard".into()]),
            "minimos" => exact(Apk, vec!["MinimOS".into()]),
            "alpaquita" => prefix(Apk, "Alpaquita".into()),
            "rocky" => exact(
                Rpm,
                vec![format!("Rocky Linux:{}", leading(need("Rocky Linux")?, 1))],
            ),
            "almalinux" => exact(
                Rpm,
                vec![format!("AlmaLinux:{}", leading(need("AlmaLinux")?, 1))],
            ),
            "rhel" => prefix(
                Rpm,
                format!(
                    "Red Hat:enterprise_linux:{}::",
                    leading(need("Red Hat")?, 1)
                ),
            ),
            "sles" | "sled" | "sle-micro" => {
                let v = need("SUSE")?;
                let (major, sp) = v.split_once('.').unwrap_or((v, "0"));
                let name = if sp == "0" {
                    format!("SUSE:Linux Enterprise Server {major}")
                } else {
                    format!("SUSE:Linux Enterprise Server {major} SP{sp}")
                };
                exact(Rpm, vec![name])
            }
            "opensuse-leap" => exact(Rpm, vec![format!("openSUSE:Leap {}", need("openSUSE")?)]),
            "opensuse-tumbleweed" => exact(Rpm, vec!["openSUSE:Tumbleweed".into()]),
            "mageia" => exact(Rpm, vec![format!("Mageia:{}", need("Mageia")?)]),
            "photon" => exact(Rpm, vec![format!("Photon OS:{}", need("Photon OS")?)]),
            "azurelinux" | "mariner" => prefix(
                Rpm,
                format!("Azure Linux:{}", leading(need("Azure Linux")?, 1)),
            ),
            "openEuler" | "openeuler" => prefix(Rpm, format!("openEuler:{}", need("openEuler")?)),
            other => return Err(DistroError::Unknown(other.to_string())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eco(id: &str, v: &str) -> Result<DistroEcosystems, DistroError> {
        DistroEcosystems::of(&Distro {
            id: id.into(),
            id_like: vec![],
            version_id: Some(v.into()),
        })
    }

    #[test]
    fn os_release_to_osv_names() {
        assert_eq!(eco("debian", "12").unwrap().exact, ["Debian:12"]);
        assert_eq!(eco("ubuntu", "22.04").unwrap().exact, ["Ubuntu:22.04:LTS"]);
        assert_eq!(eco("ubuntu", "23.10").unwrap().exact, ["Ubuntu:23.10"]);
        assert_eq!(eco("ubuntu", "21.04").unwrap().exact, ["Ubuntu:21.04"]);
        assert_eq!(eco("alpine", "3.20.3").unwrap().exact, ["Alpine:v3.20"]);
        assert_eq!(eco("rocky", "9.4").unwrap().exact, ["Rocky Linux:9"]);
        assert_eq!(eco("almalinux", "8.10").unwrap().exact, ["AlmaLinux:8"]);
        assert_eq!(
            eco("sles", "15.5").unwrap().exact,
            ["SUSE:Linux Enterprise Server 15 SP5"]
        );
        let rh = eco("rhel", "9.4").unwrap();
        assert!(rh.covers("Red Hat:enterprise_linux:9::appstream"));
        assert!(!rh.covers("Red Hat:enterprise_linux:8::appstream"));
        assert_eq!(rh.order, VersionOrder::Rpm);
        assert!(matches!(eco("plan9", "4"), Err(DistroError::Unknown(_))));
        let sid = Distro {
            id: "debian".into(),
            ..Default::default()
        };
        assert!(matches!(
            DistroEcosystems::of(&sid),
            Err(DistroError::NoRelease { .. })
        ));
    }

    #[test]
    fn ecosystem_names_to_orders() {
        assert_eq!(version_order("Debian:12"), Ok(VersionOrder::Dpkg));
        assert_eq!(
            version_order("Ubuntu:Pro:22.04:LTS"),
            Ok(VersionOrder::Dpkg)
        );
        assert_eq!(version_order("Alpine:v3.20"), Ok(VersionOrder::Apk));
        assert_eq!(version_order("Rocky Linux:9"), Ok(VersionOrder::Rpm));
        assert_eq!(version_order("PyPI"), Ok(VersionOrder::Pep440));
        assert_eq!(version_order("Maven"), Ok(VersionOrder::Maven));
        assert!(matches!(
            version_order("Hex"),
            Err(EcosystemError::Unsupported(_))
        ));
        assert!(matches!(
            version_order("Debain:12"),
            Err(EcosystemError::Unknown(_))
        ));
    }
}
