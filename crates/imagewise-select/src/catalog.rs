//! The catalog: images recorded once — facts, scan, lint and trust summaries — keyed by content
//! digest, in one SQLite file, so `rank --catalog` chooses without reopening anything.
//!
//! Every write is one `BEGIN IMMEDIATE` transaction in WAL mode: a process killed during `add`
//! leaves the catalog as it was or with the image complete, and two `add`s at once queue on the
//! lock (waiting up to 60 s) instead of failing. A file that is not an imagewise catalog, is
//! shorter than its header says, or that SQLite finds malformed while reading it, is refused
//! with what to do, never rewritten.
//!
//! The digest is the manifest digest for images that have one (OCI layouts and archives), else
//! a SHA-256 over the merged tree's metadata listing (path, type, mode, owner, size, mtime in
//! ns, link target, device, xattrs), prefixed `tree:`: a moved or renamed file keeps it, a
//! changed file changes it, and it costs a walk, not a read of every byte.

use std::path::{Path, PathBuf};

use imagewise_facts::ImageFacts;
use imagewise_source::ImageTree;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::rank::VulnCounts;
use crate::trust::TrustReport;
use crate::Error;

/// `IWCT`: marks the SQLite file as an imagewise catalog.
const APPLICATION_ID: i32 = 0x4957_4354;
const SCHEMA_VERSION: i32 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS image (
    digest        TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    reference     TEXT NOT NULL,
    location      TEXT NOT NULL,
    format        TEXT NOT NULL,
    stamp         TEXT,
    added         TEXT NOT NULL,
    refreshed     TEXT NOT NULL,
    package_count INTEGER NOT NULL,
    facts         TEXT NOT NULL,
    scan          TEXT,
    lint          TEXT,
    trust         TEXT,
    -- Kept apart from `facts`: the largest part of them, and no ranking criterion reads it.
    security      TEXT NOT NULL,
    -- Last: the largest, and read only when a requirement names packages (SQLite walks a
    -- row's overflow pages up to the last column read).
    packages      TEXT NOT NULL
);
";

/// The default catalog file: `$XDG_DATA_HOME/imagewise/catalog.sqlite`, else
/// `~/.local/share/imagewise/catalog.sqlite`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("imagewise").join("catalog.sqlite"))
}

/// The content digest of an opened image (see the module docs): the manifest digest, else a
/// digest of its listing ([`ImageTree::content_digest`]).
pub fn content_digest(tree: &ImageTree) -> String {
    tree.content_digest()
}

/// What says whether an image file changed since it was recorded, without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub inode: u64,
    pub device: u64,
}

impl FileStamp {
    /// The stamp of a regular file; `None` for a directory (its tree is walked instead).
    pub fn of(path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        m.is_file().then(|| FileStamp {
            size: m.len(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            inode: m.ino(),
            device: m.dev(),
        })
    }
}

/// The vulnerability scan of an image, summarised.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanSummary {
    /// The day it was matched (UTC).
    pub scanned: String,
    /// The newest record's modification time in the database used.
    pub database_newest_modified: Option<String>,
    /// False when something kept the scan from covering the image.
    pub complete: bool,
    pub packages_scanned: usize,
    pub counts: VulnCounts,
    /// Findings per severity level (`critical`, `high`, `medium`, `low`, `unknown`).
    pub by_level: std::collections::BTreeMap<String, usize>,
    pub unfixed: usize,
    pub problems: Vec<String>,
}

impl ScanSummary {
    pub fn of(r: &imagewise_vuln::ScanReport, today: jiff::civil::Date) -> ScanSummary {
        use imagewise_vuln::{FixState, Level};
        let mut c = VulnCounts::default();
        for f in &r.result.findings {
            let fixed = f.state == FixState::Fixed;
            c.total += 1;
            match f.severity.level {
                Level::Critical => {
                    c.critical += 1;
                    c.critical_fixed += u64::from(fixed);
                }
                Level::High => {
                    c.high += 1;
                    c.high_fixed += u64::from(fixed);
                }
                _ => {}
            }
        }
        ScanSummary {
            scanned: today.to_string(),
            database_newest_modified: r.database_newest_modified.clone(),
            complete: r.complete,
            packages_scanned: r.result.packages_scanned,
            counts: c,
            by_level: r.counts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            unfixed: r.unfixed,
            problems: r.result.problems.clone(),
        }
    }
}

