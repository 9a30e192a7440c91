//! Maven versions, ordered as Maven's `ComparableVersion` orders them (the order OSV's Maven
//! ranges are written in).
//!
//! A version is lower-cased and cut into items at `.`, at `-`, and where digits meet letters. A
//! `-` and a digit/letter change open a sub-list, which ranks below a number at the same place
//! (`1-1 < 1.1`) and above a qualifier (`1-1 > 1-sp`). Qualifiers rank `alpha < beta <
//! milestone < rc < snapshot < "" < sp < anything else (alphabetically)`; `a1`, `b1`, `m1` are
//! `alpha-1`, `beta-1`, `milestone-1`; `ga`, `final` and `release` are the empty qualifier and
//! `cr` is `rc`; a qualifier after a dot counts as one after a dash. Trailing zeros and empty
//! qualifiers are dropped (`1.0.0 == 1 == 1-ga`).
//!
//! Checked against Maven's own `ComparableVersion` (Debian's `libmaven3-core-java`, Maven 3.8)
//! by the vuln crate's integration tests. Digits are ASCII digits only: Java's
//! `Character.isDigit` also takes other scripts' digits, which no published version uses.

use std::cmp::Ordering;

use crate::version::VersionError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Decimal digits without leading zeros (`""` is zero), of any length.
    Int(String),
    /// A qualifier after aliasing.
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// The rank Maven gives a qualifier, as a string that compares the way Maven compares them:
/// known ones by their index, unknown ones after all of them, alphabetically.
fn rank(q: &str) -> String {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

/// The rank of the empty qualifier: what "no qualifier" compares as.
const RELEASE: &str = "5";

fn number(digits: &str) -> Item {
    Item::Int(digits.trim_start_matches('0').to_string())
}

fn qualifier(s: &str, followed_by_digit: bool) -> Item {
    let s = match s {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        s => s,
    };
    Item::Str(s.to_string())
}

fn item(is_digit: bool, s: &str) -> Item {
    if is_digit {
        number(s)
    } else {
        qualifier(s, false)
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(d) => d.is_empty(),
            Item::Str(s) => s.is_empty(),
            Item::List(l) => l.is_empty(),
        }
    }

    /// Compare with the item at the same place of the other version, or with nothing there.
    fn compare(&self, other: Option<&Item>) -> Ordering {
        use Item::*;
        match (self, other) {
            (Int(d), None) => {
                if d.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Str(s), None) => rank(s).as_str().cmp(RELEASE),
            // The whole list against nothing, not only its first item (MNG-6964).
            (List(l), None) => l
                .iter()
                .map(|i| i.compare(None))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal),
            (Int(a), Some(Int(b))) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Int(_), Some(_)) => Ordering::Greater,
            (Str(a), Some(Str(b))) => rank(a).cmp(&rank(b)),
            (Str(_), Some(_)) => Ordering::Less,
            (List(_), Some(Int(_))) => Ordering::Less,
            (List(_), Some(Str(_))) => Ordering::Greater,
            (List(a), Some(List(b))) => {
                for i in 0..a.len().max(b.len()) {
                    let r = match (a.get(i), b.get(i)) {
                        (Some(l), r) => l.compare(r),
                        (None, Some(r)) => r.compare(None).reverse(),
                        (None, None) => Ordering::Equal,
                    };
                    if r != Ordering::Equal {
                        return r;
                    }
                }
                Ordering::Equal
            }
        }
    }
}

/// Drop trailing null items (zeros, empty qualifiers, empty lists), looking past non-empty
/// sub-lists as Maven does.
fn normalize(items: &mut Vec<Item>) {
    let mut i = items.len();
    while i > 0 {
        i -= 1;
        if items[i].is_null() {
            items.remove(i);
        } else if !matches!(items[i], Item::List(_)) {
            break;
        }
    }
}

/// A parsed Maven version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MavenVersion(Item);

