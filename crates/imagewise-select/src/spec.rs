//! Requirements: a TOML document (docs/select.md) or the one-line form of `--require`. Both
//! parse into [`Requirements`]; every name and value is checked, and an error says which.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// What a candidate must have (hard) and what makes one better (weights).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// Architectures, any of (Debian spelling: `amd64`, `arm64`, `armhf`, …).
    #[serde(default)]
    pub arch: Vec<String>,
    /// Image kinds, any of: `system`, `application`, `distroless`, `scratch`.
    #[serde(default)]
    pub kind: Vec<String>,
    /// How the image is wrapped, any of: `container`, `vm`, `rootfs`.
    #[serde(default)]
    pub form: Vec<String>,
    #[serde(default)]
    pub distro: Option<DistroReq>,
    #[serde(default)]
    pub libc: Option<LibcReq>,
    /// Applications that must run (`imagewise check` must accept every binary).
    #[serde(default)]
    pub app: Vec<AppReq>,
    /// Packages that must be installed, optionally at a version.
    #[serde(default)]
    pub package: Vec<PackageReq>,
    /// Packages that must not be installed.
    #[serde(default)]
    pub forbid: Vec<String>,
    #[serde(default)]
    pub kernel: Option<KernelReq>,
    /// Init systems, any of (`systemd`, `openrc`, `none`, …).
    #[serde(default)]
    pub init: Vec<String>,
    /// Agents that must be installed and enabled (`cloud-init`, `qemu-guest-agent`, …).
    #[serde(default)]
    pub agents: Vec<String>,
    #[serde(default)]
    pub size: Option<SizeReq>,
    #[serde(default)]
    pub vulnerabilities: Option<VulnReq>,
    #[serde(default)]
    pub support: Option<SupportReq>,
    #[serde(default)]
    pub trust: Option<TrustReq>,
    #[serde(default)]
    pub weights: Weights,
}

