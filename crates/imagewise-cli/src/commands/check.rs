//! `imagewise check APP --on IMAGE [--on IMAGE…] [--json] [--explain] [--symbols]`

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use imagewise_compat::{AppSet, Options, Target};

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
/// An application to check: what `check` takes as APP, `--at` and `--path`.
pub(crate) struct AppArgs<'a> {
    pub app: &'a str,
    pub at: &'a str,
    pub paths: &'a [String],
}

/// Read an application's binaries as `check` does (rank uses it for `app` requirements).
pub(crate) fn load_app(
    a: &AppArgs<'_>,
    opts: &imagewise_source::OpenOptions,
    global: &Global,
    defs: bool,
) -> anyhow::Result<AppSet> {
    app_set(a, open_app(a, opts, global)?, defs)
}

fn app_set(a: &AppArgs<'_>, input: AppInput, defs: bool) -> anyhow::Result<AppSet> {
    let set = match input {
        AppInput::File { name, bytes } => Ok(AppSet::file(&name, &bytes, a.at, defs)),
        AppInput::Bundle(tree) => AppSet::bundle(Arc::new(tree), a.at, defs),
        AppInput::Image(tree) => AppSet::image(&tree, a.paths, defs),
    };
    set.with_context(|| a.app.to_string())
}

/// Open the application: a file, a bundle directory, or an image.
fn open_app(
    a: &AppArgs<'_>,
    opts: &imagewise_source::OpenOptions,
    global: &Global,
) -> anyhow::Result<AppInput> {
    if !a.at.starts_with('/') {
        return Err(InputError(format!("--at {}: must be an absolute path", a.at)).into());
    }
    let host = Path::new(a.app);
    let has_transport = imagewise_source::Transport::of(a.app).is_some();
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
        let tree = open_image_with(&format!("dir:{}", a.app), opts, global)?;
        return Ok(AppInput::Bundle(tree));
    }
    Ok(AppInput::Image(open_image_with(a.app, opts, global)?))
}

pub(crate) fn run(a: &CheckArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let opts = Options { symbols: a.symbols };
    let t0 = std::time::Instant::now();
    // The application opens while the targets are indexed; whether any target needs symbol
    // checks then decides how the application's binaries are read.
    let x = AppArgs {
        app: &a.app,
        at: &a.at,
        paths: &a.paths,
    };
    let app_opts = open_opts(a, global)?;
    let (app, targets) = std::thread::scope(|scope| {
        let app = scope.spawn(|| open_app(&x, &app_opts, global));
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
    let set = app_set(&x, app, targets.iter().any(Target::needs_symbols))?;
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
        out.write_all(report.render_text(a.explain).as_bytes())?;
    }
    out.flush()?;
    Ok(if report.summary.all_run {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
