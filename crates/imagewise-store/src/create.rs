//! `snapshot create`: chunk, hash and deduplicate on the calling thread; compress and write
//! packs on worker threads (each owns its pack); then the index file, then the snapshot.
//! A snapshot is written only after everything it points to is durable.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{bounded, Sender};
use imagewise_source::{
    Entry, EntryKind, FileRead, Format, ImageTree, NoProgress, Progress, Stamp,
};

use crate::backend::{Backend, FileKind};
use crate::chunk::{Chunker, Piece};
use crate::config::Compression;
use crate::error::{Error, IoContext, Result};
use crate::filescache::{self, Seen};
use crate::id::Id;
use crate::index;
use crate::keys::SecretKey;
use crate::lock;
use crate::pack::{
    BlobKind, FrameMember, PackEntry, PackWriter, Sealed, COMP_NONE, COMP_NONE_GROUP, COMP_ZSTD,
    COMP_ZSTD_GROUP,
};
use crate::repo::Repo;
use crate::snapshot::{self, Snapshot, SnapshotKind, SnapshotSummary};
use crate::tree::{join, Extent, Node, NodeKind, Tree};

/// Settings for one `snapshot create`.
pub struct CreateOptions {
    /// The image reference as the user should see it later.
    pub source: String,
    pub tags: Vec<String>,
    /// Required when the repository has a public key, refused when it has none.
    pub sign_key: Option<SecretKey>,
    pub progress: Arc<dyn Progress>,
    /// Compression threads; 0 = one per CPU.
    pub threads: usize,
    /// The directory of the files cache ([`crate::default_cache_dir`]); `None`: no files cache,
    /// every file is read.
    pub cache_dir: Option<PathBuf>,
    /// The parent snapshot (id, prefix, tag or `latest`); default: the newest snapshot of the
    /// same source with the same tags from this host.
    pub parent: Option<String>,
    /// Read every file whatever the files cache says (and write the cache afresh).
    pub force: bool,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            source: String::new(),
            tags: Vec::new(),
            sign_key: None,
            progress: Arc::new(NoProgress),
            threads: 0,
            cache_dir: None,
            parent: None,
            force: false,
        }
    }
}

/// What `snapshot create` made.
#[derive(Debug, Clone)]
pub struct CreateReport {
    pub id: Id,
    pub snapshot: Snapshot,
    /// Files that changed while they were read (a live system): stored as read.
    pub warnings: Vec<String>,
}

/// `snapshot create --json`: the id (hex), the summary's figures at the top level, the warnings
/// and the snapshot.
impl serde::Serialize for CreateReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let m = &self.snapshot.summary;
        let mut st = s.serialize_struct("CreateReport", 14)?;
        st.serialize_field("id", &self.id.hex())?;
        st.serialize_field("files", &m.files)?;
        st.serialize_field("dirs", &m.dirs)?;
        st.serialize_field("entries", &m.entries)?;
        st.serialize_field("bytes", &m.bytes)?;
        st.serialize_field("bytes_read", &m.bytes_read)?;
        st.serialize_field("files_read", &m.files_read)?;
        st.serialize_field("files_unchanged", &m.files_unchanged)?;
        st.serialize_field("bytes_new", &m.bytes_new)?;
        st.serialize_field("bytes_stored", &m.bytes_stored)?;
        st.serialize_field("blobs_new", &m.blobs_new)?;
        st.serialize_field("duration_s", &m.duration_s)?;
        st.serialize_field("warnings", &self.warnings)?;
        st.serialize_field("snapshot", &self.snapshot)?;
        st.end()
    }
}

pub(crate) enum Job {
    /// One blob; the packer groups a small one with its neighbours.
    Blob {
        kind: BlobKind,
        id: Id,
        data: Vec<u8>,
    },
    /// Small blobs already grouped: one frame, `(kind, id, length, offset in plain)` each.
    Group {
        members: Vec<FrameMember>,
        plain: Vec<u8>,
    },
}

type PackList = Vec<(Id, Vec<PackEntry>)>;

/// The pack writers of one snapshot, and what it has sent them. Blobs go in through
/// [`Feeder`]s, one per thread that reads.
struct Session<'r> {
    repo: &'r Repo,
    /// The repository's blobs when the snapshot began.
    index: crate::index::Index,
    /// Blobs this snapshot has sent to the writers, from whichever thread.
    new: Mutex<HashSet<Id>>,
    blobs_new: AtomicU64,
    bytes_new: AtomicU64,
    /// Small blobs are grouped before they are sent (compressed repositories only).
    group: bool,
    tx: Option<Sender<Job>>,
    workers: Vec<JoinHandle<Result<PackList>>>,
    /// Syncs and names full packs; ends once every worker has.
    committer: Option<JoinHandle<Result<PackList>>>,
    /// Set when the snapshot is given up, so workers throw their open packs away.
    aborted: Arc<AtomicBool>,
    /// The first error of a writer or the committer: what a feeder reports when they stop.
    failure: Arc<Mutex<Option<Error>>>,
    sum: SnapshotSummary,
}

/// Keep the first failure of the writers' threads; the thread then stops.
fn record_failure(slot: &Mutex<Option<Error>>, e: Error) -> Error {
    let mut g = slot.lock().unwrap_or_else(|p| p.into_inner());
    if g.is_none() {
        *g = Some(e);
    }
    Error::damaged("a pack writer stopped")
}

/// Blobs up to this size are compressed in groups with their neighbours.
const GROUP_MAX_BLOB: usize = 64 << 10;
/// A group is closed once it holds this many plain bytes.
const GROUP_TARGET: usize = 512 << 10;

