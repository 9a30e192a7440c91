//! yarn and pnpm lock files, read for projects with nothing installed beside them (as npm's
//! `package-lock.json` is): `yarn.lock` in yarn 1's own format and in yarn 2+'s YAML, and
//! `pnpm-lock.yaml` of lockfile versions 5, 6 and 9.
//!
//! These files are written by their package managers in a fixed layout: entries are the keys at
//! the first indentation level of known sections, and the fields wanted (`version`,
//! `resolution`, an importer's dependencies) sit at fixed indentations below them. They are
//! read line by line for just that, which also reads yarn 1's format (not YAML) the same way;
//! a general YAML parser would add a dependency without removing any of the interpretation
//! below (what a key means differs per format and version).

use std::collections::BTreeSet;

use crate::report::Package;

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(s)
}

/// `name@rest` → (name, rest), where a scoped name's own `@` is not the separator.
fn split_at_version(spec: &str) -> Option<(&str, &str)> {
    let at = spec.get(1..)?.find('@')? + 1;
    Some((&spec[..at], &spec[at + 1..]))
}

fn package(name: &str, version: &str, path: &str, direct: Option<bool>) -> Package {
    let mut p = super::npm::npm_package(name, version, path);
    p.dependency = direct.map(|d| if d { "direct" } else { "transitive" }.to_string());
    p
}

/// A `yarn.lock`: yarn 1's format (`# yarn lockfile v1`) or yarn 2+'s (`__metadata:`).
pub(crate) fn yarn(path: &str, text: &str, notes: &mut Vec<String>) -> Vec<Package> {
    if text.lines().any(|l| l.starts_with("__metadata:")) {
        yarn_berry(path, text)
    } else if text.contains("yarn lockfile v1") {
        yarn_classic(path, text)
    } else {
        notes.push(format!(
            "{path}: neither yarn 1's format nor yarn 2+'s; not read"
        ));
        Vec::new()
    }
}

/// yarn 1: `"name@range", "name@range2":` then `  version "1.2.3"`. An alias
/// (`alias@npm:real@range`) installs `real`. yarn 1's lock file does not say which packages
/// are direct dependencies.
fn yarn_classic(path: &str, text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if indent(line) == 0 {
            name = line.strip_suffix(':').and_then(|key| {
                let first = unquote(key.split(", ").next()?);
                let (n, range) = split_at_version(first)?;
                Some(
                    match range.strip_prefix("npm:").and_then(split_at_version) {
                        Some((real, _)) => real.to_string(),
                        None => n.to_string(),
                    },
                )
            });
        } else if indent(line) == 2 {
            if let (Some(n), Some(v)) = (&name, line.trim().strip_prefix("version ")) {
                out.push(package(n, unquote(v), path, None));
                name = None;
            }
        }
    }
    out
}

/// yarn 2+: `"name@npm:range":` then `  version: 1.2.3` and `  resolution: "name@npm:1.2.3"`;
/// the resolution names the package really installed (aliases resolve to it), and its protocol
/// says where from: `npm:` and `patch:` (a patched registry package) are packages, `workspace:`
/// the project itself, whose `dependencies:` are the direct ones: their descriptors
/// (`name@npm:range`) are among the keys of the entries they resolved to.
fn yarn_berry(path: &str, text: &str) -> Vec<Package> {
    struct Entry {
        keys: Vec<String>,
        version: Option<String>,
        resolution: Option<String>,
        deps: Vec<String>,
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut in_deps = false;
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        match indent(line) {
            0 => {
                in_deps = false;
                if line.starts_with("__metadata:") {
                    continue;
                }
                let keys = line.strip_suffix(':').unwrap_or(line);
                entries.push(Entry {
                    keys: keys.split(", ").map(|k| unquote(k).to_string()).collect(),
                    version: None,
                    resolution: None,
                    deps: Vec::new(),
                });
            }
            2 => {
                let Some(e) = entries.last_mut() else {
                    continue;
                };
                let t = line.trim();
                in_deps = t == "dependencies:";
                if let Some(v) = t.strip_prefix("version: ") {
                    e.version = Some(unquote(v).to_string());
                } else if let Some(r) = t.strip_prefix("resolution: ") {
                    e.resolution = Some(unquote(r).to_string());
                }
            }
            4 if in_deps => {
                if let (Some(e), Some((k, v))) = (entries.last_mut(), line.trim().split_once(": "))
                {
                    e.deps.push(format!("{}@{}", unquote(k), unquote(v)));
                }
            }
            _ => {}
        }
    }
    let mut direct: BTreeSet<String> = BTreeSet::new();
    let mut found: Vec<(String, String, Vec<String>)> = Vec::new();
    for e in &entries {
        let Some((name, rest)) = e.resolution.as_deref().and_then(split_at_version) else {
            continue;
        };
        match rest.split_once(':').map(|(p, _)| p) {
            Some("workspace") => direct.extend(e.deps.iter().cloned()),
            // A patched package is also listed as the registry package it patches: once.
            Some("npm" | "patch") => {
                if let Some(v) = &e.version {
                    match found.iter_mut().find(|(n, ver, _)| n == name && ver == v) {
                        Some(f) => f.2.extend(e.keys.iter().cloned()),
                        None => found.push((name.to_string(), v.clone(), e.keys.clone())),
                    }
                }
            }
            _ => {}
        }
    }
    found
        .into_iter()
        .map(|(n, v, keys)| {
            let d = keys.iter().any(|k| direct.contains(k));
            package(&n, &v, path, Some(d))
        })
        .collect()
}

