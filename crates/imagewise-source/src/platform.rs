//! Platforms as OCI names them (`os/architecture[/variant]`), and matching them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// Parse `os/arch[/variant]`, e.g. `linux/arm64/v8`.
    pub fn parse(s: &str) -> Result<Platform, crate::Error> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: normalize_arch(arch).to_string(),
                variant: None,
            }),
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: normalize_arch(arch).to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(crate::Error::BadValue {
                option: "--platform",
                value: s.to_string(),
                detail: "not os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8".into(),
            }),
        }
    }

    /// The platform this program runs on.
    pub fn host() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: normalize_arch(std::env::consts::ARCH).to_string(),
            variant: None,
        }
    }

    pub(crate) fn from_oci(p: &oci_spec::image::Platform) -> Platform {
        Platform {
            os: p.os().to_string(),
            architecture: normalize_arch(&p.architecture().to_string()).to_string(),
            variant: p.variant().clone(),
        }
    }

    pub(crate) fn from_config(config: &serde_json::Value) -> Option<Platform> {
        let arch = config.get("architecture")?.as_str()?;
        Some(Platform {
            os: config
                .get("os")
                .and_then(|v| v.as_str())
                .unwrap_or("linux")
                .to_string(),
            architecture: normalize_arch(arch).to_string(),
            variant: config
                .get("variant")
                .and_then(|v| v.as_str())
                .map(str::to_string),
        })
    }

    /// Does `other` satisfy this request? A request without a variant takes any variant.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && match (&self.variant, &other.variant) {
                (Some(a), Some(b)) => a == b,
                (Some(a), None) => self.architecture == "arm64" && a == "v8",
                (None, _) => true,
            }
    }
}

impl Platform {
    /// Looser than [`Platform::matches`]: a variant is compared only when both name one, as
    /// image configurations often leave it out.
    pub fn compatible(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && match (&self.variant, &other.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// GOARCH names, as OCI uses them.
pub fn normalize_arch(a: &str) -> &str {
    match a {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" | "x86" => "386",
        "armhf" | "armel" | "armv7l" => "arm",
        "powerpc64le" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_match() {
        let p = Platform::parse("linux/aarch64").unwrap();
        assert_eq!(p.architecture, "arm64");
        let v8 = Platform::parse("linux/arm64/v8").unwrap();
        assert!(p.matches(&v8));
        assert!(v8.matches(&p));
        assert!(!Platform::parse("linux/amd64").unwrap().matches(&v8));
        for bad in ["linux", "", "linux/", "/amd64", "a/b/c/d"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }
}
