//! Java archives (JAR, WAR, EAR) by their Maven coordinates: every
//! `META-INF/maven/GROUP/ARTIFACT/pom.properties` inside (a shaded JAR has several), else the
//! manifest's `Implementation-*` or OSGi `Bundle-*` headers; archives nested inside (Spring
//! Boot's `BOOT-INF/lib`, a WAR's `WEB-INF/lib`) are read too, bounded in depth and size. The
//! archive is read through the ZIP index, seeking where the image allows it.

use std::io::{Cursor, Read, Seek};

use imagewise_source::FileRead;

use super::Scanned;
use crate::report::{Ecosystem, Package};

const MAX_DEPTH: usize = 3;
/// A nested archive past this is not opened.
const MAX_NESTED: u64 = 256 << 20;
/// Bytes of nested archives read per top-level archive.
const MAX_NESTED_TOTAL: u64 = 1 << 30;
const MAX_ENTRIES: usize = 1 << 20;
const MAX_PROPERTIES: u64 = 1 << 20;

pub(crate) fn scan(path: &str, size: u64, r: &mut dyn FileRead, out: &mut Scanned) {
    let mut budget = MAX_NESTED_TOTAL;
    match r.seekable() {
        Some(s) => archive(path, s, 0, &mut budget, out),
        None => {
            let mut buf = Vec::with_capacity(size as usize);
            if let Err(e) = r.take(super::MAX_SCANNED).read_to_end(&mut buf) {
                out.notes.push(format!("{path}: {e}"));
                return;
            }
            archive(path, Cursor::new(buf), 0, &mut budget, out);
        }
    }
}

fn read_small<R: Read + Seek>(z: &mut zip::ZipArchive<R>, name: &str, max: u64) -> Option<String> {
    let f = z.by_name(name).ok()?;
    let mut s = String::new();
    f.take(max).read_to_string(&mut s).ok()?;
    Some(s)
}

/// `key=value` lines (Java properties, without escapes or continuations).
fn properties(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with(['#', '!']))
        .filter_map(|l| l.split_once(['=', ':']))
        .map(|(k, v)| (k.trim(), v.trim()))
}

