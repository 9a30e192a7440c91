//! `restore`: write a snapshot back as a directory tree (or a raw snapshot as a file) with every
//! piece of metadata: type, mode, owner, mtime to the nanosecond, xattrs (set after the owner,
//! since chown clears `security.capability`), hardlinks, devices, fifos, holes, empty dirs.
//! Every blob is checked against its hash before a byte of it is written.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, OpenOptions, Permissions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use imagewise_source::{names, NoProgress, Progress};
use serde::Serialize;

use crate::error::{Error, IoContext, Result};
use crate::id::Id;
use crate::index::Index;
use crate::keys::PublicKey;
use crate::lock;
use crate::repo::{BlobReader, Repo};
use crate::snapshot::{verify_signature, SnapshotKind};
use crate::tree::{join, too_deep, Node, NodeKind, MAX_DEPTH};

pub struct RestoreOptions {
    /// Restore only these paths (and what is under them); empty = everything.
    pub paths: Vec<String>,
    /// Restore an unsigned or wrongly signed snapshot of a signing repository anyway.
    pub allow_unsigned: bool,
    /// Verify against this key instead of the one in the repository's config.
    pub trust_key: Option<PublicKey>,
    pub progress: Arc<dyn Progress>,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            paths: Vec::new(),
            allow_unsigned: false,
            trust_key: None,
            progress: Arc::new(NoProgress),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RestoreReport {
    pub snapshot: String,
    pub files: u64,
    pub dirs: u64,
    pub entries: u64,
    pub bytes_written: u64,
    /// Paths that could not be restored, with why. Non-empty means the restore is incomplete.
    pub failures: Vec<(String, String)>,
    /// Owners and privileged xattrs (`security.*`, `trusted.*`) not set because the restore
    /// did not run as root (as root this is always 0).
    pub skipped_unprivileged: u64,
    pub duration_s: f64,
}

impl RestoreReport {
    /// Every path restored.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn outcome(&self) -> crate::check::Outcome<'_, RestoreReport> {
        crate::check::Outcome {
            ok: self.ok(),
            report: self,
        }
    }
}

struct Ctx<'a> {
    reader: BlobReader<'a>,
    filters: Vec<String>,
    report: RestoreReport,
    dirs: Vec<(PathBuf, Node)>,
    links: Vec<(PathBuf, String, String)>,
    files: HashMap<String, PathBuf>,
    pending: Vec<Pending>,
    /// Names are escaped (`names::to_bytes` gives their bytes); older snapshots keep them
    /// verbatim.
    escaped_names: bool,
}

fn normalize(p: &str) -> Result<String> {
    let mut parts = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(Error::input(format!("--path {p:?}: `..` is not allowed")));
            }
            c => parts.push(c),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

enum Want {
    No,
    /// On the way to a selected path: create the directory, go in.
    Through,
    Yes,
}

fn wanted(filters: &[String], path: &str) -> Want {
    if filters.is_empty() {
        return Want::Yes;
    }
    let mut through = false;
    for f in filters {
        if f == "/" || path == f || path.starts_with(&format!("{f}/")) {
            return Want::Yes;
        }
        if f.starts_with(&format!("{path}/")) {
            through = true;
        }
    }
    if through {
        Want::Through
    } else {
        Want::No
    }
}

