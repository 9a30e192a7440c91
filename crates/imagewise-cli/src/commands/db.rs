//! `imagewise db import PATH… [--db DIR]` and `imagewise db status [--db DIR]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use imagewise_source::Progress;
use imagewise_vuln::{Database, ImportReport};

use crate::{Global, InputError};

#[derive(Args)]
pub(crate) struct DbArgs {
    #[command(subcommand)]
    command: DbCommand,
}

/// Where the database lives; shared by `db` and `scan`.
#[derive(Args)]
pub(crate) struct DbLocation {
    /// Database directory [default: $XDG_DATA_HOME/imagewise/osv, else ~/.local/share/imagewise/osv].
    #[arg(long, env = "IMAGEWISE_DB")]
    db: Option<PathBuf>,
    /// Warn when the newest record is older than this many days.
    #[arg(long, default_value_t = 7)]
    pub(crate) max_age_days: u32,
}

impl DbLocation {
    pub(crate) fn dir(&self) -> anyhow::Result<PathBuf> {
        match &self.db {
            Some(d) => Ok(d.clone()),
            None => imagewise_vuln::default_dir().ok_or_else(|| {
                InputError("neither --db, XDG_DATA_HOME nor HOME is set: pass --db DIR".into())
                    .into()
            }),
        }
    }

    pub(crate) fn open(&self) -> anyhow::Result<Database> {
        Ok(Database::open(&self.dir()?)?)
    }
}

#[derive(Subcommand)]
enum DbCommand {
    /// Import OSV records: JSON files, directories of them, or osv.dev's per-ecosystem all.zip.
    Import(ImportArgs),
    /// Show what the database holds and how fresh it is.
    Status(StatusArgs),
}

#[derive(Args)]
struct ImportArgs {
    /// OSV JSON files, directories of them, or all.zip archives.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    db: DbLocation,
    /// Print the import report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct StatusArgs {
    #[command(flatten)]
    db: DbLocation,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: &DbArgs, global: &Global) -> anyhow::Result<ExitCode> {
    match &a.command {
        DbCommand::Import(i) => import(i, global),
        DbCommand::Status(s) => status(s),
    }
}

fn import(a: &ImportArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let dir = a.db.dir()?;
    let mut db = Database::create(&dir)?;
    let bar = crate::progress::Bar::new(!(global.no_progress || global.quiet || a.json));
    bar.begin("importing OSV records", None);
    let paths: Vec<&Path> = a.paths.iter().map(PathBuf::as_path).collect();
    let started = std::time::Instant::now();
    let report = imagewise_vuln::import_paths(&mut db, &paths, &mut |r: &ImportReport| {
        bar.advance(r.records)
    })
    .with_context(|| {
        format!(
            "import into {} failed; the database keeps what it had",
            dir.display()
        )
    })?;
    bar.end();
    let secs = started.elapsed().as_secs_f64();
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["database"] = serde_json::json!(db.path());
        v["seconds"] = serde_json::json!(secs);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!(
            "{}",
            render_import(&report, db.path(), secs, global.verbose > 0)
        );
    }
    for f in &report.failed_sources {
        eprintln!("imagewise: error: {f}");
    }
    Ok(if report.failed_sources.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn render_import(r: &ImportReport, path: &Path, secs: f64, all: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let rate = if secs > 0.0 {
        r.records as f64 / secs
    } else {
        0.0
    };
    let _ = writeln!(
        s,
        "{} records read into {} in {secs:.1} s ({rate:.0}/s): {} added, {} updated, {} unchanged, {} withdrawn, {} skipped",
        r.records,
        path.display(),
        r.added,
        r.updated,
        r.unchanged,
        r.withdrawn,
        r.skipped
    );
    if r.skipped > 0 {
        let _ = writeln!(s, "skipped, by reason:");
        for (why, n) in &r.skipped_by_reason {
            let _ = writeln!(s, "  {n:>7}  {why}");
        }
        let shown = if all { r.skipped_examples.len() } else { 5 };
        for x in r.skipped_examples.iter().take(shown) {
            let id = x.id.as_deref().unwrap_or("(no id)");
            let _ = writeln!(s, "  {id} in {}: {}", x.origin, x.reason);
        }
        if r.skipped_examples.len() > shown {
            let _ = writeln!(s, "  … (-v lists up to {})", r.skipped_examples.len());
        }
    }
    s
}

fn status(a: &StatusArgs) -> anyhow::Result<ExitCode> {
    let db = a.db.open()?;
    let st = db.status()?;
    let stale = db.staleness(Some(a.db.max_age_days))?;
    if a.json {
        let mut v = serde_json::to_value(&st)?;
        v["stale"] = serde_json::json!(stale.is_some());
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("database   {}", st.path.display());
        println!("format     {}", st.format_version);
        println!("records    {} ({} withdrawn)", st.records, st.withdrawn);
        println!(
            "newest     {}",
            st.newest_modified.as_deref().unwrap_or("none")
        );
        println!(
            "imported   {}",
            st.last_import.as_deref().unwrap_or("never")
        );
        if !st.ecosystems.is_empty() {
            let w = st
                .ecosystems
                .iter()
                .map(|e| e.ecosystem.len())
                .max()
                .unwrap_or(9)
                .max(9);
            println!(
                "\n{:<w$}  {:>8}  {:>8}  NEWEST",
                "ECOSYSTEM", "RECORDS", "PACKAGES"
            );
            for e in &st.ecosystems {
                println!(
                    "{:<w$}  {:>8}  {:>8}  {}",
                    e.ecosystem,
                    e.records,
                    e.packages,
                    e.newest_modified.as_deref().unwrap_or("-")
                );
            }
        }
    }
    if let Some(w) = stale {
        eprintln!("imagewise: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}