/// One compressing pack writer: lone blobs are compressed alone, small ones in groups.
pub(crate) struct Packer {
    backend: Arc<dyn Backend>,
    zc: Option<zstd::bulk::Compressor<'static>>,
    pack_size: u64,
    pack: Option<PackWriter>,
    done: PackList,
    /// Where full packs go to be synced and named off this thread; `None` commits them here.
    committer: Option<Sender<Sealed>>,
    /// Open groups of data blobs [0] and tree blobs [1]: trees are read while restoring
    /// everywhere, so they are kept in frames of their own.
    groups: [(Vec<u8>, Vec<FrameMember>); 2],
}

impl Packer {
    pub fn new(
        backend: Arc<dyn Backend>,
        compression: Compression,
        pack_size: u64,
        committer: Option<Sender<Sealed>>,
    ) -> Result<Packer> {
        let zc = match compression {
            Compression::Zstd(level) => Some(
                zstd::bulk::Compressor::new(level).map_err(|e| Error::io("starting zstd", e))?,
            ),
            Compression::None => None,
        };
        Ok(Packer {
            backend,
            zc,
            pack_size,
            pack: None,
            done: Vec::new(),
            committer,
            groups: Default::default(),
        })
    }

    pub fn add(&mut self, job: Job) -> Result<()> {
        match job {
            Job::Blob { kind, id, data } => {
                if self.zc.is_some() && data.len() <= GROUP_MAX_BLOB {
                    let g = kind as usize;
                    let (plain, members) = &mut self.groups[g];
                    members.push((kind, id, data.len() as u32, plain.len() as u32));
                    plain.extend_from_slice(&data);
                    if plain.len() >= GROUP_TARGET {
                        self.flush_group(g)?;
                    }
                    return Ok(());
                }
                self.write_lone(kind, id, &data)
            }
            Job::Group { members, plain } => self.write_group(members, plain),
        }
    }

    fn compress(&mut self, plain: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.zc.as_mut() {
            Some(c) => {
                let z = c.compress(plain).map_err(|e| Error::io("compressing", e))?;
                Ok((z.len() < plain.len()).then_some(z))
            }
            None => Ok(None),
        }
    }

    fn write_lone(&mut self, kind: BlobKind, id: Id, data: &[u8]) -> Result<()> {
        let z = self.compress(data)?;
        let (comp, stored) = match &z {
            Some(z) => (COMP_ZSTD, z.as_slice()),
            None => (COMP_NONE, data),
        };
        let blobs = [(kind, id, data.len() as u32, 0)];
        self.frame(comp, &blobs, stored)
    }

    fn flush_group(&mut self, g: usize) -> Result<()> {
        let (plain, members) = std::mem::take(&mut self.groups[g]);
        self.write_group(members, plain)
    }

    fn write_group(&mut self, members: Vec<FrameMember>, plain: Vec<u8>) -> Result<()> {
        match members.len() {
            0 => Ok(()),
            1 => self.write_lone(members[0].0, members[0].1, &plain),
            _ => {
                let z = self.compress(&plain)?;
                let (comp, stored) = match &z {
                    Some(z) => (COMP_ZSTD_GROUP, z.as_slice()),
                    None => (COMP_NONE_GROUP, plain.as_slice()),
                };
                self.frame(comp, &members, stored)
            }
        }
    }

