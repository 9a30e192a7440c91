//! Every JSON document the commands print, recorded on fixed images and kept equal: the guard for
//! moving report types between crates (issue "contracts"). A change to any of these files is a
//! change of an output format and shows in the diff of `tests/golden/`.
//!
//! Two sets:
//! - the shared Alpine minirootfs tarballs (x86_64 and aarch64): bytes that never change, so
//!   these are always compared;
//! - the debootstrap bookworm fixture: rebuilt from Debian's archive on every new machine, so
//!   its package versions move with point releases. Its files carry the fingerprint of the
//!   fixture they were made from (the dpkg status file's SHA-256) and are compared whenever the
//!   cache holds that same build; another build is named in the output and its documents are
//!   written to `target/golden-new/` for a developer to look at and re-record.
//!
//! `IMAGEWISE_BLESS=1 cargo test -p imagewise-cli golden` rewrites the files from the current
//! binary. Times, snapshot ids, host names and temp paths are redacted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::scan::{rec, write_json};
use crate::support::{fixtures, sha256_hex, shared};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn bless() -> bool {
    std::env::var_os("IMAGEWISE_BLESS").is_some_and(|v| v == "1")
}

/// Replaces what differs between runs: paths of the fixtures and temp dirs, snapshot ids, times.
struct Redact {
    /// (text, placeholder), longest text first.
    strings: Vec<(String, String)>,
}

impl Redact {
    fn new(pairs: &[(&str, &str)]) -> Redact {
        let mut strings: Vec<(String, String)> = pairs
            .iter()
            .filter(|(a, _)| !a.is_empty())
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        strings.sort_by_key(|(a, _)| std::cmp::Reverse(a.len()));
        Redact { strings }
    }

    fn add(&mut self, text: &str, placeholder: &str) {
        self.strings
            .push((text.to_string(), placeholder.to_string()));
        self.strings
            .sort_by_key(|(a, _)| std::cmp::Reverse(a.len()));
    }

    fn string(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (a, b) in &self.strings {
            if out.contains(a.as_str()) {
                out = out.replace(a.as_str(), b);
            }
        }
        out
    }

    fn value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.string(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| {
                        let volatile = matches!(
                            k.as_str(),
                            "time"
                                | "hostname"
                                | "username"
                                | "created"
                                | "timestamp"
                                | "seconds"
                                | "elapsed"
                                | "duration"
                                | "pid"
                                | "host"
                                | "duration_s"
                                // Which blobs share a compression group depends on thread
                                // timing: stored (compressed) sizes vary between runs.
                                | "bytes_stored"
                                | "stored_bytes"
                                | "pack_bytes"
                                | "ratio"
                                | "last_import"
                                // Days left of support count down every day.
                                | "days_left"
                                | "extended_days_left"
                        ) || k.ends_with("_seconds") && !x.is_null();
                        let x = if volatile {
                            json!("<redacted>")
                        } else {
                            self.value(x)
                        };
                        (self.string(k), x)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Run imagewise; stdout as one JSON document or JSON lines (as an array).
fn run(args: &[&str], env: &[(&str, &str)], cwd: Option<&Path>) -> (Value, i32) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imagewise"));
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let out = cmd
        .args(args)
        .env("IMAGEWISE_NO_PROGRESS", "1")
        .envs(env.iter().copied())
        .output()
        .expect("run imagewise");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "imagewise {args:?} exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = match serde_json::from_slice::<Value>(&out.stdout) {
        Ok(v) => v,
        Err(_) => Value::Array(
            out.stdout
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    serde_json::from_slice(l).unwrap_or_else(|e| {
                        panic!(
                            "imagewise {args:?}: not JSON ({e}): {}",
                            String::from_utf8_lossy(l)
                        )
                    })
                })
                .collect(),
        ),
    };
    (v, code)
}

/// One recorded document: the command, its exit code and its redacted output.
fn document(args: &[&str], env: &[(&str, &str)], r: &Redact) -> Value {
    document_in(None, args, env, r)
}

/// `document` run in `cwd`: an SBOM's serial number and namespace are derived from the image
/// name as given, so the alpine SBOMs name their fixture relative to the shared folder, which
/// makes them the same in every checkout.
fn document_in(cwd: Option<&Path>, args: &[&str], env: &[(&str, &str)], r: &Redact) -> Value {
    let (v, code) = run(args, env, cwd);
    json!({
        "command": r.string(&args.join(" ")),
        "exit": code,
        "output": r.value(&v),
    })
}

