//! The OSV database: what import keeps and skips, re-import by `modified`, damaged inputs and
//! files, and matching rules that need no image (rpm epochs, unknown distributions).

use std::io::Write;
use std::path::{Path, PathBuf};

use imagewise_vuln::{
    import_paths, scan, Database, DbError, Distro, FixState, ImportReport, Installed, Level,
    VersionOrder,
};
use serde_json::{json, Value};

fn record(id: &str, modified: &str, eco: &str, name: &str, events: Value) -> Value {
    json!({
        "id": id, "modified": modified, "aliases": [format!("CVE-{}", &id[id.len()-9..])],
        "summary": format!("{name} issue"),
        "affected": [{"package": {"ecosystem": eco, "name": name},
                      "ranges": [{"type": "ECOSYSTEM", "events": events}]}]
    })
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p
}

fn zip_of(path: &Path, members: &[(&str, Vec<u8>)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

fn import(db_dir: &Path, paths: &[&Path]) -> ImportReport {
    let mut db = Database::create(db_dir).unwrap();
    import_paths(&mut db, paths, &mut |_| {}).unwrap()
}

fn deb(name: &str, version: &str, src: &str, src_version: &str) -> Installed {
    Installed {
        order: VersionOrder::Dpkg,
        name: name.into(),
        version: version.into(),
        source_name: src.into(),
        source_version: src_version.into(),
        epoch: None,
    }
}

fn debian12() -> Distro {
    Distro {
        id: "debian".into(),
        id_like: vec![],
        version_id: Some("12".into()),
    }
}

#[test]
fn import_skips_bad_records_with_reasons_and_keeps_the_rest() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("osv");
    std::fs::create_dir_all(src.join("nested")).unwrap();
    let ev = json!([{"introduced": "0"}, {"fixed": "1.2-1"}]);
    write(
        &src,
        "good.json",
        &record(
            "DEBIAN-CVE-2099-00001",
            "2024-01-01T00:00:00Z",
            "Debian:12",
            "foo",
            ev.clone(),
        ),
    );
    write(
        &src.join("nested"),
        "good2.json",
        &record(
            "DEBIAN-CVE-2099-00002",
            "2024-01-01T00:00:00Z",
            "Debian:12",
            "bar",
            ev.clone(),
        ),
    );
    write(
        &src,
        "unknown-eco.json",
        &record(
            "X-CVE-2099-00003",
            "2024-01-01T00:00:00Z",
            "Debain:12",
            "foo",
            ev.clone(),
        ),
    );
    write(
        &src,
        "hex.json",
        &record(
            "GHSA-CVE-2099-00004",
            "2024-01-01T00:00:00Z",
            "Hex",
            "plug",
            ev.clone(),
        ),
    );
    write(
        &src,
        "bad-range.json",
        &record(
            "DEBIAN-CVE-2099-00005",
            "2024-01-01T00:00:00Z",
            "Debian:12",
            "foo",
            json!([{"introduced": "0"}, {"fixed": "1.2 final"}]),
        ),
    );
    write(
        &src,
        "two-fields.json",
        &record(
            "DEBIAN-CVE-2099-00006",
            "2024-01-01T00:00:00Z",
            "Debian:12",
            "foo",
            json!([{"introduced": "0", "fixed": "1.2-1"}]),
        ),
    );
    write(
        &src,
        "no-introduced.json",
        &record(
            "DEBIAN-CVE-2099-00007",
            "2024-01-01T00:00:00Z",
            "Debian:12",
            "foo",
            json!([{"fixed": "1.2-1"}]),
        ),
    );
    write(
        &src,
        "bad-time.json",
        &record(
            "DEBIAN-CVE-2099-00008",
            "yesterday",
            "Debian:12",
            "foo",
            ev.clone(),
        ),
    );
    write(
        &src,
        "no-modified.json",
        &json!({"id": "DEBIAN-CVE-2099-00009", "affected": []}),
    );
    std::fs::write(src.join("garbage.json"), b"{\"id\": \"DEBIAN-CVE-2099-0001").unwrap();
    std::fs::write(src.join("README.md"), b"not a record, not read").unwrap();

    let db_dir = t.path().join("db");
    let r = import(&db_dir, &[&src]);
    assert_eq!((r.records, r.added, r.skipped), (10, 2, 8), "{r:#?}");
    let by = |k: &str| r.skipped_by_reason.get(k).copied().unwrap_or(0);
    assert_eq!(by("unknown ecosystem"), 1);
    assert_eq!(by("unsupported ecosystem"), 1);
    assert_eq!(
        by("bad range"),
        3,
        "bad version, two fields in one event, no introduced"
    );
    assert_eq!(by("invalid modified time"), 1);
    assert_eq!(by("not an OSV record"), 1, "missing modified");
    assert_eq!(by("invalid JSON"), 1);
    let reasons: Vec<&str> = r
        .skipped_examples
        .iter()
        .map(|s| s.reason.as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|x| x.contains("\"Debain:12\"") && x.contains("unknown ecosystem")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|x| x.contains("\"1.2 final\"")),
        "{reasons:?}"
    );
    assert!(r.failed_sources.is_empty());

    let db = Database::open(&db_dir).unwrap();
    let st = db.status().unwrap();
    assert_eq!(st.records, 2);
    assert_eq!(st.ecosystems.len(), 1);
    assert_eq!(st.ecosystems[0].ecosystem, "Debian:12");
    assert_eq!(st.newest_modified.as_deref(), Some("2024-01-01T00:00:00Z"));
    assert_eq!(db.lookup("Debian:12", "foo").unwrap().len(), 1);
}

