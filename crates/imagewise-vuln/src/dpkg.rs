//! Debian package versions, ordered as `dpkg --compare-versions` orders them (deb-version(7)):
//! `[epoch:]upstream[-revision]`; epochs compare as numbers, then upstream and revision with
//! dpkg's rule: alternate runs of non-digits (compared character by character, letters before
//! non-letters, `~` before everything, even the end) and of digits (compared as numbers).

use std::cmp::Ordering;

use crate::version::VersionError;

/// A parsed Debian version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgVersion<'a> {
    pub epoch: u32,
    pub upstream: &'a str,
    pub revision: &'a str,
}

impl<'a> DpkgVersion<'a> {
    /// Parse as dpkg does, refusing what `dpkg --compare-versions` refuses: an empty version,
    /// a non-numeric or huge epoch, an empty upstream or revision, spaces inside, or characters
    /// outside `[A-Za-z0-9.+~-]` (upstream) and `[A-Za-z0-9.+~]` (revision).
    pub fn parse(s: &'a str) -> Result<DpkgVersion<'a>, VersionError> {
        let bad = |why: &str| VersionError::new("dpkg", s, why);
        let v = s.trim();
        if v.is_empty() {
            return Err(bad("version string is empty"));
        }
        if v.contains(char::is_whitespace) {
            return Err(bad("version string has embedded spaces"));
        }
        let (epoch, rest) = match v.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() {
                    return Err(bad("epoch in version is empty"));
                }
                if !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("epoch in version is not number"));
                }
                let n: u32 = e
                    .parse()
                    .ok()
                    .filter(|&n| n <= i32::MAX as u32)
                    .ok_or_else(|| bad("epoch in version is too big"))?;
                (n, rest)
            }
            None => (0, v),
        };
        let (upstream, revision) = match rest.rfind('-') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(bad("version number is empty"));
        }
        if rest.ends_with('-') {
            return Err(bad("revision number is empty"));
        }
        if let Some(c) = upstream
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '~' | ':')))
        {
            return Err(bad(&format!("invalid character {c:?} in version number")));
        }
        if let Some(c) = revision
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~')))
        {
            return Err(bad(&format!("invalid character {c:?} in revision number")));
        }
        Ok(DpkgVersion {
            epoch,
            upstream,
            revision,
        })
    }
}

impl Ord for DpkgVersion<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream, other.upstream))
            .then_with(|| verrevcmp(self.revision, other.revision))
    }
}

impl PartialOrd for DpkgVersion<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Weight of a character in a non-digit run: `~` sorts before the end of the string, the end
/// before letters, letters before everything else.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// Compare two upstream (or revision) strings with dpkg's rule.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // A run of non-digits, character by character.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        // A run of digits, as a number of any length: skip leading zeros, then the longer
        // run is bigger, else the first differing digit decides.
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        DpkgVersion::parse(a)
            .unwrap()
            .cmp(&DpkgVersion::parse(b).unwrap())
    }

    #[test]
    fn debian_policy_examples() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0-0", Equal),
            ("1.0-1", "1.0-1~bpo12+1", Greater),
            ("1:1.0", "2.0", Greater),
            ("1.0a", "1.0+", Less),
            ("1.0", "1.0a", Less),
            ("1.0~", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0~~a", "1.0~~", Greater),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", Less),
            ("1.001", "1.1", Equal),
            ("0:1.0", "1.0", Equal),
            ("1.2.3+b1", "1.2.3", Greater),
        ] {
            assert_eq!(cmp(a, b), want, "{a} vs {b}");
            assert_eq!(cmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn invalid_versions_are_refused() {
        for v in [
            "",
            " ",
            "a:1.0",
            ":1.0",
            "1.0-",
            "1.0 1",
            "1.0_1",
            "1.0-1_2",
            "99999999999:1",
        ] {
            assert!(DpkgVersion::parse(v).is_err(), "{v:?} accepted");
        }
    }
}
