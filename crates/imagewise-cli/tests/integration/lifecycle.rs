//! The end-of-support table: its Debian and Ubuntu rows against Debian's own machine-readable
//! record (distro-info-data's CSV files, installed by scripts/install-deps.sh), `inspect`'s
//! `os.support` on the fixtures, a user file overriding it, and `rank`'s support requirement.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::*;

/// version → (eol, extended eol) from a distro-info CSV; `ext` names the extended column.
fn distro_info(file: &str, ext: &str) -> BTreeMap<String, (String, String)> {
    let path = format!("/usr/share/distro-info/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{path}: {e} (scripts/install-deps.sh installs distro-info-data)")
    });
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (v, eol, eol_server, x) = (
        col("version"),
        col("eol"),
        head.iter().position(|h| *h == "eol-server"),
        col(ext),
    );
    let mut out = BTreeMap::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("").to_string();
        let version = get(v).split_whitespace().next().unwrap_or("").to_string();
        let end = eol_server
            .map(get)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| get(eol));
        if version.is_empty() || end.is_empty() {
            continue;
        }
        out.insert(version, (end, get(x)));
    }
    out
}

fn table() -> Vec<Value> {
    let v: Value = serde_json::from_slice(&ok(&["lifecycle", "--json"])).unwrap();
    v["releases"].as_array().unwrap().clone()
}

#[test]
fn debian_and_ubuntu_rows_equal_distro_info_data() {
    let rows = table();
    for (id, file, ext, since) in [
        ("debian", "debian.csv", "eol-lts", 7.0),
        ("ubuntu", "ubuntu.csv", "eol-esm", 14.0),
    ] {
        let oracle = distro_info(file, ext);
        let mut compared = 0;
        for (version, (end, extended)) in &oracle {
            if version.parse::<f64>().unwrap_or(0.0) < since {
                continue;
            }
            let row = rows
                .iter()
                .find(|r| r["id"] == id && r["release"] == version.as_str())
                .unwrap_or_else(|| {
                    panic!("{id} {version} is in {file} but not in the lifecycle table")
                });
            assert_eq!(row["end"], end.as_str(), "{id} {version}: {row}");
            let ours = row["extended_end"].as_str().unwrap_or("");
            assert_eq!(ours, extended, "{id} {version} {ext}: {row}");
            compared += 1;
        }
        assert!(compared >= 7, "{id}: only {compared} rows compared");
    }
}

fn support(reference: &str, extra: &[&str]) -> Value {
    let mut args = vec!["inspect", "--json"];
    args.extend_from_slice(extra);
    args.push(reference);
    let v: Value = serde_json::from_slice(&ok(&args)).unwrap();
    v["os"]["support"].clone()
}

fn today() -> jiff::civil::Date {
    jiff::tz::Offset::UTC
        .to_datetime(jiff::Timestamp::now())
        .date()
}

#[test]
fn inspect_reports_the_end_of_support_of_each_fixture() {
    let fx = fixtures();
    let oracle = distro_info("debian.csv", "eol-lts");
    for name in ["bullseye-rootfs", "bookworm-rootfs", "trixie-rootfs"] {
        let root = fx.join(name);
        // The fixture's own release number, read from its files.
        let version = std::fs::read_to_string(root.join("etc/debian_version")).unwrap();
        let major = version.trim().split('.').next().unwrap().to_string();
        let (end, lts) = &oracle[&major];
        let s = support(root.to_str().unwrap(), &[]);
        assert_eq!(s["release"], major.as_str(), "{name}: {s}");
        assert_eq!(s["end_of_life"], end.as_str(), "{name}: {s}");
        assert_eq!(s["extended_end"], lts.as_str(), "{name}: {s}");
        assert_eq!(s["extended"], "LTS", "{name}: {s}");
        let end: jiff::civil::Date = end.parse().unwrap();
        assert_eq!(
            s["days_left"],
            (end - today()).get_days() as i64,
            "{name}: {s}"
        );
        let lts_end: jiff::civil::Date = lts.parse().unwrap();
        let want = if end >= today() {
            "supported"
        } else if lts_end >= today() {
            "extended"
        } else {
            "ended"
        };
        assert_eq!(s["status"], want, "{name}: {s}");
        assert!(
            s["source"].as_str().unwrap().contains("distro-info-data"),
            "{s}"
        );
    }
    // Alpine: /etc/alpine-release 3.20.x is the 3.20 branch.
    let alpine = fx.join("alpine-rootfs");
    let release = std::fs::read_to_string(alpine.join("etc/alpine-release")).unwrap();
    let branch: Vec<&str> = release.trim().split('.').take(2).collect();
    let s = support(alpine.to_str().unwrap(), &[]);
    assert_eq!(s["release"], branch.join("."), "{s}");
    let row = table()
        .into_iter()
        .find(|r| r["id"] == "alpine" && r["release"] == s["release"])
        .unwrap();
    assert_eq!(s["end_of_life"], row["end"], "{s}");
    assert!(
        s["source"]
            .as_str()
            .unwrap()
            .contains("alpinelinux.org/releases"),
        "{s}"
    );
}