#[test]
fn reimport_updates_by_modified_and_withdrawal_removes_matches() {
    let t = tempfile::tempdir().unwrap();
    let db_dir = t.path().join("db");
    let v1 = record(
        "DEBIAN-CVE-2099-00010",
        "2024-01-01T00:00:00Z",
        "Debian:12",
        "foo",
        json!([{"introduced": "0"}, {"fixed": "1.2-1"}]),
    );
    let a = write(t.path(), "v1.json", &v1);
    assert_eq!(import(&db_dir, &[&a]).added, 1);
    assert_eq!(
        import(&db_dir, &[&a]).unchanged,
        1,
        "same modified: unchanged"
    );

    let pkgs = [deb("libfoo1", "1.2-1+b1", "foo", "1.2-1")];
    let findings = |dir: &Path| {
        scan(&Database::open(dir).unwrap(), &debian12(), &pkgs)
            .unwrap()
            .findings
    };
    assert!(
        findings(&db_dir).is_empty(),
        "fixed in the source version: not affected"
    );

    // The advisory is corrected: the fix came later. Newer `modified` replaces the entry.
    let mut v2 = record(
        "DEBIAN-CVE-2099-00010",
        "2024-02-01T00:00:00+01:00",
        "Debian:12",
        "foo",
        json!([{"introduced": "0"}, {"fixed": "1.2-2"}]),
    );
    let b = write(t.path(), "v2.json", &v2);
    let r = import(&db_dir, &[&b]);
    assert_eq!((r.updated, r.added), (1, 0));
    let f = findings(&db_dir);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].package, "libfoo1");
    assert_eq!(f[0].fixed_version.as_deref(), Some("1.2-2"));
    assert_eq!(f[0].state, FixState::Fixed);

    // An older copy does not roll it back.
    assert_eq!(import(&db_dir, &[&a]).unchanged, 1);
    assert_eq!(findings(&db_dir).len(), 1);

    // Withdrawn: kept as a record, never matched.
    v2["modified"] = json!("2024-03-01T00:00:00Z");
    v2["withdrawn"] = json!("2024-03-01T00:00:00Z");
    let c = write(t.path(), "v3.json", &v2);
    let r = import(&db_dir, &[&c]);
    assert_eq!((r.updated, r.withdrawn), (1, 1));
    assert!(findings(&db_dir).is_empty());
    let st = Database::open(&db_dir).unwrap().status().unwrap();
    assert_eq!((st.records, st.withdrawn), (1, 1));
}

