//! The scan of one image as a report: [`scan_image`] takes what `inspect` found
//! ([`ImageFacts`]) and the database, applies the accepted findings, and returns a
//! [`ScanReport`], the type that `scan --json` prints field for field (docs/scan.md). The policy
//! that turns a report into "fail" ([`ScanReport::fails`]) and the SARIF 2.1.0 form
//! ([`ScanReport::sarif`]) live here too, so every front end judges and exports alike.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use imagewise_facts::ImageFacts;
use serde::Serialize;

use crate::db::{Database, DbError};
use crate::ecosystems::Distro;
use crate::ignore::{IgnoreRules, Rule};
use crate::scan::{scan, Finding, FixState, Installed, ScanResult};
use crate::severity::Level;

/// How to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Accepted findings.
    pub ignore: IgnoreRules,
    /// The day ignore rules are judged on (UTC); `None`: today.
    pub today: Option<jiff::civil::Date>,
    /// Data older than this many days makes the report say it is stale; `None`: never.
    pub max_age_days: Option<u32>,
}

/// The result of scanning one image: `scan --json`.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub schema_version: u32,
    /// The image reference as given.
    pub image: String,
    pub os: Option<String>,
    pub os_version: Option<String>,
    /// The database directory's file.
    pub database: String,
    pub database_newest_modified: Option<String>,
    pub database_stale: bool,
    /// False when something kept the scan from covering the image (see `problems`).
    pub complete: bool,
    /// Findings left out by an ignore rule in force.
    pub ignored: usize,
    /// Findings per severity level.
    pub counts: BTreeMap<&'static str, usize>,
    /// Findings with no fix published.
    pub unfixed: usize,
    /// Time spent matching (the database already open, the image already read).
    pub match_seconds: f64,
    #[serde(flatten)]
    pub result: ScanResult,
    /// Why the data is stale, when it is (also a warning for the user; not in the JSON).
    #[serde(skip)]
    pub stale: Option<String>,
    /// Ignore rules whose `until` date has passed (a warning; not in the JSON).
    #[serde(skip)]
    pub expired_rules: Vec<Rule>,
    /// Where each package's database is in the image (for SARIF locations).
    #[serde(skip)]
    package_databases: BTreeMap<String, String>,
}

impl ScanReport {
    /// The scan's verdict: findings at or above `fail_on`, or (unless `allow_incomplete`) a scan
    /// that could not cover the image, when a threshold is set at all.
    pub fn fails(&self, fail_on: Option<Level>, allow_incomplete: bool) -> bool {
        let Some(threshold) = fail_on else {
            return false;
        };
        let over = self
            .result
            .findings
            .iter()
            .any(|f| f.severity.level >= threshold);
        over || (!allow_incomplete && !self.complete)
    }

    /// SARIF 2.1.0: one rule per advisory, one result per (advisory, package), located at the
    /// package database inside the image.
    pub fn sarif(&self) -> serde_json::Value {
        sarif(&self.result, &self.package_databases)
    }
}

/// The image's distribution and packages, as matching wants them.
fn installed(f: &ImageFacts) -> (Distro, Vec<Installed>) {
    let distro = f.os.distro();
    // OS packages only: application packages are matched by scan_apps, per language ecosystem.
    let packages = f
        .packages
        .iter()
        .filter(|p| p.ecosystem.is_os())
        .map(|p| Installed {
            order: crate::VersionOrder::of(p.ecosystem),
            name: p.name.clone(),
            version: p.version.clone(),
            source_name: p.source_name.clone(),
            source_version: p.source_version.clone(),
            epoch: p.epoch,
        })
        .collect();
    (distro, packages)
}

/// Why the image's packages could not all be read, from the facts.
fn package_problems(f: &ImageFacts) -> Vec<String> {
    let mut v = Vec::new();
    if f.package_databases.is_empty() {
        v.push(format!(
            "no package database was found in the image (looked for dpkg, apk and rpm databases; image kind: {}): its OS packages cannot be checked",
            serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ));
    }
    for d in &f.package_databases {
        if d.status != "ok" {
            v.push(format!(
                "package database {} is {}: {}",
                d.path,
                d.status,
                d.problems.join("; ")
            ));
        }
    }
    v
}

