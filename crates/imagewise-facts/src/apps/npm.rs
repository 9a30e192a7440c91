//! npm packages: each installed package's own `package.json` at the root of its directory under
//! `node_modules` (nested and scoped, as `npm ls` walks them), direct or transitive by the
//! project's `package.json` beside its `node_modules`; and a `package-lock.json` (v1–v3) or
//! `npm-shrinkwrap.json` (which npm prefers) where nothing is installed beside it. VS Code
//! extensions and Unity packages, which use the same file name, are not npm packages.

use std::collections::BTreeSet;

use imagewise_source::ImageTree;
use serde_json::Value;

use crate::report::{Ecosystem, Package};

/// Whether `path` is `…/node_modules/NAME/package.json` or `…/node_modules/@SCOPE/NAME/package.json`.
pub(crate) fn is_package_root(path: &str) -> bool {
    let parts: Vec<&str> = path.rsplit('/').take(4).collect();
    match parts.as_slice() {
        ["package.json", name, "node_modules", ..] => !name.starts_with(['@', '.']),
        ["package.json", name, scope, "node_modules"] => {
            scope.starts_with('@') && !name.starts_with('.')
        }
        _ => false,
    }
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// Whether the directory holding `path` has a `node_modules` directory.
pub(crate) fn has_node_modules(tree: &ImageTree, path: &str) -> bool {
    tree.get(&format!("{}/node_modules", dir_of(path)))
        .is_some_and(|e| e.is_dir())
}

fn text_of(v: &Value, key: &str) -> Option<String> {
    match &v[key] {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o
            .get("type")
            .or_else(|| o.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

pub(crate) fn npm_package(name: &str, version: &str, database: &str) -> Package {
    let (ns, short) = match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => (Some(scope), n),
        _ => (None, name),
    };
    super::package(
        Ecosystem::Npm,
        name,
        version,
        super::purl("npm", ns, short, version),
        database,
    )
}

/// One installed package's `package.json`.
pub(crate) fn package(path: &str, text: &str, notes: &mut Vec<String>) -> Vec<Package> {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            notes.push(format!("{path}: not JSON ({e})"));
            return Vec::new();
        }
    };
    let (Some(name), Some(version)) = (v["name"].as_str(), v["version"].as_str()) else {
        // Some packages carry a package.json without name or version in a subdirectory.
        return Vec::new();
    };
    if name.is_empty() || version.is_empty() {
        return Vec::new();
    }
    // Editor extensions and Unity packages use the same file name for something else.
    if v["engines"]["vscode"].is_string() || v["contributes"].is_object() || v["unity"].is_string()
    {
        return Vec::new();
    }
    let mut p = npm_package(name, version, path);
    p.license = text_of(&v, "license").or_else(|| {
        v["licenses"].as_array().map(|l| {
            l.iter()
                .filter_map(|x| x["type"].as_str().or(x.as_str()))
                .collect::<Vec<_>>()
                .join(" OR ")
        })
    });
    // The author, else the first maintainer or contributor (a string or {name, email}).
    p.maintainer = text_of(&v, "author").or_else(|| {
        ["maintainers", "contributors"].iter().find_map(|k| {
            let first = v[*k].as_array()?.first()?;
            first
                .as_str()
                .or_else(|| first["name"].as_str())
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
        })
    });
    p.summary = v["description"].as_str().map(str::to_string);
    vec![p]
}

/// Mark the packages under each project's `node_modules` as direct (named in the project's
/// dependencies and installed at the top of its `node_modules`) or transitive.
pub(crate) fn mark_direct(
    packages: &mut [Package],
    projects: &[(String, String)],
    notes: &mut Vec<String>,
) {
    for (path, text) in projects {
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                notes.push(format!("{path}: not JSON ({e})"));
                continue;
            }
        };
        let direct: BTreeSet<&str> = [
            "dependencies",
            "devDependencies",
            "optionalDependencies",
            "peerDependencies",
        ]
        .iter()
        .filter_map(|k| v[*k].as_object())
        .flat_map(|o| o.keys().map(String::as_str))
        .collect();
        let prefix = format!("{}/node_modules/", dir_of(path));
        for p in packages
            .iter_mut()
            .filter(|p| p.ecosystem == Ecosystem::Npm)
        {
            let Some(rest) = p.database.strip_prefix(&prefix) else {
                continue;
            };
            // Only packages of this project, not of a nested project below it.
            let top = rest == format!("{}/package.json", p.name);
            if !top && p.dependency.is_some() {
                continue;
            }
            p.dependency = Some(
                if top && direct.contains(p.name.as_str()) {
                    "direct"
                } else {
                    "transitive"
                }
                .to_string(),
            );
        }
    }
}

