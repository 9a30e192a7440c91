//! The trust report: can this image be believed to be what it says, and is it kept? Five
//! dimensions, each with a level and the evidence it was judged on:
//!
//! - **signature** — a store snapshot's ed25519 signature as the store verified it; for OCI
//!   layouts, cosign-style `sha256-<digest>.sig` artifacts (the simple-signing payload must name
//!   this manifest; with `--key`, the ECDSA P-256 signature over it is verified as cosign
//!   does) and OCI referrers (present, unverified: imagewise does not verify notation or
//!   sigstore bundles);
//! - **consistency** — os-release agrees with the release package (base-files, alpine-release,
//!   `*-release` rpm), and packaged files agree with the package database: dpkg's md5sums,
//!   for every file modified after its package was installed plus a fixed sample (all with
//!   `full`), each mismatch or missing file named;
//! - **provenance** — OCI labels (`org.opencontainers.image.source`, `revision`, `created`,
//!   `vendor`, base image) and history;
//! - **vulnerabilities** — the scan summary; "not scanned" when there is none, never "clean";
//! - **freshness** — image creation time, newest package install time, days since, and the
//!   release's support status from the lifecycle table.

use std::io::Read;

use imagewise_facts::{ImageFacts, SupportStatus};
use imagewise_source::{EntryKind, ImageTree};
use serde::{Deserialize, Serialize};

use crate::catalog::ScanSummary;

/// How far a dimension can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustLevel {
    Good,
    Partial,
    Poor,
    /// Nothing to judge by.
    Unknown,
}