    fn frame(&mut self, comp: u8, blobs: &[FrameMember], stored: &[u8]) -> Result<()> {
        if self.pack.is_none() {
            self.pack = Some(PackWriter::new(self.backend.as_ref())?);
        }
        if let Some(p) = self.pack.as_mut() {
            p.add_frame(comp, blobs, stored)?;
            if p.size() >= self.pack_size {
                if let Some(full) = self.pack.take() {
                    let sealed = full.seal()?;
                    match &self.committer {
                        // The committer gone means it failed; its error is the one reported.
                        Some(c) => c
                            .send(sealed)
                            .map_err(|_| Error::damaged("the pack committer stopped"))?,
                        None => self.done.push(sealed.commit(self.backend.as_ref())?),
                    }
                }
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<PackList> {
        self.flush_group(0)?;
        self.flush_group(1)?;
        if let Some(p) = self.pack.take() {
            if p.is_empty() {
                p.abandon();
            } else {
                self.done.push(p.finish(self.backend.as_ref())?);
            }
        }
        Ok(self.done)
    }

    pub fn abandon(mut self) {
        if let Some(p) = self.pack.take() {
            p.abandon();
        }
    }
}

fn worker(
    backend: Arc<dyn Backend>,
    rx: crossbeam_channel::Receiver<Job>,
    compression: Compression,
    pack_size: u64,
    aborted: Arc<AtomicBool>,
    committer: Sender<Sealed>,
    failure: Arc<Mutex<Option<Error>>>,
) -> Result<PackList> {
    let mut packer = Packer::new(backend, compression, pack_size, Some(committer))
        .map_err(|e| record_failure(&failure, e))?;
    for job in rx {
        if let Err(e) = packer.add(job) {
            packer.abandon();
            return Err(record_failure(&failure, e));
        }
    }
    if aborted.load(Ordering::SeqCst) {
        // The snapshot failed: its last packs would only be garbage for prune.
        packer.abandon();
        return Ok(Vec::new());
    }
    packer.finish().map_err(|e| record_failure(&failure, e))
}

/// Syncs and names the workers' full packs while they go on compressing, so a pack's `fsync`
/// costs no compression time. (Each worker commits its last pack itself, in parallel with the
/// others.) Stops at the first failure, whose error is then the snapshot's.
fn committer(
    backend: Arc<dyn Backend>,
    rx: crossbeam_channel::Receiver<Sealed>,
    aborted: Arc<AtomicBool>,
    failure: Arc<Mutex<Option<Error>>>,
) -> Result<PackList> {
    let mut done = Vec::new();
    for sealed in rx {
        if aborted.load(Ordering::SeqCst) {
            // The snapshot failed: dropping the pack deletes its staged file.
            continue;
        }
        let committed = sealed
            .commit(backend.as_ref())
            .map_err(|e| record_failure(&failure, e))?;
        done.push(committed);
    }
    Ok(done)
}

impl<'r> Session<'r> {
    fn start(repo: &'r Repo, threads: usize) -> Result<Session<'r>> {
        let index = repo.load_index()?;
        let n = thread_count(threads);
        let (tx, rx) = bounded::<Job>(8 * n);
        let mut workers = Vec::new();
        let aborted = Arc::new(AtomicBool::new(false));
        let failure = Arc::new(Mutex::new(None));
        // A few sealed packs may wait for their sync; past that the workers wait too.
        let (ctx, crx) = bounded::<Sealed>(2 * n);
        let committer = {
            let b = repo.backend.clone();
            let ab = aborted.clone();
            let f = failure.clone();
            std::thread::spawn(move || committer(b, crx, ab, f))
        };
        for _ in 0..n {
            let rx = rx.clone();
            let b = repo.backend.clone();
            let comp = repo.config.compression;
            let size = repo.config.pack_size;
            let ab = aborted.clone();
            let ctx = ctx.clone();
            let f = failure.clone();
            workers.push(std::thread::spawn(move || {
                worker(b, rx, comp, size, ab, ctx, f)
            }));
        }
        Ok(Session {
            repo,
            index,
            new: Mutex::new(HashSet::new()),
            blobs_new: AtomicU64::new(0),
            bytes_new: AtomicU64::new(0),
            group: repo.config.compression != Compression::None,
            tx: Some(tx),
            workers,
            committer: Some(committer),
            aborted,
            failure,
            sum: SnapshotSummary::default(),
        })
    }

    /// A way in for one thread.
    fn feeder(&self) -> Feeder<'_> {
        Feeder {
            index: &self.index,
            new: &self.new,
            blobs_new: &self.blobs_new,
            bytes_new: &self.bytes_new,
            tx: self.tx.as_ref(),
            group: self.group,
            groups: Default::default(),
        }
    }

    /// The error to report for a snapshot that failed with `e`: the writers' own when they
    /// stopped first (a full disk, say), else `e`.
    fn explain(&mut self, e: Error) -> Error {
        self.aborted.store(true, Ordering::SeqCst);
        match self.stop_workers() {
            Err(w) => w,
            Ok(_) => e,
        }
    }

    fn stop_workers(&mut self) -> Result<PackList> {
        self.tx = None;
        let mut packs = Vec::new();
        let mut first_err = None;
        for w in self.workers.drain(..) {
            match w.join() {
                Ok(Ok(p)) => packs.extend(p),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(Error::damaged("a pack writer thread panicked"));
                }
            }
        }
        // The workers are gone, so is every sender of sealed packs: the committer finishes
        // those it was given. Its failure is what made a worker stop, so it is reported first.
        match self.committer.take().map(JoinHandle::join) {
            Some(Ok(Ok(p))) => packs.extend(p),
            Some(Ok(Err(e))) => first_err = Some(e),
            Some(Err(_)) => first_err = Some(Error::damaged("the pack committer thread panicked")),
            None => {}
        }
        // What actually went wrong, rather than that a writer stopped.
        if let Some(e) = self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            first_err = Some(e);
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(packs),
        }
    }

    /// Write the index and the snapshot; returns its id.
    fn finish(
        mut self,
        mut snap: Snapshot,
        key: Option<&SecretKey>,
        started: Instant,
    ) -> Result<CreateReport> {
        let packs = self.stop_workers()?;
        self.sum.blobs_new = self.blobs_new.load(Ordering::SeqCst);
        self.sum.bytes_new = self.bytes_new.load(Ordering::SeqCst);
        let backend = self.repo.backend.as_ref();
        if !packs.is_empty() {
            index::write(backend, &packs)?;
        }
        self.sum.bytes_stored = packs
            .iter()
            .map(|(_, es)| crate::pack::frame_bytes(es))
            .sum();
        self.sum.duration_s = started.elapsed().as_secs_f64();
        snap.summary = std::mem::take(&mut self.sum);
        let (id, bytes) = snapshot::encode(&snap, key);
        backend.write(FileKind::Snapshot, &id.hex(), &bytes, false)?;
        Ok(CreateReport {
            id,
            snapshot: snap,
            warnings: Vec::new(),
        })
    }
}

/// One thread's way into a [`Session`]: each blob is deduplicated against the index and the
/// session's new blobs; a new small one is copied into this feeder's own group (one copy, and
/// one job per group rather than per blob), a larger one is sent alone. Groups left at the end
/// are sent by [`Feeder::flush`] (or on drop, when the snapshot fails anyway).
struct Feeder<'s> {
    index: &'s crate::index::Index,
    new: &'s Mutex<HashSet<Id>>,
    blobs_new: &'s AtomicU64,
    bytes_new: &'s AtomicU64,
    tx: Option<&'s Sender<Job>>,
    group: bool,
    /// Data [0] and tree [1] blobs: trees are kept in frames of their own.
    groups: [(Vec<u8>, Vec<FrameMember>); 2],
}

