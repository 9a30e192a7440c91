//! `repo check [--read-data]`: is every snapshot whole? Structure always (snapshots, signatures,
//! trees, every referenced blob indexed in an existing pack of the right size); with
//! `--read-data` every pack is read, hashed and every blob decompressed and hashed. Damage is
//! named down to the snapshots and paths that lose data.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use imagewise_source::{NoProgress, Progress};
use serde::Serialize;

use crate::backend::{list_all, FileKind};
use crate::error::{Malformed, Result};
use crate::id::Id;
use crate::index::Index;
use crate::keys::PublicKey;
use crate::lock;
use crate::pack::{blob_from_frame, frame_plain, pack_name, parse_header, MAGIC};
use crate::repo::{BlobReader, Repo};
use crate::snapshot::verify_signature;
use crate::tree::{join, NodeKind};

pub struct CheckOptions {
    pub read_data: bool,
    pub allow_unsigned: bool,
    pub trust_key: Option<PublicKey>,
    pub progress: Arc<dyn Progress>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            read_data: false,
            allow_unsigned: false,
            trust_key: None,
            progress: Arc::new(NoProgress),
        }
    }
}

/// One problem: where (a repository file, or a snapshot and path) and what.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Damage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub problem: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if let Some(s) = &self.snapshot {
            write!(f, "snapshot {s}: ")?;
        }
        if let Some(p) = &self.path {
            write!(f, "{p}: ")?;
        }
        f.write_str(&self.problem)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub snapshots: usize,
    pub trees: usize,
    pub packs: usize,
    pub blobs: usize,
    /// Bytes of packs read and verified (with --read-data).
    pub bytes_read: u64,
    pub errors: Vec<Damage>,
    pub warnings: Vec<String>,
    pub duration_s: f64,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// A report with its verdict on top: `repo check --json` and `restore --json` print
/// `{"ok": …, "report": …}`.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome<'a, T> {
    pub ok: bool,
    pub report: &'a T,
}

impl CheckReport {
    pub fn outcome(&self) -> Outcome<'_, CheckReport> {
        Outcome {
            ok: self.ok(),
            report: self,
        }
    }
}

fn err(
    file: Option<String>,
    snapshot: Option<String>,
    path: Option<String>,
    problem: String,
) -> Damage {
    Damage {
        file,
        snapshot,
        path,
        problem,
    }
}

impl Repo {
    pub fn check(&self, opts: &CheckOptions) -> Result<CheckReport> {
        let _lock = lock::read_lock(&self.backend, "repo check")?;
        let started = Instant::now();
        let mut rep = CheckReport::default();
        let index = self.load_index_with_entries()?;
        for (name, why) in &index.damaged {
            rep.errors.push(err(
                Some(format!("index/{name}")),
                None,
                None,
                format!("{why}; `imagewise repo repair` rebuilds the index from the packs"),
            ));
        }
        let on_disk: HashMap<String, u64> = list_all(self.backend.as_ref(), FileKind::Pack)?
            .into_iter()
            .filter(|(n, _)| n.len() == 64)
            .collect();
        rep.packs = on_disk.len();
        rep.blobs = index.len();
        // Blobs that cannot be read back, with why.
        let mut bad: HashMap<Id, String> = HashMap::new();
        let indexed: HashSet<String> = index.packs.iter().map(Id::hex).collect();
        for (i, pack) in index.packs.iter().enumerate() {
            let name = pack_name(pack);
            let size = on_disk.get(&pack.hex()).copied();
            let entries = &index.pack_entries[i];
            let need = entries
                .iter()
                .map(|e| e.offset + u64::from(e.len))
                .max()
                .unwrap_or(0);
            match size {
                None => {
                    rep.errors.push(err(
                        Some(name.clone()),
                        None,
                        None,
                        "the pack is missing".into(),
                    ));
                    for e in entries {
                        bad.entry(e.id).or_insert_with(|| {
                            format!("in pack {}: the pack is missing", pack.short())
                        });
                    }
                }
                Some(s) if s < need + 12 => {
                    let cut: Vec<_> = entries
                        .iter()
                        .filter(|e| e.offset + u64::from(e.len) > s)
                        .collect();
                    rep.errors.push(err(
                        Some(name.clone()),
                        None,
                        None,
                        format!(
                            "the pack is {s} bytes, too short for what the index lists ({need} bytes of blobs and a header): truncated, {} blobs cut off",
                            cut.len()
                        ),
                    ));
                    for e in cut {
                        bad.entry(e.id).or_insert_with(|| {
                            format!("in pack {}: cut off (the pack is truncated)", pack.short())
                        });
                    }
                }
                _ => {}
            }
        }
        for name in on_disk.keys() {
            if !indexed.contains(name) {
                rep.warnings.push(format!(
                    "{} is in no index (left by an interrupted write, or its index was lost): `imagewise repo repair` indexes it, `imagewise prune` removes it when unused",
                    FileKind::Pack.path(name)
                ));
            }
        }
        if opts.read_data {
            self.read_all(&index, &on_disk, &mut rep, &mut bad, opts.progress.as_ref());
        }
        // Blobs stored in more than one pack are fine if one copy is good.
        self.walk_snapshots(&index, &bad, &mut rep, opts)?;
        rep.duration_s = started.elapsed().as_secs_f64();
        Ok(rep)
    }