/// The lint of an image with the default profile, summarised.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LintSummary {
    pub profiles: Vec<String>,
    pub fail: usize,
    pub unknown: usize,
    pub pass: usize,
    /// Failures per level.
    pub by_level: std::collections::BTreeMap<String, usize>,
    /// Ids of the failed rules, highest level first.
    pub failed: Vec<String>,
}

impl LintSummary {
    pub fn of(r: &imagewise_lint::LintReport) -> LintSummary {
        LintSummary {
            profiles: r.profiles.clone(),
            fail: r.counts.fail,
            unknown: r.counts.unknown,
            pass: r.counts.pass,
            by_level: r
                .counts
                .by_level
                .iter()
                .map(|(k, v)| {
                    let k = serde_json::to_value(k)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    (k, *v)
                })
                .collect(),
            failed: r
                .results
                .iter()
                .filter(|x| x.verdict == imagewise_lint::Verdict::Fail && x.ignored.is_none())
                .map(|x| x.id.clone())
                .collect(),
        }
    }
}

/// One image as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub digest: String,
    pub name: String,
    /// Where it was last seen (an absolute path, or the reference as given).
    pub reference: String,
    /// The file or directory on the host the reference named when last opened.
    pub location: String,
    pub format: String,
    pub stamp: Option<FileStamp>,
    pub added: String,
    pub refreshed: String,
    pub package_count: usize,
    pub scan: Option<ScanSummary>,
    pub lint: Option<LintSummary>,
    pub trust: Option<TrustReport>,
    /// The facts; their `packages` and `security` are left empty unless asked for.
    pub facts: ImageFacts,
}

/// What `add` did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Added {
    /// A new image, under this name.
    Added { digest: String, name: String },
    /// The digest was already recorded: nothing new. `moved_from` when it was found at
    /// another reference (the record now points at the new one).
    AlreadyPresent {
        digest: String,
        name: String,
        moved_from: Option<String>,
    },
}

/// An open catalog.
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

