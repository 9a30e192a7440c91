//! Lint for server images: hardening, tuning and fitness rules over an image's facts and the few
//! files the rules read, for container images and VM disks alike. Each rule has a stable id, a
//! level, the wrappings and image kinds it applies to, the profiles it belongs to (`baseline`,
//! `cis-container`, `cis-host`, `web`, `db`, `cache`, `batch`, `vm`, and user profiles in TOML),
//! why it matters, how to fix it, and the equivalent CIS, dockle, SCAP Security Guide and lynis
//! checks. Every rule reads the image, never the host.
//!
//! ```no_run
//! use imagewise_source::{open, OpenOptions};
//!
//! let tree = open("/", &OpenOptions::default())?;
//! let opts = imagewise_lint::LintOptions::default(); // the baseline profile
//! let report = imagewise_lint::lint_image(&tree, &opts)?;
//! for r in report.results.iter().filter(|r| r.verdict == imagewise_lint::Verdict::Fail) {
//!     println!("{} {}: {}", r.level.as_str(), r.id, r.title);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod conf;
mod context;
mod error;
mod ignore;
mod profile;
mod report;
mod rule;
mod rules;

use imagewise_facts::ImageFacts;
use imagewise_source::ImageTree;

pub use context::target_of;
pub use error::Error;
pub use ignore::{IgnoreRule, IgnoreRules};
pub use profile::{
    select, Selection, Settings, UserProfiles, BUILTIN as BUILTIN_PROFILES, DEFAULT_INTS,
};
pub use report::{Counts, LintReport, RuleResult, Verdict};
pub use rule::{Family, Outcome, Refs, Rule, Target};
pub use rules::catalogue;

/// What to lint with.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// Profile names, built-in or from `user`; empty means `baseline`.
    pub profiles: Vec<String>,
    pub user: std::sync::Arc<UserProfiles>,
    pub ignore: IgnoreRules,
    /// For ignore dates; today (UTC) when `None`.
    pub today: Option<jiff::civil::Date>,
}

/// Inspect `tree` (reading the rules' files in the same pass) and lint it.
pub fn lint_image(tree: &ImageTree, opts: &LintOptions) -> Result<LintReport, Error> {
    let (facts, files) = imagewise_facts::inspect_with(tree, context::wants(tree));
    lint_facts(tree, &facts, &files, opts)
}

/// The files the rules read, to pass to [`imagewise_facts::inspect_with`] when the caller
/// wants the facts too.
pub fn wants(tree: &ImageTree) -> imagewise_facts::files::Wants {
    context::wants(tree)
}

/// Lint an image whose facts were read with [`wants`] added.
pub fn lint_facts(
    tree: &ImageTree,
    facts: &ImageFacts,
    files: &imagewise_facts::files::Files,
    opts: &LintOptions,
) -> Result<LintReport, Error> {
    let catalogue = catalogue();
    let sel = select(&opts.profiles, &opts.user, &catalogue)?;
    let ctx = context::Ctx::new(facts, tree, files, &sel.settings);
    let today = opts.today.unwrap_or_else(|| {
        jiff::tz::Offset::UTC
            .to_datetime(jiff::Timestamp::now())
            .date()
    });
    let mut results = Vec::new();
    for rule in catalogue.iter().filter(|r| sel.rules.contains(r.id)) {
        let outcome = if rule.applies(ctx.target, facts.kind) {
            (rule.check)(&ctx)
        } else {
            Outcome::NotApplicable(format!(
                "applies to {} images; this is a {} ({})",
                describe_scope(rule),
                ctx.target.as_str(),
                serde_json::to_value(facts.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ))
        };
        let (verdict, evidence, note) = match outcome {
            Outcome::Pass => (Verdict::Pass, Vec::new(), None),
            Outcome::Fail(e) => (Verdict::Fail, e, None),
            Outcome::NotApplicable(n) => (Verdict::NotApplicable, Vec::new(), Some(n)),
            Outcome::Unknown(n) => (Verdict::Unknown, Vec::new(), Some(n)),
        };
        let ignored = (verdict == Verdict::Fail)
            .then(|| opts.ignore.active(rule.id, today))
            .flatten()
            .map(|i| {
                format!(
                    "ignore file line {}{}",
                    i.line,
                    i.reason
                        .as_ref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )
            });
        results.push(RuleResult {
            id: rule.id.to_string(),
            title: rule.title.to_string(),
            level: sel.levels.get(rule.id).copied().unwrap_or(rule.level),
            family: rule.family,
            verdict,
            evidence,
            note,
            why: rule.why.to_string(),
            fix: rule.fix.to_string(),
            refs: rule.refs,
            ignored,
        });
    }
    let mut report = LintReport {
        image: facts.image.reference.clone(),
        target: ctx.target,
        kind: facts.kind,
        profiles: sel.profiles.clone(),
        counts: Counts::default(),
        results,
        expired_ignores: opts
            .ignore
            .expired(today)
            .iter()
            .map(|i| {
                format!(
                    "{} (line {}) expired on {}",
                    i.id,
                    i.line,
                    i.until.map(|d| d.to_string()).unwrap_or_default()
                )
            })
            .collect(),
        notes: facts.notes.clone(),
    };
    report.finish();
    Ok(report)
}

fn describe_scope(rule: &Rule) -> String {
    let targets: Vec<&str> = rule.targets.iter().map(|t| t.as_str()).collect();
    let kinds: Vec<String> = rule
        .kinds
        .iter()
        .filter_map(|k| serde_json::to_value(k).ok()?.as_str().map(str::to_string))
        .collect();
    match (targets.is_empty(), kinds.is_empty()) {
        (true, true) => "all".into(),
        (false, true) => targets.join("/"),
        (true, false) => kinds.join("/"),
        (false, false) => format!("{} {}", targets.join("/"), kinds.join("/")),
    }
}
