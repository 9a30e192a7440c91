//! rpm's SQLite backend (`rpmdb.sqlite`, rpm ≥ 4.16: Fedora 33+, EL 9, CBL-Mariner, Amazon
//! Linux 2023): table `Packages(hnum, blob)`, one header blob per row.
//!
//! The file is loaded into an in-memory, read-only SQLite database, so nothing is written next
//! to the image and a `-wal` or `-shm` file is never created. SQLite's defensive mode is on: the
//! file is untrusted input.

use super::DbError;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

pub(crate) fn blobs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, DbError> {
    if bytes.len() < 100 || !bytes.starts_with(b"SQLite format 3\0") {
        return Err("not an SQLite 3 database (bad header)".into());
    }
    // A database in WAL mode (header bytes 18 and 19 = 2) cannot be opened from memory; rpm keeps
    // its data in the main file once checkpointed, so read it as a rollback-journal database.
    let mut head = bytes[..100].to_vec();
    if head[18] == 2 && head[19] == 2 {
        head[18] = 1;
        head[19] = 1;
    }
    let reader = std::io::Read::chain(&head[..], &bytes[100..]);
    let mut conn = Connection::open_in_memory_with_flags(
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot start SQLite: {e}"))?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .map_err(|e| format!("cannot configure SQLite: {e}"))?;
    conn.deserialize_read_exact("main", reader, bytes.len(), true)
        .map_err(|e| format!("cannot load the database: {e}"))?;
    let mut stmt = conn
        .prepare("SELECT blob FROM Packages ORDER BY hnum")
        .map_err(|e| format!("no Packages table: {e}"))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(|e| format!("reading Packages: {e}"))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("reading Packages: {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_sqlite_and_corrupt_files() {
        assert!(blobs(b"hello")
            .unwrap_err()
            .to_string()
            .contains("bad header"));
        let mut fake = b"SQLite format 3\0".to_vec();
        fake.resize(4096, 0xff);
        let err = blobs(&fake).unwrap_err().to_string();
        assert!(
            err.contains("database") || err.contains("Packages"),
            "{err}"
        );
    }
}