#[test]
fn damaged_zips_are_named_and_the_database_stays_usable() {
    let t = tempfile::tempdir().unwrap();
    let db_dir = t.path().join("db");
    let ev = json!([{"introduced": "0"}, {"fixed": "1.2-1"}]);
    let members: Vec<(String, Vec<u8>)> = (0..50)
        .map(|i| {
            let id = format!("DEBIAN-CVE-2099-{i:05}");
            let v = record(
                &id,
                "2024-01-01T00:00:00Z",
                "Debian:12",
                &format!("pkg{i}"),
                ev.clone(),
            );
            // Padding makes the members compress into long deflate streams worth damaging.
            let mut v = v;
            v["details"] = json!(format!("{}", "lorem ipsum dolor sit amet ".repeat(40 + i)));
            (format!("{id}.json"), serde_json::to_vec(&v).unwrap())
        })
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = members
        .iter()
        .map(|(n, d)| (n.as_str(), d.clone()))
        .collect();
    let good = t.path().join("all.zip");
    zip_of(&good, &refs);
    let r = import(&db_dir, &[&good]);
    assert_eq!((r.added, r.skipped), (50, 0));
    let details = Database::open(&db_dir)
        .unwrap()
        .record("DEBIAN-CVE-2099-00049")
        .unwrap()
        .unwrap()
        .details
        .unwrap();
    assert!(
        details.len() <= imagewise_vuln::MAX_DETAILS + 4,
        "details capped"
    );

    // Cut short: the central directory is gone. The whole source is refused, nothing changes.
    let bytes = std::fs::read(&good).unwrap();
    let cut = t.path().join("cut.zip");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let r = import(&db_dir, &[&cut]);
    assert_eq!(r.failed_sources.len(), 1, "{r:#?}");
    assert!(
        r.failed_sources[0].contains("cut.zip")
            && r.failed_sources[0].contains("download it again"),
        "{}",
        r.failed_sources[0]
    );
    assert_eq!(
        Database::open(&db_dir).unwrap().status().unwrap().records,
        50
    );

    // One member's deflate data damaged: that member is skipped, the others land.
    let ev2 = json!([{"introduced": "0"}, {"fixed": "1.3-1"}]);
    let fresh: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| {
            let id = format!("DEBIAN-CVE-2098-{i:05}");
            let mut v = record(&id, "2024-06-01T00:00:00Z", "Debian:12", "zz", ev2.clone());
            v["details"] = json!("damage me ".repeat(300));
            (format!("{id}.json"), serde_json::to_vec(&v).unwrap())
        })
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = fresh.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
    let dmg = t.path().join("damaged.zip");
    zip_of(&dmg, &refs);
    let mut bytes = std::fs::read(&dmg).unwrap();
    // The second member's local header: find its name, damage bytes inside its data.
    let name = b"DEBIAN-CVE-2098-00001.json";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap() + name.len() + 20;
    for b in &mut bytes[at..at + 8] {
        *b ^= 0x5a;
    }
    std::fs::write(&dmg, &bytes).unwrap();
    let r = import(&db_dir, &[&dmg]);
    assert_eq!(r.added, 2, "{r:#?}");
    assert_eq!(
        r.skipped_by_reason.get("damaged zip entry"),
        Some(&1),
        "{r:#?}"
    );
    assert!(r.skipped_examples[0]
        .origin
        .contains("DEBIAN-CVE-2098-00001.json"));
    let st = Database::open(&db_dir).unwrap().status().unwrap();
    assert_eq!(st.records, 52);
}

#[test]
fn newer_and_foreign_database_files_are_refused_untouched() {
    let t = tempfile::tempdir().unwrap();
    let db_dir = t.path().join("db");
    let a = write(
        t.path(),
        "a.json",
        &record(
            "DEBIAN-CVE-2099-00020",
            "2024-01-01T00:00:00Z",
            "Debian:12",
            "foo",
            json!([{"introduced": "0"}]),
        ),
    );
    import(&db_dir, &[&a]);
    let file = db_dir.join(imagewise_vuln::DB_FILE);
    {
        let c = rusqlite::Connection::open(&file).unwrap();
        c.execute(
            "UPDATE meta SET value = '99' WHERE key = 'format_version'",
            [],
        )
        .unwrap();
    }
    let before = std::fs::read(&file).unwrap();
    for r in [
        Database::open(&db_dir).err(),
        Database::create(&db_dir).err(),
    ] {
        match r {
            Some(e @ DbError::NewerFormat { found: 99, .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("newer imagewise") && msg.contains("upgrade"),
                    "{msg}"
                );
            }
            other => panic!("expected NewerFormat, got {other:?}"),
        }
    }
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the file is not touched"
    );
    {
        let c = rusqlite::Connection::open(&file).unwrap();
        c.execute(
            "UPDATE meta SET value = '1' WHERE key = 'format_version'",
            [],
        )
        .unwrap();
    }
    assert_eq!(
        Database::open(&db_dir).unwrap().status().unwrap().records,
        1,
        "usable again"
    );

    let other = t.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join(imagewise_vuln::DB_FILE),
        b"this is a text file, not SQLite",
    )
    .unwrap();
    assert!(matches!(
        Database::open(&other),
        Err(DbError::NotADatabase { .. })
    ));
    assert!(matches!(
        Database::open(&t.path().join("none")),
        Err(DbError::Missing(_))
    ));
}

