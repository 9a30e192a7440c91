//! Software bills of materials from the facts: SPDX 2.3 JSON (spdx-spec `schemas/spdx-schema.json`)
//! and CycloneDX 1.5 JSON (`bom-1.5.schema.json`). Both list the image, its operating system
//! and every installed package with its purl; SPDX also lists Debian source packages and links
//! each binary to its source with `GENERATED_FROM`.
//!
//! The documents depend only on the facts and the `created` time given, so the same image and
//! time give the same bytes (the serial number and namespace are derived from both).

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::report::{Ecosystem, ImageFacts, Package};

const TOOL: &str = concat!("imagewise-", env!("CARGO_PKG_VERSION"));

/// A license expression SPDX accepts as written, else `None`.
fn spdx_license(l: &str) -> Option<String> {
    spdx::Expression::parse(l).ok().map(|_| l.to_string())
}

/// `SPDXRef-` ids allow only letters, digits, `.` and `-`.
fn spdx_id(prefix: &str, parts: &[&str], used: &mut HashSet<String>) -> String {
    let mut base = format!("SPDXRef-{prefix}");
    for p in parts {
        base.push('-');
        base.extend(p.chars().map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        }));
    }
    let mut id = base.clone();
    let mut n = 1;
    while !used.insert(id.clone()) {
        n += 1;
        id = format!("{base}-{n}");
    }
    id
}

/// A UUID (version 4 layout) from a hash of the document's identity, for reproducible output.
fn uuid_from(seed: &str) -> String {
    let mut b: [u8; 16] = Sha256::digest(seed.as_bytes())[..16]
        .try_into()
        .unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn seed(facts: &ImageFacts, created: &str) -> String {
    let mut s = format!("{}\n{created}\n", facts.image.reference);
    for p in &facts.packages {
        s.push_str(&p.purl);
        s.push('\n');
    }
    s
}

/// `Name <mail>` → `Name (mail)`, as SPDX writes actors.
fn actor(m: &str) -> String {
    match m.split_once('<') {
        Some((name, rest)) => format!("{} ({})", name.trim(), rest.trim_end_matches('>').trim()),
        None => m.trim().to_string(),
    }
}

fn image_name(facts: &ImageFacts) -> String {
    facts.image.reference.clone()
}

/// The source packages of the Debian binaries: (name, version) → purl.
fn debian_sources(facts: &ImageFacts) -> BTreeMap<(String, String), String> {
    let ns = facts.os.id.as_deref().unwrap_or("debian");
    let distro = facts.os.distro();
    facts
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Dpkg)
        .map(|p| {
            let mut q = vec![("arch", "source".to_string())];
            if let Some(d) = distro.qualifier() {
                q.push(("distro", d));
            }
            let purl = crate::packages::purl("deb", ns, &p.source_name, &p.source_version, &q);
            ((p.source_name.clone(), p.source_version.clone()), purl)
        })
        .collect()
}