#[test]
fn a_user_file_overrides_the_table_and_a_bad_one_is_refused() {
    let fx = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lifecycle.toml");
    std::fs::write(
        &file,
        "[distro.debian]\nsource = \"https://example.org/our-support-contract\"\nreleases = [{ release = \"12\", end = \"2099-12-31\" }]\n",
    )
    .unwrap();
    let bookworm = fx.join("bookworm-rootfs");
    let s = support(
        bookworm.to_str().unwrap(),
        &["--lifecycle", file.to_str().unwrap()],
    );
    assert_eq!(s["end_of_life"], "2099-12-31", "{s}");
    assert_eq!(s["status"], "supported", "{s}");
    assert_eq!(
        s["source"], "https://example.org/our-support-contract",
        "{s}"
    );
    assert!(
        s["table"]
            .as_str()
            .unwrap()
            .ends_with(file.to_str().unwrap()),
        "{s}"
    );
    // Rows the file does not name keep the shipped dates and citation.
    let s = support(
        fx.join("trixie-rootfs").to_str().unwrap(),
        &["--lifecycle", file.to_str().unwrap()],
    );
    assert_eq!(s["end_of_life"], "2028-08-09", "{s}");
    assert!(
        s["source"].as_str().unwrap().contains("distro-info-data"),
        "{s}"
    );
    // The same file from the environment, and from the XDG config dir.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imagewise"))
        .args(["inspect", "--json", bookworm.to_str().unwrap()])
        .env("IMAGEWISE_LIFECYCLE", &file)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["os"]["support"]["end_of_life"], "2099-12-31");
    let xdg = dir.path().join("config");
    std::fs::create_dir_all(xdg.join("imagewise")).unwrap();
    std::fs::copy(&file, xdg.join("imagewise/lifecycle.toml")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imagewise"))
        .args(["inspect", "--json", bookworm.to_str().unwrap()])
        .env("XDG_CONFIG_HOME", &xdg)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["os"]["support"]["end_of_life"], "2099-12-31");

    // lint judges the end of support by the same table: Alpine 3.20 with a user row extending
    // it passes the rule it fails by the shipped table.
    let alpine = fx.join("alpine-rootfs");
    let extended = dir.path().join("alpine.toml");
    std::fs::write(
        &extended,
        "[distro.alpine]\nreleases = [{ release = \"3.20\", end = \"2099-01-01\" }]\n",
    )
    .unwrap();
    let lint = |extra: &[&str]| -> String {
        let mut args = vec!["lint", "--json"];
        args.extend_from_slice(extra);
        args.push(alpine.to_str().unwrap());
        let v: Value = serde_json::from_slice(&ok(&args)).unwrap();
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "release-end-of-support")
            .unwrap()["verdict"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(lint(&[]), "fail");
    assert_eq!(lint(&["--lifecycle", extended.to_str().unwrap()]), "pass");

    std::fs::write(
        &file,
        "[distro.debian]\nreleases = [{ release = \"12\", end = \"next year\" }]\n",
    )
    .unwrap();
    let out = imagewise(&[
        "inspect",
        "--lifecycle",
        file.to_str().unwrap(),
        bookworm.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a date") && err.contains("lifecycle.toml"),
        "{err}"
    );
}

#[test]
fn rank_judges_support_by_the_table() {
    let fx = fixtures();
    let bookworm = fx.join("bookworm-rootfs");
    let trixie = fx.join("trixie-rootfs");
    let refs = [bookworm.to_str().unwrap(), trixie.to_str().unwrap()];
    let run = |spec: &str| -> Value {
        let out = imagewise(&["rank", "--json", "--require", spec, refs[0], refs[1]]);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Both fixtures' standard ends come from the table; a day between them splits them.
    let v = run("support>=2027-01-01");
    let passed: Vec<&str> = v["passed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reference"].as_str().unwrap())
        .collect();
    assert_eq!(passed, [refs[1]], "{v}");
    let why = &v["rejected"][0]["unmet"][0];
    assert_eq!(why["requirement"], "support", "{v}");
    assert_eq!(why["found"], "standard support until 2026-07-11", "{v}");
    // Counting Debian LTS, bookworm (LTS until 2028-06-30) passes too.
    let v = run("support>=2027-01-01 support-extended");
    assert_eq!(v["passed"].as_array().unwrap().len(), 2, "{v}");
}
