//! The offline vulnerability database: OSV records in one SQLite file, indexed by
//! (OSV ecosystem, package name).
//!
//! Layout (format version [`FORMAT_VERSION`]):
//! - `meta(key, value)`: `format_version`, `last_import`, `written_by`, `newest_modified_ns`,
//!   and `source:ECOSYSTEM` (what `db update` last saw of that ecosystem's archive, as JSON);
//! - `records(id, modified_ns, withdrawn, body)`: one row per record id, `body` the record's JSON
//!   without its `affected` list (details capped at [`MAX_DETAILS`] bytes);
//! - `affected(ecosystem, package, record, seq, entry)`: one row per affected package of a
//!   record that is not withdrawn, `entry` that `affected[]` item's JSON; clustered by
//!   (ecosystem, package) so one lookup reads neighbouring pages.
//!
//! A newer format version is refused rather than misread; a file that is not such a database is
//! named as such. Imports run in transactions, so a failed or interrupted import leaves the
//! database as it was before that source.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use crate::ecosystems::{version_order, EcosystemError};
use crate::osv::{Affected, OsvRecord};

/// The layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The database file inside the `--db` directory.
pub const DB_FILE: &str = "osv.sqlite3";
/// `details` beyond this many bytes is cut at import (the summary and references remain).
pub const MAX_DETAILS: usize = 2000;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    #[error("no vulnerability database at {0}: run `imagewise db import OSV_ZIP_OR_DIR` first, or point --db at one")]
    Missing(PathBuf),
    #[error("{path} was written by a newer imagewise (database format {found}; this build reads format {FORMAT_VERSION}): upgrade imagewise, or import into a new --db directory")]
    NewerFormat { path: PathBuf, found: u32 },
    #[error("{path} is not an imagewise vulnerability database ({reason}): move it away or choose another --db directory")]
    NotADatabase { path: PathBuf, reason: String },
    #[error("vulnerability database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The OS error follows in the cause chain.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl imagewise_types::HasKind for DbError {
    fn kind(&self) -> imagewise_types::ErrorKind {
        use imagewise_types::ErrorKind;
        match self {
            DbError::Missing(_) => ErrorKind::NotFound,
            DbError::NewerFormat { .. } => ErrorKind::Unsupported,
            DbError::NotADatabase { .. } => ErrorKind::Usage,
            DbError::Sqlite { source, .. } => match source.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    ErrorKind::Conflict
                }
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                    ErrorKind::Corrupt
                }
                Some(
                    rusqlite::ErrorCode::CannotOpen
                    | rusqlite::ErrorCode::ReadOnly
                    | rusqlite::ErrorCode::PermissionDenied
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure,
                ) => ErrorKind::Io,
                _ => ErrorKind::Internal,
            },
            DbError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                _ => ErrorKind::Io,
            },
        }
    }
}

/// The warning for data whose newest record is `newest`: none held, or (with `max_age_days`)
/// older than that.
pub(crate) fn stale_message(
    newest: Option<jiff::Timestamp>,
    max_age_days: Option<u32>,
) -> Option<String> {
    let Some(newest) = newest else {
        return Some("the vulnerability database holds no records".into());
    };
    let days = jiff::Timestamp::now().duration_since(newest).as_secs() / 86_400;
    (days > i64::from(max_age_days?)).then(|| {
        format!(
            "the vulnerability data is {days} days old (newest record modified {newest}); import fresh OSV data: results miss everything published since"
        )
    })
}

/// The default database directory: `$XDG_DATA_HOME/imagewise/osv`, else
/// `~/.local/share/imagewise/osv`.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("share"))
        })?;
    Some(base.join("imagewise").join("osv"))
}

pub struct Database {
    conn: Connection,
    path: PathBuf,
}

/// One ecosystem's share of the database.
#[derive(Debug, Clone, Serialize)]
pub struct EcosystemStatus {
    pub ecosystem: String,
    pub records: u64,
    pub packages: u64,
    pub newest_modified: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub path: PathBuf,
    /// Whether the data is older than the age asked of [`Database::status_for`] (or empty).
    pub stale: bool,
    /// Why, in words (a warning for the user; not in the JSON).
    #[serde(skip)]
    pub stale_warning: Option<String>,
    pub format_version: u32,
    pub records: u64,
    pub withdrawn: u64,
    pub newest_modified: Option<String>,
    pub last_import: Option<String>,
    pub ecosystems: Vec<EcosystemStatus>,
}

