//! Language runtimes and TLS libraries, with versions from the package database where there is
//! one, else from versioned file names (`python3.11`, `libssl.so.3`) and the version files that
//! upstream builds ship (a JDK's `release`, Go's `VERSION`, Node's `node_version.h`).

use imagewise_source::{EntryKind, ImageTree};

use crate::files::{self, Files, Wants};
use crate::report::{Package, Runtime};

const BIN_DIRS: [&str; 4] = ["/usr/bin", "/usr/local/bin", "/bin", "/opt/bin"];
const MAX_VERSION_FILE: u64 = 256 << 10;

/// Version files whose contents are read.
fn version_files(tree: &ImageTree) -> Vec<String> {
    let mut v = vec![
        "/usr/local/go/VERSION".to_string(),
        "/usr/local/include/node/node_version.h".to_string(),
        "/usr/include/node/node_version.h".to_string(),
        "/opt/java/openjdk/release".to_string(),
    ];
    for jvm in files::children(tree, "/usr/lib/jvm") {
        if jvm.kind == EntryKind::Dir {
            v.push(format!("{}/release", jvm.path));
        }
    }
    v
}

pub(crate) fn want(tree: &ImageTree, w: &mut Wants) {
    for f in version_files(tree) {
        w.whole(f, MAX_VERSION_FILE);
    }
}

