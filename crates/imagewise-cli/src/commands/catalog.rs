//! `imagewise catalog add|list|show|rm|refresh` and the evaluation they share with `trust`
//! and `rank`: facts (with the lint rules' files in the same pass), lint with the default
//! profile, a scan when a vulnerability database is present, and the trust report.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use imagewise_facts::ImageFacts;
use imagewise_select::catalog::{
    self, Added, Catalog, FileStamp, LintSummary, Record, ScanSummary,
};
use imagewise_select::trust::{TrustOptions, TrustReport};
use imagewise_source::ImageTree;

use super::db::DbLocation;
use super::open_image_with;
use crate::{Global, InputError, OpenArgs};

#[derive(Args)]
pub(crate) struct CatalogArgs {
    #[command(subcommand)]
    command: CatalogCommand,
}

/// Where the catalog lives; shared by `catalog` and `rank --catalog`.
#[derive(Args, Clone)]
pub(crate) struct CatalogLocation {
    /// Catalog file [default: $XDG_DATA_HOME/imagewise/catalog.sqlite, else
    /// ~/.local/share/imagewise/catalog.sqlite].
    #[arg(long = "catalog", env = "IMAGEWISE_CATALOG", value_name = "PATH")]
    pub(crate) file: Option<PathBuf>,
}

impl CatalogLocation {
    pub(crate) fn open(&self) -> anyhow::Result<Catalog> {
        let path = match &self.file {
            Some(p) => p.clone(),
            None => catalog::default_path().ok_or_else(|| {
                InputError(
                    "neither --catalog, XDG_DATA_HOME nor HOME is set: pass --catalog PATH".into(),
                )
            })?,
        };
        if path.to_string_lossy().contains("://") {
            return Err(InputError(format!(
                "--catalog {}: the catalog is a local SQLite file; URLs are not supported (give a path)",
                path.display()
            ))
            .into());
        }
        Ok(Catalog::open(&path)?)
    }
}

/// How images are judged: shared by `catalog add|refresh`, `trust` and `rank`.
#[derive(Args, Clone)]
pub(crate) struct JudgeArgs {
    /// Public key (PEM, ECDSA P-256, as `cosign.pub`) to verify cosign-style signatures with;
    /// repeat for more.
    #[arg(long = "key", value_name = "PEM")]
    pub(crate) key_files: Vec<PathBuf>,
    /// Check every packaged file against the package database (default: files modified after
    /// install plus a fixed sample of 64 files, at most 1 MiB).
    #[arg(long)]
    pub(crate) full_verify: bool,
    /// An image older than this many days is stale.
    #[arg(long, default_value_t = 90)]
    pub(crate) stale_days: i64,
}

impl JudgeArgs {
    pub(crate) fn options(&self) -> anyhow::Result<TrustOptions> {
        let mut keys = Vec::new();
        for p in &self.key_files {
            let pem = std::fs::read_to_string(p)
                .map_err(|e| InputError(format!("cannot read key {}: {e}", p.display())))?;
            keys.push(
                imagewise_select::trust::parse_key(&pem)
                    .map_err(|e| InputError(format!("key {}: {e}", p.display())))?,
            );
        }
        Ok(TrustOptions {
            keys,
            full: self.full_verify,
            stale_days: self.stale_days,
            ..TrustOptions::default()
        })
    }
}

/// Everything recorded about one opened image.
pub(crate) struct Evaluation {
    pub(crate) facts: ImageFacts,
    pub(crate) scan: Option<ScanSummary>,
    pub(crate) lint: Option<LintSummary>,
    pub(crate) trust: TrustReport,
}