impl MavenVersion {
    pub fn parse(version: &str) -> Result<Self, VersionError> {
        if version.trim().is_empty() {
            return Err(VersionError::new("maven", version, "empty version"));
        }
        let v = version.to_lowercase();
        let s = v.as_bytes();
        // Every new sub-list is the last item of the list before it, so the nesting is a chain:
        // level k+1 is the last item of level k.
        let mut levels: Vec<Vec<Item>> = vec![Vec::new()];
        let mut is_digit = false;
        let mut start = 0usize;
        for (i, &c) in s.iter().enumerate() {
            let cur = levels.len() - 1;
            match c {
                b'.' | b'-' => {
                    let it = if i == start {
                        Item::Int(String::new())
                    } else {
                        item(is_digit, &v[start..i])
                    };
                    levels[cur].push(it);
                    start = i + 1;
                    if c == b'-' {
                        levels.push(Vec::new());
                    }
                }
                b'0'..=b'9' => {
                    if !is_digit && i > start {
                        // A qualifier after a dot counts as one after a dash (`1.0.0.X1 <
                        // 1.0.0-X2`): it opens a sub-list unless it is the list's first item.
                        let cur = if levels[cur].is_empty() {
                            cur
                        } else {
                            levels.push(Vec::new());
                            cur + 1
                        };
                        levels[cur].push(qualifier(&v[start..i], true));
                        start = i;
                        levels.push(Vec::new());
                    }
                    is_digit = true;
                }
                _ => {
                    if is_digit && i > start {
                        levels[cur].push(number(&v[start..i]));
                        start = i;
                        levels.push(Vec::new());
                    }
                    is_digit = false;
                }
            }
        }
        if s.len() > start {
            if !is_digit && !levels.last().expect("root level").is_empty() {
                levels.push(Vec::new());
            }
            let it = item(is_digit, &v[start..]);
            levels.last_mut().expect("root level").push(it);
        }
        while levels.len() > 1 {
            let mut inner = levels.pop().expect("more than one level");
            normalize(&mut inner);
            levels
                .last_mut()
                .expect("parent level")
                .push(Item::List(inner));
        }
        let mut root = levels.pop().expect("root level");
        normalize(&mut root);
        Ok(MavenVersion(Item::List(root)))
    }

    pub fn compare(&self, other: &MavenVersion) -> Ordering {
        self.0.compare(Some(&other.0))
    }

    /// Maven's canonical form (`1.0-GA` → `1`), for tests and messages.
    pub fn canonical(&self) -> String {
        fn write(items: &[Item], out: &mut String) {
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(if matches!(it, Item::List(_)) {
                        '-'
                    } else {
                        '.'
                    });
                }
                match it {
                    Item::Int(d) if d.is_empty() => out.push('0'),
                    Item::Int(d) | Item::Str(d) => out.push_str(d),
                    Item::List(l) => write(l, out),
                }
            }
        }
        let mut out = String::new();
        if let Item::List(l) = &self.0 {
            write(l, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        MavenVersion::parse(a)
            .unwrap()
            .compare(&MavenVersion::parse(b).unwrap())
    }

    #[test]
    fn the_documented_order() {
        // Maven's own ComparableVersionTest chain, in increasing order.
        let chain = [
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
        ];
        for w in chain.windows(2) {
            assert_eq!(cmp(w[0], w[1]), Ordering::Less, "{w:?}");
        }
        for (a, b) in [
            ("1", "1.0.0"),
            ("1-ga", "1"),
            ("1.0-final", "1"),
            ("1-cr", "1-rc"),
        ] {
            assert_eq!(cmp(a, b), Ordering::Equal, "{a} {b}");
        }
        assert_eq!(
            MavenVersion::parse("1.0-Alpha-1").unwrap().canonical(),
            "1-alpha-1"
        );
        assert!(MavenVersion::parse("").is_err());
    }
}
