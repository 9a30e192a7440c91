//! Alpine package versions, ordered as apk-tools orders them (`apk version -t`): a Gentoo-style
//! grammar `digits{.digits}[letter]{_suffix[digits]}[-rN]`. Numeric parts after a dot that start
//! with zeros compare as fractions (`1.01 < 1.1`); pre-release suffixes (`_alpha`, `_beta`,
//! `_pre`, `_rc`) sort before the plain version, post-release ones (`_cvs`, `_svn`, `_git`,
//! `_hg`, `_p`) after it; `-rN` is the package revision. That is apk-tools 2's order
//! ([`ApkVersion`]); apk-tools 3 changed some rules ([`Apk3Version`]).

use std::cmp::Ordering;

use crate::version::VersionError;

/// Token kinds, in the order apk ranks them when one version runs out of a kind sooner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tok {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

const PRE: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

#[derive(Clone)]
struct Cursor<'a> {
    s: &'a [u8],
    ty: Tok,
}

impl Cursor<'_> {
    /// The value of the current token; moves to the next one.
    fn token(&mut self) -> i64 {
        if self.s.is_empty() {
            self.ty = Tok::End;
            return 0;
        }
        let mut i = 0usize;
        let mut v: i64 = 0;
        let mut then = None;
        match self.ty {
            Tok::DigitOrZero if self.s[0] == b'0' => {
                // Leading zeros after a dot: every zero that another zero follows counts one
                // down (`1.0 > 1.00 > 1.000`, `1.001 < 1.01`); the last zero and any digits
                // after it are then read as a number of their own.
                while i + 1 < self.s.len() && self.s[i + 1] == b'0' {
                    i += 1;
                }
                v = -(i as i64);
                then = Some(Tok::Digit);
            }
            Tok::DigitOrZero | Tok::Digit | Tok::SuffixNo | Tok::RevisionNo => {
                while i < self.s.len() && self.s[i].is_ascii_digit() {
                    v = v
                        .saturating_mul(10)
                        .saturating_add(i64::from(self.s[i] - b'0'));
                    i += 1;
                }
            }
            Tok::Letter => {
                v = i64::from(self.s[0]);
                i = 1;
            }
            Tok::Suffix => {
                let rest = self.s;
                if let Some((k, name)) = PRE
                    .iter()
                    .enumerate()
                    .find(|(_, p)| rest.starts_with(p.as_bytes()))
                {
                    v = k as i64 - PRE.len() as i64;
                    i = name.len();
                } else if let Some((k, name)) = POST
                    .iter()
                    .enumerate()
                    .find(|(_, p)| rest.starts_with(p.as_bytes()))
                {
                    v = k as i64;
                    i = name.len();
                } else {
                    self.ty = Tok::Invalid;
                    return -1;
                }
            }
            Tok::Invalid | Tok::End => {
                self.ty = Tok::Invalid;
                return -1;
            }
        }
        self.s = &self.s[i..];
        if self.s.is_empty() {
            self.ty = Tok::End;
        } else if let Some(t) = then {
            self.ty = t;
        } else {
            self.advance();
        }
        v
    }

    /// Find the kind of the next token from the separator or character class.
    fn advance(&mut self) {
        let c = self.s[0];
        let mut n = if matches!(self.ty, Tok::Digit | Tok::DigitOrZero) && c.is_ascii_lowercase() {
            Tok::Letter
        } else if self.ty == Tok::Letter && c.is_ascii_digit() {
            Tok::Digit
        } else if self.ty == Tok::Suffix && c.is_ascii_digit() {
            Tok::SuffixNo
        } else {
            let n = match c {
                b'.' => Tok::DigitOrZero,
                b'_' => Tok::Suffix,
                b'-' if self.s.get(1) == Some(&b'r') => {
                    self.s = &self.s[1..];
                    Tok::RevisionNo
                }
                _ => Tok::Invalid,
            };
            self.s = &self.s[1..];
            n
        };
        // Parts come in grammar order; going back is allowed only for a new number after a
        // dot, a further suffix, or digits after a letter.
        if n < self.ty
            && !((n == Tok::DigitOrZero && self.ty == Tok::Digit)
                || (n == Tok::Suffix && self.ty == Tok::SuffixNo)
                || (n == Tok::Digit && self.ty == Tok::Letter))
        {
            n = Tok::Invalid;
        }
        self.ty = n;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkVersion<'a>(&'a str);

