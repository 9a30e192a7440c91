//! `imagewise db import` → `imagewise scan` on the real debootstrap bookworm rootfs and the real
//! Alpine minirootfs, with OSV records written in the osv.dev schema for their packages. The
//! bookworm versions come from the fixture itself through `dpkg-query` (the fixture is built from
//! the live archive, so versions move); what each record must match is decided from the same
//! `dpkg-query` output, not from imagewise.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::support::{fixtures, imagewise, ok, shared};

/// package → (version, source name, source version), from the real dpkg.
fn dpkg_query(root: &Path) -> BTreeMap<String, (String, String, String)> {
    let out = Command::new("dpkg-query")
        .arg(format!("--admindir={}/var/lib/dpkg", root.display()))
        .args([
            "-W",
            "-f",
            "${Package}\t${Version}\t${source:Package}\t${source:Version}\n",
        ])
        .output()
        .expect("dpkg-query (scripts/install-deps.sh installs dpkg)");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].into(), (f[1].into(), f[2].into(), f[3].into()))
        })
        .collect()
}

fn dpkg_lt(a: &str, b: &str) -> bool {
    Command::new("dpkg")
        .args(["--compare-versions", a, "lt", b])
        .status()
        .unwrap()
        .success()
}

/// The next Debian stable update of a source version: `…+deb12u3` → `…+deb12u4`, else `…+deb12u1`.
fn next_update(v: &str) -> String {
    match v.rsplit_once("+deb12u") {
        Some((head, n)) if n.parse::<u32>().is_ok() => {
            format!("{head}+deb12u{}", n.parse::<u32>().unwrap() + 1)
        }
        _ => format!("{v}+deb12u1"),
    }
}

pub(crate) fn rec(id: &str, eco: &str, name: &str, events: Value) -> Value {
    let purl = if eco.starts_with("Debian") {
        format!("pkg:deb/debian/{name}?arch=source")
    } else {
        format!("pkg:apk/alpine/{name}")
    };
    json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": "2026-11-20T10:00:00Z",
        "published": "2026-11-01T00:00:00Z",
        "aliases": [id.split_once('-').map(|(_, r)| r.trim_start_matches("CVE-")).map(|r| format!("CVE-{r}")).unwrap()],
        "details": format!("A flaw was found in {name}.\n\nMore text."),
        "affected": [{
            "package": {"ecosystem": eco, "name": name, "purl": purl},
            "ranges": [{"type": "ECOSYSTEM", "events": events}],
            "database_specific": {"source": format!("https://storage.googleapis.com/cve-osv-conversion/osv-output/{id}.json")}
        }],
        "references": [{"type": "ADVISORY", "url": format!("https://security-tracker.debian.org/tracker/{id}")}]
    })
}

