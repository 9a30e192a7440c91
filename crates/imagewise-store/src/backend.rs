//! Where a repository's files live. A backend stores whole objects keyed by
//! ([`FileKind`], name) — no host paths — and every one is written once under its final name
//! and never changed: [`Backend::write`] and [`Backend::commit`] make an object appear whole or
//! not at all, and `exclusive` writes are conditional creates (exactly one of several concurrent
//! writers wins; the others get [`Error::Exists`]). Reads are whole or ranged, listings come in
//! pages. The local directory ([`LocalDir`]) and memory ([`MemoryBackend`]) implement it here;
//! an S3-compatible store fits the same calls (`PutObject` with `If-None-Match: *`, ranged
//! `GetObject`, `ListObjectsV2` with a start-after key). Every implementation must pass
//! [`crate::conformance::run`].

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, IoContext, Result};

/// The kinds of file a repository holds; each kind is a namespace of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    /// The one `config` file (name `config`).
    Config,
    /// Pack files, named by the BLAKE3 id of their bytes (hex).
    Pack,
    /// Index files, named by the hash of their content.
    Index,
    /// Snapshots, named by their id.
    Snapshot,
    /// Locks, named at random.
    Lock,
}

impl FileKind {
    pub const ALL: [FileKind; 5] = [
        FileKind::Config,
        FileKind::Pack,
        FileKind::Index,
        FileKind::Snapshot,
        FileKind::Lock,
    ];

    /// Where the object sits relative to a repository's root, in the layout docs/store.md
    /// describes (`packs/ab/<id>`, `index/<name>`): what messages name, and the local
    /// directory's file names.
    pub fn path(self, name: &str) -> String {
        match self {
            FileKind::Config => "config".into(),
            FileKind::Pack => format!("packs/{}/{name}", name.get(..2).unwrap_or("00")),
            FileKind::Index => format!("index/{name}"),
            FileKind::Snapshot => format!("snapshots/{name}"),
            FileKind::Lock => format!("locks/{name}"),
        }
    }
}

/// A file being built on this host before it becomes an object (a pack): written, then handed
/// to [`Backend::commit`]. Dropped uncommitted, it is deleted.
pub struct Staged {
    file: File,
    path: PathBuf,
    keep: bool,
}

impl Staged {
    fn new(dir: &Path) -> Result<Staged> {
        let path = dir.join(format!("{}.tmp", random_name()));
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .ctx(|| format!("creating {}", path.display()))?;
        Ok(Staged {
            file,
            path,
            keep: false,
        })
    }

    /// The open file, to write the object's bytes into.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// For messages.
    pub fn describe(&self) -> String {
        self.path.display().to_string()
    }