/// The trust report's overall level must be at least this good.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustReq {
    /// `good` or `partial` (`poor` accepts every judged image).
    pub min_level: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistroReq {
    /// os-release `ID`s, any of (`debian`, `ubuntu`, `alpine`, `rocky`, …).
    #[serde(default)]
    pub id: Vec<String>,
    /// os-release `VERSION_ID`s, any of (`12`, `3.20`); empty: any.
    #[serde(default)]
    pub version: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibcReq {
    /// `glibc` or `musl`.
    pub kind: Option<String>,
    /// The C library's upstream version at least (`2.31`).
    pub min_version: Option<String>,
    /// glibc symbol versions it must define (`GLIBC_2.34`).
    #[serde(default)]
    pub provides: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppReq {
    /// An ELF file, a directory (a bundle placed at `at`) or an image reference.
    pub path: String,
    /// Where a file or bundle is placed in the candidate (default `/opt/app`).
    pub at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageReq {
    pub name: String,
    /// `OP VERSION` (`>= 8.32`; operators `=`, `>=`, `>`, `<=`, `<`), in the distribution's
    /// own version order.
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelReq {
    /// The image's kernel release at least (`5.10`).
    pub min_release: Option<String>,
    /// `CONFIG_*` options and the values they must have (`y`, `m`, or `y|m`).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeReq {
    /// Bytes of regular files at most, in MiB.
    pub max_mib: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VulnReq {
    pub max_critical: Option<u64>,
    pub max_high: Option<u64>,
    /// Count only findings with a fixed version (default: all).
    #[serde(default)]
    pub fixed_only: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportReq {
    /// Supported until at least this date (`YYYY-MM-DD`).
    pub until_at_least: Option<String>,
    /// Supported for at least this many more days.
    pub min_days: Option<i64>,
    /// Count the distribution's extended support (Debian LTS, Ubuntu ESM, RHEL ELS, SUSE LTSS)
    /// as support; default: standard support only.
    #[serde(default)]
    pub include_extended: bool,
}

/// Weights of the soft criteria, each scored 0..1 among the candidates that pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// Smaller images score higher.
    pub size: f64,
    /// Fewer installed packages score higher.
    pub packages: f64,
    /// More days of support left score higher (unknown scores 0).
    pub support: f64,
    /// Fewer known vulnerabilities score higher (not scanned scores 0).
    pub vulnerabilities: f64,
    /// A newer C library scores higher.
    pub newer: f64,
    /// A higher trust score (see `imagewise trust`) scores higher.
    pub trust: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            size: 1.0,
            packages: 0.5,
            support: 1.0,
            vulnerabilities: 1.0,
            newer: 0.5,
            trust: 0.5,
        }
    }
}

const KINDS: &[&str] = &["system", "application", "distroless", "scratch"];
const FORMS: &[&str] = &["container", "vm", "rootfs"];

impl Requirements {
    /// Parse a TOML requirements document.
    pub fn from_toml(text: &str) -> Result<Requirements, Error> {
        let r: Requirements = toml::from_str(text).map_err(|e| Error::Spec(e.to_string()))?;
        r.validate()?;
        Ok(r)
    }

    /// Parse the one-line form: space-separated terms (docs/select.md has the grammar).
    ///
    /// `arch=arm64,amd64 kind=system form=vm distro=debian release=12 libc=glibc>=2.35
    /// provides=GLIBC_2.34 pkg:openssl>=3 !pkg:gcc kernel>=5.10 config:CONFIG_BPF_SYSCALL=y
    /// init=systemd agent=cloud-init size<=200 no-critical high<=5 app=/srv/app
    /// support>=2027-06-30 support-days>=365`
    pub fn from_line(line: &str) -> Result<Requirements, Error> {
        let mut r = Requirements::default();
        let bad = |t: &str, why: &str| Error::Spec(format!("{t:?}: {why}"));
        for t in line.split_whitespace() {
            let list = |v: &str| v.split(',').map(str::to_string).collect::<Vec<_>>();
            if let Some(v) = t.strip_prefix("arch=") {
                r.arch.extend(list(v));
            } else if let Some(v) = t.strip_prefix("kind=") {
                r.kind.extend(list(v));
            } else if let Some(v) = t.strip_prefix("form=") {
                r.form.extend(list(v));
            } else if let Some(v) = t.strip_prefix("distro=") {
                r.distro
                    .get_or_insert_with(Default::default)
                    .id
                    .extend(list(v));
            } else if let Some(v) = t.strip_prefix("release=") {
                r.distro
                    .get_or_insert_with(Default::default)
                    .version
                    .extend(list(v));
            } else if let Some(v) = t.strip_prefix("libc=") {
                let l = r.libc.get_or_insert_with(Default::default);
                match v.split_once(">=") {
                    Some((k, min)) => {
                        l.kind = Some(k.to_string());
                        l.min_version = Some(min.to_string());
                    }
                    None => l.kind = Some(v.to_string()),
                }
            } else if let Some(v) = t.strip_prefix("provides=") {
                r.libc
                    .get_or_insert_with(Default::default)
                    .provides
                    .extend(list(v));
            } else if let Some(v) = t.strip_prefix("!pkg:") {
                r.forbid.push(v.to_string());
            } else if let Some(v) = t.strip_prefix("pkg:") {
                let (name, version) = split_constraint(v);
                r.package.push(PackageReq {
                    name: name.to_string(),
                    version,
                });
            } else if let Some(v) = t.strip_prefix("kernel>=") {
                r.kernel.get_or_insert_with(Default::default).min_release = Some(v.to_string());
            } else if let Some(v) = t.strip_prefix("config:") {
                let (k, val) = v
                    .split_once('=')
                    .ok_or_else(|| bad(t, "expected config:CONFIG_NAME=VALUE"))?;
                r.kernel
                    .get_or_insert_with(Default::default)
                    .config
                    .insert(k.to_string(), val.to_string());
            } else if let Some(v) = t.strip_prefix("init=") {
                r.init.extend(list(v));
            } else if let Some(v) = t.strip_prefix("agent=") {
                r.agents.extend(list(v));
            } else if let Some(v) = t.strip_prefix("size<=") {
                let mib = v
                    .trim_end_matches("MiB")
                    .parse::<f64>()
                    .map_err(|_| bad(t, "expected size<=MIB, a number of MiB"))?;
                r.size = Some(SizeReq { max_mib: Some(mib) });
            } else if t == "no-critical" {
                r.vulnerabilities
                    .get_or_insert_with(Default::default)
                    .max_critical = Some(0);
            } else if let Some(v) = t.strip_prefix("critical<=") {
                r.vulnerabilities
                    .get_or_insert_with(Default::default)
                    .max_critical = Some(v.parse().map_err(|_| bad(t, "expected a count"))?);
            } else if let Some(v) = t.strip_prefix("high<=") {
                r.vulnerabilities
                    .get_or_insert_with(Default::default)
                    .max_high = Some(v.parse().map_err(|_| bad(t, "expected a count"))?);
            } else if let Some(v) = t.strip_prefix("app=") {
                r.app.push(AppReq {
                    path: v.to_string(),
                    at: None,
                });
            } else if let Some(v) = t.strip_prefix("support>=") {
                r.support
                    .get_or_insert_with(Default::default)
                    .until_at_least = Some(v.to_string());
            } else if let Some(v) = t.strip_prefix("trust>=") {
                r.trust = Some(TrustReq {
                    min_level: v.to_string(),
                });
            } else if t == "support-extended" {
                r.support
                    .get_or_insert_with(Default::default)
                    .include_extended = true;
            } else if let Some(v) = t.strip_prefix("support-days>=") {
                r.support.get_or_insert_with(Default::default).min_days =
                    Some(v.parse().map_err(|_| bad(t, "expected a number of days"))?);
            } else {
                return Err(bad(
                    t,
                    "not a requirement (arch=, kind=, form=, distro=, release=, libc=, provides=, pkg:, !pkg:, kernel>=, config:, init=, agent=, size<=, no-critical, critical<=, high<=, app=, support>=, support-days>=, support-extended, trust>=)",
                ));
            }
        }
        r.validate()?;
        Ok(r)
    }

    fn validate(&self) -> Result<(), Error> {
        let one_of = |field: &str, v: &[String], allowed: &[&str]| -> Result<(), Error> {
            for x in v {
                if !allowed.contains(&x.as_str()) {
                    return Err(Error::Spec(format!(
                        "{field} {x:?} is not one of {}",
                        allowed.join(", ")
                    )));
                }
            }
            Ok(())
        };
        one_of("kind", &self.kind, KINDS)?;
        one_of("form", &self.form, FORMS)?;
        for a in &self.arch {
            a.parse::<imagewise_types::Arch>().map_err(|_| {
                Error::Spec(format!("arch {a:?} is not an architecture imagewise knows"))
            })?;
        }
        if let Some(l) = &self.libc {
            if let Some(k) = &l.kind {
                one_of("libc kind", std::slice::from_ref(k), &["glibc", "musl"])?;
            }
        }
        for p in self.package.iter().map(|p| &p.name).chain(&self.forbid) {
            if p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-._:@/".contains(c))
            {
                return Err(Error::Spec(format!(
                    "package {p:?}: not a package name (pkg:NAME or pkg:NAME>=VERSION; operators =, >=, >, <=, <)"
                )));
            }
        }
        for p in &self.package {
            if let Some(v) = &p.version {
                parse_constraint(v).map_err(|why| {
                    Error::Spec(format!("package {} version {v:?}: {why}", p.name))
                })?;
            }
        }
        if let Some(s) = &self.support {
            if let Some(d) = &s.until_at_least {
                d.parse::<jiff::civil::Date>().map_err(|_| {
                    Error::Spec(format!(
                        "support until_at_least {d:?} is not a date (YYYY-MM-DD)"
                    ))
                })?;
            }
        }
        for (k, v) in self.kernel.iter().flat_map(|k| &k.config) {
            if !k.starts_with("CONFIG_") {
                return Err(Error::Spec(format!(
                    "kernel config {k:?} must start with CONFIG_"
                )));
            }
            if v.is_empty() {
                return Err(Error::Spec(format!(
                    "kernel config {k} needs a value (y, m, y|m)"
                )));
            }
        }
        if let Some(t) = &self.trust {
            one_of(
                "trust min_level",
                std::slice::from_ref(&t.min_level),
                &["good", "partial", "poor"],
            )?;
        }
        let w = &self.weights;
        for (name, v) in [
            ("trust", w.trust),
            ("size", w.size),
            ("packages", w.packages),
            ("support", w.support),
            ("vulnerabilities", w.vulnerabilities),
            ("newer", w.newer),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::Spec(format!("weight {name} must be a number ≥ 0")));
            }
        }
        Ok(())
    }
}

/// `name>=1.2` → (`name`, `>= 1.2`).
fn split_constraint(v: &str) -> (&str, Option<String>) {
    match v.find(['<', '>', '=']) {
        Some(i) => (&v[..i], Some(v[i..].to_string())),
        None => (v, None),
    }
}

/// A comparison operator and a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
        }
    }

    pub fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq => o == Equal,
            Op::Ge => o != Less,
            Op::Gt => o == Greater,
            Op::Le => o != Greater,
            Op::Lt => o == Less,
        }
    }
}

