//! `imagewise check APP --on IMAGE [--on IMAGE…] [--json] [--explain] [--symbols]`

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use imagewise_compat::{AppSet, Code, Options, Target, Verdict};
use serde::Serialize;

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

#[derive(Serialize)]
struct Result_<'a> {
    binary: &'a str,
    target: &'a str,
    runs: bool,
    reasons: &'a [imagewise_compat::Reason],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    loader: Option<&'a str>,
    /// Only with --explain.
    #[serde(skip_serializing_if = "Option::is_none")]
    loaded: Option<&'a [imagewise_compat::Loaded]>,
}

#[derive(Serialize)]
struct Doc<'a> {
    results: Vec<Result_<'a>>,
    summary: &'a Summary,
}

#[derive(Serialize)]
struct TargetSummary {
    target: String,
    arch: Option<String>,
    libc: Option<&'static str>,
    /// The release of its glibc, when it has one.
    glibc: Option<String>,
    kernel: Option<String>,
    ld_cache: String,
    checked: usize,
    run: usize,
    wont_run: usize,
    /// The most common reasons, with how many binaries each stops.
    top_reasons: Vec<TopReason>,
}

#[derive(Serialize)]
struct TopReason {
    code: Code,
    what: String,
    binaries: usize,
}

#[derive(Serialize)]
struct Summary {
    app: String,
    binaries: usize,
    skipped: Vec<Skipped>,
    targets: Vec<TargetSummary>,
    all_run: bool,
}

#[derive(Serialize)]
struct Skipped {
    path: String,
    why: String,
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
    let wrap = |e: String| anyhow::Error::from(InputError(format!("{}: {e}", a.app)));
    match input {
        AppInput::File { name, bytes } => Ok(AppSet::file(&name, &bytes, &a.at, defs)),
        AppInput::Bundle(tree) => AppSet::bundle(Arc::new(tree), &a.at, defs).map_err(wrap),
        AppInput::Image(tree) => AppSet::image(&tree, &a.paths, defs).map_err(wrap),
    }
}

