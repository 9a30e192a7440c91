//! Debian's machine-readable copyright files of the bookworm rootfs, parsed by imagewise and by
//! python3-debian's `debian.copyright` (Debian's own reference parser): the same files are
//! machine-readable, with the same `Files:` licences and copyright lines, in the same order.

use std::process::Command;

use serde_json::Value;

use crate::support::*;

const SCRIPT: &str = r#"
import glob, json, sys
from debian.copyright import Copyright
out = []
for path in sorted(glob.glob(sys.argv[1] + "/usr/share/doc/*/copyright")):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            c = Copyright(f, strict=False)
        paras = list(c.all_files_paragraphs())
        out.append({"path": path, "ok": True,
                    "licenses": [p.license.synopsis if p.license else "" for p in paras],
                    "copyrights": [p.copyright or "" for p in paras]})
    except Exception as e:
        out.append({"path": path, "ok": False, "why": str(e)[:80]})
print(json.dumps(out))
"#;

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != ".")
        .map(str::to_string)
        .collect()
}

#[test]
fn dep5_files_parse_as_python_debian_parses_them() {
    let root = fixtures().join("bookworm-rootfs");
    let out = Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT, root.to_str().unwrap()])
        .output()
        .expect("Debian's python3 (scripts/install-deps.sh installs python3-debian)");
    assert!(
        out.status.success(),
        "python3-debian: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let (mut machine, mut free) = (0, 0);
    for f in &files {
        let path = f["path"].as_str().unwrap();
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        let ours = imagewise_facts::copyright::parse(&text);
        if f["ok"] != true {
            free += 1;
            assert_eq!(
                ours, None,
                "{path}: python-debian refuses it ({})",
                f["why"]
            );
            continue;
        }
        machine += 1;
        let ours = ours.unwrap_or_else(|| panic!("{path}: python-debian reads it, imagewise not"));
        let theirs: Vec<&str> = f["licenses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(ours.files_licenses, theirs, "{path}");
        let theirs: Vec<Vec<String>> = f["copyrights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| lines(c.as_str().unwrap()))
            .collect();
        let mine: Vec<Vec<String>> = ours.copyrights.iter().map(|c| lines(c)).collect();
        assert_eq!(mine, theirs, "{path}");
        // Every licence maps to an SPDX expression that parses.
        let declared = ours.declared().unwrap();
        assert!(
            spdx::Expression::parse(&declared).is_ok(),
            "{path}: {declared}"
        );
    }
    eprintln!("{machine} machine-readable copyright files agree with python3-debian; {free} free-form ones refused by both");
    assert!(machine > 50 && free > 0, "{machine} {free}");
}
