use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The fixture cache; the suite refuses to run without it rather than pass vacuously.
pub fn fixtures() -> PathBuf {
    let dir = std::env::var_os("IMAGEWISE_FIXTURES").map(PathBuf::from).expect(
        "IMAGEWISE_FIXTURES is not set: run scripts/test.sh, which builds the fixture images and sets it",
    );
    assert!(
        dir.join("bookworm-rootfs.complete").exists(),
        "{} holds no complete fixtures: run scripts/fixtures.sh {}",
        dir.display(),
        dir.display()
    );
    dir
}

pub fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// The files cache of the tests' snapshots: under the target directory, not the user's.
pub fn test_cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("imagewise-cache")
}

/// The program, with progress bars off and the tests' cache directory.
pub fn imagewise_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_imagewise"));
    c.env("IMAGEWISE_NO_PROGRESS", "1")
        .env("IMAGEWISE_CACHE_DIR", test_cache_dir());
    c
}

pub fn imagewise(args: &[&str]) -> Output {
    imagewise_cmd().args(args).output().expect("run imagewise")
}

/// Run and require exit 0.
pub fn ok(args: &[&str]) -> Vec<u8> {
    let out = imagewise(args);
    assert!(
        out.status.success(),
        "imagewise {args:?} failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `ls --json` lines keyed by path.
pub fn ls(reference: &str, extra: &[&str]) -> BTreeMap<String, Value> {
    let mut args = vec!["ls", "--json", reference];
    args.extend_from_slice(extra);
    let out = ok(&args);
    let mut map = BTreeMap::new();
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).expect("ls --json prints JSON lines");
        let p = v["path"].as_str().expect("path").to_string();
        assert!(
            map.insert(p.clone(), v).is_none(),
            "{p} listed twice by {reference}"
        );
    }
    map
}

/// The fields the issue compares across formats: (kind, mode, uid, gid, size, link).
pub fn shape(v: &Value) -> Value {
    serde_json::json!([v["kind"], v["mode"], v["uid"], v["gid"], v["size"], v["link"]])
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Run a bash script (`-euo pipefail`); its stdout, or a failed assertion with its stderr.
pub fn sh(script: &str) -> String {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A path as the `&str` a command line takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Unmounts on drop, so a failed assertion leaves no mount behind.
pub struct Mounted(pub std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// What differs between two `ls --json` listings in `fields` (modes masked with `mask_mode`).
pub fn listing_differences(
    want: &BTreeMap<String, Value>,
    got: &BTreeMap<String, Value>,
    fields: &[&str],
    mask_mode: u64,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (p, w) in want {
        let Some(g) = got.get(p) else {
            problems.push(format!("missing {p}"));
            continue;
        };
        for f in fields {
            let (a, b) = if *f == "mode" {
                (
                    Value::from(w["mode"].as_u64().unwrap_or(0) & mask_mode),
                    Value::from(g["mode"].as_u64().unwrap_or(0) & mask_mode),
                )
            } else {
                (w[*f].clone(), g[*f].clone())
            };
            if a != b {
                problems.push(format!("{p} {f}: {a} vs {b}"));
            }
        }
    }
    for p in got.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(format!("extra {p}"));
    }
    problems
}

/// `inspect --json` of an image without its `image` section: the facts, which must not depend
/// on how the tree is wrapped.
pub fn facts(reference: &str) -> Value {
    let mut v: Value = serde_json::from_slice(&ok(&["inspect", "--json", reference])).unwrap();
    v.as_object_mut().unwrap().remove("image");
    v
}

/// The kernel's listing of a mounted tree (scripts/fs-manifest.py).
pub fn kernel(mnt: &Path) -> BTreeMap<String, Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fs-manifest.py");
    let out = sh(&format!("python3 {} {}", s(&script), s(mnt)));
    out.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["path"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// Hardlinks as the plain files the kernel shows (which name is primary is the lister's pick).
pub fn unlinked(mut got: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    for v in got.values_mut() {
        if v["kind"] == "hardlink" {
            v["kind"] = Value::from("file");
            v["link"] = Value::Null;
        }
    }
    got
}

/// Every field `ls --json --digest` gives, for listings that must agree in full.
pub const ALL_FIELDS: &[&str] = &[
    "kind",
    "mode",
    "uid",
    "gid",
    "size",
    "link",
    "device",
    "mtime",
    "mtime_nsec",
    "xattrs",
    "sha256",
];