impl Repo {
    /// Restore snapshot `spec` into `target` (a new or empty directory; for a raw snapshot, a
    /// new file).
    pub fn restore(
        &self,
        spec: &str,
        target: &Path,
        opts: &RestoreOptions,
    ) -> Result<RestoreReport> {
        let _lock = lock::read_lock(&self.backend, "restore")?;
        let started = Instant::now();
        let snap = self.find(spec)?;
        verify_signature(self, &snap, opts.trust_key.as_ref(), opts.allow_unsigned)?;
        let index = self.load_index()?;
        let mut ctx = Ctx {
            reader: BlobReader::new(self, &index),
            filters: opts
                .paths
                .iter()
                .map(|p| normalize(p))
                .collect::<Result<_>>()?,
            report: RestoreReport {
                snapshot: snap.id.hex(),
                ..RestoreReport::default()
            },
            dirs: Vec::new(),
            links: Vec::new(),
            files: HashMap::new(),
            pending: Vec::new(),
            escaped_names: snap.snapshot.escaped_names,
        };
        let root = snap.snapshot.root.subtree.ok_or_else(|| {
            Error::damaged(format!("snapshot {} has no root tree", snap.id.short()))
        })?;
        opts.progress
            .begin("restoring", Some(snap.snapshot.summary.bytes));
        if snap.snapshot.kind == SnapshotKind::Raw {
            let tree = ctx.reader.tree(&root)?;
            let node = tree
                .nodes
                .first()
                .filter(|n| n.kind == NodeKind::File && tree.nodes.len() == 1)
                .ok_or_else(|| {
                    Error::damaged("a raw snapshot's tree must hold exactly one file")
                })?;
            if target.exists() {
                return Err(Error::input(format!(
                    "{} exists; a raw snapshot restores to a new file",
                    target.display()
                )));
            }
            let written = AtomicU64::new(0);
            let r = write_file(
                &mut ctx.reader,
                target,
                node,
                &written,
                opts.progress.as_ref(),
            );
            ctx.report.bytes_written = written.into_inner();
            match r {
                Ok(()) => {
                    apply_meta(target, node, &mut ctx.report.skipped_unprivileged)?;
                    ctx.report.files = 1;
                    ctx.report.entries = 1;
                }
                Err(e) => {
                    let _ = fs::remove_file(target);
                    return Err(e);
                }
            }
        } else {
            prepare_target(target)?;
            ctx.dir(&root, target, "/");
            let pending = std::mem::take(&mut ctx.pending);
            let written = AtomicU64::new(0);
            let (ok, failed, skipped) =
                write_files(self, &index, &pending, &written, opts.progress.as_ref());
            ctx.report.bytes_written = written.into_inner();
            ctx.report.files = ok.len() as u64;
            ctx.report.skipped_unprivileged += skipped;
            ctx.files.extend(ok);
            ctx.report.failures.extend(failed);
            ctx.finish_links();
            // Directory metadata last, deepest first, so creating children does not touch it.
            let dirs = std::mem::take(&mut ctx.dirs);
            for (host, node) in dirs.iter().rev() {
                if let Err(e) = apply_meta(host, node, &mut ctx.report.skipped_unprivileged) {
                    ctx.report
                        .failures
                        .push((host.display().to_string(), e.to_string()));
                }
            }
            if ctx.filters.is_empty() {
                apply_meta(
                    target,
                    &snap.snapshot.root,
                    &mut ctx.report.skipped_unprivileged,
                )?;
            }
        }
        opts.progress.end();
        ctx.report.failures.sort();
        ctx.report.duration_s = started.elapsed().as_secs_f64();
        Ok(ctx.report)
    }
}

