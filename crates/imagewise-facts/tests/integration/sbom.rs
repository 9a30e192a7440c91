//! SBOMs validated against the official SPDX 2.3, SPDX 3.0.1 and CycloneDX 1.5 JSON schemas (from
//! PyPI's lib4sbom, fetched by scripts/fixtures.sh) with Python's jsonschema.

use std::collections::BTreeSet;
use std::process::Command;

use imagewise_facts::sbom;
use serde_json::Value;

use crate::support::{fixtures, inspect, scripts, shared};

fn validate(kind: &str, doc: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sbom.json");
    std::fs::write(&file, serde_json::to_vec(doc).unwrap()).unwrap();
    let out = Command::new("python3")
        .arg(scripts().join("validate_sbom.py"))
        .arg(fixtures().join("sbom-schemas"))
        .arg(kind)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{kind} SBOM is not valid:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sboms_validate_and_list_every_package_with_its_purl() {
    let fx = fixtures();
    for reference in [
        format!("oci:{}:latest", fx.join("bookworm-oci").display()),
        format!(
            "tar:{}",
            shared()
                .join("alpine/alpine-minirootfs-3.20.3-aarch64.tar.gz")
                .display()
        ),
        fx.join("scratch.tar").display().to_string(),
    ] {
        let f = inspect(&reference);
        let purls: BTreeSet<&str> = f.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls.len(),
            f.packages.len(),
            "{reference}: purls are unique"
        );

        let s = sbom::spdx(&f, "2026-11-23T10:00:00Z");
        validate("spdx", &s);
        let spdx_purls: BTreeSet<&str> = s["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["primaryPackagePurpose"] == "LIBRARY")
            .map(|p| p["externalRefs"][0]["referenceLocator"].as_str().unwrap())
            .collect();
        assert_eq!(spdx_purls, purls, "{reference}");

        let s3 = sbom::spdx3(&f, "2026-11-23T10:00:00Z");
        validate("spdx3", &s3);
        let spdx3_purls: BTreeSet<&str> = s3["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["software_primaryPurpose"] == "library")
            .map(|e| e["software_packageUrl"].as_str().unwrap())
            .collect();
        assert_eq!(spdx3_purls, purls, "{reference}");
        assert_eq!(s3, sbom::spdx3(&f, "2026-11-23T10:00:00Z"));

        let c = sbom::cyclonedx(&f, "2026-11-23T10:00:00Z");
        validate("cyclonedx", &c);
        let cdx_purls: BTreeSet<&str> = c["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["purl"].as_str())
            .collect();
        assert_eq!(cdx_purls, purls, "{reference}");
        // Same facts, same time: same document.
        assert_eq!(c, sbom::cyclonedx(&f, "2026-11-23T10:00:00Z"));
    }
}

#[test]
fn spdx_links_debian_binaries_to_their_source_packages() {
    let f = inspect(fixtures().join("bookworm-rootfs").to_str().unwrap());
    let s = sbom::spdx(&f, "2026-11-23T10:00:00Z");
    let by_id: std::collections::HashMap<&str, &Value> = s["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["SPDXID"].as_str().unwrap(), p))
        .collect();
    let mut checked = 0;
    for r in s["relationships"].as_array().unwrap() {
        if r["relationshipType"] != "GENERATED_FROM" {
            continue;
        }
        let bin = by_id[r["spdxElementId"].as_str().unwrap()];
        let src = by_id[r["relatedSpdxElement"].as_str().unwrap()];
        let p = f
            .packages
            .iter()
            .find(|p| p.purl == bin["externalRefs"][0]["referenceLocator"])
            .unwrap();
        assert_eq!(src["name"], p.source_name.as_str());
        assert_eq!(src["versionInfo"], p.source_version.as_str());
        checked += 1;
    }
    assert_eq!(
        checked,
        f.packages.len(),
        "every binary links to its source"
    );
    // SPDX 3 says it the other way round: each source package `generates` its binaries.
    let s3 = sbom::spdx3(&f, "2026-11-23T10:00:00Z");
    let graph = s3["@graph"].as_array().unwrap();
    let node = |id: &Value| graph.iter().find(|e| &e["spdxId"] == id).unwrap();
    let mut generated = 0;
    for r in graph
        .iter()
        .filter(|e| e["relationshipType"] == "generates")
    {
        let src = node(&r["from"]);
        assert_eq!(src["software_primaryPurpose"], "source");
        for bin in r["to"].as_array().unwrap() {
            let p = f
                .packages
                .iter()
                .find(|p| p.purl == node(bin)["software_packageUrl"])
                .unwrap();
            assert_eq!(src["name"], p.source_name.as_str());
            assert_eq!(src["software_packageVersion"], p.source_version.as_str());
            generated += 1;
        }
    }
    assert_eq!(generated, f.packages.len());
    let libc6 = f.packages.iter().find(|p| p.name == "libc6").unwrap();
    assert_eq!(libc6.source_name, "glibc");
}