    fn read_all(
        &self,
        index: &Index,
        on_disk: &HashMap<String, u64>,
        rep: &mut CheckReport,
        bad: &mut HashMap<Id, String>,
        progress: &dyn Progress,
    ) {
        let work: Vec<(usize, Id, u64)> = index
            .packs
            .iter()
            .enumerate()
            .filter_map(|(i, p)| on_disk.get(&p.hex()).map(|s| (i, *p, *s)))
            .collect();
        let total: u64 = work.iter().map(|w| w.2).sum();
        progress.begin("verifying", Some(total));
        let next = Mutex::new(0usize);
        let done = Mutex::new(0u64);
        let found: Mutex<(Vec<Damage>, HashMap<Id, String>)> =
            Mutex::new((Vec::new(), HashMap::new()));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        std::thread::scope(|sc| {
            for _ in 0..threads {
                sc.spawn(|| loop {
                    let i = {
                        let Ok(mut n) = next.lock() else { return };
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(&(pi, pack, size)) = work.get(i) else {
                        return;
                    };
                    let (errs, bads) = verify_pack(self, index, pi, &pack, size);
                    if let Ok(mut f) = found.lock() {
                        f.0.extend(errs);
                        f.1.extend(bads);
                    }
                    if let Ok(mut d) = done.lock() {
                        *d += size;
                        progress.advance(*d);
                    }
                });
            }
        });
        progress.end();
        rep.bytes_read = total;
        if let Ok((errs, bads)) = found.into_inner() {
            rep.errors.extend(errs);
            for (k, v) in bads {
                bad.entry(k).or_insert(v);
            }
        }
    }

    fn walk_snapshots(
        &self,
        index: &Index,
        bad: &HashMap<Id, String>,
        rep: &mut CheckReport,
        opts: &CheckOptions,
    ) -> Result<()> {
        let (snaps, damaged) = self.snapshots()?;
        for (name, why) in damaged {
            rep.errors
                .push(err(Some(format!("snapshots/{name}")), None, None, why));
        }
        rep.snapshots = snaps.len();
        let mut reader = BlobReader::new(self, index);
        // Subtrees already walked and found whole.
        let mut clean: HashSet<Id> = HashSet::new();
        for s in &snaps {
            let short = s.id.short();
            if let Err(e) = verify_signature(self, s, opts.trust_key.as_ref(), opts.allow_unsigned)
            {
                rep.errors
                    .push(err(None, Some(short.clone()), None, e.to_string()));
            }
            let Some(root) = s.snapshot.root.subtree else {
                rep.errors
                    .push(err(None, Some(short), None, "no root tree".into()));
                continue;
            };
            let mut stack = vec![(root, "/".to_string())];
            let mut trail: Vec<(Id, bool)> = Vec::new();
            let errors_before = rep.errors.len();
            while let Some((id, path)) = stack.pop() {
                if clean.contains(&id) {
                    continue;
                }
                if crate::tree::too_deep(&path) {
                    rep.errors.push(err(
                        None,
                        Some(short.clone()),
                        Some(path),
                        format!(
                            "nested more than {} directories deep",
                            crate::tree::MAX_DEPTH
                        ),
                    ));
                    continue;
                }
                rep.trees += 1;
                let tree = match bad.get(&id) {
                    Some(why) => Err(why.clone()),
                    None => reader.tree(&id).map_err(|e| e.to_string()),
                };
                let tree = match tree {
                    Ok(t) => t,
                    Err(why) => {
                        rep.errors.push(err(
                            None,
                            Some(short.clone()),
                            Some(path),
                            format!("directory contents lost: {why}"),
                        ));
                        continue;
                    }
                };
                let mut whole = true;
                for n in &tree.nodes {
                    let p = join(&path, &n.name);
                    if n.kind == NodeKind::Dir {
                        if let Some(sub) = n.subtree {
                            stack.push((sub, p));
                        }
                        continue;
                    }
                    let mut problems: Vec<String> = Vec::new();
                    for e in &n.content {
                        let Some(c) = e.0 else { continue };
                        if let Some(why) = bad.get(&c) {
                            problems.push(format!("chunk {} {why}", c.short()));
                        } else if !index.contains(&c) {
                            problems.push(format!("chunk {} is in no index", c.short()));
                        }
                    }
                    if !problems.is_empty() {
                        whole = false;
                        problems.dedup();
                        let more = problems.len().saturating_sub(3);
                        problems.truncate(3);
                        let mut msg = format!("file content damaged: {}", problems.join("; "));
                        if more > 0 {
                            msg.push_str(&format!(" (and {more} more chunks)"));
                        }
                        rep.errors
                            .push(err(None, Some(short.clone()), Some(p), msg));
                    }
                }
                trail.push((id, whole));
            }
            // When the whole snapshot is sound, its trees need no second look from later ones.
            if trail.iter().all(|t| t.1) && rep.errors.len() == errors_before {
                clean.extend(trail.into_iter().map(|t| t.0));
            }
        }
        Ok(())
    }
}

/// Read one pack whole: its name must be its hash, its header must agree with the index, and
/// every blob must decompress to its id.
fn verify_pack(
    repo: &Repo,
    index: &Index,
    pi: usize,
    pack: &Id,
    size: u64,
) -> (Vec<Damage>, HashMap<Id, String>) {
    let name = pack_name(pack);
    let mut errs = Vec::new();
    let mut bads = HashMap::new();
    let entries = &index.pack_entries[pi];
    let bytes = match repo.backend.read(FileKind::Pack, &pack.hex()) {
        Ok(b) => b,
        Err(e) => {
            for en in entries {
                bads.insert(en.id, format!("in pack {}: unreadable ({e})", pack.short()));
            }
            errs.push(err(Some(name), None, None, format!("cannot be read: {e}")));
            return (errs, bads);
        }
    };
    let _ = size;
    if Id::of(&bytes) != *pack {
        errs.push(err(
            Some(name.clone()),
            None,
            None,
            "content does not match its name (bytes changed)".into(),
        ));
    }
    let header_ok = bytes.len() >= 12 && &bytes[bytes.len() - 8..] == MAGIC && {
        let n = bytes.len();
        let hlen = u32::from_le_bytes([bytes[n - 12], bytes[n - 11], bytes[n - 10], bytes[n - 9]])
            as usize;
        hlen + 12 <= n
            && parse_header(&bytes[n - 12 - hlen..n - 12], (n - 12 - hlen) as u64).is_ok()
    };
    if !header_ok {
        errs.push(err(
            Some(name.clone()),
            None,
            None,
            "its own header is damaged (the index still locates its blobs)".into(),
        ));
    }
    // Entries of one group share a frame: decompress it once.
    let mut last: Option<(u64, Result<Vec<u8>, Malformed>)> = None;
    for en in entries {
        let start = en.offset as usize;
        let end = start + en.len as usize;
        if last.as_ref().map(|l| l.0) != Some(en.offset) {
            let plain = match bytes.get(start..end) {
                None => Err(Malformed::CutOff),
                Some(stored) => frame_plain(en, stored),
            };
            last = Some((en.offset, plain));
        }
        let why = match last.as_ref().map(|l| &l.1) {
            Some(Ok(plain)) => blob_from_frame(en, plain).err(),
            Some(Err(e)) => Some(e.clone()),
            None => None,
        };
        if let Some(why) = why {
            errs.push(err(
                Some(name.clone()),
                None,
                None,
                format!("blob {}: {why}", en.id.short()),
            ));
            bads.insert(en.id, format!("in pack {}: {why}", pack.short()));
        }
    }
    (errs, bads)
}
