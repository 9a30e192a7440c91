//! Packagist (Composer) versions, ordered as Composer orders them: both versions normalised as
//! Composer's `VersionParser::normalize` does (`v1.2` → `1.2.0.0`, `1.0-b2` → `1.0.0.0-beta2`,
//! `2.x-dev` → `2.9999999.9999999.9999999-dev`), then compared with PHP's `version_compare`
//! (`dev < alpha = a < beta = b < RC = rc < number < pl = p`, unknown words lowest).
//!
//! Branch names (`dev-main`) are not versions and are refused. Checked against PHP and
//! Debian's `php-composer-semver` by the vuln crate's integration tests.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

use crate::version::VersionError;

const MODIFIER: &str =
    r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?)?([.-]?dev)?";

static CLASSICAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)^v?(\d{{1,5}})(\.\d+)?(\.\d+)?(\.\d+)?{MODIFIER}$"
    ))
    .expect("valid regex")
});
static DATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)^v?(\d{{4}}(?:[.:-]?\d{{2}}){{1,6}}(?:[.:-]?\d{{1,3}})?){MODIFIER}$"
    ))
    .expect("valid regex")
});
static BRANCH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^v?(\d+)(\.(?:\d+|[x*]))?(\.(?:\d+|[x*]))?(\.(?:\d+|[x*]))?$")
        .expect("valid regex")
});

fn expand_stability(s: &str) -> String {
    match s.to_ascii_lowercase().as_str() {
        "a" => "alpha".into(),
        "b" => "beta".into(),
        "p" | "pl" => "patch".into(),
        "rc" => "RC".into(),
        other => other.into(),
    }
}

/// Composer's normal form of a version, or why it is not one.
pub fn normalize(version: &str) -> Result<String, VersionError> {
    let err = |why: &str| VersionError::new("composer", version, why);
    let mut v = version.trim();
    let bare = |x: &str| !x.is_empty() && !x.contains(|c: char| c == ',' || c.is_whitespace());
    if let Some((a, b)) = v.split_once(" as ") {
        if bare(a.trim_end_matches(' ')) && bare(b.trim_start_matches(' ')) {
            v = a.trim_end_matches(' ');
        }
    }
    for flag in ["@stable", "@rc", "@beta", "@alpha", "@dev"] {
        let tail = v.len().checked_sub(flag.len()).and_then(|n| v.get(n..));
        if tail.is_some_and(|t| t.eq_ignore_ascii_case(flag)) {
            v = &v[..v.len() - flag.len()];
            break;
        }
    }
    if matches!(v, "master" | "trunk" | "default")
        || v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("dev-"))
    {
        return Err(err("a branch name, not a version"));
    }
    // Build metadata: `+` and at least one more character, no blanks.
    if let Some((a, meta)) = v.split_once('+') {
        if bare(a) && !a.contains('+') && !meta.is_empty() && !meta.contains(char::is_whitespace) {
            v = a;
        }
    }
    let (mut out, caps, at) = if let Some(c) = CLASSICAL.captures(v) {
        let mut out = c[1].to_string();
        for i in 2..=4 {
            out.push_str(c.get(i).map_or(".0", |m| m.as_str()));
        }
        (out, c, 5)
    } else if let Some(c) = DATED.captures(v) {
        let out: String = c[1]
            .chars()
            .map(|ch| if ch.is_ascii_digit() { ch } else { '.' })
            .collect();
        (out, c, 2)
    } else {
        // `(.*?)[.-]?dev$`: one separator before `dev` belongs to it.
        if let Some(stem) = v
            .len()
            .checked_sub(3)
            .filter(|&n| v.is_char_boundary(n) && v[n..].eq_ignore_ascii_case("dev"))
            .map(|n| {
                let s = &v[..n];
                s.strip_suffix(['.', '-']).unwrap_or(s).trim()
            })
        {
            if let Some(c) = BRANCH.captures(stem) {
                let mut out = String::new();
                for i in 1..=4 {
                    let part = c.get(i).map_or("9999999", |m| m.as_str());
                    let part = part.trim_start_matches('.');
                    if i > 1 {
                        out.push('.');
                    }
                    out.push_str(if matches!(part, "x" | "X" | "*") {
                        "9999999"
                    } else {
                        part
                    });
                }
                return Ok(out + "-dev");
            }
        }
        return Err(err("not a version Composer understands"));
    };
    if let Some(stab) = caps.get(at) {
        if stab.as_str() == "stable" {
            return Ok(out);
        }
        out.push('-');
        out.push_str(&expand_stability(stab.as_str()));
        if let Some(n) = caps.get(at + 1) {
            out.push_str(n.as_str().trim_start_matches(['.', '-']));
        }
    }
    if caps.get(at + 2).is_some_and(|m| !m.as_str().is_empty()) {
        out.push_str("-dev");
    }
    Ok(out)
}

