//! Matching installed packages against the database.
//!
//! Distributions publish advisories per *source* package, so that is what is looked up and
//! compared: Debian and Ubuntu by the dpkg `Source:` name and version (a binNMU `+b1` binary is
//! judged by the source version it was built from), Alpine and its kin by origin, rpm
//! distributions by the SOURCERPM name with the package's epoch (and also by the binary name,
//! since some rpm vendors, Red Hat among them, list binary packages). Each finding is reported
//! against the binary package that carries it.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::db::{Database, DbError};
use crate::ecosystems::{Distro, DistroEcosystems};
use crate::osv::{Affected, OsvRecord};
use crate::severity::{rate, Level, Rated};
use crate::version::VersionOrder;

/// An installed package as the image's package database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Whose version order: `Dpkg`, `Apk` or `Rpm`.
    pub order: VersionOrder,
    pub name: String,
    /// The full version (dpkg `[epoch:]upstream[-revision]`, apk `x.y-rN`, rpm `[E:]V-R`).
    pub version: String,
    /// dpkg `Source:` name, apk origin, rpm SOURCERPM name; the package's own name when none.
    pub source_name: String,
    /// dpkg source version; apk package version; rpm `V-R` of the SOURCERPM (without epoch).
    pub source_version: String,
    /// rpm epoch.
    pub epoch: Option<u64>,
}

/// An installed application package (Python, npm, Go, Rust, …), as matching wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInstalled {
    pub ecosystem: imagewise_types::Ecosystem,
    pub name: String,
    pub version: String,
    /// The file it was found in (metadata file, archive, program).
    pub location: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FixState {
    /// A fixed version exists: upgrade to it.
    Fixed,
    /// No fix is published for this release (yet), or only a `last_affected` bound is known.
    Unfixed,
}

/// One advisory that applies to one installed package.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The installed (binary) package.
    pub package: String,
    pub installed_version: String,
    /// The name and version compared with the advisory (source package, origin, …).
    pub matched_name: String,
    pub matched_version: String,
    /// The OSV ecosystem of the advisory (`Debian:12`).
    pub ecosystem: String,
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: Rated,
    pub state: FixState,
    /// The version to upgrade to (of `matched_name`), when there is one.
    pub fixed_version: Option<String>,
    /// The advisory's first ADVISORY reference, else its first reference.
    pub url: Option<String>,
    /// For application packages: the file the package was found in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// The result of matching one image's packages.
#[derive(Debug, Clone, Serialize)]
pub struct ScanResult {
    /// The OSV ecosystems searched (`Debian:12`), empty when the distribution is unknown.
    pub ecosystems: Vec<String>,
    pub packages_scanned: usize,
    pub findings: Vec<Finding>,
    /// What kept the scan from being complete. A non-empty list means "no findings" is not a
    /// clean bill of health.
    pub problems: Vec<String>,
}

