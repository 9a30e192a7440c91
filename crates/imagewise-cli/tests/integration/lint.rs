//! `imagewise lint` end to end: agreement with OpenSCAP (the SCAP Security Guide's Debian 11
//! content, evaluated offline with `oscap-chroot`) on a clean and a misconfigured Debian 11
//! tree, hostile configuration files, and the command's options and exit codes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

const SSG_DS: &str = "/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml";
const SSG_PREFIX: &str = "xccdf_org.ssgproject.content_rule_";

/// oscap's result per SSG rule id (without the prefix). oscap runs on a copy: its package
/// probes leave libapt's temporary cache files in the root they are given.
fn oscap(root: &Path, scratch: &Path) -> BTreeMap<String, String> {
    let name = root.file_name().unwrap().to_string_lossy().to_string();
    let results = scratch.join(format!("{name}.xml"));
    let copy = scratch.join(&name);
    let st = Command::new("cp")
        .arg("-a")
        .arg(root)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a {}", root.display());
    let out = Command::new("oscap-chroot")
        .arg(&copy)
        .args(["xccdf", "eval", "--profile", "(all)", "--results"])
        .arg(&results)
        .arg(SSG_DS)
        .output()
        .expect("run oscap-chroot (scripts/install-deps.sh installs openscap-utils)");
    // 0: all passed, 2: some failed; anything else is oscap's own trouble.
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "oscap-chroot {}: {}",
        root.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = std::fs::read_to_string(&results).unwrap();
    let _ = std::fs::remove_dir_all(&copy);
    let mut map = BTreeMap::new();
    for chunk in xml.split("<rule-result ").skip(1) {
        let Some(id) = chunk
            .split("idref=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
        else {
            continue;
        };
        let Some(result) = chunk
            .split("<result>")
            .nth(1)
            .and_then(|s| s.split("</result>").next())
        else {
            continue;
        };
        if let Some(id) = id.strip_prefix(SSG_PREFIX) {
            map.insert(id.to_string(), result.to_string());
        }
    }
    assert!(map.len() > 300, "oscap reported only {} rules", map.len());
    map
}

fn lint_json(image: &str, extra: &[&str]) -> (Value, i32) {
    let mut args = vec!["lint", "--json", image];
    // Every built-in profile, so every rule that names an SSG rule runs.
    for (p, _) in imagewise_lint::BUILTIN_PROFILES {
        args.extend(["--profile", p]);
    }
    args.extend_from_slice(extra);
    let out = imagewise(&args);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "lint {image}: exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        serde_json::from_slice(&out.stdout).expect("lint --json"),
        code,
    )
}

