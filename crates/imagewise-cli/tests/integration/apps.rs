//! Application packages against the package managers' own accounts, on the app fixture
//! (scripts/fixtures.sh: bookworm + Debian's python3 and Java libraries and skopeo, a virtualenv
//! installed by pip, an npm project, a cargo-auditable program):
//! - Python: `importlib.metadata` of the system interpreter and of the virtualenv, run inside
//!   the tree (chroot);
//! - npm: `npm ls --all --json` of the project;
//! - Java: `unzip -p` of every JAR's `pom.properties`, and a fat JAR made here;
//! - Go: `go version -m` of skopeo;
//! - Rust: `rust-audit-info` of the cargo-auditable program.
//!
//! Each inventory equals its oracle's (name, version) set exactly; the SBOMs carry the packages
//! and stay valid against the official schemas.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

type Set = BTreeSet<(String, String)>;

fn app() -> std::path::PathBuf {
    fixtures().join("app-rootfs")
}

fn facts_of(reference: &str) -> Value {
    serde_json::from_slice(&ok(&["inspect", "--json", reference])).unwrap()
}

/// (name, version) of the packages of `ecosystem` found in files under `prefix`.
fn found(facts: &Value, ecosystem: &str, prefix: &str) -> Set {
    facts["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ecosystem"] == ecosystem)
        .filter(|p| p["database"].as_str().unwrap().starts_with(prefix))
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn python_oracle(root: &Path, python: &str) -> Set {
    let out = sh(&format!(
        "chroot {} {python} -B -c 'import importlib.metadata as m, json; print(json.dumps([[d.metadata[\"Name\"], d.version] for d in m.distributions()]))'",
        s(root)
    ));
    let v: Vec<(String, String)> = serde_json::from_str(out.trim()).unwrap();
    v.into_iter().collect()
}