/// Scan the packages `facts` lists (of the image named `image`) against `db`.
pub fn scan_image(
    db: &Database,
    image: &str,
    facts: &ImageFacts,
    opts: &ScanOptions,
) -> Result<ScanReport, DbError> {
    let (distro, packages) = installed(facts);
    let apps: Vec<crate::AppInstalled> = facts
        .packages
        .iter()
        .filter(|p| !p.ecosystem.is_os())
        .map(|p| crate::AppInstalled {
            ecosystem: p.ecosystem,
            name: p.name.clone(),
            version: p.version.clone(),
            location: p.database.clone(),
        })
        .collect();
    let started = std::time::Instant::now();
    let mut result = scan(db, &distro, &packages)?;
    let (app_findings, app_scanned, mut app_problems) = crate::scan_apps(db, &apps)?;
    let match_seconds = started.elapsed().as_secs_f64();
    let mut problems = package_problems(facts);
    if packages.is_empty() && (!problems.is_empty() || !apps.is_empty()) {
        // Already said, with the reason (no package database), or the image's packages are its
        // applications'.
        result.problems.clear();
    }
    result.findings.extend(app_findings);
    result.packages_scanned += app_scanned;
    result.problems.append(&mut app_problems);
    result.findings.sort_by(|a, b| {
        b.severity
            .level
            .cmp(&a.severity.level)
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.location.cmp(&b.location))
    });
    problems.append(&mut result.problems);
    result.problems = problems;
    let today = opts.today.unwrap_or_else(|| {
        jiff::tz::Offset::UTC
            .to_datetime(jiff::Timestamp::now())
            .date()
    });
    let (ignored, expired) = opts.ignore.apply(&mut result.findings, today);
    let expired_rules = expired.into_iter().cloned().collect();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for f in &result.findings {
        *counts.entry(f.severity.level.as_str()).or_default() += 1;
    }
    let unfixed = result
        .findings
        .iter()
        .filter(|f| f.state == FixState::Unfixed)
        .count();
    let newest = db.newest_modified()?;
    let stale = crate::db::stale_message(newest, opts.max_age_days);
    Ok(ScanReport {
        schema_version: 1,
        image: image.to_string(),
        os: facts.os.id.clone(),
        os_version: facts.os.version_id.clone(),
        database: db.path().display().to_string(),
        database_newest_modified: newest.map(|t| t.to_string()),
        database_stale: stale.is_some(),
        complete: result.is_complete(),
        ignored,
        counts,
        unfixed,
        match_seconds,
        result,
        stale,
        expired_rules,
        package_databases: facts
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.database.clone()))
            .collect(),
    })
}

/// `ID (CVE-…)` when the advisory has a CVE alias of another name.
pub fn id_with_alias(f: &Finding) -> String {
    match f
        .aliases
        .iter()
        .find(|x| x.starts_with("CVE-") && **x != f.id)
    {
        Some(cve) => format!("{} ({cve})", f.id),
        None => f.id.clone(),
    }
}

