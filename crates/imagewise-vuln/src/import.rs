//! Reading OSV data into the database: single JSON files (one record or an array of records),
//! directories of them (recursively), and the `all.zip` archives osv.dev publishes per
//! ecosystem (`gs://osv-vulnerabilities/<ECOSYSTEM>/all.zip`).
//!
//! Every path given is imported in its own transaction: a damaged source changes nothing and
//! the others still land. A bad record is skipped and counted, never fatal.

use std::io::Read;
use std::path::Path;

use crate::db::{Database, DbError, ImportReport, Importer};
use crate::osv::OsvRecord;

/// Largest single JSON document accepted (real records are a few KiB; the largest osv.dev
/// records, Linux kernel ones, are under 2 MiB).
pub const MAX_DOCUMENT: u64 = 32 << 20;

/// Import every path; `progress` is called with the running totals now and then.
pub fn import_paths(
    db: &mut Database,
    paths: &[&Path],
    progress: &mut dyn FnMut(&ImportReport),
) -> Result<ImportReport, DbError> {
    let started = std::time::Instant::now();
    let mut report = ImportReport {
        database: db.path().to_path_buf(),
        ..ImportReport::default()
    };
    for path in paths {
        // A source that cannot be read adds nothing; an interrupted one rolls back.
        let mut tx = db.transaction()?;
        read_path(&mut tx, path, true, &mut report, progress)?;
        tx.commit()?;
        progress(&report);
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn read_path(
    tx: &mut Importer<'_>,
    path: &Path,
    top: bool,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(&ImportReport),
) -> Result<(), DbError> {
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            report.failed_sources.push(format!(
                "{shown}: {e}; give an OSV JSON file, a directory of them, or an all.zip"
            ));
            return Ok(());
        }
    };
    if meta.is_dir() {
        let mut entries: Vec<_> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(e) => {
                report.failed_sources.push(format!("{shown}: {e}"));
                return Ok(());
            }
        };
        entries.sort();
        for p in entries {
            let wanted = p.is_dir() || has_ext(&p, "json") || has_ext(&p, "zip");
            // Symlinks are not followed out of the directory tree.
            let link = p
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink());
            if wanted && !link {
                read_path(tx, &p, false, report, progress)?;
            }
        }
        return Ok(());
    }
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            report.failed_sources.push(format!("{shown}: {e}"));
            return Ok(());
        }
    };
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic).unwrap_or(0);
    if has_ext(path, "zip") || (n == 4 && &magic[..2] == b"PK") {
        return read_zip(tx, path, report, progress);
    }
    if meta.len() > MAX_DOCUMENT {
        report.skip(
            &shown,
            None,
            "too large",
            format!(
                "{} bytes is more than the {MAX_DOCUMENT}-byte limit for one document",
                meta.len()
            ),
        );
        return Ok(());
    }
    match std::fs::read(path) {
        Ok(bytes) => document(tx, &bytes, &shown, report),
        Err(e) if top => {
            report.failed_sources.push(format!("{shown}: {e}"));
            Ok(())
        }
        Err(e) => {
            report.skip(&shown, None, "unreadable file", e.to_string());
            Ok(())
        }
    }
}

fn has_ext(p: &Path, ext: &str) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

fn read_zip(
    tx: &mut Importer<'_>,
    path: &Path,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(&ImportReport),
) -> Result<(), DbError> {
    let shown = path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            report.failed_sources.push(format!("{shown}: {e}"));
            return Ok(());
        }
    };
    let mut zip = match zip::ZipArchive::new(std::io::BufReader::new(file)) {
        Ok(z) => z,
        Err(e) => {
            report.failed_sources.push(format!(
                "{shown}: not a readable zip archive ({e}); it is damaged or was cut short: download it again"
            ));
            return Ok(());
        }
    };
    let mut buf = Vec::new();
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                report.skip(
                    &format!("{shown} entry #{i}"),
                    None,
                    "damaged zip entry",
                    e.to_string(),
                );
                continue;
            }
        };
        let name = entry
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| format!("#{i}"));
        let origin = format!("{shown}:{name}");
        if entry.is_dir() || !name.to_ascii_lowercase().ends_with(".json") {
            continue;
        }
        if entry.size() > MAX_DOCUMENT {
            report.skip(
                &origin,
                None,
                "too large",
                format!(
                    "declares {} bytes, more than the {MAX_DOCUMENT}-byte limit",
                    entry.size()
                ),
            );
            continue;
        }
        buf.clear();
        let read = (&mut entry).take(MAX_DOCUMENT + 1).read_to_end(&mut buf);
        match read {
            Ok(_) if buf.len() as u64 > MAX_DOCUMENT => {
                report.skip(
                    &origin,
                    None,
                    "too large",
                    "inflates past the size it declares".into(),
                );
            }
            Ok(_) => document(tx, &buf, &origin, report)?,
            Err(e) => report.skip(
                &origin,
                None,
                "damaged zip entry",
                format!("cannot be inflated ({e})"),
            ),
        }
        if i % 4096 == 0 {
            progress(report);
        }
    }
    Ok(())
}

/// One JSON document: a record, or an array of records.
fn document(
    tx: &mut Importer<'_>,
    bytes: &[u8],
    origin: &str,
    report: &mut ImportReport,
) -> Result<(), DbError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        match serde_json::from_slice::<Vec<serde_json::Value>>(bytes) {
            Ok(values) => {
                for (i, v) in values.into_iter().enumerate() {
                    let origin = format!("{origin}[{i}]");
                    let id = v.get("id").and_then(|x| x.as_str()).map(str::to_string);
                    match serde_json::from_value::<OsvRecord>(v) {
                        Ok(r) => tx.put(r, &origin, report)?,
                        Err(e) => {
                            report.records += 1;
                            report.skip(&origin, id.as_deref(), "not an OSV record", e.to_string());
                        }
                    }
                }
            }
            Err(e) => {
                report.records += 1;
                report.skip(origin, None, "invalid JSON", e.to_string());
            }
        }
        return Ok(());
    }
    match serde_json::from_slice::<OsvRecord>(bytes) {
        Ok(r) => tx.put(r, origin, report),
        Err(e) => {
            report.records += 1;
            // Name the record when the JSON is sound but a field is not.
            let id = serde_json::from_slice::<serde_json::Value>(bytes)
                .ok()
                .and_then(|v| v.get("id")?.as_str().map(str::to_string));
            let class = if id.is_some() || e.is_data() {
                "not an OSV record"
            } else {
                "invalid JSON"
            };
            report.skip(origin, id.as_deref(), class, e.to_string());
            Ok(())
        }
    }
}