impl ScanResult {
    pub fn is_complete(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn worst(&self) -> Option<Level> {
        self.findings.iter().map(|f| f.severity.level).max()
    }
}

/// What to look up for one installed package: (name, version) pairs.
fn queries(p: &Installed) -> Vec<(String, String)> {
    match p.order {
        VersionOrder::Rpm => {
            let with_epoch = |v: &str| match p.epoch {
                Some(e) => format!("{e}:{v}"),
                None => v.to_string(),
            };
            let mut q = vec![(p.source_name.clone(), with_epoch(&p.source_version))];
            if p.name != p.source_name {
                // `version` already carries the epoch.
                q.push((p.name.clone(), p.version.clone()));
            }
            q
        }
        VersionOrder::Apk | VersionOrder::Apk3 => {
            vec![(p.source_name.clone(), p.version.clone())]
        }
        _ => vec![(p.source_name.clone(), p.source_version.clone())],
    }
}

fn url(r: &OsvRecord) -> Option<String> {
    r.references
        .iter()
        .find(|x| x.kind == "ADVISORY")
        .or(r.references.first())
        .map(|x| x.url.clone())
}

/// One finding per vulnerability and package: findings of one package whose ids are linked by
/// aliases (DSA/DLA and DEBIAN-CVE records of one CVE, GHSA and PYSEC) become one, under the
/// first id in sort order, with every other id among its aliases; it is unfixed if any record
/// says so, else fixed in the highest version any record names; the worst severity stands.
fn merge_aliases(findings: Vec<Finding>, order: crate::VersionOrder) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let names = |f: &Finding| -> BTreeSet<String> {
        std::iter::once(f.id.clone())
            .chain(f.aliases.iter().cloned())
            .collect()
    };
    for f in findings {
        let mine = names(&f);
        let Some(g) = out.iter_mut().find(|g| {
            g.package == f.package
                && g.installed_version == f.installed_version
                && g.location == f.location
                && !names(g).is_disjoint(&mine)
        }) else {
            out.push(f);
            continue;
        };
        let mut all: BTreeSet<String> = names(g);
        all.extend(mine);
        let (primary, other) = if f.id < g.id {
            (f.clone(), g.clone())
        } else {
            (g.clone(), f.clone())
        };
        let fixed_version = match (&primary.fixed_version, &other.fixed_version) {
            (Some(a), Some(b)) => {
                let later =
                    crate::compare(order, a, b).is_ok_and(|o| o == std::cmp::Ordering::Less);
                Some(if later { b.clone() } else { a.clone() })
            }
            _ => None,
        };
        let severity = if other.severity.level > primary.severity.level {
            other.severity.clone()
        } else {
            primary.severity.clone()
        };
        *g = Finding {
            aliases: all.into_iter().filter(|i| *i != primary.id).collect(),
            summary: primary.summary.clone().or(other.summary.clone()),
            state: if fixed_version.is_some() {
                FixState::Fixed
            } else {
                FixState::Unfixed
            },
            fixed_version,
            severity,
            url: primary.url.clone().or(other.url.clone()),
            ..primary
        };
    }
    out
}

/// Rows of one lookup grouped by record, in the order first seen: a record's entries for a
/// package are judged together.
fn by_record(rows: &[(String, Affected)]) -> Vec<(&String, Vec<&Affected>)> {
    let mut out: Vec<(&String, Vec<&Affected>)> = Vec::new();
    for (id, a) in rows {
        match out.iter_mut().find(|(i, _)| *i == id) {
            Some((_, list)) => list.push(a),
            None => out.push((id, vec![a])),
        }
    }
    out
}

/// The record's other names: its aliases, then its upstream ids (a distribution record's CVE
/// names the same vulnerability, as an alias does).
fn other_names(r: &OsvRecord, id: &str) -> Vec<String> {
    let mut names = r.aliases.clone();
    for u in &r.upstream {
        if !names.contains(u) && u != id {
            names.push(u.clone());
        }
    }
    names
}

/// The worst severity the record gives across its entries for the package.
fn worst(r: &OsvRecord, entries: &[&Affected]) -> Rated {
    entries
        .iter()
        .map(|a| rate(r, a))
        .max_by_key(|s| s.level)
        .unwrap_or_else(|| rate(r, entries[0]))
}

