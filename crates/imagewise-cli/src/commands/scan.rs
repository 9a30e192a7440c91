//! `imagewise scan IMAGE [--db DIR] [--fail-on LEVEL] [--ignore FILE] [--json|--sarif]`

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use imagewise_vuln::{id_with_alias, IgnoreRules, Level, ScanOptions, ScanReport};

use super::db::DbLocation;
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

pub(crate) fn run(a: &ScanArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let ignore = match &a.ignore {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| InputError(format!("cannot read ignore file {}: {e}", p.display())))?;
            IgnoreRules::parse(&text).with_context(|| format!("ignore file {}", p.display()))?
        }
        None => IgnoreRules::default(),
    };
    let db = a.db.open()?;
    let tree = super::open_image(&a.image, &a.open, global, a.json || a.sarif)?;
    let facts = imagewise_facts::inspect(&tree);
    let opts = ScanOptions {
        ignore,
        today: None,
        max_age_days: Some(a.db.max_age_days),
    };
    let report = imagewise_vuln::scan_image(&db, &a.image, &facts, &opts)
        .with_context(|| format!("cannot scan {}", a.image))?;
    if !global.quiet {
        for r in &report.expired_rules {
            eprintln!(
                "imagewise: warning: ignore rule for {} (line {}) expired on {}; it no longer applies",
                r.id,
                r.line,
                r.until.map(|d| d.to_string()).unwrap_or_default()
            );
        }
        if let Some(w) = &report.stale {
            eprintln!("imagewise: warning: {w}");
        }
        for p in &report.result.problems {
            eprintln!("imagewise: WARNING: scan incomplete: {p}");
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.sarif {
        serde_json::to_writer_pretty(&mut out, &report.sarif())?;
        writeln!(out)?;
    } else if a.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        out.write_all(render(&report).as_bytes())?;
    }
    out.flush()?;
    let fails = report.fails(a.fail_on, a.allow_incomplete);
    if fails && !report.complete && !a.allow_incomplete && !global.quiet {
        eprintln!(
            "imagewise: failing because the scan is incomplete (see above); --allow-incomplete accepts that"
        );
    }
    Ok(if fails {
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
