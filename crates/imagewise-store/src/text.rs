//! The store's reports as text for a terminal, one `render_text` per report (the JSON forms are
//! the reports themselves). Warnings and failures that belong on standard error are left to the
//! caller: they are fields of the reports.

use std::fmt::Write as _;

use crate::check::CheckReport;
use crate::create::CreateReport;
use crate::diff::{ChangeKind, DiffReport};
use crate::prune::{ForgetReport, PruneReport};
use crate::repo::RepoStats;
use crate::restore::RestoreReport;
use crate::snapshot::{SnapshotKind, SnapshotShow, StoredSnapshot};

/// Bytes as MiB with one decimal.
pub fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / 1048576.0)
}

impl CheckReport {
    /// One `DAMAGED` line per error, then the counts.
    pub fn render_text(&self, location: &str, read_data: bool) -> String {
        let mut s = String::new();
        for e in &self.errors {
            let _ = writeln!(s, "DAMAGED {e}");
        }
        let _ = writeln!(
            s,
            "{location}: {} snapshots, {} trees, {} packs, {} blobs{}: {}",
            self.snapshots,
            self.trees,
            self.packs,
            self.blobs,
            if read_data {
                format!(", {} read and verified", mib(self.bytes_read))
            } else {
                String::new()
            },
            if self.ok() {
                "no errors".to_string()
            } else {
                format!("{} errors", self.errors.len())
            }
        );
        s
    }
}

impl RepoStats {
    pub fn render_text(&self, location: &str) -> String {
        format!(
            "repository   {location}\nsnapshots    {}\npacks        {} ({})\nblobs        {} ({} data, {} trees)\nindex        {} in memory\nstored       {} of {} unique bytes\nsnapshots    {} of files in all snapshots\nratio        {:.2}× (snapshot bytes / pack bytes)\n",
            self.snapshots,
            self.packs,
            mib(self.pack_bytes),
            self.blobs,
            self.data_blobs,
            self.tree_blobs,
            mib(self.index_memory),
            mib(self.stored_bytes),
            mib(self.blob_bytes),
            mib(self.snapshot_bytes),
            self.ratio
        )
    }
}

impl CreateReport {
    pub fn render_text(&self) -> String {
        let s = &self.snapshot.summary;
        format!(
            "snapshot {} of {}: {} files ({} read, {} unchanged), {} read, {} new, {} stored, {:.2} s\n",
            self.id.short(),
            self.snapshot.source,
            s.files,
            s.files_read,
            s.files_unchanged,
            mib(s.bytes_read),
            mib(s.bytes_new),
            mib(s.bytes_stored),
            s.duration_s
        )
    }
}

/// `snapshot list`: a header and one row per snapshot.
pub fn render_list(snaps: &[StoredSnapshot]) -> String {
    let mut s = format!(
        "{:<16}  {:<30}  {:<4}  {:>10}  {:<20}  source\n",
        "id", "time", "kind", "size", "tags"
    );
    for x in snaps {
        let _ = writeln!(
            s,
            "{:<16}  {:<30}  {:<4}  {:>10}  {:<20}  {}",
            x.id.short(),
            x.snapshot.time,
            if x.snapshot.kind == SnapshotKind::Raw {
                "raw"
            } else {
                "tree"
            },
            mib(x.snapshot.summary.bytes),
            x.snapshot.tags.join(","),
            x.snapshot.source
        );
    }
    s
}

impl SnapshotShow {
    pub fn render_text(&self) -> String {
        let x = &self.snapshot;
        let signed = self.signature.as_str();
        format!(
            "id         {}\ntime       {}\nsource     {} ({})\nkind       {:?}\ntags       {}\nhost       {}\nsignature  {signed}\nfiles      {} in {} dirs, {} entries\nsize       {}\nadded      {} new, {} stored, in {:.2} s\n",
            self.id,
            x.time,
            x.source,
            x.format,
            x.kind,
            x.tags.join(", "),
            x.hostname,
            x.summary.files,
            x.summary.dirs,
            x.summary.entries,
            mib(x.summary.bytes),
            mib(x.summary.bytes_new),
            mib(x.summary.bytes_stored),
            x.summary.duration_s
        )
    }
}

impl DiffReport {
    /// `+` added, `-` removed, `M` changed, `m` metadata only; then the counts.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        for c in &self.changes {
            let mark = match c.change {
                ChangeKind::Added => "+",
                ChangeKind::Removed => "-",
                ChangeKind::Changed => "M",
                ChangeKind::Metadata => "m",
            };
            let size = match (c.size_a, c.size_b) {
                (Some(a), Some(b)) if a != b => format!("  {a} → {b} bytes"),
                (Some(a), None) | (None, Some(a)) => format!("  {a} bytes"),
                _ => String::new(),
            };
            let what = if c.what.is_empty() {
                String::new()
            } else {
                format!("  ({})", c.what.join(", "))
            };
            let _ = writeln!(s, "{mark} {}{size}{what}", c.path);
        }
        let _ = writeln!(
            s,
            "{} added ({}), {} removed ({}), {} changed, {} metadata only",
            self.added,
            mib(self.bytes_added),
            self.removed,
            mib(self.bytes_removed),
            self.changed,
            self.metadata_only
        );
        s
    }
}

impl RestoreReport {
    /// The summary line (failures are listed by the caller, on standard error).
    pub fn render_text(&self, target: &std::path::Path) -> String {
        format!(
            "restored snapshot {} to {}: {} files, {} dirs, {} entries, {} written, {:.2} s{}\n",
            self.snapshot.get(..16).unwrap_or(&self.snapshot),
            target.display(),
            self.files,
            self.dirs,
            self.entries,
            mib(self.bytes_written),
            self.duration_s,
            if self.failures.is_empty() {
                String::new()
            } else {
                format!("; {} paths FAILED", self.failures.len())
            }
        )
    }
}

impl ForgetReport {
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        for d in &self.decisions {
            let _ = writeln!(
                s,
                "{} {}  {}  {}  {}",
                if d.keep { "keep  " } else { "forget" },
                d.id.get(..16).unwrap_or(&d.id),
                d.time,
                d.source,
                d.reasons.join(", ")
            );
        }
        let _ = writeln!(
            s,
            "{} kept, {} {}; run `imagewise prune` to free their space",
            self.kept,
            self.removed,
            if self.dry_run {
                "would be forgotten"
            } else {
                "forgotten"
            }
        );
        s
    }
}

impl PruneReport {
    pub fn render_text(&self) -> String {
        format!(
            "{} snapshots kept; packs {} → {} ({} deleted, {} repacked), {} blobs removed, {} → {} in {:.2} s\n",
            self.snapshots,
            self.packs_before,
            self.packs_after,
            self.packs_deleted,
            self.packs_repacked,
            self.blobs_removed,
            mib(self.bytes_before),
            mib(self.bytes_after),
            self.duration_s
        )
    }
}