#[test]
fn rpm_matches_by_source_rpm_with_epoch_and_unknown_distros_say_so() {
    let t = tempfile::tempdir().unwrap();
    let db_dir = t.path().join("db");
    // As Rocky Linux writes them: source package, EVR with the epoch.
    let mut r = record(
        "RLSA-2099:00001",
        "2024-01-01T00:00:00Z",
        "Rocky Linux:9",
        "openssl",
        json!([{"introduced": "0"}, {"fixed": "1:3.0.7-25.el9_3"}]),
    );
    r["severity"] =
        json!([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]);
    let a = write(t.path(), "a.json", &r);
    import(&db_dir, &[&a]);
    let db = Database::open(&db_dir).unwrap();
    let rocky = Distro {
        id: "rocky".into(),
        id_like: vec!["rhel".into()],
        version_id: Some("9.3".into()),
    };
    let libs = |epoch: Option<u64>, vr: &str| Installed {
        order: VersionOrder::Rpm,
        name: "openssl-libs".into(),
        version: match epoch {
            Some(e) => format!("{e}:{vr}"),
            None => vr.into(),
        },
        source_name: "openssl".into(),
        source_version: vr.into(),
        epoch,
    };
    let f = scan(&db, &rocky, &[libs(Some(1), "3.0.7-24.el9")]).unwrap();
    assert_eq!(f.findings.len(), 1);
    assert_eq!(f.findings[0].package, "openssl-libs");
    assert_eq!(f.findings[0].matched_version, "1:3.0.7-24.el9");
    assert_eq!(f.findings[0].severity.level, Level::High);
    assert!(f.is_complete());
    assert!(scan(&db, &rocky, &[libs(Some(1), "3.0.7-25.el9_3")])
        .unwrap()
        .findings
        .is_empty());
    // Without the epoch the source would look older than any 1: fix and be flagged forever;
    // with a higher epoch it is newer.
    assert!(scan(&db, &rocky, &[libs(Some(2), "3.0.7-1.el9")])
        .unwrap()
        .findings
        .is_empty());

    let plan9 = Distro {
        id: "plan9".into(),
        id_like: vec![],
        version_id: Some("4".into()),
    };
    let r = scan(&db, &plan9, &[libs(Some(1), "3.0.7-24.el9")]).unwrap();
    assert!(r.findings.is_empty());
    assert!(!r.is_complete());
    assert!(
        r.problems[0].contains("unknown distribution"),
        "{:?}",
        r.problems
    );

    // A release the database holds nothing for is not a clean result either.
    let alma = Distro {
        id: "almalinux".into(),
        id_like: vec![],
        version_id: Some("9.3".into()),
    };
    let r = scan(&db, &alma, &[libs(Some(1), "3.0.7-24.el9")]).unwrap();
    assert!(
        r.problems[0].contains("no records for AlmaLinux:9"),
        "{:?}",
        r.problems
    );
}

