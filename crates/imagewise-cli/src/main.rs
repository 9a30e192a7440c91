//! The `imagewise` command: parses arguments, calls the libraries, renders their reports.

mod commands;
mod progress;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use imagewise_source::{Limits, OpenOptions, Platform};
use imagewise_store::SnapshotSource;
use imagewise_types::{ErrorKind, HasKind};

#[derive(Parser)]
#[command(
    name = "imagewise",
    version,
    about = "Open, inspect, check and keep server images"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
pub(crate) struct Global {
    /// Print only errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Never draw progress bars.
    #[arg(long, global = true, env = "IMAGEWISE_NO_PROGRESS", value_parser = clap::builder::BoolishValueParser::new())]
    no_progress: bool,
    /// A lifecycle file whose rows add to or override the shipped end-of-support table
    /// (default: $XDG_CONFIG_HOME/imagewise/lifecycle.toml when it exists).
    #[arg(long, global = true, env = "IMAGEWISE_LIFECYCLE", value_name = "FILE")]
    lifecycle: Option<std::path::PathBuf>,
}

/// How to open an image; shared by every command that takes one.
#[derive(Args)]
pub(crate) struct OpenArgs {
    /// Platform to pick from a multi-platform image (os/arch[/variant]); default: the host's.
    #[arg(long, env = "IMAGEWISE_PLATFORM")]
    platform: Option<String>,
    /// Follow a qcow2 backing file that sits beside the image.
    #[arg(long, env = "IMAGEWISE_ALLOW_BACKING", value_parser = clap::builder::BoolishValueParser::new())]
    allow_backing: bool,
    /// Refuse a compressed stream that inflates to more than this many bytes.
    #[arg(long, env = "IMAGEWISE_MAX_UNPACKED_BYTES", default_value_t = Limits::default().max_unpacked_bytes)]
    max_unpacked_bytes: u64,
    /// Refuse a compressed stream that inflates more than this many times its size.
    #[arg(long, env = "IMAGEWISE_MAX_RATIO", default_value_t = Limits::default().max_ratio)]
    max_ratio: u64,
    /// Refuse an image with more entries than this.
    #[arg(long, env = "IMAGEWISE_MAX_ENTRIES", default_value_t = Limits::default().max_entries)]
    max_entries: u64,
    /// For snapshot: images: read snapshots that are unsigned or signed by another key from a
    /// repository that signs.
    #[arg(long, env = "IMAGEWISE_ALLOW_UNSIGNED", value_parser = clap::builder::BoolishValueParser::new())]
    allow_unsigned: bool,
    /// For snapshot: images: verify signatures with this public key instead of the
    /// repository's.
    #[arg(long, env = "IMAGEWISE_TRUST_KEY")]
    trust_key: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// List the entries of an image's merged root filesystem.
    Ls(commands::ls::LsArgs),
    /// Write one file of an image to standard output.
    Cat(commands::cat::CatArgs),
    /// Report what matters about an image: OS, arch, libc, packages, kernel, services, agents,
    /// runtimes, security settings, size.
    Inspect(commands::inspect::InspectArgs),
    /// Write a software bill of materials (SPDX 2.3 or CycloneDX 1.5 JSON) of an image's packages.
    Sbom(commands::sbom::SbomArgs),
    /// Offline vulnerability data: import OSV records, show what is held.
    Db(commands::db::DbArgs),
    /// Match an image's OS packages against the offline OSV database: findings with fixed
    /// versions and severity; exit 1 at or above --fail-on.
    Scan(commands::scan::ScanArgs),
    /// Hardening, tuning and fitness rules for an image, per workload profile, each with why
    /// and how to fix; exit 1 at or above --fail-on.
    Lint(commands::lint::LintArgs),
    /// A catalog of images — facts, lint, scan and trust — keyed by content digest, for `rank
    /// --catalog`: add, list, show, rm, refresh.
    Catalog(commands::catalog::CatalogArgs),
    /// How far an image can be trusted: signature, consistency with its package database,
    /// provenance, vulnerabilities, freshness — each with a level and its evidence.
    Trust(commands::trust::TrustArgs),
    /// The shipped table of distribution releases and their end of support, with any user rows.
    Lifecycle(commands::lifecycle::LifecycleArgs),
    /// Rank candidate images against requirements (a TOML file or a one-line spec): every
    /// rejection with every unmet requirement; exit 1 when none passes.
    Rank(commands::rank::RankArgs),
    /// Will an application (an ELF file, a directory, an image's programs) run on these images?
    /// Follows the dynamic loader's rules against each image's files; exit 1 when some won't.
    Check(commands::check::CheckArgs),
    /// Compare two package versions as dpkg, rpm, apk, SemVer or PEP 440 orders them: prints <, = or >.
    Vercmp(commands::vercmp::VercmpArgs),
    /// Snapshot repository: init, check [--read-data], stats, repair.
    Repo(commands::store::RepoArgs),
    /// Signing keys for repositories.
    Key(commands::store::KeyArgs),
    /// Store images as deduplicated, signed snapshots; list, show and diff them.
    Snapshot(commands::store::SnapshotArgs),
    /// Write a snapshot back: a directory tree with all metadata, or a raw disk image file.
    Restore(commands::store::RestoreArgs),
    /// Drop snapshots by a keep policy (per source); `prune` frees the space.
    Forget(commands::store::ForgetArgs),
    /// Delete data no snapshot uses; repack partly used packs.
    Prune(commands::store::PruneArgs),
}