impl TrustLevel {
    /// 1 good, 0.5 partial, 0 poor or unknown.
    pub fn score(self) -> f64 {
        match self {
            TrustLevel::Good => 1.0,
            TrustLevel::Partial => 0.5,
            TrustLevel::Poor | TrustLevel::Unknown => 0.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TrustLevel::Good => "good",
            TrustLevel::Partial => "partial",
            TrustLevel::Poor => "poor",
            TrustLevel::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<TrustLevel> {
        [
            TrustLevel::Good,
            TrustLevel::Partial,
            TrustLevel::Poor,
            TrustLevel::Unknown,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
    }
}

/// One dimension: its level, a one-line summary, and the evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dimension {
    pub level: TrustLevel,
    pub summary: String,
    pub evidence: Vec<String>,
}

impl Dimension {
    fn new(level: TrustLevel, summary: impl Into<String>, evidence: Vec<String>) -> Dimension {
        Dimension {
            level,
            summary: summary.into(),
            evidence,
        }
    }
}

/// Packaged files checked against the package database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FileCheck {
    /// `sample` (modified-after-install files plus a fixed sample) or `full`.
    pub mode: String,
    pub packaged_files: usize,
    pub checked: usize,
    pub modified: Vec<String>,
    pub missing: Vec<String>,
    /// Files that could not be read (with why).
    pub unreadable: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustReport {
    pub image: String,
    /// The day the report was judged (UTC).
    pub judged: String,
    /// The worst level among the dimensions that could be judged; `partial` when one could not.
    pub level: TrustLevel,
    /// Mean of the dimensions' scores (good 1, partial 0.5, poor and unknown 0).
    pub score: f64,
    pub signature: Dimension,
    pub consistency: Dimension,
    pub provenance: Dimension,
    pub vulnerabilities: Dimension,
    pub freshness: Dimension,
    /// The package files checked, when a package database lists checksums.
    pub files: Option<FileCheck>,
}

/// How to judge.
#[derive(Debug, Clone)]
pub struct TrustOptions {
    /// Public keys (PEM, P-256) to verify cosign-style signatures with.
    pub keys: Vec<p256::ecdsa::VerifyingKey>,
    /// Check every packaged file, not a sample.
    pub full: bool,
    /// Files checked besides those modified after install, when not `full` (and at most
    /// 1 MiB of them).
    pub sample: usize,
    /// Older than this many days is stale.
    pub stale_days: i64,
    pub today: jiff::civil::Date,
}

impl Default for TrustOptions {
    fn default() -> Self {
        TrustOptions {
            keys: Vec::new(),
            full: false,
            sample: 64,
            stale_days: 90,
            today: imagewise_facts::lifecycle::today(),
        }
    }
}

/// Reads a PEM public key (`cosign.pub`, `openssl ec -pubout`).
pub fn parse_key(pem: &str) -> Result<p256::ecdsa::VerifyingKey, String> {
    use p256::pkcs8::DecodePublicKey;
    p256::ecdsa::VerifyingKey::from_public_key_pem(pem.trim())
        .map_err(|e| format!("not a PEM P-256 public key ({e})"))
}

/// Judge `tree` (whose facts are `facts`) on all five dimensions.
pub fn trust(
    tree: &ImageTree,
    facts: &ImageFacts,
    scan: Option<&ScanSummary>,
    opts: &TrustOptions,
) -> TrustReport {
    trust_checked(tree, facts, scan, opts, package_files(tree, opts))
}

/// The packaged files checked against the package database (dpkg md5sums), as [`trust`]
/// does; it needs no facts, so a caller can run it beside inspecting.
pub fn package_files(tree: &ImageTree, opts: &TrustOptions) -> Option<FileCheck> {
    dpkg_files(tree, opts)
}

/// [`trust`] with the packaged files already checked by [`package_files`].
pub fn trust_checked(
    tree: &ImageTree,
    facts: &ImageFacts,
    scan: Option<&ScanSummary>,
    opts: &TrustOptions,
    files: Option<FileCheck>,
) -> TrustReport {
    let (consistency, files) = consistency(facts, files);
    let freshness_input = newest_install(tree);
    let mut r = TrustReport {
        image: tree.info().reference.clone(),
        judged: opts.today.to_string(),
        level: TrustLevel::Unknown,
        score: 0.0,
        signature: signature(tree, opts),
        consistency,
        provenance: provenance(tree),
        vulnerabilities: vulnerabilities(scan),
        freshness: freshness(tree, facts, freshness_input, opts),
        files,
    };
    r.finish();
    r
}

/// Re-judge the dimensions that depend on today and on the vulnerability data (vulnerabilities
/// and freshness) without reopening the image.
pub fn rejudge(
    old: &TrustReport,
    facts: &ImageFacts,
    scan: Option<&ScanSummary>,
    today: jiff::civil::Date,
) -> TrustReport {
    let mut r = old.clone();
    r.judged = today.to_string();
    r.vulnerabilities = vulnerabilities(scan);
    // Freshness: the ages move with the day; the dates it was judged on are in its evidence.
    let created = old.freshness.evidence.iter().find_map(|e| {
        e.strip_prefix("image created ")
            .map(|d| d[..10.min(d.len())].to_string())
    });
    let installed = old.freshness.evidence.iter().find_map(|e| {
        e.strip_prefix("newest package install ")
            .map(|d| d[..10.min(d.len())].to_string())
    });
    let opts = TrustOptions {
        today,
        ..TrustOptions::default()
    };
    r.freshness = judge_freshness(created.as_deref(), installed.as_deref(), facts, &opts);
    r.finish();
    r
}

impl TrustReport {
    fn finish(&mut self) {
        let dims = [
            &self.signature,
            &self.consistency,
            &self.provenance,
            &self.vulnerabilities,
            &self.freshness,
        ];
        self.score = dims.iter().map(|d| d.level.score()).sum::<f64>() / dims.len() as f64;
        let worst = dims
            .iter()
            .map(|d| d.level)
            .filter(|l| *l != TrustLevel::Unknown)
            .max()
            .unwrap_or(TrustLevel::Unknown);
        self.level =
            if worst == TrustLevel::Good && dims.iter().any(|d| d.level == TrustLevel::Unknown) {
                TrustLevel::Partial
            } else {
                worst
            };
    }

    /// For a terminal.
    pub fn render_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: trust {} (score {:.2}, judged {})",
            self.image,
            self.level.as_str(),
            self.score,
            self.judged
        );
        for (name, d) in [
            ("signature", &self.signature),
            ("consistency", &self.consistency),
            ("provenance", &self.provenance),
            ("vulnerabilities", &self.vulnerabilities),
            ("freshness", &self.freshness),
        ] {
            let _ = writeln!(s, "  {name:<16} {:<8} {}", d.level.as_str(), d.summary);
            for e in d.evidence.iter().take(12) {
                let _ = writeln!(s, "  {:<16}          - {e}", "");
            }
            if d.evidence.len() > 12 {
                let _ = writeln!(
                    s,
                    "  {:<16}          … {} more (--json lists all)",
                    "",
                    d.evidence.len() - 12
                );
            }
        }
        s
    }
}