fn sarif(r: &ScanResult, db_of: &BTreeMap<String, String>) -> serde_json::Value {
    use serde_json::json;
    let mut rules: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
    let mut results = Vec::new();
    for f in &r.findings {
        let score = f
            .severity
            .cvss
            .as_ref()
            .map(|c| c.score)
            .unwrap_or(match f.severity.level {
                Level::Critical => 9.5,
                Level::High => 8.0,
                Level::Medium => 5.5,
                Level::Low => 2.0,
                _ => 0.0,
            });
        rules.entry(&f.id).or_insert_with(|| {
            let mut rule = json!({
                "id": f.id,
                "shortDescription": {"text": f.summary.clone().unwrap_or_else(|| f.id.clone())},
                "properties": {
                    "security-severity": format!("{score:.1}"),
                    "tags": ["security", "vulnerability", f.severity.level.as_str()],
                    "aliases": f.aliases,
                }
            });
            if let Some(u) = &f.url {
                rule["helpUri"] = json!(u);
            }
            rule
        });
        let level = match f.severity.level {
            Level::Critical | Level::High => "error",
            Level::Medium => "warning",
            _ => "note",
        };
        let fix = match &f.fixed_version {
            Some(v) => format!("fixed in {} {v}", f.matched_name),
            None => "no fix published".into(),
        };
        results.push(json!({
            "ruleId": f.id,
            "level": level,
            "message": {"text": format!(
                "{} {} is affected by {} ({} severity); {fix}",
                f.package, f.installed_version, id_with_alias(f), f.severity.level
            )},
            "locations": [{
                "physicalLocation": {"artifactLocation": {
                    "uri": db_of.get(&f.package).map_or("", String::as_str).trim_start_matches('/')
                }},
                "logicalLocations": [{"name": f.package, "kind": "package"}]
            }],
            "properties": {
                "installedVersion": f.installed_version,
                "fixedVersion": f.fixed_version,
                "state": f.state,
                "ecosystem": f.ecosystem,
            }
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "imagewise",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/imagewise/imagewise",
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": r.problems.iter().map(|p| json!({
                    "level": "warning", "message": {"text": p}
                })).collect::<Vec<_>>(),
            }],
        }]
    })
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

impl ScanReport {
    /// The findings as a table, then the counts, and a loud line when the scan is incomplete.
    pub fn render_text(&self) -> String {
        render(self)
    }
}

fn render(report: &ScanReport) -> String {
    let (r, counts) = (&report.result, &report.counts);
    let (unfixed, ignored) = (report.unfixed, report.ignored);
    let mut s = String::new();
    let rows: Vec<[String; 6]> = r
        .findings
        .iter()
        .map(|f| {
            [
                f.package.clone(),
                f.installed_version.clone(),
                match (&f.fixed_version, f.state) {
                    (Some(v), _) => v.clone(),
                    (None, _) => "(unfixed)".into(),
                },
                id_with_alias(f),
                f.severity.level.to_string(),
                cut(f.summary.as_deref().unwrap_or(""), 60),
            ]
        })
        .collect();
    let head = ["PACKAGE", "INSTALLED", "FIXED", "ID", "SEVERITY", "SUMMARY"];
    let mut w = head.map(str::len);
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    if !rows.is_empty() {
        for row in std::iter::once(head.map(str::to_string)).chain(rows) {
            let mut line = String::new();
            for (i, c) in row.iter().enumerate().take(5) {
                let _ = write!(line, "{c:<width$}  ", width = w[i]);
            }
            line.push_str(&row[5]);
            let _ = writeln!(s, "{}", line.trim_end());
        }
        s.push('\n');
    }
    let packages: std::collections::BTreeSet<&str> =
        r.findings.iter().map(|f| f.package.as_str()).collect();
    let order = ["critical", "high", "medium", "low", "negligible", "unknown"];
    let per: Vec<String> = order
        .iter()
        .map(|k| format!("{} {k}", counts.get(k).copied().unwrap_or(0)))
        .collect();
    let _ = writeln!(
        s,
        "{} findings in {} of {} packages ({}), {unfixed} unfixed{}; searched {}",
        r.findings.len(),
        packages.len(),
        r.packages_scanned,
        per.join(", "),
        if ignored > 0 {
            format!(", {ignored} ignored")
        } else {
            String::new()
        },
        if r.ecosystems.is_empty() {
            "nothing".to_string()
        } else {
            r.ecosystems.join(", ")
        }
    );
    if !r.is_complete() {
        let _ = writeln!(
            s,
            "INCOMPLETE: {} problem(s) kept this scan from covering the image; no findings does not mean no vulnerabilities",
            r.problems.len()
        );
    }
    s
}