/// One finding per vulnerability and package: a DSA and the DEBIAN-CVE record of the same CVE
/// (which names it in `upstream`, not `aliases`, as osv.dev writes them) become one finding
/// listing every id; and a record whose entries disagree (fixed in one, every version in the
/// other) is affected and unfixed in either order.
#[test]
fn records_of_one_vulnerability_merge_and_entries_are_judged_together() {
    let t = tempfile::tempdir().unwrap();
    let db_dir = t.path().join("db");
    let fixed = json!([{"introduced": "0"}, {"fixed": "1.5-1"}]);
    let mut tracker = record(
        "DEBIAN-CVE-2099-00010",
        "2024-01-01T00:00:00Z",
        "Debian:12",
        "foo",
        fixed.clone(),
    );
    tracker["aliases"] = json!([]);
    tracker["upstream"] = json!(["CVE-2099-00010"]);
    let mut dsa = record(
        "DSA-9999-1",
        "2024-01-01T00:00:00Z",
        "Debian:12",
        "foo",
        json!([{"introduced": "0"}, {"fixed": "1.6-1"}]),
    );
    dsa["aliases"] = json!(["CVE-2099-00010"]);
    let mut split = record(
        "DEBIAN-CVE-2099-00020",
        "2024-01-01T00:00:00Z",
        "Debian:12",
        "bar",
        fixed.clone(),
    );
    let all = json!({"package": {"ecosystem": "Debian:12", "name": "bar"},
                     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]});
    let mut reversed = split.clone();
    reversed["id"] = json!("DEBIAN-CVE-2099-00030");
    reversed["aliases"] = json!(["CVE-2099-00030"]);
    reversed["affected"] = json!([all.clone(), split["affected"][0].clone()]);
    split["affected"].as_array_mut().unwrap().push(all);
    let paths: Vec<PathBuf> = [&tracker, &dsa, &split, &reversed]
        .iter()
        .enumerate()
        .map(|(i, r)| write(t.path(), &format!("r{i}.json"), r))
        .collect();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    import(&db_dir, &refs);
    let db = Database::open(&db_dir).unwrap();
    let r = scan(
        &db,
        &debian12(),
        &[
            deb("foo", "1.0-1", "foo", "1.0-1"),
            deb("bar", "1.0-1", "bar", "1.0-1"),
        ],
    )
    .unwrap();
    let foo: Vec<_> = r.findings.iter().filter(|f| f.package == "foo").collect();
    assert_eq!(foo.len(), 1, "{foo:#?}");
    assert_eq!(foo[0].id, "DEBIAN-CVE-2099-00010");
    assert!(
        foo[0].aliases.contains(&"CVE-2099-00010".to_string()),
        "{:?}",
        foo[0].aliases
    );
    assert!(
        foo[0].aliases.contains(&"DSA-9999-1".to_string()),
        "{:?}",
        foo[0].aliases
    );
    // Fixed for both only at the later of the two fixes.
    assert_eq!(foo[0].fixed_version.as_deref(), Some("1.6-1"));
    let bar: Vec<_> = r.findings.iter().filter(|f| f.package == "bar").collect();
    assert_eq!(bar.len(), 2);
    for f in bar {
        assert_eq!(f.state, FixState::Unfixed, "{}", f.id);
        assert_eq!(f.fixed_version, None, "{}", f.id);
    }
}

