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
    /// Fetch osv.dev's all.zip of each ecosystem from a mirror (conditionally: only what
    /// changed is downloaded and imported).
    Update(UpdateArgs),
    /// Show what the database holds and how fresh it is.
    Status(StatusArgs),
}

#[derive(Args)]
struct UpdateArgs {
    /// An OSV ecosystem to update, as OSV names it (Debian, Alpine, PyPI, npm, Maven, Go,
    /// crates.io, …); repeat for more [default: the ecosystems of the catalogued images, else
    /// every operating-system ecosystem].
    #[arg(long = "ecosystem", short = 'e', value_name = "ECOSYSTEM")]
    ecosystems: Vec<String>,
    /// Where the archives are: a base URL laid out as osv.dev's bucket
    /// (BASE/ECOSYSTEM/all.zip) or a directory laid out the same way.
    #[arg(long, env = "IMAGEWISE_OSV_MIRROR", value_name = "URL_OR_DIR",
          default_value = imagewise_vuln::DEFAULT_MIRROR)]
    mirror: String,
    #[command(flatten)]
    db: DbLocation,
    #[command(flatten)]
    catalog: super::catalog::CatalogLocation,
    /// Print the update report as JSON.
    #[arg(long)]
    json: bool,
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
        DbCommand::Update(u) => update(u, global),
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

/// The ecosystems to update when none are named: those of the catalogued images (their
/// distributions' and their application packages'), else every operating-system one.
fn default_ecosystems(a: &UpdateArgs) -> anyhow::Result<(Vec<String>, &'static str)> {
    let catalog_file = match &a.catalog.file {
        Some(p) => Some(p.clone()),
        None => imagewise_select::catalog::default_path(),
    };
    let mut set = std::collections::BTreeSet::new();
    if catalog_file.is_some_and(|p| p.is_file()) {
        let catalog = a.catalog.open()?;
        for r in catalog.list(true)? {
            if let Ok(d) = imagewise_vuln::DistroEcosystems::of(&r.facts.os.distro()) {
                for e in d.exact.iter().chain(&d.prefixes) {
                    set.insert(imagewise_vuln::base_name(e).to_string());
                }
            }
            for p in &r.facts.packages {
                if let Some(e) = p.ecosystem.osv_name() {
                    set.insert(e.to_string());
                }
            }
        }
    }
    if set.is_empty() {
        let all = imagewise_vuln::os_ecosystems();
        return Ok((
            all.into_iter().map(str::to_string).collect(),
            "every operating-system ecosystem",
        ));
    }
    Ok((
        set.into_iter().collect(),
        "the catalogued images' ecosystems",
    ))
}

fn update(a: &UpdateArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let mirror = imagewise_vuln::Mirror::parse(&a.mirror)?;
    for e in &a.ecosystems {
        if let Err(err) = imagewise_vuln::version_order(e) {
            return Err(InputError(format!(
                "--ecosystem {e:?}: {err}; OSV's names are case-sensitive (Debian, Alpine, Ubuntu, Rocky Linux, PyPI, npm, Maven, Go, crates.io, RubyGems, Packagist, NuGet)"
            ))
            .into());
        }
    }
    let (ecosystems, why) = if a.ecosystems.is_empty() {
        default_ecosystems(a)?
    } else {
        let mut seen = std::collections::BTreeSet::new();
        let v: Vec<String> = a
            .ecosystems
            .iter()
            .filter(|e| seen.insert(e.as_str()))
            .cloned()
            .collect();
        (v, "named")
    };
    if !(global.quiet || a.json) {
        eprintln!("updating {} ({why})", ecosystems.join(", "));
    }
    let dir = a.db.dir()?;
    let mut db = Database::create(&dir)?;
    let bar = crate::progress::Bar::new(!(global.no_progress || global.quiet || a.json));
    bar.begin("importing OSV records", None);
    let report = imagewise_vuln::update(&mut db, &mirror, &ecosystems, &mut |_, r| {
        bar.advance(r.records)
    })
    .with_context(|| {
        format!(
            "update of {} failed; the database keeps what it had",
            dir.display()
        )
    })?;
    bar.end();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render_text());
    }
    let mut failed = false;
    for f in report.failed() {
        failed = true;
        eprintln!(
            "imagewise: error: {}: {}",
            f.ecosystem,
            f.problem.as_deref().unwrap_or("failed")
        );
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
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
