//! SBOMs that pass the minimum-elements checks: the SPDX project's `ntia-conformance-checker`
//! (`sbomcheck`, installed from PyPI by scripts/install-deps.sh) on the SPDX documents of the
//! bookworm rootfs, the Alpine tree and an rpm-based tree (CBL-Mariner's real rpm database under
//! its os-release), written with `-o` under umask 022, in SPDX 2.3 and SPDX 3.0.1 (which alone can
//! state the SBOM type this checker looks for); CycloneDX documents with the same
//! suppliers and licences, valid against the official schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

/// An rpm-based tree: CBL-Mariner 2.0's rpm database (shared fixture) under its os-release.
fn mariner_tree(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("mariner");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
    std::fs::copy(
        shared().join("rpmdb/cbl-mariner-2.0/rpmdb.sqlite"),
        root.join("var/lib/rpm/rpmdb.sqlite"),
    )
    .unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "NAME=\"Common Base Linux Mariner\"\nVERSION=\"2.0.20220226\"\nID=mariner\nVERSION_ID=\"2.0\"\nPRETTY_NAME=\"CBL-Mariner/Linux\"\nBUG_REPORT_URL=\"https://aka.ms/cbl-mariner\"\n",
    )
    .unwrap();
    root
}

/// `imagewise sbom` to a file, run under umask 022.
fn sbom_file(image: &Path, format: &str, out: &Path) -> Value {
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022 && exec {} sbom --format {format} -o {} {}",
            env!("CARGO_BIN_EXE_imagewise"),
            s(out),
            s(image)
        ))
        .env("IMAGEWISE_NO_PROGRESS", "1")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "{}: a shared report honours the umask", s(out));
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

fn sbomcheck(spec: &str, standard: &str, file: &Path) -> Value {
    let out = Command::new("sbomcheck")
        .args(["-s", spec, "-c", standard, "-r", "json", s(file)])
        .output()
        .expect("sbomcheck (scripts/install-deps.sh installs ntia-conformance-checker)");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("sbomcheck: {e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn offenders(report: &Value, key: &str) -> BTreeSet<String> {
    report[key]["nonconformantComponents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| match c {
            Value::String(s) => s.clone(),
            other => other[0].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// The names of the SPDX packages whose `field` is NOASSERTION.
fn unasserted(doc: &Value, field: &str) -> BTreeSet<String> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[field] == "NOASSERTION")
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn spdx_sboms_meet_the_minimum_elements() {
    let t = tempfile::tempdir().unwrap();
    let bookworm = fixtures().join("bookworm-rootfs");
    let trees = [
        ("bookworm", bookworm.clone()),
        ("alpine", fixtures().join("alpine-rootfs")),
        ("mariner", mariner_tree(t.path())),
    ];
    for (label, tree) in &trees {
        let file = t.path().join(format!("{label}.spdx.json"));
        let doc = sbom_file(tree, "spdx-json", &file);

        // 2021 NTIA minimum elements: conformant, every package attached to the described image.
        let ntia = sbomcheck("spdx2", "ntia", &file);
        assert_eq!(ntia["isConformant"], true, "{label}: {ntia}");
        assert_eq!(
            ntia["graphValidation"]["floatingComponents"]["floatingComponentCount"], 0,
            "{label}"
        );
        assert_eq!(ntia["validationMessages"], serde_json::json!([]), "{label}");

        // 2024 CISA minimum expectation: every row but three holds for every component.
        let fsct = sbomcheck("spdx2", "fsct3-min", &file);
        for key in [
            "componentNames",
            "componentVersions",
            "componentIdentifiers",
            "componentSuppliers",
        ] {
            assert_eq!(
                fsct[key]["allProvided"], true,
                "{label} {key}: {}",
                fsct[key]
            );
        }
        for key in [
            "authorNameProvided",
            "timestampProvided",
            "dependencyRelationshipsProvided",
        ] {
            assert_eq!(fsct[key], true, "{label} {key}");
        }
        // (1) SBOM type: this checker reads it from SPDX 3 only (SPDX 2.3 has no field for it;
        // the creation comment says "analyzed"): the SPDX 3 document below states it.
        // (2, 3) A concluded licence and a copyright
        // text cannot be known where the package does not record one: the image and OS
        // elements, Debian packages whose copyright file is not machine-readable, apk and rpm
        // packages (neither database records copyright text), rpm licences that are not SPDX
        // expressions. The checker's own rule (NOASSERTION counts as missing) then decides, and
        // exactly those elements are the ones it names.
        assert_eq!(
            offenders(&fsct, "componentConcludedLicenses"),
            unasserted(&doc, "licenseConcluded"),
            "{label}"
        );
        assert_eq!(
            offenders(&fsct, "componentCopyrightTexts"),
            unasserted(&doc, "copyrightText"),
            "{label}"
        );
        let missing_licence = unasserted(&doc, "licenseConcluded");
        assert!(
            missing_licence.contains(tree.to_str().unwrap()),
            "the image element has no licence of its own"
        );
        if *label == "bookworm" {
            // Exactly the packages (and their sources) whose copyright file has no Format:
            // header, besides the image and the OS.
            let mut free: BTreeSet<String> = BTreeSet::new();
            for p in doc["packages"].as_array().unwrap() {
                let Some(src) = p["sourceInfo"].as_str() else {
                    continue;
                };
                if !src.starts_with("dpkg package") {
                    continue;
                }
                let name = p["name"].as_str().unwrap();
                let path = bookworm.join(format!("usr/share/doc/{name}/copyright"));
                let first = std::fs::read_to_string(&path).unwrap_or_default();
                if !first.starts_with("Format:") {
                    free.insert(name.to_string());
                }
            }
            let dpkg_missing: BTreeSet<String> = doc["packages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| {
                    p["sourceInfo"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("dpkg package"))
                })
                .filter(|p| p["licenseDeclared"] == "NOASSERTION")
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(dpkg_missing, free);
            assert!(
                free.len() < 20,
                "most bookworm packages have DEP-5 files: {free:?}"
            );
            // Licences from the DEP-5 files, as SPDX expressions.
            let declared: BTreeMap<&str, &str> = doc["packages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap(),
                        p["licenseDeclared"].as_str().unwrap(),
                    )
                })
                .collect();
            assert!(
                declared["bash"].starts_with("GPL-3.0-or-later AND"),
                "{}",
                declared["bash"]
            );
            assert!(declared["bash"].contains("GPL-3.0-or-later WITH Bison-exception-2.2"));
            assert!(declared["coreutils"].contains("GPL-3.0-or-later"));
        }
        spdx3_meets_the_same_elements_and_states_the_sbom_type(label, tree, &doc, t.path());
        // Every LicenseRef used is defined.
        let text = doc.to_string();
        let defined: BTreeSet<&str> = doc["hasExtractedLicensingInfos"]
            .as_array()
            .map(|a| a.iter().map(|e| e["licenseId"].as_str().unwrap()).collect())
            .unwrap_or_default();
        for r in text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
            .filter(|w| w.starts_with("LicenseRef-"))
        {
            assert!(defined.contains(r), "{label}: {r} not defined");
        }
    }
}