/// Open the application: a file, a bundle directory, or an image.
fn open_app(a: &CheckArgs, global: &Global) -> anyhow::Result<AppInput> {
    if !a.at.starts_with('/') {
        return Err(InputError(format!("--at {}: must be an absolute path", a.at)).into());
    }
    let host = Path::new(&a.app);
    let has_transport = a.app.split_once(':').is_some_and(|(t, _)| {
        matches!(
            t,
            "dir" | "tar" | "docker-archive" | "oci" | "oci-archive" | "disk"
        )
    });
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
    let is_image = matches!(app, AppInput::Image(_));
    let set = app_set(a, app, targets.iter().any(Target::needs_symbols))?;
    tracing::info!(
        "{} application binaries read in {:?}",
        set.binaries.len(),
        t0.elapsed()
    );
    if set.binaries.is_empty() {
        let mut msg = format!("{}: no ELF programs or libraries to check", a.app);
        if !set.skipped.is_empty() {
            msg.push_str(&format!(
                " ({} ELF files skipped: {})",
                set.skipped.len(),
                set.skipped[0].1
            ));
        } else if is_image && a.paths.is_empty() {
            msg.push_str(" (an image is checked by its entrypoint and PATH directories: name others with --path, or --path / for all)");
        }
        return Err(InputError(msg).into());
    }
    let mut results: Vec<(String, Verdict)> = Vec::new();
    let mut summaries = Vec::new();
    for target in &targets {
        let reference = &target.reference;
        let start = results.len();
        for v in check_all(target, &set) {
            results.push((reference.clone(), v));
        }
        let verdicts = &results[start..];
        let run = verdicts.iter().filter(|(_, v)| v.runs).count();
        let mut counts: BTreeMap<(Code, String), usize> = BTreeMap::new();
        for (_, v) in verdicts {
            let mut seen = std::collections::BTreeSet::new();
            for r in &v.reasons {
                let what = reason_key(r);
                if seen.insert((r.code, what.clone())) {
                    *counts.entry((r.code, what)).or_default() += 1;
                }
            }
        }
        let mut top: Vec<TopReason> = counts
            .into_iter()
            .map(|((code, what), binaries)| TopReason {
                code,
                what,
                binaries,
            })
            .collect();
        top.sort_by(|a, b| b.binaries.cmp(&a.binaries).then(a.code.cmp(&b.code)));
        top.truncate(10);
        summaries.push(TargetSummary {
            target: reference.clone(),
            arch: target.arch.map(|m| m.name()),
            libc: target.libc.map(|l| l.as_str()),
            glibc: target.glibc_version(),
            kernel: target.kernel.as_ref().map(|k| k.0.clone()),
            ld_cache: match &target.ld_cache {
                Ok(Some(c)) => format!("{} entries ({} format)", c.entries.len(), c.layout),
                Ok(None) => "absent".into(),
                Err(e) => format!("damaged, ignored as the loader ignores it: {e}"),
            },
            checked: verdicts.len(),
            run,
            wont_run: verdicts.len() - run,
            top_reasons: top,
        });
    }
    tracing::info!("checked in {:?}", t0.elapsed());
    let all_run = results.iter().all(|(_, v)| v.runs);
    let summary = Summary {
        app: a.app.clone(),
        binaries: set.binaries.len(),
        skipped: set
            .skipped
            .iter()
            .map(|(p, w)| Skipped {
                path: p.clone(),
                why: w.clone(),
            })
            .collect(),
        targets: summaries,
        all_run,
    };
    let n = set.binaries.len();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if a.json {
        let list: Vec<Result_> = results
            .iter()
            .enumerate()
            .map(|(i, (t, v))| Result_ {
                binary: &set.binaries[i % n].path,
                target: t,
                runs: v.runs,
                reasons: &v.reasons,
                notes: &v.notes,
                loader: v.loader.as_deref(),
                loaded: a.explain.then_some(v.loaded.as_slice()),
            })
            .collect();
        let doc = Doc {
            results: list,
            summary: &summary,
        };
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        render(&mut out, a, &set, &results, &summary)?;
    }
    out.flush()?;
    Ok(if all_run {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Every binary of the set against one target, on every core.
fn check_all(target: &Target, set: &AppSet) -> Vec<Verdict> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    let chunk = set.binaries.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = set
            .binaries
            .chunks(chunk)
            .map(|bins| {
                scope.spawn(move || {
                    bins.iter()
                        .map(|b| target.check_app(set, b))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// What a reason is about, for counting: the message without the binary-specific parts.
fn reason_key(r: &imagewise_compat::Reason) -> String {
    match r.code {
        Code::VersionNotFound => format!(
            "needs {} from {}",
            r.versions.first().map(String::as_str).unwrap_or("?"),
            r.library.as_deref().unwrap_or("?")
        ),
        Code::LibraryNotFound => format!("{} not found", r.library.as_deref().unwrap_or("?")),
        Code::UndefinedSymbol => "undefined symbols".into(),
        _ => r.message.clone(),
    }
}

/// Binaries listed per target in the human output (all with --explain).
const SHOW_BINARIES: usize = 25;

fn render(
    out: &mut impl Write,
    a: &CheckArgs,
    set: &AppSet,
    results: &[(String, Verdict)],
    summary: &Summary,
) -> anyhow::Result<()> {
    let n = set.binaries.len();
    let single = n == 1;
    for (ti, t) in summary.targets.iter().enumerate() {
        let verdicts = &results[ti * n..(ti + 1) * n];
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
        for (bi, (_, v)) in verdicts.iter().enumerate() {
            let b = &set.binaries[bi];
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
                b.path
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
                for l in &v.loaded {
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
            .filter(|(_, v)| !v.runs)
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
