//! The ecosystems whose metadata is one small file: composer's `vendor/composer/installed.json`
//! (PHP; `composer.lock` where nothing is installed beside it), installed gem specifications
//! (Ruby), and `*.deps.json` (.NET).

use serde_json::Value;

use crate::report::{Ecosystem, Package};

/// composer 1 writes an array of packages, composer 2 `{"packages": [...]}`.
pub(crate) fn composer(path: &str, text: &str, notes: &mut Vec<String>) -> Vec<Package> {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            notes.push(format!("{path}: not JSON ({e})"));
            return Vec::new();
        }
    };
    // composer.lock keeps development packages apart, in `packages-dev`.
    let dev_list: Vec<Value> = v["packages-dev"].as_array().cloned().unwrap_or_default();
    let list = v["packages"].as_array().or(v.as_array());
    let Some(list) = list else {
        notes.push(format!("{path}: no package list"));
        return Vec::new();
    };
    let dev_names: Vec<String> = dev_list
        .iter()
        .filter_map(|e| e["name"].as_str().map(str::to_string))
        .collect();
    let list: Vec<&Value> = list.iter().chain(dev_list.iter()).collect();
    let mut dev: Vec<&str> = v["dev-package-names"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    dev.extend(dev_names.iter().map(String::as_str));
    let mut out = Vec::new();
    for e in list {
        let (Some(name), Some(version)) = (e["name"].as_str(), e["version"].as_str()) else {
            continue;
        };
        let (vendor, short) = name.split_once('/').unwrap_or(("", name));
        let mut p = super::package(
            Ecosystem::Composer,
            name,
            version,
            super::purl("composer", Some(vendor), short, version),
            path,
        );
        p.license = e["license"].as_array().map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" OR ")
        });
        p.summary = e["description"].as_str().map(str::to_string);
        if dev.contains(&name) {
            p.dependency = Some("dev".into());
        }
        out.push(p);
    }
    out
}

/// The first string literal after `key = ` in a gemspec line (`s.name = "rake".freeze`).
fn assigned<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let l = l.trim();
        let rest = l.strip_prefix("s.").or_else(|| l.strip_prefix("spec."))?;
        let rest = rest.strip_prefix(key)?.trim_start().strip_prefix('=')?;
        let start = rest.find('"')? + 1;
        let len = rest[start..].find('"')?;
        Some(&rest[start..start + len])
    })
}

/// An installed gem specification (the Ruby file `gem install` writes to `specifications/`).
pub(crate) fn gemspec(path: &str, text: &str, notes: &mut Vec<String>) -> Vec<Package> {
    let file = path
        .rsplit('/')
        .next()
        .unwrap_or(path)
        .trim_end_matches(".gemspec");
    // `name-version` from the file name when the text does not say.
    let from_file = file
        .rmatch_indices('-')
        .find(|(i, _)| file[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
        .map(|(i, _)| (&file[..i], &file[i + 1..]));
    let name = assigned(text, "name").or(from_file.map(|f| f.0));
    let version = assigned(text, "version").or(from_file.map(|f| f.1));
    let (Some(name), Some(version)) = (name, version) else {
        notes.push(format!("{path}: no gem name and version"));
        return Vec::new();
    };
    let mut p = super::package(
        Ecosystem::Gem,
        name,
        version,
        super::purl("gem", None, name, version),
        path,
    );
    p.license = text
        .lines()
        .find(|l| l.contains(".licenses = ") || l.contains(".license = "))
        .map(|l| {
            l.split('"')
                .skip(1)
                .step_by(2)
                .collect::<Vec<_>>()
                .join(" OR ")
        })
        .filter(|l| !l.is_empty());
    p.summary = assigned(text, "summary").map(str::to_string);
    vec![p]
}

/// A .NET application's `*.deps.json`: its `libraries` of type `package` (`Name/Version`).
pub(crate) fn deps_json(path: &str, text: &str, notes: &mut Vec<String>) -> Vec<Package> {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            notes.push(format!("{path}: not JSON ({e})"));
            return Vec::new();
        }
    };
    let Some(libs) = v["libraries"].as_object() else {
        notes.push(format!("{path}: no `libraries`; not a .NET deps file"));
        return Vec::new();
    };
    libs.iter()
        .filter(|(_, e)| e["type"].as_str() == Some("package"))
        .filter_map(|(k, _)| k.split_once('/'))
        .map(|(name, version)| {
            super::package(
                Ecosystem::Nuget,
                name,
                version,
                super::purl("nuget", None, name, version),
                path,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_small_formats() {
        let mut notes = Vec::new();
        let c = composer(
            "/app/vendor/composer/installed.json",
            r#"{"packages":[{"name":"monolog/monolog","version":"2.9.1","license":["MIT"]}],"dev-package-names":[]}"#,
            &mut notes,
        );
        assert_eq!(c[0].purl, "pkg:composer/monolog/monolog@2.9.1");
        let g = gemspec(
            "/usr/share/rubygems-integration/all/specifications/rake-13.0.6.gemspec",
            "Gem::Specification.new do |s|\n  s.name = \"rake\".freeze\n  s.version = \"13.0.6\"\n  s.licenses = [\"MIT\".freeze]\nend\n",
            &mut notes,
        );
        assert_eq!(
            (g[0].name.as_str(), g[0].version.as_str()),
            ("rake", "13.0.6")
        );
        assert_eq!(g[0].license.as_deref(), Some("MIT"));
        let g = gemspec("/x/specifications/net-ssh-7.0.1.gemspec", "", &mut notes);
        assert_eq!(
            (g[0].name.as_str(), g[0].version.as_str()),
            ("net-ssh", "7.0.1")
        );
        let d = deps_json(
            "/app/app.deps.json",
            r#"{"libraries":{"app/1.0.0":{"type":"project"},"Newtonsoft.Json/13.0.1":{"type":"package"}}}"#,
            &mut notes,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].purl, "pkg:nuget/Newtonsoft.Json@13.0.1");
        assert!(notes.is_empty(), "{notes:?}");
    }
}