/// `pnpm-lock.yaml`: the keys of `packages:` (`/name/1.2.3` in version 5, `/name@1.2.3` in 6,
/// `name@1.2.3` in 9; peer suffixes `_…` or `(…)` dropped), direct dependencies from
/// `importers:` (`dependencies:` at the top level in version 5) with their exact versions.
pub(crate) fn pnpm(path: &str, text: &str, notes: &mut Vec<String>) -> Vec<Package> {
    let version5 = text.lines().any(|l| {
        l.strip_prefix("lockfileVersion:")
            .is_some_and(|v| unquote(v).starts_with('5'))
    });
    let mut section = "";
    let mut direct_section = false;
    let mut direct_name: Option<String> = None;
    let mut direct: BTreeSet<(String, String)> = BTreeSet::new();
    let mut found: Vec<(String, String)> = Vec::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    // The package and version of a key or an importer's `version:` (`1.2.3(peer@1)`, or
    // `real@1.2.3` for an alias).
    let resolve = |name: &str, v: &str| -> (String, String) {
        let v = v.split('(').next().unwrap_or(v);
        match split_at_version(v) {
            Some((real, ver)) => (real.to_string(), ver.to_string()),
            None => (name.to_string(), v.to_string()),
        }
    };
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let depth = indent(line);
        let t = line.trim();
        if depth == 0 {
            section = t.strip_suffix(':').unwrap_or("");
            // A single project's lock file (version 5, and 6 without workspaces) keeps its
            // dependencies at the top level.
            direct_section = matches!(
                section,
                "dependencies" | "devDependencies" | "optionalDependencies"
            );
            continue;
        }
        match section {
            "packages" if depth == 2 => {
                let Some(key) = t.strip_suffix(':') else {
                    continue;
                };
                let key = unquote(key);
                let key = key.strip_prefix('/').unwrap_or(key);
                let nv = if version5 {
                    key.rsplit_once('/')
                        .map(|(n, v)| (n.to_string(), v.split('_').next().unwrap_or(v).to_string()))
                } else {
                    split_at_version(key)
                        .map(|(n, v)| (n.to_string(), v.split('(').next().unwrap_or(v).to_string()))
                };
                match nv {
                    Some((n, v))
                        if !v.is_empty()
                            && v.starts_with(|c: char| c.is_ascii_digit())
                            && seen.insert((n.clone(), v.clone())) =>
                    {
                        found.push((n, v));
                    }
                    Some(_) => {}
                    None => notes.push(format!("{path}: package key {key:?} not understood")),
                }
            }
            "importers" => match depth {
                2 => direct_section = false,
                4 => {
                    direct_section = matches!(
                        t,
                        "dependencies:" | "devDependencies:" | "optionalDependencies:"
                    );
                }
                6 if direct_section => {
                    direct_name = t.strip_suffix(':').map(|n| unquote(n).to_string())
                }
                8 if direct_section => {
                    if let (Some(n), Some(v)) = (&direct_name, t.strip_prefix("version: ")) {
                        direct.insert(resolve(n, unquote(v)));
                    }
                }
                _ => {}
            },
            // Version 5: `name: 1.2.3`; version 6: `name:` then `version: 1.2.3` below it.
            _ if direct_section && depth == 2 => match t.split_once(": ") {
                Some((n, v)) => {
                    direct.insert(resolve(unquote(n), unquote(v)));
                }
                None => direct_name = t.strip_suffix(':').map(|n| unquote(n).to_string()),
            },
            _ if direct_section && depth == 4 => {
                if let (Some(n), Some(v)) = (&direct_name, t.strip_prefix("version: ")) {
                    direct.insert(resolve(n, unquote(v)));
                }
            }
            _ => {}
        }
    }
    found
        .into_iter()
        .map(|(n, v)| {
            let d = direct.contains(&(n.clone(), v.clone()));
            package(&n, &v, path, Some(d))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nv(ps: &[Package]) -> Vec<(String, String, Option<String>)> {
        ps.iter()
            .map(|p| (p.name.clone(), p.version.clone(), p.dependency.clone()))
            .collect()
    }

    #[test]
    fn pnpm_v5_and_v6_keys() {
        let v5 = "lockfileVersion: 5.4\n\nspecifiers:\n  ms: 2.1.3\n\ndependencies:\n  ms: 2.1.3\n\npackages:\n\n  /ms/2.1.3:\n    resolution: {integrity: x}\n\n  /@babel/core/7.0.0_ms@2.1.3:\n    dev: false\n";
        let mut notes = vec![];
        assert_eq!(
            nv(&pnpm("/p/pnpm-lock.yaml", v5, &mut notes)),
            vec![
                ("ms".into(), "2.1.3".into(), Some("direct".into())),
                (
                    "@babel/core".into(),
                    "7.0.0".into(),
                    Some("transitive".into())
                ),
            ]
        );
        let v6 = "lockfileVersion: '6.0'\n\nimporters:\n\n  .:\n    dependencies:\n      '@babel/core':\n        specifier: ^7\n        version: 7.0.0(ms@2.1.3)\n\npackages:\n\n  /@babel/core@7.0.0(ms@2.1.3):\n    dev: false\n\n  /ms@2.1.3:\n    dev: false\n";
        assert_eq!(
            nv(&pnpm("/p/pnpm-lock.yaml", v6, &mut notes)),
            vec![
                ("@babel/core".into(), "7.0.0".into(), Some("direct".into())),
                ("ms".into(), "2.1.3".into(), Some("transitive".into())),
            ]
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn pnpm_v6_single_project_and_yarn_patches() {
        let v6 = "lockfileVersion: '6.0'\n\ndependencies:\n  ms:\n    specifier: 2.1.3\n    version: 2.1.3\n\npackages:\n\n  /ms@2.1.3:\n    dev: false\n\n  /ms@2.0.0:\n    dev: false\n";
        let mut notes = vec![];
        assert_eq!(
            nv(&pnpm("/p/pnpm-lock.yaml", v6, &mut notes)),
            vec![
                ("ms".into(), "2.1.3".into(), Some("direct".into())),
                ("ms".into(), "2.0.0".into(), Some("transitive".into())),
            ]
        );
        let berry = "__metadata:\n  version: 8\n\n\"resolve@npm:^1.22.8\":\n  version: 1.22.8\n  resolution: \"resolve@npm:1.22.8\"\n\n\"resolve@patch:resolve@npm%3A^1.22.8#optional!builtin<compat/resolve>\":\n  version: 1.22.8\n  resolution: \"resolve@patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>::version=1.22.8&hash=c3c19d\"\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"app@workspace:.\"\n  dependencies:\n    resolve: \"patch:resolve@npm%3A^1.22.8#optional!builtin<compat/resolve>\"\n";
        assert_eq!(
            nv(&yarn("/p/yarn.lock", berry, &mut notes)),
            vec![("resolve".into(), "1.22.8".into(), Some("direct".into()))]
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn yarn_classic_aliases_and_garbage() {
        let lock = "# yarn lockfile v1\n\n\n\"string-width-cjs@npm:string-width@^4.2.0\":\n  version \"4.2.3\"\n\n\"@babel/runtime@7.23.2\":\n  version \"7.23.2\"\n";
        let mut notes = vec![];
        assert_eq!(
            nv(&yarn("/p/yarn.lock", lock, &mut notes)),
            vec![
                ("string-width".into(), "4.2.3".into(), None),
                ("@babel/runtime".into(), "7.23.2".into(), None),
            ]
        );
        assert!(yarn("/p/yarn.lock", "{not a lock", &mut notes).is_empty());
        assert_eq!(notes.len(), 1);
    }
}