fn prepare_target(target: &Path) -> Result<()> {
    match fs::read_dir(target) {
        Ok(mut rd) => {
            if rd.next().is_some() {
                return Err(Error::input(format!(
                    "{} is not empty; restore into a new or empty directory",
                    target.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(target).ctx(|| format!("creating {}", target.display()))
        }
        Err(e) => Err(Error::io(format!("opening {}", target.display()), e)),
    }
}

impl Ctx<'_> {
    fn fail(&mut self, path: &str, e: impl std::fmt::Display) {
        self.report.failures.push((path.to_string(), e.to_string()));
    }

    fn dir(&mut self, id: &Id, host: &Path, path: &str) {
        if too_deep(path) {
            self.fail(
                path,
                format!("nested more than {MAX_DEPTH} directories deep; not followed"),
            );
            return;
        }
        let tree = match self.reader.tree(id) {
            Ok(t) => t,
            Err(e) => {
                self.fail(path, format!("directory contents lost: {e}"));
                return;
            }
        };
        for node in tree.nodes {
            let p = join(path, &node.name);
            let want = wanted(&self.filters, &p);
            if matches!(want, Want::No)
                || (matches!(want, Want::Through) && node.kind != NodeKind::Dir)
            {
                continue;
            }
            // Names that were not UTF-8 are kept escaped; the file gets its original bytes.
            let h = host.join(OsStr::from_bytes(&self.bytes(&node.name)));
            self.report.entries += 1;
            let done = match node.kind {
                NodeKind::Dir => {
                    match fs::create_dir(&h).ctx(|| format!("creating {}", h.display())) {
                        Ok(()) => {
                            self.report.dirs += 1;
                            if let Some(sub) = node.subtree {
                                self.dir(&sub, &h, &p);
                            }
                            self.dirs.push((h, node));
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                }
                NodeKind::File => {
                    self.pending.push((h, p.clone(), node));
                    Ok(())
                }
                NodeKind::Hardlink => {
                    self.links
                        .push((h, p.clone(), node.link.clone().unwrap_or_default()));
                    Ok(())
                }
                NodeKind::Symlink => {
                    let target = self.bytes(node.link.as_deref().unwrap_or_default());
                    std::os::unix::fs::symlink(OsStr::from_bytes(&target), &h)
                        .ctx(|| format!("creating symlink {}", h.display()))
                        .and_then(|()| apply_meta(&h, &node, &mut self.report.skipped_unprivileged))
                }
                NodeKind::Char | NodeKind::Block | NodeKind::Fifo | NodeKind::Socket => {
                    special(&h, &node)
                        .and_then(|()| apply_meta(&h, &node, &mut self.report.skipped_unprivileged))
                }
            };
            if let Err(e) = done {
                self.fail(&p, e);
            }
        }
    }

    /// The bytes a stored name or symlink target stands for.
    fn bytes(&self, name: &str) -> Vec<u8> {
        if self.escaped_names {
            names::to_bytes(name)
        } else {
            name.as_bytes().to_vec()
        }
    }

    fn finish_links(&mut self) {
        let links = std::mem::take(&mut self.links);
        for (host, path, target) in links {
            let r = match self.files.get(&target) {
                Some(primary) => fs::hard_link(primary, &host)
                    .ctx(|| format!("linking {} to {}", host.display(), primary.display())),
                None => Err(Error::damaged(format!(
                    "hardlink to {target}, which was not restored{}",
                    if self.filters.is_empty() {
                        ""
                    } else {
                        " (restore its path too)"
                    }
                ))),
            };
            if let Err(e) = r {
                self.fail(&path, e);
            }
        }
    }
}

/// Write one file's content (holes left as holes) and size it; counts bytes into `written`.
fn write_file(
    reader: &mut BlobReader<'_>,
    host: &Path,
    node: &Node,
    written: &AtomicU64,
    progress: &dyn Progress,
) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(host)
        .ctx(|| format!("creating {}", host.display()))?;
    let mut pos = 0u64;
    for e in &node.content {
        // A hole is left unwritten; set_len below gives the file its full size.
        if let Some(id) = e.0 {
            let data = reader.read(&id)?;
            if data.len() as u64 != e.1 {
                return Err(Error::damaged(format!(
                    "chunk {} is {} bytes, the file lists {}",
                    id.short(),
                    data.len(),
                    e.1
                )));
            }
            write_sparse(&f, pos, &data).ctx(|| format!("writing {}", host.display()))?;
            let done = written.fetch_add(e.1, Ordering::Relaxed) + e.1;
            progress.advance(done);
        }
        pos += e.1;
    }
    if pos != node.size {
        return Err(Error::damaged(format!(
            "extents add up to {pos} bytes, the file is {}",
            node.size
        )));
    }
    f.set_len(node.size)
        .ctx(|| format!("sizing {}", host.display()))?;
    Ok(())
}

/// A file waiting to be written: host path, snapshot path, node.
type Pending = (PathBuf, String, Node);

/// What the file writers did: restored (path, host), failed (path, why), owners skipped.
type Written = (Vec<(String, PathBuf)>, Vec<(String, String)>, u64);

/// Write files on several threads, each taking runs of neighbouring files (which share packs
/// and compression groups), each with its own pack handles and frame cache.
fn write_files(
    repo: &Repo,
    index: &Index,
    pending: &[Pending],
    written: &AtomicU64,
    progress: &dyn Progress,
) -> Written {
    const RUN: usize = 32;
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let next = AtomicUsize::new(0);
    let out: Mutex<Written> = Mutex::new((Vec::new(), Vec::new(), 0));
    std::thread::scope(|sc| {
        for _ in 0..threads {
            sc.spawn(|| {
                let mut reader = BlobReader::new(repo, index);
                let mut mine: Written = (Vec::new(), Vec::new(), 0);
                loop {
                    let start = next.fetch_add(RUN, Ordering::Relaxed);
                    if start >= pending.len() {
                        break;
                    }
                    for (host, path, node) in &pending[start..(start + RUN).min(pending.len())] {
                        let r = write_file(&mut reader, host, node, written, progress)
                            .and_then(|()| apply_meta(host, node, &mut mine.2));
                        match r {
                            Ok(()) => mine.0.push((path.clone(), host.clone())),
                            Err(e) => {
                                let _ = fs::remove_file(host);
                                mine.1.push((path.clone(), e.to_string()));
                            }
                        }
                    }
                }
                if let Ok(mut o) = out.lock() {
                    o.0.extend(mine.0);
                    o.1.extend(mine.1);
                    o.2 += mine.2;
                }
            });
        }
    });
    out.into_inner().unwrap_or_default()
}

/// Write `data` at `pos`, leaving out every piece between 4 KiB boundaries that is all zeros:
/// what is not written reads back as zeros, and whole blocks of zeros stay holes (as
/// `cp --sparse=always` does), so a restored file is never less sparse than its original.
fn write_sparse(f: &std::fs::File, pos: u64, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    const BLOCK: u64 = 4096;
    let mut run_start: Option<usize> = None;
    let mut i = 0usize;
    while i < data.len() {
        let abs = pos + i as u64;
        let next = ((abs / BLOCK + 1) * BLOCK - pos) as usize;
        let end = next.min(data.len());
        let zero = data[i..end].iter().all(|&b| b == 0);
        match (zero, run_start) {
            (true, Some(s)) => {
                f.write_all_at(&data[s..i], pos + s as u64)?;
                run_start = None;
            }
            (false, None) => run_start = Some(i),
            _ => {}
        }
        i = end;
    }
    if let Some(s) = run_start {
        f.write_all_at(&data[s..], pos + s as u64)?;
    }
    Ok(())
}

fn special(host: &Path, node: &Node) -> Result<()> {
    use rustix::fs::{mknodat, FileType, Mode, CWD};
    let ft = match node.kind {
        NodeKind::Char => FileType::CharacterDevice,
        NodeKind::Block => FileType::BlockDevice,
        NodeKind::Fifo => FileType::Fifo,
        _ => FileType::Socket,
    };
    let (maj, min) = node.device.unwrap_or((0, 0));
    mknodat(
        CWD,
        host,
        ft,
        Mode::from_raw_mode(0o600),
        rustix::fs::makedev(maj, min),
    )
    .map_err(|e| {
        Error::io(
            format!("creating {} {}", node.kind.as_str(), host.display()),
            e.into(),
        )
    })
}

/// True when an error is "only root may do that" and we are not root: the step is skipped
/// and counted rather than failing the restore.
fn unprivileged(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::PermissionDenied && !rustix::process::geteuid().is_root()
}

/// Owner, then mode, then xattrs, then mtime (each step can undo the one before otherwise).
fn apply_meta(host: &Path, node: &Node, skipped: &mut u64) -> Result<()> {
    use rustix::fs::{utimensat, AtFlags, Timespec, Timestamps, CWD, UTIME_OMIT};
    match std::os::unix::fs::lchown(host, Some(node.uid), Some(node.gid)) {
        Err(e) if unprivileged(&e) => {
            *skipped += 1;
        }
        r => r.ctx(|| format!("setting the owner of {}", host.display()))?,
    }
    if node.kind != NodeKind::Symlink {
        fs::set_permissions(host, Permissions::from_mode(node.mode & 0o7777))
            .ctx(|| format!("setting the mode of {}", host.display()))?;
    }
    for (k, v) in &node.xattrs {
        match xattr::set(host, k, v) {
            Err(e) if unprivileged(&e) => {
                *skipped += 1;
            }
            r => r.ctx(|| format!("setting xattr {k} on {}", host.display()))?,
        }
    }
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: node.mtime,
            tv_nsec: i64::from(node.mtime_nsec),
        },
    };
    utimensat(CWD, host, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| Error::io(format!("setting the mtime of {}", host.display()), e.into()))
}
