//! `imagewise check APP --on IMAGE [--on IMAGE…] [--json] [--explain] [--symbols]`

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use imagewise_compat::{AppSet, CheckReport, Options, Target};

use super::open_image_with;
use crate::{Global, InputError, OpenArgs};

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// The application: an ELF file, a directory (every ELF under it, placed at --at), or an
    /// image reference (dir:, tar:, oci:, …: its entrypoint and PATH programs, or --path).
    app: String,
    /// A target image (repeat for several).
    #[arg(long = "on", required = true, value_name = "IMAGE")]
    on: Vec<String>,
    /// Where a file or directory application is placed on the targets (its $ORIGIN).
    #[arg(long, default_value = "/opt/app")]
    at: String,
    /// For an image application: check every ELF under these paths instead (repeatable; `/` for
    /// all of them).
    #[arg(long = "path", value_name = "PATH")]
    paths: Vec<String>,
    /// Also require every non-weak undefined symbol to be defined by a loaded library (as
    /// `ldd -r`; musl targets always do this).
    #[arg(long)]
    symbols: bool,
    /// Show what the loader would load for each binary, and how each library was found.
    #[arg(long)]
    explain: bool,
    /// Print one JSON document: `results` (one per binary and target) and `summary`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    open: OpenArgs,
}

/// How images are opened for a check: extended attributes play no part, so they are not read.
fn open_opts(a: &CheckArgs, global: &Global) -> anyhow::Result<imagewise_source::OpenOptions> {
    let mut o = a.open.options(global, a.json)?;
    o.xattrs = false;
    Ok(o)
}

/// The application as given, opened but not yet read.
enum AppInput {
    File { name: String, bytes: Vec<u8> },
    Bundle(imagewise_source::ImageTree),
    Image(imagewise_source::ImageTree),
}

/// Read the application's binaries; `defs`: with their defined symbols (for symbol checks).
fn app_set(a: &CheckArgs, input: AppInput, defs: bool) -> anyhow::Result<AppSet> {
    let set = match input {
        AppInput::File { name, bytes } => Ok(AppSet::file(&name, &bytes, &a.at, defs)),
        AppInput::Bundle(tree) => AppSet::bundle(Arc::new(tree), &a.at, defs),
        AppInput::Image(tree) => AppSet::image(&tree, &a.paths, defs),
    };
    set.with_context(|| a.app.clone())
}

/// Open the application: a file, a bundle directory, or an image.
fn open_app(a: &CheckArgs, global: &Global) -> anyhow::Result<AppInput> {
    if !a.at.starts_with('/') {
        return Err(InputError(format!("--at {}: must be an absolute path", a.at)).into());
    }
    let host = Path::new(&a.app);
    let has_transport = imagewise_source::Transport::of(&a.app).is_some();
    if !has_transport && host.is_file() {
        let mut head = [0u8; 4];
        let is_elf = std::fs::File::open(host)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok()
            && imagewise_compat::is_elf(&head);
        if is_elf {
            if !a.paths.is_empty() {
                return Err(InputError(
                    "--path is for an image application, not a single file".into(),
                )
                .into());
            }
            let bytes = std::fs::read(host).with_context(|| format!("cannot read {}", a.app))?;
            let name = host
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "app".into());
            return Ok(AppInput::File { name, bytes });
        }
    }
    if !has_transport && host.is_dir() && !host.join("oci-layout").exists() {
        if !a.paths.is_empty() {
            return Err(InputError(format!(
                "--path is for an image application; {} is a directory bundle (every ELF under it is checked) — write dir:{} to treat it as a root filesystem",
                a.app, a.app
            ))
            .into());
        }
        let tree = open_image_with(&format!("dir:{}", a.app), &open_opts(a, global)?, global)?;
        return Ok(AppInput::Bundle(tree));
    }
    Ok(AppInput::Image(open_image_with(
        &a.app,
        &open_opts(a, global)?,
        global,
    )?))
}