/// A record left out of an import, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The file (and zip member) it came from.
    pub origin: String,
    pub id: Option<String>,
    pub reason: String,
}

/// What one import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Records read (valid or not).
    pub records: u64,
    pub added: u64,
    pub updated: u64,
    /// Already present with the same or a newer `modified`.
    pub unchanged: u64,
    /// Stored as withdrawn (never matched).
    pub withdrawn: u64,
    pub skipped: u64,
    /// Skipped records per kind of reason.
    pub skipped_by_reason: BTreeMap<String, u64>,
    /// The first skipped records with their full reasons.
    pub skipped_examples: Vec<Skipped>,
    /// Whole sources that could not be read (damaged zip, unreadable file), with what to do.
    pub failed_sources: Vec<String>,
    /// The database file imported into.
    pub database: PathBuf,
    /// Wall time of the whole import.
    pub seconds: f64,
}

const MAX_EXAMPLES: usize = 20;

impl ImportReport {
    pub(crate) fn skip(&mut self, origin: &str, id: Option<&str>, class: &str, reason: String) {
        self.skipped += 1;
        *self.skipped_by_reason.entry(class.to_string()).or_default() += 1;
        if self.skipped_examples.len() < MAX_EXAMPLES {
            self.skipped_examples.push(Skipped {
                origin: origin.to_string(),
                id: id.map(str::to_string),
                reason,
            });
        }
    }
}

fn rfc3339_ns(s: &str) -> Option<i64> {
    let t: jiff::Timestamp = s.parse().ok()?;
    i64::try_from(t.as_nanosecond()).ok()
}

fn ns_to_rfc3339(ns: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(ns))
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ns.to_string())
}

