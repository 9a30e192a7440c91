//! `forget` (drop snapshots by a keep policy), `prune` (delete what no snapshot uses, repack
//! partly used packs) and `repo repair` (index packs that no index lists).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::backend::{list_all, FileKind};
use crate::create::{Job, Packer};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::index::{self, Index};
use crate::lock;
use crate::pack::{read_header, PackEntry};
use crate::repo::{BlobReader, Repo};
use crate::tree::NodeKind;

/// Which snapshots `forget` keeps, per source. A snapshot kept by any rule stays.
#[derive(Debug, Clone, Default)]
pub struct ForgetPolicy {
    pub keep_last: usize,
    pub keep_daily: usize,
    pub keep_weekly: usize,
    pub keep_monthly: usize,
    /// Snapshots with any of these tags are always kept.
    pub keep_tags: Vec<String>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForgetDecision {
    pub id: String,
    pub time: String,
    pub source: String,
    pub keep: bool,
    /// Why it is kept (`last`, `daily 2026-11-28`, `tag golden`, …).
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForgetReport {
    pub decisions: Vec<ForgetDecision>,
    pub removed: usize,
    pub kept: usize,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    pub snapshots: usize,
    pub packs_before: usize,
    pub packs_after: usize,
    pub packs_deleted: usize,
    pub packs_repacked: usize,
    pub blobs_removed: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub duration_s: f64,
}

/// `repo repair --json`.
#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    /// Packs that no index listed, now indexed from their own headers.
    pub packs_indexed: usize,
}

impl Repo {
    pub fn forget(&self, policy: &ForgetPolicy) -> Result<ForgetReport> {
        if policy.keep_last + policy.keep_daily + policy.keep_weekly + policy.keep_monthly == 0
            && policy.keep_tags.is_empty()
        {
            return Err(Error::input(
                "forget needs a --keep-last, --keep-daily, --keep-weekly, --keep-monthly or --keep-tag; refusing to forget every snapshot",
            ));
        }
        let _lock = lock::lock(&self.backend, true, "forget")?;
        let (snaps, _) = self.snapshots()?;
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, s) in snaps.iter().enumerate() {
            groups
                .entry(s.snapshot.source.as_str())
                .or_default()
                .push(i);
        }
        let mut reasons: Vec<Vec<String>> = vec![Vec::new(); snaps.len()];
        for members in groups.values() {
            // Newest first.
            let mut order = members.clone();
            order.sort_by(|a, b| snaps[*b].snapshot.time.cmp(&snaps[*a].snapshot.time));
            for (n, &i) in order.iter().enumerate() {
                if n < policy.keep_last {
                    reasons[i].push("last".into());
                }
            }
            for (rule, count, len) in [
                ("daily", policy.keep_daily, 10),
                ("weekly", policy.keep_weekly, 0),
                ("monthly", policy.keep_monthly, 7),
            ] {
                let mut seen: Vec<String> = Vec::new();
                for &i in &order {
                    if seen.len() >= count {
                        break;
                    }
                    let t = &snaps[i].snapshot.time;
                    let bucket = if rule == "weekly" {
                        t.parse::<jiff::Timestamp>()
                            .map(|ts| {
                                let d = jiff::tz::Offset::UTC.to_datetime(ts).date();
                                let w = d.iso_week_date();
                                format!("{}-W{:02}", w.year(), w.week())
                            })
                            .unwrap_or_else(|_| t.clone())
                    } else {
                        t.chars().take(len).collect()
                    };
                    if !seen.contains(&bucket) {
                        reasons[i].push(format!("{rule} {bucket}"));
                        seen.push(bucket);
                    }
                }
            }
        }
        let mut decisions = Vec::new();
        for (i, s) in snaps.iter().enumerate() {
            for t in &s.snapshot.tags {
                if policy.keep_tags.contains(t) {
                    reasons[i].push(format!("tag {t}"));
                }
            }
            let keep = !reasons[i].is_empty();
            if !keep && !policy.dry_run {
                self.backend.remove(FileKind::Snapshot, &s.id.hex())?;
            }
            decisions.push(ForgetDecision {
                id: s.id.hex(),
                time: s.snapshot.time.clone(),
                source: s.snapshot.source.clone(),
                keep,
                reasons: std::mem::take(&mut reasons[i]),
            });
        }
        let kept = decisions.iter().filter(|d| d.keep).count();
        Ok(ForgetReport {
            removed: decisions.len() - kept,
            kept,
            decisions,
            dry_run: policy.dry_run,
        })
    }

    /// Every blob some snapshot uses. Fails if a snapshot or tree cannot be read: pruning on a
    /// partial picture could delete what a damaged-looking snapshot still needs.
    fn used_blobs(&self, index: &Index) -> Result<(usize, HashSet<Id>)> {
        let (snaps, damaged) = self.snapshots()?;
        if let Some((name, why)) = damaged.first() {
            return Err(Error::damaged(format!(
                "snapshot {name} cannot be read ({why}); refusing to prune until `imagewise repo check` is clean (or remove that snapshot file)"
            )));
        }
        let mut used = HashSet::new();
        let mut reader = BlobReader::new(self, index);
        for s in &snaps {
            let mut stack: Vec<Id> = s.snapshot.root.subtree.into_iter().collect();
            while let Some(t) = stack.pop() {
                if !used.insert(t) {
                    continue;
                }
                let tree = reader.tree(&t).map_err(|e| {
                    Error::damaged(format!(
                        "snapshot {}: {e}; refusing to prune a repository with damaged snapshots",
                        s.id.short()
                    ))
                })?;
                for n in &tree.nodes {
                    if n.kind == NodeKind::Dir {
                        stack.extend(n.subtree);
                    }
                    used.extend(n.content.iter().filter_map(|e| e.0));
                }
            }
        }
        Ok((snaps.len(), used))
    }