/// The vulnerability database when one is present (or was asked for with --db).
pub(crate) fn database(db: &DbLocation) -> anyhow::Result<Option<imagewise_vuln::Database>> {
    match db.open() {
        Ok(d) => Ok(Some(d)),
        Err(e)
            if !db.explicit()
                && e.chain().any(|c| {
                    matches!(
                        c.downcast_ref::<imagewise_vuln::DbError>(),
                        Some(imagewise_vuln::DbError::Missing(_))
                    )
                }) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

pub(crate) fn scan_summary(
    db: &imagewise_vuln::Database,
    reference: &str,
    facts: &ImageFacts,
) -> anyhow::Result<ScanSummary> {
    let opts = imagewise_vuln::ScanOptions {
        ignore: Default::default(),
        today: None,
        max_age_days: None,
    };
    let report = imagewise_vuln::scan_image(db, reference, facts, &opts)
        .with_context(|| format!("cannot scan {reference}"))?;
    Ok(ScanSummary::of(
        &report,
        imagewise_facts::lifecycle::today(),
    ))
}

/// Facts, lint, scan and trust of an opened image, reading its files in one pass.
pub(crate) fn evaluate(
    tree: &ImageTree,
    reference: &str,
    table: &imagewise_facts::lifecycle::Table,
    db: Option<&imagewise_vuln::Database>,
    trust: &TrustOptions,
    lint: bool,
) -> anyhow::Result<Evaluation> {
    let wants = if lint {
        imagewise_lint::wants(tree)
    } else {
        Default::default()
    };
    // The packaged-file check reads other files than inspecting does: run them side by side.
    let (checked, (mut facts, files)) = std::thread::scope(|s| {
        let check = s.spawn(|| imagewise_select::trust::package_files(tree, trust));
        let inspected = imagewise_facts::inspect_with(tree, wants);
        (check.join().ok().flatten(), inspected)
    });
    facts.os.support = table.support(&facts.os, imagewise_facts::lifecycle::today());
    let lint = if lint {
        let report = imagewise_lint::lint_facts(tree, &facts, &files, &Default::default())?;
        Some(LintSummary::of(&report))
    } else {
        None
    };
    let scan = db
        .map(|db| scan_summary(db, reference, &facts))
        .transpose()?;
    let trust = imagewise_select::trust::trust_checked(tree, &facts, scan.as_ref(), trust, checked);
    Ok(Evaluation {
        facts,
        scan,
        lint,
        trust,
    })
}

/// The reference to record: a bare path made absolute, so the catalog works from any
/// directory; references with a transport as given.
fn absolute(reference: &str) -> String {
    match imagewise_source::ImageRef::parse(reference) {
        Ok(imagewise_source::ImageRef::Bare(p)) => std::fs::canonicalize(&p)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| reference.to_string()),
        _ => reference.to_string(),
    }
}

fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Record images: facts, lint summary, scan summary (when a vulnerability database is
    /// present) and trust report, keyed by content digest.
    Add(AddArgs),
    /// The recorded images.
    List(ListArgs),
    /// One recorded image (by name, digest or digest prefix, or reference).
    Show(ShowArgs),
    /// Forget images.
    Rm(RmArgs),
    /// Re-evaluate scan and trust against today's data; images whose file changed are
    /// reopened, the others are not.
    Refresh(RefreshArgs),
}

#[derive(Args)]
struct AddArgs {
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
    /// Name to record the image under (one image only).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    catalog: CatalogLocation,
    #[command(flatten)]
    db: DbLocation,
    #[command(flatten)]
    judge: JudgeArgs,
    /// One JSON document.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    open: OpenArgs,
}

#[derive(Args)]
struct ListArgs {
    #[command(flatten)]
    catalog: CatalogLocation,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ShowArgs {
    /// Name, digest (or a unique prefix of 8 hex digits or more), or reference.
    key: String,
    #[command(flatten)]
    catalog: CatalogLocation,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct RmArgs {
    #[arg(required = true)]
    keys: Vec<String>,
    #[command(flatten)]
    catalog: CatalogLocation,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct RefreshArgs {
    /// Images to refresh (default: all).
    keys: Vec<String>,
    #[command(flatten)]
    catalog: CatalogLocation,
    #[command(flatten)]
    db: DbLocation,
    #[command(flatten)]
    judge: JudgeArgs,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    open: OpenArgs,
}

pub(crate) fn run(a: &CatalogArgs, global: &Global) -> anyhow::Result<ExitCode> {
    match &a.command {
        CatalogCommand::Add(x) => add(x, global),
        CatalogCommand::List(x) => list(x),
        CatalogCommand::Show(x) => show(x),
        CatalogCommand::Rm(x) => rm(x),
        CatalogCommand::Refresh(x) => refresh(x, global),
    }
}

fn record(
    tree: &ImageTree,
    reference: &str,
    digest: String,
    e: Evaluation,
    added: Option<String>,
) -> Record {
    let info = tree.info();
    let when = now();
    Record {
        digest,
        name: String::new(),
        reference: reference.to_string(),
        location: info.location.display().to_string(),
        format: info.format.as_str().to_string(),
        stamp: FileStamp::of(&info.location),
        added: added.unwrap_or_else(|| when.clone()),
        refreshed: when,
        package_count: e.facts.packages.len(),
        scan: e.scan,
        lint: e.lint,
        trust: Some(e.trust),
        facts: e.facts,
    }
}

fn add(a: &AddArgs, global: &Global) -> anyhow::Result<ExitCode> {
    if a.name.is_some() && a.images.len() > 1 {
        return Err(InputError("--name names one image; add the others separately".into()).into());
    }
    let mut cat = a.catalog.open()?;
    let db = database(&a.db)?;
    let trust = a.judge.options()?;
    let table = super::lifecycle_table(global)?;
    let opts = a.open.options(global, a.json)?;
    let mut results = Vec::new();
    for image in &a.images {
        let reference = absolute(image);
        let tree = open_image_with(&reference, &opts, global)?;
        let digest = catalog::content_digest(&tree);
        let e = evaluate(&tree, &reference, &table, db.as_ref(), &trust, true)?;
        let r = record(&tree, &reference, digest, e, None);
        let added = cat.add(&r, a.name.as_deref())?;
        if !a.json && !global.quiet {
            match &added {
                Added::Added { digest, name } => println!("added {name} ({digest})"),
                Added::AlreadyPresent {
                    digest,
                    name,
                    moved_from,
                } => match moved_from {
                    Some(from) => println!(
                        "{name} ({digest}) is already in the catalog; it moved from {from} to {reference}"
                    ),
                    None => println!("{name} ({digest}) is already in the catalog: nothing to do"),
                },
            }
        }
        results.push(added);
    }
    if a.json {
        super::print(super::Output::Json(&results))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct Listed<'a> {
    name: &'a str,
    digest: &'a str,
    reference: &'a str,
    format: &'a str,
    os: Option<&'a str>,
    arch: Option<&'a str>,
    kind: imagewise_facts::ImageKind,
    size_bytes: u64,
    packages: usize,
    support: Option<&'a imagewise_facts::SupportWindow>,
    vulnerabilities: Option<&'a imagewise_select::VulnCounts>,
    lint_failures: Option<usize>,
    trust: Option<&'static str>,
    added: &'a str,
    refreshed: &'a str,
}

fn listed(r: &Record) -> Listed<'_> {
    Listed {
        name: &r.name,
        digest: &r.digest,
        reference: &r.reference,
        format: &r.format,
        os: r
            .facts
            .os
            .pretty_name
            .as_deref()
            .or(r.facts.os.id.as_deref()),
        arch: r.facts.arch.as_deref(),
        kind: r.facts.kind,
        size_bytes: r.facts.size.total_bytes,
        packages: r.package_count,
        support: r.facts.os.support.as_ref(),
        vulnerabilities: r.scan.as_ref().map(|s| &s.counts),
        lint_failures: r.lint.as_ref().map(|l| l.fail),
        trust: r.trust.as_ref().map(|t| t.level.as_str()),
        added: &r.added,
        refreshed: &r.refreshed,
    }
}

fn list(a: &ListArgs) -> anyhow::Result<ExitCode> {
    let cat = a.catalog.open()?;
    let records = cat.list(false)?;
    let rows: Vec<Listed> = records.iter().map(listed).collect();
    super::print(if a.json {
        super::Output::Json(&rows)
    } else {
        use std::fmt::Write as _;
        let mut s = String::new();
        if rows.is_empty() {
            let _ = writeln!(
                s,
                "the catalog {} is empty: `imagewise catalog add IMAGE`",
                cat.path().display()
            );
        }
        for r in &rows {
            let _ = writeln!(
                s,
                "{:<20} {:<19} {:<32} {:<6} {:>8.1} MiB {:>5} pkgs  vulns {:<10} trust {:<8} {}",
                r.name,
                short(r.digest),
                r.os.unwrap_or("unknown"),
                r.arch.unwrap_or("?"),
                r.size_bytes as f64 / 1048576.0,
                r.packages,
                r.vulnerabilities
                    .map(|v| format!("{}C/{}H", v.critical, v.high))
                    .unwrap_or_else(|| "not scanned".into()),
                r.trust.unwrap_or("-"),
                r.reference
            );
        }
        super::Output::Text(s)
    })?;
    Ok(ExitCode::SUCCESS)
}

fn short(d: &str) -> &str {
    let hex_at = d.rfind(':').map_or(0, |i| i + 1);
    &d[..(hex_at + 12).min(d.len())]
}

fn show(a: &ShowArgs) -> anyhow::Result<ExitCode> {
    let cat = a.catalog.open()?;
    let r = cat.get(&a.key)?;
    super::print(if a.json {
        super::Output::Json(&r)
    } else {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "name       {}", r.name);
        let _ = writeln!(s, "digest     {}", r.digest);
        let _ = writeln!(s, "reference  {}", r.reference);
        let _ = writeln!(s, "added      {}  refreshed {}", r.added, r.refreshed);
        s.push_str(&imagewise_facts::render_text(&r.facts, false, false));
        match &r.scan {
            Some(v) => {
                let _ = writeln!(
                    s,
                    "scan       {} findings: {} critical, {} high ({} unfixed), scanned {}{}",
                    v.counts.total,
                    v.counts.critical,
                    v.counts.high,
                    v.unfixed,
                    v.scanned,
                    if v.complete { "" } else { " (incomplete)" }
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "scan       not scanned (no vulnerability database when added)"
                );
            }
        }
        if let Some(l) = &r.lint {
            let _ = writeln!(
                s,
                "lint       {} failed, {} unknown, {} passed ({}): {}",
                l.fail,
                l.unknown,
                l.pass,
                l.profiles.join(", "),
                l.failed.join(" ")
            );
        }
        if let Some(t) = &r.trust {
            s.push_str(&t.render_text());
        }
        super::Output::Text(s)
    })?;
    Ok(ExitCode::SUCCESS)
}

fn rm(a: &RmArgs) -> anyhow::Result<ExitCode> {
    let mut cat = a.catalog.open()?;
    let mut out = Vec::new();
    for k in &a.keys {
        let (name, digest) = cat.remove(k)?;
        if !a.json {
            println!("removed {name} ({digest})");
        }
        out.push(serde_json::json!({"name": name, "digest": digest}));
    }
    if a.json {
        super::print(super::Output::Json(&out))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct Refreshed {
    name: String,
    digest: String,
    /// `rejudged` (file unchanged: scan and trust re-evaluated), `reopened` (changed or a
    /// directory: everything again), `missing` (the image is gone; the record is kept).
    action: &'static str,
    /// The digest before, when reopening changed it.
    previous_digest: Option<String>,
    note: Option<String>,
}

fn refresh(a: &RefreshArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let mut cat = a.catalog.open()?;
    let db = database(&a.db)?;
    let trust = a.judge.options()?;
    let opts = a.open.options(global, a.json)?;
    let digests: Vec<String> = if a.keys.is_empty() {
        cat.list(false)?.into_iter().map(|r| r.digest).collect()
    } else {
        a.keys
            .iter()
            .map(|k| cat.resolve(k))
            .collect::<Result<_, _>>()?
    };
    let today = imagewise_facts::lifecycle::today();
    let table = super::lifecycle_table(global)?;
    let mut out = Vec::new();
    let mut missing = false;
    for d in digests {
        let old = cat.get(&d)?;
        let stamp = FileStamp::of(std::path::Path::new(&old.location));
        let unchanged = old.stamp.is_some() && stamp == old.stamp;
        if unchanged {
            // Same file: facts stand; scan and trust are judged again against today's data.
            let mut r = old.clone();
            r.facts.os.support = table.support(&r.facts.os, today);
            r.scan = db
                .as_ref()
                .map(|db| scan_summary(db, &r.reference, &r.facts))
                .transpose()?;
            r.trust = r
                .trust
                .as_ref()
                .map(|t| imagewise_select::trust::rejudge(t, &r.facts, r.scan.as_ref(), today));
            r.refreshed = now();
            cat.update(&d, &r)?;
            out.push(Refreshed {
                name: old.name,
                digest: d,
                action: "rejudged",
                previous_digest: None,
                note: None,
            });
            continue;
        }
        let tree = match open_image_with(&old.reference, &opts, global) {
            Ok(t) => t,
            Err(e) => {
                missing = true;
                out.push(Refreshed {
                    name: old.name,
                    digest: d,
                    action: "missing",
                    previous_digest: None,
                    note: Some(format!("{e:#}")),
                });
                continue;
            }
        };
        let digest = catalog::content_digest(&tree);
        let e = evaluate(&tree, &old.reference, &table, db.as_ref(), &trust, true)?;
        let r = record(
            &tree,
            &old.reference,
            digest.clone(),
            e,
            Some(old.added.clone()),
        );
        cat.update(&d, &r)?;
        out.push(Refreshed {
            name: old.name,
            previous_digest: (digest != d).then(|| d.clone()),
            digest,
            action: "reopened",
            note: None,
        });
    }
    super::print(if a.json {
        super::Output::Json(&out)
    } else {
        use std::fmt::Write as _;
        let mut s = String::new();
        for r in &out {
            let _ = writeln!(
                s,
                "{:<20} {}{}{}",
                r.name,
                r.action,
                r.previous_digest
                    .as_deref()
                    .map(|p| format!(" (changed: {p} → {})", r.digest))
                    .unwrap_or_default(),
                r.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            );
        }
        super::Output::Text(s)
    })?;
    Ok(if missing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