#[test]
fn verdicts_agree_with_openscap_on_debian_11() {
    let f = fixtures();
    let scratch = tempfile::tempdir().unwrap();
    let rules: Value = serde_json::from_slice(&ok(&["lint", "--list-rules", "--json"])).unwrap();
    let with_ssg: Vec<(String, Vec<String>)> = rules
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            let ssg: Vec<String> = r["refs"]["ssg"]
                .as_array()?
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            (!ssg.is_empty()).then(|| (r["id"].as_str().unwrap().to_string(), ssg))
        })
        .collect();
    assert!(
        with_ssg.len() >= 15,
        "{} rules name an SSG rule",
        with_ssg.len()
    );
    let mut table = String::new();
    let mut disagree = Vec::new();
    let mut compared = BTreeMap::<&str, (usize, usize)>::new();
    for fixture in [
        "bullseye-rootfs",
        "bullseye-server-rootfs",
        "bullseye-misconfigured-rootfs",
    ] {
        let root = f.join(fixture);
        let theirs = oscap(&root, scratch.path());
        let (report, _) = lint_json(root.to_str().unwrap(), &[]);
        table.push_str(&format!("\n{fixture}\n"));
        for (id, ssg) in &with_ssg {
            let ours = report["results"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == id.as_str())
                .unwrap_or_else(|| panic!("{id} has no result"));
            let verdict = ours["verdict"].as_str().unwrap();
            let note = ours["note"].as_str().unwrap_or("");
            let results: Vec<String> = ssg
                .iter()
                .map(|s| theirs.get(s).cloned().unwrap_or_else(|| "absent".into()))
                .collect();
            let line = format!(
                "  {id:<26} {verdict:<15} {}",
                ssg.iter()
                    .zip(&results)
                    .map(|(s, r)| format!("{s}={r}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            // Skipped, each with its reason.
            let skip = if results.iter().any(|r| r == "absent") {
                Some("the SSG rule is not in the Debian 11 content")
            } else if id.starts_with("sysctl-") {
                Some("oscap's sysctl checks read the running kernel's /proc/sys, not the tree")
            } else if verdict == "not-applicable" && note.starts_with("applies to ") {
                Some("out of the rule's scope for this image kind (no init system)")
            } else if results
                .iter()
                .any(|r| !matches!(r.as_str(), "pass" | "fail" | "notapplicable"))
            {
                Some("oscap did not evaluate it offline")
            } else {
                None
            };
            if let Some(why) = skip {
                table.push_str(&format!("{line}   skipped: {why}\n"));
                continue;
            }
            let theirs_fail = results.iter().any(|r| r == "fail");
            let ours_fail = match verdict {
                "fail" => true,
                "pass" | "not-applicable" => false,
                other => {
                    disagree.push(format!("{fixture} {id}: ours {other} ({note})"));
                    continue;
                }
            };
            let c = compared.entry(fixture).or_default();
            if ours_fail {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
            table.push_str(&format!(
                "{line}   {}\n",
                if ours_fail == theirs_fail {
                    "agree"
                } else {
                    "DISAGREE"
                }
            ));
            if ours_fail != theirs_fail {
                disagree.push(format!("{fixture} {id}: ours {verdict}, oscap {results:?}"));
            }
        }
    }
    eprintln!("imagewise lint vs oscap (SSG Debian 11):{table}");
    assert!(
        disagree.is_empty(),
        "disagreements:\n{}",
        disagree.join("\n")
    );
    // Not vacuous: the misconfigured tree fails most compared rules, the server passes many.
    let (bad_fail, _) = compared["bullseye-misconfigured-rootfs"];
    let (_, server_pass) = compared["bullseye-server-rootfs"];
    assert!(bad_fail >= 13, "{compared:?}");
    assert!(server_pass >= 10, "{compared:?}");
}

/// A copy of a fixture tree with hostile configuration files written into it.
fn hostile_copy(src: &Path, dst: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(dst)
        .status()
        .unwrap();
    assert!(st.success());
    let w =
        |p: &str, data: &[u8]| std::fs::write(dst.join(p.trim_start_matches('/')), data).unwrap();
    // An Include loop: the config includes its own drop-in directory from inside it.
    std::fs::create_dir_all(dst.join("etc/ssh/sshd_config.d")).unwrap();
    w(
        "/etc/ssh/sshd_config",
        b"Include /etc/ssh/sshd_config.d/*.conf\nInclude /etc/ssh/sshd_config\nPermitRootLogin prohibit-password\n",
    );
    for i in 0..4 {
        w(
            &format!("/etc/ssh/sshd_config.d/{i}.conf"),
            b"Include /etc/ssh/sshd_config.d/*.conf\n",
        );
    }
    // login.defs of 3 MiB: beyond what lint reads.
    let mut huge = b"UMASK 077\n".to_vec();
    huge.resize(3 << 20, b'#');
    w("/etc/login.defs", &huge);
    // Binary garbage in sysctl.d.
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    w("/etc/sysctl.d/10-garbage.conf", &garbage);
    // sudoers that is not text.
    w("/etc/sudoers.d/zz", &garbage);
}

#[test]
fn hostile_configuration_gives_notes_not_crashes_or_passes() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let dst = t.path().join("root");
    hostile_copy(&f.join("bullseye-server-rootfs"), &dst);
    let (report, _) = lint_json(dst.to_str().unwrap(), &[]);
    let result = |id: &str| {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
            .clone()
    };
    // The Include loop is cut and said; no rule passes on a config it could not read whole.
    let root = result("ssh-root-login");
    assert_eq!(root["verdict"], "unknown", "{root}");
    assert!(root["note"].as_str().unwrap().contains("Include"), "{root}");
    // The huge login.defs is not read: unknown, never a pass on the 077 at its top.
    let umask = result("login-defs-umask");
    assert_eq!(umask["verdict"], "unknown", "{umask}");
    assert!(
        umask["note"].as_str().unwrap().contains("not read"),
        "{umask}"
    );
    // Garbage in sysctl.d: rules that still fail on what could be read fail; a rule that
    // would pass says it is unsure.
    let syncookies = result("sysctl-syncookies");
    assert_eq!(syncookies["verdict"], "unknown", "{syncookies}");
    assert!(
        syncookies["note"]
            .as_str()
            .unwrap()
            .contains("10-garbage.conf"),
        "{syncookies}"
    );
    assert_eq!(result("sysctl-kptr-restrict")["verdict"], "fail");
    let sudo = result("sudo-nopasswd");
    assert_eq!(sudo["verdict"], "unknown", "{sudo}");
}

#[test]
fn options_exit_codes_and_outputs() {
    let f = fixtures();
    let bad = f.join("bullseye-misconfigured-rootfs");
    let bad = bad.to_str().unwrap();
    let t = tempfile::tempdir().unwrap();
    // --fail-on: the misconfigured tree has a critical failure (an empty password).
    let code = |args: &[&str]| imagewise(args).status.code().unwrap();
    assert_eq!(
        code(&["lint", bad]),
        0,
        "no --fail-on: the answer is printed, exit 0"
    );
    assert_eq!(code(&["lint", "--fail-on", "critical", bad]), 1);
    // Alpine 3.20 is past its end of support (a high failure); trixie passes every rule.
    let alpine = f.join("alpine-rootfs");
    assert_eq!(
        code(&["lint", "--fail-on", "high", alpine.to_str().unwrap()]),
        1
    );
    let trixie = f.join("trixie-rootfs");
    assert_eq!(
        code(&["lint", "--fail-on", "low", trixie.to_str().unwrap()]),
        0
    );
    // --ignore accepts that one failure; an expired line does not.
    let ignore = t.path().join("ignore");
    std::fs::write(
        &ignore,
        "empty-password  # alice is a kiosk account\nuid0-not-root until=2020-01-01\n",
    )
    .unwrap();
    let out = imagewise(&[
        "lint",
        "--json",
        "--fail-on",
        "critical",
        "--ignore",
        ignore.to_str().unwrap(),
        bad,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ep = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "empty-password")
        .unwrap();
    assert!(ep["ignored"].as_str().unwrap().contains("kiosk"), "{ep}");
    assert_eq!(v["expired_ignores"].as_array().unwrap().len(), 1, "{v}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired"));
    // Bad inputs: exit 2 with the reason.
    std::fs::write(&ignore, "no-such-rule\n").unwrap();
    let out = imagewise(&["lint", "--ignore", ignore.to_str().unwrap(), bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no rule \"no-such-rule\""));
    let out = imagewise(&["lint", "--profile", "webb", bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("known: baseline"));
    // A user profile: extends web, disables a rule, raises a level, changes a threshold.
    let prof = t.path().join("profiles.toml");
    std::fs::write(
        &prof,
        "[profiles.edge]\nextends = [\"web\"]\ndisable = [\"tune-tw-reuse\"]\nlevels = { tune-somaxconn = \"critical\" }\nsettings = { somaxconn_min = 64 }\n",
    )
    .unwrap();
    let p = prof.to_str().unwrap();
    let out = imagewise(&[
        "lint",
        "--json",
        "--profile-file",
        p,
        "--profile",
        "edge",
        bad,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"tune-syn-backlog") && !ids.contains(&"tune-tw-reuse"),
        "{ids:?}"
    );
    let s = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "tune-somaxconn")
        .unwrap();
    // 128 in the tree's sysctl.d passes a minimum of 64, at the raised level.
    assert_eq!(
        (s["verdict"].as_str(), s["level"].as_str()),
        (Some("pass"), Some("critical")),
        "{s}"
    );
    std::fs::write(&prof, "[profiles.x]\nsettings = { somaxconn = 1 }\n").unwrap();
    let out = imagewise(&["lint", "--profile-file", p, "--profile", "x", bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("known settings"));
    // SARIF: one result per failure, rules for every selected rule.
    let v: Value = serde_json::from_slice(&ok(&["lint", "--sarif", bad])).unwrap();
    let run = &v["runs"][0];
    let fails = run["results"].as_array().unwrap().len();
    assert!(fails >= 10, "{fails}");
    assert!(run["tool"]["driver"]["rules"].as_array().unwrap().len() >= fails);
    // --list-rules: the catalogue, every rule with why and fix.
    let text = String::from_utf8(ok(&["lint", "--list-rules"])).unwrap();
    assert!(text.contains("ssh-root-login") && text.contains("profiles:"));
    let rules: Value = serde_json::from_slice(&ok(&["lint", "--list-rules", "--json"])).unwrap();
    assert!(rules.as_array().unwrap().len() >= 50);
}