fn corrupt(path: &Path, detail: impl Into<String>) -> Error {
    Error::CatalogCorrupt {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}

impl Catalog {
    /// Opens the catalog at `path`, creating it (and its directory) when absent. Two processes
    /// opening a new catalog at once race to create it (and to switch it to WAL, which SQLite
    /// answers with "locked" rather than waiting): the loser retries for up to a minute.
    pub fn open(path: &Path) -> Result<Catalog, Error> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut pause = std::time::Duration::from_millis(10);
        loop {
            match Catalog::open_once(path) {
                Err(Error::Catalog { source, .. })
                    if matches!(
                        source.sqlite_error_code(),
                        Some(
                            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                        )
                    ) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(500));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Catalog, Error> {
        let sql = |source| Error::Catalog {
            path: path.display().to_string(),
            source,
        };
        if let Ok(m) = std::fs::metadata(path) {
            if !m.is_file() {
                return Err(corrupt(path, "not a regular file"));
            }
            // Refuse anything that is not SQLite, or is shorter than its header says (cut
            // short), before SQLite touches it: cheaper than a quick_check of every page.
            if m.len() > 0 {
                use std::io::Read;
                let mut head = [0u8; 100];
                let n = std::fs::File::open(path)
                    .and_then(|mut f| f.read(&mut head))
                    .map_err(|e| corrupt(path, format!("cannot read it: {e}")))?;
                if n < 100 || &head[..16] != b"SQLite format 3\0" {
                    return Err(corrupt(path, "not an SQLite file"));
                }
                let page = match u16::from_be_bytes([head[16], head[17]]) {
                    1 => 65536,
                    p => u64::from(p),
                };
                let pages = u64::from(u32::from_be_bytes([head[28], head[29], head[30], head[31]]));
                // The page count is valid when written by the same change as the counter.
                let valid = head[24..28] == head[92..96];
                if valid && pages * page > m.len() {
                    return Err(corrupt(
                        path,
                        format!(
                            "the file is {} bytes but its header says {} pages of {page}: cut short",
                            m.len(),
                            pages
                        ),
                    ));
                }
            }
        } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Catalog {
                path: path.display().to_string(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        }
        // Opening (and, for a new file, creating the schema) holds an exclusive flock on the
        // file, so that two processes do not both take an empty file for theirs to set up.
        // SQLite's own locks are fcntl locks, which flock does not touch.
        let guard = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| corrupt(path, format!("cannot open it: {e}")))?;
        rustix::fs::flock(&guard, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| corrupt(path, format!("cannot lock it: {e}")))?;
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(60))
            .map_err(sql)?;
        // Reads map the file rather than copy its pages.
        conn.pragma_update(None, "mmap_size", 1i64 << 30)
            .map_err(sql)?;
        let check = |conn: &Connection| -> Result<(i32, i32), rusqlite::Error> {
            let app: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
            let ver: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            Ok((app, ver))
        };
        let (app, ver) = check(&conn).map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                corrupt(path, e.to_string())
            }
            _ => sql(e),
        })?;
        if app == 0 && ver == 0 {
            // New (or empty) file: make the schema, once, under the write lock.
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(sql)?;
            conn.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
            let (app, _) = check(&conn).map_err(sql)?;
            if app == 0 {
                let tables: i64 = conn
                    .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                    .map_err(sql)?;
                if tables > 0 {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(corrupt(
                        path,
                        "an SQLite database of something else, not an imagewise catalog",
                    ));
                }
                conn.execute_batch(SCHEMA).map_err(sql)?;
                conn.pragma_update(None, "application_id", APPLICATION_ID)
                    .map_err(sql)?;
                conn.pragma_update(None, "user_version", SCHEMA_VERSION)
                    .map_err(sql)?;
            }
            conn.execute_batch("COMMIT").map_err(sql)?;
        } else if app != APPLICATION_ID {
            return Err(corrupt(
                path,
                "an SQLite database of something else, not an imagewise catalog",
            ));
        } else if ver != SCHEMA_VERSION {
            return Err(corrupt(
                path,
                format!("catalog schema {ver}; this imagewise reads schema {SCHEMA_VERSION}"),
            ));
        }
        Ok(Catalog {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, source: rusqlite::Error) -> Error {
        match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                corrupt(&self.path, source.to_string())
            }
            _ => Error::Catalog {
                path: self.path.display().to_string(),
                source,
            },
        }
    }

    /// Records an image. The same digest already there is a no-op that says so (and follows a
    /// move); a new one gets `name`, or a name made from its reference.
    pub fn add(&mut self, r: &Record, name: Option<&str>) -> Result<Added, Error> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&self.path, e))?;
        let existing: Option<(String, String)> = tx
            .query_row(
                "SELECT name, reference FROM image WHERE digest = ?1",
                [&r.digest],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| sql_err(&self.path, e))?;
        if let Some((have, reference)) = existing {
            let moved = reference != r.reference;
            if moved {
                tx.execute(
                    "UPDATE image SET reference = ?2, location = ?3, stamp = ?4 WHERE digest = ?1",
                    params![r.digest, r.reference, r.location, json(&r.stamp)],
                )
                .map_err(|e| sql_err(&self.path, e))?;
            }
            tx.commit().map_err(|e| sql_err(&self.path, e))?;
            return Ok(Added::AlreadyPresent {
                digest: r.digest.clone(),
                name: have,
                moved_from: moved.then_some(reference),
            });
        }
        let taken = |n: &str| -> Result<Option<String>, rusqlite::Error> {
            tx.query_row("SELECT digest FROM image WHERE name = ?1", [n], |row| {
                row.get(0)
            })
            .optional()
        };
        let name = match name {
            Some(n) => {
                if let Some(d) = taken(n).map_err(|e| sql_err(&self.path, e))? {
                    return Err(Error::NameTaken {
                        name: n.to_string(),
                        digest: d,
                    });
                }
                n.to_string()
            }
            None => {
                let base = default_name(&r.reference);
                let mut n = base.clone();
                let mut i = 2;
                while taken(&n).map_err(|e| sql_err(&self.path, e))?.is_some() {
                    n = format!("{base}-{i}");
                    i += 1;
                }
                n
            }
        };
        let mut facts = r.facts.clone();
        let packages = std::mem::take(&mut facts.packages);
        let security = std::mem::take(&mut facts.security);
        tx.execute(
            "INSERT INTO image (digest, name, reference, location, format, stamp, added,
                refreshed, package_count, facts, packages, scan, lint, trust, security)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                r.digest,
                name,
                r.reference,
                r.location,
                r.format,
                json(&r.stamp),
                r.added,
                r.refreshed,
                packages.len() as i64,
                serde_json::to_string(&facts).unwrap_or_default(),
                serde_json::to_string(&packages).unwrap_or_default(),
                json(&r.scan),
                json(&r.lint),
                json(&r.trust),
                serde_json::to_string(&security).unwrap_or_default(),
            ],
        )
        .map_err(|e| sql_err(&self.path, e))?;
        test_pause();
        tx.commit().map_err(|e| sql_err(&self.path, e))?;
        Ok(Added::Added {
            digest: r.digest.clone(),
            name,
        })
    }

    /// Replaces a recorded image's evaluation (and, when it was reopened, its facts, digest and
    /// stamp), keeping its name and the day it was added.
    pub fn update(&mut self, old_digest: &str, r: &Record) -> Result<(), Error> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&self.path, e))?;
        let mut facts = r.facts.clone();
        let packages = std::mem::take(&mut facts.packages);
        let security =
            serde_json::to_string(&std::mem::take(&mut facts.security)).unwrap_or_default();
        let packages = if packages.is_empty() && r.package_count > 0 {
            None
        } else {
            Some(serde_json::to_string(&packages).unwrap_or_default())
        };
        if r.digest != old_digest {
            // The image changed: a record of the new digest (if any) gives way.
            tx.execute(
                "DELETE FROM image WHERE digest = ?1 AND digest <> ?2",
                params![r.digest, old_digest],
            )
            .map_err(|e| sql_err(&self.path, e))?;
        }
        let n = tx
            .execute(
                "UPDATE image SET digest = ?2, reference = ?3, location = ?13, format = ?4,
                    stamp = ?5, refreshed = ?6, package_count = ?7, facts = ?8,
                    packages = coalesce(?9, packages), scan = ?10, lint = ?11, trust = ?12,
                    security = ?14
                 WHERE digest = ?1",
                params![
                    old_digest,
                    r.digest,
                    r.reference,
                    r.format,
                    json(&r.stamp),
                    r.refreshed,
                    r.package_count as i64,
                    serde_json::to_string(&facts).unwrap_or_default(),
                    packages,
                    json(&r.scan),
                    json(&r.lint),
                    json(&r.trust),
                    r.location,
                    security,
                ],
            )
            .map_err(|e| sql_err(&self.path, e))?;
        if n == 0 {
            return Err(Error::NotInCatalog(old_digest.to_string()));
        }
        tx.commit().map_err(|e| sql_err(&self.path, e))
    }

    /// The digest `key` names: a name, a digest, a unique digest prefix (8 hex digits at
    /// least, with or without `sha256:`/`tree:sha256:`), or a reference.
    pub fn resolve(&self, key: &str) -> Result<String, Error> {
        let by = |q: &str, arg: &str| -> Result<Vec<String>, Error> {
            let mut st = self.conn.prepare(q).map_err(|e| self.sql(e))?;
            let rows = st
                .query_map([arg], |r| r.get::<_, String>(0))
                .map_err(|e| self.sql(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.sql(e))?;
            Ok(rows)
        };
        for q in [
            "SELECT digest FROM image WHERE name = ?1",
            "SELECT digest FROM image WHERE digest = ?1",
            "SELECT digest FROM image WHERE reference = ?1",
        ] {
            let hits = by(q, key)?;
            if hits.len() == 1 {
                return Ok(hits[0].clone());
            }
        }
        let hex = key
            .trim_start_matches("tree:")
            .trim_start_matches("sha256:");
        if hex.len() >= 8 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            let hits: Vec<String> = self
                .all_digests()?
                .into_iter()
                .filter(|d| {
                    d.trim_start_matches("tree:")
                        .trim_start_matches("sha256:")
                        .starts_with(&hex.to_ascii_lowercase())
                })
                .collect();
            match hits.len() {
                1 => return Ok(hits[0].clone()),
                0 => {}
                _ => {
                    return Err(Error::Ambiguous {
                        key: key.to_string(),
                        matches: hits.join(", "),
                    })
                }
            }
        }
        Err(Error::NotInCatalog(key.to_string()))
    }

    fn all_digests(&self) -> Result<Vec<String>, Error> {
        let mut st = self
            .conn
            .prepare("SELECT digest FROM image")
            .map_err(|e| self.sql(e))?;
        let v = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(v)
    }

    /// Every image, by name; with each one's packages and security facts when `full` (ranking
    /// reads neither unless a requirement names packages).
    pub fn list(&self, full: bool) -> Result<Vec<Record>, Error> {
        self.select(None, full)
    }

    /// One image (resolved as [`Catalog::resolve`] does), with its packages.
    pub fn get(&self, key: &str) -> Result<Record, Error> {
        let digest = self.resolve(key)?;
        self.select(Some(&digest), true)?
            .pop()
            .ok_or_else(|| Error::NotInCatalog(key.to_string()))
    }

    fn select(&self, digest: Option<&str>, packages: bool) -> Result<Vec<Record>, Error> {
        let q = format!(
            "SELECT digest, name, reference, format, stamp, added, refreshed, package_count,
                facts, {}, scan, lint, trust, location, {} FROM image {} ORDER BY name",
            if packages { "packages" } else { "NULL" },
            if packages { "security" } else { "NULL" },
            if digest.is_some() {
                "WHERE digest = ?1"
            } else {
                ""
            }
        );
        let mut st = self.conn.prepare(&q).map_err(|e| self.sql(e))?;
        let map = |row: &rusqlite::Row<'_>| -> rusqlite::Result<Vec<Option<String>>> {
            (0..15)
                .map(|i| {
                    if i == 7 {
                        row.get::<_, i64>(i).map(|n| Some(n.to_string()))
                    } else {
                        row.get::<_, Option<String>>(i)
                    }
                })
                .collect()
        };
        let rows = match digest {
            Some(d) => st.query_map([d], map),
            None => st.query_map([], map),
        }
        .map_err(|e| self.sql(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| self.sql(e))?;
        // Parsing the documents is most of the work: spread it over the cores.
        let path = self.path.as_path();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(rows.len().div_ceil(64).max(1));
        let chunk = rows.len().div_ceil(threads).max(1);
        let parsed: Vec<Result<Vec<Record>, Error>> = std::thread::scope(|scope| {
            let handles: Vec<_> = rows
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(|c| parse_row(path, c)).collect()))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(corrupt(path, "a row could not be read")))
                })
                .collect()
        });
        let mut out = Vec::with_capacity(rows.len());
        for p in parsed {
            out.extend(p?);
        }
        Ok(out)
    }

    /// Removes one image; returns its name and digest.
    pub fn remove(&mut self, key: &str) -> Result<(String, String), Error> {
        let digest = self.resolve(key)?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&self.path, e))?;
        let name: String = tx
            .query_row("SELECT name FROM image WHERE digest = ?1", [&digest], |r| {
                r.get(0)
            })
            .map_err(|e| sql_err(&self.path, e))?;
        tx.execute("DELETE FROM image WHERE digest = ?1", [&digest])
            .map_err(|e| sql_err(&self.path, e))?;
        tx.commit().map_err(|e| sql_err(&self.path, e))?;
        Ok((name, digest))
    }
}

