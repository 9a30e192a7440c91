//! Decision: every hard requirement is checked on every candidate (a rejected candidate lists
//! *every* unmet requirement with both values), then the candidates that pass are scored on the
//! soft criteria and ranked; ties break by reference, so the order is stable.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use imagewise_compat::{AppSet, Target};
use imagewise_facts::ImageFacts;
use serde::Serialize;

use crate::spec::{parse_constraint, Requirements};

/// An image to choose from: its facts, and what app checks and scans need.
pub struct Candidate {
    pub reference: String,
    pub facts: ImageFacts,
    /// The image indexed for `check` (needed when the requirements name apps).
    pub target: Option<Target>,
    /// Vulnerability counts, when the image was scanned.
    pub vulns: Option<VulnCounts>,
    /// The trust report, when judged.
    pub trust: Option<crate::trust::TrustReport>,
    /// How many packages, when `facts.packages` was left empty (a catalog read without them).
    pub package_count: Option<usize>,
}

impl Candidate {
    /// A candidate of these facts alone (no app index, scan or trust report).
    pub fn new(reference: &str, facts: ImageFacts) -> Candidate {
        Candidate {
            reference: reference.to_string(),
            facts,
            target: None,
            vulns: None,
            trust: None,
            package_count: None,
        }
    }

    pub fn packages(&self) -> usize {
        self.package_count.unwrap_or(self.facts.packages.len())
    }
}

/// Findings of a scan, by level; fixed ones (a fixed version exists) counted apart.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct VulnCounts {
    pub critical: u64,
    pub high: u64,
    pub critical_fixed: u64,
    pub high_fixed: u64,
    pub total: u64,
}

/// An application that must run, with its binaries read once for all candidates.
pub struct App {
    pub name: String,
    pub set: AppSet,
}

/// One unmet requirement: what was needed and what the candidate has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unmet {
    /// `arch`, `libc`, `app`, `package`, …
    pub requirement: String,
    pub needed: String,
    pub found: String,
}

impl std::fmt::Display for Unmet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; the image has {}", self.needed, self.found)
    }
}

/// A short description of a candidate for reports.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub os: Option<String>,
    pub arch: Option<String>,
    pub libc: String,
    pub kind: imagewise_facts::ImageKind,
    pub form: String,
    pub size_bytes: u64,
    pub packages: usize,
}

/// One soft criterion of a passing candidate.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    /// The measured value (bytes, count, days, …); `null` when unknown.
    pub value: Option<f64>,
    /// 0..1 among the passing candidates (1 is best); unknown scores 0.
    pub score: f64,
    pub weight: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    pub rank: usize,
    pub reference: String,
    /// Σ weight × score.
    pub score: f64,
    pub parts: BTreeMap<String, Part>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    pub reference: String,
    pub unmet: Vec<Unmet>,
    /// `null` for a candidate that could not be opened.
    pub summary: Option<Summary>,
}

impl Rejected {
    /// A candidate that could not be opened: rejected with the reason, the others still ranked.
    pub fn unopenable(reference: &str, error: &str) -> Rejected {
        Rejected {
            reference: reference.to_string(),
            unmet: vec![Unmet {
                requirement: "open".into(),
                needed: "an image imagewise can open".into(),
                found: error.to_string(),
            }],
            summary: None,
        }
    }
}

/// The answer: passing candidates best first, rejected ones with every reason.
#[derive(Debug, Clone, Serialize)]
pub struct RankReport {
    pub requirements: Requirements,
    pub winner: Option<String>,
    pub passed: Vec<Ranked>,
    pub rejected: Vec<Rejected>,
}

/// Container, VM disk or rootfs, as lint decides it (its targets are the requirements' forms).
pub fn form_of(f: &ImageFacts) -> &'static str {
    imagewise_lint::target_of(f).as_str()
}

