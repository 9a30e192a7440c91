//! The distribution's identity: `os-release(5)` (`/etc/os-release`, else `/usr/lib/os-release`),
//! and the older files for images without one (`/etc/alpine-release`, `/etc/debian_version`,
//! `/etc/redhat-release` and its siblings).

use std::collections::BTreeMap;

use crate::files::{Files, Wants};
use crate::report::Os;

const MAX: u64 = 64 << 10;
const RELEASE_FILES: [&str; 7] = [
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/alpine-release",
    "/etc/debian_version",
    "/etc/redhat-release",
    "/etc/centos-release",
    "/etc/system-release",
];

pub(crate) fn want(w: &mut Wants) {
    for f in RELEASE_FILES {
        w.whole(f, MAX);
    }
}

pub(crate) fn read(files: &Files) -> Os {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Some(text) = files.text(path) {
            let release = parse(&text);
            if release.is_empty() {
                continue;
            }
            let get = |k: &str| release.get(k).filter(|v| !v.is_empty()).cloned();
            return Os {
                id: get("ID").map(|s| s.to_ascii_lowercase()),
                id_like: get("ID_LIKE")
                    .map(|s| s.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
                name: get("NAME"),
                version_id: get("VERSION_ID"),
                version_codename: get("VERSION_CODENAME"),
                pretty_name: get("PRETTY_NAME"),
                source: Some(path.to_string()),
                support: None,
                release,
            };
        }
    }
    if let Some(v) = files.text("/etc/alpine-release") {
        let v = v.trim().to_string();
        return Os {
            id: Some("alpine".into()),
            name: Some("Alpine Linux".into()),
            pretty_name: Some(format!("Alpine Linux v{v}")),
            version_id: Some(v),
            source: Some("/etc/alpine-release".into()),
            ..Os::default()
        };
    }
    for path in [
        "/etc/redhat-release",
        "/etc/centos-release",
        "/etc/system-release",
    ] {
        if let Some(line) = files.text(path) {
            if let Some(os) = from_redhat_release(line.trim(), path) {
                return os;
            }
        }
    }
    if let Some(v) = files.text("/etc/debian_version") {
        let v = v.trim().to_string();
        // `12.8`, or `trixie/sid` on testing.
        let major = v
            .split(['.', '/'])
            .next()
            .filter(|m| m.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_string);
        return Os {
            id: Some("debian".into()),
            name: Some("Debian GNU/Linux".into()),
            pretty_name: Some(format!("Debian GNU/Linux {v}")),
            version_id: major,
            version_codename: v
                .split('/')
                .next()
                .filter(|c| !c.starts_with(|ch: char| ch.is_ascii_digit()))
                .map(str::to_string),
            source: Some("/etc/debian_version".into()),
            ..Os::default()
        };
    }
    Os::default()
}

/// `Rocky Linux release 9.3 (Blue Onyx)` → id `rocky`, version `9.3`.
fn from_redhat_release(line: &str, path: &str) -> Option<Os> {
    let (name, rest) = line.split_once(" release ")?;
    let version = rest.split_whitespace().next()?.to_string();
    let lower = name.to_ascii_lowercase();
    let id = [
        ("red hat", "rhel"),
        ("centos", "centos"),
        ("rocky", "rocky"),
        ("alma", "almalinux"),
        ("fedora", "fedora"),
        ("oracle", "ol"),
        ("amazon", "amzn"),
    ]
    .iter()
    .find(|(needle, _)| lower.contains(needle))
    .map(|(_, id)| id.to_string())
    .unwrap_or_else(|| lower.split_whitespace().next().unwrap_or("").to_string());
    Some(Os {
        id: Some(id),
        id_like: Vec::new(),
        name: Some(name.to_string()),
        version_id: Some(version),
        pretty_name: Some(line.to_string()),
        source: Some(path.to_string()),
        ..Os::default()
    })
}

/// Parse os-release: `KEY=value` lines, values optionally in single or double quotes with shell
/// backslash escapes inside double quotes; comments and blank lines ignored.
pub(crate) fn parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        out.insert(k.to_string(), unquote(v.trim()));
    }
    out
}

fn unquote(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return inner.to_string();
    }
    if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_quoting() {
        let m = parse(
            "# comment\nID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME='Debian'\n\
             VERSION=\"say \\\"hi\\\"\"\nnot a line\n=x\nBAD KEY=1\n",
        );
        assert_eq!(m["ID"], "debian");
        assert_eq!(m["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(m["NAME"], "Debian");
        assert_eq!(m["VERSION"], "say \"hi\"");
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn redhat_release_lines() {
        let os = from_redhat_release("Rocky Linux release 9.3 (Blue Onyx)", "/etc/redhat-release")
            .unwrap();
        assert_eq!(os.id.as_deref(), Some("rocky"));
        assert_eq!(os.version_id.as_deref(), Some("9.3"));
        let os = from_redhat_release("CentOS Linux release 7.9.2009 (Core)", "x").unwrap();
        assert_eq!(os.id.as_deref(), Some("centos"));
        assert_eq!(os.version_id.as_deref(), Some("7.9.2009"));
        assert!(from_redhat_release("garbage", "x").is_none());
    }
}
