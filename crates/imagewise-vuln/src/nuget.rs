//! NuGet versions, ordered as NuGet's `VersionComparer.Default` orders them: SemVer 2.0 with
//! one to four numeric parts (`1.0 == 1.0.0 == 1.0.0.0`, a fourth part counts), pre-release
//! labels compared part by part (numeric parts as numbers and before words, words ignoring
//! case), build metadata ignored.
//!
//! No .NET runtime can be installed here to serve as an oracle, so the cases in the tests are
//! those NuGet.Client's own `VersionComparerTests` list, with NuGet's comparer as the reference.

use std::cmp::Ordering;

use crate::version::VersionError;

/// A parsed NuGet version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NugetVersion {
    parts: [u32; 4],
    labels: Vec<String>,
}

impl NugetVersion {
    pub fn parse(version: &str) -> Result<Self, VersionError> {
        let err = |why: &str| VersionError::new("nuget", version, why);
        let v = version.trim();
        let v = match v.split_once('+') {
            Some((_, "")) => return Err(err("empty build metadata after +")),
            Some((v, _)) => v,
            None => v,
        };
        let (core, label) = match v.split_once('-') {
            Some((c, l)) => (c, Some(l)),
            None => (v, None),
        };
        let nums: Vec<&str> = core.split('.').collect();
        if nums.is_empty() || nums.len() > 4 {
            return Err(err("not one to four dot-separated numbers"));
        }
        let mut parts = [0u32; 4];
        for (i, n) in nums.iter().enumerate() {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("version parts must be numbers"));
            }
            parts[i] = n
                .parse::<i32>()
                .ok()
                .and_then(|x| u32::try_from(x).ok())
                .ok_or_else(|| err("a version part is too large"))?;
        }
        let labels = match label {
            None => Vec::new(),
            Some(l) => {
                let ls: Vec<String> = l.split('.').map(str::to_string).collect();
                if ls.iter().any(|p| {
                    p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                }) {
                    return Err(err(
                        "release labels must be dot-separated letters, digits and -",
                    ));
                }
                ls
            }
        };
        Ok(NugetVersion { parts, labels })
    }

    pub fn compare(&self, other: &NugetVersion) -> Ordering {
        self.parts.cmp(&other.parts).then_with(|| {
            match (self.labels.is_empty(), other.labels.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.labels.iter().zip(&other.labels) {
                        let o = label_cmp(a, b);
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.labels.len().cmp(&other.labels.len())
                }
            }
        })
    }
}

/// One release-label part against another: numbers (as .NET's `int.TryParse` reads them)
/// numerically and before words; words ordinally, ignoring case.
fn label_cmp(a: &str, b: &str) -> Ordering {
    match (a.parse::<i32>(), b.parse::<i32>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .cmp(b.bytes().map(|c| c.to_ascii_uppercase())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        NugetVersion::parse(a)
            .unwrap()
            .compare(&NugetVersion::parse(b).unwrap())
    }

    #[test]
    fn nuget_client_comparer_cases() {
        // From NuGet.Client's VersionComparerTests (Default mode).
        for (a, b) in [
            ("1.0.0", "1.0.0"),
            ("1.0.0-BETA", "1.0.0-beta"),
            ("1.0.0-BETA+AA", "1.0.0-beta+aa"),
            ("1.0.0-BETA.X.y.5.77.0+AA", "1.0.0-beta.x.y.5.77.0+aa"),
            ("1.0", "1.0.0.0"),
            ("1.0+test", "1.0.0.0"),
            ("1.0.0.1-1.2.A", "1.0.0.1-1.2.a+A"),
        ] {
            assert_eq!(cmp(a, b), Equal, "{a} {b}");
        }
        for (a, b) in [
            ("1.0.0", "1.0.1"),
            ("1.0.0-BETA", "1.0.0"),
            ("1.0.0-alpha", "1.0.0-beta"),
            ("1.0.0-beta.1", "1.0.0-beta.2"),
            ("1.0.0-beta.9", "1.0.0-beta.10"),
            ("1.0.0-1", "1.0.0-a"),
            ("1.0.0-beta", "1.0.0-beta.1"),
            ("1.0.0", "1.0.0.1"),
            ("1.0.0.1-beta", "1.0.0.1"),
            ("2.0.0-rc.1", "2.0.0-RC.2"),
        ] {
            assert_eq!(cmp(a, b), Less, "{a} {b}");
            assert_eq!(cmp(b, a), Greater, "{b} {a}");
        }
        for bad in ["", "a.b", "1.2.3.4.5", "1.0-", "1.0-a..b", "1.0+", "-1.0"] {
            assert!(NugetVersion::parse(bad).is_err(), "{bad}");
        }
    }
}
