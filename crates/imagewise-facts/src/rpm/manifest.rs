//! CBL-Mariner's (Azure Linux's) distroless images ship no rpm database, only a manifest of
//! the packages they were built from: `/var/lib/rpmmanifest/container-manifest-2`, one package
//! per line, tab-separated (name, version-release, install time, build time, vendor, epoch or
//! `(none)`, size, arch, checksum type, source rpm). syft reads the same file.

use super::{evr, split_source_rpm};
use crate::report::{Ecosystem, Package};

/// The manifest, newest name first.
pub(crate) const LOCATIONS: [&str; 2] = [
    "/var/lib/rpmmanifest/container-manifest-2",
    "/var/lib/rpmmanifest/container-manifest-1",
];

/// The packages of a manifest; lines that do not have the fields are `problems`. Also returns
/// how many lines named a package (none of several lines means the file is not a manifest).
pub(crate) fn parse(
    text: &str,
    database: &str,
    problems: &mut Vec<String>,
) -> (Vec<Package>, usize) {
    let mut out = Vec::new();
    let mut named = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 8 || f[0].is_empty() || f[1].is_empty() {
            problems.push(format!(
                "{database}: line {} has {} tab-separated fields, not the 10 of a manifest entry",
                i + 1,
                f.len()
            ));
            continue;
        }
        named += 1;
        let name = f[0].to_string();
        let (version, release) = f[1].rsplit_once('-').unwrap_or((f[1], ""));
        let epoch = f[5].parse::<u64>().ok();
        let (source_name, source_version) = f
            .get(9)
            .and_then(|s| split_source_rpm(s))
            .unwrap_or_else(|| (name.clone(), f[1].to_string()));
        out.push(Package {
            purl: String::new(),
            ecosystem: Ecosystem::Rpm,
            arch: Some(f[7].to_string()).filter(|a| !a.is_empty() && a != "(none)"),
            source_name,
            source_version,
            epoch,
            installed_size: f[6].parse().ok(),
            license: None,
            copyright: None,
            maintainer: Some(f[4].to_string()).filter(|v| !v.is_empty() && v != "(none)"),
            summary: None,
            database: database.to_string(),
            layer: None,
            dependency: None,
            version: evr(epoch, version, release),
            name,
        });
    }
    (out, named)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syfts_mariner_manifest() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/peer-corpus/syft/redhat/testdata/container-manifest-2"
        ))
        .unwrap();
        let mut problems = Vec::new();
        let (p, named) = parse(&text, "m", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!((p.len(), named), (5, 5));
        let vim = p.iter().find(|p| p.name == "vim").unwrap();
        assert_eq!(vim.version, "2:9.0-1.cm2");
        assert_eq!(vim.arch.as_deref(), Some("x86_64"));
        assert_eq!(
            (vim.source_name.as_str(), vim.source_version.as_str()),
            ("vim", "9.0-1.cm2")
        );
        assert_eq!(vim.maintainer.as_deref(), Some("Microsoft Corporation"));
        let glibc = p.iter().find(|p| p.name == "glibc").unwrap();
        assert_eq!((glibc.version.as_str(), glibc.epoch), ("2.35-2.cm2", None));
        assert_eq!(glibc.installed_size, Some(10_855_265));
    }
}