/// An SPDX 2.3 JSON document.
pub fn spdx(facts: &ImageFacts, created: &str) -> Value {
    let mut used = HashSet::new();
    let name = image_name(facts);
    let image_id = spdx_id("Image", &[], &mut used);
    let mut packages = vec![json!({
        "SPDXID": image_id,
        "name": name,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "comment": format!("{} image, arch {}", facts.image.format, facts.arch.as_deref().unwrap_or("unknown")),
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": image_id,
    })];
    if let Some(id) = &facts.os.id {
        let os_id = spdx_id("OperatingSystem", &[id], &mut used);
        let mut os = json!({
            "SPDXID": os_id,
            "name": id,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "OPERATING_SYSTEM",
        });
        if let Some(v) = &facts.os.version_id {
            os["versionInfo"] = json!(v);
        }
        if let Some(p) = &facts.os.pretty_name {
            os["description"] = json!(p);
        }
        packages.push(os);
        relationships.push(json!({
            "spdxElementId": image_id,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": os_id,
        }));
    }
    let mut source_ids: BTreeMap<(String, String), String> = BTreeMap::new();
    for ((sname, sversion), purl) in debian_sources(facts) {
        let id = spdx_id("SourcePackage", &[&sname, &sversion], &mut used);
        packages.push(json!({
            "SPDXID": id,
            "name": sname,
            "versionInfo": sversion,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "SOURCE",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": purl,
            }],
        }));
        source_ids.insert((sname, sversion), id);
    }
    for p in &facts.packages {
        let id = spdx_id(
            "Package",
            &[
                p.ecosystem.as_str(),
                &p.name,
                p.arch.as_deref().unwrap_or(""),
            ],
            &mut used,
        );
        packages.push(spdx_package(p, &id));
        relationships.push(json!({
            "spdxElementId": image_id,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
        if let Some(src) = source_ids.get(&(p.source_name.clone(), p.source_version.clone())) {
            if p.ecosystem == Ecosystem::Dpkg {
                relationships.push(json!({
                    "spdxElementId": id,
                    "relationshipType": "GENERATED_FROM",
                    "relatedSpdxElement": src,
                }));
            }
        }
    }
    let uuid = uuid_from(&seed(facts, created));
    let safe_name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("https://imagewise.invalid/spdx/{safe_name}-{uuid}"),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: {TOOL}")],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

fn spdx_package(p: &Package, id: &str) -> Value {
    let mut v = json!({
        "SPDXID": id,
        "name": p.name,
        "versionInfo": p.version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "LIBRARY",
        "sourceInfo": if p.ecosystem.is_os() {
            format!("{} package from source {} {}", p.ecosystem.as_str(), p.source_name, p.source_version)
        } else {
            format!("{} package found at {}", p.ecosystem.as_str(), p.database)
        },
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": p.purl,
        }],
    });
    if let Some(l) = &p.license {
        match spdx_license(l) {
            Some(expr) => v["licenseDeclared"] = json!(expr),
            None => {
                v["licenseComments"] = json!(format!("license as recorded by the package: {l}"))
            }
        }
    }
    if let Some(m) = &p.maintainer {
        v["supplier"] = json!(format!("Organization: {}", actor(m)));
    }
    if let Some(s) = &p.summary {
        v["summary"] = json!(s);
    }
    v
}

/// A CycloneDX 1.5 JSON document.
pub fn cyclonedx(facts: &ImageFacts, created: &str) -> Value {
    let name = image_name(facts);
    let mut components = Vec::new();
    let mut refs = Vec::new();
    let mut used = HashSet::new();
    if let Some(id) = &facts.os.id {
        let mut os = json!({
            "type": "operating-system",
            "bom-ref": "os",
            "name": id,
        });
        if let Some(v) = &facts.os.version_id {
            os["version"] = json!(v);
        }
        if let Some(p) = &facts.os.pretty_name {
            os["description"] = json!(p);
        }
        components.push(os);
        refs.push("os".to_string());
    }
    for p in &facts.packages {
        let mut bom_ref = p.purl.clone();
        let mut n = 1;
        while !used.insert(bom_ref.clone()) {
            n += 1;
            bom_ref = format!("{}#{n}", p.purl);
        }
        let mut c = json!({
            "type": "library",
            "bom-ref": bom_ref,
            "name": p.name,
            "version": p.version,
            "purl": p.purl,
            "properties": [
                {"name": "imagewise:package:ecosystem", "value": p.ecosystem.as_str()},
                {"name": "imagewise:package:source_name", "value": p.source_name},
                {"name": "imagewise:package:source_version", "value": p.source_version},
                {"name": "imagewise:package:database", "value": p.database},
            ],
        });
        if !p.ecosystem.is_os() {
            // Where it was found: the metadata file, archive or program.
            c["evidence"] = json!({"occurrences": [{"location": p.database}]});
            if let Some(d) = &p.dependency {
                c["properties"]
                    .as_array_mut()
                    .expect("built above")
                    .push(json!({"name": "imagewise:package:dependency", "value": d}));
            }
        }
        if let Some(layer) = p.layer {
            c["properties"]
                .as_array_mut()
                .expect("built above")
                .push(json!({"name": "imagewise:package:layer", "value": layer.to_string()}));
        }
        if let Some(l) = &p.license {
            c["licenses"] = match spdx_license(l) {
                Some(expr) => json!([{"expression": expr}]),
                None => json!([{"license": {"name": l}}]),
            };
        }
        if let Some(m) = &p.maintainer {
            c["publisher"] = json!(m);
        }
        if let Some(s) = &p.summary {
            c["description"] = json!(s);
        }
        refs.push(bom_ref);
        components.push(c);
    }
    let mut image = json!({
        "type": "container",
        "bom-ref": "image",
        "name": name,
    });
    if let Some(d) = &facts.image.manifest_digest {
        image["version"] = json!(d);
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", uuid_from(&seed(facts, created))),
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "imagewise",
                    "version": env!("CARGO_PKG_VERSION"),
                }],
            },
            "component": image,
        },
        "components": components,
        "dependencies": [{"ref": "image", "dependsOn": refs}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_spdx_safe_and_unique() {
        let mut used = HashSet::new();
        let a = spdx_id("Package", &["dpkg", "libstdc++6", "amd64"], &mut used);
        let b = spdx_id("Package", &["dpkg", "libstdc++6", "amd64"], &mut used);
        assert_eq!(a, "SPDXRef-Package-dpkg-libstdc--6-amd64");
        assert_eq!(b, "SPDXRef-Package-dpkg-libstdc--6-amd64-2");
    }

    #[test]
    fn uuids_have_the_v4_layout() {
        let u = uuid_from("x");
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!("89ab".contains(&u[19..20]));
        assert_ne!(uuid_from("x"), uuid_from("y"));
    }

    #[test]
    fn licenses_and_actors() {
        assert_eq!(
            spdx_license("MIT OR Apache-2.0").as_deref(),
            Some("MIT OR Apache-2.0")
        );
        assert_eq!(spdx_license("GPLv2+"), None);
        assert_eq!(
            actor("Debian GLIBC <glibc@lists.debian.org>"),
            "Debian GLIBC (glibc@lists.debian.org)"
        );
    }
}