impl Feeder<'_> {
    fn add(&mut self, kind: BlobKind, data: &[u8]) -> Result<Id> {
        if data.len() > crate::pack::MAX_BLOB as usize {
            return Err(Error::input(format!(
                "a directory listing of {} MiB is more than the store takes ({} MiB); split the directory",
                data.len() >> 20,
                crate::pack::MAX_BLOB >> 20
            )));
        }
        let id = Id::of(data);
        if self.index.contains(&id)
            || !self
                .new
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id)
        {
            return Ok(id);
        }
        self.blobs_new.fetch_add(1, Ordering::Relaxed);
        self.bytes_new
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        if self.group && data.len() <= GROUP_MAX_BLOB {
            let g = kind as usize;
            let (plain, members) = &mut self.groups[g];
            if plain.is_empty() {
                plain.reserve(GROUP_TARGET + GROUP_MAX_BLOB);
            }
            members.push((kind, id, data.len() as u32, plain.len() as u32));
            plain.extend_from_slice(data);
            if plain.len() >= GROUP_TARGET {
                self.send_group(g)?;
            }
        } else {
            self.send(Job::Blob {
                kind,
                id,
                data: data.to_vec(),
            })?;
        }
        Ok(id)
    }

    fn send_group(&mut self, g: usize) -> Result<()> {
        let (plain, members) = std::mem::take(&mut self.groups[g]);
        if members.is_empty() {
            return Ok(());
        }
        self.send(Job::Group { members, plain })
    }

    fn send(&self, job: Job) -> Result<()> {
        match self.tx.map(|tx| tx.send(job)) {
            Some(Ok(())) => Ok(()),
            // Every writer stopped; `Session::explain` says why.
            _ => Err(Error::damaged("the pack writers stopped")),
        }
    }

    /// Send the groups not yet full.
    fn flush(&mut self) -> Result<()> {
        self.send_group(0)?;
        self.send_group(1)
    }

    /// Chunk a file's bytes into extents: runs of zeros become holes, and the holes the
    /// source records are passed unread. The outer error is the store's; the inner one is the
    /// stream's own (the caller decides whether an unreadable file ends the snapshot).
    fn chunk_stream(
        &mut self,
        chunker: &mut Chunker,
        r: &mut dyn FileRead,
        out: &mut Vec<Extent>,
    ) -> Result<std::io::Result<u64>> {
        let mut failed: Option<Error> = None;
        let read = chunker.run::<std::io::Error>(r, |piece| {
            match piece {
                Piece::Zeros(n) => push_hole(out, n),
                Piece::Data(d) => match self.add(BlobKind::Data, d) {
                    Ok(id) => out.push(Extent(Some(id), d.len() as u64)),
                    Err(e) => {
                        failed = Some(e);
                        return Err(std::io::Error::other("store failed"));
                    }
                },
            }
            Ok(())
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(read),
        }
    }
}

impl Drop for Feeder<'_> {
    fn drop(&mut self) {
        // Normally flushed already; this only keeps a failing path from losing a group.
        let _ = self.flush();
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // Still running here means finish() was not reached: the snapshot failed.
        self.aborted.store(true, Ordering::SeqCst);
        self.tx = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        if let Some(c) = self.committer.take() {
            let _ = c.join();
        }
    }
}

/// Files from this size on are read first, largest first.
const BIG_FILE: u64 = 1 << 20;

/// How many threads compress, and read a directory's files: `threads`, or one per CPU for 0.
fn thread_count(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        threads
    }
}

/// What reading one file came to.
enum ReadOne {
    /// Its extents and the bytes they stand for, with a warning when that is not what was
    /// listed (a live file that grew or shrank).
    Stored(Vec<Extent>, u64, Option<String>),
    /// Left out of the snapshot (a live file that vanished or cannot be read), and why.
    Left(String),
}

/// What one thread (or the one pass over an archive) read, by place in the tree's entries.
#[derive(Default)]
struct Reads {
    stored: Vec<(usize, Vec<Extent>, u64)>,
    skipped: Vec<usize>,
    /// With the place they are about: [`Reads::merge`] puts them in path order, whichever
    /// thread read what.
    warnings: Vec<(usize, String)>,
    files: u64,
    bytes: u64,
    /// Bytes of recorded holes passed unread.
    holes: u64,
}

impl Reads {
    /// Note one file; returns the bytes it stands for.
    fn add(&mut self, i: usize, r: ReadOne) -> u64 {
        match r {
            ReadOne::Stored(ext, n, warning) => {
                self.warnings.extend(warning.map(|w| (i, w)));
                self.stored.push((i, ext, n));
                self.files += 1;
                self.bytes += n;
                n
            }
            ReadOne::Left(why) => {
                self.warnings.push((i, why));
                self.skipped.push(i);
                0
            }
        }
    }

    fn merge(all: Vec<Reads>) -> Reads {
        let mut out = Reads::default();
        for r in all {
            out.stored.extend(r.stored);
            out.skipped.extend(r.skipped);
            out.warnings.extend(r.warnings);
            out.files += r.files;
            out.bytes += r.bytes;
            out.holes += r.holes;
        }
        out.warnings.sort_by_key(|w| w.0);
        out
    }
}

/// Read one file into the store. `live`: a directory tree, where a file that cannot be opened
/// or read is left out; elsewhere that is damage and ends the snapshot (the error).
fn read_one(
    feeder: &mut Feeder<'_>,
    chunker: &mut Chunker,
    e: &Entry,
    r: std::result::Result<&mut dyn FileRead, imagewise_source::Error>,
    live: bool,
) -> Result<ReadOne> {
    let r = match r {
        Ok(r) => r,
        Err(why) => {
            return Ok(ReadOne::Left(format!(
                "{}: left out, it could not be opened ({why})",
                e.path
            )))
        }
    };
    let mut ext = Vec::new();
    match feeder.chunk_stream(chunker, r, &mut ext)? {
        Ok(n) => {
            // A live tree (a running system's /): the file grew or shrank between listing and
            // reading. Keep what was read, and say so.
            let warning = (n != e.size).then(|| {
                format!(
                    "{}: changed while it was read ({} bytes listed, {n} stored)",
                    e.path, e.size
                )
            });
            Ok(ReadOne::Stored(ext, n, warning))
        }
        Err(err) if live => Ok(ReadOne::Left(format!(
            "{}: left out, it could not be read ({err})",
            e.path
        ))),
        Err(err) => Err(Error::io(format!("reading {} in the image", e.path), err)),
    }
}

fn push_hole(out: &mut Vec<Extent>, n: u64) {
    match out.last_mut() {
        Some(Extent(None, len)) => *len += n,
        _ => out.push(Extent(None, n)),
    }
}

