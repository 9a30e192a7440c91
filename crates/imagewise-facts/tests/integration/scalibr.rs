//! A peer scanner's fixtures (osv-scalibr's language extractors, shared/fixtures/scalibr, with
//! the packages its tests expect in README.txt): each fixture is put where it belongs in a tree
//! (a `site-packages`, a `node_modules`, a project directory, a JAR), the tree is inspected, and
//! the application packages must be the expected ones. Where imagewise disagrees on purpose the
//! case says why.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use crate::support::{inspect, shared};

type Set = BTreeSet<(String, String)>;

fn set(pairs: &[(&str, &str)]) -> Set {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The application packages of a tree holding `fixture` (a path under shared/fixtures/scalibr)
/// at `at`.
fn packages_with(fixture: &str, at: &str) -> Set {
    let src = shared().join("scalibr").join(fixture);
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join(at.trim_start_matches('/'));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(&src, &dest).unwrap_or_else(|e| panic!("{fixture}: {e}"));
    tree_packages(t.path())
}

fn tree_packages(root: &Path) -> Set {
    let f = inspect(&format!("dir:{}", root.display()));
    f.packages
        .iter()
        .filter(|p| !p.ecosystem.is_os())
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect()
}

const SITE: &str = "/usr/lib/python3/dist-packages";

#[test]
fn python_installed_metadata() {
    for (fixture, at, want) in [
        (
            "distinfo_meta",
            "pip-22.2.2.dist-info/METADATA",
            set(&[("pip", "22.2.2")]),
        ),
        (
            "egginfo_pkginfo",
            "setuptools-57.4.0-py3.9.egg/EGG-INFO/PKG-INFO",
            set(&[("setuptools", "57.4.0")]),
        ),
        (
            "egginfo",
            "pycups-2.0.1.egg-info",
            set(&[("pycups", "2.0.1")]),
        ),
        (
            "pkginfo",
            "httplib2-0.20.4.egg-info/PKG-INFO",
            set(&[("httplib2", "0.20.4")]),
        ),
        (
            "malformed_pkginfo",
            "passlib-1.7.4.egg-info/PKG-INFO",
            set(&[("passlib", "1.7.4")]),
        ),
        (
            "mixed_case",
            "httplib2-1.0.dist-info/METADATA",
            set(&[("httplib2", "1.0")]),
        ),
        (
            "special_chars",
            "backports.ssl_match_hostname-3.5.0.1.egg-info/PKG-INFO",
            set(&[("backports.ssl_match_hostname", "3.5.0.1")]),
        ),
        (
            "pyopenssl-26.0.0.dist-info",
            "pyOpenSSL-26.0.0.dist-info/METADATA",
            set(&[("pyOpenSSL", "26.0.0")]),
        ),
        // The first of a repeated Version header, as importlib.metadata reads it.
        (
            "repeated_pkginfo",
            "root-1.0.0.dist-info/METADATA",
            set(&[("root", "1.0.0")]),
        ),
        ("empty", "empty-1.0.dist-info/METADATA", Set::new()),
    ] {
        let got = packages_with(
            &format!("python/wheelegg/testdata/{fixture}"),
            &format!("{SITE}/{at}"),
        );
        assert_eq!(got, want, "{fixture}");
    }
}

#[test]
fn npm_installed_package_json() {
    for (fixture, want) in [
        ("package.json", set(&[("testdata", "10.46.8")])),
        ("deps/accepts/package.json", set(&[("accepts", "1.3.8")])),
        (
            "deps/no-person-name/package.json",
            set(&[("accepts", "1.3.8")]),
        ),
        (
            "deps/with/deps/acorn/package.json",
            set(&[("acorn", "1.2.2")]),
        ),
        ("deps/acorn/package.json", Set::new()),
        ("deps/acorn-globals/package.json", Set::new()),
        ("deps/window-size/package.json", Set::new()),
        ("vscode-extension.json", Set::new()),
        ("vscode-extension-only-required.json", Set::new()),
        ("unity-package.json", Set::new()),
        ("undici-package.json", set(&[("undici", "5.28.3")])),
        ("not-vscode.json", set(&[("jsonparse", "1.3.1")])),
        // scalibr also lists the dependencies a package.json declares, at the versions named;
        // imagewise lists what is installed (each installed dependency has its own
        // package.json), so only the package itself.
        (
            "package-with-deps.json",
            set(&[("package-with-deps", "1.2.3")]),
        ),
        ("duplicate-keys.json", set(&[("duplicate-keys", "1.0.0")])),
        ("invalid", Set::new()),
    ] {
        let got = packages_with(
            &format!("javascript/packagejson/testdata/{fixture}"),
            "/app/node_modules/pkg/package.json",
        );
        assert_eq!(got, want, "{fixture}");
    }
}

#[test]
fn npm_lock_files_where_nothing_is_installed() {
    let lock = "javascript/packagelockjson/testdata";
    for (fixture, want) in [
        ("empty.v1.json", Set::new()),
        ("empty.v2.json", Set::new()),
        ("not-json.txt", Set::new()),
        ("one-package.v1.json", set(&[("wrappy", "1.0.2")])),
        ("one-package.v2.json", set(&[("wrappy", "1.0.2")])),
        ("one-package-dev.v1.json", set(&[("wrappy", "1.0.2")])),
        ("one-package-dev.v2.json", set(&[("wrappy", "1.0.2")])),
        (
            "two-packages.v1.json",
            set(&[("wrappy", "1.0.2"), ("supports-color", "5.5.0")]),
        ),
        (
            "two-packages.v2.json",
            set(&[("wrappy", "1.0.2"), ("supports-color", "5.5.0")]),
        ),
        (
            "optional-package.v1.json",
            set(&[("wrappy", "1.0.2"), ("supports-color", "5.5.0")]),
        ),
        (
            "optional-package.v2.json",
            set(&[("wrappy", "1.0.2"), ("supports-color", "5.5.0")]),
        ),
        (
            "scoped-packages.v1.json",
            set(&[("wrappy", "1.0.2"), ("@babel/code-frame", "7.0.0")]),
        ),
        (
            "scoped-packages.v2.json",
            set(&[("wrappy", "1.0.2"), ("@babel/code-frame", "7.0.0")]),
        ),
        (
            "nested-dependencies.v1.json",
            set(&[
                ("postcss", "6.0.23"),
                ("postcss", "7.0.16"),
                ("postcss-calc", "7.0.1"),
                ("supports-color", "6.1.0"),
                ("supports-color", "5.5.0"),
            ]),
        ),
        (
            "nested-dependencies.v2.json",
            set(&[
                ("postcss", "6.0.23"),
                ("postcss", "7.0.16"),
                ("postcss-calc", "7.0.1"),
                ("supports-color", "6.1.0"),
                ("supports-color", "5.5.0"),
            ]),
        ),
        (
            "nested-dependencies-dup.v2.json",
            set(&[("supports-color", "6.1.0"), ("supports-color", "2.0.0")]),
        ),
        (
            "alias.v1.json",
            set(&[
                ("@babel/code-frame", "7.0.0"),
                ("string-width", "4.2.0"),
                ("string-width", "5.1.2"),
            ]),
        ),
        (
            "alias.v2.json",
            set(&[
                ("@babel/code-frame", "7.0.0"),
                ("string-width", "4.2.0"),
                ("string-width", "5.1.2"),
            ]),
        ),
        (
            "same-package-different-groups.v1.json",
            set(&[("eslint", "1.2.3"), ("table", "1.0.0"), ("ajv", "5.5.2")]),
        ),
        (
            "same-package-different-groups.v2.json",
            set(&[("eslint", "1.2.3"), ("table", "1.0.0"), ("ajv", "5.5.2")]),
        ),
        (
            "files.v2.json",
            set(&[("etag", "1.8.0"), ("abbrev", "1.0.9"), ("abbrev", "2.3.4")]),
        ),
        (
            "bundled-dependencies.v3.json",
            set(&[
                ("ansi-regex", "6.2.2"),
                ("semver", "7.7.2"),
                ("strip-ansi", "7.1.2"),
            ]),
        ),
    ] {
        let got = packages_with(&format!("{lock}/{fixture}"), "/app/package-lock.json");
        assert_eq!(got, want, "{fixture}");
    }
    // npm-shrinkwrap.json alone, and beside a package-lock.json (npm reads the shrinkwrap).
    let two = set(&[("wrappy", "1.0.2"), ("supports-color", "5.5.0")]);
    let got = packages_with(
        &format!("{lock}/npm-shrinkwrap-only/npm-shrinkwrap.json"),
        "/app/npm-shrinkwrap.json",
    );
    assert_eq!(got, two, "shrinkwrap only");
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("app")).unwrap();
    for f in ["package-lock.json", "npm-shrinkwrap.json"] {
        std::fs::copy(
            shared().join("scalibr").join(lock).join("both").join(f),
            t.path().join("app").join(f),
        )
        .unwrap();
    }
    assert_eq!(tree_packages(t.path()), two, "both: the shrinkwrap's");
}