/// `>= 8.32` → (Ge, "8.32").
pub fn parse_constraint(s: &str) -> Result<(Op, String), String> {
    let s = s.trim();
    let (op, rest) = if let Some(r) = s.strip_prefix(">=") {
        (Op::Ge, r)
    } else if let Some(r) = s.strip_prefix("<=") {
        (Op::Le, r)
    } else if let Some(r) = s.strip_prefix('>') {
        (Op::Gt, r)
    } else if let Some(r) = s.strip_prefix('<') {
        (Op::Lt, r)
    } else if let Some(r) = s.strip_prefix("==").or_else(|| s.strip_prefix('=')) {
        (Op::Eq, r)
    } else {
        return Err("expected an operator (=, >=, >, <=, <) and a version".into());
    };
    let v = rest.trim();
    if v.is_empty() || v.contains(char::is_whitespace) {
        return Err("expected one version after the operator".into());
    }
    Ok((op, v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_example_is_accepted_as_written() {
        let r = Requirements::from_toml(
            r#"
arch = ["amd64"]                 # any of
[libc]
kind = "glibc"
min_version = "2.31"
[[app]]
path = "/srv/build/ls"           # an ELF file, a directory or an image reference
[[package]]
name = "coreutils"
version = ">= 8.32"              # in the distribution's own version order
[vulnerabilities]
max_critical = 0
[support]
until_at_least = "2026-06-30"
[weights]
size = 1.0
support = 2.0
"#,
        )
        .unwrap();
        assert_eq!(r.arch, ["amd64"]);
        assert_eq!(r.package[0].version.as_deref(), Some(">= 8.32"));
        assert_eq!(r.weights.support, 2.0);
        assert_eq!(r.weights.packages, 0.5, "unset weights keep their defaults");
    }

    #[test]
    fn one_line_form() {
        let r = Requirements::from_line(
            "arch=arm64 libc=musl>=1.2 pkg:openssl>=3 !pkg:gcc no-critical config:CONFIG_BPF_SYSCALL=y size<=200 support-days>=365",
        )
        .unwrap();
        assert_eq!(r.arch, ["arm64"]);
        let l = r.libc.unwrap();
        assert_eq!(
            (l.kind.as_deref(), l.min_version.as_deref()),
            (Some("musl"), Some("1.2"))
        );
        assert_eq!(r.package[0].name, "openssl");
        assert_eq!(r.package[0].version.as_deref(), Some(">=3"));
        assert_eq!(r.forbid, ["gcc"]);
        assert_eq!(r.vulnerabilities.unwrap().max_critical, Some(0));
        assert_eq!(r.kernel.unwrap().config["CONFIG_BPF_SYSCALL"], "y");
    }

    #[test]
    fn mistakes_are_named() {
        for (line, word) in [
            ("arch=arm65", "arm65"),
            ("kind=vm", "kind"),
            ("pkg:openssl~3", "operator"),
            ("color=blue", "not a requirement"),
            ("support>=tomorrow", "not a date"),
        ] {
            let e = Requirements::from_line(line).unwrap_err().to_string();
            assert!(e.contains(word), "{line}: {e}");
        }
        let e = Requirements::from_toml("arch = [\"amd64\"]\ncolour = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }
}