/// The sections of a MANIFEST.MF (the main one first; 72-byte lines continued with a leading
/// space; sections apart by blank lines).
fn manifest(text: &str) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        if line.trim().is_empty() {
            if out.last().is_some_and(|s| !s.is_empty()) {
                out.push(Vec::new());
            }
            continue;
        }
        let section = out.last_mut().expect("one section at least");
        if let Some(rest) = line.strip_prefix(' ') {
            if let Some((_, v)) = section.last_mut() {
                v.push_str(rest);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            section.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// The vendor a manifest's main section names (`Implementation-Vendor`, `Bundle-Vendor`).
fn vendor(text: &str) -> Option<String> {
    let sections = manifest(text);
    ["Implementation-Vendor", "Bundle-Vendor"]
        .iter()
        .find_map(|k| {
            sections[0]
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty() && !v.contains("${") && !v.starts_with('%'))
        })
}

fn maven(group: &str, artifact: &str, version: &str, database: &str) -> Package {
    let name = if group.is_empty() {
        artifact.to_string()
    } else {
        format!("{group}:{artifact}")
    };
    super::package(
        Ecosystem::Maven,
        &name,
        version,
        super::purl("maven", Some(group), artifact, version),
        database,
    )
}

/// A Maven id a manifest may hold: no spaces, no unexpanded `${…}` or `%…` placeholders.
fn valid_id(s: &str) -> bool {
    !s.is_empty() && !s.contains(char::is_whitespace) && !s.contains("${") && !s.starts_with('%')
}

/// Coordinates from a manifest's main section, for an archive without `pom.properties`: the
/// artifact from the first valid of `Name`, `Implementation-Title`, `Specification-Title`,
/// `Bundle-Name`, else the last part of `Bundle-SymbolicName` or the file name; the group from
/// a valid `Bundle-SymbolicName`, `Extension-Name` or `Implementation-Vendor-Id`; the version from
/// `Implementation-Version`, `Bundle-Version` or `Specification-Version`. No version, no package.
pub(crate) fn from_manifest(text: &str, name: &str) -> Option<Package> {
    let sections = manifest(text);
    let lookup = |section: &[(String, String)], k: &str| -> Option<String> {
        section
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.split(';').next().unwrap_or(v).trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let version_of = |section: &[(String, String)]| {
        [
            "Implementation-Version",
            "Bundle-Version",
            "Specification-Version",
        ]
        .iter()
        .find_map(|k| lookup(section, k))
    };
    // The main section, else the first per-entry section that names a version (old manifests
    // describe their package there: `Name: org/apache/axis`).
    let (section, package_path) = match version_of(&sections[0]) {
        Some(_) => (sections[0].clone(), None),
        None => {
            let s = sections[1..].iter().find(|s| version_of(s).is_some())?;
            let path = lookup(s, "Name").filter(|n| n.contains('/'));
            (s.clone(), path)
        }
    };
    let get = |k: &str| lookup(&section, k).or_else(|| lookup(&sections[0], k));
    // "1.4 1855 April 22 2006": the version is the first word.
    let version = version_of(&section)?
        .split_whitespace()
        .next()
        .map(str::to_string)?;
    let symbolic = get("Bundle-SymbolicName").filter(|s| valid_id(s));
    let package = package_path.map(|p| p.trim_matches('/').replace('/', "."));
    let file = name.rsplit(['/', '!']).next().unwrap_or(name);
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s).to_string();
    let last = |s: &str| s.rsplit('.').next().unwrap_or(s).to_string();
    let artifact = match &package {
        Some(p) => last(p),
        None => [
            "Name",
            "Implementation-Title",
            "Specification-Title",
            "Bundle-Name",
        ]
        .iter()
        .filter_map(|k| get(k))
        .find(|v| valid_id(v))
        .or_else(|| symbolic.as_deref().map(last))
        .unwrap_or(stem),
    };
    let group = package
        .or(symbolic)
        .or(get("Extension-Name").filter(|s| valid_id(s)))
        .or(get("Implementation-Vendor-Id").filter(|s| valid_id(s)))
        .unwrap_or_default();
    Some(maven(&group, &artifact, &version, name))
}

fn archive<R: Read + Seek>(name: &str, r: R, depth: usize, budget: &mut u64, out: &mut Scanned) {
    let mut z = match zip::ZipArchive::new(r) {
        Ok(z) => z,
        Err(e) => {
            out.notes
                .push(format!("{name}: not a readable Java archive ({e})"));
            return;
        }
    };
    if z.len() > MAX_ENTRIES {
        out.notes
            .push(format!("{name}: {} entries, more than are read", z.len()));
        return;
    }
    let names: Vec<String> = z
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.to_string())
        .collect();
    let mut found = false;
    let first = out.packages.len();
    for n in names
        .iter()
        .filter(|n| n.starts_with("META-INF/maven/") && n.ends_with("/pom.properties"))
    {
        let Some(text) = read_small(&mut z, n, MAX_PROPERTIES) else {
            continue;
        };
        let (mut g, mut a, mut v) = ("", "", "");
        for (k, val) in properties(&text) {
            match k {
                "groupId" => g = val,
                "artifactId" => a = val,
                "version" => v = val,
                _ => {}
            }
        }
        if a.is_empty() || v.is_empty() {
            out.notes
                .push(format!("{name}!/{n}: no artifactId or version"));
            continue;
        }
        out.packages.push(maven(g, a, v, name));
        found = true;
    }
    let manifest_text = read_small(&mut z, "META-INF/MANIFEST.MF", MAX_PROPERTIES);
    if !found {
        if let Some(text) = &manifest_text {
            out.packages.extend(from_manifest(text, name));
        }
    }
    // The archive's vendor is the supplier of the one artifact it is; a fat JAR's shaded
    // dependencies are not the vendor's.
    let own: Vec<usize> = (first..out.packages.len()).collect();
    if let (Some(text), [only]) = (&manifest_text, own.as_slice()) {
        out.packages[*only].maintainer = vendor(text);
    }
    if depth + 1 >= MAX_DEPTH {
        return;
    }
    for n in names.iter().filter(|n| {
        let l = n.to_ascii_lowercase();
        [".jar", ".war", ".ear"].iter().any(|x| l.ends_with(x))
    }) {
        let inner = format!("{name}!/{n}");
        let Ok(f) = z.by_name(n) else {
            continue;
        };
        let size = f.size();
        if size > MAX_NESTED || size > *budget {
            out.notes.push(format!(
                "{inner}: {size} bytes, more than is read of nested archives"
            ));
            continue;
        }
        *budget -= size;
        let mut buf = Vec::with_capacity(size as usize);
        if let Err(e) = f.take(size).read_to_end(&mut buf) {
            out.notes.push(format!("{inner}: {e}"));
            continue;
        }
        archive(&inner, Cursor::new(buf), depth + 1, budget, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn jar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (n, data) in files {
            w.start_file(*n, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn coordinates_manifests_and_nesting() {
        let inner = jar(&[(
            "META-INF/maven/org.slf4j/slf4j-api/pom.properties",
            b"#c\ngroupId=org.slf4j\nartifactId=slf4j-api\nversion=2.0.9\n",
        )]);
        let plain = jar(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\nBundle-SymbolicName: com.example.thing;singleton:=true\nBundle-Version: 1.2.3\n",
        )]);
        let outer = jar(&[
            ("BOOT-INF/lib/slf4j-api-2.0.9.jar", &inner),
            ("BOOT-INF/lib/thing.jar", &plain),
            ("BOOT-INF/lib/broken.jar", b"not a zip"),
        ]);
        let mut out = Scanned::default();
        archive(
            "/app.jar",
            Cursor::new(outer),
            0,
            &mut MAX_NESTED_TOTAL.clone(),
            &mut out,
        );
        let mut got: Vec<(String, String, String)> = out
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone(), p.database.clone()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                (
                    "com.example.thing:thing".into(),
                    "1.2.3".into(),
                    "/app.jar!/BOOT-INF/lib/thing.jar".into()
                ),
                (
                    "org.slf4j:slf4j-api".into(),
                    "2.0.9".into(),
                    "/app.jar!/BOOT-INF/lib/slf4j-api-2.0.9.jar".into()
                ),
            ]
        );
        assert_eq!(
            out.packages
                .iter()
                .find(|p| p.name.starts_with("org"))
                .unwrap()
                .purl,
            "pkg:maven/org.slf4j/slf4j-api@2.0.9"
        );
        assert_eq!(out.notes.len(), 1, "{:?}", out.notes);
    }
}
