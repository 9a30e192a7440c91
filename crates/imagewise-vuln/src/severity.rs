//! How bad a finding is: the CVSS base score computed from the record's vectors (v2, v3.0,
//! v3.1, v4.0, via the `cvss` crate) and the distribution's own rating where the record carries
//! one (Ubuntu's `severity` entries; `severity`/`urgency` in `ecosystem_specific` or
//! `database_specific`, as Debian, Red Hat, SUSE and GitHub write them). The distribution's rating
//! wins when both exist: it judges the package as that distribution builds and ships it.

use serde::{Deserialize, Serialize};

use crate::osv::{Affected, OsvRecord};

pub use imagewise_types::Level;

fn level_of_cvss(s: cvss::Severity) -> Level {
    match s {
        cvss::Severity::None => Level::Negligible,
        cvss::Severity::Low => Level::Low,
        cvss::Severity::Medium => Level::Medium,
        cvss::Severity::High => Level::High,
        cvss::Severity::Critical => Level::Critical,
    }
}

/// A CVSS vector with its computed base score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvssScore {
    /// `CVSS_V2`, `CVSS_V3` or `CVSS_V4`, as the record typed it.
    pub kind: String,
    pub vector: String,
    /// Base score, 0.0–10.0 (v4: the CVSS-B/BT/BE score the vector's metrics give).
    pub score: f64,
    pub level: Level,
}

/// The severity of a record for one affected entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rated {
    pub level: Level,
    /// Where `level` came from: `cvss`, `distribution` or `none`.
    pub source: &'static str,
    /// The distribution's own word, as written (`medium`, `not yet assigned`, `Important`).
    pub distribution: Option<String>,
    /// The newest CVSS version's score, when the record has a parseable vector.
    pub cvss: Option<CvssScore>,
}

/// Score one vector; `None` if `cvss` cannot parse it.
pub fn score_vector(kind: &str, vector: &str) -> Option<CvssScore> {
    let parsed: cvss::Cvss = vector.trim().parse().ok()?;
    let score = match &parsed {
        // The base score, not the temporal or environmental one the vector might also carry.
        cvss::Cvss::CvssV30(v) | cvss::Cvss::CvssV31(v) => v.base_score().value(),
        other => other.score(),
    };
    Some(CvssScore {
        kind: kind.to_string(),
        vector: vector.trim().to_string(),
        score,
        level: level_of_cvss(parsed.severity()),
    })
}

fn cvss_rank(kind: &str) -> u8 {
    match kind {
        "CVSS_V4" => 3,
        "CVSS_V3" => 2,
        "CVSS_V2" => 1,
        _ => 0,
    }
}

/// A `severity`/`urgency` word inside an `ecosystem_specific`/`database_specific` object.
fn word_in(v: Option<&serde_json::Value>) -> Option<String> {
    let o = v?.as_object()?;
    ["severity", "urgency"]
        .iter()
        .find_map(|k| o.get(*k)?.as_str().map(str::to_string))
}

/// Rate `record` as it applies through its affected entry `a`.
pub fn rate(record: &OsvRecord, a: &Affected) -> Rated {
    let all = a.severity.iter().chain(&record.severity);
    let cvss = all
        .clone()
        .filter(|s| cvss_rank(&s.kind) > 0)
        .filter_map(|s| score_vector(&s.kind, &s.score))
        .max_by(|x, y| {
            cvss_rank(&x.kind)
                .cmp(&cvss_rank(&y.kind))
                .then(x.score.total_cmp(&y.score))
        });
    let distribution = all
        .filter(|s| cvss_rank(&s.kind) == 0)
        .map(|s| s.score.clone())
        .next()
        .or_else(|| word_in(a.ecosystem_specific.as_ref()))
        .or_else(|| word_in(a.database_specific.as_ref()))
        .or_else(|| word_in(record.database_specific.as_ref()));
    let (level, source) = match (distribution.as_deref().and_then(Level::from_word), &cvss) {
        (Some(l), _) => (l, "distribution"),
        (None, Some(c)) => (c.level, "cvss"),
        (None, None) => (Level::Unknown, "none"),
    };
    Rated {
        level,
        source,
        distribution,
        cvss,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_scores_as_nvd_publishes_them() {
        // CVE-2021-44228 (log4shell): NVD 10.0 critical.
        let c = score_vector("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H").unwrap();
        assert_eq!((c.score, c.level), (10.0, Level::Critical));
        // CVE-2014-0160 (heartbleed), v3.1: 7.5 high; v2: 5.0 medium.
        let c = score_vector("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N").unwrap();
        assert_eq!((c.score, c.level), (7.5, Level::High));
        let c = score_vector("CVSS_V2", "AV:N/AC:L/Au:N/C:P/I:N/A:N").unwrap();
        assert_eq!((c.score, c.level), (5.0, Level::Medium));
        // A v4.0 vector from the FIRST calculator: 9.3 critical.
        let c = score_vector(
            "CVSS_V4",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        )
        .unwrap();
        assert_eq!((c.score, c.level), (9.3, Level::Critical));
        // Temporal metrics do not lower the base score.
        let c = score_vector(
            "CVSS_V3",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/E:U/RL:O/RC:U",
        )
        .unwrap();
        assert_eq!(c.score, 7.5);
        assert!(score_vector("CVSS_V3", "CVSS:3.1/AV:X").is_none());
    }

    #[test]
    fn distribution_rating_wins_over_cvss() {
        let r: OsvRecord = serde_json::from_str(
            r#"{"id":"UBUNTU-CVE-2024-1","modified":"2024-01-01T00:00:00Z",
                "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"},
                            {"type":"Ubuntu","score":"low"}],
                "affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"x"}}]}"#,
        )
        .unwrap();
        let s = rate(&r, &r.affected[0]);
        assert_eq!((s.level, s.source), (Level::Low, "distribution"));
        assert_eq!(s.cvss.unwrap().score, 7.5);

        let r: OsvRecord = serde_json::from_str(
            r#"{"id":"DEBIAN-CVE-2024-2","modified":"2024-01-01T00:00:00Z",
                "affected":[{"package":{"ecosystem":"Debian:12","name":"x"},
                             "ecosystem_specific":{"urgency":"not yet assigned"}}]}"#,
        )
        .unwrap();
        let s = rate(&r, &r.affected[0]);
        assert_eq!((s.level, s.source), (Level::Unknown, "none"));
        assert_eq!(s.distribution.as_deref(), Some("not yet assigned"));
    }
}