pub(crate) fn detect(tree: &ImageTree, files: &Files, packages: &[Package]) -> Vec<Runtime> {
    let mut out: Vec<Runtime> = Vec::new();
    let pkg = |names: &[&str]| {
        packages
            .iter()
            .find(|p| names.contains(&p.name.as_str()))
            .map(|p| p.version.clone())
    };
    let exists = |p: &str| tree.resolve(p, true).is_ok();
    fn add(
        out: &mut Vec<Runtime>,
        name: &str,
        version: Option<String>,
        path: String,
        source: Option<&str>,
    ) {
        out.push(Runtime {
            name: name.to_string(),
            version,
            path,
            version_source: source.map(str::to_string),
        });
    }

    // Python: every versioned interpreter (python3.11, python3.12 in /usr/local).
    for d in BIN_DIRS {
        for e in files::children(tree, d) {
            let n = files::base_name(&e.path);
            let Some(v) = n.strip_prefix("python") else {
                continue;
            };
            if v.contains('.') && crate::elf::parse_dotted(v).is_some() {
                // /usr/local and /opt hold builds the package manager knows nothing of.
                let managed = !d.starts_with("/usr/local") && !d.starts_with("/opt");
                let package = pkg(&[n, &format!("{n}-minimal"), &format!("libpython{v}-minimal")])
                    .filter(|_| managed);
                let (version, src) = match package {
                    Some(p) => (p, "package"),
                    None => (v.to_string(), "path"),
                };
                add(
                    &mut out,
                    "python",
                    Some(version),
                    files::join(d, n),
                    Some(src),
                );
            }
        }
    }

    // Java: each JDK/JRE's `release` file says JAVA_VERSION.
    for f in version_files(tree)
        .iter()
        .filter(|f| f.ends_with("/release"))
    {
        if let Some(text) = files.text(f) {
            let v = crate::os_release::parse(&text).get("JAVA_VERSION").cloned();
            add(
                &mut out,
                "java",
                v,
                f.trim_end_matches("/release").to_string(),
                Some("file"),
            );
        }
    }
    if !out.iter().any(|r| r.name == "java") {
        for d in BIN_DIRS {
            let p = files::join(d, "java");
            if exists(&p) {
                let v = packages
                    .iter()
                    .find(|k| k.name.starts_with("openjdk-") && k.name.contains("-jre"))
                    .map(|k| k.version.clone());
                let src = v.as_ref().map(|_| "package");
                add(&mut out, "java", v, p, src);
                break;
            }
        }
    }

    // Node: the header upstream installs, else the package.
    let node_h = [
        "/usr/local/include/node/node_version.h",
        "/usr/include/node/node_version.h",
    ]
    .iter()
    .find_map(|f| files.text(f).and_then(|t| node_version(&t)));
    for d in BIN_DIRS {
        let p = files::join(d, "node");
        if exists(&p) {
            let (v, src) = match (&node_h, pkg(&["nodejs"])) {
                (Some(v), _) => (Some(v.clone()), Some("file")),
                (None, Some(v)) => (Some(v), Some("package")),
                _ => (None, None),
            };
            add(&mut out, "node", v, p, src);
            break;
        }
    }

    // Go toolchain.
    if let Some(text) = files.text("/usr/local/go/VERSION") {
        let v = text
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .trim_start_matches("go")
            .to_string();
        add(
            &mut out,
            "go",
            Some(v),
            "/usr/local/go".into(),
            Some("file"),
        );
    } else {
        for d in BIN_DIRS {
            let p = files::join(d, "go");
            if exists(&p) {
                let v = pkg(&["golang-go", "golang", "go"]);
                let src = v.as_ref().map(|_| "package");
                add(&mut out, "go", v, p, src);
                break;
            }
        }
    }

    // Simple ones: an interpreter path and the packages that version it.
    for (name, exe, pkgs) in [
        ("perl", "perl", &["perl-base", "perl"][..]),
        (
            "ruby",
            "ruby",
            &["ruby", "ruby3.1", "ruby3.2", "ruby3.3"][..],
        ),
        ("php", "php", &["php", "php-cli", "php8.2-cli", "php83"][..]),
        ("openssl", "openssl", &["openssl"][..]),
    ] {
        for d in BIN_DIRS {
            let p = files::join(d, exe);
            if exists(&p) {
                let v = pkg(pkgs);
                let src = v.as_ref().map(|_| "package");
                add(&mut out, name, v, p, src);
                break;
            }
        }
    }

    // The TLS library itself, which most services load even without the openssl program.
    if !out.iter().any(|r| r.name == "openssl") {
        let lib = crate::libc::lib_dirs(tree)
            .into_iter()
            .flat_map(|d| {
                files::children(tree, &d)
                    .into_iter()
                    .map(move |e| files::join(&d, files::base_name(&e.path)))
            })
            .find(|p| files::base_name(p).starts_with("libssl.so."));
        if let Some(p) = lib {
            let v = pkg(&[
                "libssl3",
                "libssl3t64",
                "libssl1.1",
                "openssl-libs",
                "libssl3-libs",
            ]);
            let (v, src) = match v {
                Some(v) => (Some(v), "package"),
                None => (
                    Some(
                        files::base_name(&p)
                            .trim_start_matches("libssl.so.")
                            .to_string(),
                    ),
                    "path",
                ),
            };
            add(&mut out, "openssl", v, p, Some(src));
        }
    }
    // /bin and /usr/bin are one directory on merged-/usr systems: one file, one runtime.
    let mut seen = std::collections::HashSet::new();
    out.retain(|r| {
        let real = tree
            .resolve(&r.path, true)
            .map(|e| e.path.clone())
            .unwrap_or_else(|_| r.path.clone());
        seen.insert((r.name.clone(), real))
    });
    out.sort_by(|a, b| (&a.name, &a.path).cmp(&(&b.name, &b.path)));
    out
}

/// `#define NODE_MAJOR_VERSION 20` and friends → `20.11.1`.
fn node_version(h: &str) -> Option<String> {
    let get = |k: &str| {
        h.lines().find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("#define") && w.next() == Some(k))
                .then(|| w.next().map(str::to_string))?
        })
    };
    Some(format!(
        "{}.{}.{}",
        get("NODE_MAJOR_VERSION")?,
        get("NODE_MINOR_VERSION")?,
        get("NODE_PATCH_VERSION")?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_header() {
        let h = "#ifndef SRC_NODE_VERSION_H_\n#define NODE_MAJOR_VERSION 20\n#define NODE_MINOR_VERSION 11\n#define NODE_PATCH_VERSION 1\n";
        assert_eq!(node_version(h).as_deref(), Some("20.11.1"));
        assert_eq!(node_version("#define NODE_MAJOR_VERSION 20\n"), None);
    }
}