/// Compare (or with IMAGEWISE_BLESS=1 write) `set/name.json`. Returns the differences.
fn compare(set: &str, docs: &BTreeMap<&str, Value>, fingerprint: Option<&str>) -> Vec<String> {
    let dir = golden_dir().join(set);
    let fp_file = dir.join("FINGERPRINT");
    if bless() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, v) in docs {
            let mut text = serde_json::to_string_pretty(v).unwrap();
            text.push('\n');
            std::fs::write(dir.join(format!("{name}.json")), text).unwrap();
        }
        if let Some(fp) = fingerprint {
            std::fs::write(&fp_file, format!("{fp}\n")).unwrap();
        }
        return vec![];
    }
    if let Some(fp) = fingerprint {
        let recorded = std::fs::read_to_string(&fp_file).unwrap_or_default();
        if recorded.trim() != fp {
            let new = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/golden-new");
            let new = new.join(set);
            std::fs::create_dir_all(&new).unwrap();
            for (name, v) in docs {
                std::fs::write(
                    new.join(format!("{name}.json")),
                    serde_json::to_string_pretty(v).unwrap() + "\n",
                )
                .unwrap();
            }
            eprintln!(
                "golden/{set}: recorded on fixture build {}, this cache holds build {fp}: not compared; this build's documents are in {}",
                recorded.trim(),
                new.display()
            );
            return vec![];
        }
    }
    let mut diffs = vec![];
    for (name, v) in docs {
        let path = dir.join(format!("{name}.json"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            diffs.push(format!(
                "{}: missing (IMAGEWISE_BLESS=1 records it)",
                path.display()
            ));
            continue;
        };
        let want: Value = serde_json::from_str(&text).unwrap();
        if &want != v {
            diffs.push(format!(
                "{}: differs at {}",
                path.display(),
                first_difference(&want, v, String::new())
            ));
        }
    }
    diffs
}

fn first_difference(a: &Value, b: &Value, at: String) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) if p == q => {}
                    (Some(p), Some(q)) => return first_difference(p, q, format!("{at}/{k}")),
                    (p, q) => return format!("{at}/{k}: recorded {p:?}, now {q:?}"),
                }
            }
            at
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if p != q {
                    return first_difference(p, q, format!("{at}/{i}"));
                }
            }
            at
        }
        _ => format!("{at}: recorded {a}, now {b}"),
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The OSV records the scan documents are made against.
pub(crate) fn osv_db(t: &Path) -> PathBuf {
    let dir = t.join("records");
    std::fs::create_dir_all(&dir).unwrap();
    for (id, eco, name, events) in [
        (
            "ALPINE-CVE-2099-30001",
            "Alpine:v3.20",
            "openssl",
            json!([{"introduced": "0"}, {"fixed": "3.3.2-r1"}]),
        ),
        (
            "ALPINE-CVE-2099-30002",
            "Alpine:v3.20",
            "musl",
            json!([{"introduced": "0"}]),
        ),
        (
            "DEBIAN-CVE-2099-30003",
            "Debian:12",
            "glibc",
            json!([{"introduced": "0"}, {"fixed": "99.0-1"}]),
        ),
        (
            "DEBIAN-CVE-2099-30004",
            "Debian:12",
            "bash",
            json!([{"introduced": "0"}]),
        ),
    ] {
        let mut r = rec(id, eco, name, events);
        if id.ends_with("30003") {
            r["severity"] = json!([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]);
        }
        write_json(&dir, &r);
    }
    let db = t.join("db");
    let (_, code) = run(
        &["db", "import", "--json", "--db", &s(&db), &s(&dir)],
        &[],
        None,
    );
    assert_eq!(code, 0);
    db
}