#[test]
fn composer_lock_files() {
    let d = "php/composerlock/testdata";
    for (fixture, want) in [
        ("not-json.txt", Set::new()),
        ("null.jsontest", Set::new()),
        ("empty.json", Set::new()),
        ("one-package.json", set(&[("sentry/sdk", "2.0.4")])),
        ("one-package-dev.json", set(&[("sentry/sdk", "2.0.4")])),
        (
            "two-packages.json",
            set(&[("sentry/sdk", "2.0.4"), ("theseer/tokenizer", "1.1.3")]),
        ),
        (
            "two-packages-alt.json",
            set(&[("sentry/sdk", "2.0.4"), ("theseer/tokenizer", "1.1.3")]),
        ),
        (
            "drupal-packages.json",
            set(&[
                ("drupal/core", "10.4.5"),
                ("drupal/tfa", "2.0.0-alpha4"),
                ("drupal/field_time", "1.0.0-beta5"),
                ("theseer/tokenizer", "1.1.3"),
            ]),
        ),
        (
            "duplicate-packages.json",
            set(&[
                ("sentry/sdk", "2.0.4"),
                ("sentry/sdk", "2.0.5"),
                ("sentry/sdk", "3.0.0-dev"),
            ]),
        ),
    ] {
        let got = packages_with(&format!("{d}/{fixture}"), "/srv/app/composer.lock");
        assert_eq!(got, want, "{fixture}");
    }
}