    /// The whole staged content, from the start.
    fn bytes(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.file
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.file.read_to_end(&mut out))
            .ctx(|| format!("reading {}", self.path.display()))?;
        Ok(out)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Storage for a repository's objects.
pub trait Backend: Send + Sync {
    /// A human name for messages (`/srv/repo`, `s3://bucket/prefix`).
    fn location(&self) -> String;
    /// The whole object; [`Error::NotFound`] when there is none.
    fn read(&self, kind: FileKind, name: &str) -> Result<Vec<u8>>;
    /// `len` bytes at `offset`; fewer only if the object is shorter.
    fn read_at(&self, kind: FileKind, name: &str, offset: u64, len: usize) -> Result<Vec<u8>>;
    /// Write a small object whole. `exclusive`: only if no object of that name exists
    /// ([`Error::Exists`] otherwise, the existing object untouched); else it replaces one.
    fn write(&self, kind: FileKind, name: &str, bytes: &[u8], exclusive: bool) -> Result<()>;
    /// A local file to build a large object in.
    fn stage(&self) -> Result<Staged>;
    /// Make a staged file the object `name`, whole or not at all.
    fn commit(&self, staged: Staged, kind: FileKind, name: &str) -> Result<()>;
    /// Up to `limit` objects of a kind whose names sort after `after`, in name order, with
    /// their sizes. Fewer than `limit` means the listing is complete.
    fn list(&self, kind: FileKind, after: Option<&str>, limit: usize)
        -> Result<Vec<(String, u64)>>;
    /// How many names [`list_all`] asks for at a time: an object store's page (1000 for S3); a
    /// backend that lists everything in one scan anyway says so with `usize::MAX`.
    fn page_size(&self) -> usize {
        1000
    }
    /// The object's size; `None` when there is none.
    fn size(&self, kind: FileKind, name: &str) -> Result<Option<u64>>;
    /// Delete an object; deleting one that is not there is no error.
    fn remove(&self, kind: FileKind, name: &str) -> Result<()>;
    /// Delete what interrupted writers left behind in the staging area.
    fn clean_staging(&self) -> Result<()> {
        Ok(())
    }
    /// An object for many ranged reads (packs during restore and check).
    fn open(&self, kind: FileKind, name: &str) -> Result<Box<dyn ReadAt>>;
}

/// Every object of a kind, page by page.
pub fn list_all(b: &dyn Backend, kind: FileKind) -> Result<Vec<(String, u64)>> {
    let page_size = b.page_size().max(1);
    let mut out: Vec<(String, u64)> = Vec::new();
    loop {
        let after = out.last().map(|l| l.0.clone());
        let page = b.list(kind, after.as_deref(), page_size)?;
        let done = page.len() < page_size;
        // Each page must start after the last: a listing that does not advance is a broken
        // backend, not an endless repository.
        if let (Some(a), Some(first)) = (&after, page.first()) {
            if first.0 <= *a {
                return Err(Error::damaged(format!(
                    "{}: listing {kind:?} objects after {a:?} returned {:?} again; the store does not page as it should",
                    b.location(),
                    first.0
                )));
            }
        }
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Ranged reads of one object.
pub trait ReadAt: Send {
    /// `len` bytes at `offset`; fewer only at the end of the object.
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>>;
}

struct LocalFile {
    file: File,
    path: PathBuf,
}

impl ReadAt for LocalFile {
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; len];
        let mut got = 0;
        while got < len {
            match self.file.read_at(&mut buf[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(format!("reading {}", self.path.display()), e)),
            }
        }
        buf.truncate(got);
        Ok(buf)
    }
}

/// A repository in a local directory.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    pub fn new(root: impl Into<PathBuf>) -> LocalDir {
        LocalDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, kind: FileKind, name: &str) -> PathBuf {
        self.root.join(kind.path(name))
    }

    fn dir(kind: FileKind) -> &'static str {
        match kind {
            FileKind::Config => "",
            FileKind::Pack => "packs",
            FileKind::Index => "index",
            FileKind::Snapshot => "snapshots",
            FileKind::Lock => "locks",
        }
    }

    /// Create the repository's directories (`packs/00` … `packs/ff`, `index`, `snapshots`,
    /// `locks`, `tmp`).
    pub fn create_layout(&self) -> Result<()> {
        for d in ["index", "snapshots", "locks", "tmp", "packs"] {
            let p = self.root.join(d);
            fs::create_dir_all(&p).ctx(|| format!("creating {}", p.display()))?;
        }
        for i in 0..=255u8 {
            let p = self.root.join(format!("packs/{i:02x}"));
            fs::create_dir_all(&p).ctx(|| format!("creating {}", p.display()))?;
        }
        sync_dir(&self.root)
    }

    fn not_found(&self, kind: FileKind, name: &str) -> Error {
        Error::not_found(format!("{} has no {}", self.location(), kind.path(name)))
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx(|| format!("syncing directory {}", dir.display()))
}

