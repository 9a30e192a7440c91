//! Where a repository's files live. Every file is written once under its final name and never
//! changed; [`Backend::put`] makes a file appear whole or not at all.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// Storage for a repository's files, by relative name (`packs/ab/<id>`, `index/<id>`, …).
/// The local directory is the one implementation today; an S3-compatible store fits the same
/// calls (put whole objects, ranged reads, list by prefix, delete).
pub trait Backend: Send + Sync {
    /// A human name for messages (`/srv/repo`, `s3://bucket/prefix`).
    fn location(&self) -> String;
    /// The whole file.
    fn read(&self, name: &str) -> Result<Vec<u8>>;
    /// `len` bytes at `offset`; fewer only if the file is shorter (a damaged repository).
    fn read_at(&self, name: &str, offset: u64, len: usize) -> Result<Vec<u8>>;
    /// Write a small file atomically; fails if it exists and `exclusive` is set.
    fn write(&self, name: &str, bytes: &[u8], exclusive: bool) -> Result<()>;
    /// Move a finished local temp file (from [`Backend::temp_file`]) to `name` atomically.
    fn put(&self, temp: &Path, name: &str) -> Result<()>;
    /// A new local temp file for building a pack; removed by the caller on failure.
    fn temp_file(&self) -> Result<(PathBuf, File)>;
    /// Names and sizes of the files in a directory (`packs` lists the whole `packs/*/` level).
    fn list(&self, dir: &str) -> Result<Vec<(String, u64)>>;
    fn size(&self, name: &str) -> Result<Option<u64>>;
    fn remove(&self, name: &str) -> Result<()>;
    fn exists(&self) -> bool;
    /// An open file for many ranged reads (packs during restore and check).
    fn open(&self, name: &str) -> Result<Box<dyn ReadAt>>;
}

/// Ranged reads of one open file.
pub trait ReadAt: Send {
    /// `len` bytes at `offset`; fewer only at the end of the file.
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

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Create the repository's directories (`packs/00` … `packs/ff`, `index`, `snapshots`,
    /// `locks`, `tmp`).
    pub fn create_layout(&self) -> Result<()> {
        for d in ["index", "snapshots", "locks", "tmp", "packs"] {
            let p = self.path(d);
            fs::create_dir_all(&p).ctx(|| format!("creating {}", p.display()))?;
        }
        for i in 0..=255u8 {
            let p = self.path(&format!("packs/{i:02x}"));
            fs::create_dir_all(&p).ctx(|| format!("creating {}", p.display()))?;
        }
        sync_dir(&self.root)
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx(|| format!("syncing directory {}", dir.display()))
}

fn random_name() -> String {
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

impl Backend for LocalDir {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn read(&self, name: &str) -> Result<Vec<u8>> {
        let p = self.path(name);
        fs::read(&p).ctx(|| format!("reading {}", p.display()))
    }

    fn read_at(&self, name: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        let p = self.path(name);
        let mut f = File::open(&p).ctx(|| format!("opening {}", p.display()))?;
        f.seek(SeekFrom::Start(offset))
            .ctx(|| format!("seeking in {}", p.display()))?;
        let mut buf = Vec::with_capacity(len);
        f.take(len as u64)
            .read_to_end(&mut buf)
            .ctx(|| format!("reading {}", p.display()))?;
        Ok(buf)
    }

    fn write(&self, name: &str, bytes: &[u8], exclusive: bool) -> Result<()> {
        let (tmp, mut f) = self.temp_file()?;
        let result = (|| {
            f.write_all(bytes)
                .and_then(|_| f.sync_all())
                .ctx(|| format!("writing {}", tmp.display()))?;
            drop(f);
            let dest = self.path(name);
            if exclusive {
                // link() fails if the name exists: no window where a second writer wins.
                fs::hard_link(&tmp, &dest).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        Error::Exists(format!("{} already exists", dest.display()))
                    } else {
                        Error::io(format!("creating {}", dest.display()), e)
                    }
                })?;
                let _ = fs::remove_file(&tmp);
            } else {
                fs::rename(&tmp, &dest).ctx(|| format!("renaming to {}", dest.display()))?;
            }
            sync_dir(dest.parent().unwrap_or(&self.root))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn put(&self, temp: &Path, name: &str) -> Result<()> {
        let dest = self.path(name);
        if let Some(parent) = dest.parent() {
            if !parent.is_dir() {
                fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
            }
        }
        File::open(temp)
            .and_then(|f| f.sync_all())
            .ctx(|| format!("syncing {}", temp.display()))?;
        fs::rename(temp, &dest).ctx(|| format!("renaming to {}", dest.display()))?;
        sync_dir(dest.parent().unwrap_or(&self.root))
    }

    fn temp_file(&self) -> Result<(PathBuf, File)> {
        let p = self.path(&format!("tmp/{}.tmp", random_name()));
        let f = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .mode(0o600)
            .open(&p)
            .ctx(|| format!("creating {}", p.display()))?;
        Ok((p, f))
    }

    fn list(&self, dir: &str) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let base = self.path(dir);
        let mut dirs = vec![(base.clone(), String::new())];
        let nested = dir == "packs";
        while let Some((d, prefix)) = dirs.pop() {
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
                if meta.is_dir() && nested && prefix.is_empty() {
                    dirs.push((ent.path(), format!("{name}/")));
                } else if meta.is_file() {
                    out.push((format!("{prefix}{name}"), meta.len()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn size(&self, name: &str) -> Result<Option<u64>> {
        let p = self.path(name);
        match fs::metadata(&p) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("stat {}", p.display()), e)),
        }
    }

    fn remove(&self, name: &str) -> Result<()> {
        let p = self.path(name);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", p.display()), e)),
        }
    }

    fn exists(&self) -> bool {
        self.path("config").is_file()
    }

    fn open(&self, name: &str) -> Result<Box<dyn ReadAt>> {
        let path = self.path(name);
        let file = File::open(&path).ctx(|| format!("opening {}", path.display()))?;
        Ok(Box::new(LocalFile { file, path }))
    }
}
