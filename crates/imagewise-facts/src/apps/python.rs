//! Installed Python distributions: the core metadata (`METADATA` of a `.dist-info`, `PKG-INFO`
//! of an `.egg-info` directory or of an unzipped `.egg`'s `EGG-INFO`, or an `.egg-info` file) in
//! RFC 822 header form, as `importlib.metadata` reads it (the first of a repeated header wins). Names are given as the metadata spells them; the purl uses the
//! PEP 503 normalised name, as the purl spec asks for pypi.

use crate::report::{Ecosystem, Package};

/// PEP 503: runs of `-`, `_` and `.` become one `-`, lower case.
pub(crate) fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The headers of a core metadata file (up to the first blank line; continuation lines joined).
fn headers(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

pub(crate) fn parse(path: &str, text: &str, notes: &mut Vec<String>) -> Vec<Package> {
    let h = headers(text);
    let get = |k: &str| {
        h.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let (Some(name), Some(version)) = (get("Name"), get("Version")) else {
        notes.push(format!(
            "{path}: no Name and Version; not a Python distribution's metadata"
        ));
        return Vec::new();
    };
    if name.is_empty() || version.is_empty() {
        notes.push(format!("{path}: empty Name or Version"));
        return Vec::new();
    }
    let mut p = super::package(
        Ecosystem::Pypi,
        name,
        version,
        super::purl("pypi", None, &normalise(name), version),
        path,
    );
    // License-Expression (core metadata 2.4), else a one-line License, else the classifiers.
    let classifiers: Vec<&str> = h
        .iter()
        .filter(|(k, v)| k.eq_ignore_ascii_case("Classifier") && v.starts_with("License ::"))
        .filter_map(|(_, v)| v.rsplit(" :: ").next())
        .collect();
    p.license = get("License-Expression")
        .map(str::to_string)
        .or_else(|| {
            get("License")
                .filter(|l| !l.is_empty() && !l.contains('\n') && l.len() <= 100 && *l != "UNKNOWN")
                .map(str::to_string)
        })
        .or_else(|| (!classifiers.is_empty()).then(|| classifiers.join(" AND ")));
    // Core metadata 2.1+ often names people only in the `-email` fields (`Pallets
    // <contact@palletsprojects.com>`).
    p.maintainer = ["Maintainer", "Author", "Maintainer-email", "Author-email"]
        .iter()
        .filter_map(|k| get(k))
        .find(|a| !a.is_empty() && *a != "UNKNOWN")
        .map(str::to_string);
    p.summary = get("Summary")
        .filter(|s| !s.is_empty() && *s != "UNKNOWN")
        .map(str::to_string);
    vec![p]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep_503_names() {
        for (raw, want) in [
            ("Flask", "flask"),
            ("zope.interface", "zope-interface"),
            ("typing_extensions", "typing-extensions"),
            ("Foo__Bar-.baz", "foo-bar-baz"),
        ] {
            assert_eq!(normalise(raw), want);
        }
    }

    #[test]
    fn metadata_headers() {
        let text = "Metadata-Version: 2.1\nName: Jinja2\nVersion: 3.1.2\nSummary: A template engine\nLicense: BSD-3-Clause\nClassifier: License :: OSI Approved :: BSD License\nAuthor: Armin\n\nbody: not a header\n";
        let mut notes = Vec::new();
        let p = &parse("/x/Jinja2-3.1.2.dist-info/METADATA", text, &mut notes)[0];
        assert_eq!((p.name.as_str(), p.version.as_str()), ("Jinja2", "3.1.2"));
        assert_eq!(p.purl, "pkg:pypi/jinja2@3.1.2");
        assert_eq!(p.license.as_deref(), Some("BSD-3-Clause"));
        assert!(notes.is_empty());
        assert!(parse("/x/METADATA", "garbage", &mut notes).is_empty());
        assert_eq!(notes.len(), 1);
    }
}