#[test]
fn python_distributions_are_what_importlib_metadata_finds() {
    let root = app();
    let f = facts_of(&format!("dir:{}", s(&root)));
    let system = python_oracle(&root, "python3");
    assert!(
        system.iter().any(|(n, _)| n == "requests"),
        "Debian's python3-requests: {system:?}"
    );
    let mine: Set = found(&f, "pypi", "/usr/lib/python3/")
        .union(&found(&f, "pypi", "/usr/local/lib/python3"))
        .cloned()
        .collect();
    assert_eq!(mine, system, "the system interpreter");
    let venv = python_oracle(&root, "/opt/venv/bin/python");
    assert!(venv.contains(&("Flask".into(), "2.3.3".into())), "{venv:?}");
    assert!(venv.iter().any(|(n, _)| n == "zope.interface"), "{venv:?}");
    assert_eq!(found(&f, "pypi", "/opt/venv/"), venv, "the virtualenv");
    // purls use the PEP 503 name.
    let zope = f["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "zope.interface")
        .unwrap();
    assert_eq!(zope["purl"], "pkg:pypi/zope-interface@6.1");
}

/// Every (name, version) of an `npm ls --json` tree.
fn npm_tree(v: &Value, out: &mut Set) {
    if let Some(deps) = v["dependencies"].as_object() {
        for (name, d) in deps {
            if let Some(version) = d["version"].as_str() {
                out.insert((name.clone(), version.to_string()));
            }
            npm_tree(d, out);
        }
    }
}

#[test]
fn npm_packages_are_what_npm_ls_lists() {
    let root = app();
    let web = root.join("srv/web");
    let out = Command::new("npm")
        .args(["ls", "--all", "--json"])
        .current_dir(&web)
        .output()
        .unwrap();
    let tree: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut want = Set::new();
    npm_tree(&tree, &mut want);
    assert!(want.len() > 50, "express pulls in many: {}", want.len());
    let f = facts_of(&format!("dir:{}", s(&root)));
    assert_eq!(found(&f, "npm", "/srv/web/"), want);
    // Direct and transitive, from the project's package.json; a nested copy of ms under debug.
    let pkgs = f["packages"].as_array().unwrap();
    let at = |path: &str| {
        pkgs.iter()
            .find(|p| p["database"] == path)
            .unwrap_or_else(|| panic!("nothing from {path}"))
    };
    assert_eq!(
        at("/srv/web/node_modules/express/package.json")["dependency"],
        "direct"
    );
    assert_eq!(
        at("/srv/web/node_modules/@babel/runtime/package.json")["purl"],
        "pkg:npm/%40babel/runtime@7.23.2"
    );
    let nested = at("/srv/web/node_modules/debug/node_modules/ms/package.json");
    assert_eq!(nested["version"], "2.0.0");
    assert_eq!(nested["dependency"], "transitive");
    assert_eq!(
        at("/srv/web/node_modules/ms/package.json")["version"],
        "2.1.3"
    );
}

/// The Maven coordinates `unzip -p` finds in a JAR.
fn pom_properties(jar: &Path) -> Set {
    let out = Command::new("unzip")
        .args(["-p"])
        .arg(jar)
        .arg("META-INF/maven/*/*/pom.properties")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut set = Set::new();
    let (mut g, mut a) = (String::new(), String::new());
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("groupId=") {
            g = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("artifactId=") {
            a = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("version=") {
            set.insert((format!("{g}:{a}"), v.trim().to_string()));
        }
    }
    set
}

#[test]
fn jars_are_what_their_pom_properties_say() {
    let root = app();
    let f = facts_of(&format!("dir:{}", s(&root)));
    let mut jars = 0;
    for entry in std::fs::read_dir(root.join("usr/share/java")).unwrap() {
        let p = entry.unwrap().path();
        if p.is_symlink() || p.extension().is_none_or(|x| x != "jar") {
            continue;
        }
        let want = pom_properties(&p);
        if want.is_empty() {
            continue;
        }
        let inside = format!(
            "/usr/share/java/{}",
            p.file_name().unwrap().to_str().unwrap()
        );
        assert_eq!(found(&f, "maven", &inside), want, "{inside}");
        jars += 1;
    }
    assert!(jars >= 2, "Debian's commons-lang3 and slf4j jars: {jars}");

    // A fat JAR made here: the Debian JARs inside BOOT-INF/lib, its own coordinates on top.
    let t = tempfile::tempdir().unwrap();
    let build = t.path().join("build");
    std::fs::create_dir_all(build.join("BOOT-INF/lib")).unwrap();
    std::fs::create_dir_all(build.join("META-INF/maven/com.example/app")).unwrap();
    std::fs::write(
        build.join("META-INF/maven/com.example/app/pom.properties"),
        "groupId=com.example\nartifactId=app\nversion=1.0.0\n",
    )
    .unwrap();
    let mut want = Set::from([("com.example:app".to_string(), "1.0.0".to_string())]);
    for name in ["commons-lang3.jar", "slf4j-api.jar"] {
        let src = root.join("usr/share/java").join(name);
        std::fs::copy(&src, build.join("BOOT-INF/lib").join(name)).unwrap();
        want.extend(pom_properties(&src));
    }
    let image = t.path().join("image");
    std::fs::create_dir_all(image.join("srv")).unwrap();
    sh(&format!(
        "cd {} && zip -q -r {} .",
        s(&build),
        s(&image.join("srv/app.jar"))
    ));
    let f = facts_of(&format!("dir:{}", s(&image)));
    assert_eq!(found(&f, "maven", "/srv/app.jar"), want);
    let nested = f["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "org.apache.commons:commons-lang3")
        .unwrap();
    assert_eq!(
        nested["database"],
        "/srv/app.jar!/BOOT-INF/lib/commons-lang3.jar"
    );
}

/// `go version -m` of a program: its Go version and the modules built in (replacements by a
/// module, not by a local directory, stand for what they replace).
fn go_version_m(program: &Path) -> (String, Set) {
    let out = sh(&format!("go version -m {}", s(program)));
    let mut modules = Set::new();
    let mut go = String::new();
    let mut last: Option<(String, String)> = None;
    for (i, line) in out.lines().enumerate() {
        if i == 0 {
            go = line.rsplit(": go").next().unwrap().trim().to_string();
            continue;
        }
        match line.trim_start().split('\t').collect::<Vec<_>>().as_slice() {
            ["mod", m, v, ..] | ["dep", m, v, ..] => {
                modules.extend(last.take());
                last = Some((m.to_string(), v.to_string()));
            }
            ["=>", m, v, ..] if !m.starts_with(['.', '/']) => {
                last = Some((m.to_string(), v.to_string()))
            }
            _ => {}
        }
    }
    modules.extend(last.take());
    (go, modules)
}

#[test]
fn go_modules_are_what_go_version_m_prints() {
    let root = app();
    let f = facts_of(&format!("dir:{}", s(&root)));
    // Debian's skopeo (built without module information: the standard library only) and a
    // module-mode program with vendored dependencies, one at a pseudo-version.
    for (program, at_least) in [("usr/bin/skopeo", 0), ("usr/local/bin/gomod", 3)] {
        let (go, want) = go_version_m(&root.join(program));
        assert!(want.len() >= at_least, "{program}: {want:?}");
        let mut mine = found(&f, "golang", &format!("/{program}"));
        assert!(
            mine.remove(&("stdlib".to_string(), go.clone())),
            "{program}: the standard library as Go {go}: {mine:?}"
        );
        assert_eq!(mine, want, "{program}");
    }
    let pseudo = f["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "example.org/pseudo")
        .unwrap();
    assert_eq!(
        pseudo["purl"],
        "pkg:golang/example.org/pseudo@v0.0.0-20230101000000-abcdef123456"
    );
}

#[test]
fn rust_crates_are_what_rust_audit_info_reads() {
    let root = app();
    let out = sh(&format!(
        "rust-audit-info {}",
        s(&root.join("usr/local/bin/audited"))
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    let want: Set = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(want.contains(&("itoa".into(), "1.0.9".into())), "{want:?}");
    let f = facts_of(&format!("dir:{}", s(&root)));
    assert_eq!(found(&f, "cargo", "/usr/local/bin/audited"), want);
}

#[test]
fn application_packages_are_in_valid_sboms() {
    let root = app();
    let reference = format!("dir:{}", s(&root));
    let f = facts_of(&reference);
    let purls: BTreeSet<String> = f["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !["dpkg"].contains(&p["ecosystem"].as_str().unwrap()))
        .map(|p| p["purl"].as_str().unwrap().to_string())
        .collect();
    for eco in [
        "pkg:pypi/",
        "pkg:npm/",
        "pkg:maven/",
        "pkg:golang/",
        "pkg:cargo/",
    ] {
        assert!(purls.iter().any(|p| p.starts_with(eco)), "{eco}");
    }
    let t = tempfile::tempdir().unwrap();
    for format in ["spdx", "cyclonedx"] {
        let file = t.path().join(format!("{format}.json"));
        ok(&[
            "sbom",
            "--format",
            &format!("{format}-json"),
            "-o",
            s(&file),
            &reference,
        ]);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/validate_sbom.py");
        sh(&format!(
            "python3 {} {} {format} {}",
            s(&script),
            s(&fixtures().join("sbom-schemas")),
            s(&file)
        ));
        let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let text = doc.to_string();
        for p in &purls {
            assert!(
                text.contains(&p.replace('/', "\\/")) || text.contains(p.as_str()),
                "{format}: {p}"
            );
        }
    }
}

/// One advisory in the OSV schema, shaped as osv.dev publishes them (schema_version, published,
/// aliases, a CVSS vector, the affected versions listed, database_specific), for `name` in
/// `ecosystem`.
fn advisory(id: &str, aliases: &[&str], ecosystem: &str, name: &str, range: Value) -> Value {
    serde_json::json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": "2024-05-06T14:10:12.345Z",
        "published": "2024-01-11T15:20:48Z",
        "aliases": aliases,
        "summary": format!("{name}: written for imagewise's test"),
        "details": "A record in the OSV schema; not a real advisory.",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"}],
        "affected": [{
            "package": {"ecosystem": ecosystem, "name": name},
            "ranges": [range],
            "database_specific": {"source": "test"}
        }],
        "references": [{"type": "ADVISORY", "url": format!("https://example.org/{id}")}],
        "database_specific": {"github_reviewed": true, "severity": "MODERATE"}
    })
}

fn range(kind: &str, introduced: &str, fixed: &str) -> Value {
    serde_json::json!({"type": kind, "events": [{"introduced": introduced}, {"fixed": fixed}]})
}

/// `scan` of the app fixture against advisories for its application packages. osv.dev's dumps
/// cannot be fetched here, so the records are written in the OSV schema for the packages the
/// fixture really holds. They exercise: a PyPI name that needs normalising (`jinja2` and
/// `Jinja2` against the installed `Jinja2`), a GHSA/PYSEC pair reported once, an npm package
/// affected only in its nested copy, a Maven artifact matched by group and artifact (an advisory
/// for the same artifact id in another group does not match), a Go module at a pseudo-version,
/// a crate inside a cargo-auditable program; and fixes at or below the installed version that
/// must not match. Every finding names the file its package was found in.
#[test]
fn scan_matches_application_advisories_to_the_files_they_come_from() {
    let t = tempfile::tempdir().unwrap();
    let recs = t.path().join("records");
    std::fs::create_dir_all(&recs).unwrap();
    let records = [
        advisory(
            "GHSA-test-jinja",
            &["PYSEC-TEST-1", "CVE-2099-22195"],
            "PyPI",
            "jinja2",
            range("ECOSYSTEM", "0", "3.1.3"),
        ),
        advisory(
            "PYSEC-TEST-1",
            &["GHSA-test-jinja", "CVE-2099-22195"],
            "PyPI",
            "Jinja2",
            range("ECOSYSTEM", "0", "3.1.3"),
        ),
        advisory(
            "GHSA-test-markupsafe",
            &[],
            "PyPI",
            "markupsafe",
            range("ECOSYSTEM", "0", "2.1.3"),
        ),
        advisory(
            "GHSA-test-ms",
            &[],
            "npm",
            "ms",
            range("SEMVER", "0", "2.0.1"),
        ),
        advisory(
            "GHSA-test-slf4j",
            &[],
            "Maven",
            "org.slf4j:slf4j-api",
            range("ECOSYSTEM", "1.7.0", "1.7.33"),
        ),
        advisory(
            "GHSA-test-other-group",
            &[],
            "Maven",
            "org.example:slf4j-api",
            range("ECOSYSTEM", "0", "99"),
        ),
        advisory(
            "GO-TEST-pseudo",
            &[],
            "Go",
            "example.org/pseudo",
            range("SEMVER", "0", "0.0.0-20240101000000-000000000000"),
        ),
        advisory(
            "GO-TEST-greet",
            &[],
            "Go",
            "example.org/greet",
            range("SEMVER", "0", "1.2.0"),
        ),
        advisory(
            "RUSTSEC-TEST-itoa",
            &[],
            "crates.io",
            "itoa",
            range("SEMVER", "1.0.0", "1.0.10"),
        ),
        // The OS packages' ecosystem is present, so the scan is complete.
        advisory(
            "DEBIAN-CVE-2099-0001",
            &[],
            "Debian:12",
            "no-such-package",
            range("ECOSYSTEM", "0", "1.0-1"),
        ),
    ];
    for r in &records {
        let path = recs.join(format!("{}.json", r["id"].as_str().unwrap()));
        std::fs::write(path, serde_json::to_vec_pretty(r).unwrap()).unwrap();
    }
    let db = t.path().join("db");
    ok(&["db", "import", "--db", s(&db), s(&recs)]);
    let out = imagewise(&["scan", "--json", "--db", s(&db), s(&app())]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["complete"], true, "{}", v["problems"]);
    let got: BTreeSet<(String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["package"].as_str().unwrap().to_string(),
                f["location"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = [
        (
            "GHSA-test-jinja",
            "Jinja2",
            "/opt/venv/lib/python3.11/site-packages/Jinja2-3.1.2.dist-info/METADATA",
        ),
        (
            "GHSA-test-ms",
            "ms",
            "/srv/web/node_modules/debug/node_modules/ms/package.json",
        ),
        (
            "GHSA-test-slf4j",
            "org.slf4j:slf4j-api",
            "/usr/share/java/slf4j-api.jar",
        ),
        (
            "GO-TEST-pseudo",
            "example.org/pseudo",
            "/usr/local/bin/gomod",
        ),
        ("RUSTSEC-TEST-itoa", "itoa", "/usr/local/bin/audited"),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want);
    let jinja = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "GHSA-test-jinja")
        .unwrap();
    assert_eq!(jinja["matched_name"], "jinja2", "PEP 503 name");
    assert_eq!(jinja["ecosystem"], "PyPI");
    assert_eq!(jinja["fixed_version"], "3.1.3");
    let aliases: BTreeSet<&str> = jinja["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        aliases,
        BTreeSet::from(["PYSEC-TEST-1", "CVE-2099-22195"]),
        "the GHSA/PYSEC pair once, every id listed"
    );
    let pseudo = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "GO-TEST-pseudo")
        .unwrap();
    assert_eq!(
        pseudo["installed_version"],
        "v0.0.0-20230101000000-abcdef123456"
    );
    assert_eq!(
        pseudo["matched_version"],
        "0.0.0-20230101000000-abcdef123456"
    );
    // An ignore rule naming an alias drops the merged finding.
    let rules = t.path().join("ignore");
    std::fs::write(&rules, "CVE-2099-22195 package=Jinja2\n").unwrap();
    let out = imagewise(&[
        "scan",
        "--json",
        "--db",
        s(&db),
        "--ignore",
        s(&rules),
        s(&app()),
    ]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        !v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "GHSA-test-jinja"),
        "{}",
        v["findings"]
    );
}

/// (name, version) of every package in `pnpm ls --json --depth Infinity` (an alias by the
/// package it installs, `from`).
fn pnpm_tree(v: &Value, out: &mut Set) {
    for key in ["dependencies", "devDependencies", "optionalDependencies"] {
        if let Some(deps) = v[key].as_object() {
            for (alias, d) in deps {
                let name = d["from"].as_str().unwrap_or(alias);
                out.insert((name.to_string(), d["version"].as_str().unwrap().to_string()));
                pnpm_tree(d, out);
            }
        }
    }
}

/// Projects with only a lock file (yarn 1, yarn 4, pnpm 9; scripts/fixtures.sh made them with
/// those package managers and saved their listings before removing `node_modules`): the
/// inventory equals each package manager's own list, and says which are direct dependencies
/// where the lock file does.
#[test]
fn js_lock_files_list_what_their_package_managers_list() {
    let dir = fixtures().join("js-locks");
    let facts = facts_of(&format!("dir:{}", dir.join("tree").display()));
    let split = |s: &str| -> (String, String) {
        let at = s[1..].find('@').unwrap() + 1;
        (s[..at].to_string(), s[at + 1..].to_string())
    };

    // yarn 1: `yarn list --json`, without the dimmed entries (ranges that resolved to a
    // listed package). yarn 1 lists an alias under its own name; the package it installs, the
    // one the inventory reports, is named by the lock file's `npm:` spec.
    let mut yarn1 = Set::new();
    for line in std::fs::read_to_string(dir.join("oracle-yarn1.jsonl"))
        .unwrap()
        .lines()
    {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] != "tree" {
            continue;
        }
        let mut stack: Vec<Value> = v["data"]["trees"].as_array().unwrap().clone();
        while let Some(t) = stack.pop() {
            if t["color"] != "dim" {
                let (n, ver) = split(t["name"].as_str().unwrap());
                let n = if n == "string-width-cjs" {
                    "string-width".into()
                } else {
                    n
                };
                yarn1.insert((n, ver));
            }
            stack.extend(t["children"].as_array().cloned().unwrap_or_default());
        }
    }
    assert!(yarn1.len() >= 10, "{yarn1:?}");
    assert_eq!(found(&facts, "npm", "/srv/yarn1/"), yarn1);

    // yarn 4: `yarn info -AR --json`, every locator but the workspace itself.
    let mut yarn4 = Set::new();
    for line in std::fs::read_to_string(dir.join("oracle-yarn4.jsonl"))
        .unwrap()
        .lines()
    {
        let v: Value = serde_json::from_str(line).unwrap();
        let locator = v["value"].as_str().unwrap();
        if locator.contains("@workspace:") {
            continue;
        }
        let (n, rest) = split(locator);
        yarn4.insert((n, rest.strip_prefix("npm:").unwrap().to_string()));
    }
    assert!(yarn4.len() >= 10, "{yarn4:?}");
    assert_eq!(found(&facts, "npm", "/srv/yarn4/"), yarn4);

    // pnpm 9: `pnpm ls --json --depth Infinity`.
    let ls: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("oracle-pnpm.json")).unwrap())
            .unwrap();
    let mut pnpm = Set::new();
    pnpm_tree(&ls[0], &mut pnpm);
    assert!(pnpm.len() >= 10, "{pnpm:?}");
    assert_eq!(found(&facts, "npm", "/srv/pnpm/"), pnpm);

    // Direct dependencies, where the lock file says: the project's own, each at its version
    // (ms 2.1.3 is direct, the ms 2.0.0 that debug needs is not).
    let direct: Set = [
        ("@babel/runtime", "7.23.2"),
        ("debug", "2.6.9"),
        ("is-number", "7.0.0"),
        ("ms", "2.1.3"),
        ("string-width", "4.2.3"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    for project in ["/srv/yarn4/", "/srv/pnpm/"] {
        let got: Set = facts["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["database"].as_str().unwrap().starts_with(project))
            .filter(|p| p["dependency"] == "direct")
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["version"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got, direct, "{project}");
    }
}