pub(crate) fn random_name() -> String {
    let mut b = [0u8; 12];
    // Falls back to time and pid if the OS has no random source; names only need to differ.
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b[..8].copy_from_slice(&(t as u64).to_le_bytes());
        b[8..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    hex::encode(b)
}

/// Names only of plain objects: nothing a hostile repository could use to climb out.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Backend for LocalDir {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn read(&self, kind: FileKind, name: &str) -> Result<Vec<u8>> {
        let p = self.path(kind, name);
        match fs::read(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(self.not_found(kind, name)),
            r => r.ctx(|| format!("reading {}", p.display())),
        }
    }

    fn read_at(&self, kind: FileKind, name: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        let p = self.path(kind, name);
        let mut f = match File::open(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.not_found(kind, name))
            }
            r => r.ctx(|| format!("opening {}", p.display()))?,
        };
        f.seek(SeekFrom::Start(offset))
            .ctx(|| format!("seeking in {}", p.display()))?;
        let mut buf = Vec::with_capacity(len);
        f.take(len as u64)
            .read_to_end(&mut buf)
            .ctx(|| format!("reading {}", p.display()))?;
        Ok(buf)
    }

    fn write(&self, kind: FileKind, name: &str, bytes: &[u8], exclusive: bool) -> Result<()> {
        // A lock only coordinates processes that are running. After a crash none of them is,
        // so a lock that did not reach the disk is as right as one that did (which would only
        // be stale): locks are not synced, which saves an unchanged snapshot two disk flushes.
        let durable = kind != FileKind::Lock;
        let mut staged = self.stage()?;
        staged
            .file
            .write_all(bytes)
            .and_then(|_| {
                if durable {
                    staged.file.sync_all()
                } else {
                    Ok(())
                }
            })
            .ctx(|| format!("writing {}", staged.path.display()))?;
        let dest = self.path(kind, name);
        if exclusive {
            // link() fails if the name exists: no window where a second writer wins.
            fs::hard_link(&staged.path, &dest).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::Exists(format!("{} already exists", dest.display()))
                } else {
                    Error::io(format!("creating {}", dest.display()), e)
                }
            })?;
        } else {
            fs::rename(&staged.path, &dest).ctx(|| format!("renaming to {}", dest.display()))?;
            staged.keep = true;
        }
        if durable {
            sync_dir(dest.parent().unwrap_or(&self.root))
        } else {
            Ok(())
        }
    }

    fn stage(&self) -> Result<Staged> {
        Staged::new(&self.root.join("tmp"))
    }

    fn commit(&self, mut staged: Staged, kind: FileKind, name: &str) -> Result<()> {
        let dest = self.path(kind, name);
        if let Some(parent) = dest.parent() {
            if !parent.is_dir() {
                fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
            }
        }
        staged
            .file
            .sync_all()
            .ctx(|| format!("syncing {}", staged.path.display()))?;
        fs::rename(&staged.path, &dest).ctx(|| format!("renaming to {}", dest.display()))?;
        staged.keep = true;
        sync_dir(dest.parent().unwrap_or(&self.root))
    }

    fn list(
        &self,
        kind: FileKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, u64)>> {
        if kind == FileKind::Config {
            let size = self.size(kind, "config")?;
            return Ok(size
                .filter(|_| after.is_none_or(|a| a < "config"))
                .map(|s| ("config".to_string(), s))
                .into_iter()
                .take(limit)
                .collect());
        }
        let base = self.root.join(LocalDir::dir(kind));
        let mut dirs = vec![base.clone()];
        let mut out = Vec::new();
        while let Some(d) = dirs.pop() {
            let rd = match fs::read_dir(&d) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && d != base => continue,
                Err(e) => return Err(Error::io(format!("listing {}", d.display()), e)),
            };
            for ent in rd {
                let ent = ent.ctx(|| format!("listing {}", d.display()))?;
                let name = ent.file_name().to_string_lossy().into_owned();
                let meta = ent
                    .metadata()
                    .ctx(|| format!("stat {}", ent.path().display()))?;
                if meta.is_dir() && kind == FileKind::Pack && d == base {
                    dirs.push(ent.path());
                } else if meta.is_file() && plain(&name) && after.is_none_or(|a| name.as_str() > a)
                {
                    out.push((name, meta.len()));
                }
            }
        }
        out.sort();
        out.truncate(limit);
        Ok(out)
    }

    /// A directory is read whole for any page: list everything in one scan.
    fn page_size(&self) -> usize {
        usize::MAX
    }

    fn size(&self, kind: FileKind, name: &str) -> Result<Option<u64>> {
        let p = self.path(kind, name);
        match fs::metadata(&p) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("stat {}", p.display()), e)),
        }
    }

    fn remove(&self, kind: FileKind, name: &str) -> Result<()> {
        let p = self.path(kind, name);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", p.display()), e)),
        }
    }

    fn clean_staging(&self) -> Result<()> {
        let tmp = self.root.join("tmp");
        let rd = match fs::read_dir(&tmp) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(format!("listing {}", tmp.display()), e)),
        };
        for ent in rd {
            let p = ent.ctx(|| format!("listing {}", tmp.display()))?.path();
            match fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(format!("removing {}", p.display()), e))
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn open(&self, kind: FileKind, name: &str) -> Result<Box<dyn ReadAt>> {
        let path = self.path(kind, name);
        let file = match File::open(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.not_found(kind, name))
            }
            r => r.ctx(|| format!("opening {}", path.display()))?,
        };
        Ok(Box::new(LocalFile { file, path }))
    }
}