fn node_of(e: &Entry, name: &str) -> Node {
    let kind = e.kind;
    Node {
        name: name.to_string(),
        kind,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        mtime: e.mtime,
        mtime_nsec: e.mtime_nsec,
        size: match kind {
            NodeKind::File | NodeKind::Symlink => e.size,
            _ => 0,
        },
        link: e.link.clone(),
        device: e.device,
        xattrs: e.xattrs.clone(),
        content: Vec::new(),
        subtree: None,
    }
}

fn parent_and_name(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("/", path),
    }
}

fn check_key(repo: &Repo, key: Option<&SecretKey>) -> Result<()> {
    match (&repo.config.public_key, key) {
        (Some(p), Some(k)) if k.public() == *p => Ok(()),
        (Some(p), Some(k)) => Err(Error::input(format!(
            "the signing key's public half {} is not the repository's key {p}; use the key the repository was created with",
            k.public()
        ))),
        (Some(p), None) => Err(Error::input(format!(
            "{} signs every snapshot (key {p}); give the secret key with --sign-key FILE or IMAGEWISE_SIGN_KEY",
            repo.location()
        ))),
        (None, Some(_)) => Err(Error::input(format!(
            "{} was created without a signing key, so snapshots cannot be signed; leave out --sign-key",
            repo.location()
        ))),
        (None, None) => Ok(()),
    }
}

/// The files whose size, mtime and stamp are what the files cache recorded when the parent
/// snapshot read them, with the parent's chunks for each (all of them still in the index), by
/// place in the tree's entries (`None` for every other entry).
fn unchanged_files(
    tree: &ImageTree,
    records: Vec<filescache::Record>,
    index: &crate::index::Index,
) -> Vec<Option<(Vec<Extent>, u64)>> {
    // Both lists are by path in byte order: one merging pass, no lookups by path.
    let entries = tree.entries();
    let mut out = vec![None; entries.len()];
    if records.is_empty() {
        return out;
    }
    let mut records = records.into_iter().peekable();
    for (i, e) in entries.iter().enumerate() {
        if e.kind != EntryKind::File {
            continue;
        }
        // Records before this path are of files that are gone.
        while records.next_if(|r| r.path < e.path).is_some() {}
        let Some(r) = records.next_if(|r| r.path == e.path) else {
            continue;
        };
        let stamp = tree.stamp_at(i);
        if stamp == Stamp::None
            || r.seen != Seen::of(e, stamp)
            || r.content.iter().map(|x| x.1).sum::<u64>() != e.size
            || r.content
                .iter()
                .any(|x| x.0.is_some_and(|id| !index.contains(&id)))
        {
            continue;
        }
        out[i] = Some((r.content, e.size));
    }
    out
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// What storing a tree sets up before it needs the tree: the repository's lock, the index and
/// the pack writers, and the files cache when the parent is the snapshot it was written for.
/// [`Repo::prepare_tree`] makes it; it is `Send`, so it can be made on another thread while the
/// image is opened (an unchanged tree's walk is most of its snapshot's time). Dropped unused,
/// it stops the writers and releases the lock.
pub struct PreparedTree<'r> {
    _lock: lock::Lock,
    started: Instant,
    session: Session<'r>,
    cache_path: Option<PathBuf>,
    /// The files cache, when it may be used.
    cache: Option<filescache::FilesCache>,
    warnings: Vec<String>,
}

impl Repo {
    /// Store an image's merged tree as a new snapshot.
    pub fn create_tree(&self, tree: &ImageTree, opts: &CreateOptions) -> Result<CreateReport> {
        self.prepare_tree(opts)?.store(tree, opts)
    }

    /// The first half of [`Repo::create_tree`], which needs no tree; [`PreparedTree::store`]
    /// is the second.
    pub fn prepare_tree(&self, opts: &CreateOptions) -> Result<PreparedTree<'_>> {
        check_key(self, opts.sign_key.as_ref())?;
        let lock = lock::lock(&self.backend, false, "snapshot create")?;
        let started = Instant::now();
        // A named parent must exist, whether or not the files cache can use it.
        let named_parent = opts.parent.as_deref().map(|p| self.find(p)).transpose()?;
        let session = Session::start(self, opts.threads)?;
        let mut warnings = Vec::new();
        let cache_path = opts
            .cache_dir
            .as_deref()
            .and_then(|d| filescache::path(d, &self.config.id, &opts.source, &opts.tags));
        let cache = match &cache_path {
            Some(p) if !opts.force => self.usable_cache(opts, named_parent, p, &mut warnings)?,
            _ => None,
        };
        Ok(PreparedTree {
            _lock: lock,
            started,
            session,
            cache_path,
            cache,
            warnings,
        })
    }
}

