//! `imagewise scan IMAGE [--db DIR] [--fail-on LEVEL] [--ignore FILE] [--json|--sarif]`

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use imagewise_facts::ImageFacts;
use imagewise_vuln::{Distro, Finding, FixState, IgnoreRules, Installed, Level, ScanResult};
use serde::Serialize;

use super::db::{db_input, DbLocation};
use crate::{Global, InputError, OpenArgs};

#[derive(Args)]
pub(crate) struct ScanArgs {
    /// Image reference (dir:, tar:, docker-archive:, oci:, oci-archive:, disk:, or a path).
    image: String,
    #[command(flatten)]
    db: DbLocation,
    /// Exit 1 when a finding is at or above this severity (negligible, low, medium, high,
    /// critical). An incomplete scan (unknown distribution, no package database, no data for
    /// the release) also exits 1 then, unless --allow-incomplete.
    #[arg(long)]
    fail_on: Option<Level>,
    /// With --fail-on: do not fail because the scan could not cover the image.
    #[arg(long)]
    allow_incomplete: bool,
    /// Accepted findings: one `ID [package=NAME] [until=YYYY-MM-DD]` per line, `#` comments.
    #[arg(long)]
    ignore: Option<PathBuf>,
    /// Print one JSON document (findings, counts, problems).
    #[arg(long, conflicts_with = "sarif")]
    json: bool,
    /// Print SARIF 2.1.0 (for code-scanning dashboards).
    #[arg(long)]
    sarif: bool,
    #[command(flatten)]
    open: OpenArgs,
}

/// The image's distribution and packages, as the vuln crate wants them.
fn from_facts(f: &ImageFacts) -> (Distro, Vec<Installed>) {
    let distro = Distro {
        id: f.os.id.clone().unwrap_or_default(),
        id_like: f.os.id_like.clone(),
        version_id: f.os.version_id.clone(),
    };
    let packages = f
        .packages
        .iter()
        .map(|p| Installed {
            order: match p.ecosystem {
                imagewise_facts::Ecosystem::Dpkg => imagewise_vuln::Ecosystem::Dpkg,
                imagewise_facts::Ecosystem::Apk => imagewise_vuln::Ecosystem::Apk,
                imagewise_facts::Ecosystem::Rpm => imagewise_vuln::Ecosystem::Rpm,
            },
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

#[derive(Serialize)]
struct Report<'a> {
    schema_version: u32,
    image: &'a str,
    os: Option<&'a str>,
    os_version: Option<&'a str>,
    database: String,
    database_newest_modified: Option<String>,
    database_stale: bool,
    complete: bool,
    ignored: usize,
    counts: BTreeMap<&'static str, usize>,
    unfixed: usize,
    /// Time spent matching (the database already open, the image already read).
    match_seconds: f64,
    #[serde(flatten)]
    result: &'a ScanResult,
}

pub(crate) fn run(a: &ScanArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let rules = match &a.ignore {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| InputError(format!("cannot read ignore file {}: {e}", p.display())))?;
            IgnoreRules::parse(&text)
                .map_err(|e| InputError(format!("ignore file {}: {e}", p.display())))?
        }
        None => IgnoreRules::default(),
    };
    let db = a.db.open()?;
    let stale = a.db.staleness(&db)?;
    let machine = a.json || a.sarif;
    let tree = super::open_image(&a.image, &a.open, global, machine)?;
    let facts = imagewise_facts::inspect(&tree);
    let (distro, packages) = from_facts(&facts);
    let started = std::time::Instant::now();
    let mut result = imagewise_vuln::scan(&db, &distro, &packages)
        .map_err(db_input)
        .with_context(|| format!("cannot scan {}", a.image))?;
    let match_seconds = started.elapsed().as_secs_f64();
    let mut problems = package_problems(&facts);
    if !problems.is_empty() && packages.is_empty() {
        // Already said, with the reason: the image has no package database.
        result.problems.clear();
    }
    problems.append(&mut result.problems);
    result.problems = problems;
    let today = jiff::tz::Offset::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    let (ignored, expired) = rules.apply(&mut result.findings, today);
    if !global.quiet {
        for r in expired {
            eprintln!(
                "imagewise: warning: ignore rule for {} (line {}) expired on {}; it no longer applies",
                r.id,
                r.line,
                r.until.map(|d| d.to_string()).unwrap_or_default()
            );
        }
        if let Some(w) = &stale {
            eprintln!("imagewise: warning: {w}");
        }
        for p in &result.problems {
            eprintln!("imagewise: WARNING: scan incomplete: {p}");
        }
    }
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for f in &result.findings {
        *counts.entry(f.severity.level.as_str()).or_default() += 1;
    }
    let unfixed = result
        .findings
        .iter()
        .filter(|f| f.state == FixState::Unfixed)
        .count();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.sarif {
        serde_json::to_writer_pretty(&mut out, &sarif(&result, &facts))?;
        writeln!(out)?;
    } else if a.json {
        let report = Report {
            schema_version: 1,
            image: &a.image,
            os: facts.os.id.as_deref(),
            os_version: facts.os.version_id.as_deref(),
            database: db.path().display().to_string(),
            database_newest_modified: db
                .newest_modified()
                .map_err(db_input)?
                .map(|t| t.to_string()),
            database_stale: stale.is_some(),
            complete: result.is_complete(),
            ignored,
            counts,
            unfixed,
            match_seconds,
            result: &result,
        };
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        out.write_all(render(&result, &counts, unfixed, ignored).as_bytes())?;
    }
    out.flush()?;
    let over = a
        .fail_on
        .is_some_and(|t| result.findings.iter().any(|f| f.severity.level >= t));
    let incomplete = a.fail_on.is_some() && !a.allow_incomplete && !result.is_complete();
    if incomplete && !global.quiet {
        eprintln!(
            "imagewise: failing because the scan is incomplete (see above); --allow-incomplete accepts that"
        );
    }
    Ok(if over || incomplete {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
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

fn id_with_alias(f: &Finding) -> String {
    match f
        .aliases
        .iter()
        .find(|x| x.starts_with("CVE-") && **x != f.id)
    {
        Some(cve) => format!("{} ({cve})", f.id),
        None => f.id.clone(),
    }
}

fn render(
    r: &ScanResult,
    counts: &BTreeMap<&'static str, usize>,
    unfixed: usize,
    ignored: usize,
) -> String {
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

/// SARIF 2.1.0: one rule per advisory, one result per (advisory, package), located at the
/// package database inside the image.
fn sarif(r: &ScanResult, facts: &ImageFacts) -> serde_json::Value {
    use serde_json::json;
    let db_of: BTreeMap<&str, &str> = facts
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.database.as_str()))
        .collect();
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
                    "uri": db_of.get(f.package.as_str()).copied().unwrap_or("").trim_start_matches('/')
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
