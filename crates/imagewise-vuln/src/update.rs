//! `db update`: fetch osv.dev's per-ecosystem `all.zip` from a mirror and import what changed.
//!
//! A mirror is a base URL (`http://`, `https://`) or a directory, laid out as osv.dev's bucket
//! is: `<base>/<ECOSYSTEM>/all.zip`. For each ecosystem:
//! 1. a conditional request (`If-None-Match` with the ETag, `If-Modified-Since` with the
//!    Last-Modified time the last update saw from the same URL); `304 Not Modified` ends it. A
//!    directory's file is "not modified" when its size and mtime are those seen last time;
//! 2. the download goes to a temporary file beside the database and is checked before anything
//!    is replaced: the length the server announced, then every zip entry read to its end (the
//!    zip crate checks each entry's CRC-32). A truncated or damaged download changes nothing;
//! 3. a download with the same BLAKE3 digest as the last imported one is not imported again
//!    (a server that ignores conditional requests);
//! 4. the import, in one transaction, skips every record whose `modified` time is not newer
//!    than the stored one, so only what changed is written;
//! 5. the ETag, Last-Modified, digest and URL are kept in the database's `meta` table, with
//!    the time of the check.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::db::{Database, DbError, ImportReport};

/// osv.dev's public bucket, as HTTPS.
pub const DEFAULT_MIRROR: &str = "https://osv-vulnerabilities.storage.googleapis.com";

/// Largest `all.zip` accepted (osv.dev's largest, all ecosystems together, is under 2 GiB).
pub const MAX_DOWNLOAD: u64 = 8 << 30;

/// Where the archives come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    /// A base URL without a trailing `/`.
    Http(String),
    /// A directory holding `<ECOSYSTEM>/all.zip`.
    Dir(PathBuf),
}

/// A mirror given on the command line that imagewise does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--mirror {given:?}: {reason}")]
pub struct MirrorError {
    pub given: String,
    pub reason: String,
}

impl imagewise_types::HasKind for MirrorError {
    fn kind(&self) -> imagewise_types::ErrorKind {
        imagewise_types::ErrorKind::Usage
    }
}

impl Mirror {
    /// `http://…`, `https://…`, `file:///dir`, or a directory path. Any other scheme is
    /// refused, never taken for a local directory.
    pub fn parse(given: &str) -> Result<Mirror, MirrorError> {
        let err = |reason: &str| MirrorError {
            given: given.to_string(),
            reason: reason.to_string(),
        };
        if let Some((scheme, rest)) = given.split_once("://") {
            return match scheme.to_ascii_lowercase().as_str() {
                "http" | "https" => {
                    if rest.is_empty() || rest.starts_with('/') {
                        Err(err("no host in the URL"))
                    } else {
                        Ok(Mirror::Http(given.trim_end_matches('/').to_string()))
                    }
                }
                "file" => Mirror::dir(Path::new(rest)).map_err(|r| err(&r)),
                _ => Err(err(
                    "not a mirror imagewise can read: give an http:// or https:// base URL or a directory holding ECOSYSTEM/all.zip",
                )),
            };
        }
        Mirror::dir(Path::new(given)).map_err(|r| err(&r))
    }

    fn dir(p: &Path) -> Result<Mirror, String> {
        if p.is_dir() {
            Ok(Mirror::Dir(p.to_path_buf()))
        } else {
            Err(
                "no such directory (a mirror is an http:// or https:// base URL or a directory holding ECOSYSTEM/all.zip)"
                    .into(),
            )
        }
    }

    /// Where one ecosystem's archive is, for messages and the kept state.
    pub fn location(&self, ecosystem: &str) -> String {
        match self {
            Mirror::Http(base) => format!("{base}/{}/all.zip", url_path_segment(ecosystem)),
            Mirror::Dir(d) => d.join(ecosystem).join("all.zip").display().to_string(),
        }
    }
}

/// Percent-encode one path segment (`Rocky Linux` → `Rocky%20Linux`; `:` stays).
fn url_path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What the last update saw of one ecosystem's archive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// BLAKE3 of the archive last imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    /// When it was last checked (RFC 3339).
    pub checked: String,
}

/// How one ecosystem's update ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The mirror said the archive is the one seen last time; nothing was downloaded.
    NotModified,
    /// Downloaded, but identical to the last imported archive; nothing was imported.
    Unchanged,
    /// Downloaded, checked and imported.
    Imported,
    /// Nothing was changed; `problem` says why.
    Failed,
}