fn kind_name(k: imagewise_facts::ImageKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn libc_name(f: &ImageFacts) -> String {
    serde_json::to_value(f.libc.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Numeric dotted comparison (`2.9` < `2.31`; trailing text after the numbers ignored).
pub fn dotted_cmp(a: &str, b: &str) -> Ordering {
    let nums = |s: &str| -> Vec<u64> {
        s.split(|c: char| !c.is_ascii_digit())
            .take_while(|p| !p.is_empty())
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let (x, y) = (nums(a), nums(b));
    for i in 0..x.len().max(y.len()) {
        let o = x.get(i).unwrap_or(&0).cmp(y.get(i).unwrap_or(&0));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn summary(c: &Candidate) -> Summary {
    let f = &c.facts;
    Summary {
        os: f.os.pretty_name.clone().or_else(|| f.os.id.clone()),
        arch: f.arch.clone(),
        libc: match &f.libc.version {
            Some(v) => format!("{} {v}", libc_name(f)),
            None => libc_name(f),
        },
        kind: f.kind,
        form: form_of(f).to_string(),
        size_bytes: f.size.total_bytes,
        packages: c.packages(),
    }
}

/// Every hard requirement `c` does not meet.
pub fn unmet(
    req: &Requirements,
    c: &Candidate,
    apps: &[App],
    today: jiff::civil::Date,
) -> Vec<Unmet> {
    let f = &c.facts;
    let mut out = Vec::new();
    let mut miss = |requirement: &str, needed: String, found: String| {
        out.push(Unmet {
            requirement: requirement.to_string(),
            needed,
            found,
        })
    };
    let unknown = || "unknown".to_string();
    if !req.arch.is_empty() && !f.arch.as_ref().is_some_and(|a| req.arch.contains(a)) {
        miss(
            "arch",
            format!("arch {} required", req.arch.join(" or ")),
            f.arch.clone().unwrap_or_else(unknown),
        );
    }
    let kind = kind_name(f.kind);
    if !req.kind.is_empty() && !req.kind.contains(&kind) {
        miss(
            "kind",
            format!("a {} image required", req.kind.join(" or ")),
            format!("a {kind} image"),
        );
    }
    let form = form_of(f);
    if !req.form.is_empty() && !req.form.iter().any(|x| x == form) {
        miss(
            "form",
            format!("form {} required", req.form.join(" or ")),
            format!("form {form}"),
        );
    }
    if let Some(d) = &req.distro {
        let id = f.os.id.clone().unwrap_or_else(unknown);
        if !d.id.is_empty() && !d.id.contains(&id) {
            miss(
                "distro",
                format!("distribution {} required", d.id.join(" or ")),
                id.clone(),
            );
        }
        let v = f.os.version_id.clone().unwrap_or_else(unknown);
        if !d.version.is_empty() && !d.version.contains(&v) {
            miss(
                "distro",
                format!("release {} required", d.version.join(" or ")),
                format!("{id} {v}"),
            );
        }
    }
    if let Some(l) = &req.libc {
        let have = libc_name(f);
        if let Some(k) = &l.kind {
            if *k != have {
                miss(
                    "libc",
                    format!("{k} required"),
                    if have.is_empty() {
                        unknown()
                    } else {
                        have.clone()
                    },
                );
            }
        }
        if let Some(min) = &l.min_version {
            match &f.libc.version {
                Some(v) if dotted_cmp(v, min) != Ordering::Less => {}
                Some(v) => miss(
                    "libc",
                    format!("C library ≥ {min} required"),
                    format!("{have} {v}"),
                ),
                None => miss(
                    "libc",
                    format!("C library ≥ {min} required"),
                    format!("{have}, version unknown"),
                ),
            }
        }
        for want in &l.provides {
            let have_max = f.libc.max_symbol_version.as_deref();
            let ok = have_max.is_some_and(|m| {
                m.split('_').next() == want.split('_').next()
                    && dotted_cmp(
                        m.rsplit('_').next().unwrap_or(""),
                        want.rsplit('_').next().unwrap_or(""),
                    ) != Ordering::Less
            });
            if !ok {
                miss(
                    "libc",
                    format!("{want} required"),
                    have_max.map_or_else(
                        || "no glibc symbol versions".into(),
                        |m| format!("up to {m}"),
                    ),
                );
            }
        }
    }
    for app in apps {
        let Some(target) = &c.target else {
            miss(
                "app",
                format!("{} must run", app.name),
                "no index for checking apps".into(),
            );
            continue;
        };
        match imagewise_compat::check_all(
            &app.name,
            &app.set,
            std::slice::from_ref(target),
            false,
            "",
        ) {
            Ok(report) => {
                let glibc = report
                    .summary
                    .targets
                    .first()
                    .and_then(|t| t.glibc.clone().map(|g| format!("glibc {g}")))
                    .unwrap_or_else(|| libc_name(f));
                for r in report.results.iter().filter(|r| !r.verdict.runs) {
                    for reason in &r.verdict.reasons {
                        // compat phrases "needs X; the image has Y": keep the two halves apart.
                        let (need, have) = match reason.message.split_once("; the image has ") {
                            Some((n, h)) => (n.to_string(), h.to_string()),
                            None => (reason.message.clone(), glibc.clone()),
                        };
                        miss(
                            "app",
                            format!("{need} (app {}, binary {})", app.name, r.binary),
                            have,
                        );
                    }
                }
            }
            Err(e) => miss(
                "app",
                format!("{} must run", app.name),
                format!("it cannot be checked: {e}"),
            ),
        }
    }
    for p in &req.package {
        let installed: Vec<&imagewise_facts::Package> =
            f.packages.iter().filter(|x| x.name == p.name).collect();
        if installed.is_empty() {
            miss(
                "package",
                format!(
                    "package {}{} required",
                    p.name,
                    p.version
                        .as_deref()
                        .map(|v| format!(" {v}"))
                        .unwrap_or_default()
                ),
                if f.package_databases.is_empty() {
                    "no package database".into()
                } else {
                    "it is not installed".into()
                },
            );
            continue;
        }
        if let Some(v) = &p.version {
            let Ok((op, want)) = parse_constraint(v) else {
                continue; // validated when parsed
            };
            let ok = installed.iter().any(|x| {
                let order = imagewise_vuln::VersionOrder::of(x.ecosystem);
                imagewise_vuln::compare(order, &x.version, &want).is_ok_and(|o| op.holds(o))
            });
            if !ok {
                miss(
                    "package",
                    format!("package {} {} {want} required", p.name, op.as_str()),
                    installed
                        .iter()
                        .map(|x| format!("{} {}", x.name, x.version))
                        .collect::<Vec<_>>()
                        .join(", "),
                );
            }
        }
    }
    for name in &req.forbid {
        for x in f.packages.iter().filter(|x| &x.name == name) {
            miss(
                "forbid",
                format!("package {name} must not be installed"),
                format!("{} {}", x.name, x.version),
            );
        }
    }
    if let Some(k) = &req.kernel {
        let newest = f
            .kernel
            .kernels
            .iter()
            .max_by(|a, b| dotted_cmp(&a.version, &b.version));
        match newest {
            None => miss("kernel", "a kernel required".into(), "no kernel".into()),
            Some(kernel) => {
                if let Some(min) = &k.min_release {
                    if dotted_cmp(&kernel.version, min) == Ordering::Less {
                        miss(
                            "kernel",
                            format!("kernel ≥ {min} required"),
                            format!("kernel {}", kernel.version),
                        );
                    }
                }
                for (opt, want) in &k.config {
                    let have = kernel.config.get(opt).map(String::as_str).unwrap_or("n");
                    if !want.split('|').any(|w| w == have) {
                        miss(
                            "kernel",
                            format!("{opt}={want} required"),
                            format!("{opt}={have} in {}", kernel.version),
                        );
                    }
                }
            }
        }
    }
    if !req.init.is_empty() && !req.init.contains(&f.init.system) {
        miss(
            "init",
            format!("init {} required", req.init.join(" or ")),
            format!("init {}", f.init.system),
        );
    }
    for a in &req.agents {
        match f.agents.iter().find(|x| &x.name == a) {
            Some(x) if x.enabled => {}
            Some(_) => miss(
                "agents",
                format!("{a} enabled required"),
                format!("{a} installed but not enabled"),
            ),
            None => miss(
                "agents",
                format!("{a} required"),
                "it is not installed".into(),
            ),
        }
    }
    if let Some(max) = req.size.as_ref().and_then(|s| s.max_mib) {
        let mib = f.size.total_bytes as f64 / 1048576.0;
        if mib > max {
            miss(
                "size",
                format!("at most {max} MiB required"),
                format!("{mib:.1} MiB"),
            );
        }
    }
    if let Some(v) = &req.vulnerabilities {
        match &c.vulns {
            None => miss(
                "vulnerabilities",
                "a vulnerability scan required".into(),
                "not scanned (give a database)".into(),
            ),
            Some(n) => {
                let (crit, high) = if v.fixed_only {
                    (n.critical_fixed, n.high_fixed)
                } else {
                    (n.critical, n.high)
                };
                if let Some(m) = v.max_critical.filter(|m| crit > *m) {
                    miss(
                        "vulnerabilities",
                        format!("at most {m} critical"),
                        format!("{crit} critical"),
                    );
                }
                if let Some(m) = v.max_high.filter(|m| high > *m) {
                    miss(
                        "vulnerabilities",
                        format!("at most {m} high"),
                        format!("{high} high"),
                    );
                }
            }
        }
    }
    if let Some(t) = &req.trust {
        let min =
            crate::trust::TrustLevel::parse(&t.min_level).unwrap_or(crate::trust::TrustLevel::Good);
        match &c.trust {
            None => miss(
                "trust",
                format!("trust {} or better", t.min_level),
                "no trust report".into(),
            ),
            Some(r) if r.level > min => miss(
                "trust",
                format!("trust {} or better", t.min_level),
                format!(
                    "trust {} ({})",
                    r.level.as_str(),
                    [
                        ("signature", &r.signature),
                        ("consistency", &r.consistency),
                        ("provenance", &r.provenance),
                        ("vulnerabilities", &r.vulnerabilities),
                        ("freshness", &r.freshness),
                    ]
                    .iter()
                    .filter(|(_, d)| d.level > min)
                    .map(|(n, d)| format!("{n}: {}", d.summary))
                    .collect::<Vec<_>>()
                    .join("; ")
                ),
            ),
            Some(_) => {}
        }
    }
    if let Some(s) = &req.support {
        use imagewise_facts::SupportStatus as S;
        let what = format!(
            "{} {}",
            f.os.id.as_deref().unwrap_or("unknown"),
            f.os.version_id.as_deref().unwrap_or("")
        );
        let what = what.trim();
        match f.os.support.as_ref() {
            None => miss(
                "support",
                "a known end of support required".into(),
                format!("no lifecycle row for {what} (add one with --lifecycle)"),
            ),
            // A rolling distribution has no release to end.
            Some(w) if w.status == S::Rolling => {}
            Some(w) if w.status == S::Unreleased => miss(
                "support",
                "a released distribution required".into(),
                format!("{} {} is not released yet", w.distro, w.release),
            ),
            Some(w) => match support_end(w, s.include_extended) {
                None => miss(
                    "support",
                    "a known end of support required".into(),
                    format!("no end date published for {} {}", w.distro, w.release),
                ),
                Some((end, kind)) => {
                    if let Some(d) = s
                        .until_at_least
                        .as_deref()
                        .and_then(|d| d.parse::<jiff::civil::Date>().ok())
                    {
                        if end < d {
                            miss(
                                "support",
                                format!("support until at least {d}"),
                                format!("{kind} until {end}"),
                            );
                        }
                    }
                    if let Some(days) = s.min_days {
                        let left = (end - today).get_days() as i64;
                        if left < days {
                            miss(
                                "support",
                                format!("at least {days} days of support"),
                                format!("{left} days ({kind} until {end})"),
                            );
                        }
                    }
                }
            },
        }
    }
    out
}

/// The last day of support counted, and its name: standard support, or the extended support
/// when asked for and published.
fn support_end(
    w: &imagewise_facts::SupportWindow,
    include_extended: bool,
) -> Option<(jiff::civil::Date, String)> {
    let ext = include_extended
        .then(|| {
            let d = w.extended_end.as_deref()?.parse().ok()?;
            Some((
                d,
                w.extended
                    .clone()
                    .unwrap_or_else(|| "extended support".into()),
            ))
        })
        .flatten();
    ext.or_else(|| {
        Some((
            w.end_of_life.as_deref()?.parse().ok()?,
            "standard support".to_string(),
        ))
    })
}

/// Filter, score and rank `candidates`.
pub fn rank(
    req: &Requirements,
    candidates: &[Candidate],
    apps: &[App],
    today: jiff::civil::Date,
) -> RankReport {
    let mut passed: Vec<(&Candidate, BTreeMap<String, Option<f64>>)> = Vec::new();
    let mut rejected = Vec::new();
    for c in candidates {
        let u = unmet(req, c, apps, today);
        if u.is_empty() {
            let f = &c.facts;
            let mut m = BTreeMap::new();
            m.insert("size".to_string(), Some(f.size.total_bytes as f64));
            m.insert("packages".to_string(), Some(c.packages() as f64));
            m.insert("trust".to_string(), c.trust.as_ref().map(|t| t.score));
            let include_extended = req.support.as_ref().is_some_and(|s| s.include_extended);
            let support =
                f.os.support
                    .as_ref()
                    .and_then(|w| support_end(w, include_extended))
                    .map(|(end, _)| (end - today).get_days() as f64);
            m.insert("support".to_string(), support);
            m.insert(
                "vulnerabilities".to_string(),
                c.vulns.as_ref().map(|v| v.total as f64),
            );
            // A newer C library: its dotted version as one number (2.36 → 2.036).
            let newer = f.libc.version.as_deref().map(|v| {
                v.split('.')
                    .take(3)
                    .enumerate()
                    .filter_map(|(i, p)| p.parse::<f64>().ok().map(|x| x / 1000f64.powi(i as i32)))
                    .sum::<f64>()
            });
            m.insert("newer".to_string(), newer);
            passed.push((c, m));
        } else {
            rejected.push(Rejected {
                reference: c.reference.clone(),
                unmet: u,
                summary: Some(summary(c)),
            });
        }
    }
    let w = &req.weights;
    let weights: BTreeMap<&str, (f64, bool)> = BTreeMap::from([
        // (weight, lower is better)
        ("size", (w.size, true)),
        ("packages", (w.packages, true)),
        ("support", (w.support, false)),
        ("vulnerabilities", (w.vulnerabilities, true)),
        ("newer", (w.newer, false)),
        ("trust", (w.trust, false)),
    ]);
    // The range of each criterion among the candidates that pass.
    let ranges: BTreeMap<&str, (f64, f64)> = weights
        .keys()
        .map(|name| {
            let r = passed
                .iter()
                .filter_map(|(_, o)| o[*name])
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
            (*name, r)
        })
        .collect();
    let mut ranked: Vec<Ranked> = passed
        .iter()
        .map(|(c, m)| {
            let mut parts = BTreeMap::new();
            let mut score = 0.0;
            for (name, (weight, lower)) in &weights {
                let value = m[*name];
                let s = match value {
                    None => 0.0,
                    Some(x) => {
                        let (lo, hi) = ranges[*name];
                        if hi > lo {
                            if *lower {
                                (hi - x) / (hi - lo)
                            } else {
                                (x - lo) / (hi - lo)
                            }
                        } else {
                            1.0
                        }
                    }
                };
                score += weight * s;
                parts.insert(
                    name.to_string(),
                    Part {
                        value,
                        score: (s * 1000.0).round() / 1000.0,
                        weight: *weight,
                    },
                );
            }
            Ranked {
                rank: 0,
                reference: c.reference.clone(),
                score: (score * 1000.0).round() / 1000.0,
                parts,
                summary: summary(c),
            }
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.reference.cmp(&b.reference))
    });
    for (i, r) in ranked.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    rejected.sort_by(|a, b| a.reference.cmp(&b.reference));
    RankReport {
        requirements: req.clone(),
        winner: ranked.first().map(|r| r.reference.clone()),
        passed: ranked,
        rejected,
    }
}

impl RankReport {
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        if self.passed.is_empty() {
            let _ = writeln!(s, "no candidate meets every requirement");
        }
        for r in &self.passed {
            let parts: Vec<String> = r
                .parts
                .iter()
                .filter(|(_, p)| p.weight > 0.0)
                .map(|(n, p)| format!("{n} {:.2}×{}", p.score, p.weight))
                .collect();
            let _ = writeln!(
                s,
                "{:>2}. {}  score {:.3}  ({}; {}, {}, {:.1} MiB)\n    {}",
                r.rank,
                r.reference,
                r.score,
                r.summary.os.as_deref().unwrap_or("unknown OS"),
                r.summary.arch.as_deref().unwrap_or("?"),
                r.summary.libc,
                r.summary.size_bytes as f64 / 1048576.0,
                parts.join(", ")
            );
        }
        for r in &self.rejected {
            let _ = writeln!(
                s,
                "rejected {} ({}):",
                r.reference,
                r.summary
                    .as_ref()
                    .and_then(|s| s.os.as_deref())
                    .unwrap_or("unknown OS")
            );
            for u in &r.unmet {
                let _ = writeln!(s, "    - {u}");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Facts of the Alpine fixture, as the golden inspect document records them.
    fn alpine() -> ImageFacts {
        let doc: serde_json::Value = serde_json::from_str(include_str!(
            "../../imagewise-cli/tests/golden/alpine/inspect.json"
        ))
        .unwrap();
        let mut out = doc["output"].clone();
        // The golden file redacts the days left; the tests set support as they need it.
        out["os"]["support"] = serde_json::Value::Null;
        serde_json::from_value(out).unwrap()
    }

    fn cand(name: &str, size: u64) -> Candidate {
        let mut facts = alpine();
        facts.size.total_bytes = size;
        Candidate::new(name, facts)
    }

    #[test]
    fn smaller_wins_ties_break_by_reference_and_every_reason_is_listed() {
        let today = jiff::civil::date(2026, 12, 6);
        let req = Requirements::from_line("arch=amd64 libc=musl").unwrap();
        let cs = [cand("c", 3 << 20), cand("b", 1 << 20), cand("a", 1 << 20)];
        let r = rank(&req, &cs, &[], today);
        let order: Vec<&str> = r.passed.iter().map(|p| p.reference.as_str()).collect();
        assert_eq!(order, ["a", "b", "c"]);
        assert_eq!(r.passed[2].parts["size"].score, 0.0);
        assert_eq!(r.passed[0].parts["size"].score, 1.0);
        assert_eq!(r.winner.as_deref(), Some("a"));
        // Three unmet requirements, all named.
        let req = Requirements::from_line("arch=arm64 libc=glibc>=2.31 pkg:openssl>=3 kind=system")
            .unwrap();
        let r = rank(&req, &cs[..1], &[], today);
        let got: Vec<&str> = r.rejected[0]
            .unmet
            .iter()
            .map(|u| u.requirement.as_str())
            .collect();
        assert_eq!(
            got,
            ["arch", "kind", "libc", "libc", "package"],
            "{:?}",
            r.rejected[0].unmet
        );
        assert!(r.winner.is_none());
    }

    #[test]
    fn dotted_versions_compare_as_numbers() {
        assert_eq!(dotted_cmp("2.9", "2.31"), Ordering::Less);
        assert_eq!(dotted_cmp("2.36", "2.36.0"), Ordering::Equal);
        assert_eq!(dotted_cmp("6.1.0-28-amd64", "5.10"), Ordering::Greater);
        assert_eq!(dotted_cmp("1.2.5", "1.2.10"), Ordering::Less);
    }
}