/// Application packages matched in their ecosystems: a PyPI name written otherwise than the
/// advisory writes it (PEP 503), an npm package affected only in its nested copy, a Go module
/// at a pseudo-version (and Go's `v`), a GHSA and PYSEC pair reported once, a Maven artifact by
/// group and artifact in Maven's order, a RubyGems four-part fix, Packagist and NuGet names in
/// another case; findings say which file.
#[test]
fn application_packages_match_in_their_ecosystems() {
    use imagewise_types::Ecosystem;
    use imagewise_vuln::{scan_apps, AppInstalled};
    let t = tempfile::tempdir().unwrap();
    let db_dir = t.path().join("db");
    let semver = |id: &str, eco: &str, name: &str, fixed: &str| {
        json!({"id": id, "modified": "2024-01-01T00:00:00Z", "summary": format!("{name} issue"),
               "affected": [{"package": {"ecosystem": eco, "name": name},
                             "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]})
    };
    let eco = |id: &str, eco: &str, name: &str, introduced: &str, fixed: &str| {
        json!({"id": id, "modified": "2024-01-01T00:00:00Z", "summary": format!("{name} issue"),
               "affected": [{"package": {"ecosystem": eco, "name": name},
                             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]}]}]})
    };
    let mut ghsa = json!({"id": "GHSA-aaaa-bbbb-cccc", "modified": "2024-01-01T00:00:00Z",
        "aliases": ["PYSEC-2099-1", "CVE-2099-1111"],
        "affected": [{"package": {"ecosystem": "PyPI", "name": "zope.interface"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "6.2"}]}]}]});
    let mut pysec = ghsa.clone();
    pysec["id"] = json!("PYSEC-2099-1");
    pysec["aliases"] = json!(["GHSA-aaaa-bbbb-cccc", "CVE-2099-1111"]);
    pysec["affected"][0]["package"]["name"] = json!("zope-interface");
    ghsa["summary"] = json!("zope issue");
    let records = [
        ghsa,
        pysec,
        semver("GHSA-ms-1", "npm", "ms", "2.0.1"),
        semver(
            "GO-2099-0001",
            "Go",
            "example.org/pseudo",
            "0.0.0-20240101000000-000000000000",
        ),
        semver("GO-2099-0002", "Go", "example.org/greet", "1.2.0"),
        // Maven: `2.0.0-alpha1` and `2.0.0.RELEASE` are Maven versions, not SemVer ones; the
        // same artifact id in another group is another package.
        eco(
            "GHSA-mvn-1",
            "Maven",
            "org.slf4j:slf4j-api",
            "2.0.0-alpha1",
            "2.0.0.RELEASE",
        ),
        eco("GHSA-mvn-2", "Maven", "org.other:slf4j-api", "0", "9.0"),
        // RubyGems: a fourth part and a pre-release.
        eco("GHSA-gem-1", "RubyGems", "rack", "2.2.0", "2.2.6.3"),
        eco("GHSA-gem-2", "RubyGems", "rack", "3.0.0", "3.0.0.1"),
        // Packagist writes names in lower case, Composer versions may carry a `v`.
        eco(
            "GHSA-php-1",
            "Packagist",
            "symfony/http-kernel",
            "5.0.0",
            "5.4.20",
        ),
        // NuGet ids ignore case.
        eco("GHSA-nuget-1", "NuGet", "Newtonsoft.Json", "0", "13.0.1"),
    ];
    let paths: Vec<PathBuf> = records
        .iter()
        .enumerate()
        .map(|(i, r)| write(t.path(), &format!("a{i}.json"), r))
        .collect();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    import(&db_dir, &refs);
    let db = Database::open(&db_dir).unwrap();
    let app = |e: Ecosystem, n: &str, v: &str, at: &str| AppInstalled {
        ecosystem: e,
        name: n.into(),
        version: v.into(),
        location: at.into(),
    };
    let (findings, scanned, problems) = scan_apps(
        &db,
        &[
            app(
                Ecosystem::Pypi,
                "zope.interface",
                "6.1",
                "/venv/zope.interface-6.1.dist-info/METADATA",
            ),
            app(
                Ecosystem::Npm,
                "ms",
                "2.1.3",
                "/web/node_modules/ms/package.json",
            ),
            app(
                Ecosystem::Npm,
                "ms",
                "2.0.0",
                "/web/node_modules/debug/node_modules/ms/package.json",
            ),
            app(
                Ecosystem::Golang,
                "example.org/pseudo",
                "v0.0.0-20230101000000-abcdef123456",
                "/usr/local/bin/gomod",
            ),
            app(
                Ecosystem::Golang,
                "example.org/greet",
                "v1.2.3",
                "/usr/local/bin/gomod",
            ),
            app(
                Ecosystem::Maven,
                "org.slf4j:slf4j-api",
                "2.0.0-beta1",
                "/usr/share/java/slf4j-api.jar",
            ),
            app(
                Ecosystem::Maven,
                "org.slf4j:slf4j-api",
                "2.0.0.GA",
                "/opt/app.jar!/lib/slf4j-api.jar",
            ),
            app(
                Ecosystem::Gem,
                "rack",
                "2.2.6.2",
                "/var/lib/gems/3.1.0/specifications/rack-2.2.6.2.gemspec",
            ),
            app(
                Ecosystem::Gem,
                "rack",
                "3.0.0.1",
                "/usr/local/bundle/specifications/rack-3.0.0.1.gemspec",
            ),
            app(
                Ecosystem::Composer,
                "Symfony/HTTP-Kernel",
                "v5.4.19",
                "/srv/php/vendor/composer/installed.json",
            ),
            app(
                Ecosystem::Nuget,
                "newtonsoft.json",
                "12.0.3",
                "/app/web.deps.json",
            ),
        ],
    )
    .unwrap();
    let got: Vec<(&str, &str, Option<&str>)> = findings
        .iter()
        .map(|f| (f.id.as_str(), f.package.as_str(), f.location.as_deref()))
        .collect();
    assert_eq!(findings.len(), 7, "{got:?}");
    let zope = findings
        .iter()
        .find(|f| f.package == "zope.interface")
        .unwrap();
    assert_eq!(
        zope.id, "GHSA-aaaa-bbbb-cccc",
        "the pair once, under the first id"
    );
    assert!(zope.aliases.contains(&"PYSEC-2099-1".to_string()));
    assert_eq!(zope.fixed_version.as_deref(), Some("6.2"));
    let ms: Vec<_> = findings.iter().filter(|f| f.package == "ms").collect();
    assert_eq!(ms.len(), 1);
    assert_eq!(
        ms[0].location.as_deref(),
        Some("/web/node_modules/debug/node_modules/ms/package.json")
    );
    assert!(
        findings.iter().any(|f| f.id == "GO-2099-0001"),
        "pseudo-version before the fix"
    );
    assert!(
        !findings.iter().any(|f| f.id == "GO-2099-0002"),
        "v1.2.3 is past 1.2.0"
    );
    let mvn: Vec<_> = findings.iter().filter(|f| f.ecosystem == "Maven").collect();
    assert_eq!(mvn.len(), 1, "2.0.0.GA is 2.0.0, past the fix: {got:?}");
    assert_eq!(mvn[0].id, "GHSA-mvn-1");
    assert_eq!(mvn[0].installed_version, "2.0.0-beta1");
    assert_eq!(mvn[0].fixed_version.as_deref(), Some("2.0.0.RELEASE"));
    let gems: Vec<_> = findings.iter().filter(|f| f.package == "rack").collect();
    assert_eq!(gems.len(), 1, "3.0.0.1 is the fix itself: {got:?}");
    assert_eq!(gems[0].installed_version, "2.2.6.2");
    assert_eq!(
        gems[0].location.as_deref(),
        Some("/var/lib/gems/3.1.0/specifications/rack-2.2.6.2.gemspec")
    );
    assert!(findings
        .iter()
        .any(|f| f.id == "GHSA-php-1" && f.package == "Symfony/HTTP-Kernel"));
    assert!(findings
        .iter()
        .any(|f| f.id == "GHSA-nuget-1" && f.matched_name == "newtonsoft.json"));
    assert_eq!(scanned, 11);
    assert!(problems.is_empty(), "{problems:?}");
}