/// Why a record is left out: (class for counting, full reason).
type Reject = (&'static str, String);

/// Keep the affected entries imagewise can match; reject the record when nothing is left.
fn usable_entries(r: &OsvRecord) -> Result<Vec<(&str, &str, &Affected)>, Reject> {
    if r.id.trim().is_empty() || r.id.len() > 256 || r.id.chars().any(char::is_control) {
        return Err(("invalid id", format!("invalid id {:?}", r.id)));
    }
    let mut keep = Vec::new();
    let mut first_problem: Option<Reject> = None;
    for a in &r.affected {
        let Some(p) = &a.package else {
            continue; // GIT-only entries name no package
        };
        if p.name.is_empty() {
            first_problem.get_or_insert((
                "invalid package",
                "an affected package with an empty name".into(),
            ));
            continue;
        }
        let order = match version_order(&p.ecosystem) {
            Ok(o) => o,
            Err(e @ EcosystemError::Unknown(_)) => {
                first_problem.get_or_insert(("unknown ecosystem", e.to_string()));
                continue;
            }
            Err(e @ EcosystemError::Unsupported(_)) => {
                first_problem.get_or_insert(("unsupported ecosystem", e.to_string()));
                continue;
            }
        };
        if let Err(e) = a.validate(order) {
            // One bad range makes the whole record untrustworthy: a partial record could turn
            // "affected" into a clean answer.
            return Err(("bad range", format!("{} ({}): {e}", p.name, p.ecosystem)));
        }
        keep.push((p.ecosystem.as_str(), p.name.as_str(), a));
    }
    if keep.is_empty() && r.withdrawn.is_none() {
        return Err(first_problem.unwrap_or((
            "no affected package",
            "no affected package in any ecosystem".into(),
        )));
    }
    Ok(keep)
}

impl Database {
    /// Open an existing database for reading.
    pub fn open(dir: &Path) -> Result<Database, DbError> {
        let path = dir.join(DB_FILE);
        if !path.is_file() {
            return Err(DbError::Missing(dir.to_path_buf()));
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| DbError::NotADatabase {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let db = Database { conn, path };
        db.check_format()?;
        // Lookups jump around the file: map it rather than copy pages through read().
        db.conn
            .execute_batch(
                "PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -65536; PRAGMA busy_timeout = 10000;",
            )
            .map_err(|e| db.sql_err(e))?;
        Ok(db)
    }

    /// Open a database for import, creating the directory and the file when missing.
    pub fn create(dir: &Path) -> Result<Database, DbError> {
        std::fs::create_dir_all(dir).map_err(|source| DbError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(|e| DbError::NotADatabase {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let db = Database { conn, path };
        let fresh = db.check_format()?;
        let sql = |e| db.sql_err(e);
        db.conn
            .execute_batch(
                // A rollback journal, not WAL: readers then need no -shm file, so a database
                // in a read-only place (an image, a shared mount) still opens.
                "PRAGMA journal_mode=DELETE; PRAGMA busy_timeout=10000;",
            )
            .map_err(sql)?;
        if fresh {
            db.conn
                .execute_batch(&format!(
                    "BEGIN;
                     CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                     CREATE TABLE records(id TEXT PRIMARY KEY, modified_ns INTEGER NOT NULL,
                                          withdrawn INTEGER NOT NULL, body TEXT NOT NULL);
                     CREATE TABLE affected(ecosystem TEXT NOT NULL, package TEXT NOT NULL,
                                           record TEXT NOT NULL, seq INTEGER NOT NULL,
                                           entry TEXT NOT NULL,
                                           PRIMARY KEY (ecosystem, package, record, seq))
                                           WITHOUT ROWID;
                     CREATE INDEX affected_record ON affected(record);
                     INSERT INTO meta VALUES ('format_version', '{FORMAT_VERSION}');
                     INSERT INTO meta VALUES ('written_by', 'imagewise {}');
                     COMMIT;",
                    env!("CARGO_PKG_VERSION")
                ))
                .map_err(sql)?;
        }
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql_err(&self, source: rusqlite::Error) -> DbError {
        DbError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Refuse a newer layout or a foreign file; `true` when the file is new and empty.
    fn check_format(&self) -> Result<bool, DbError> {
        let not_db = |e: rusqlite::Error| DbError::NotADatabase {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(not_db)?;
        if tables == 0 {
            return Ok(true);
        }
        let v: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'format_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(not_db)?;
        let found: u32 =
            v.as_deref()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| DbError::NotADatabase {
                    path: self.path.clone(),
                    reason: "it has no format_version".into(),
                })?;
        if found > FORMAT_VERSION {
            return Err(DbError::NewerFormat {
                path: self.path.clone(),
                found,
            });
        }
        Ok(false)
    }

    /// Import one source document stream; see [`crate::import`] for reading files and zips.
    pub(crate) fn transaction(&mut self) -> Result<Importer<'_>, DbError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|source| DbError::Sqlite {
            path: path.clone(),
            source,
        })?;
        Ok(Importer { tx, path })
    }

    /// [`Database::status`] with `stale` (and `stale_warning`) judged as
    /// [`Database::staleness`] judges it.
    pub fn status_for(&self, max_age_days: Option<u32>) -> Result<Status, DbError> {
        let mut st = self.status()?;
        st.stale_warning = self.staleness(max_age_days)?;
        st.stale = st.stale_warning.is_some();
        Ok(st)
    }

    pub fn status(&self) -> Result<Status, DbError> {
        let sql = |e| self.sql_err(e);
        let one = |q: &str| -> Result<i64, DbError> {
            self.conn.query_row(q, [], |r| r.get(0)).map_err(sql)
        };
        let records = one("SELECT count(*) FROM records")?;
        let withdrawn = one("SELECT count(*) FROM records WHERE withdrawn = 1")?;
        let newest: Option<i64> = self
            .conn
            .query_row("SELECT max(modified_ns) FROM records", [], |r| r.get(0))
            .map_err(sql)?;
        let meta = |k: &str| -> Result<Option<String>, DbError> {
            self.conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                .optional()
                .map_err(sql)
        };
        let format_version = meta("format_version")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(FORMAT_VERSION);
        let mut st = self
            .conn
            .prepare(
                "SELECT a.ecosystem, count(DISTINCT a.record), count(DISTINCT a.package),
                        max(r.modified_ns)
                 FROM affected a JOIN records r ON r.id = a.record
                 GROUP BY a.ecosystem ORDER BY a.ecosystem",
            )
            .map_err(sql)?;
        let ecosystems = st
            .query_map([], |r| {
                Ok(EcosystemStatus {
                    ecosystem: r.get(0)?,
                    records: r.get::<_, i64>(1)? as u64,
                    packages: r.get::<_, i64>(2)? as u64,
                    newest_modified: r.get::<_, Option<i64>>(3)?.map(ns_to_rfc3339),
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql)?;
        Ok(Status {
            path: self.path.clone(),
            stale: false,
            stale_warning: None,
            format_version,
            records: records as u64,
            withdrawn: withdrawn as u64,
            newest_modified: newest.map(ns_to_rfc3339),
            last_import: meta("last_import")?,
            ecosystems,
        })
    }

    /// The newest `modified` time of the records, as a timestamp.
    /// A warning when the database holds no records, or (with `max_age_days`) when its newest
    /// record is older than that, naming its age.
    pub fn staleness(&self, max_age_days: Option<u32>) -> Result<Option<String>, DbError> {
        Ok(stale_message(self.newest_modified()?, max_age_days))
    }

    pub fn newest_modified(&self) -> Result<Option<jiff::Timestamp>, DbError> {
        // Kept in `meta` by every import, so this is no table scan.
        let newest: Option<i64> = self
            .conn
            .query_row(
                "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'newest_modified_ns'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql_err(e))?;
        Ok(newest.and_then(|n| jiff::Timestamp::from_nanosecond(i128::from(n)).ok()))
    }

    /// What the last `db update` saw of `ecosystem`'s archive (kept in `meta` as
    /// `source:ECOSYSTEM`); `None` when it was never updated, or the entry cannot be read.
    pub fn source_state(
        &self,
        ecosystem: &str,
    ) -> Result<Option<crate::update::SourceState>, DbError> {
        let v: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [format!("source:{ecosystem}")],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql_err(e))?;
        Ok(v.and_then(|v| serde_json::from_str(&v).ok()))
    }

    pub(crate) fn set_source_state(
        &self,
        ecosystem: &str,
        state: &crate::update::SourceState,
    ) -> Result<(), DbError> {
        let v = serde_json::to_string(state).expect("plain struct serialises");
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta VALUES (?1, ?2)",
                params![format!("source:{ecosystem}"), v],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(())
    }

    /// The OSV ecosystem strings present.
    pub fn ecosystems(&self) -> Result<Vec<String>, DbError> {
        let sql = |e| self.sql_err(e);
        let mut st = self
            .conn
            // A skip-scan down the primary key: one seek per ecosystem, not a table scan.
            .prepare(
                "WITH RECURSIVE e(x) AS (
                   SELECT min(ecosystem) FROM affected
                   UNION ALL
                   SELECT (SELECT min(ecosystem) FROM affected WHERE ecosystem > x)
                   FROM e WHERE x IS NOT NULL)
                 SELECT x FROM e WHERE x IS NOT NULL",
            )
            .map_err(sql)?;
        let v = st
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            .map_err(sql)?;
        Ok(v)
    }

    /// The affected entries naming `package` in `ecosystem`, with their record ids.
    pub fn lookup(
        &self,
        ecosystem: &str,
        package: &str,
    ) -> Result<Vec<(String, Affected)>, DbError> {
        let sql = |e| self.sql_err(e);
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT record, entry FROM affected WHERE ecosystem = ?1 AND package = ?2",
            )
            .map_err(sql)?;
        let rows = st
            .query_map(params![ecosystem, package], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql)?;
        self.entries(package, rows)
    }

    /// The entries for an application package, named as its ecosystem normalises names: PyPI
    /// by PEP 503 (case, and `-`, `_`, `.` alike; stored names are normalised in the query),
    /// NuGet and Packagist ignoring case, others (Maven `group:artifact`, Go module paths, npm,
    /// crates.io, RubyGems) exactly.
    pub fn lookup_app(
        &self,
        ecosystem: &str,
        package: &str,
    ) -> Result<Vec<(String, Affected)>, DbError> {
        let query = match ecosystem {
            "PyPI" => {
                "SELECT record, entry FROM affected WHERE ecosystem = ?1 AND \
                 lower(replace(replace(package, '_', '-'), '.', '-')) = ?2"
            }
            // NuGet ids and Packagist names are case-insensitive.
            "NuGet" | "Packagist" => {
                "SELECT record, entry FROM affected WHERE ecosystem = ?1 AND \
                 lower(package) = lower(?2)"
            }
            _ => return self.lookup(ecosystem, package),
        };
        let sql = |e| self.sql_err(e);
        let mut st = self.conn.prepare_cached(query).map_err(sql)?;
        let rows = st
            .query_map(params![ecosystem, package], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql)?;
        self.entries(package, rows)
    }

    /// Stored (record id, entry JSON) rows of `package`, parsed.
    fn entries(
        &self,
        package: &str,
        rows: Vec<(String, String)>,
    ) -> Result<Vec<(String, Affected)>, DbError> {
        rows.into_iter()
            .map(|(id, entry)| {
                serde_json::from_str(&entry)
                    .map(|a| (id, a))
                    .map_err(|e| DbError::NotADatabase {
                        path: self.path.clone(),
                        reason: format!("stored entry of {package} is damaged: {e}"),
                    })
            })
            .collect()
    }

    /// A record by id (without its `affected` list).
    pub fn record(&self, id: &str) -> Result<Option<OsvRecord>, DbError> {
        let sql = |e| self.sql_err(e);
        let body: Option<String> = self
            .conn
            .prepare_cached("SELECT body FROM records WHERE id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
            .map_err(sql)?;
        body.map(|b| {
            serde_json::from_str(&b).map_err(|e| DbError::NotADatabase {
                path: self.path.clone(),
                reason: format!("stored record {id} is damaged: {e}"),
            })
        })
        .transpose()
    }
}

/// One import transaction: records go in with [`Importer::put`], nothing is visible until
/// [`Importer::commit`].
pub(crate) struct Importer<'a> {
    tx: rusqlite::Transaction<'a>,
    path: PathBuf,
}

impl Importer<'_> {
    fn sql_err(&self, source: rusqlite::Error) -> DbError {
        DbError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Validate and store one parsed record; bad records are counted in `report`, not errors.
    pub(crate) fn put(
        &mut self,
        mut r: OsvRecord,
        origin: &str,
        report: &mut ImportReport,
    ) -> Result<(), DbError> {
        report.records += 1;
        let Some(modified) = rfc3339_ns(&r.modified) else {
            let reason = format!("modified {:?} is not an RFC 3339 time", r.modified);
            report.skip(origin, Some(&r.id), "invalid modified time", reason);
            return Ok(());
        };
        if let Some(w) = &r.withdrawn {
            if rfc3339_ns(w).is_none() {
                let reason = format!("withdrawn {w:?} is not an RFC 3339 time");
                report.skip(origin, Some(&r.id), "invalid withdrawn time", reason);
                return Ok(());
            }
        }
        let entries: Vec<(String, String, String)> = match usable_entries(&r) {
            Ok(v) => v
                .into_iter()
                .map(|(eco, name, a)| Ok((eco.into(), name.into(), serde_json::to_string(a)?)))
                .collect::<Result<_, serde_json::Error>>()
                .map_err(|e| DbError::Io {
                    path: self.path.clone(),
                    source: e.into(),
                })?,
            Err((class, reason)) => {
                report.skip(origin, Some(&r.id), class, reason);
                return Ok(());
            }
        };
        let sql = |e| self.sql_err(e);
        let existing: Option<i64> = self
            .tx
            .prepare_cached("SELECT modified_ns FROM records WHERE id = ?1")
            .and_then(|mut st| st.query_row([&r.id], |row| row.get(0)).optional())
            .map_err(sql)?;
        match existing {
            Some(m) if m >= modified => {
                report.unchanged += 1;
                return Ok(());
            }
            Some(_) => {
                report.updated += 1;
                self.tx
                    .prepare_cached("DELETE FROM affected WHERE record = ?1")
                    .and_then(|mut st| st.execute([&r.id]))
                    .map_err(sql)?;
            }
            None => report.added += 1,
        }
        let withdrawn = r.withdrawn.is_some();
        if withdrawn {
            report.withdrawn += 1;
        }
        r.affected.clear();
        if let Some(d) = &mut r.details {
            if d.len() > MAX_DETAILS {
                let mut cut = MAX_DETAILS;
                while !d.is_char_boundary(cut) {
                    cut -= 1;
                }
                d.truncate(cut);
                d.push('…');
            }
        }
        let body = serde_json::to_string(&r).map_err(|e| DbError::Io {
            path: self.path.clone(),
            source: e.into(),
        })?;
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO records VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut st| st.execute(params![r.id, modified, withdrawn, body]))
            .map_err(sql)?;
        if !withdrawn {
            let mut st = self
                .tx
                .prepare_cached("INSERT INTO affected VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(sql)?;
            for (seq, (eco, name, entry)) in entries.iter().enumerate() {
                st.execute(params![eco, name, r.id, seq as i64, entry])
                    .map_err(sql)?;
            }
        }
        Ok(())
    }

    pub(crate) fn commit(self) -> Result<(), DbError> {
        let path = self.path.clone();
        let now = jiff::Timestamp::now().to_string();
        self.tx
            .execute(
                "INSERT OR REPLACE INTO meta VALUES ('last_import', ?1)",
                [now],
            )
            .and_then(|_| {
                self.tx.execute(
                    "INSERT OR REPLACE INTO meta
                     SELECT 'newest_modified_ns', max(modified_ns) FROM records
                     WHERE (SELECT count(*) FROM records) > 0",
                    [],
                )
            })
            .and_then(|_| self.tx.commit())
            .map_err(|source| DbError::Sqlite { path, source })
    }
}

impl ImportReport {
    /// The counts, the skipped records by reason, and examples (`all`: every example kept).
    pub fn render_text(&self, all: bool) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let rate = if self.seconds > 0.0 {
            self.records as f64 / self.seconds
        } else {
            0.0
        };
        let _ = writeln!(
            s,
            "{} records read into {} in {:.1} s ({rate:.0}/s): {} added, {} updated, {} unchanged, {} withdrawn, {} skipped",
            self.records,
            self.database.display(),
            self.seconds,
            self.added,
            self.updated,
            self.unchanged,
            self.withdrawn,
            self.skipped
        );
        if self.skipped > 0 {
            let _ = writeln!(s, "skipped, by reason:");
            for (why, n) in &self.skipped_by_reason {
                let _ = writeln!(s, "  {n:>7}  {why}");
            }
            let shown = if all { self.skipped_examples.len() } else { 5 };
            for x in self.skipped_examples.iter().take(shown) {
                let id = x.id.as_deref().unwrap_or("(no id)");
                let _ = writeln!(s, "  {id} in {}: {}", x.origin, x.reason);
            }
            if self.skipped_examples.len() > shown {
                let _ = writeln!(s, "  … (-v lists up to {})", self.skipped_examples.len());
            }
        }
        s
    }
}

impl Status {
    pub fn render_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = format!(
            "database   {}\nformat     {}\nrecords    {} ({} withdrawn)\nnewest     {}\nimported   {}\n",
            self.path.display(),
            self.format_version,
            self.records,
            self.withdrawn,
            self.newest_modified.as_deref().unwrap_or("none"),
            self.last_import.as_deref().unwrap_or("never")
        );
        if !self.ecosystems.is_empty() {
            let w = self
                .ecosystems
                .iter()
                .map(|e| e.ecosystem.len())
                .max()
                .unwrap_or(9)
                .max(9);
            let _ = writeln!(
                s,
                "\n{:<w$}  {:>8}  {:>8}  NEWEST",
                "ECOSYSTEM", "RECORDS", "PACKAGES"
            );
            for e in &self.ecosystems {
                let _ = writeln!(
                    s,
                    "{:<w$}  {:>8}  {:>8}  {}",
                    e.ecosystem,
                    e.records,
                    e.packages,
                    e.newest_modified.as_deref().unwrap_or("-")
                );
            }
        }
        s
    }
}