    /// Index packs that no index file lists (after a lost index file or an interrupted write).
    /// Returns how many packs were indexed.
    pub fn repair_index(&self) -> Result<RepairReport> {
        let _lock = lock::lock(&self.backend, true, "repo repair")?;
        let index = self.load_index()?;
        let known: HashSet<String> = index.packs.iter().map(Id::hex).collect();
        let mut found = Vec::new();
        for (name, size) in list_all(self.backend.as_ref(), FileKind::Pack)? {
            if known.contains(&name) {
                continue;
            }
            let Some(id) = Id::parse(&name) else {
                continue;
            };
            match read_header(self.backend.as_ref(), &id, size) {
                Ok(entries) => found.push((id, entries)),
                Err(e) => tracing::warn!("{e}; left as it is"),
            }
        }
        if !found.is_empty() {
            index::write(self.backend.as_ref(), &found)?;
        }
        for (name, _) in &index.damaged {
            self.backend.remove(FileKind::Index, name)?;
        }
        Ok(RepairReport {
            packs_indexed: found.len(),
        })
    }

    pub fn prune(&self) -> Result<PruneReport> {
        let _lock = lock::lock(&self.backend, true, "prune")?;
        let started = std::time::Instant::now();
        let index = self.load_index_with_entries()?;
        if let Some((name, why)) = index.damaged.first() {
            return Err(Error::damaged(format!(
                "index/{name}: {why}; run `imagewise repo repair` before pruning"
            )));
        }
        let (nsnaps, used) = self.used_blobs(&index)?;
        let on_disk = list_all(self.backend.as_ref(), FileKind::Pack)?;
        let sizes: HashMap<String, u64> = on_disk.iter().cloned().collect();
        let mut rep = PruneReport {
            snapshots: nsnaps,
            packs_before: on_disk.len(),
            bytes_before: on_disk.iter().map(|p| p.1).sum(),
            ..PruneReport::default()
        };
        let mut kept_blobs: HashSet<Id> = HashSet::new();
        let mut keep: Vec<(Id, Vec<PackEntry>)> = Vec::new();
        let mut delete: Vec<Id> = Vec::new();
        let mut repack: Vec<(Id, Vec<PackEntry>)> = Vec::new();
        // Packs whose every blob is used (and not kept elsewhere) stay as they are.
        for (i, pack) in index.packs.iter().enumerate() {
            let entries = &index.pack_entries[i];
            if !sizes.contains_key(&pack.hex()) {
                continue; // missing: nothing to keep or delete
            }
            let wanted: Vec<PackEntry> = entries
                .iter()
                .filter(|e| used.contains(&e.id) && !kept_blobs.contains(&e.id))
                .copied()
                .collect();
            if wanted.len() == entries.len() {
                kept_blobs.extend(wanted.iter().map(|e| e.id));
                keep.push((*pack, entries.clone()));
            } else if wanted.is_empty() {
                rep.blobs_removed += entries.len();
                delete.push(*pack);
            } else {
                rep.blobs_removed += entries.len() - wanted.len();
                kept_blobs.extend(wanted.iter().map(|e| e.id));
                repack.push((*pack, wanted));
                delete.push(*pack);
            }
        }
        let lost = used.iter().filter(|id| !kept_blobs.contains(id)).count();
        if lost > 0 {
            return Err(Error::damaged(format!(
                "{lost} blobs that snapshots use are in no pack on disk; refusing to prune (run `imagewise repo check` to see which snapshots are damaged, `imagewise repo repair` if an index file was lost)"
            )));
        }
        let indexed: HashSet<String> = index.packs.iter().map(Id::hex).collect();
        for (name, _) in &on_disk {
            if !indexed.contains(name) {
                if let Some(id) = Id::parse(name) {
                    delete.push(id);
                }
            }
        }
        // The used blobs of partly used packs go into new packs (read back and checked first).
        let mut written = Vec::new();
        if !repack.is_empty() {
            let mut packer = Packer::new(
                self.backend.clone(),
                self.config.compression,
                self.config.pack_size,
                None,
            )?;
            let mut reader = BlobReader::new(self, &index);
            for (pack, entries) in &repack {
                for e in entries {
                    let data = reader.read(&e.id).map_err(|why| {
                        Error::damaged(format!(
                            "pack {}: {why}; refusing to prune (run `imagewise repo check --read-data`)",
                            pack.short()
                        ))
                    });
                    let data = match data {
                        Ok(d) => d,
                        Err(err) => {
                            packer.abandon();
                            return Err(err);
                        }
                    };
                    packer.add(Job::Blob {
                        kind: e.kind,
                        id: e.id,
                        data,
                    })?;
                }
            }
            written = packer.finish()?;
            rep.packs_repacked = repack.len();
        }
        // New index first, then the old index files, then the packs: a crash at any point
        // leaves every used blob indexed.
        let mut all = keep;
        all.extend(written);
        let new_name = index::write(self.backend.as_ref(), &all)?;
        for (name, _) in &index.files {
            if *name != new_name {
                self.backend.remove(FileKind::Index, name)?;
            }
        }
        for p in &delete {
            self.backend.remove(FileKind::Pack, &p.hex())?;
        }
        rep.packs_deleted = delete.len();
        self.backend.clean_staging()?;
        let after = list_all(self.backend.as_ref(), FileKind::Pack)?;
        rep.packs_after = after.len();
        rep.bytes_after = after.iter().map(|p| p.1).sum();
        rep.duration_s = started.elapsed().as_secs_f64();
        Ok(rep)
    }
}