/// One ecosystem's part of an update.
#[derive(Debug, Clone, Serialize)]
pub struct EcosystemUpdate {
    pub ecosystem: String,
    pub location: String,
    pub outcome: Outcome,
    /// Bytes downloaded (0 when not modified).
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The whole update.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateReport {
    pub database: PathBuf,
    pub mirror: String,
    pub ecosystems: Vec<EcosystemUpdate>,
    pub seconds: f64,
}

impl UpdateReport {
    pub fn failed(&self) -> impl Iterator<Item = &EcosystemUpdate> {
        self.ecosystems
            .iter()
            .filter(|e| e.outcome == Outcome::Failed)
    }

    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for e in &self.ecosystems {
            let line = match e.outcome {
                Outcome::NotModified => "not modified since the last update".to_string(),
                Outcome::Unchanged => format!(
                    "downloaded {}, identical to the last import: nothing to import",
                    human(e.bytes)
                ),
                Outcome::Imported => {
                    let r = e.import.as_ref();
                    format!(
                        "downloaded {}; {} records: {} added, {} updated, {} unchanged, {} skipped",
                        human(e.bytes),
                        r.map_or(0, |r| r.records),
                        r.map_or(0, |r| r.added),
                        r.map_or(0, |r| r.updated),
                        r.map_or(0, |r| r.unchanged),
                        r.map_or(0, |r| r.skipped),
                    )
                }
                Outcome::Failed => format!(
                    "FAILED, nothing changed: {}",
                    e.problem.as_deref().unwrap_or("")
                ),
            };
            out.push_str(&format!("{:<12} {line}\n", e.ecosystem));
        }
        out.push_str(&format!(
            "database {} ({:.1} s, from {})\n",
            self.database.display(),
            self.seconds,
            self.mirror
        ));
        out
    }
}

fn human(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// The agent used for HTTP(S): the host's CA bundle when one is configured (`SSL_CERT_FILE`,
/// else Debian's `/etc/ssl/certs/ca-certificates.crt`), Mozilla's roots otherwise; proxies from
/// the environment (`HTTPS_PROXY`, `NO_PROXY`); 4xx/5xx answers read as answers, not errors.
fn agent() -> ureq::Agent {
    let bundle = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt")))
        .and_then(|p| std::fs::read(p).ok());
    let roots = bundle.and_then(|pem| {
        let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(Result::ok)
            .filter_map(|i| match i {
                ureq::tls::PemItem::Certificate(c) => Some(c),
                _ => None,
            })
            .collect();
        (!certs.is_empty()).then(|| ureq::tls::RootCerts::new_with_certs(&certs))
    });
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(roots.unwrap_or(ureq::tls::RootCerts::WebPki))
        .build();
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .timeout_recv_body(Some(Duration::from_secs(3600)))
            .user_agent(format!("imagewise/{}", env!("CARGO_PKG_VERSION")))
            .build(),
    )
}

/// What fetching gave: the archive in a file, or nothing new.
enum Fetched {
    NotModified,
    File {
        path: PathBuf,
        /// A temporary download to remove afterwards (a directory mirror's file is read in place).
        temporary: bool,
        bytes: u64,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

fn header(r: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn fetch_http(
    agent: &ureq::Agent,
    url: &str,
    last: Option<&SourceState>,
    part: &Path,
) -> Result<Fetched, String> {
    let mut req = agent.get(url);
    if let Some(s) = last.filter(|s| s.location == url) {
        if let Some(e) = &s.etag {
            req = req.header("If-None-Match", e);
        }
        if let Some(m) = &s.last_modified {
            req = req.header("If-Modified-Since", m);
        }
    }
    let mut resp = req
        .call()
        .map_err(|e| format!("{url}: {e}; check the network, the proxy settings or --mirror"))?;
    let status = resp.status().as_u16();
    match status {
        304 => return Ok(Fetched::NotModified),
        200 => {}
        404 => {
            return Err(format!(
                "{url}: 404 Not Found; the mirror has no all.zip for this ecosystem (is the name spelled as OSV spells it?)"
            ))
        }
        _ => return Err(format!("{url}: the server answered HTTP {status}")),
    }
    let etag = header(&resp, "etag");
    let last_modified = header(&resp, "last-modified");
    let announced: Option<u64> = header(&resp, "content-length").and_then(|v| v.parse().ok());
    if announced.is_some_and(|n| n > MAX_DOWNLOAD) {
        return Err(format!(
            "{url}: {} bytes announced, more than the {MAX_DOWNLOAD}-byte limit",
            announced.unwrap_or(0)
        ));
    }
    let mut file = std::fs::File::create(part).map_err(|e| format!("{}: {e}", part.display()))?;
    let mut reader = resp.body_mut().with_config().limit(MAX_DOWNLOAD).reader();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return Err(format!(
                    "{url}: the download broke off after {bytes} bytes ({e})"
                ))
            }
        };
        file.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", part.display()))?;
        bytes += n as u64;
    }
    file.sync_all()
        .map_err(|e| format!("{}: {e}", part.display()))?;
    if let Some(n) = announced {
        if n != bytes {
            return Err(format!(
                "{url}: the server announced {n} bytes but sent {bytes}: the download is incomplete"
            ));
        }
    }
    Ok(Fetched::File {
        path: part.to_path_buf(),
        temporary: true,
        bytes,
        etag,
        last_modified,
    })
}

fn fetch_dir(path: &Path, last: Option<&SourceState>) -> Result<Fetched, String> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| {
        format!("{shown}: {e}; the mirror directory has no all.zip for this ecosystem")
    })?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos().to_string());
    // A directory's "ETag": size and mtime.
    let etag = mtime.map(|m| format!("{}:{m}", meta.len()));
    if let (Some(s), Some(e)) = (last, &etag) {
        if s.location == shown && s.etag.as_ref() == Some(e) {
            return Ok(Fetched::NotModified);
        }
    }
    Ok(Fetched::File {
        path: path.to_path_buf(),
        temporary: false,
        bytes: meta.len(),
        etag,
        last_modified: None,
    })
}