/// One row of `select` (its 15 columns as text) as a record.
fn parse_row(path: &Path, c: &[Option<String>]) -> Result<Record, Error> {
    let s = |i: usize| c[i].clone().unwrap_or_default();
    let bad =
        |what: &str, e: serde_json::Error| corrupt(path, format!("image {}: {what}: {e}", s(0)));
    let mut facts: ImageFacts =
        serde_json::from_str(c[8].as_deref().unwrap_or("")).map_err(|e| bad("facts", e))?;
    if let Some(p) = &c[9] {
        facts.packages = serde_json::from_str(p).map_err(|e| bad("packages", e))?;
    }
    if let Some(p) = &c[14] {
        facts.security = serde_json::from_str(p).map_err(|e| bad("security", e))?;
    }
    Ok(Record {
        digest: s(0),
        name: s(1),
        reference: s(2),
        location: s(13),
        format: s(3),
        stamp: opt_json(&c[4]).map_err(|e| bad("stamp", e))?,
        added: s(5),
        refreshed: s(6),
        package_count: s(7).parse().unwrap_or(0),
        facts,
        scan: opt_json(&c[10]).map_err(|e| bad("scan", e))?,
        lint: opt_json(&c[11]).map_err(|e| bad("lint", e))?,
        trust: opt_json(&c[12]).map_err(|e| bad("trust", e))?,
    })
}