impl PreparedTree<'_> {
    /// Store the tree as a new snapshot.
    pub fn store(self, tree: &ImageTree, opts: &CreateOptions) -> Result<CreateReport> {
        let PreparedTree {
            _lock,
            started,
            session: mut s,
            cache_path,
            cache,
            mut warnings,
        } = self;
        let repo = s.repo;
        let entries = tree.entries();
        let snapshot_of = |root: Node| Snapshot {
            kind: SnapshotKind::Tree,
            time: now_rfc3339(),
            source: opts.source.clone(),
            format: tree.info().format.as_str().to_string(),
            tags: opts.tags.clone(),
            hostname: lock::hostname(),
            root,
            summary: SnapshotSummary::default(),
            escaped_names: true,
        };
        let root_meta = entries
            .first()
            .filter(|e| e.path == "/")
            .map(|e| node_of(e, "/"));
        // The parent's trees, when the listing is the one the cache was written from (its
        // digest is worked out here only when there is a cache to compare it with).
        let mut listing = None;
        let (same_trees, records) = match cache {
            Some(c) => {
                let now = filescache::listing_digest(tree);
                listing = Some(now);
                ((c.listing == now).then_some((c.tree, c.trees)), c.files)
            }
            None => (None, Vec::new()),
        };
        // Each file's extents and bytes, by its place in `entries`: first those the cache says
        // are unchanged since the parent (their chunks, unread), then those read.
        let mut contents = unchanged_files(tree, records, &s.index);
        contents.resize(entries.len(), None);
        let unchanged: Vec<bool> = contents.iter().map(Option::is_some).collect();
        s.sum.files_unchanged = unchanged.iter().filter(|u| **u).count() as u64;
        // The listing is the parent's and every file is unchanged: so are the trees, which are
        // made of nothing else. Nothing is read or built, and the cache stays valid as it is.
        if let Some((root, trees)) = same_trees {
            let all = entries
                .iter()
                .zip(&unchanged)
                .all(|(e, u)| e.kind != EntryKind::File || *u);
            if all && trees.contains(&root) && trees.iter().all(|t| s.index.contains(t)) {
                for e in entries.iter().filter(|e| e.path != "/") {
                    s.sum.entries += 1;
                    match e.kind {
                        EntryKind::File => {
                            s.sum.files += 1;
                            s.sum.bytes += e.size;
                        }
                        EntryKind::Dir => s.sum.dirs += 1,
                        _ => {}
                    }
                }
                let mut root_node = root_meta.unwrap_or_else(|| Node::plain_dir("/"));
                root_node.subtree = Some(root);
                let mut made = s.finish(snapshot_of(root_node), opts.sign_key.as_ref(), started)?;
                made.warnings = warnings;
                return Ok(made);
            }
        }
        let total: u64 = entries
            .iter()
            .zip(&unchanged)
            .filter(|(e, u)| e.kind == EntryKind::File && !**u)
            .map(|(e, _)| e.size)
            .sum();
        opts.progress.begin("storing", Some(total));
        let read = if tree.info().format == Format::Dir {
            // A directory may be a live system: a file that vanished or cannot be read is
            // left out with a warning instead of failing the whole snapshot. Files are read
            // by as many threads as compress (a tree of small files costs system calls more
            // than compression), each taking the next file: the big ones first, largest first,
            // so that no thread is left alone with one at the end; then the rest in path order,
            // so that neighbours share compression groups (which a restore reads once).
            let (mut todo, small): (Vec<usize>, Vec<usize>) = entries
                .iter()
                .enumerate()
                .filter(|(i, e)| e.kind == EntryKind::File && !unchanged[*i])
                .map(|(i, _)| i)
                .partition(|&i| entries[i].size >= BIG_FILE);
            todo.sort_by_key(|&i| std::cmp::Reverse(entries[i].size));
            todo.extend(small);
            let next = AtomicUsize::new(0);
            let stop = AtomicBool::new(false);
            let progress = AtomicU64::new(0);
            let work = || -> Result<Reads> {
                let mut feeder = s.feeder();
                let mut chunker = Chunker::new(repo.config.chunker);
                let mut reads = Reads::default();
                while !stop.load(Ordering::Relaxed) {
                    let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let e = &entries[i];
                    let done = match tree.open(&e.path) {
                        Ok(mut r) => read_one(&mut feeder, &mut chunker, e, Ok(&mut r), true),
                        Err(err) => read_one(&mut feeder, &mut chunker, e, Err(err), true),
                    };
                    let n = match done {
                        Ok(d) => reads.add(i, d),
                        Err(err) => {
                            stop.store(true, Ordering::Relaxed);
                            return Err(err);
                        }
                    };
                    opts.progress
                        .advance(progress.fetch_add(n, Ordering::Relaxed) + n);
                }
                feeder.flush()?;
                reads.holes = chunker.skipped;
                Ok(reads)
            };
            let threads = thread_count(opts.threads).min(todo.len().max(1));
            std::thread::scope(|scope| {
                let others: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
                let mut all = vec![work()];
                for h in others {
                    all.push(
                        h.join()
                            .unwrap_or_else(|_| Err(Error::damaged("a reading thread panicked"))),
                    );
                }
                all.into_iter().collect::<Result<Vec<Reads>>>()
            })
            .map(Reads::merge)
        } else {
            // Archives and disks: one pass (a compressed layer is streamed once); any read
            // error is the image's damage and ends the snapshot.
            let mut feeder = s.feeder();
            let mut chunker = Chunker::new(repo.config.chunker);
            let mut reads = Reads::default();
            let mut failed: Option<Error> = None;
            // A layer none of whose files changed is not decompressed.
            let place = |e: &Entry| tree.position(&e.path);
            let walked = tree.for_each_file(
                |e| !place(e).is_some_and(|i| unchanged[i]),
                |e, r| {
                    // A file the tree does not list by this name has nowhere to go.
                    if let (None, Some(i)) = (&failed, place(e)) {
                        match read_one(&mut feeder, &mut chunker, e, Ok(r), false) {
                            Ok(d) => {
                                reads.add(i, d);
                                opts.progress.advance(reads.bytes);
                            }
                            Err(err) => failed = Some(err),
                        }
                    }
                    Ok(())
                },
            );
            let flushed = feeder.flush();
            drop(feeder);
            match (failed, walked, flushed) {
                (Some(e), _, _) => Err(e),
                (None, Err(e), _) => Err(Error::from(e)),
                (None, Ok(()), Err(e)) => Err(e),
                (None, Ok(()), Ok(())) => {
                    reads.holes = chunker.skipped;
                    Ok(Reads::merge(vec![reads]))
                }
            }
        };
        opts.progress.end();
        let read = match read {
            Ok(r) => r,
            Err(e) => return Err(s.explain(e)),
        };
        for (i, ext, n) in read.stored {
            contents[i] = Some((ext, n));
        }
        warnings.extend(read.warnings.into_iter().map(|w| w.1));
        // Files of a live directory tree that vanished or could not be read: left out, named.
        let skipped: HashSet<&str> = read
            .skipped
            .iter()
            .map(|&i| entries[i].path.as_str())
            .collect();
        // What was read: recorded holes were passed unread.
        s.sum.bytes_read = read.bytes.saturating_sub(read.holes);
        s.sum.files_read = read.files;
        // What the files cache will say of the files stored, in path order.
        let mut seen: Vec<(&str, Seen, Vec<Extent>)> = Vec::new();
        // Nodes by parent directory, then trees from the deepest directory up.
        let mut children: BTreeMap<String, Vec<Node>> = BTreeMap::new();
        let gone = |p: &str| !skipped.is_empty() && skipped.contains(p);
        for (i, e) in entries.iter().enumerate() {
            if e.path == "/" {
                continue;
            }
            if gone(&e.path)
                || (e.kind == EntryKind::Hardlink && e.link.as_deref().is_some_and(gone))
            {
                continue;
            }
            let (parent, name) = parent_and_name(&e.path);
            let mut n = node_of(e, name);
            s.sum.entries += 1;
            match e.kind {
                EntryKind::File => {
                    let (ext, read) =
                        contents.get_mut(i).and_then(Option::take).ok_or_else(|| {
                            Error::input(format!(
                                "{}: the image did not hand out its bytes",
                                e.path
                            ))
                        })?;
                    s.sum.files += 1;
                    s.sum.bytes += read;
                    if cache_path.is_some() {
                        let stamp = tree.stamp_at(i);
                        if stamp != Stamp::None {
                            seen.push((e.path.as_str(), Seen::of(e, stamp), ext.clone()));
                        }
                    }
                    n.size = read;
                    n.content = ext;
                }
                EntryKind::Dir => {
                    s.sum.dirs += 1;
                    children.entry(e.path.clone()).or_default();
                }
                _ => {}
            }
            children.entry(parent.to_string()).or_default().push(n);
        }
        // Directories the image implies but does not list get plain 0755 root-owned entries.
        let listed: HashSet<String> = tree
            .entries()
            .iter()
            .filter(|e| e.kind == EntryKind::Dir)
            .map(|e| e.path.clone())
            .collect();
        let mut missing: Vec<String> = children
            .keys()
            .filter(|d| *d != "/" && !listed.contains(*d))
            .cloned()
            .collect();
        while let Some(d) = missing.pop() {
            let (parent, name) = parent_and_name(&d);
            let node = Node::plain_dir(name);
            let p = parent.to_string();
            if p != "/" && !listed.contains(&p) && !children.contains_key(&p) {
                missing.push(p.clone());
            }
            children.entry(p).or_default().push(node);
        }
        let (root, trees) = match s.store_trees(children) {
            Ok(r) => r,
            Err(e) => return Err(s.explain(e)),
        };
        let mut root_node = root_meta.unwrap_or_else(|| Node::plain_dir("/"));
        root_node.subtree = Some(root);
        // The cache names the root tree, not the snapshot, so it is written while the index
        // and the snapshot are synced. (Should the snapshot fail, a cache of a tree no snapshot
        // has is never used.)
        let cache_path = cache_path.filter(|_| !seen.is_empty());
        let (made, saved) = std::thread::scope(|scope| {
            let saver = cache_path.as_ref().map(|p| {
                let (seen, trees) = (&seen, &trees);
                scope.spawn(move || {
                    let written = filescache::Written {
                        tree: root,
                        listing: listing.unwrap_or_else(|| filescache::listing_digest(tree)),
                        trees,
                    };
                    let files = seen.iter().map(|(p, s, c)| (*p, s, c.as_slice()));
                    filescache::save(p, &repo.config.id, &written, files)
                })
            });
            let made = s.finish(snapshot_of(root_node), opts.sign_key.as_ref(), started);
            let saved = saver.map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("the writing thread panicked")))
            });
            (made, saved)
        });
        let mut made = made?;
        if let (Some(p), Some(Err(e))) = (cache_path, saved) {
            warnings.push(format!(
                "files cache {}: not written ({e}); the next snapshot reads every file",
                p.display()
            ));
        }
        made.warnings = warnings;
        Ok(made)
    }
}

