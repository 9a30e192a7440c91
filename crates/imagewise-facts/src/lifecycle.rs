//! How long a distribution release is supported: a versioned table of releases and their end of
//! standard and extended support, shipped with the project (`data/lifecycle.toml`, each row
//! citing where its dates were published), that a user file can extend or override.
//!
//! No crate carries this data; endoflife.date's API is online and its dates are one aggregator's
//! reading. The table keeps the publisher's own terms (Debian LTS, Ubuntu ESM, RHEL ELS, SUSE
//! LTSS) and says which end is which.
//!
//! ```
//! use imagewise_facts::lifecycle::Table;
//! use imagewise_facts::Os;
//!
//! let os = Os { id: Some("debian".into()), version_id: Some("12".into()), ..Os::default() };
//! let today: jiff::civil::Date = "2026-12-06".parse().unwrap();
//! let w = Table::builtin().support(&os, today).unwrap();
//! assert_eq!(w.release, "12");
//! assert_eq!(w.status, imagewise_facts::SupportStatus::Extended);
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use jiff::civil::Date;
use serde::Deserialize;

use crate::report::{Os, SupportStatus, SupportWindow};

const BUILTIN: &str = include_str!("../data/lifecycle.toml");

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: Option<String>,
    #[serde(default)]
    distro: BTreeMap<String, Distro>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Distro {
    name: Option<String>,
    /// The publisher's name for its extended support (`LTS`, `ESM`, `ELS`, `LTSS`).
    extended: Option<String>,
    source: Option<String>,
    rolling: Option<bool>,
    /// A `VERSION_ID` containing this is a development snapshot (Alpine edge's `_alpha`).
    rolling_marker: Option<String>,
    #[serde(default)]
    releases: Vec<Release>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Release {
    release: String,
    codename: Option<String>,
    released: Option<String>,
    end: Option<String>,
    extended_end: Option<String>,
    /// In development (Debian testing's next release): no dates yet.
    #[serde(default)]
    development: bool,
    source: Option<String>,
}

impl Release {
    fn date(v: &Option<String>) -> Option<Date> {
        v.as_deref().and_then(|s| s.parse().ok())
    }
    fn released(&self) -> Option<Date> {
        Release::date(&self.released)
    }
    fn end(&self) -> Option<Date> {
        Release::date(&self.end)
    }
    fn extended_end(&self) -> Option<Date> {
        Release::date(&self.extended_end)
    }
}

/// The lifecycle table: the shipped rows, then any user file's on top.
#[derive(Debug, Clone)]
pub struct Table {
    distros: BTreeMap<String, Distro>,
    /// `builtin 2026-12-06`, then `+ PATH` per user file.
    origin: String,
}

/// A lifecycle file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("lifecycle table {file}: {detail}")]
pub struct TableError {
    pub file: String,
    pub detail: String,
}

fn parse(text: &str, file: &str) -> Result<File, TableError> {
    let f: File = toml::from_str(text).map_err(|e| TableError {
        file: file.to_string(),
        detail: e.to_string(),
    })?;
    for (id, d) in &f.distro {
        if id.is_empty()
            || id
                .chars()
                .any(|c| c.is_ascii_uppercase() || c.is_whitespace())
        {
            return Err(TableError {
                file: file.to_string(),
                detail: format!(
                    "distro {id:?}: the key is the os-release ID, lower case without spaces"
                ),
            });
        }
        for r in &d.releases {
            if r.release.trim().is_empty() {
                return Err(TableError {
                    file: file.to_string(),
                    detail: format!("distro {id}: a release with an empty `release`"),
                });
            }
            for (field, v) in [
                ("released", &r.released),
                ("end", &r.end),
                ("extended_end", &r.extended_end),
            ] {
                if let Some(v) = v {
                    if v.parse::<Date>().is_err() {
                        return Err(TableError {
                            file: file.to_string(),
                            detail: format!(
                                "distro {id} release {}: {field} {v:?} is not a date (YYYY-MM-DD)",
                                r.release
                            ),
                        });
                    }
                }
            }
            if let (Some(e), Some(x)) = (r.end(), r.extended_end()) {
                if x < e {
                    return Err(TableError {
                        file: file.to_string(),
                        detail: format!(
                            "distro {id} release {}: extended_end {x} is before end {e}",
                            r.release
                        ),
                    });
                }
            }
        }
    }
    Ok(f)
}

impl Table {
    /// The table shipped with imagewise (parsed once per process).
    pub fn builtin() -> Table {
        static PARSED: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
        PARSED
            .get_or_init(|| {
                let f = parse(BUILTIN, "builtin").expect("the shipped lifecycle table parses");
                Table {
                    origin: format!("builtin {}", f.version.as_deref().unwrap_or("")),
                    distros: f.distro,
                }
            })
            .clone()
    }

    /// Adds the rows of the TOML `text` (named `file` in errors and in `origin`): a release with
    /// the same ID and `release` replaces the shipped one; a distro's fields replace its fields.
    pub fn merge(&mut self, text: &str, file: &str) -> Result<(), TableError> {
        let f = parse(text, file)?;
        for (id, d) in f.distro {
            let to = self.distros.entry(id).or_default();
            if d.name.is_some() {
                to.name = d.name;
            }
            if d.extended.is_some() {
                to.extended = d.extended;
            }
            if d.rolling.is_some() {
                to.rolling = d.rolling;
            }
            if d.rolling_marker.is_some() {
                to.rolling_marker = d.rolling_marker;
            }
            // A release without its own source keeps the citation of the file it came from.
            let source = d.source.clone();
            if d.source.is_some() {
                // The distro-level citation is for the user's rows; shipped rows keep theirs.
                for r in to.releases.iter_mut() {
                    if r.source.is_none() {
                        r.source = to.source.clone();
                    }
                }
                to.source = d.source;
            }
            for mut r in d.releases {
                if r.source.is_none() {
                    r.source = source.clone().or_else(|| Some(format!("user file {file}")));
                }
                match to.releases.iter_mut().find(|x| x.release == r.release) {
                    Some(x) => *x = r,
                    None => to.releases.push(r),
                }
            }
        }
        self.origin.push_str(&format!(" + {file}"));
        Ok(())
    }

    /// [`Table::merge`] of a file on disk.
    pub fn merge_file(&mut self, path: &Path) -> Result<(), TableError> {
        let text = std::fs::read_to_string(path).map_err(|e| TableError {
            file: path.display().to_string(),
            detail: format!("cannot read it: {e}"),
        })?;
        self.merge(&text, &path.display().to_string())
    }

    /// Where the rows came from: `builtin 2026-12-06`, `+ FILE` per user file.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The support window of the release `os` names, judged on `today`; `None` when the table
    /// has no row for it.
    pub fn support(&self, os: &Os, today: Date) -> Option<SupportWindow> {
        let id = os.id.as_deref()?;
        let d = self.distros.get(id)?;
        let name = d.name.clone().unwrap_or_else(|| id.to_string());
        let version = os.version_id.as_deref().unwrap_or("");
        let development = d
            .rolling_marker
            .as_deref()
            .is_some_and(|m| version.contains(m));
        if d.rolling == Some(true) || development {
            return Some(SupportWindow {
                distro: name,
                release: version.to_string(),
                codename: os.version_codename.clone(),
                status: SupportStatus::Rolling,
                released: None,
                end_of_life: None,
                days_left: None,
                extended: None,
                extended_end: None,
                extended_days_left: None,
                source: d.source.clone().unwrap_or_default(),
                table: self.origin.clone(),
            });
        }
        let r = if !version.is_empty() {
            // The longest release that is the version or a dotted prefix of it.
            d.releases
                .iter()
                .filter(|r| {
                    version == r.release
                        || version
                            .strip_prefix(r.release.as_str())
                            .is_some_and(|rest| rest.starts_with('.'))
                })
                .max_by_key(|r| r.release.len())
        } else {
            let code = os.version_codename.as_deref()?;
            d.releases
                .iter()
                .find(|r| r.codename.as_deref() == Some(code))
        }?;
        let days = |d: Date| (d - today).get_days() as i64;
        let status = match (r.end(), r.extended_end()) {
            _ if r.development || r.released().is_some_and(|x| x > today) => {
                SupportStatus::Unreleased
            }
            (None, _) => SupportStatus::Unknown,
            (Some(e), _) if e >= today => SupportStatus::Supported,
            (Some(_), Some(x)) if x >= today => SupportStatus::Extended,
            (Some(_), _) => SupportStatus::Ended,
        };
        Some(SupportWindow {
            distro: name,
            release: r.release.clone(),
            codename: r.codename.clone(),
            status,
            released: r.released.clone(),
            end_of_life: r.end.clone(),
            days_left: r.end().map(days),
            extended: r.extended_end.as_ref().and(d.extended.clone()),
            extended_end: r.extended_end.clone(),
            extended_days_left: r.extended_end().map(days),
            source: r
                .source
                .clone()
                .or_else(|| d.source.clone())
                .unwrap_or_default(),
            table: self.origin.clone(),
        })
    }

    /// Every row, for listing: (ID, release, end, extended end, source).
    pub fn rows(&self) -> Vec<LifecycleRow> {
        let mut out = Vec::new();
        for (id, d) in &self.distros {
            if d.rolling == Some(true) {
                out.push(LifecycleRow {
                    id: id.clone(),
                    distro: d.name.clone().unwrap_or_else(|| id.clone()),
                    release: None,
                    codename: None,
                    rolling: true,
                    development: false,
                    released: None,
                    end: None,
                    extended: None,
                    extended_end: None,
                    source: d.source.clone().unwrap_or_default(),
                });
            }
            for r in &d.releases {
                out.push(LifecycleRow {
                    id: id.clone(),
                    distro: d.name.clone().unwrap_or_else(|| id.clone()),
                    release: Some(r.release.clone()),
                    codename: r.codename.clone(),
                    rolling: false,
                    development: r.development,
                    released: r.released.clone(),
                    end: r.end.clone(),
                    extended: r.extended_end.as_ref().and(d.extended.clone()),
                    extended_end: r.extended_end.clone(),
                    source: r
                        .source
                        .clone()
                        .or_else(|| d.source.clone())
                        .unwrap_or_default(),
                });
            }
        }
        out
    }
}

/// One row of the table, as listed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LifecycleRow {
    pub id: String,
    pub distro: String,
    pub release: Option<String>,
    pub codename: Option<String>,
    pub rolling: bool,
    /// Not released yet.
    pub development: bool,
    pub released: Option<String>,
    pub end: Option<String>,
    pub extended: Option<String>,
    pub extended_end: Option<String>,
    pub source: String,
}