fn sql_err(path: &Path, source: rusqlite::Error) -> Error {
    match source.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
            corrupt(path, source.to_string())
        }
        _ => Error::Catalog {
            path: path.display().to_string(),
            source,
        },
    }
}

fn json<T: Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref().and_then(|v| serde_json::to_string(v).ok())
}

fn opt_json<T: for<'de> Deserialize<'de>>(
    v: &Option<String>,
) -> Result<Option<T>, serde_json::Error> {
    v.as_deref().map(serde_json::from_str).transpose()
}

/// A name from a reference: the file or directory name without archive extensions.
fn default_name(reference: &str) -> String {
    let r = reference.trim_end_matches('/');
    let r = r.rsplit_once(':').map_or(
        r,
        |(scheme, rest)| {
            if scheme.contains('/') {
                r
            } else {
                rest
            }
        },
    );
    let base = r.rsplit('/').next().unwrap_or(r);
    let mut base = base.to_string();
    for ext in [".zst", ".gz", ".xz", ".tar", ".qcow2", ".raw", ".img"] {
        if let Some(b) = base.strip_suffix(ext) {
            base = b.to_string();
        }
    }
    if base.is_empty() {
        "image".into()
    } else {
        base
    }
}

/// For the kill -9 test only: hold the write transaction open this many milliseconds
/// (`IMAGEWISE_CATALOG_TEST_PAUSE_MS`), so a kill lands inside it.
fn test_pause() {
    if let Some(ms) = std::env::var("IMAGEWISE_CATALOG_TEST_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        eprintln!("imagewise: test pause inside the catalog transaction ({ms} ms)");
        std::thread::sleep(std::time::Duration::from_millis(ms.min(60_000)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_drop_paths_and_extensions() {
        assert_eq!(default_name("/x/bookworm.tar.zst"), "bookworm");
        assert_eq!(default_name("/x/vm.qcow2"), "vm");
        assert_eq!(default_name("/srv/rootfs/"), "rootfs");
        assert_eq!(default_name("oci:/x/layout:latest"), "layout:latest");
        assert_eq!(default_name("/"), "image");
    }
}
