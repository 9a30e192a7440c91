//! `imagewise scan IMAGE [--db DIR] [--fail-on LEVEL] [--ignore FILE] [--json|--sarif]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use imagewise_vuln::{IgnoreRules, Level, ScanOptions};

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
    let facts = super::facts_of(&tree, global)?;
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
    super::print(if a.sarif {
        super::Output::Sarif(report.sarif())
    } else if a.json {
        super::Output::Json(&report)
    } else {
        super::Output::Text(report.render_text())
    })?;
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
