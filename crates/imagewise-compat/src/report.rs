//! A whole check as a report: every binary of an application against every target, with a
//! summary per target (what it is, how many binaries run, the most common reasons). This is the
//! type `check --json` prints field for field (docs/check.md).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::verdict::{Code, Reason, Verdict};
use crate::{AppSet, Error, Target};

/// One binary on one target: its verdict (what the loader would load only when explained).
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The binary as the application names it (its path in the bundle or image).
    pub binary: String,
    /// The target's reference.
    pub target: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

impl std::ops::Deref for CheckResult {
    type Target = Verdict;

    fn deref(&self) -> &Verdict {
        &self.verdict
    }
}

/// A target: what it is and how the application fared on it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetSummary {
    pub target: String,
    /// Its architecture, as every report spells it (`amd64`).
    pub arch: Option<String>,
    pub libc: Option<&'static str>,
    /// The release of its glibc, when it has one.
    pub glibc: Option<String>,
    pub kernel: Option<String>,
    pub ld_cache: String,
    pub checked: usize,
    pub run: usize,
    pub wont_run: usize,
    /// The most common reasons, with how many binaries each stops.
    pub top_reasons: Vec<TopReason>,
}

/// A reason, without what is particular to one binary, and how many binaries it stops.
#[derive(Debug, Clone, Serialize)]
pub struct TopReason {
    pub code: Code,
    pub what: String,
    pub binaries: usize,
}

/// An ELF file of the application that is not a program or library.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub path: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The application as named.
    pub app: String,
    pub binaries: usize,
    pub skipped: Vec<Skipped>,
    pub targets: Vec<TargetSummary>,
    pub all_run: bool,
}

/// `check --json`: one result per (target, binary), targets in the order given, binaries in
/// the application's order; and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub results: Vec<CheckResult>,
    pub summary: Summary,
}

/// Reasons counted per target in its summary.
const TOP_REASONS: usize = 10;

/// Check every binary of `set` (the application named `app`) against every target, each
/// target's binaries on every core. `explain` keeps what each binary would load. An application
/// with no binaries is an error that says what was looked at (`hint`, appended).
pub fn check_all(
    app: &str,
    set: &AppSet,
    targets: &[Target],
    explain: bool,
    hint: &str,
) -> Result<CheckReport, Error> {
    if set.binaries.is_empty() {
        let detail = match set.skipped.first() {
            Some((_, why)) => format!(" ({} ELF files skipped: {why})", set.skipped.len()),
            None => hint.to_string(),
        };
        return Err(Error::NoBinaries {
            app: app.to_string(),
            detail,
        });
    }
    let mut results = Vec::new();
    let mut summaries = Vec::new();
    for target in targets {
        let verdicts = on_every_core(target, set);
        summaries.push(summarize(target, &verdicts));
        for (b, mut verdict) in set.binaries.iter().zip(verdicts) {
            if !explain {
                verdict.loaded.clear();
            }
            results.push(CheckResult {
                binary: b.path.clone(),
                target: target.reference.clone(),
                verdict,
            });
        }
    }
    let all_run = results.iter().all(|r| r.runs);
    Ok(CheckReport {
        results,
        summary: Summary {
            app: app.to_string(),
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
        },
    })
}

/// Every binary of the set against one target, in the set's order, on every core.
fn on_every_core(target: &Target, set: &AppSet) -> Vec<Verdict> {
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

fn summarize(target: &Target, verdicts: &[Verdict]) -> TargetSummary {
    let run = verdicts.iter().filter(|v| v.runs).count();
    let mut counts: BTreeMap<(Code, String), usize> = BTreeMap::new();
    for v in verdicts {
        let mut seen = BTreeSet::new();
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
    top.truncate(TOP_REASONS);
    TargetSummary {
        target: target.reference.clone(),
        arch: target.architecture().map(|a| a.to_string()),
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
    }
}

/// What a reason is about, for counting: the message without the binary-specific parts.
fn reason_key(r: &Reason) -> String {
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

impl CheckReport {
    /// Per target: what it is, the binaries that won't run (all of them with `explain`, with
    /// what the loader would load) and the most common reasons.
    pub fn render_text(&self, explain: bool) -> String {
        let mut s = String::new();
        let _ = render(&mut s, explain, self);
        s
    }
}

fn render(out: &mut String, explain: bool, report: &CheckReport) -> std::fmt::Result {
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
            if v.runs && !explain && !single {
                continue;
            }
            if !explain && shown >= SHOW_BINARIES {
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
            let limit = if explain || single { usize::MAX } else { 1 };
            for r in v.reasons.iter().take(limit) {
                writeln!(out, "      {}", r.message)?;
                if let Some(h) = &r.hint {
                    writeln!(out, "        hint: {h}")?;
                }
                if explain && !r.skipped.is_empty() {
                    writeln!(out, "        skipped: {}", r.skipped.join(", "))?;
                }
            }
            if v.reasons.len() > limit {
                writeln!(out, "      (+{} more reasons)", v.reasons.len() - limit)?;
            }
            if explain {
                for note in &v.notes {
                    writeln!(out, "      note: {note}")?;
                }
                for l in &v.loaded {
                    let how = l.how.as_str();
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
        if hidden > 0 && !explain {
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
