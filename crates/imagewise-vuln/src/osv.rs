//! OSV records (ossf/osv-schema, `schema.md`) and the schema's rule for whether a version is
//! affected: per range, events are taken in version order, `introduced` opens (with `"0"` below
//! every version), `fixed` closes before itself, `last_affected` closes after itself, and no
//! version at or past a `limit` is affected; the `versions` list adds versions one by one.
//! `GIT` ranges name commits and cannot be judged from a package version.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::version::{compare, VersionError, VersionOrder};

/// The fields of an OSV record that matching uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsvRecord {
    /// REQUIRED.
    pub id: String,
    /// REQUIRED: RFC 3339 time of the last change.
    pub modified: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Ids of the upstream vulnerabilities this one is derived from (a distribution's record
    /// names its CVE here: `DEBIAN-CVE-2024-1` → `CVE-2024-1`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    /// Ids of related but different vulnerabilities (not the same one: not merged, not ignored
    /// by).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Severity>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// `ADVISORY`, `WEB`, `FIX`, `REPORT`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default)]
    pub package: Option<Package>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Per-package severity (schema 1.6+), next to the record's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    /// e.g. `Debian:12`, `Alpine:v3.20`, `Rocky Linux:9`, `PyPI`.
    pub ecosystem: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RangeType {
    Ecosystem,
    Semver,
    Git,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: RangeType,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// Exactly one of the fields is set in a valid record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

impl Event {
    /// `introduced: "0"` (below every version) or `limit: "*"` (above every version): no
    /// version to parse.
    fn is_unbounded(&self) -> bool {
        self.introduced.as_deref() == Some("0") || self.limit.as_deref() == Some("*")
    }

    fn version(&self) -> Option<&str> {
        self.introduced
            .as_deref()
            .or(self.fixed.as_deref())
            .or(self.last_affected.as_deref())
            .or(self.limit.as_deref())
    }
}

/// Order two event versions; `introduced: "0"` is below everything and `limit: "*"` above.
fn cmp_event(eco: VersionOrder, a: &Event, b: &Event) -> Result<Ordering, VersionError> {
    // (rank, …): 0 for introduced "0", 2 for limit "*", 1 for a real version.
    let rank = |e: &Event| match (e.introduced.as_deref(), e.limit.as_deref()) {
        (Some("0"), _) => 0,
        (_, Some("*")) => 2,
        _ => 1,
    };
    match (rank(a), rank(b)) {
        (1, 1) => {}
        (x, y) => return Ok(x.cmp(&y)),
    }
    match (a.version(), b.version()) {
        (Some(x), Some(y)) => compare(eco, x, y),
        _ => Ok(Ordering::Equal),
    }
}

impl Range {
    /// Is `version` inside this range? `None` for a `GIT` range, which versions cannot answer.
    pub fn includes(&self, eco: VersionOrder, version: &str) -> Result<Option<bool>, VersionError> {
        let eco = match self.kind {
            RangeType::Git => return Ok(None),
            RangeType::Semver => VersionOrder::Semver,
            RangeType::Ecosystem => eco,
        };
        // Sort with a comparator that can fail: check every version first.
        for e in &self.events {
            if let Some(v) = e.version().filter(|_| !e.is_unbounded()) {
                compare(eco, v, v)?;
            }
        }
        let mut events: Vec<&Event> = self.events.iter().collect();
        events.sort_by(|a, b| cmp_event(eco, a, b).unwrap_or(Ordering::Equal));
        let at_or_after = |bound: &str| compare(eco, version, bound).map(|o| o != Ordering::Less);
        let mut affected = false;
        for e in events {
            if let Some(i) = &e.introduced {
                if i == "0" || at_or_after(i)? {
                    affected = true;
                }
            } else if let Some(f) = &e.fixed {
                if at_or_after(f)? {
                    affected = false;
                }
            } else if let Some(l) = &e.last_affected {
                if compare(eco, version, l)? == Ordering::Greater {
                    affected = false;
                }
            } else if let Some(l) = &e.limit {
                if l != "*" && at_or_after(l)? {
                    return Ok(Some(false));
                }
            }
        }
        Ok(Some(affected))
    }
}

/// Why an affected entry of an OSV record cannot be trusted (the record is then skipped whole:
/// a partial record could turn "affected" into a clean answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRange {
    #[error("a range without an \"introduced\" event")]
    NoIntroduced,
    #[error("a range event with {0} of introduced/fixed/last_affected/limit (needs exactly one)")]
    EventFields(usize),
    #[error("bad range: {0}")]
    Version(VersionError),
    #[error("bad versions entry: {0}")]
    ListedVersion(VersionError),
}

impl imagewise_types::HasKind for InvalidRange {
    fn kind(&self) -> imagewise_types::ErrorKind {
        imagewise_types::ErrorKind::Corrupt
    }
}

impl Range {
    /// Check the range as the schema requires: each event sets exactly one field, a version
    /// range has an `introduced` event, and every version is one `eco` can order.
    pub fn validate(&self, eco: VersionOrder) -> Result<(), InvalidRange> {
        let eco = match self.kind {
            RangeType::Git => return Ok(()),
            RangeType::Semver => VersionOrder::Semver,
            RangeType::Ecosystem => eco,
        };
        if !self.events.iter().any(|e| e.introduced.is_some()) {
            return Err(InvalidRange::NoIntroduced);
        }
        for e in &self.events {
            let set = [&e.introduced, &e.fixed, &e.last_affected, &e.limit]
                .iter()
                .filter(|f| f.is_some())
                .count();
            if set != 1 {
                return Err(InvalidRange::EventFields(set));
            }
            if !e.is_unbounded() {
                let v = e.version().unwrap_or_default();
                compare(eco, v, v).map_err(InvalidRange::Version)?;
            }
        }
        Ok(())
    }
}

impl Affected {
    /// Check every range and listed version against `eco`'s version syntax.
    pub fn validate(&self, eco: VersionOrder) -> Result<(), InvalidRange> {
        for r in &self.ranges {
            r.validate(eco)?;
        }
        for v in &self.versions {
            compare(eco, v, v).map_err(InvalidRange::ListedVersion)?;
        }
        Ok(())
    }

    /// Does this entry cover `version` of its package (compared with `eco`'s rules)?
    pub fn includes(&self, eco: VersionOrder, version: &str) -> Result<bool, VersionError> {
        for r in &self.ranges {
            if r.includes(eco, version)? == Some(true) {
                return Ok(true);
            }
        }
        for v in &self.versions {
            if compare(eco, version, v)? == Ordering::Equal {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The lowest `fixed` version above `version` in a range that covers it: what to upgrade to.
    pub fn fixed_in(
        &self,
        eco: VersionOrder,
        version: &str,
    ) -> Result<Option<String>, VersionError> {
        let mut best: Option<&str> = None;
        for r in &self.ranges {
            if r.includes(eco, version)? != Some(true) {
                continue;
            }
            let eco = if r.kind == RangeType::Semver {
                VersionOrder::Semver
            } else {
                eco
            };
            for f in r.events.iter().filter_map(|e| e.fixed.as_deref()) {
                if compare(eco, f, version)? == Ordering::Greater
                    && best.map_or(Ok(true), |b| {
                        compare(eco, f, b).map(|o| o == Ordering::Less)
                    })?
                {
                    best = Some(f);
                }
            }
        }
        Ok(best.map(str::to_string))
    }
}

/// What a record's entries for one package say of `version`, taken together (their order does
/// not matter): `None` when no entry covers it; else the version to upgrade to — the lowest
/// `fixed` event above `version` at which no entry applies any more — or `Some(None)` when there
/// is none (an entry covers every later version too).
pub fn verdict(
    entries: &[&Affected],
    eco: VersionOrder,
    version: &str,
) -> Result<Option<Option<String>>, VersionError> {
    let mut hit = false;
    for a in entries {
        hit |= a.includes(eco, version)?;
    }
    if !hit {
        return Ok(None);
    }
    let mut candidates: Vec<String> = Vec::new();
    for a in entries {
        for r in &a.ranges {
            for f in r.events.iter().filter_map(|e| e.fixed.as_deref()) {
                if compare(eco, f, version)? == Ordering::Greater {
                    candidates.push(f.to_string());
                }
            }
        }
    }
    let mut sorted: Vec<String> = Vec::new();
    for c in candidates {
        let at = {
            let mut i = 0;
            while i < sorted.len() && compare(eco, &sorted[i], &c)? == Ordering::Less {
                i += 1;
            }
            i
        };
        if sorted.get(at).map(String::as_str) != Some(c.as_str()) {
            sorted.insert(at, c);
        }
    }
    for c in sorted {
        let mut still = false;
        for a in entries {
            still |= a.includes(eco, &c)?;
        }
        if !still {
            return Ok(Some(Some(c)));
        }
    }
    Ok(Some(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_judged_together_in_any_order() {
        let fixed = affected(
            r#"{"package":{"ecosystem":"PyPI","name":"x"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]}"#,
        );
        let all = affected(
            r#"{"package":{"ecosystem":"PyPI","name":"x"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}"#,
        );
        let later = affected(
            r#"{"package":{"ecosystem":"PyPI","name":"x"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.5"},{"fixed":"3.0"}]}]}"#,
        );
        let e = VersionOrder::Pep440;
        // Fixed in one entry, every version in another: affected, unfixed, either order.
        assert_eq!(verdict(&[&fixed, &all], e, "1.0").unwrap(), Some(None));
        assert_eq!(verdict(&[&all, &fixed], e, "1.0").unwrap(), Some(None));
        // Two fixes: the lowest at which no entry applies.
        assert_eq!(
            verdict(&[&fixed, &later], e, "1.6").unwrap(),
            Some(Some("3.0".into()))
        );
        assert_eq!(
            verdict(&[&later, &fixed], e, "1.6").unwrap(),
            Some(Some("3.0".into()))
        );
        assert_eq!(
            verdict(&[&later, &fixed], e, "1.0").unwrap(),
            Some(Some("3.0".into())),
            "2.0 is still in the later range"
        );
        assert_eq!(verdict(&[&fixed], e, "2.0").unwrap(), None);
    }

    fn affected(json: &str) -> Affected {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_debian_fix_and_its_backport_order() {
        // As Debian's OSV records write them: per source package, fixed in a stable update.
        let a = affected(
            r#"{"package":{"ecosystem":"Debian:12","name":"openssl"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1~deb12u1"}]}]}"#,
        );
        let e = VersionOrder::Dpkg;
        assert!(a.includes(e, "3.0.9-1").unwrap());
        assert!(a.includes(e, "3.0.11-1~deb12u0").unwrap());
        assert!(!a.includes(e, "3.0.11-1~deb12u1").unwrap());
        assert!(!a.includes(e, "3.0.11-1").unwrap());
        assert_eq!(
            a.fixed_in(e, "3.0.9-1").unwrap().as_deref(),
            Some("3.0.11-1~deb12u1")
        );
        assert_eq!(a.fixed_in(e, "3.0.11-1").unwrap(), None);
    }

    #[test]
    fn several_intervals_last_affected_limit_and_versions() {
        // Events deliberately out of order: the rule sorts them.
        let a = affected(
            r#"{"ranges":[{"type":"ECOSYSTEM","events":[
                  {"fixed":"2.5"},{"introduced":"2.0"},{"introduced":"1.0"},{"fixed":"1.5"}]},
                {"type":"ECOSYSTEM","events":[{"introduced":"3.0"},{"last_affected":"3.2"}]},
                {"type":"ECOSYSTEM","events":[{"introduced":"4.0"},{"limit":"4.5"}]},
                {"type":"GIT","events":[{"introduced":"deadbeef"}]}],
               "versions":["0.9"]}"#,
        );
        let e = VersionOrder::Apk;
        for (v, want) in [
            ("0.8", false),
            ("0.9", true),
            ("1.0", true),
            ("1.4", true),
            ("1.5", false),
            ("1.9", false),
            ("2.0", true),
            ("2.4.9", true),
            ("2.5", false),
            ("3.2", true),
            ("3.2.1", false),
            ("4.4", true),
            ("4.5", false),
        ] {
            assert_eq!(a.includes(e, v).unwrap(), want, "{v}");
        }
        assert_eq!(a.fixed_in(e, "1.2").unwrap().as_deref(), Some("1.5"));
        assert_eq!(a.fixed_in(e, "2.1").unwrap().as_deref(), Some("2.5"));
        assert_eq!(
            a.fixed_in(e, "3.1").unwrap(),
            None,
            "last_affected: no fix known"
        );
    }

    #[test]
    fn unbounded_limit_sorts_last_so_the_order_stays_total() {
        let a = affected(
            r#"{"ranges":[{"type":"ECOSYSTEM","events":[
                  {"limit":"*"},{"fixed":"1.0"},{"introduced":"0"},{"introduced":"2.0"}]}]}"#,
        );
        let e = VersionOrder::Apk;
        assert!(a.includes(e, "0.5").unwrap());
        assert!(!a.includes(e, "1.5").unwrap());
        assert!(a.includes(e, "3.0").unwrap());
    }

    #[test]
    fn semver_ranges_use_semver_whatever_the_package() {
        let a = affected(
            r#"{"ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0-rc.1"},{"fixed":"1.0.1"}]}]}"#,
        );
        assert!(a.includes(VersionOrder::Dpkg, "1.0.0").unwrap());
        assert!(!a.includes(VersionOrder::Dpkg, "1.0.0-beta.9").unwrap());
    }

    #[test]
    fn a_bad_version_in_a_record_is_an_error_not_a_clean_answer() {
        let a = affected(
            r#"{"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0_bogus"}]}]}"#,
        );
        assert!(a.includes(VersionOrder::Apk, "0.5").is_err());
    }

    #[test]
    fn a_whole_record_parses() {
        let r: OsvRecord = serde_json::from_str(
            r#"{"id":"ALPINE-CVE-2023-0001","modified":"2024-01-02T03:04:05Z","aliases":["CVE-2023-0001"],
                "affected":[{"package":{"ecosystem":"Alpine:v3.20","name":"busybox"},
                  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.36.1-r29"}]}]}]}"#,
        )
        .unwrap();
        assert!(r.affected[0]
            .includes(VersionOrder::Apk, "1.36.1-r28")
            .unwrap());
        assert!(!r.affected[0]
            .includes(VersionOrder::Apk, "1.36.1-r29")
            .unwrap());
        assert!(
            serde_json::from_str::<OsvRecord>(r#"{"id":"X"}"#).is_err(),
            "modified is required"
        );
    }
}