pub(crate) fn run(a: &CheckArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let opts = Options { symbols: a.symbols };
    let t0 = std::time::Instant::now();
    // The application opens while the targets are indexed; whether any target needs symbol
    // checks then decides how the application's binaries are read.
    let (app, targets) = std::thread::scope(|scope| {
        let app = scope.spawn(|| open_app(a, global));
        let targets =
            a.on.iter()
                .map(|reference| {
                    let tree = open_image_with(reference, &open_opts(a, global)?, global)?;
                    Ok(Target::new(reference, Arc::new(tree), opts))
                })
                .collect::<anyhow::Result<Vec<Target>>>();
        let app = app.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (app, targets)
    });
    let app = app?;
    let targets = targets?;
    tracing::info!("application and targets opened in {:?}", t0.elapsed());
    let hint = if matches!(app, AppInput::Image(_)) && a.paths.is_empty() {
        " (an image is checked by its entrypoint and PATH directories: name others with --path, or --path / for all)"
    } else {
        ""
    };
    let set = app_set(a, app, targets.iter().any(Target::needs_symbols))?;
    tracing::info!(
        "{} application binaries read in {:?}",
        set.binaries.len(),
        t0.elapsed()
    );
    let report = imagewise_compat::check_all(&a.app, &set, &targets, a.explain, hint)?;
    tracing::info!("checked in {:?}", t0.elapsed());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if a.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        render(&mut out, a, &report)?;
    }
    out.flush()?;
    Ok(if report.summary.all_run {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Binaries listed per target in the human output (all with --explain).
const SHOW_BINARIES: usize = 25;

fn render(out: &mut impl Write, a: &CheckArgs, report: &CheckReport) -> anyhow::Result<()> {
    let summary = &report.summary;
    let n = summary.binaries;
    let single = n == 1;
    for (ti, t) in summary.targets.iter().enumerate() {
        let verdicts = &report.results[ti * n..(ti + 1) * n];
        let facts = [
            t.arch.clone(),
            match (t.libc, &t.glibc) {
                (Some("glibc"), Some(v)) => Some(format!("glibc {v}")),
                (l, _) => l.map(str::to_string),
            },
            t.kernel.as_ref().map(|k| format!("kernel {k}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        writeln!(out, "on {} ({facts}):", t.target)?;
        if !single {
            writeln!(
                out,
                "  {} binaries: {} run, {} won't run",
                t.checked, t.run, t.wont_run
            )?;
        }
        let mut shown = 0;
        for v in verdicts {
            if v.runs && !a.explain && !single {
                continue;
            }
            if !a.explain && shown >= SHOW_BINARIES {
                continue;
            }
            shown += 1;
            let mark = if v.runs { "runs" } else { "won't run" };
            writeln!(
                out,
                "  {} {}: {mark}",
                if v.runs { "✓" } else { "✗" },
                v.binary
            )?;
            let limit = if a.explain || single { usize::MAX } else { 1 };
            for r in v.reasons.iter().take(limit) {
                writeln!(out, "      {}", r.message)?;
                if let Some(h) = &r.hint {
                    writeln!(out, "        hint: {h}")?;
                }
                if a.explain && !r.skipped.is_empty() {
                    writeln!(out, "        skipped: {}", r.skipped.join(", "))?;
                }
            }
            if v.reasons.len() > limit {
                writeln!(out, "      (+{} more reasons)", v.reasons.len() - limit)?;
            }
            if a.explain {
                for note in &v.notes {
                    writeln!(out, "      note: {note}")?;
                }
                for l in v.loaded.iter().flatten() {
                    let how = serde_json::to_value(l.how)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    let from = if l.from_app { ", from the app" } else { "" };
                    writeln!(out, "        {} => {} ({how}{from})", l.name, l.path)?;
                }
            }
        }
        let hidden = verdicts
            .iter()
            .filter(|v| !v.runs)
            .count()
            .saturating_sub(shown);
        if hidden > 0 && !a.explain {
            writeln!(
                out,
                "  … and {hidden} more that won't run (--json lists every pair)"
            )?;
        }
        if !single && !t.top_reasons.is_empty() {
            writeln!(out, "  most common reasons:")?;
            for r in t.top_reasons.iter().take(5) {
                writeln!(out, "    {:>5} × {}", r.binaries, r.what)?;
            }
        }
    }
    if !summary.skipped.is_empty() {
        writeln!(
            out,
            "skipped {} ELF files that are not programs or libraries (first: {}: {})",
            summary.skipped.len(),
            summary.skipped[0].path,
            summary.skipped[0].why
        )?;
    }
    Ok(())
}
