//! dpkg's database: `/var/lib/dpkg/status` (deb822 paragraphs, one per package) and the
//! distroless form `/var/lib/dpkg/status.d/<name>` (one paragraph per file). Field meanings from
//! `deb-control(5)` and `dpkg-query(1)`: `Source: name (version)`, `Installed-Size` in KiB.

use crate::packages::Distro;
use crate::report::{Ecosystem, Package};

/// Package states whose files are on disk; `not-installed` and `config-files` are not.
const PRESENT: [&str; 6] = [
    "installed",
    "half-installed",
    "unpacked",
    "half-configured",
    "triggers-awaited",
    "triggers-pending",
];

/// deb822 paragraphs as (field, value) lists, continuation lines joined with `\n`.
pub(crate) fn paragraphs(text: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = cur.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The packages of one status file, and how many paragraphs named a package (a file with
/// paragraphs of which none does is not a status file, which dpkg refuses, not an empty one).
/// Paragraphs without a package name or version are reported in `problems`; packages not on disk
/// (removed, config files only) are left out.
pub(crate) fn parse(
    text: &str,
    database: &str,
    problems: &mut Vec<String>,
) -> (Vec<Package>, usize) {
    let mut out = Vec::new();
    let mut named = 0;
    for (i, p) in paragraphs(text).into_iter().enumerate() {
        let get = |k: &str| {
            p.iter()
                .find(|(f, _)| f.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        named += usize::from(get("Package").is_some());
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else {
            if get("Package").is_some_and(|_| get("Status").is_some_and(|s| !present(s))) {
                continue; // a removed package keeps no version
            }
            problems.push(format!(
                "{database}: paragraph {} has no Package or Version field",
                i + 1
            ));
            continue;
        };
        if let Some(status) = get("Status") {
            if !present(status) {
                continue;
            }
        }
        let (source_name, source_version) = match get("Source") {
            Some(s) => match s.split_once('(') {
                Some((n, v)) => (
                    n.trim().to_string(),
                    v.trim_end_matches(')').trim().to_string(),
                ),
                None => (s.trim().to_string(), version.to_string()),
            },
            None => (name.to_string(), version.to_string()),
        };
        out.push(Package {
            purl: String::new(),
            ecosystem: Ecosystem::Dpkg,
            name: name.to_string(),
            version: version.to_string(),
            arch: get("Architecture").map(str::to_string),
            source_name,
            source_version,
            epoch: None,
            installed_size: get("Installed-Size")
                .and_then(|s| s.parse::<u64>().ok())
                .map(|k| k * 1024),
            license: None,
            copyright: None,
            maintainer: get("Maintainer").map(str::to_string),
            summary: get("Description").map(|d| d.lines().next().unwrap_or("").to_string()),
            database: database.to_string(),
            layer: None,
            dependency: None,
        });
    }
    (out, named)
}

/// opkg's status file: dpkg's format (`Status: install user installed`), its own ecosystem.
pub(crate) fn parse_opkg(
    text: &str,
    database: &str,
    problems: &mut Vec<String>,
) -> (Vec<Package>, usize) {
    let (mut list, named) = parse(text, database, problems);
    for p in &mut list {
        p.ecosystem = Ecosystem::Opkg;
    }
    (list, named)
}

/// purl `pkg:opkg/<distro>/<name>@<version>?arch=…&distro=<id>-<version>` (as syft writes it;
/// the namespace is the distribution, `openwrt` when none is known).
pub(crate) fn opkg_purl(p: &Package, distro: &Distro) -> String {
    let (ns, q) = namespace_and_qualifiers(p, distro, "openwrt");
    crate::packages::purl("opkg", ns, &p.name, &p.version, &q)
}

/// The distribution (or `default`) as the purl namespace, and the `arch` and `distro`
/// qualifiers.
fn namespace_and_qualifiers<'a>(
    p: &Package,
    distro: &'a Distro,
    default: &'a str,
) -> (&'a str, Vec<(&'static str, String)>) {
    let ns = if distro.id.is_empty() {
        default
    } else {
        &distro.id
    };
    let mut q = Vec::new();
    if let Some(a) = &p.arch {
        q.push(("arch", a.clone()));
    }
    if let Some(d) = distro.qualifier() {
        q.push(("distro", d));
    }
    (ns, q)
}

/// `Status: want flag state`; the state is the last word.
fn present(status: &str) -> bool {
    status
        .split_whitespace()
        .last()
        .is_some_and(|s| PRESENT.contains(&s))
}

/// purl `pkg:deb/<distro>/<name>@<version>?arch=…&distro=<id>-<version>`; the source package,
/// when it differs, goes in `upstream` as syft writes it.
pub(crate) fn purl(p: &Package, distro: &Distro) -> String {
    let (ns, mut q) = namespace_and_qualifiers(p, distro, "debian");
    if p.source_name != p.name || p.source_version != p.version {
        let up = if p.source_version != p.version {
            format!("{}@{}", p.source_name, p.source_version)
        } else {
            p.source_name.clone()
        };
        q.push(("upstream", up));
    }
    crate::packages::purl("deb", ns, &p.name, &p.version, &q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_and_states() {
        let text = "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\n\
Architecture: amd64\nSource: glibc\nInstalled-Size: 12\nDescription: GNU C Library\n more\n\n\
Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nSource: bash (5.2.15-2)\n\n\
Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
Package: never\nStatus: purge ok not-installed\n\n\
Status: install ok installed\nVersion: 1\n";
        let mut problems = Vec::new();
        let (p, named) = parse(text, "/var/lib/dpkg/status", &mut problems);
        assert_eq!((p.len(), named), (2, 4));
        assert_eq!(p[0].source_name, "glibc");
        assert_eq!(p[0].source_version, "2.36-9+deb12u4");
        assert_eq!(p[0].installed_size, Some(12 * 1024));
        assert_eq!(p[0].summary.as_deref(), Some("GNU C Library"));
        assert_eq!(p[1].source_name, "bash");
        assert_eq!(p[1].source_version, "5.2.15-2");
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn purl_carries_arch_distro_and_source() {
        let mut problems = Vec::new();
        let (p, _) = parse(
            "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\nSource: bash (5.2.15-2)\n",
            "s",
            &mut problems,
        );
        let d = Distro {
            id: "debian".into(),
            id_like: vec![],
            version_id: Some("12".into()),
        };
        assert_eq!(
            purl(&p[0], &d),
            "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2"
        );
    }
}