/// A usage error the command itself finds (exit code 2).
#[derive(Debug)]
pub(crate) struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

impl OpenArgs {
    pub(crate) fn options(
        &self,
        global: &Global,
        quiet_output: bool,
    ) -> anyhow::Result<OpenOptions> {
        let platform = self.platform.as_deref().map(Platform::parse).transpose()?;
        let show = !(global.no_progress || global.quiet || quiet_output);
        Ok(OpenOptions {
            platform,
            allow_backing: self.allow_backing,
            limits: Limits {
                max_unpacked_bytes: self.max_unpacked_bytes,
                max_ratio: self.max_ratio,
                max_entries: self.max_entries,
            },
            progress: Arc::new(progress::Bar::new(show)),
            xattrs: true,
            snapshots: Some(Arc::new(SnapshotSource {
                allow_unsigned: self.allow_unsigned,
                trust_key: self
                    .trust_key
                    .as_deref()
                    .map(imagewise_store::PublicKey::load)
                    .transpose()?,
            })),
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IMAGEWISE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .init();
    let result = match &cli.command {
        Command::Ls(a) => commands::ls::run(a, &cli.global),
        Command::Cat(a) => commands::cat::run(a, &cli.global),
        Command::Inspect(a) => commands::inspect::run(a, &cli.global),
        Command::Sbom(a) => commands::sbom::run(a, &cli.global),
        Command::Db(a) => commands::db::run(a, &cli.global),
        Command::Scan(a) => commands::scan::run(a, &cli.global),
        Command::Lint(a) => commands::lint::run(a, &cli.global),
        Command::Rank(a) => commands::rank::run(a, &cli.global),
        Command::Lifecycle(a) => commands::lifecycle::run(a, &cli.global),
        Command::Catalog(a) => commands::catalog::run(a, &cli.global),
        Command::Trust(a) => commands::trust::run(a, &cli.global),
        Command::Vercmp(a) => commands::vercmp::run(a),
        Command::Check(a) => commands::check::run(a, &cli.global),
        Command::Repo(a) => commands::store::run_repo(a, &cli.global),
        Command::Key(a) => commands::store::run_key(a),
        Command::Snapshot(a) => commands::store::run_snapshot(a, &cli.global),
        Command::Restore(a) => commands::store::run_restore(a, &cli.global),
        Command::Forget(a) => commands::store::run_forget(a),
        Command::Prune(a) => commands::store::run_prune(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "imagewise: error: {e:#}");
            ExitCode::from(error_kind(&e).exit_code())
        }
    }
}

/// What kind of failure an error is: the first library error in its chain says. An error no
/// library made (a failed write to stdout, say) is the operating system's; anything else
/// unclassified is a bug.
fn error_kind(e: &anyhow::Error) -> ErrorKind {
    for c in e.chain() {
        let kind = if let Some(x) = c.downcast_ref::<imagewise_source::Error>() {
            x.kind()
        } else if let Some(x) = c.downcast_ref::<imagewise_store::Error>() {
            x.kind()
        } else if let Some(x) = c.downcast_ref::<imagewise_vuln::DbError>() {
            x.kind()
        } else if let Some(x) = c.downcast_ref::<imagewise_vuln::VersionError>() {
            x.kind()
        } else if let Some(x) = c.downcast_ref::<imagewise_vuln::MirrorError>() {
            x.kind()
        } else if let Some(x) = c.downcast_ref::<imagewise_vuln::IgnoreError>() {
            x.kind()
        } else if let Some(x) = c.downcast_ref::<imagewise_select::Error>() {
            x.kind()
        } else if let Some(x) = c.downcast_ref::<imagewise_lint::Error>() {
            x.kind()
        } else if let Some(x) = c.downcast_ref::<imagewise_compat::Error>() {
            x.kind()
        } else if c.downcast_ref::<InputError>().is_some() {
            ErrorKind::Usage
        } else if let Some(io) = c.downcast_ref::<std::io::Error>() {
            // A provided tree's reader (a stored snapshot) says what kind of failure it met.
            io.get_ref()
                .and_then(|inner| inner.downcast_ref::<imagewise_source::ProvidedError>())
                .map_or(ErrorKind::Io, |p| p.kind)
        } else {
            continue;
        };
        return kind;
    }
    ErrorKind::Internal
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    /// Every subcommand's arguments are well formed (unique names, valid defaults): clap checks
    /// this only when a command is first used, so a broken one would panic in the field.
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