/// An Alpine image is compared with the rules of the apk-tools it carries: `1.0-r0` is before
/// the fix `1.00-r0` under apk-tools 3 (leading zeros compare as strings) and after it under
/// apk-tools 2 (each extra zero counts down). Without apk-tools installed, the release decides
/// (3.23 and later: apk-tools 3).
#[test]
fn alpine_versions_follow_the_image_s_apk_tools() {
    let t = tempfile::tempdir().unwrap();
    let db_dir = t.path().join("db");
    let mut paths = Vec::new();
    for rel in ["v3.20", "v3.23"] {
        paths.push(write(
            t.path(),
            &format!("{rel}.json"),
            &record(
                &format!("ALPINE-CVE-2099-0000{}", &rel[3..]),
                "2024-01-01T00:00:00Z",
                &format!("Alpine:{rel}"),
                "foo",
                json!([{"introduced": "0"}, {"fixed": "1.00-r0"}]),
            ),
        ));
    }
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    import(&db_dir, &refs);
    let db = Database::open(&db_dir).unwrap();
    let apk = |name: &str, version: &str| Installed {
        order: VersionOrder::Apk,
        name: name.into(),
        version: version.into(),
        source_name: name.into(),
        source_version: version.into(),
        epoch: None,
    };
    let alpine = |v: &str| Distro {
        id: "alpine".into(),
        id_like: vec![],
        version_id: Some(v.into()),
    };
    let found = |release: &str, tools: Option<&str>| {
        let mut pkgs = vec![apk("foo", "1.0-r0")];
        if let Some(t) = tools {
            pkgs.push(apk("apk-tools", t));
        }
        let r = scan(&db, &alpine(release), &pkgs).unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        r.findings.iter().any(|f| f.package == "foo")
    };
    assert!(
        !found("3.20.3", Some("2.14.4-r1")),
        "apk-tools 2: 1.0 > 1.00"
    );
    assert!(found("3.20.3", Some("3.0.3-r1")), "apk-tools 3: 1.0 < 1.00");
    assert!(!found("3.20.3", None), "3.20 ships apk-tools 2");
    assert!(found("3.23.0", None), "3.23 ships apk-tools 3");
    assert!(
        !found("3.23.0", Some("2.14.10-r0")),
        "the carried apk-tools decides"
    );
}