/// Read every entry of the archive to its end (CRC-32 checked) and hash the file.
fn check_archive(path: &Path) -> Result<String, String> {
    let shown = path.display().to_string();
    let mut f = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_reader(&mut f)
        .map_err(|e| format!("{shown}: {e}"))?;
    let f = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(|e| {
        format!("not a complete zip archive ({e}): the download is damaged or cut short")
    })?;
    let mut sink = std::io::sink();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| format!("zip entry #{i} is damaged ({e})"))?;
        std::io::copy(&mut (&mut entry).take(crate::MAX_DOCUMENT + 1), &mut sink).map_err(|e| {
            format!(
                "zip entry {} does not inflate to what it declares ({e}): the download is damaged",
                entry.name().unwrap_or(std::borrow::Cow::Borrowed("?"))
            )
        })?;
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Update `ecosystems` (OSV base names, as osv.dev's bucket names its folders) from `mirror`.
/// Each ecosystem stands alone: one that fails changes nothing and the others still update.
pub fn update(
    db: &mut Database,
    mirror: &Mirror,
    ecosystems: &[String],
    progress: &mut dyn FnMut(&str, &ImportReport),
) -> Result<UpdateReport, DbError> {
    let started = std::time::Instant::now();
    let dir = db
        .path()
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let http = matches!(mirror, Mirror::Http(_)).then(agent);
    let mut out = Vec::new();
    for eco in ecosystems {
        let location = mirror.location(eco);
        let last = db.source_state(eco)?;
        let part = dir.join(format!(".update-{}.zip.part", url_path_segment(eco)));
        let fetched = match (mirror, &http) {
            (Mirror::Http(_), Some(agent)) => fetch_http(agent, &location, last.as_ref(), &part),
            _ => fetch_dir(Path::new(&location), last.as_ref()),
        };
        let mut entry = EcosystemUpdate {
            ecosystem: eco.clone(),
            location: location.clone(),
            outcome: Outcome::Failed,
            bytes: 0,
            import: None,
            problem: None,
        };
        let now = jiff::Timestamp::now().to_string();
        match fetched {
            Err(problem) => entry.problem = Some(problem),
            Ok(Fetched::NotModified) => {
                entry.outcome = Outcome::NotModified;
                if let Some(mut s) = last {
                    s.checked = now;
                    db.set_source_state(eco, &s)?;
                }
            }
            Ok(Fetched::File {
                path,
                temporary,
                bytes,
                etag,
                last_modified,
            }) => {
                entry.bytes = bytes;
                match check_archive(&path) {
                    Err(problem) => entry.problem = Some(problem),
                    Ok(digest) => {
                        let state = SourceState {
                            location: location.clone(),
                            etag,
                            last_modified,
                            blake3: Some(digest.clone()),
                            checked: now,
                        };
                        if last.as_ref().and_then(|s| s.blake3.as_ref()) == Some(&digest) {
                            entry.outcome = Outcome::Unchanged;
                        } else {
                            let imported = crate::import::import_paths(db, &[&path], &mut |r| {
                                progress(eco, r)
                            });
                            let report = match imported {
                                Ok(r) => r,
                                Err(e) => {
                                    // The database itself failed: no download is left behind.
                                    if temporary {
                                        let _ = std::fs::remove_file(&path);
                                    }
                                    return Err(e);
                                }
                            };
                            if let Some(f) = report.failed_sources.first() {
                                entry.problem = Some(f.clone());
                            } else {
                                entry.outcome = Outcome::Imported;
                            }
                            entry.import = Some(report);
                        }
                        if entry.outcome != Outcome::Failed {
                            db.set_source_state(eco, &state)?;
                        }
                    }
                }
                if temporary {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let _ = std::fs::remove_file(&part);
        out.push(entry);
    }
    Ok(UpdateReport {
        database: db.path().to_path_buf(),
        mirror: match mirror {
            Mirror::Http(u) => u.clone(),
            Mirror::Dir(d) => d.display().to_string(),
        },
        ecosystems: out,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_are_urls_or_directories_and_nothing_else() {
        assert_eq!(
            Mirror::parse("http://127.0.0.1:8080/osv/"),
            Ok(Mirror::Http("http://127.0.0.1:8080/osv".into()))
        );
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            Mirror::parse(d.path().to_str().unwrap()),
            Ok(Mirror::Dir(d.path().to_path_buf()))
        );
        for bad in [
            "s3://bucket/osv",
            "gs://osv-vulnerabilities",
            "http://",
            "/no/such/dir",
        ] {
            assert!(Mirror::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Mirror::Http("https://m".into()).location("Rocky Linux"),
            "https://m/Rocky%20Linux/all.zip"
        );
        assert_eq!(
            Mirror::Http("https://m".into()).location("Debian:12"),
            "https://m/Debian:12/all.zip"
        );
    }
}