impl Repo {
    /// The newest snapshot of the same source and tags made on this host (the parent when none
    /// is named).
    fn newest_like(&self, opts: &CreateOptions) -> Result<Option<crate::snapshot::StoredSnapshot>> {
        let host = lock::hostname();
        let mut tags = opts.tags.clone();
        tags.sort();
        let (all, _) = self.snapshots()?;
        Ok(all.into_iter().rev().find(|s| {
            let mut t = s.snapshot.tags.clone();
            t.sort();
            s.snapshot.kind == SnapshotKind::Tree
                && s.snapshot.source == opts.source
                && s.snapshot.hostname == host
                && t == tags
        }))
    }

    /// The files cache at `cache_path` when its snapshot is the parent (named, or else the
    /// newest like this one) and that parent is validly signed where signatures are required;
    /// `None` (every file read) otherwise.
    fn usable_cache(
        &self,
        opts: &CreateOptions,
        named_parent: Option<crate::snapshot::StoredSnapshot>,
        cache_path: &Path,
        warnings: &mut Vec<String>,
    ) -> Result<Option<filescache::FilesCache>> {
        let cache = match filescache::load(cache_path, &self.config.id) {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(None),
            Err(why) => {
                warnings.push(format!(
                    "files cache {}: ignored, {why}; every file is read",
                    cache_path.display()
                ));
                return Ok(None);
            }
        };
        let parent = match named_parent {
            Some(p) => Some(p),
            None => self.newest_like(opts)?,
        };
        let Some(parent) = parent else {
            return Ok(None);
        };
        if parent.snapshot.root.subtree != Some(cache.tree) {
            // The cache describes another tree's files (a --parent of another time, or a
            // snapshot made elsewhere since): it says nothing about this parent's chunks.
            tracing::info!(
                "files cache is for tree {}, the parent {} has another: every file is read",
                cache.tree.short(),
                parent.id.short()
            );
            return Ok(None);
        }
        if !matches!(
            parent.signature_state(self.config.public_key.as_ref()),
            crate::snapshot::Signed::NotRequired | crate::snapshot::Signed::Valid
        ) {
            warnings.push(format!(
                "parent snapshot {} is not validly signed: its chunks are not reused, every file is read",
                parent.id.short()
            ));
            return Ok(None);
        }
        Ok(Some(cache))
    }