/// Today in UTC.
pub fn today() -> Date {
    jiff::tz::Offset::UTC
        .to_datetime(jiff::Timestamp::now())
        .date()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(id: &str, v: &str) -> Os {
        Os {
            id: Some(id.into()),
            version_id: (!v.is_empty()).then(|| v.to_string()),
            ..Os::default()
        }
    }

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn every_shipped_row_cites_a_source_and_ends_in_order() {
        let t = Table::builtin();
        let rows = t.rows();
        assert!(rows.len() > 80, "{}", rows.len());
        for r in rows {
            assert!(r.source.starts_with("http"), "{r:?}");
            if let (Some(e), Some(x)) = (&r.end, &r.extended_end) {
                assert!(e <= x, "{r:?}");
            }
            if let (Some(s), Some(e)) = (&r.released, &r.end) {
                assert!(s < e, "{r:?}");
            }
        }
    }

    #[test]
    fn versions_match_the_longest_dotted_prefix() {
        let t = Table::builtin();
        let today = day("2026-12-06");
        let w = t.support(&os("alpine", "3.20.3"), today).unwrap();
        assert_eq!(
            (w.release.as_str(), w.end_of_life.as_deref()),
            ("3.20", Some("2026-04-01"))
        );
        assert_eq!(w.status, SupportStatus::Ended);
        assert_eq!(w.days_left, Some(-249));
        let w = t.support(&os("rocky", "9.4"), today).unwrap();
        assert_eq!(w.release, "9");
        assert_eq!(w.status, SupportStatus::Supported);
        // `3.2` is not a prefix of `3.20.3`: only whole dotted parts count.
        assert!(t.support(&os("alpine", "3.2"), today).is_none());
        assert!(t.support(&os("alpine", "3.200"), today).is_none());
        let w = t.support(&os("ubuntu", "24.04"), today).unwrap();
        assert_eq!(w.extended.as_deref(), Some("ESM"));
        assert!(t.support(&os("nosuch", "1"), today).is_none());
    }

    #[test]
    fn statuses_follow_the_dates() {
        let t = Table::builtin();
        let deb = |v: &str, d: &str| t.support(&os("debian", v), day(d)).unwrap().status;
        assert_eq!(deb("12", "2026-07-11"), SupportStatus::Supported);
        assert_eq!(deb("12", "2026-07-12"), SupportStatus::Extended);
        assert_eq!(deb("12", "2028-07-01"), SupportStatus::Ended);
        assert_eq!(deb("14", "2026-12-06"), SupportStatus::Unreleased);
        let edge = t
            .support(&os("alpine", "3.21_alpha20240807"), day("2026-12-06"))
            .unwrap();
        assert_eq!(edge.status, SupportStatus::Rolling);
        let arch = t.support(&os("arch", ""), day("2026-12-06")).unwrap();
        assert_eq!(arch.status, SupportStatus::Rolling);
        // Testing has no VERSION_ID: the codename finds the release.
        let mut testing = os("debian", "");
        testing.version_codename = Some("forky".into());
        let w = t.support(&testing, day("2026-12-06")).unwrap();
        assert_eq!(
            (w.release.as_str(), w.status),
            ("14", SupportStatus::Unreleased)
        );
        let w = t
            .support(&os("azurelinux", "3.0"), day("2026-12-06"))
            .unwrap();
        assert_eq!(w.status, SupportStatus::Unknown);
    }

    #[test]
    fn a_user_file_overrides_and_adds_rows() {
        let mut t = Table::builtin();
        t.merge(
            r#"
[distro.debian]
releases = [{ release = "12", end = "2027-01-31" }]
[distro.acme]
name = "Acme OS"
source = "https://acme.example/lifecycle"
releases = [{ release = "1", end = "2030-01-01" }]
"#,
            "my.toml",
        )
        .unwrap();
        let today = day("2026-12-06");
        let w = t.support(&os("debian", "12"), today).unwrap();
        assert_eq!(w.end_of_life.as_deref(), Some("2027-01-31"));
        assert_eq!(w.source, "user file my.toml");
        assert!(w.table.ends_with("+ my.toml"), "{}", w.table);
        let w = t.support(&os("debian", "11"), today).unwrap();
        assert!(w.source.contains("distro-info-data"), "{}", w.source);
        let w = t.support(&os("acme", "1.2"), today).unwrap();
        assert_eq!(
            (w.distro.as_str(), w.source.as_str()),
            ("Acme OS", "https://acme.example/lifecycle")
        );
    }

    #[test]
    fn bad_user_files_are_refused_with_the_reason() {
        let mut t = Table::builtin();
        for (text, want) in [
            ("[distro.debian]\nreleases = [{ release = \"12\", end = \"soon\" }]", "end"),
            ("[distro.Debian]\nname = \"x\"", "lower case"),
            ("[distro.x]\nreleses = []", "unknown field"),
            (
                "[distro.x]\nreleases = [{ release = \"1\", end = \"2030-01-01\", extended_end = \"2029-01-01\" }]",
                "before end",
            ),
        ] {
            let e = t.merge(text, "u.toml").unwrap_err().to_string();
            assert!(e.contains("u.toml") && e.contains(want), "{e}");
        }
    }
}
