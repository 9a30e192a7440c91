//! `db update` against a mirror on loopback: a small HTTP/1.1 server in the test serves
//! `all.zip` archives (made with Info-ZIP's `zip`) with ETags, answers `If-None-Match` with 304,
//! and can be told to cut a download short, to ignore conditional requests, or to serve a
//! damaged archive. Every request is logged, so the test sees what was asked for and sent.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::support::*;

#[derive(Default)]
struct Served {
    /// URL path → archive bytes.
    files: BTreeMap<String, Vec<u8>>,
    /// Send the full Content-Length but only half the bytes, then close.
    truncate: bool,
    /// Never answer 304.
    ignore_conditional: bool,
    /// (path, If-None-Match sent, status answered, body bytes sent)
    log: Vec<(String, Option<String>, u16, usize)>,
}

struct Server {
    base: String,
    state: Arc<Mutex<Served>>,
}

fn etag(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("\"{}\"", &hex(&sha2::Sha256::digest(bytes))[..16])
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn answer(mut conn: TcpStream, state: &Mutex<Served>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut inm = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("if-none-match") {
                inm = Some(v.trim().to_string());
            }
        }
    }
    let mut s = state.lock().unwrap();
    let Some(body) = s.files.get(&path).cloned() else {
        let _ = conn
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        s.log.push((path, inm, 404, 0));
        return;
    };
    let tag = etag(&body);
    if !s.ignore_conditional && inm.as_deref() == Some(tag.as_str()) {
        let _ = conn.write_all(
            format!("HTTP/1.1 304 Not Modified\r\nETag: {tag}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        s.log.push((path, inm, 304, 0));
        return;
    }
    let sent = if s.truncate {
        body.len() / 2
    } else {
        body.len()
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nETag: {tag}\r\nLast-Modified: Mon, 02 Dec 2024 10:00:00 GMT\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body[..sent]);
    s.log.push((path, inm, 200, sent));
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/osv", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(Served::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                answer(conn, &st);
            }
        });
        Server { base, state }
    }

    fn serve(&self, ecosystem: &str, zip: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(format!("/osv/{ecosystem}/all.zip"), zip);
    }

    /// The requests since the last call.
    fn take_log(&self) -> Vec<(String, Option<String>, u16, usize)> {
        std::mem::take(&mut self.state.lock().unwrap().log)
    }
}

fn record(id: &str, modified: &str, ecosystem: &str, name: &str, fixed: &str) -> Value {
    json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": modified,
        "affected": [{"package": {"ecosystem": ecosystem, "name": name},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]
    })
}

/// An all.zip of `records`, made by Info-ZIP's `zip` as osv.dev's are made by a zip writer.
fn all_zip(dir: &Path, records: &[Value]) -> Vec<u8> {
    let d = dir.join("zip-src");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for r in records {
        let id = r["id"].as_str().unwrap();
        std::fs::write(d.join(format!("{id}.json")), serde_json::to_vec(r).unwrap()).unwrap();
    }
    sh(&format!(
        "cd {} && rm -f ../all.zip && zip -q -X ../all.zip *.json",
        s(&d)
    ));
    std::fs::read(dir.join("all.zip")).unwrap()
}

