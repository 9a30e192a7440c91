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

    /// Whether a database was named (`--db` or IMAGEWISE_DB), rather than the default place.
    pub(crate) fn explicit(&self) -> bool {
        self.db.is_some()
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
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render_text(global.verbose > 0));
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

fn status(a: &StatusArgs) -> anyhow::Result<ExitCode> {
    let db = a.db.open()?;
    let st = db.status_for(Some(a.db.max_age_days))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&st)?);
    } else {
        print!("{}", st.render_text());
    }
    if let Some(w) = &st.stale_warning {
        eprintln!("imagewise: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}
