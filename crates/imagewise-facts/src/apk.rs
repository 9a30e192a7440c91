//! apk's installed database `/lib/apk/db/installed` (older images: `/usr/lib/apk/db/installed`):
//! one-letter `X:value` lines, packages separated by blank lines. Letters from apk-tools'
//! `apk_db_parse_istream`/apk-spec: `P` name, `V` version, `A` arch, `o` origin, `L` license,
//! `I` installed size in bytes, `T` description, `m` maintainer.

use crate::packages::Distro;
use crate::report::{Ecosystem, Package};

pub(crate) fn parse(text: &str, database: &str, problems: &mut Vec<String>) -> Vec<Package> {
    let mut out = Vec::new();
    let mut rec: Vec<(char, &str)> = Vec::new();
    let mut index = 0;
    let mut flush = |rec: &mut Vec<(char, &str)>, out: &mut Vec<Package>, index: &mut usize| {
        if rec.is_empty() {
            return;
        }
        *index += 1;
        let get = |k: char| {
            rec.iter()
                .find(|(c, _)| *c == k)
                .map(|(_, v)| v.to_string())
        };
        match (get('P'), get('V')) {
            (Some(name), Some(version)) if !name.is_empty() && !version.is_empty() => {
                out.push(Package {
                    purl: String::new(),
                    ecosystem: Ecosystem::Apk,
                    source_name: get('o')
                        .filter(|o| !o.is_empty())
                        .unwrap_or_else(|| name.clone()),
                    source_version: version.clone(),
                    arch: get('A'),
                    epoch: None,
                    installed_size: get('I').and_then(|s| s.parse().ok()),
                    license: get('L').filter(|l| !l.is_empty()),
                    copyright: None,
                    maintainer: get('m'),
                    summary: get('T'),
                    database: database.to_string(),
                    layer: None,
                    dependency: None,
                    name,
                    version,
                });
            }
            _ => problems.push(format!("{database}: record {index} has no P: or V: line")),
        }
        rec.clear();
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut rec, &mut out, &mut index);
            continue;
        }
        let mut chars = line.chars();
        if let (Some(k), Some(':')) = (chars.next(), chars.next()) {
            rec.push((k, &line[2..]));
        }
    }
    flush(&mut rec, &mut out, &mut index);
    out
}

/// purl `pkg:apk/alpine/<name>@<version>?arch=…&distro=<version>` as syft writes it; the origin
/// goes in `upstream` when it differs.
pub(crate) fn purl(p: &Package, distro: &Distro) -> String {
    let ns = if distro.id.is_empty() {
        "alpine"
    } else {
        &distro.id
    };
    let mut q = Vec::new();
    if let Some(a) = &p.arch {
        q.push(("arch", a.clone()));
    }
    if let Some(v) = &distro.version_id {
        q.push(("distro", format!("{ns}-{v}")));
    }
    if p.source_name != p.name {
        q.push(("upstream", p.source_name.clone()));
    }
    crate::packages::purl("apk", ns, &p.name, &p.version, &q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_origins() {
        let text = "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nI:407468\nL:MIT\no:musl\n\n\
P:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\nL:Apache-2.0\nF:lib\nR:libcrypto.so.3\n\n\
V:1.0\n\n\n";
        let mut problems = Vec::new();
        let p = parse(text, "/lib/apk/db/installed", &mut problems);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].installed_size, Some(407468));
        assert_eq!(p[1].source_name, "openssl");
        assert_eq!(
            problems,
            ["/lib/apk/db/installed: record 3 has no P: or V: line"]
        );
    }
}