/// The name an ecosystem's advisories use for a package: PEP 503 for PyPI.
fn app_name(e: imagewise_types::Ecosystem, name: &str) -> String {
    if e != imagewise_types::Ecosystem::Pypi {
        return name.to_string();
    }
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Match application packages against their ecosystems' advisories (PyPI, npm, Go, crates.io,
/// Maven, RubyGems, Packagist, NuGet), each in its own version order. Each installed copy is
/// judged on its own, so a nested copy at an affected version is found where the top one is
/// not. Returns the findings, how many packages were matched, and what kept it from being
/// complete.
pub fn scan_apps(
    db: &Database,
    apps: &[AppInstalled],
) -> Result<(Vec<Finding>, usize, Vec<String>), DbError> {
    let present = db.ecosystems()?;
    let mut findings = Vec::new();
    let mut problems = Vec::new();
    let mut missing: BTreeSet<&str> = BTreeSet::new();
    let mut bad_versions: BTreeSet<String> = BTreeSet::new();
    let mut records: HashMap<String, Option<OsvRecord>> = HashMap::new();
    let mut cache: HashMap<(String, String), Vec<(String, Affected)>> = HashMap::new();
    let mut scanned = 0;
    for p in apps {
        let Some(eco) = p.ecosystem.osv_name() else {
            continue; // an OS package: scan() matches those
        };
        let order = VersionOrder::of(p.ecosystem);
        if !present.iter().any(|e| e == eco) {
            missing.insert(eco);
            continue;
        }
        // Go writes `v1.2.3`; its advisories, `1.2.3`. A main module built from a checkout has
        // no version to compare.
        let version = if p.ecosystem == imagewise_types::Ecosystem::Golang {
            p.version
                .strip_prefix('v')
                .unwrap_or(&p.version)
                .to_string()
        } else {
            p.version.clone()
        };
        if version == "(devel)" || version.is_empty() {
            continue;
        }
        scanned += 1;
        let name = app_name(p.ecosystem, &p.name);
        let key = (eco.to_string(), name.clone());
        if !cache.contains_key(&key) {
            let rows = db.lookup_app(eco, &name)?;
            cache.insert(key.clone(), rows);
        }
        for (id, entries) in by_record(cache.get(&key).map_or(&[][..], Vec::as_slice)) {
            let fixed = match crate::osv::verdict(&entries, order, &version) {
                Ok(Some(f)) => f,
                Ok(None) => continue,
                Err(e) => {
                    bad_versions.insert(format!("{id} vs {} {version}: {e}", p.name));
                    continue;
                }
            };
            if !records.contains_key(id) {
                records.insert(id.clone(), db.record(id)?);
            }
            let Some(r) = records.get(id).and_then(Option::as_ref) else {
                continue;
            };
            findings.push(Finding {
                package: p.name.clone(),
                installed_version: p.version.clone(),
                matched_name: name.clone(),
                matched_version: version.clone(),
                ecosystem: eco.to_string(),
                id: id.clone(),
                aliases: other_names(r, id),
                summary: r.summary.clone(),
                severity: worst(r, &entries),
                state: if fixed.is_some() {
                    FixState::Fixed
                } else {
                    FixState::Unfixed
                },
                fixed_version: fixed,
                url: url(r),
                location: Some(p.location.clone()),
            });
        }
    }
    // Merged per ecosystem's own order (aliases link GHSA and PYSEC records).
    let mut merged = Vec::new();
    for order in [
        VersionOrder::Pep440,
        VersionOrder::Semver,
        VersionOrder::Maven,
        VersionOrder::Rubygems,
        VersionOrder::Composer,
        VersionOrder::Nuget,
    ] {
        let (mine, rest): (Vec<Finding>, Vec<Finding>) = findings
            .into_iter()
            .partition(|f| crate::ecosystems::version_order(&f.ecosystem).ok() == Some(order));
        merged.extend(merge_aliases(mine, order));
        findings = rest;
    }
    merged.extend(findings);
    for eco in missing {
        problems.push(format!(
            "the vulnerability database has no records for {eco}: its packages were not matched (import {eco}'s all.zip from osv.dev)"
        ));
    }
    if !bad_versions.is_empty() {
        let n = bad_versions.len();
        let first: Vec<String> = bad_versions.into_iter().take(3).collect();
        problems.push(format!(
            "{n} advisory/package pairs could not be compared: {}",
            first.join("; ")
        ));
    }
    Ok((merged, scanned, problems))
}

/// The apk rule set of the apk-tools package among `packages` (3.x: apk-tools 3's), if any.
pub fn apk_rules(packages: &[Installed]) -> Option<VersionOrder> {
    let tools = packages
        .iter()
        .find(|p| p.order.same_family(VersionOrder::Apk) && p.name == "apk-tools")?;
    let major: u64 = tools
        .version
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some(if major >= 3 {
        VersionOrder::Apk3
    } else {
        VersionOrder::Apk
    })
}

/// Match `packages` of an image of `distro` against `db`.
pub fn scan(db: &Database, distro: &Distro, packages: &[Installed]) -> Result<ScanResult, DbError> {
    let mut result = ScanResult {
        ecosystems: vec![],
        packages_scanned: 0,
        findings: vec![],
        problems: vec![],
    };
    if packages.is_empty() {
        result
            .problems
            .push("no installed packages were found, so nothing could be matched".into());
        return Ok(result);
    }
    let mut wanted: DistroEcosystems = match DistroEcosystems::of(distro) {
        Ok(e) => e,
        Err(e) => {
            result.problems.push(e.to_string());
            return Ok(result);
        }
    };
    // An apk image is compared with the rules of the apk-tools it carries; the release only
    // decides when apk-tools itself is not installed.
    if wanted.order.same_family(VersionOrder::Apk) {
        if let Some(rules) = apk_rules(packages) {
            wanted.order = rules;
        }
    }
    let present = db.ecosystems()?;
    let mut ecosystems: Vec<String> = present.into_iter().filter(|e| wanted.covers(e)).collect();
    ecosystems.sort();
    if ecosystems.is_empty() {
        result.problems.push(format!(
            "the vulnerability database has no records for {}: import that ecosystem's all.zip from osv.dev",
            wanted.describe()
        ));
        result.ecosystems = wanted.exact.clone();
        return Ok(result);
    }
    result.ecosystems = ecosystems.clone();

    let other: Vec<&Installed> = packages
        .iter()
        .filter(|p| !p.order.same_family(wanted.order))
        .collect();
    if !other.is_empty() {
        result.problems.push(format!(
            "{} packages of another package manager were not scanned ({}…): {} advisories are for {:?} packages",
            other.len(),
            other[0].name,
            wanted.describe(),
            wanted.order
        ));
    }
    let mut cache: HashMap<(String, String), Vec<(String, Affected)>> = HashMap::new();
    let mut records: HashMap<String, Option<OsvRecord>> = HashMap::new();
    let mut bad_versions: BTreeSet<String> = BTreeSet::new();
    for p in packages
        .iter()
        .filter(|p| p.order.same_family(wanted.order))
    {
        result.packages_scanned += 1;
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for (name, version) in queries(p) {
            for eco in &ecosystems {
                let key = (eco.clone(), name.clone());
                if !cache.contains_key(&key) {
                    let rows = db.lookup(eco, &name)?;
                    cache.insert(key.clone(), rows);
                }
                // A record's entries for this package, judged together.
                for (id, entries) in by_record(cache.get(&key).map_or(&[][..], Vec::as_slice)) {
                    if seen.contains(id) {
                        continue;
                    }
                    let fixed = match crate::osv::verdict(&entries, wanted.order, &version) {
                        Ok(Some(f)) => f,
                        Ok(None) => continue,
                        Err(e) => {
                            bad_versions.insert(format!("{id} vs {name} {version}: {e}"));
                            continue;
                        }
                    };
                    seen.insert(id.clone());
                    if !records.contains_key(id) {
                        records.insert(id.clone(), db.record(id)?);
                    }
                    let Some(r) = records.get(id).and_then(Option::as_ref) else {
                        continue;
                    };
                    result.findings.push(Finding {
                        package: p.name.clone(),
                        installed_version: p.version.clone(),
                        matched_name: name.clone(),
                        matched_version: version.clone(),
                        ecosystem: eco.clone(),
                        id: id.clone(),
                        aliases: other_names(r, id),
                        summary: r.summary.clone().or_else(|| {
                            r.details
                                .as_deref()
                                .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
                                .map(|l| l.trim().to_string())
                        }),
                        severity: worst(r, &entries),
                        state: if fixed.is_some() {
                            FixState::Fixed
                        } else {
                            FixState::Unfixed
                        },
                        fixed_version: fixed,
                        url: url(r),
                        location: None,
                    });
                }
            }
        }
    }
    result.findings = merge_aliases(std::mem::take(&mut result.findings), wanted.order);
    if !bad_versions.is_empty() {
        let n = bad_versions.len();
        let first: Vec<String> = bad_versions.into_iter().take(3).collect();
        result.problems.push(format!(
            "{n} advisory/package pairs could not be compared: {}",
            first.join("; ")
        ));
    }
    result.findings.sort_by(|a, b| {
        b.severity
            .level
            .cmp(&a.severity.level)
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(result)
}
