//! RPM versions, ordered as rpm's `rpmvercmp` and `rpm.vercmp` order them: `[epoch:]version
//! [-release]`. Segments of digits compare as numbers and beat segments of letters; other
//! characters only separate; `~` sorts before anything (pre-releases), `^` after the end of the
//! string but before anything else (post-release snapshots). A missing release compares as an
//! empty one, as `rpm.vercmp` does (`1.0 < 1.0-1`).

use std::cmp::Ordering;

use crate::version::VersionError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmVersion<'a> {
    pub epoch: Option<&'a str>,
    pub version: &'a str,
    pub release: Option<&'a str>,
}

impl<'a> RpmVersion<'a> {
    /// Split `E:V-R` as rpm does: the epoch is the leading digits before `:`, the release what
    /// follows the last `-`.
    pub fn parse(s: &'a str) -> Result<RpmVersion<'a>, VersionError> {
        let bad = |why: &str| VersionError::new("rpm", s, why);
        if s.is_empty() {
            return Err(bad("version string is empty"));
        }
        if s.contains(char::is_whitespace) {
            return Err(bad("version string has whitespace"));
        }
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let (epoch, rest) = if s.as_bytes().get(digits) == Some(&b':') {
            (Some(&s[..digits]), &s[digits + 1..])
        } else {
            (None, s)
        };
        let (version, release) = match rest.rfind('-') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        if version.is_empty() {
            return Err(bad("version is empty"));
        }
        Ok(RpmVersion {
            epoch: epoch.map(|e| if e.is_empty() { "0" } else { e }),
            version,
            release,
        })
    }

    pub fn compare(&self, other: &RpmVersion<'_>) -> Ordering {
        rpmvercmp(self.epoch.unwrap_or("0"), other.epoch.unwrap_or("0"))
            .then_with(|| rpmvercmp(self.version, other.version))
            // rpm.vercmp compares a missing release as an empty one: `1.0 < 1.0-1`.
            .then_with(|| rpmvercmp(self.release.unwrap_or(""), other.release.unwrap_or("")))
    }
}

/// rpm's segment-wise comparison of two version (or release) strings.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            match (ca, cb) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(x), _) if x != b'^' => return Ordering::Greater,
                (_, Some(y)) if y != b'^' => return Ordering::Less,
                _ => {}
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(x), Some(_)) = (ca, cb) else { break };
        let numeric = x.is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let (si, sj) = (i, j);
        while i < a.len() && class(&a[i]) {
            i += 1;
        }
        while j < b.len() && class(&b[j]) {
            j += 1;
        }
        if sj == j {
            // Different kinds of segment: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut sa, mut sb) = (&a[si..i], &b[sj..j]);
        if numeric {
            while sa.first() == Some(&b'0') {
                sa = &sa[1..];
            }
            while sb.first() == Some(&b'0') {
                sb = &sb[1..];
            }
            if sa.len() != sb.len() {
                return sa.len().cmp(&sb.len());
            }
        }
        match sa.cmp(sb) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    match (i < a.len(), j < b.len()) {
        (false, false) => Ordering::Equal,
        (true, _) => Ordering::Greater,
        (false, true) => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn rpmvercmp_examples() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("1.0a", "1.0.a", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("1.0^git1", "1.0~rc1", Greater),
            ("a", "1", Less),
            ("001", "1", Equal),
            ("1.0", "1_0", Equal),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn evr() {
        let p = |s| RpmVersion::parse(s).unwrap();
        assert_eq!(p("1:2.3-4.el9").epoch, Some("1"));
        assert_eq!(p("2.3-4.el9").release, Some("4.el9"));
        assert_eq!(p("1:2.3-4").compare(&p("2.4-1")), Greater);
        assert_eq!(p("2.3").compare(&p("2.3-9")), Less);
        assert!(RpmVersion::parse("").is_err());
        assert!(RpmVersion::parse("1:-1").is_err());
    }
}