/// The packages a `package-lock.json` records (for a project with nothing installed).
pub(crate) fn lock(path: &str, text: &str, notes: &mut Vec<String>) -> Vec<Package> {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            notes.push(format!("{path}: not JSON ({e})"));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    if let Some(packages) = v["packages"].as_object() {
        // v2/v3: one key per installed location.
        let direct: BTreeSet<&str> = ["dependencies", "devDependencies", "optionalDependencies"]
            .iter()
            .filter_map(|k| packages.get("").and_then(|r| r[*k].as_object()))
            .flat_map(|o| o.keys().map(String::as_str))
            .collect();
        for (loc, e) in packages {
            if loc.is_empty() || e["link"].as_bool() == Some(true) {
                continue;
            }
            // Installed under node_modules, or a local package (`file:` dependency) elsewhere in
            // the project.
            let (name_from_path, top) = match loc.rfind("node_modules/") {
                Some(at) => (&loc[at + "node_modules/".len()..], at == 0),
                None => (loc.rsplit('/').next().unwrap_or(loc), false),
            };
            let name = e["name"].as_str().unwrap_or(name_from_path);
            let Some(version) = e["version"].as_str() else {
                continue;
            };
            let mut p = npm_package(name, version, path);
            p.license = text_of(e, "license");
            p.dependency = Some(
                if top && direct.contains(name) {
                    "direct"
                } else {
                    "transitive"
                }
                .to_string(),
            );
            out.push(p);
        }
    } else if let Some(deps) = v["dependencies"].as_object() {
        // v1: a nested tree of dependencies.
        let mut stack: Vec<&serde_json::Map<String, Value>> = vec![deps];
        let mut steps = 0;
        while let Some(level) = stack.pop() {
            for (name, e) in level {
                steps += 1;
                if steps > 1_000_000 {
                    notes.push(format!(
                        "{path}: more than a million entries; the rest skipped"
                    ));
                    return out;
                }
                if let Some(version) = e["version"].as_str() {
                    // An alias (`"string-width-cjs": {"version": "npm:string-width@4.2.0"}`)
                    // installs the package it names.
                    let (name, version) = match version.strip_prefix("npm:") {
                        Some(target) => match target.rsplit_once('@') {
                            Some((n, v)) if !n.is_empty() => (n, v),
                            _ => (name.as_str(), version),
                        },
                        None => (name.as_str(), version),
                    };
                    out.push(npm_package(name, version, path));
                }
                if let Some(nested) = e["dependencies"].as_object() {
                    stack.push(nested);
                }
            }
        }
    } else {
        notes.push(format!(
            "{path}: neither `packages` nor `dependencies`; not an npm lock file"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_roots() {
        assert!(is_package_root("/app/node_modules/express/package.json"));
        assert!(is_package_root(
            "/app/node_modules/@types/node/package.json"
        ));
        assert!(is_package_root(
            "/app/node_modules/a/node_modules/b/package.json"
        ));
        assert!(!is_package_root("/app/node_modules/a/lib/package.json"));
        assert!(!is_package_root("/app/package.json"));
        assert!(!is_package_root("/app/node_modules/@types/package.json"));
    }

    #[test]
    fn scoped_purls_and_lock_files() {
        let mut notes = Vec::new();
        let p = &package(
            "/a/node_modules/@babel/core/package.json",
            r#"{"name":"@babel/core","version":"7.1.0","license":"MIT"}"#,
            &mut notes,
        )[0];
        assert_eq!(p.purl, "pkg:npm/%40babel/core@7.1.0");
        let lock3 = r#"{"lockfileVersion":3,"packages":{"":{"dependencies":{"a":"^1"}},
            "node_modules/a":{"version":"1.0.0"},"node_modules/b":{"version":"2.0.0"},
            "node_modules/a/node_modules/b":{"version":"1.5.0"},"packages/x":{"link":true}}}"#;
        let got = lock("/p/package-lock.json", lock3, &mut notes);
        let mut v: Vec<(String, String, Option<String>)> = got
            .into_iter()
            .map(|p| (p.name, p.version, p.dependency))
            .collect();
        v.sort();
        assert_eq!(
            v,
            [
                ("a".into(), "1.0.0".into(), Some("direct".into())),
                ("b".into(), "1.5.0".into(), Some("transitive".into())),
                ("b".into(), "2.0.0".into(), Some("transitive".into())),
            ]
        );
        assert!(notes.is_empty(), "{notes:?}");
    }
}