fn signature(tree: &ImageTree, opts: &TrustOptions) -> Dimension {
    use base64::Engine as _;
    use p256::ecdsa::signature::Verifier as _;
    let info = tree.info();
    let mut evidence = Vec::new();
    let mut best = None::<TrustLevel>;
    let mut note = |level: TrustLevel, text: String, ev: &mut Vec<String>| {
        ev.push(text);
        best = Some(match best {
            Some(b) if b < level => b,
            _ => level,
        });
    };
    for sig in &info.signatures {
        match sig.kind.as_str() {
            "imagewise-snapshot" => {
                let key = sig.key.as_deref().unwrap_or("no key");
                match sig.verified.as_deref() {
                    Some("valid") => note(
                        TrustLevel::Good,
                        format!("snapshot {} signature valid (key {key})", &sig.reference[..12.min(sig.reference.len())]),
                        &mut evidence,
                    ),
                    Some("invalid") => note(
                        TrustLevel::Poor,
                        format!("snapshot signature does NOT verify with key {key}: signed by another key or altered"),
                        &mut evidence,
                    ),
                    Some("missing") => note(
                        TrustLevel::Poor,
                        format!("snapshot is unsigned in a repository that signs (key {key})"),
                        &mut evidence,
                    ),
                    _ => note(
                        TrustLevel::Poor,
                        "snapshot from a repository without a signing key: nothing signed".into(),
                        &mut evidence,
                    ),
                }
            }
            "cosign" => {
                let digest = info.manifest_digest.as_deref().unwrap_or("");
                if sig.layers.is_empty() {
                    note(
                        TrustLevel::Poor,
                        format!("cosign artifact {} holds no signature layer", sig.reference),
                        &mut evidence,
                    );
                }
                for l in &sig.layers {
                    let names = l.names_digest.as_deref();
                    if names != Some(digest) {
                        note(
                            TrustLevel::Poor,
                            format!(
                                "cosign signature {} names {} , not this image ({digest})",
                                sig.reference,
                                names.unwrap_or("no manifest digest")
                            ),
                            &mut evidence,
                        );
                        continue;
                    }
                    let (Some(payload), Some(sig64)) = (&l.payload, &l.signature) else {
                        note(
                            TrustLevel::Poor,
                            format!("cosign artifact {}: payload or signature annotation missing", sig.reference),
                            &mut evidence,
                        );
                        continue;
                    };
                    if opts.keys.is_empty() {
                        note(
                            TrustLevel::Partial,
                            format!("cosign signature {} names this manifest; unverified (give --key to verify)", sig.reference),
                            &mut evidence,
                        );
                        continue;
                    }
                    let raw = base64::engine::general_purpose::STANDARD.decode(sig64.trim());
                    let parsed = raw.ok().and_then(|b| {
                        p256::ecdsa::DerSignature::from_bytes(&b)
                            .ok()
                            .and_then(|d| p256::ecdsa::Signature::from_der(d.as_bytes()).ok())
                            .or_else(|| p256::ecdsa::Signature::from_slice(&b).ok())
                    });
                    let verified = parsed.is_some_and(|s| {
                        opts.keys
                            .iter()
                            .any(|k| k.verify(payload.as_bytes(), &s).is_ok())
                    });
                    if verified {
                        note(
                            TrustLevel::Good,
                            format!("cosign signature {} verified with the given key", sig.reference),
                            &mut evidence,
                        );
                    } else {
                        note(
                            TrustLevel::Poor,
                            format!("cosign signature {} does NOT verify with the given key(s)", sig.reference),
                            &mut evidence,
                        );
                    }
                }
                for p in &sig.problems {
                    evidence.push(format!("{}: {p}", sig.reference));
                }
            }
            _ => note(
                TrustLevel::Partial,
                format!(
                    "referrer {} ({}) names this manifest; present, unverified (imagewise verifies cosign simple-signing only)",
                    sig.reference,
                    sig.artifact_type.as_deref().unwrap_or("no artifact type")
                ),
                &mut evidence,
            ),
        }
    }
    match best {
        Some(level) => {
            let summary = match level {
                TrustLevel::Good => "signed, verified",
                TrustLevel::Partial => "signature present, unverified",
                _ => "signature bad or absent",
            };
            Dimension::new(level, summary, evidence)
        }
        None => Dimension::new(
            TrustLevel::Poor,
            "absent",
            vec![format!(
                "a {} carries no signature artifact for this image",
                info.format.as_str()
            )],
        ),
    }
}