type Objects = BTreeMap<(FileKind, String), Arc<Vec<u8>>>;

/// A repository in memory: for tests, and for trying a command on a copy.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    objects: Mutex<Objects>,
}

impl MemoryBackend {
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    fn objects(&self) -> Result<std::sync::MutexGuard<'_, Objects>> {
        self.objects
            .lock()
            .map_err(|_| Error::Transient("the in-memory repository's lock is poisoned".into()))
    }

    fn get(&self, kind: FileKind, name: &str) -> Result<Arc<Vec<u8>>> {
        self.objects()?
            .get(&(kind, name.to_string()))
            .cloned()
            .ok_or_else(|| Error::not_found(format!("memory: has no {}", kind.path(name))))
    }
}

struct MemoryObject(Arc<Vec<u8>>);

impl ReadAt for MemoryObject {
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let end = start.saturating_add(len).min(self.0.len());
        Ok(self.0[start..end].to_vec())
    }
}

impl Backend for MemoryBackend {
    fn location(&self) -> String {
        "memory:".into()
    }

    fn read(&self, kind: FileKind, name: &str) -> Result<Vec<u8>> {
        Ok(self.get(kind, name)?.as_ref().clone())
    }

    fn read_at(&self, kind: FileKind, name: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        MemoryObject(self.get(kind, name)?).read_at(offset, len)
    }

    fn write(&self, kind: FileKind, name: &str, bytes: &[u8], exclusive: bool) -> Result<()> {
        let mut objects = self.objects()?;
        let key = (kind, name.to_string());
        if exclusive && objects.contains_key(&key) {
            return Err(Error::Exists(format!(
                "memory: {} already exists",
                kind.path(name)
            )));
        }
        objects.insert(key, Arc::new(bytes.to_vec()));
        Ok(())
    }

    fn stage(&self) -> Result<Staged> {
        // Staged files are built in the system's temp directory, then read in whole.
        Staged::new(&std::env::temp_dir())
    }

    fn commit(&self, mut staged: Staged, kind: FileKind, name: &str) -> Result<()> {
        let bytes = staged.bytes()?;
        self.objects()?
            .insert((kind, name.to_string()), Arc::new(bytes));
        Ok(())
    }

    fn list(
        &self,
        kind: FileKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, u64)>> {
        Ok(self
            .objects()?
            .iter()
            .filter(|((k, n), _)| *k == kind && after.is_none_or(|a| n.as_str() > a))
            .take(limit)
            .map(|((_, n), v)| (n.clone(), v.len() as u64))
            .collect())
    }

    fn size(&self, kind: FileKind, name: &str) -> Result<Option<u64>> {
        Ok(self
            .objects()?
            .get(&(kind, name.to_string()))
            .map(|v| v.len() as u64))
    }

    fn remove(&self, kind: FileKind, name: &str) -> Result<()> {
        self.objects()?.remove(&(kind, name.to_string()));
        Ok(())
    }

    fn open(&self, kind: FileKind, name: &str) -> Result<Box<dyn ReadAt>> {
        Ok(Box::new(MemoryObject(self.get(kind, name)?)))
    }
}