impl<'a> ApkVersion<'a> {
    /// Accept what `apk version -c` accepts.
    pub fn parse(s: &'a str) -> Result<ApkVersion<'a>, VersionError> {
        if s.is_empty() {
            return Err(VersionError::new("apk", s, "version string is empty"));
        }
        let mut c = Cursor {
            s: s.as_bytes(),
            ty: Tok::Digit,
        };
        while !matches!(c.ty, Tok::End | Tok::Invalid) {
            c.token();
        }
        if c.ty == Tok::Invalid {
            return Err(VersionError::new(
                "apk",
                s,
                "not of the form digits{.digits}[letter]{_suffix[digits]}[-rN]",
            ));
        }
        Ok(ApkVersion(s))
    }

    pub fn compare(&self, other: &ApkVersion<'_>) -> Ordering {
        let mut a = Cursor {
            s: self.0.as_bytes(),
            ty: Tok::Digit,
        };
        let mut b = Cursor {
            s: other.0.as_bytes(),
            ty: Tok::Digit,
        };
        let (mut av, mut bv) = (0, 0);
        while a.ty == b.ty && !matches!(a.ty, Tok::End | Tok::Invalid) && av == bv {
            av = a.token();
            bv = b.token();
        }
        if av != bv {
            return av.cmp(&bv);
        }
        if a.ty == b.ty {
            return Ordering::Equal;
        }
        // Equal so far and one goes on: longer is newer, unless it goes on with a pre-release
        // suffix.
        if a.ty == Tok::Suffix && a.clone().token() < 0 {
            return Ordering::Less;
        }
        if b.ty == Tok::Suffix && b.clone().token() < 0 {
            return Ordering::Greater;
        }
        b.ty.cmp(&a.ty)
    }
}

/// apk-tools 3 (Alpine 3.23 and later) orders versions by a stricter grammar:
/// `digits{.digits}[letter]{_suffix[digits]}[~hash][-rN]`. What changed from apk-tools 2:
/// - a number after a dot that starts with `0` (on either side) compares as a string, byte by
///   byte then by length (`1.0 < 1.00`, `1.01 < 1.1`); 2.x counted leading zeros down;
/// - a letter is the last thing before a suffix: `1.0a1` and `1.0a.1` are invalid (2.x read a
///   number after the letter);
/// - a suffix is exactly one of the known names (`_prerelease` is invalid; 2.x matched a prefix);
/// - `~hash` (lower-case hex) names a commit, compared as a string;
/// - `-r` needs digits.
///
/// Checked against apk-tools 3's own `version.c` (compiled from its source for the check, as no
/// apk-tools 3 binary can be had here) on generated pairs, and against its unit test cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apk3Version {
    tokens: Vec<Tok3>,
}

/// apk-tools 3's token kinds, in its order: when one version has run out of a kind sooner,
/// the one whose next token is of a later kind is the smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind3 {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tok3 {
    kind: Kind3,
    /// The token's text (digits, letter, suffix name or hash).
    text: String,
    /// Digits as apk reads them (wrapping at 64 bits), or the suffix's rank.
    number: u64,
}

/// Suffix ranks: pre-releases below NONE (5), post-releases above.
const SUFFIX_NONE: u64 = 5;

fn suffix_rank(s: &str) -> Option<u64> {
    Some(match s {
        "alpha" => 1,
        "beta" => 2,
        "pre" => 3,
        "rc" => 4,
        "cvs" => 6,
        "svn" => 7,
        "git" => 8,
        "hg" => 9,
        "p" => 10,
        _ => return None,
    })
}