/// The package whose version should agree with os-release, per distribution.
fn release_package(id: &str) -> &'static [&'static str] {
    match id {
        "debian" => &["base-files"],
        "alpine" => &["alpine-release"],
        "rhel" => &["redhat-release"],
        "rocky" => &["rocky-release"],
        "almalinux" => &["almalinux-release"],
        "centos" => &["centos-stream-release", "centos-release"],
        "fedora" => &["fedora-release-common", "fedora-release"],
        "ol" => &["oraclelinux-release"],
        "amzn" => &["system-release", "amazon-linux-release"],
        "opensuse-leap" | "opensuse-tumbleweed" | "sles" => &["openSUSE-release", "sles-release"],
        "mariner" | "azurelinux" => &["mariner-release", "azurelinux-release"],
        _ => &[],
    }
}

fn consistency(facts: &ImageFacts, files: Option<FileCheck>) -> (Dimension, Option<FileCheck>) {
    let mut evidence = Vec::new();
    let mut level = TrustLevel::Good;
    let mut judged = false;
    // 1. os-release against the release package.
    let id = facts.os.id.as_deref().unwrap_or("");
    let version = facts.os.version_id.as_deref().unwrap_or("");
    let pkg = release_package(id)
        .iter()
        .find_map(|n| facts.packages.iter().find(|p| p.name == *n));
    match (pkg, version) {
        (Some(p), v) if !v.is_empty() => {
            judged = true;
            // base-files 12.4+deb12u5 ↔ 12; alpine-release 3.20.3-r0 ↔ 3.20.3; rocky-release 9.4 ↔ 9.4.
            let ver = p.version.split(':').next_back().unwrap_or(&p.version);
            let want_major = v.split('.').next().unwrap_or(v);
            let agrees =
                ver.starts_with(v) || ver.split(['.', '-', '+', '~']).next() == Some(want_major);
            if agrees {
                evidence.push(format!(
                    "os-release VERSION_ID {v} agrees with {} {}",
                    p.name, p.version
                ));
            } else {
                level = TrustLevel::Poor;
                evidence.push(format!(
                    "os-release says {id} {v} but the release package {} is {}",
                    p.name, p.version
                ));
            }
        }
        (None, _) if !release_package(id).is_empty() => {
            level = TrustLevel::Partial;
            evidence.push(format!(
                "no release package ({}) installed to check os-release against",
                release_package(id).join(" or ")
            ));
        }
        _ => evidence.push(format!(
            "os-release {id} {version}: no release package known to check it against"
        )),
    }
    // 2. Packaged files against dpkg's md5sums.
    if let Some(fc) = &files {
        judged = true;
        for m in &fc.modified {
            evidence.push(format!("modified after install: {m}"));
        }
        for m in &fc.missing {
            evidence.push(format!("missing: {m}"));
        }
        for m in &fc.unreadable {
            evidence.push(format!("unreadable: {m}"));
        }
        if !fc.modified.is_empty() || !fc.missing.is_empty() {
            level = TrustLevel::Poor;
        }
        evidence.push(format!(
            "{} of {} packaged files checked against dpkg md5sums ({})",
            fc.checked, fc.packaged_files, fc.mode
        ));
    } else if facts
        .packages
        .iter()
        .any(|p| p.ecosystem != imagewise_facts::Ecosystem::Dpkg)
    {
        evidence.push(
            "package file checksums are compared for dpkg only; apk and rpm file digests are not checked yet"
                .into(),
        );
    }
    if !judged {
        return (
            Dimension::new(TrustLevel::Unknown, "nothing to check against", evidence),
            files,
        );
    }
    let summary = match level {
        TrustLevel::Good => "release and packaged files agree with the package database",
        TrustLevel::Partial => "partly checked",
        _ => "disagrees with its package database",
    };
    (Dimension::new(level, summary, evidence), files)
}