/// PHP's canonical form: `-`, `_`, `+` and other non-alphanumerics become `.`, and a `.` is
/// put where digits meet letters.
fn canonical(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len() * 2);
    let Some((&first, rest)) = b.split_first() else {
        return String::new();
    };
    out.push(first);
    let dig = |c: u8| c.is_ascii_digit();
    let ndig = |c: u8| !c.is_ascii_digit() && c != b'.';
    let mut lp = first;
    for &c in rest {
        let last = *out.last().expect("not empty");
        if matches!(c, b'-' | b'_' | b'+') {
            if last != b'.' {
                out.push(b'.');
            }
        } else if (ndig(lp) && dig(c)) || (dig(lp) && ndig(c)) {
            if last != b'.' {
                out.push(b'.');
            }
            out.push(c);
        } else if !c.is_ascii_alphanumeric() {
            if last != b'.' {
                out.push(b'.');
            }
        } else {
            out.push(c);
        }
        lp = c;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// PHP's special forms, matched by prefix in this order.
fn special(form: &str) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| form.starts_with(name))
        .map_or(-1, |(_, o)| *o)
}

fn starts_digit(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// C's strtol on a piece that starts with a digit (saturating as strtol does).
fn strtol(s: &str) -> i64 {
    s.bytes().take_while(u8::is_ascii_digit).fold(0i64, |n, d| {
        n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    })
}

/// PHP's `version_compare($a, $b)`, step for step: pieces are compared while both sides have
/// another piece after them; what is left of the longer side then decides (a number wins, a
/// word is compared with a number).
pub fn php_version_compare(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        _ => {}
    }
    // PHP compares its "#N#" placeholder as it is, without canonicalising it.
    let canon = |v: &str| {
        if v.starts_with('#') {
            v.to_string()
        } else {
            canonical(v)
        }
    };
    let (ca, cb) = (canon(a), canon(b));
    let (mut p1, mut p2) = (ca.as_str(), cb.as_str());
    let (mut more1, mut more2) = (true, true);
    let mut compare = Ordering::Equal;
    while !p1.is_empty() && !p2.is_empty() && more1 && more2 {
        let (x, r1) = p1.split_once('.').map_or((p1, None), |(x, r)| (x, Some(r)));
        let (y, r2) = p2.split_once('.').map_or((p2, None), |(y, r)| (y, Some(r)));
        more1 = r1.is_some();
        more2 = r2.is_some();
        compare = match (starts_digit(x), starts_digit(y)) {
            (true, true) => strtol(x).cmp(&strtol(y)),
            (false, false) => special(x).cmp(&special(y)),
            (true, false) => special("#N#").cmp(&special(y)),
            (false, true) => special(x).cmp(&special("#N#")),
        };
        if compare != Ordering::Equal {
            break;
        }
        if let Some(r) = r1 {
            p1 = r;
        }
        if let Some(r) = r2 {
            p2 = r;
        }
    }
    if compare == Ordering::Equal {
        if more1 {
            compare = if starts_digit(p1) {
                Ordering::Greater
            } else {
                php_version_compare(p1, "#N#")
            };
        } else if more2 {
            compare = if starts_digit(p2) {
                Ordering::Less
            } else {
                php_version_compare("#N#", p2)
            };
        }
    }
    compare
}

/// A Packagist version in Composer's normal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposerVersion(String);

impl ComposerVersion {
    pub fn parse(version: &str) -> Result<Self, VersionError> {
        normalize(version).map(ComposerVersion)
    }

    pub fn compare(&self, other: &ComposerVersion) -> Ordering {
        php_version_compare(&self.0, &other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composer_normal_forms() {
        for (v, n) in [
            ("1.0.0", "1.0.0.0"),
            ("v1.2", "1.2.0.0"),
            ("1.0.0-beta2", "1.0.0.0-beta2"),
            ("1.0-b.2", "1.0.0.0-beta2"),
            ("1.0.0-RC1-dev", "1.0.0.0-RC1-dev"),
            ("1.0.0-pl3", "1.0.0.0-patch3"),
            ("1.2.3+build.7", "1.2.3.0"),
            ("2.x-dev", "2.9999999.9999999.9999999-dev"),
            ("20100102-203040", "20100102.203040"),
            ("1.0.0-stable", "1.0.0.0"),
        ] {
            assert_eq!(normalize(v).unwrap(), n, "{v}");
        }
        for bad in ["dev-main", "master", "junk", "1.0.0-foo"] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn php_order() {
        use Ordering::*;
        for (a, b, o) in [
            ("1.0.0.0-dev", "1.0.0.0-alpha1", Less),
            ("1.0.0.0-alpha1", "1.0.0.0-beta1", Less),
            ("1.0.0.0-RC1", "1.0.0.0", Less),
            ("1.0.0.0", "1.0.0.0-patch1", Less),
            ("1.0", "1.0.0", Less),
            ("1.10", "1.9", Greater),
        ] {
            assert_eq!(php_version_compare(a, b), o, "{a} {b}");
        }
    }
}