/// A JAR holding one manifest.
fn jar_with_manifest(manifest: &Path, dest: &Path) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(dest).unwrap());
    w.start_file(
        "META-INF/MANIFEST.MF",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    w.write_all(&std::fs::read(manifest).unwrap()).unwrap();
    w.finish().unwrap();
}

#[test]
fn java_manifests_and_non_archives() {
    let d = shared().join("scalibr/java/archive/testdata");
    for (fixture, file, want) in [
        (
            "manifest-symbolicname",
            "failureaccess.jar",
            set(&[("com.google.guava.failureaccess:failureaccess", "1.0.1")]),
        ),
        (
            "invalid-ids",
            "invalid-ids.jar",
            set(&[("test.group:correct.name", "1.2.3")]),
        ),
        // The package in a per-entry section, a version with words after it.
        ("axis", "axis.jar", set(&[("org.apache.axis:axis", "1.4")])),
    ] {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("app")).unwrap();
        jar_with_manifest(
            &d.join(fixture).join("MANIFEST.MF"),
            &t.path().join("app").join(file),
        );
        assert_eq!(tree_packages(t.path()), want, "{fixture}");
    }
    // scalibr maps artifact ids to groups it knows (spring-web → org.springframework);
    // imagewise reports what the manifest says and keeps such tables out (they go stale): the
    // version agrees, the group is missing.
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("app")).unwrap();
    jar_with_manifest(
        &d.join("known-group-id/MANIFEST.MF"),
        &t.path().join("app/x.jar"),
    );
    assert_eq!(
        tree_packages(t.path()),
        set(&[("spring-web", "5.3.26")]),
        "known-group-id"
    );
    // Not an archive at all, a file that is not a Go program, one that is not a Rust one.
    assert_eq!(
        packages_with("java/archive/testdata/not_jar", "/app/not.jar"),
        Set::new()
    );
    for (fixture, at) in [
        ("golang/gobinary/testdata/dummy", "/usr/bin/dummy"),
        (
            "rust/cargoauditable/testdata/not_binary/not_binary",
            "/usr/bin/not_binary",
        ),
    ] {
        let t = tempfile::tempdir().unwrap();
        let dest = t.path().join(at.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(shared().join("scalibr").join(fixture), &dest).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(tree_packages(t.path()), Set::new(), "{fixture}");
    }
}