    /// Store a disk image file's bytes (holes skipped, zero runs kept as holes).
    pub fn create_raw(&self, path: &Path, opts: &CreateOptions) -> Result<CreateReport> {
        use std::os::unix::fs::MetadataExt;
        check_key(self, opts.sign_key.as_ref())?;
        let mut f = File::open(path).ctx(|| format!("opening {}", path.display()))?;
        let meta = f.metadata().ctx(|| format!("stat {}", path.display()))?;
        if !meta.is_file() {
            return Err(Error::input(format!(
                "{} is not a regular file; --raw stores a disk image file's bytes",
                path.display()
            )));
        }
        let _lock = lock::lock(&self.backend, false, "snapshot create --raw")?;
        let started = Instant::now();
        let mut s = Session::start(self, opts.threads)?;
        let size = meta.len();
        opts.progress.begin("storing", Some(size));
        let mut chunker = Chunker::new(self.config.raw_chunker);
        let mut ext = Vec::new();
        let mut read_total = 0u64;
        let mut feeder = s.feeder();
        let mut read = || -> Result<()> {
            let mut pos = 0u64;
            while pos < size {
                let (data, hole) = data_region(&f, pos, size);
                if data > pos {
                    push_hole(&mut ext, data - pos);
                }
                if data >= size {
                    break;
                }
                let end = hole.min(size);
                f.seek(SeekFrom::Start(data))
                    .ctx(|| format!("seeking in {}", path.display()))?;
                let mut part = (&mut f).take(end - data);
                let n = feeder
                    .chunk_stream(&mut chunker, &mut part, &mut ext)?
                    .ctx(|| format!("reading {}", path.display()))?;
                if n != end - data {
                    return Err(Error::input(format!(
                        "{} changed while it was read (ended at {} of {size} bytes)",
                        path.display(),
                        data + n
                    )));
                }
                read_total += n;
                pos = end;
                opts.progress.advance(pos);
            }
            feeder.flush()
        };
        let read = read();
        drop(feeder);
        opts.progress.end();
        if let Err(e) = read {
            return Err(s.explain(e));
        }
        s.sum.bytes_read = read_total;
        s.sum.files = 1;
        s.sum.entries = 1;
        s.sum.bytes = size;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty() && n != "." && n != "..")
            .unwrap_or_else(|| "disk.img".into());
        let node = Node {
            name,
            kind: NodeKind::File,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            mtime: meta.mtime(),
            mtime_nsec: u32::try_from(meta.mtime_nsec()).unwrap_or(0),
            size,
            link: None,
            device: None,
            xattrs: BTreeMap::new(),
            content: ext,
            subtree: None,
        };
        let mut children = BTreeMap::new();
        children.insert("/".to_string(), vec![node]);
        let root = match s.store_trees(children) {
            Ok((root, _)) => root,
            Err(e) => return Err(s.explain(e)),
        };
        let snap = Snapshot {
            kind: SnapshotKind::Raw,
            time: now_rfc3339(),
            source: opts.source.clone(),
            format: "raw".into(),
            tags: opts.tags.clone(),
            hostname: lock::hostname(),
            root: Node {
                subtree: Some(root),
                ..Node::plain_dir("/")
            },
            summary: SnapshotSummary::default(),
            escaped_names: true,
        };
        s.finish(snap, opts.sign_key.as_ref(), started)
    }
}

impl Session<'_> {
    /// Store one tree blob per directory, deepest first; returns the root's id.
    /// Store the trees bottom up; returns the root's id and every tree's.
    fn store_trees(&mut self, mut children: BTreeMap<String, Vec<Node>>) -> Result<(Id, Vec<Id>)> {
        let mut feeder = self.feeder();
        let mut all = Vec::with_capacity(children.len() + 1);
        children.entry("/".into()).or_default();
        let mut dirs: Vec<String> = children.keys().cloned().collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(if d == "/" { 0 } else { d.matches('/').count() }));
        let mut ids: HashMap<String, Id> = HashMap::new();
        for d in dirs {
            let mut nodes = children.remove(&d).unwrap_or_default();
            nodes.sort_by(|a, b| a.name.cmp(&b.name));
            for n in &mut nodes {
                if n.kind == NodeKind::Dir {
                    let full = join(&d, &n.name);
                    n.subtree = Some(match ids.get(&full) {
                        Some(id) => *id,
                        None => {
                            let id = feeder.add(BlobKind::Tree, &Tree::default().encode())?;
                            all.push(id);
                            id
                        }
                    });
                }
            }
            let id = feeder.add(BlobKind::Tree, &Tree { nodes }.encode())?;
            all.push(id);
            ids.insert(d, id);
        }
        feeder.flush()?;
        all.sort();
        all.dedup();
        let root = ids
            .get("/")
            .copied()
            .ok_or_else(|| Error::damaged("no root tree was made"))?;
        Ok((root, all))
    }
}

/// The next data region at or after `pos`: (start of data, start of the following hole).
/// Without SEEK_DATA support the whole rest is data.
fn data_region(f: &File, pos: u64, size: u64) -> (u64, u64) {
    use rustix::fs::{seek, SeekFrom as RSeek};
    let data = match seek(f, RSeek::Data(pos)) {
        Ok(d) => d,
        Err(rustix::io::Errno::NXIO) => return (size, size),
        Err(_) => return (pos, size),
    };
    let hole = seek(f, RSeek::Hole(data)).unwrap_or(size);
    (data, hole)
}