pub(crate) fn write_json(dir: &Path, v: &Value) {
    let name = format!("{}.json", v["id"].as_str().unwrap());
    std::fs::write(dir.join(name), serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// A zip as osv.dev's all.zip holds them: one `<ID>.json` per record.
fn write_zip(path: &Path, records: &[Value]) {
    let script = "import sys, zipfile, json\n\
                  recs = json.load(open(sys.argv[2]))\n\
                  with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
                  \x20   for r in recs: z.writestr(r['id'] + '.json', json.dumps(r))\n";
    let list = path.with_extension("list.json");
    std::fs::write(&list, serde_json::to_vec(records).unwrap()).unwrap();
    let st = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .arg(&list)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::remove_file(list).unwrap();
}

fn scan_json(args: &[&str]) -> (Value, i32, String) {
    let out = imagewise(args);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (
        v,
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn pairs(v: &Value) -> BTreeSet<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["package"].as_str().unwrap().to_string(),
                f["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn scan_of_bookworm_matches_source_packages_as_debian_publishes_them() {
    let root = fixtures().join("bookworm-rootfs");
    let pkgs = dpkg_query(&root);
    let src_version = |src: &str| -> String {
        pkgs.values()
            .find(|p| p.1 == src)
            .map(|p| p.2.clone())
            .unwrap_or_else(|| panic!("{src} not in the fixture"))
    };
    let binaries_of = |src: &str| -> BTreeSet<String> {
        pkgs.iter()
            .filter(|(_, p)| p.1 == src)
            .map(|(n, _)| n.clone())
            .collect()
    };
    // The traps this fixture holds, checked with dpkg itself so the test means what it says.
    let (bsd_v, _, _) = &pkgs["bsdutils"];
    assert!(
        bsd_v.starts_with("1:") && !src_version("util-linux").contains(':'),
        "bsdutils carries an epoch its source util-linux does not"
    );
    let (bz_v, _, bz_src) = &pkgs["libbz2-1.0"];
    assert!(bz_v.contains("+b"), "libbz2-1.0 is a binNMU: {bz_v}");
    let (bash_v, _, bash_src) = &pkgs["bash"];
    assert!(bash_v.contains("+b") && dpkg_lt(bash_src, bash_v));

    let util_fix = next_update(&src_version("util-linux"));
    let zlib_fix = next_update(&src_version("zlib"));
    assert!(
        zlib_fix.starts_with("1:"),
        "zlib's source version has an epoch"
    );
    let mut a = rec(
        "DEBIAN-CVE-2099-10001",
        "Debian:12",
        "util-linux",
        json!([{"introduced": "0"}, {"fixed": util_fix}]),
    );
    a["severity"] =
        json!([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}]);
    // binNMU whose source version is the fixed one: not affected.
    let b = rec(
        "DEBIAN-CVE-2099-10002",
        "Debian:12",
        "bzip2",
        json!([{"introduced": "0"}, {"fixed": bz_src}]),
    );
    // last_affected at the source version: the +bN binary is affected, no fix known.
    let c = rec(
        "DEBIAN-CVE-2099-10003",
        "Debian:12",
        "bash",
        json!([{"introduced": "0"}, {"last_affected": bash_src}]),
    );
    // Withdrawn: would match, must not.
    let mut d = rec(
        "DEBIAN-CVE-2099-10004",
        "Debian:12",
        "glibc",
        json!([{"introduced": "0"}]),
    );
    d["withdrawn"] = json!("2026-11-10T00:00:00Z");
    // Unfixed, rated by Debian's urgency.
    let mut e = rec(
        "DEBIAN-CVE-2099-10005",
        "Debian:12",
        "tar",
        json!([{"introduced": "0"}]),
    );
    e["affected"][0]["ecosystem_specific"] = json!({"urgency": "low"});
    // Fixed long ago (bookworm's first glibc): not affected.
    let f = rec(
        "DEBIAN-CVE-2099-10006",
        "Debian:12",
        "glibc",
        json!([{"introduced": "0"}, {"fixed": "2.36-9"}]),
    );
    // Another release: not matched.
    let g = rec(
        "DEBIAN-CVE-2099-10007",
        "Debian:11",
        "bash",
        json!([{"introduced": "0"}]),
    );
    // Epoch in the source version, scored with CVSS v4.
    let mut h = rec(
        "DEBIAN-CVE-2099-10008",
        "Debian:12",
        "zlib",
        json!([{"introduced": "0"}, {"fixed": zlib_fix}]),
    );
    h["severity"] = json!([{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]);
    // A binary package name in a Debian advisory: Debian's are per source, so this is no match.
    let i = rec(
        "DEBIAN-CVE-2099-10009",
        "Debian:12",
        "libc6",
        json!([{"introduced": "0"}]),
    );
    let j = json!({"id": "PYSEC-2099-1", "modified": "2026-11-20T10:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "bash"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]});

    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("records");
    std::fs::create_dir_all(&dir).unwrap();
    for r in [&a, &b, &c, &d, &e] {
        write_json(&dir, r);
    }
    let zip = t.path().join("all.zip");
    write_zip(&zip, &[f, g, h, i, j]);
    let db = t.path().join("db");
    let db_s = db.to_str().unwrap();
    let out = imagewise(&[
        "db",
        "import",
        "--db",
        db_s,
        "--json",
        dir.to_str().unwrap(),
        zip.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            rep["records"].as_u64(),
            rep["added"].as_u64(),
            rep["withdrawn"].as_u64(),
            rep["skipped"].as_u64()
        ),
        (Some(10), Some(10), Some(1), Some(0)),
        "{rep}"
    );

    let root_s = root.to_str().unwrap();
    let (v, code, stderr) = scan_json(&["scan", "--json", "--db", db_s, root_s]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(v["complete"], true, "{}", v["problems"]);
    assert_eq!(v["ecosystems"], json!(["Debian:12"]));
    assert_eq!(v["packages_scanned"].as_u64(), Some(pkgs.len() as u64));
    let mut want: BTreeSet<(String, String)> = BTreeSet::new();
    for (src, id) in [
        ("util-linux", "DEBIAN-CVE-2099-10001"),
        ("bash", "DEBIAN-CVE-2099-10003"),
        ("tar", "DEBIAN-CVE-2099-10005"),
        ("zlib", "DEBIAN-CVE-2099-10008"),
    ] {
        for bin in binaries_of(src) {
            want.insert((bin, id.to_string()));
        }
    }
    assert_eq!(pairs(&v), want);
    let find = |pkg: &str, id: &str| -> Value {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["package"] == pkg && f["id"] == id)
            .cloned()
            .unwrap()
    };
    let bsd = find("bsdutils", "DEBIAN-CVE-2099-10001");
    assert_eq!(bsd["installed_version"], bsd_v.as_str());
    assert_eq!(bsd["matched_name"], "util-linux");
    assert_eq!(bsd["fixed_version"], util_fix.as_str());
    assert_eq!(bsd["state"], "fixed");
    assert_eq!(bsd.pointer("/severity/level").unwrap(), "high");
    assert_eq!(bsd.pointer("/severity/cvss/score").unwrap(), 7.8);
    assert_eq!(bsd["aliases"], json!(["CVE-2099-10001"]));
    assert_eq!(
        bsd["url"],
        "https://security-tracker.debian.org/tracker/DEBIAN-CVE-2099-10001"
    );
    let bash = find("bash", "DEBIAN-CVE-2099-10003");
    assert_eq!(
        (bash["state"].as_str(), bash["fixed_version"].is_null()),
        (Some("unfixed"), true)
    );
    assert_eq!(bash["matched_version"], bash_src.as_str());
    let tar = find("tar", "DEBIAN-CVE-2099-10005");
    assert_eq!(tar.pointer("/severity/level").unwrap(), "low");
    assert_eq!(tar.pointer("/severity/source").unwrap(), "distribution");
    assert_eq!(
        tar["summary"], "A flaw was found in tar.",
        "first line of details when no summary"
    );
    let z = find("zlib1g", "DEBIAN-CVE-2099-10008");
    assert_eq!(z.pointer("/severity/level").unwrap(), "critical");
    assert_eq!(z.pointer("/severity/cvss/score").unwrap(), 9.3);
    assert_eq!(
        v.pointer("/counts/critical").unwrap().as_u64(),
        Some(binaries_of("zlib").len() as u64)
    );

    // --fail-on: critical findings fail `critical`; an ignore rule (by alias, until a future
    // date) accepts them; an expired rule does not.
    assert_eq!(
        imagewise(&["scan", "--db", db_s, "--fail-on", "critical", root_s])
            .status
            .code(),
        Some(1)
    );
    let ign = t.path().join("ignore");
    std::fs::write(
        &ign,
        "# accepted until the rebuild\nCVE-2099-10008 until=2999-01-01  # zlib: not reachable\n",
    )
    .unwrap();
    let out = imagewise(&[
        "scan",
        "--db",
        db_s,
        "--fail-on",
        "critical",
        "--ignore",
        ign.to_str().unwrap(),
        root_s,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.contains("(unfixed)") && human.contains("ignored") && !human.contains("zlib1g"),
        "{human}"
    );
    assert_eq!(
        imagewise(&[
            "scan",
            "--db",
            db_s,
            "--fail-on",
            "high",
            "--ignore",
            ign.to_str().unwrap(),
            root_s
        ])
        .status
        .code(),
        Some(1)
    );
    std::fs::write(&ign, "CVE-2099-10008 until=2001-01-01\n").unwrap();
    let out = imagewise(&[
        "scan",
        "--db",
        db_s,
        "--fail-on",
        "critical",
        "--ignore",
        ign.to_str().unwrap(),
        root_s,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired"));
    std::fs::write(&ign, "CVE-2099-10008 severity=low\n").unwrap();
    let out = imagewise(&[
        "scan",
        "--db",
        db_s,
        "--ignore",
        ign.to_str().unwrap(),
        root_s,
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad ignore file is an input error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));

    // SARIF: one result per finding, one rule per advisory, severity for dashboards.
    let sarif: Value =
        serde_json::from_slice(&ok(&["scan", "--sarif", "--db", db_s, root_s])).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["results"].as_array().unwrap().len(), want.len());
    assert_eq!(
        run.pointer("/tool/driver/rules")
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        run.pointer("/results/0/locations/0/physicalLocation/artifactLocation/uri")
            .unwrap(),
        "var/lib/dpkg/status"
    );

    // The same scan through a tarball of the same tree gives the same findings.
    let (tv, _, _) = scan_json(&[
        "scan",
        "--json",
        "--db",
        db_s,
        fixtures().join("bookworm.tar").to_str().unwrap(),
    ]);
    assert_eq!(pairs(&tv), want);
}

#[test]
fn scan_of_alpine_matches_by_origin() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("records");
    std::fs::create_dir_all(&dir).unwrap();
    // As Alpine's secdb-derived OSV records are written: per origin, Alpine:vX.Y.
    write_json(
        &dir,
        &rec(
            "ALPINE-CVE-2099-20001",
            "Alpine:v3.20",
            "openssl",
            json!([{"introduced": "0"}, {"fixed": "3.3.2-r1"}]),
        ),
    );
    write_json(
        &dir,
        &rec(
            "ALPINE-CVE-2099-20002",
            "Alpine:v3.20",
            "busybox",
            json!([{"introduced": "0"}, {"fixed": "1.36.1-r29"}]),
        ),
    );
    write_json(
        &dir,
        &rec(
            "ALPINE-CVE-2099-20003",
            "Alpine:v3.19",
            "zlib",
            json!([{"introduced": "0"}]),
        ),
    );
    write_json(
        &dir,
        &rec(
            "ALPINE-CVE-2099-20004",
            "Alpine:v3.20",
            "libssl3",
            json!([{"introduced": "0"}]),
        ),
    );
    let db = t.path().join("db");
    ok(&[
        "db",
        "import",
        "--db",
        db.to_str().unwrap(),
        dir.to_str().unwrap(),
    ]);
    let alpine = shared().join("alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    let (v, code, _) = scan_json(&[
        "scan",
        "--json",
        "--db",
        db.to_str().unwrap(),
        alpine.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["ecosystems"], json!(["Alpine:v3.20"]));
    // The minirootfs' apk database: libcrypto3 and libssl3 have origin openssl at 3.3.2-r0.
    let want: BTreeSet<(String, String)> = [
        ("libcrypto3", "ALPINE-CVE-2099-20001"),
        ("libssl3", "ALPINE-CVE-2099-20001"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(
        pairs(&v),
        want,
        "busybox is at its fixed version, zlib's record is for 3.19, and libssl3 is not an origin"
    );
    assert_eq!(v.pointer("/findings/0/fixed_version").unwrap(), "3.3.2-r1");
}

#[test]
fn scans_that_cannot_cover_the_image_say_so_and_fail_the_gate() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("records");
    std::fs::create_dir_all(&dir).unwrap();
    write_json(
        &dir,
        &rec(
            "ALPINE-CVE-2099-30001",
            "Alpine:v3.20",
            "busybox",
            json!([{"introduced": "0"}]),
        ),
    );
    let db = t.path().join("db");
    let db_s = db.to_str().unwrap();
    ok(&["db", "import", "--db", db_s, dir.to_str().unwrap()]);

    // No package database at all (a static binary in a scratch image).
    let scratch = fixtures().join("scratch.tar");
    let (v, code, stderr) = scan_json(&["scan", "--json", "--db", db_s, scratch.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(v["complete"], false);
    assert!(
        stderr.contains("WARNING: scan incomplete: no package database"),
        "{stderr}"
    );
    let gate = |img: &str, extra: &[&str]| {
        let mut args = vec!["scan", "--db", db_s, "--fail-on", "critical"];
        args.extend_from_slice(extra);
        args.push(img);
        imagewise(&args)
    };
    let out = gate(scratch.to_str().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("INCOMPLETE"));
    assert_eq!(
        gate(scratch.to_str().unwrap(), &["--allow-incomplete"])
            .status
            .code(),
        Some(0)
    );

    // A distribution the database holds nothing for.
    let root = fixtures().join("bookworm-rootfs");
    let (v, _, _) = scan_json(&["scan", "--json", "--db", db_s, root.to_str().unwrap()]);
    assert!(
        v["problems"][0]
            .as_str()
            .unwrap()
            .contains("no records for Debian:12"),
        "{}",
        v["problems"]
    );
    assert_eq!(gate(root.to_str().unwrap(), &[]).status.code(), Some(1));

    // A distribution nobody publishes OSV data for.
    let odd = t.path().join("odd");
    std::fs::create_dir_all(odd.join("etc")).unwrap();
    std::fs::create_dir_all(odd.join("lib/apk/db")).unwrap();
    std::fs::write(odd.join("etc/os-release"), "ID=plan9\nVERSION_ID=4\n").unwrap();
    std::fs::copy(
        fixtures().join("alpine-rootfs/lib/apk/db/installed"),
        odd.join("lib/apk/db/installed"),
    )
    .unwrap();
    let (v, _, stderr) = scan_json(&["scan", "--json", "--db", db_s, odd.to_str().unwrap()]);
    assert!(
        stderr.contains("unknown distribution \"plan9\""),
        "{stderr}"
    );
    assert_eq!(v["complete"], false);

    // No database yet: an input error that says what to run.
    let out = imagewise(&[
        "scan",
        "--db",
        t.path().join("nowhere").to_str().unwrap(),
        root.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("imagewise db import"));
}

#[test]
fn db_status_and_damaged_imports_through_the_cli() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("records");
    std::fs::create_dir_all(&dir).unwrap();
    let mut old = rec(
        "DEBIAN-CVE-2099-40001",
        "Debian:12",
        "bash",
        json!([{"introduced": "0"}]),
    );
    old["modified"] = json!("2024-01-01T00:00:00Z");
    write_json(&dir, &old);
    let db = t.path().join("db");
    let db_s = db.to_str().unwrap();
    ok(&["db", "import", "--db", db_s, dir.to_str().unwrap()]);
    let out = imagewise(&["db", "status", "--db", db_s]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Debian:12") && text.contains("2024-01-01T00:00:00Z"),
        "{text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("days old"),
        "stale data is warned about"
    );
    let st: Value = serde_json::from_slice(&ok(&[
        "db",
        "status",
        "--json",
        "--db",
        db_s,
        "--max-age-days",
        "100000",
    ]))
    .unwrap();
    assert_eq!(
        (st["records"].as_u64(), st["stale"].as_bool()),
        (Some(1), Some(false))
    );

    // A truncated all.zip: exit 2, named, the database still answers.
    let zip = t.path().join("all.zip");
    write_zip(
        &zip,
        &[rec(
            "DEBIAN-CVE-2099-40002",
            "Debian:12",
            "tar",
            json!([{"introduced": "0"}]),
        )],
    );
    let bytes = std::fs::read(&zip).unwrap();
    std::fs::File::create(&zip)
        .unwrap()
        .write_all(&bytes[..bytes.len() - 30])
        .unwrap();
    let out = imagewise(&["db", "import", "--db", db_s, zip.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("all.zip") && err.contains("download it again"),
        "{err}"
    );
    let st: Value = serde_json::from_slice(&ok(&["db", "status", "--json", "--db", db_s])).unwrap();
    assert_eq!(st["records"].as_u64(), Some(1));
}
