//! RubyGems versions, ordered as `Gem::Version#<=>` orders them.
//!
//! A version is digits then dot-separated alphanumeric parts, optionally a `-` pre-release
//! (`1.0-rc1` is read as `1.0.pre.rc1`). It is cut into runs of digits and runs of letters;
//! a letter run marks a pre-release, which sorts before the release (`1.0.a < 1.0`); trailing
//! zeros of the release part and of the pre-release part are dropped (`1.0 == 1`). Checked
//! against Ruby's own `Gem::Version` by the vuln crate's integration tests.

use std::cmp::Ordering;

use crate::version::VersionError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    /// Decimal digits without leading zeros (`""` is zero).
    Num(String),
    Str(String),
}

impl Seg {
    fn is_zero(&self) -> bool {
        matches!(self, Seg::Num(d) if d.is_empty())
    }
}

/// A parsed RubyGems version: its canonical segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemVersion(Vec<Seg>);

fn alnum_run(s: &[u8], extra: u8) -> usize {
    s.iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == extra)
        .count()
}

/// Whether `v` (already stripped) matches Gem::Version's pattern:
/// `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`.
fn well_formed(v: &str) -> bool {
    let s = v.as_bytes();
    let mut i = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if i == 0 {
        return false;
    }
    while i < s.len() && s[i] == b'.' {
        let n = alnum_run(&s[i + 1..], 0);
        if n == 0 {
            return false;
        }
        i += 1 + n;
    }
    if i == s.len() {
        return true;
    }
    if s[i] != b'-' {
        return false;
    }
    loop {
        let n = alnum_run(&s[i + 1..], b'-');
        if n == 0 {
            return false;
        }
        i += 1 + n;
        if i == s.len() {
            return true;
        }
        if s[i] != b'.' {
            return false;
        }
    }
}

impl GemVersion {
    pub fn parse(version: &str) -> Result<Self, VersionError> {
        // Ruby's \s: space, \t, \n, \v, \f, \r.
        let v = version.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r'));
        let v = if v.is_empty() { "0" } else { v };
        if !well_formed(v) {
            return Err(VersionError::new(
                "rubygems",
                version,
                "not digits followed by dot-separated letters and digits (and a -prerelease)",
            ));
        }
        let v = v.replace('-', ".pre.");
        let mut segs = Vec::new();
        let b = v.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            let n = if c.is_ascii_digit() {
                b[i..].iter().take_while(|c| c.is_ascii_digit()).count()
            } else if c.is_ascii_alphabetic() {
                b[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .count()
            } else {
                i += 1;
                continue;
            };
            let run = &v[i..i + n];
            segs.push(if c.is_ascii_digit() {
                Seg::Num(run.trim_start_matches('0').to_string())
            } else {
                Seg::Str(run.to_string())
            });
            i += n;
        }
        // Canonical segments: the release part and the pre-release part (from the first
        // letters on) each lose their trailing zeros.
        let split = segs
            .iter()
            .position(|s| matches!(s, Seg::Str(_)))
            .unwrap_or(segs.len());
        let mut pre = segs.split_off(split);
        while segs.last().is_some_and(Seg::is_zero) {
            segs.pop();
        }
        while pre.last().is_some_and(Seg::is_zero) {
            pre.pop();
        }
        segs.extend(pre);
        Ok(GemVersion(segs))
    }

    pub fn compare(&self, other: &GemVersion) -> Ordering {
        let zero = Seg::Num(String::new());
        for i in 0..self.0.len().max(other.0.len()) {
            let l = self.0.get(i).unwrap_or(&zero);
            let r = other.0.get(i).unwrap_or(&zero);
            let o = match (l, r) {
                (Seg::Num(a), Seg::Num(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
                (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
                (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
                (Seg::Str(a), Seg::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        GemVersion::parse(a)
            .unwrap()
            .compare(&GemVersion::parse(b).unwrap())
    }

    #[test]
    fn prereleases_and_trailing_zeros() {
        assert_eq!(cmp("1.0", "1"), Ordering::Equal);
        assert_eq!(cmp("1.0.a", "1"), Ordering::Less);
        assert_eq!(cmp("1.0-rc1", "1.0.pre.rc1"), Ordering::Equal);
        assert_eq!(cmp("1.0.b1", "1.0.a2"), Ordering::Greater);
        assert_eq!(cmp("1.0.a.0", "1.0.a"), Ordering::Equal);
        assert_eq!(cmp("", "0"), Ordering::Equal);
        assert_eq!(cmp("1.10", "1.9"), Ordering::Greater);
        for bad in ["junk", "1..2", "1.2-", "-1", "1.2 3"] {
            assert!(GemVersion::parse(bad).is_err(), "{bad}");
        }
    }
}