/// The SPDX 3.0.1 document of the same tree: valid against the official schema, conformant to
/// the NTIA minimum elements, and for the 2024 CISA minimum expectation every row holds, the SBOM
/// type included, except the concluded licence and copyright of exactly the elements the SPDX 2.3
/// document has no value for (nothing records one: see above).
fn spdx3_meets_the_same_elements_and_states_the_sbom_type(
    label: &str,
    tree: &Path,
    spdx2: &Value,
    dir: &Path,
) {
    let file = dir.join(format!("{label}.spdx3.json"));
    let doc = sbom_file(tree, "spdx3-json", &file);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/validate_sbom.py");
    sh(&format!(
        "python3 {} {} spdx3 {}",
        s(&script),
        s(&fixtures().join("sbom-schemas")),
        s(&file)
    ));
    let sbom = doc["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "software_Sbom")
        .unwrap();
    assert_eq!(sbom["software_sbomType"], serde_json::json!(["analyzed"]));
    // Every LicenseRef maps to a licensing text in the document.
    let graph = doc["@graph"].as_array().unwrap();
    for e in graph
        .iter()
        .filter(|e| e["type"] == "simplelicensing_LicenseExpression")
    {
        let expr = e["simplelicensing_licenseExpression"].as_str().unwrap();
        for r in expr
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .filter(|w| w.starts_with("LicenseRef-"))
        {
            let to = e["simplelicensing_customIdToUri"]
                .as_array()
                .and_then(|m| m.iter().find(|d| d["key"] == r))
                .unwrap_or_else(|| panic!("{label}: {r} in {expr} is not mapped"));
            assert!(graph.iter().any(|t| t["spdxId"] == to["value"]
                && t["type"] == "simplelicensing_SimpleLicensingText"));
        }
    }

    let ntia = sbomcheck("spdx3", "ntia", &file);
    assert_eq!(ntia["isConformant"], true, "{label} SPDX 3: {ntia}");
    assert_eq!(ntia["parsingError"], serde_json::json!([]), "{label}");
    let fsct = sbomcheck("spdx3", "fsct3-min", &file);
    assert_eq!(fsct["validationMessages"], serde_json::json!([]), "{label}");
    assert_eq!(
        fsct["conformanceMessages"],
        serde_json::json!([]),
        "{label}"
    );
    assert_eq!(
        fsct["graphValidation"]["floatingComponents"]["floatingComponentCount"], 0,
        "{label}"
    );
    assert_eq!(
        fsct["totalNumberComponents"].as_u64().unwrap() as usize,
        spdx2["packages"].as_array().unwrap().len(),
        "{label}: the same elements"
    );
    for key in [
        "componentNames",
        "componentVersions",
        "componentIdentifiers",
        "componentSuppliers",
    ] {
        assert_eq!(fsct[key]["allProvided"], true, "{label} SPDX 3 {key}");
    }
    for key in [
        "authorNameProvided",
        "timestampProvided",
        "dependencyRelationshipsProvided",
    ] {
        assert_eq!(fsct[key], true, "{label} SPDX 3 {key}");
    }
    // The JSON report has no row for the SBOM type: read the table (the command exits 1 for the
    // rows that fail, named above).
    let out = Command::new("sbomcheck")
        .args(["-s", "spdx3", "-c", "fsct3-min", s(&file)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("SBOM generation context") && l.trim_end().ends_with("True")),
        "{label}: {text}"
    );
    assert_eq!(
        offenders(&fsct, "componentConcludedLicenses"),
        unasserted(spdx2, "licenseConcluded"),
        "{label} SPDX 3"
    );
    assert_eq!(
        offenders(&fsct, "componentCopyrightTexts"),
        unasserted(spdx2, "copyrightText"),
        "{label} SPDX 3"
    );
}

#[test]
fn cyclonedx_carries_the_same_suppliers_and_licences() {
    let t = tempfile::tempdir().unwrap();
    let bookworm = fixtures().join("bookworm-rootfs");
    let spdx = sbom_file(&bookworm, "spdx-json", &t.path().join("b.spdx.json"));
    let cdx_file = t.path().join("b.cdx.json");
    let cdx = sbom_file(&bookworm, "cyclonedx-json", &cdx_file);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/validate_sbom.py");
    sh(&format!(
        "python3 {} {} cyclonedx {}",
        s(&script),
        s(&fixtures().join("sbom-schemas")),
        s(&cdx_file)
    ));
    assert_eq!(cdx["metadata"]["lifecycles"][0]["phase"], "post-build");
    assert!(cdx["metadata"]["component"]["version"]
        .as_str()
        .unwrap()
        .starts_with("tree:sha256:"));
    assert_eq!(
        cdx["metadata"]["component"]["version"],
        spdx["packages"][0]["versionInfo"]
    );
    // Per package (by purl): the supplier and the declared licence agree.
    let mut spdx_by_purl: BTreeMap<String, (String, String)> = BTreeMap::new();
    for p in spdx["packages"].as_array().unwrap() {
        let Some(purl) = p["externalRefs"][0]["referenceLocator"].as_str() else {
            continue;
        };
        spdx_by_purl.insert(
            purl.to_string(),
            (
                p["supplier"].as_str().unwrap_or("").to_string(),
                p["licenseDeclared"].as_str().unwrap_or("").to_string(),
            ),
        );
    }
    let mut compared = 0;
    for c in cdx["components"].as_array().unwrap() {
        let Some(purl) = c["purl"].as_str() else {
            continue;
        };
        let (supplier, licence) = &spdx_by_purl[purl];
        let name = c["supplier"]["name"].as_str().unwrap_or("");
        assert!(
            supplier.starts_with("Organization: ") && !name.is_empty(),
            "{purl}: {supplier} / {name}"
        );
        let cdx_licence = c["licenses"][0]["expression"]
            .as_str()
            .unwrap_or("NOASSERTION");
        assert_eq!(cdx_licence, licence, "{purl}");
        compared += 1;
    }
    assert!(compared > 80, "{compared}");
}

/// Application packages name their suppliers where their metadata does: Python's
/// `Maintainer-email`, npm's `author`, a JAR manifest's vendor (read back with `unzip -p`).
#[test]
fn application_packages_carry_the_suppliers_their_metadata_names() {
    let t = tempfile::tempdir().unwrap();
    let app = fixtures().join("app-rootfs");
    let doc = sbom_file(&app, "spdx-json", &t.path().join("app.spdx.json"));
    let supplier = |name: &str| -> String {
        doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in the SBOM"))["supplier"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        supplier("Flask"),
        "Organization: Pallets (contact@palletsprojects.com)"
    );
    let express =
        std::fs::read_to_string(app.join("srv/web/node_modules/express/package.json")).unwrap();
    let express: Value = serde_json::from_str(&express).unwrap();
    let author = express["author"].as_str().unwrap();
    assert_eq!(
        supplier("express"),
        format!(
            "Organization: {}",
            author.replace(" <", " (").replace('>', ")")
        )
    );
    let manifest = sh(&format!(
        "unzip -p {} META-INF/MANIFEST.MF",
        s(&app.join("usr/share/java/slf4j-api.jar"))
    ));
    let vendor = manifest
        .lines()
        .find_map(|l| l.strip_prefix("Bundle-Vendor:"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(
        supplier("org.slf4j:slf4j-api"),
        format!("Organization: {vendor}")
    );
}