impl Apk3Version {
    pub fn parse(version: &str) -> Result<Self, VersionError> {
        let err = |why: &str| VersionError::new("apk3", version, why);
        let b = version.as_bytes();
        let mut i = 0usize;
        let mut tokens: Vec<Tok3> = Vec::new();
        let digits = |i: &mut usize| -> (String, u64) {
            let start = *i;
            let mut n: u64 = 0;
            while *i < b.len() && b[*i].is_ascii_digit() {
                n = n.wrapping_mul(10).wrapping_add(u64::from(b[*i] - b'0'));
                *i += 1;
            }
            (version[start..*i].to_string(), n)
        };
        let (text, number) = digits(&mut i);
        if text.is_empty() {
            return Err(err("does not start with a number"));
        }
        tokens.push(Tok3 {
            kind: Kind3::InitialDigit,
            text,
            number,
        });
        while i < b.len() {
            let last = tokens.last().expect("one token at least").kind;
            let tok = match b[i] {
                b'a'..=b'z' => {
                    if last > Kind3::Digit {
                        return Err(err("a letter may only follow a number"));
                    }
                    i += 1;
                    Tok3 {
                        kind: Kind3::Letter,
                        text: version[i - 1..i].to_string(),
                        number: u64::from(b[i - 1]),
                    }
                }
                b'.' | b'0'..=b'9' => {
                    if b[i] == b'.' {
                        if last > Kind3::Digit {
                            return Err(err("a dot may only follow a number"));
                        }
                        i += 1;
                    }
                    let kind = match last {
                        Kind3::InitialDigit | Kind3::Digit => Kind3::Digit,
                        Kind3::Suffix => Kind3::SuffixNo,
                        _ => return Err(err("a number is not allowed here")),
                    };
                    let (text, number) = digits(&mut i);
                    if text.is_empty() {
                        return Err(err("a dot must be followed by a number"));
                    }
                    Tok3 { kind, text, number }
                }
                b'_' => {
                    if last > Kind3::SuffixNo {
                        return Err(err("a suffix may not follow a hash or revision"));
                    }
                    i += 1;
                    let start = i;
                    while i < b.len() && b[i].is_ascii_lowercase() {
                        i += 1;
                    }
                    let name = &version[start..i];
                    let rank = suffix_rank(name).ok_or_else(|| {
                        err("unknown suffix (alpha, beta, pre, rc, cvs, svn, git, hg or p)")
                    })?;
                    Tok3 {
                        kind: Kind3::Suffix,
                        text: name.to_string(),
                        number: rank,
                    }
                }
                b'~' => {
                    if last >= Kind3::CommitHash {
                        return Err(err("a commit hash may appear once, before the revision"));
                    }
                    i += 1;
                    let start = i;
                    while i < b.len() && matches!(b[i], b'0'..=b'9' | b'a'..=b'f') {
                        i += 1;
                    }
                    if i == start {
                        return Err(err("~ must be followed by a lower-case hex commit hash"));
                    }
                    Tok3 {
                        kind: Kind3::CommitHash,
                        text: version[start..i].to_string(),
                        number: 0,
                    }
                }
                b'-' => {
                    if last >= Kind3::RevisionNo || b.get(i + 1) != Some(&b'r') {
                        return Err(err("- must start the one -rN revision"));
                    }
                    i += 2;
                    let (text, number) = digits(&mut i);
                    if text.is_empty() {
                        return Err(err("-r must be followed by a number"));
                    }
                    Tok3 {
                        kind: Kind3::RevisionNo,
                        text,
                        number,
                    }
                }
                _ => return Err(err("unexpected character")),
            };
            tokens.push(tok);
        }
        Ok(Apk3Version { tokens })
    }

    pub fn compare(&self, other: &Apk3Version) -> Ordering {
        let end = Tok3 {
            kind: Kind3::End,
            text: String::new(),
            number: 0,
        };
        let mut k = 0;
        loop {
            let a = self.tokens.get(k).unwrap_or(&end);
            let b = other.tokens.get(k).unwrap_or(&end);
            if a.kind != b.kind || a.kind == Kind3::End {
                if a.kind == b.kind {
                    return Ordering::Equal;
                }
                if a.kind == Kind3::Suffix && a.number < SUFFIX_NONE {
                    return Ordering::Less;
                }
                if b.kind == Kind3::Suffix && b.number < SUFFIX_NONE {
                    return Ordering::Greater;
                }
                return b.kind.cmp(&a.kind);
            }
            let o = match a.kind {
                Kind3::Digit if a.text.starts_with('0') || b.text.starts_with('0') => {
                    a.text.as_bytes().cmp(b.text.as_bytes())
                }
                Kind3::CommitHash => a.text.as_bytes().cmp(b.text.as_bytes()),
                _ => a.number.cmp(&b.number),
            };
            if o != Ordering::Equal {
                return o;
            }
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        ApkVersion::parse(a)
            .unwrap()
            .compare(&ApkVersion::parse(b).unwrap())
    }

    #[test]
    fn apk_examples() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0.1", Less),
            ("1.0_rc1", "1.0", Less),
            ("1.0_alpha", "1.0_beta", Less),
            ("1.0_p1", "1.0", Greater),
            ("1.0-r1", "1.0", Greater),
            ("1.0-r1", "1.0-r10", Less),
            ("1.01", "1.1", Less),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0b", Less),
            ("1.2.3_git20230101-r0", "1.2.3-r0", Greater),
            ("3.0.13-r0", "3.0.9-r3", Greater),
            ("1.0", "1.00", Greater),
            ("1.0_rc1", "1.00", Greater),
            ("1.01_rc1", "1.01", Less),
            ("1.010", "1.01", Greater),
            ("1.05", "1.5", Less),
            ("3.0", "3.", Greater),
            ("0.00.1", "0.0010", Less),
        ] {
            assert_eq!(cmp(a, b), want, "{a} vs {b}");
            assert_eq!(cmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn invalid() {
        // As `apk version -c` (apk-tools 2.14) judges them.
        for v in ["", "1.0_foo", "1.0-x1", "1.0_rc1a", "1.2.3_git1~abc"] {
            assert!(ApkVersion::parse(v).is_err(), "{v:?} accepted");
        }
    }
}
