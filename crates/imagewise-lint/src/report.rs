//! The lint report: these types map directly to `imagewise lint --json` (docs/lint.md). Every
//! selected rule has a result — pass, fail, not-applicable or unknown — so a report says what
//! was checked, not only what failed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use imagewise_types::Level;
use serde::Serialize;

use crate::rule::{Family, Refs, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Fail,
    Unknown,
    Pass,
    NotApplicable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Fail => "fail",
            Verdict::Unknown => "unknown",
            Verdict::Pass => "pass",
            Verdict::NotApplicable => "not-applicable",
        }
    }
}

/// One rule's result on the image.
#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    pub id: String,
    pub title: String,
    /// The rule's level, as the profile sets it.
    pub level: Level,
    pub family: Family,
    pub verdict: Verdict,
    /// What failed: paths, values, package names (empty unless `fail`).
    pub evidence: Vec<String>,
    /// Why the rule does not apply, or could not decide.
    pub note: Option<String>,
    pub why: String,
    pub fix: String,
    pub refs: Refs,
    /// A failure accepted by the ignore file (line and reason); it does not count for `--fail-on`.
    pub ignored: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub fail: usize,
    pub unknown: usize,
    pub pass: usize,
    pub not_applicable: usize,
    pub ignored: usize,
    /// Failures not ignored, per level.
    pub by_level: BTreeMap<Level, usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    pub image: String,
    /// `container`, `vm` or `rootfs`.
    pub target: Target,
    /// The facts' image kind: `system`, `application`, `distroless`, `scratch`, `empty`.
    pub kind: imagewise_facts::ImageKind,
    pub profiles: Vec<String>,
    pub counts: Counts,
    /// Results, failures first, then by level (highest first) and id.
    pub results: Vec<RuleResult>,
    /// Ignore lines whose date has passed (they no longer apply).
    pub expired_ignores: Vec<String>,
    /// What the facts could not determine (unreadable files the rules rely on among them).
    pub notes: Vec<String>,
}

impl LintReport {
    pub(crate) fn finish(&mut self) {
        self.results.sort_by(|a, b| {
            (a.verdict, std::cmp::Reverse(a.level), &a.id).cmp(&(
                b.verdict,
                std::cmp::Reverse(b.level),
                &b.id,
            ))
        });
        let mut c = Counts::default();
        for r in &self.results {
            match r.verdict {
                Verdict::Fail if r.ignored.is_some() => c.ignored += 1,
                Verdict::Fail => {
                    c.fail += 1;
                    *c.by_level.entry(r.level).or_default() += 1;
                }
                Verdict::Unknown => c.unknown += 1,
                Verdict::Pass => c.pass += 1,
                Verdict::NotApplicable => c.not_applicable += 1,
            }
        }
        self.counts = c;
    }

    /// Whether `--fail-on` fails the command: a failure (not ignored) at or above the level.
    pub fn fails(&self, fail_on: Option<Level>) -> bool {
        fail_on.is_some_and(|l| {
            self.results
                .iter()
                .any(|r| r.verdict == Verdict::Fail && r.ignored.is_none() && r.level >= l)
        })
    }

    /// The result of one rule, if it was selected.
    pub fn result(&self, id: &str) -> Option<&RuleResult> {
        self.results.iter().find(|r| r.id == id)
    }

    /// The report for a terminal: failures with evidence, why and fix; then the unknowns; then
    /// one line of counts.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} ({}, {}) — profiles: {}",
            self.image,
            self.target.as_str(),
            serde_json::to_value(self.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            self.profiles.join(", ")
        );
        for r in self.results.iter().filter(|r| r.verdict == Verdict::Fail) {
            let ignored = r
                .ignored
                .as_ref()
                .map(|i| format!(" (ignored: {i})"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "\n{:<8} {}  {}{ignored}",
                r.level.as_str().to_uppercase(),
                r.id,
                r.title
            );
            for e in r.evidence.iter().take(10) {
                let _ = writeln!(s, "         - {e}");
            }
            if r.evidence.len() > 10 {
                let _ = writeln!(
                    s,
                    "         … {} more (--json lists all)",
                    r.evidence.len() - 10
                );
            }
            let _ = writeln!(s, "         why: {}", r.why);
            let _ = writeln!(s, "         fix: {}", r.fix);
        }
        let unknown: Vec<&RuleResult> = self
            .results
            .iter()
            .filter(|r| r.verdict == Verdict::Unknown)
            .collect();
        if !unknown.is_empty() {
            let _ = writeln!(s, "\ncould not decide:");
            for r in unknown {
                let _ = writeln!(
                    s,
                    "  {}: {}",
                    r.id,
                    r.note.as_deref().unwrap_or("no reason given")
                );
            }
        }
        for e in &self.expired_ignores {
            let _ = writeln!(s, "\nexpired ignore: {e}");
        }
        let c = &self.counts;
        let _ = writeln!(
            s,
            "\n{} failed, {} passed, {} not applicable, {} unknown, {} ignored",
            c.fail, c.pass, c.not_applicable, c.unknown, c.ignored
        );
        s
    }

    /// SARIF 2.1.0: one rule per selected rule, one result per failure.
    pub fn sarif(&self) -> serde_json::Value {
        use serde_json::json;
        let rules: Vec<serde_json::Value> = self
            .results
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "name": r.id,
                    "shortDescription": {"text": r.title},
                    "fullDescription": {"text": r.why},
                    "help": {"text": format!("{}\nFix: {}", r.why, r.fix)},
                    "properties": {
                        "security-severity": security_severity(r.level),
                        "tags": ["lint", r.family.as_str(), r.level.as_str()],
                        "cis": r.refs.cis,
                        "dockle": r.refs.dockle,
                        "ssg": r.refs.ssg,
                        "lynis": r.refs.lynis,
                    }
                })
            })
            .collect();
        let results: Vec<serde_json::Value> = self
            .results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.verdict == Verdict::Fail)
            .map(|(i, r)| {
                let mut v = json!({
                    "ruleId": r.id,
                    "ruleIndex": i,
                    "level": sarif_level(r.level),
                    "message": {"text": if r.evidence.is_empty() {
                        r.title.clone()
                    } else {
                        format!("{}: {}", r.title, r.evidence.join("; "))
                    }},
                    "locations": [{
                        "physicalLocation": {"artifactLocation": {"uri": self.image}}
                    }],
                });
                if let Some(i) = &r.ignored {
                    v["suppressions"] = json!([{"kind": "external", "justification": i}]);
                }
                v
            })
            .collect();
        json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "imagewise lint",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }},
                "results": results,
            }]
        })
    }
}

fn security_severity(l: Level) -> &'static str {
    match l {
        Level::Critical => "9.5",
        Level::High => "8.0",
        Level::Medium => "5.5",
        Level::Low => "3.0",
        _ => "0.0",
    }
}

fn sarif_level(l: Level) -> &'static str {
    match l {
        Level::Critical | Level::High => "error",
        Level::Medium => "warning",
        _ => "note",
    }
}