fn update(args: &[&str]) -> (Value, i32, String) {
    let mut a = vec!["db", "update", "--json"];
    a.extend_from_slice(args);
    let out = imagewise(&a);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (
        v,
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn outcome<'a>(v: &'a Value, eco: &str) -> &'a Value {
    v["ecosystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["ecosystem"] == eco)
        .unwrap_or_else(|| panic!("{eco} not in {v}"))
}

/// `db status --json`.
fn status(db: &Path) -> Value {
    serde_json::from_slice(&ok(&["db", "status", "--json", "--db", s(db)])).unwrap()
}

#[test]
fn update_downloads_only_what_changed_and_keeps_the_database_on_bad_downloads() {
    let t = tempfile::tempdir().unwrap();
    let db = t.path().join("db");
    let server = Server::start();
    let deb_v1 = all_zip(
        t.path(),
        &[
            record(
                "DEBIAN-CVE-2099-000000001",
                "2024-01-01T00:00:00Z",
                "Debian:12",
                "foo",
                "1.0-1",
            ),
            record(
                "DEBIAN-CVE-2099-000000002",
                "2024-01-01T00:00:00Z",
                "Debian:12",
                "bar",
                "2.0-1",
            ),
        ],
    );
    let pypi = all_zip(
        t.path(),
        &[record(
            "PYSEC-2099-000000003",
            "2024-01-01T00:00:00Z",
            "PyPI",
            "jinja2",
            "3.1.3",
        )],
    );
    server.serve("Debian", deb_v1.clone());
    server.serve("PyPI", pypi);
    let common = ["--db", s(&db), "--mirror", &server.base];
    let with = |ecos: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = common.iter().map(|x| x.to_string()).collect();
        for e in ecos {
            v.push("-e".into());
            v.push(e.to_string());
        }
        v
    };
    let run = |ecos: &[&str]| {
        let a = with(ecos);
        let r: Vec<&str> = a.iter().map(String::as_str).collect();
        update(&r)
    };

    // 1. First update: both downloaded in full and imported.
    let (v, code, err) = run(&["Debian", "PyPI"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(outcome(&v, "Debian")["outcome"], "imported");
    assert_eq!(outcome(&v, "Debian")["import"]["added"], 2);
    assert_eq!(outcome(&v, "Debian")["bytes"], deb_v1.len());
    assert_eq!(outcome(&v, "PyPI")["import"]["added"], 1);
    let log = server.take_log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(
        log.iter()
            .all(|(_, inm, st, _)| inm.is_none() && *st == 200),
        "{log:?}"
    );
    assert_eq!(status(&db)["records"], 3);

    // 2. Again: conditional requests, 304s, nothing downloaded or imported.
    let (v, code, err) = run(&["Debian", "PyPI"]);
    assert_eq!(code, 0, "{err}");
    for e in ["Debian", "PyPI"] {
        assert_eq!(outcome(&v, e)["outcome"], "not_modified");
        assert_eq!(outcome(&v, e)["bytes"], 0);
    }
    let log = server.take_log();
    assert_eq!(
        log.iter().map(|l| (l.1.clone(), l.2)).collect::<Vec<_>>(),
        vec![
            (Some(etag(&deb_v1)), 304),
            (
                Some(etag(
                    &server.state.lock().unwrap().files["/osv/PyPI/all.zip"]
                )),
                304
            )
        ]
    );

    // 3. Debian changes: one record newer, one new, one the same. Only Debian is downloaded,
    // and only what changed is written.
    let deb_v2 = all_zip(
        t.path(),
        &[
            record(
                "DEBIAN-CVE-2099-000000001",
                "2024-02-01T00:00:00Z",
                "Debian:12",
                "foo",
                "1.1-1",
            ),
            record(
                "DEBIAN-CVE-2099-000000002",
                "2024-01-01T00:00:00Z",
                "Debian:12",
                "bar",
                "2.0-1",
            ),
            record(
                "DEBIAN-CVE-2099-000000004",
                "2024-02-01T00:00:00Z",
                "Debian:12",
                "baz",
                "3.0-1",
            ),
        ],
    );
    server.serve("Debian", deb_v2.clone());
    let (v, code, err) = run(&["Debian", "PyPI"]);
    assert_eq!(code, 0, "{err}");
    let d = outcome(&v, "Debian");
    assert_eq!(d["outcome"], "imported");
    assert_eq!(
        (
            &d["import"]["added"],
            &d["import"]["updated"],
            &d["import"]["unchanged"]
        ),
        (&json!(1), &json!(1), &json!(1)),
        "{d}"
    );
    assert_eq!(outcome(&v, "PyPI")["outcome"], "not_modified");
    let log = server.take_log();
    assert_eq!(log[0].2, 200);
    assert_eq!(log[0].1, Some(etag(&deb_v1)), "asked with the old ETag");
    assert_eq!(status(&db)["records"], 4);

    // 4. A download cut short: refused, nothing changed, and the next request still carries
    // the ETag of what the database holds.
    let deb_v3 = all_zip(
        t.path(),
        &[record(
            "DEBIAN-CVE-2099-000000005",
            "2024-03-01T00:00:00Z",
            "Debian:12",
            "qux",
            "1-1",
        )],
    );
    server.serve("Debian", deb_v3.clone());
    server.state.lock().unwrap().truncate = true;
    let (v, code, _) = run(&["Debian"]);
    assert_eq!(code, 2, "a failed ecosystem fails the command");
    let d = outcome(&v, "Debian");
    assert_eq!(d["outcome"], "failed");
    let problem = d["problem"].as_str().unwrap();
    assert!(
        problem.contains("incomplete") || problem.contains("broke off"),
        "{problem}"
    );
    assert_eq!(
        status(&db)["records"],
        4,
        "nothing imported from a cut download"
    );
    server.state.lock().unwrap().truncate = false;
    let log = server.take_log();
    assert_eq!(log[0].3, deb_v3.len() / 2);

    // 5. A complete download whose compressed data is damaged: every entry is read before
    // anything is imported, so nothing changes.
    let mut damaged = deb_v3.clone();
    let mid = damaged.len() / 3;
    for b in &mut damaged[mid..mid + 8] {
        *b ^= 0x5a;
    }
    server.serve("Debian", damaged);
    let (v, code, _) = run(&["Debian"]);
    assert_eq!(code, 2);
    assert_eq!(outcome(&v, "Debian")["outcome"], "failed", "{v}");
    assert_eq!(status(&db)["records"], 4);
    let log = server.take_log();
    assert_eq!(
        log[0].1,
        Some(etag(&deb_v2)),
        "still the ETag of v2: {log:?}"
    );

    // 6. The good v3 lands.
    server.serve("Debian", deb_v3.clone());
    let (v, code, err) = run(&["Debian"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(outcome(&v, "Debian")["import"]["added"], 1);
    assert_eq!(status(&db)["records"], 5);
    server.take_log();

    // 7. A server that ignores conditional requests: the same archive again is downloaded but
    // recognised by its digest and not imported.
    server.state.lock().unwrap().ignore_conditional = true;
    let (v, code, err) = run(&["Debian"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(outcome(&v, "Debian")["outcome"], "unchanged");
    assert!(outcome(&v, "Debian")["import"].is_null());
    server.state.lock().unwrap().ignore_conditional = false;

    // 8. An ecosystem the mirror does not have: that one fails with the 404 named, the others
    // still update.
    let (v, code, _) = run(&["Alpine", "PyPI"]);
    assert_eq!(code, 2);
    assert!(outcome(&v, "Alpine")["problem"]
        .as_str()
        .unwrap()
        .contains("404"));
    assert_eq!(outcome(&v, "PyPI")["outcome"], "not_modified");
    server.take_log();

    // 9. What is not a mirror or not an OSV ecosystem is refused before anything is fetched.
    let out = imagewise(&[
        "db",
        "update",
        "--db",
        s(&db),
        "--mirror",
        "s3://bucket/osv",
        "-e",
        "Debian",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a mirror imagewise can read"));
    let out = imagewise(&[
        "db",
        "update",
        "--db",
        s(&db),
        "--mirror",
        &server.base,
        "-e",
        "debian",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown ecosystem"));
    assert!(
        server.take_log().is_empty(),
        "nothing fetched for refused input"
    );
}

#[test]
fn a_directory_mirror_and_the_catalogued_ecosystems() {
    let t = tempfile::tempdir().unwrap();
    let mirror = t.path().join("mirror");
    std::fs::create_dir_all(mirror.join("Debian")).unwrap();
    let zip = all_zip(
        t.path(),
        &[record(
            "DEBIAN-CVE-2099-000000001",
            "2024-01-01T00:00:00Z",
            "Debian:12",
            "foo",
            "1.0-1",
        )],
    );
    std::fs::write(mirror.join("Debian/all.zip"), &zip).unwrap();
    // A catalog holding one bookworm image: the default is its ecosystem, Debian, alone.
    let catalog = t.path().join("catalog.sqlite");
    let bookworm = fixtures().join("bookworm-rootfs");
    ok(&["catalog", "add", "--catalog", s(&catalog), s(&bookworm)]);
    let db = t.path().join("db");
    let args = [
        "--db",
        s(&db),
        "--mirror",
        s(&mirror),
        "--catalog",
        s(&catalog),
    ];
    let (v, code, err) = update(&args);
    assert_eq!(code, 0, "{err}");
    let ecos: Vec<&str> = v["ecosystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ecosystem"].as_str().unwrap())
        .collect();
    assert_eq!(ecos, ["Debian"]);
    assert_eq!(outcome(&v, "Debian")["outcome"], "imported");
    let (v, _, _) = update(&args);
    assert_eq!(outcome(&v, "Debian")["outcome"], "not_modified");
    // A file rewritten with other content is read again.
    let zip2 = all_zip(
        t.path(),
        &[record(
            "DEBIAN-CVE-2099-000000001",
            "2024-02-01T00:00:00Z",
            "Debian:12",
            "foo",
            "1.1-1",
        )],
    );
    std::fs::write(mirror.join("Debian/all.zip"), &zip2).unwrap();
    let (v, _, _) = update(&args);
    assert_eq!(outcome(&v, "Debian")["outcome"], "imported");
    assert_eq!(outcome(&v, "Debian")["import"]["updated"], 1);
}