#[test]
fn alpine_documents_are_unchanged() {
    let t = tempfile::tempdir().unwrap();
    const AMD: &str = "alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz";
    let amd = s(&shared().join(AMD));
    let old = s(&shared().join("alpine/alpine-minirootfs-3.19.4-x86_64.tar.gz"));
    let arm = s(&shared().join("alpine/alpine-minirootfs-3.20.3-aarch64.tar.gz"));
    let mut r = Redact::new(&[
        (&s(&shared()), "$SHARED"),
        (&s(&shared().canonicalize().unwrap()), "$SHARED"),
        (&s(t.path()), "$TMP"),
    ]);
    let db = s(&osv_db(t.path()));
    let epoch = [("SOURCE_DATE_EPOCH", "1700000000")];
    let mut docs: BTreeMap<&str, Value> = BTreeMap::new();
    docs.insert("ls", document(&["ls", "--json", "--digest", &amd], &[], &r));
    docs.insert("inspect", document(&["inspect", "--json", &amd], &[], &r));
    docs.insert(
        "lint",
        document(
            &[
                "lint",
                "--json",
                "--profile",
                "baseline",
                "--profile",
                "cis-container",
                &amd,
            ],
            &[],
            &r,
        ),
    );
    docs.insert(
        "inspect-arm64",
        document(&["inspect", "--json", &arm], &[], &r),
    );
    docs.insert(
        "sbom-spdx",
        document_in(
            Some(&shared()),
            &["sbom", "--format", "spdx-json", AMD],
            &epoch,
            &r,
        ),
    );
    docs.insert(
        "sbom-cyclonedx",
        document_in(
            Some(&shared()),
            &["sbom", "--format", "cyclonedx-json", AMD],
            &epoch,
            &r,
        ),
    );
    docs.insert(
        "scan",
        document(&["scan", "--json", "--db", &db, &amd], &[], &r),
    );
    docs.insert(
        "scan-sarif",
        document(&["scan", "--sarif", "--db", &db, &amd], &[], &r),
    );
    docs.insert(
        "db-status",
        document(&["db", "status", "--json", "--db", &db], &[], &r),
    );
    docs.insert(
        "check",
        document(
            &["check", "--json", &amd, "--on", &amd, "--on", &arm],
            &[],
            &r,
        ),
    );
    docs.insert(
        "check-explain",
        document(
            &[
                "check",
                "--json",
                "--explain",
                "--path",
                "/bin/busybox",
                &amd,
                "--on",
                &old,
            ],
            &[],
            &r,
        ),
    );

    // The store: two snapshots, and everything that reads them.
    let repo = s(&t.path().join("repo"));
    let (init, _) = run(&["repo", "init", "--json", &repo], &[], None);
    r.add(
        init["id"]
            .as_str()
            .expect("init --json names the repository id"),
        "$REPO_ID",
    );
    docs.insert("repo-init", r.value(&init));
    let (a, _) = run(
        &["snapshot", "create", "--json", &repo, &old, "--tag", "a"],
        &[],
        None,
    );
    let (b, _) = run(
        &["snapshot", "create", "--json", &repo, &amd, "--tag", "b"],
        &[],
        None,
    );
    for (snap, name) in [(&a, "$SNAP_A"), (&b, "$SNAP_B")] {
        let id = snap["id"]
            .as_str()
            .expect("create --json names the snapshot id");
        r.add(id, name);
        r.add(&id[..8], &format!("{name}_SHORT"));
    }
    docs.insert("snapshot-create", r.value(&json!({"a": a, "b": b})));
    docs.insert(
        "snapshot-list",
        document(&["snapshot", "list", "--json", &repo], &[], &r),
    );
    docs.insert(
        "snapshot-show",
        document(&["snapshot", "show", "--json", &repo, "b"], &[], &r),
    );
    docs.insert(
        "snapshot-ls",
        document(&["snapshot", "ls", "--json", &repo, "b", "/etc"], &[], &r),
    );
    docs.insert(
        "snapshot-diff",
        document(&["snapshot", "diff", "--json", &repo, "a", "b"], &[], &r),
    );
    docs.insert(
        "repo-stats",
        document(&["repo", "stats", "--json", &repo], &[], &r),
    );
    let mut check = document(&["repo", "check", "--json", "--read-data", &repo], &[], &r);
    check["output"]["report"]["bytes_read"] = json!("<redacted: the packs' size>");
    docs.insert("repo-check", check);
    let target = s(&t.path().join("restored"));
    docs.insert(
        "restore",
        document(&["restore", "--json", &repo, "b", &target], &[], &r),
    );
    docs.insert(
        "forget",
        document(
            &["forget", "--json", "--keep-last", "1", "--dry-run", &repo],
            &[],
            &r,
        ),
    );

    let diffs = compare("alpine", &docs, None);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn bookworm_documents_are_unchanged() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let root = f.join("bookworm-rootfs");
    // The fixture is rebuilt from Debian's archive on every new machine: the package set
    // (the dpkg status file) and the bytes of the tree (logs and caches differ between builds
    // of one package set) say whether it is the build the documents were recorded from.
    let status = std::fs::read(root.join("var/lib/dpkg/status")).unwrap();
    let total: u64 = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let fingerprint = format!("{}-{total}", sha256_hex(&status));
    let r = Redact::new(&[(&s(&f), "$FIXTURES"), (&s(t.path()), "$TMP")]);
    let dir = format!("dir:{}", s(&root));
    let db = s(&osv_db(t.path()));
    let epoch = [("SOURCE_DATE_EPOCH", "1700000000")];
    let mut docs: BTreeMap<&str, Value> = BTreeMap::new();
    // The fingerprint is the package set; file times are those of the fixture's build.
    let mut ls = document(&["ls", "--json", &dir, "/etc/apt"], &[], &r);
    for line in ls["output"].as_array_mut().unwrap() {
        line["mtime"] = json!("<redacted: the fixture's build time>");
        line["mtime_nsec"] = json!("<redacted>");
    }
    docs.insert("ls-etc-apt", ls);
    docs.insert("inspect", document(&["inspect", "--json", &dir], &[], &r));
    let mut lint = vec!["lint", "--json"];
    for (p, _) in imagewise_lint::BUILTIN_PROFILES {
        lint.extend(["--profile", p]);
    }
    lint.push(&dir);
    docs.insert("lint", document(&lint, &[], &r));
    let mut spdx = document(&["sbom", "--format", "spdx-json", &dir], &epoch, &r);
    // The namespace is made from the reference (the cache's path, slugged) and is unique by
    // design.
    spdx["output"]["documentNamespace"] = json!("<redacted: unique per document>");
    docs.insert("sbom-spdx", spdx);
    docs.insert(
        "scan",
        document(&["scan", "--json", "--db", &db, &dir], &[], &r),
    );
    docs.insert(
        "check",
        document(
            &["check", "--json", "--path", "/usr/bin", &dir, "--on", &dir],
            &[],
            &r,
        ),
    );
    let diffs = compare("bookworm", &docs, Some(&fingerprint));
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
