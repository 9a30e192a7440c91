//! The snapshot store: `repo`, `key`, `snapshot`, `restore`, `forget`, `prune`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use imagewise_store::{
    CheckOptions, ChunkParams, Compression, CreateOptions, ForgetPolicy, InitOptions, PublicKey,
    Repo, RestoreOptions, SecretKey,
};

use crate::{progress, Global, OpenArgs};

fn bar(global: &Global, json: bool) -> Arc<progress::Bar> {
    Arc::new(progress::Bar::new(
        !(global.no_progress || global.quiet || json),
    ))
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn open(repo: &str) -> anyhow::Result<Repo> {
    Ok(Repo::open_location(repo)?)
}

// ---------------------------------------------------------------- repo

#[derive(Args)]
pub(crate) struct RepoArgs {
    #[command(subcommand)]
    command: RepoCommand,
}

#[derive(Subcommand)]
enum RepoCommand {
    /// Create a repository in a new or empty directory.
    Init(InitArgs),
    /// Verify the repository: snapshots, signatures, trees, index; --read-data reads every byte.
    Check(CheckArgs),
    /// Sizes: snapshots, packs, blobs, deduplication.
    Stats(RepoOnly),
    /// Index packs that no index lists (after a lost index file).
    Repair(RepoOnly),
}

#[derive(Args)]
struct InitArgs {
    /// The repository: a directory.
    repo: String,
    /// zstd:LEVEL (-7..22) or none.
    #[arg(long, default_value = "zstd:3")]
    compression: String,
    /// Sign every snapshot with this key (its public half is written to the config).
    #[arg(long)]
    sign_key: Option<PathBuf>,
    /// Average chunk size for files, bytes (min = avg/4, max = avg*4).
    #[arg(long)]
    chunk_size: Option<u32>,
    /// Average chunk size for raw disk images, bytes.
    #[arg(long)]
    raw_chunk_size: Option<u32>,
    /// Print the result as JSON (docs/store.md).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CheckArgs {
    /// The repository: a directory.
    repo: String,
    /// Read and verify every pack and blob, not only the structure.
    #[arg(long)]
    read_data: bool,
    #[command(flatten)]
    signatures: Signatures,
    /// Print the result as JSON (docs/store.md).
    #[arg(long)]
    json: bool,
}

/// Which snapshots a signing repository's readers accept.
#[derive(Args)]
struct Signatures {
    /// Accept unsigned or wrongly signed snapshots (restore them; do not count them as errors).
    #[arg(long)]
    allow_unsigned: bool,
    /// Verify signatures with this public key instead of the repository's.
    #[arg(long)]
    trust_key: Option<PathBuf>,
}

impl Signatures {
    fn trust_key(&self) -> anyhow::Result<Option<PublicKey>> {
        Ok(self.trust_key.as_deref().map(PublicKey::load).transpose()?)
    }
}

#[derive(Args)]
pub(crate) struct RepoOnly {
    /// The repository: a directory.
    repo: String,
    /// Print the result as JSON (docs/store.md).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run_repo(a: &RepoArgs, global: &Global) -> anyhow::Result<ExitCode> {
    match &a.command {
        RepoCommand::Init(i) => {
            let compression: Compression = i.compression.parse()?;
            let public_key = i.sign_key.as_deref().map(PublicKey::load).transpose()?;
            let opts = InitOptions {
                compression,
                public_key,
                chunker: i.chunk_size.map(ChunkParams::around),
                raw_chunker: i.raw_chunk_size.map(ChunkParams::around),
            };
            let repo = Repo::init_location(&i.repo, &opts)?;
            if i.json {
                print_json(repo.config())?;
            } else if !global.quiet {
                println!(
                    "created repository {} (compression {}, {})",
                    repo.location(),
                    repo.config().compression,
                    match &repo.config().public_key {
                        Some(k) => format!("snapshots signed by ed25519 key {k}"),
                        None => "unsigned".into(),
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::Check(c) => {
            let repo = open(&c.repo)?;
            let opts = CheckOptions {
                read_data: c.read_data,
                allow_unsigned: c.signatures.allow_unsigned,
                trust_key: c.signatures.trust_key()?,
                progress: bar(global, c.json),
            };
            let rep = repo.check(&opts)?;
            if c.json {
                print_json(&rep.outcome())?;
            } else {
                for w in &rep.warnings {
                    eprintln!("imagewise: warning: {w}");
                }
                print!("{}", rep.render_text(&repo.location(), c.read_data));
            }
            Ok(if rep.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        RepoCommand::Stats(r) => {
            let repo = open(&r.repo)?;
            let s = repo.stats()?;
            if r.json {
                print_json(&s)?;
            } else {
                print!("{}", s.render_text(&repo.location()));
            }
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::Repair(r) => {
            let repo = open(&r.repo)?;
            let rep = repo.repair_index()?;
            if r.json {
                print_json(&rep)?;
            } else {
                println!("indexed {} packs that no index listed", rep.packs_indexed);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

// ---------------------------------------------------------------- key

#[derive(Args)]
pub(crate) struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Make an ed25519 key pair: OUT (secret, mode 0600) and OUT.pub.
    Generate { out: PathBuf },
}

pub(crate) fn run_key(a: &KeyArgs) -> anyhow::Result<ExitCode> {
    match &a.command {
        KeyCommand::Generate { out } => {
            let public = imagewise_store::generate_key(out)?;
            println!(
                "wrote {} (secret) and {}.pub; public key ed25519:{public}",
                out.display(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

// ---------------------------------------------------------------- snapshot

#[derive(Args)]
pub(crate) struct SnapshotArgs {
    #[command(subcommand)]
    command: SnapshotCommand,
}

#[derive(Subcommand)]
enum SnapshotCommand {
    /// Store an image (any reference: dir, tar, oci, docker-archive, disk) as a new snapshot.
    Create(CreateArgs),
    /// List snapshots, oldest first.
    List(RepoOnly),
    /// One snapshot's details.
    Show(ShowArgs),
    /// What changed between two snapshots.
    Diff(DiffArgs),
    /// List the entries of a snapshot (or of one directory in it): the same as
    /// `imagewise ls snapshot:REPO@SNAP [PATH]`.
    Ls(LsArgs),
}

#[derive(Args)]
struct LsArgs {
    /// The repository: a directory.
    repo: String,
    /// Snapshot id, unique prefix, tag or `latest`.
    snapshot: String,
    /// A directory or file in the snapshot.
    path: Option<String>,
    /// JSON lines, as `imagewise ls --json` (docs/ls-json.md).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    open: OpenArgs,
}

#[derive(Args)]
struct CreateArgs {
    /// The repository: a directory.
    repo: String,
    image: String,
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Store a disk image file's own bytes (sparse-aware) instead of its filesystem tree.
    #[arg(long)]
    raw: bool,
    /// Secret key for a repository that signs snapshots.
    #[arg(long, env = "IMAGEWISE_SIGN_KEY")]
    sign_key: Option<PathBuf>,
    /// Compression threads (default: one per CPU).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// The parent snapshot whose chunks unchanged files reuse (id, prefix, tag or `latest`);
    /// default: the newest of the same source and tags from this host.
    #[arg(long)]
    parent: Option<String>,
    /// Read every file, whatever the files cache says (a file changed with its mtime and ctime
    /// kept looks unchanged to it).
    #[arg(long)]
    force: bool,
    /// Print the result as JSON (docs/store.md).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    open: OpenArgs,
}

#[derive(Args)]
struct ShowArgs {
    /// The repository: a directory.
    repo: String,
    #[arg(default_value = "latest")]
    snapshot: String,
    /// Print the result as JSON (docs/store.md).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DiffArgs {
    /// The repository: a directory.
    repo: String,
    a: String,
    b: String,
    /// Print the result as JSON (docs/store.md).
    #[arg(long)]
    json: bool,
}

/// The reference as it should be remembered: paths made absolute.
fn remembered(image: &str) -> String {
    let (prefix, rest) = match imagewise_source::Transport::of(image) {
        Some(t) => (format!("{t}:"), &image[t.name().len() + 1..]),
        None => (String::new(), image),
    };
    match std::fs::canonicalize(rest) {
        Ok(abs) => format!("{prefix}{}", abs.display()),
        Err(_) => image.to_string(),
    }
}

pub(crate) fn run_snapshot(a: &SnapshotArgs, global: &Global) -> anyhow::Result<ExitCode> {
    match &a.command {
        SnapshotCommand::Create(c) => {
            let repo = open(&c.repo)?;
            let opts = CreateOptions {
                source: remembered(&c.image),
                tags: c.tags.clone(),
                sign_key: c.sign_key.as_deref().map(SecretKey::load).transpose()?,
                progress: bar(global, c.json),
                threads: c.threads,
                cache_dir: imagewise_store::default_cache_dir(),
                parent: c.parent.clone(),
                force: c.force,
            };
            let rep = if c.raw {
                let path = c.image.strip_prefix("disk:").unwrap_or(&c.image);
                repo.create_raw(Path::new(path), &opts)?
            } else {
                // The repository's side (lock, index, files cache, parent) is set up on a
                // thread of its own while the image is opened: for an unchanged tree the walk
                // is most of the time. The image's error, when both fail, is the one shown.
                let (tree, prepared) = std::thread::scope(|scope| {
                    let prepared = scope.spawn(|| repo.prepare_tree(&opts));
                    let tree = super::open_image(&c.image, &c.open, global, c.json);
                    let prepared = prepared
                        .join()
                        .map_err(|_| anyhow::anyhow!("preparing the repository failed"));
                    (tree, prepared)
                });
                let tree = tree?;
                prepared?
                    .and_then(|p| p.store(&tree, &opts))
                    .with_context(|| format!("storing {}", c.image))?
            };
            if !global.quiet {
                for w in &rep.warnings {
                    eprintln!("imagewise: warning: {w}");
                }
            }
            if c.json {
                print_json(&rep)?;
            } else if !global.quiet {
                print!("{}", rep.render_text());
            }
            Ok(ExitCode::SUCCESS)
        }
        SnapshotCommand::List(l) => {
            let repo = open(&l.repo)?;
            let (snaps, bad) = repo.snapshots()?;
            for (name, why) in &bad {
                eprintln!("imagewise: warning: snapshots/{name}: {why}");
            }
            if l.json {
                print_json(&snaps)?;
            } else {
                print!("{}", imagewise_store::render_list(&snaps));
            }
            Ok(ExitCode::SUCCESS)
        }
        SnapshotCommand::Show(sh) => {
            let repo = open(&sh.repo)?;
            let s = repo
                .find(&sh.snapshot)?
                .show(repo.config().public_key.as_ref());
            if sh.json {
                print_json(&s)?;
            } else {
                print!("{}", s.render_text());
            }
            Ok(ExitCode::SUCCESS)
        }
        SnapshotCommand::Ls(l) => {
            let image = format!("snapshot:{}@{}", l.repo, l.snapshot);
            super::ls::list(&image, l.path.as_deref(), l.json, false, &l.open, global)
        }
        SnapshotCommand::Diff(d) => {
            let repo = open(&d.repo)?;
            let rep = repo.diff(&d.a, &d.b)?;
            if d.json {
                print_json(&rep)?;
            } else {
                print!("{}", rep.render_text());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

// ---------------------------------------------------------------- restore, forget, prune

#[derive(Args)]
pub(crate) struct RestoreArgs {
    /// The repository: a directory.
    repo: String,
    /// Snapshot id, unique prefix, tag or `latest`.
    snapshot: String,
    /// A new or empty directory (a new file for a raw snapshot).
    target: PathBuf,
    /// Restore only this path and what is under it (repeatable).
    #[arg(long = "path")]
    paths: Vec<String>,
    #[command(flatten)]
    signatures: Signatures,
    /// Print the result as JSON (docs/store.md).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run_restore(a: &RestoreArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let repo = open(&a.repo)?;
    let opts = RestoreOptions {
        paths: a.paths.clone(),
        allow_unsigned: a.signatures.allow_unsigned,
        trust_key: a.signatures.trust_key()?,
        progress: bar(global, a.json),
    };
    let rep = repo.restore(&a.snapshot, &a.target, &opts)?;
    if a.json {
        print_json(&rep.outcome())?;
    } else {
        for (p, why) in &rep.failures {
            eprintln!("imagewise: error: {p}: NOT RESTORED: {why}");
        }
        if rep.skipped_unprivileged > 0 {
            eprintln!(
                "imagewise: warning: not running as root: {} owners and security/trusted xattrs were not set (restore as root for an exact copy)",
                rep.skipped_unprivileged
            );
        }
        if !global.quiet {
            print!("{}", rep.render_text(&a.target));
        }
    }
    Ok(if rep.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Args)]
pub(crate) struct ForgetArgs {
    /// The repository: a directory.
    repo: String,
    #[arg(long, default_value_t = 0)]
    keep_last: usize,
    #[arg(long, default_value_t = 0)]
    keep_daily: usize,
    #[arg(long, default_value_t = 0)]
    keep_weekly: usize,
    #[arg(long, default_value_t = 0)]
    keep_monthly: usize,
    /// Always keep snapshots with this tag (repeatable).
    #[arg(long = "keep-tag")]
    keep_tags: Vec<String>,
    /// Show what would be forgotten; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON (docs/store.md).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run_forget(a: &ForgetArgs) -> anyhow::Result<ExitCode> {
    let repo = open(&a.repo)?;
    let rep = repo.forget(&ForgetPolicy {
        keep_last: a.keep_last,
        keep_daily: a.keep_daily,
        keep_weekly: a.keep_weekly,
        keep_monthly: a.keep_monthly,
        keep_tags: a.keep_tags.clone(),
        dry_run: a.dry_run,
    })?;
    if a.json {
        print_json(&rep)?;
    } else {
        print!("{}", rep.render_text());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run_prune(a: &RepoOnly) -> anyhow::Result<ExitCode> {
    let repo = open(&a.repo)?;
    let rep = repo.prune()?;
    if a.json {
        print_json(&rep)?;
    } else {
        print!("{}", rep.render_text());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) type PruneArgs = RepoOnly;