/// A fixed pseudo-random rank of a path (FNV-1a), so the sample is the same every run.
fn sample_key(path: &str) -> u64 {
    path.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Bytes read for the sample beyond the files modified after install.
const SAMPLE_BYTES: u64 = 1 << 20;

fn dpkg_files(tree: &ImageTree, opts: &TrustOptions) -> Option<FileCheck> {
    let dir = tree.get("/var/lib/dpkg/info")?;
    let mut listed: Vec<(String, String, i64)> = Vec::new(); // (path, md5, installed mtime)
                                                             // The install time of a package: its `.list`, which dpkg itself writes when it unpacks
                                                             // (control files such as `.md5sums` keep the package's build time).
    let lists: Vec<(String, i64)> = tree
        .subtree(dir)
        .filter(|e| e.kind == EntryKind::File && e.path.ends_with(".md5sums"))
        .filter(|e| e.path.matches('/').count() == 5)
        .map(|e| {
            let list = format!("{}.list", e.path.trim_end_matches(".md5sums"));
            let installed = tree.get(&list).map_or(e.mtime, |l| l.mtime.max(e.mtime));
            (e.path.clone(), installed)
        })
        .collect();
    if lists.is_empty() {
        return None;
    }
    for (list, installed) in lists {
        let Ok(text) = tree.read(&list, 64 << 20) else {
            continue;
        };
        for line in String::from_utf8_lossy(&text).lines() {
            let Some((md5, path)) = line.split_once("  ") else {
                continue;
            };
            if md5.len() == 32 {
                listed.push((
                    format!("/{}", path.trim_start_matches('/')),
                    md5.to_string(),
                    installed,
                ));
            }
        }
    }
    let mut fc = FileCheck {
        mode: if opts.full { "full" } else { "sample" }.into(),
        packaged_files: listed.len(),
        ..FileCheck::default()
    };
    // Which to check: all, or those changed after their package's install plus a fixed sample.
    let mut chosen: Vec<&(String, String, i64)> = Vec::new();
    let mut rest: Vec<&(String, String, i64)> = Vec::new();
    for item in &listed {
        // Through symlinked directories (`/lib` → `usr/lib` on merged-/usr systems).
        let entry = tree.resolve(&item.0, true).ok();
        let changed = entry.is_some_and(|e| e.mtime > item.2);
        if opts.full || changed || entry.is_none() {
            chosen.push(item);
        } else {
            rest.push(item);
        }
    }
    if !opts.full {
        // A fixed sample, bounded in files and bytes so it stays a fraction of inspecting.
        rest.sort_by_key(|(p, ..)| sample_key(p));
        let mut bytes = 0u64;
        for item in rest {
            if chosen.len() >= opts.sample || bytes >= SAMPLE_BYTES {
                break;
            }
            bytes += tree.resolve(&item.0, true).map_or(0, |e| e.size);
            chosen.push(item);
        }
    }
    for (path, md5, _) in chosen {
        let entry = match tree.resolve(path, true) {
            Ok(e) => e,
            Err(_) => {
                fc.missing.push(path.clone());
                continue;
            }
        };
        if entry.kind != EntryKind::File && entry.kind != EntryKind::Hardlink {
            fc.missing
                .push(format!("{path} (a {:?}, not a file)", entry.kind));
            continue;
        }
        let real = entry.path.clone();
        let digest = tree
            .open(&real)
            .map_err(|e| e.to_string())
            .and_then(|mut r| {
                use md5::Digest as _;
                let mut h = md5::Md5::new();
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    let n = r.read(&mut buf).map_err(|e| e.to_string())?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                Ok(hex::encode(h.finalize()))
            });
        fc.checked += 1;
        match digest {
            Ok(d) if d == *md5 => {}
            Ok(_) => fc.modified.push(path.clone()),
            Err(e) => fc.unreadable.push(format!("{path}: {e}")),
        }
    }
    fc.modified.sort();
    fc.missing.sort();
    Some(fc)
}

const LABELS: &[&str] = &[
    "org.opencontainers.image.source",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.created",
    "org.opencontainers.image.vendor",
    "org.opencontainers.image.version",
    "org.opencontainers.image.base.name",
    "org.opencontainers.image.base.digest",
];

fn provenance(tree: &ImageTree) -> Dimension {
    let Some(config) = &tree.info().config else {
        return Dimension::new(
            TrustLevel::Unknown,
            format!(
                "a {} has no image configuration to record provenance",
                tree.info().format.as_str()
            ),
            Vec::new(),
        );
    };
    let labels = config.pointer("/config/Labels").and_then(|v| v.as_object());
    let mut evidence = Vec::new();
    let mut found = Vec::new();
    for l in LABELS {
        if let Some(v) = labels.and_then(|m| m.get(*l)).and_then(|v| v.as_str()) {
            evidence.push(format!("{l}={v}"));
            found.push(*l);
        }
    }
    if let Some(c) = config.get("created").and_then(|v| v.as_str()) {
        evidence.push(format!("config created {c}"));
    }
    let history = config
        .get("history")
        .and_then(|h| h.as_array())
        .map(|h| h.len())
        .unwrap_or(0);
    if history > 0 {
        evidence.push(format!("{history} history entries"));
    }
    let has = |l: &str| found.contains(&l);
    let (level, summary) = if has(LABELS[0]) && has(LABELS[1]) {
        (TrustLevel::Good, "source and revision recorded")
    } else if !found.is_empty() || history > 0 {
        (
            TrustLevel::Partial,
            "some provenance (no source and revision labels)",
        )
    } else {
        (TrustLevel::Poor, "no provenance labels or history")
    };
    Dimension::new(level, summary, evidence)
}

fn vulnerabilities(scan: Option<&ScanSummary>) -> Dimension {
    let Some(s) = scan else {
        return Dimension::new(
            TrustLevel::Unknown,
            "not scanned (give a vulnerability database)",
            Vec::new(),
        );
    };
    let c = &s.counts;
    let mut evidence = vec![format!(
        "{} findings in {} packages ({} critical, {} high; {} unfixed); scanned {}",
        c.total, s.packages_scanned, c.critical, c.high, s.unfixed, s.scanned
    )];
    evidence.extend(s.problems.iter().cloned());
    let (level, summary) = if c.critical > 0 {
        (TrustLevel::Poor, "critical vulnerabilities")
    } else if !s.complete {
        (TrustLevel::Partial, "scan incomplete")
    } else if c.high > 0 {
        (TrustLevel::Partial, "high vulnerabilities")
    } else {
        (TrustLevel::Good, "no critical or high vulnerabilities")
    };
    Dimension::new(level, summary, evidence)
}

/// The newest package install time: the latest mtime of the package database's files.
fn newest_install(tree: &ImageTree) -> Option<String> {
    let mut newest: Option<i64> = None;
    if let Some(d) = tree.get("/var/lib/dpkg/info") {
        for e in tree.subtree(d).filter(|e| e.path.ends_with(".list")) {
            newest = Some(newest.map_or(e.mtime, |n: i64| n.max(e.mtime)));
        }
    }
    for p in [
        "/lib/apk/db/installed",
        "/var/lib/rpm/rpmdb.sqlite",
        "/var/lib/rpm/Packages",
        "/usr/lib/sysimage/rpm/rpmdb.sqlite",
        "/usr/lib/sysimage/rpm/Packages.db",
    ] {
        if let Some(e) = tree.get(p) {
            newest = Some(newest.map_or(e.mtime, |n: i64| n.max(e.mtime)));
        }
    }
    let t = jiff::Timestamp::from_second(newest?).ok()?;
    Some(t.to_string())
}

fn freshness(
    tree: &ImageTree,
    facts: &ImageFacts,
    installed: Option<String>,
    opts: &TrustOptions,
) -> Dimension {
    let created = tree
        .info()
        .config
        .as_ref()
        .and_then(|c| c.get("created"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    judge_freshness(created.as_deref(), installed.as_deref(), facts, opts)
}

fn judge_freshness(
    created: Option<&str>,
    installed: Option<&str>,
    facts: &ImageFacts,
    opts: &TrustOptions,
) -> Dimension {
    let day = |s: &str| {
        s.get(..10)
            .and_then(|d| d.parse::<jiff::civil::Date>().ok())
    };
    let mut evidence = Vec::new();
    let mut ages = Vec::new();
    if let Some(c) = created {
        evidence.push(format!("image created {c}"));
        if let Some(d) = day(c) {
            ages.push((opts.today - d).get_days() as i64);
        }
    }
    if let Some(i) = installed {
        evidence.push(format!("newest package install {i}"));
        if let Some(d) = day(i) {
            ages.push((opts.today - d).get_days() as i64);
        }
    }
    // The youngest evidence says when the image was last built or updated.
    let age = ages.iter().copied().min();
    if let Some(a) = age {
        evidence.push(format!("{a} days since (stale after {})", opts.stale_days));
    }
    let support = facts.os.support.as_ref();
    if let Some(w) = support {
        evidence.push(format!(
            "{} {}: support {}{}",
            w.distro,
            w.release,
            serde_json::to_value(w.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            w.end_of_life
                .as_deref()
                .map(|e| format!(" (standard support until {e})"))
                .unwrap_or_default()
        ));
    }
    let ended = support.is_some_and(|w| w.status == SupportStatus::Ended);
    let extended = support.is_some_and(|w| w.status == SupportStatus::Extended);
    let level = match age {
        None if ended => TrustLevel::Poor,
        None => TrustLevel::Unknown,
        Some(_) if ended => TrustLevel::Poor,
        Some(a) if a > 365 => TrustLevel::Poor,
        Some(a) if a > opts.stale_days || extended => TrustLevel::Partial,
        Some(_) => TrustLevel::Good,
    };
    let summary = match (level, age) {
        (TrustLevel::Unknown, _) => "no build or install time recorded".to_string(),
        (_, _) if ended => "the release is past its end of support".to_string(),
        (_, Some(a)) if extended => format!("built {a} days ago; release in extended support only"),
        (_, Some(a)) => format!("built or updated {a} days ago"),
        (_, None) => String::new(),
    };
    Dimension::new(level, summary, evidence)
}
