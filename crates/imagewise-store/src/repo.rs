//! Opening and creating repositories; snapshots by id, prefix, tag or `latest`; reading blobs.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::backend::{list_all, Backend, FileKind, LocalDir, ReadAt};
use crate::chunk::ChunkParams;
use crate::config::{Compression, Config};
use crate::error::{Error, Malformed, Result};
use crate::id::Id;
use crate::index::Index;
use crate::keys::PublicKey;
use crate::pack::{blob_from_frame, frame_plain, is_group, BlobKind};
use crate::snapshot::{self, StoredSnapshot};
use crate::tree::Tree;

/// Files that could not be read: (name, why).
pub type Unreadable = Vec<(String, String)>;

/// Where a repository lives, as a user writes it: a local directory, or (refused until a
/// backend exists for it) a URL such as `s3://bucket/prefix`. Parsed here and nowhere else, so
/// that no command takes `s3://bucket` for a directory named `s3:`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    Local(std::path::PathBuf),
}

impl Location {
    pub fn parse(s: &str) -> Result<Location> {
        if s.is_empty() {
            return Err(Error::input("empty repository location; give a directory"));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            let plain = !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
            if plain {
                return Err(Error::Unsupported(format!(
                    "repository location {s:?}: {scheme}:// repositories are not supported by this build of imagewise; give a local directory (write ./{s} for a directory of that name)"
                )));
            }
        }
        Ok(Location::Local(std::path::PathBuf::from(s)))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Settings for `repo init`.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    pub compression: Compression,
    pub public_key: Option<PublicKey>,
    /// Chunk sizes for files; default [`ChunkParams::FILES`].
    pub chunker: Option<ChunkParams>,
    /// Chunk sizes for raw disk images; default [`ChunkParams::RAW`].
    pub raw_chunker: Option<ChunkParams>,
}

/// An open repository.
pub struct Repo {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) config: Config,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Repo({})", self.backend.location())
    }
}

/// `repo stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepoStats {
    pub snapshots: usize,
    pub packs: usize,
    pub pack_bytes: u64,
    pub index_files: usize,
    pub blobs: usize,
    pub data_blobs: usize,
    pub tree_blobs: usize,
    /// Bytes the index takes in memory once opened (40 per blob, and the pack table).
    pub index_memory: u64,
    /// Plain bytes of all blobs (each stored once).
    pub blob_bytes: u64,
    /// Their compressed size in packs.
    pub stored_bytes: u64,
    /// Sum of the apparent sizes of all snapshots' files: what a copy of each would take.
    pub snapshot_bytes: u64,
    /// snapshot_bytes / pack_bytes.
    pub ratio: f64,
}

impl Repo {
    /// Create a repository at a location string (see [`Location::parse`]).
    pub fn init_location(location: &str, opts: &InitOptions) -> Result<Repo> {
        match Location::parse(location)? {
            Location::Local(p) => Repo::init(&p, opts),
        }
    }

    /// Create a repository in `path` (a new or empty directory).
    pub fn init(path: &Path, opts: &InitOptions) -> Result<Repo> {
        if let Ok(mut rd) = std::fs::read_dir(path) {
            if rd.next().is_some() {
                return Err(Error::input(format!(
                    "{} exists and is not empty; a repository needs a new or empty directory",
                    path.display()
                )));
            }
        } else if path.exists() {
            return Err(Error::input(format!(
                "{} is not a directory",
                path.display()
            )));
        }
        let local = LocalDir::new(path);
        local.create_layout()?;
        Repo::init_with(Arc::new(local), opts)
    }

    /// Create a repository in an empty backend: its config, written once (a second init of
    /// the same backend fails with [`Error::Exists`]).
    pub fn init_with(backend: Arc<dyn Backend>, opts: &InitOptions) -> Result<Repo> {
        let chunker = opts.chunker.unwrap_or(ChunkParams::FILES);
        let raw_chunker = opts.raw_chunker.unwrap_or(ChunkParams::RAW);
        chunker.validate()?;
        raw_chunker.validate()?;
        let config = Config::new(opts.compression, opts.public_key, chunker, raw_chunker);
        let bytes = serde_json::to_vec_pretty(&config).unwrap_or_default();
        backend.write(FileKind::Config, "config", &bytes, true)?;
        Ok(Repo { backend, config })
    }

    /// Open the repository at `path`.
    pub fn open(path: &Path) -> Result<Repo> {
        Repo::open_with(Arc::new(LocalDir::new(path)))
    }

    /// Open the repository a location string names (see [`Location::parse`]).
    pub fn open_location(location: &str) -> Result<Repo> {
        match Location::parse(location)? {
            Location::Local(p) => Repo::open(&p),
        }
    }

    /// Open the repository behind any backend.
    pub fn open_with(backend: Arc<dyn Backend>) -> Result<Repo> {
        if backend.size(FileKind::Config, "config")?.is_none() {
            let at = backend.location();
            return Err(Error::not_found(format!(
                "{at} is not an imagewise repository (no config file); create one with `imagewise repo init {at}`"
            )));
        }
        let config = Config::parse(
            &backend.read(FileKind::Config, "config")?,
            &backend.location(),
        )?;
        Ok(Repo { backend, config })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn location(&self) -> String {
        self.backend.location()
    }

    /// Every snapshot that reads back, oldest first, and the ones that do not (name, why).
    pub fn snapshots(&self) -> Result<(Vec<StoredSnapshot>, Unreadable)> {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for (name, _) in list_all(self.backend.as_ref(), FileKind::Snapshot)? {
            let read = self
                .backend
                .read(FileKind::Snapshot, &name)
                .and_then(|b| snapshot::decode(&name, &b));
            match read {
                Ok(s) => good.push(s),
                Err(e) => bad.push((name, e.to_string())),
            }
        }
        good.sort_by(|a, b| a.snapshot.time.cmp(&b.snapshot.time).then(a.id.cmp(&b.id)));
        Ok((good, bad))
    }

    /// A snapshot by full id, unique id prefix, tag (the newest with it) or `latest`.
    pub fn find(&self, spec: &str) -> Result<StoredSnapshot> {
        let (all, _) = self.snapshots()?;
        if all.is_empty() {
            return Err(Error::not_found(format!(
                "{} holds no snapshots yet",
                self.location()
            )));
        }
        if spec == "latest" {
            if let Some(newest) = all.last() {
                return Ok(newest.clone());
            }
        }
        let hexish = spec.len() >= 4 && spec.bytes().all(|b| b.is_ascii_hexdigit());
        if hexish {
            let lower = spec.to_ascii_lowercase();
            let hits: Vec<&StoredSnapshot> = all
                .iter()
                .filter(|s| s.id.hex().starts_with(&lower))
                .collect();
            match hits.len() {
                1 => return Ok(hits[0].clone()),
                0 => {}
                n => {
                    return Err(Error::input(format!(
                        "{spec} is the start of {n} snapshot ids; give more digits"
                    )))
                }
            }
        }
        if let Some(s) = all
            .iter()
            .rev()
            .find(|s| s.snapshot.tags.iter().any(|t| t == spec))
        {
            return Ok(s.clone());
        }
        Err(Error::not_found(format!(
            "no snapshot {spec:?} in {} (give an id, a unique id prefix of 4+ digits, a tag or `latest`; `imagewise snapshot list` shows them)",
            self.location()
        )))
    }

    pub(crate) fn load_index(&self) -> Result<Index> {
        Index::load(self.backend.as_ref())
    }

    /// The index with every pack's entries listed (`repo check`, `prune`).
    pub(crate) fn load_index_with_entries(&self) -> Result<Index> {
        Index::load_with_entries(self.backend.as_ref())
    }

    /// `repo stats`.
    pub fn stats(&self) -> Result<RepoStats> {
        let index = self.load_index()?;
        let (snaps, _) = self.snapshots()?;
        let packs = list_all(self.backend.as_ref(), FileKind::Pack)?;
        let mut st = RepoStats {
            snapshots: snaps.len(),
            packs: packs.len(),
            pack_bytes: packs.iter().map(|p| p.1).sum(),
            index_files: index.files.len(),
            blobs: index.len(),
            index_memory: index.memory() as u64,
            ..RepoStats::default()
        };
        let mut frames = std::collections::HashSet::new();
        for loc in index.locations() {
            match loc.kind {
                BlobKind::Data => st.data_blobs += 1,
                BlobKind::Tree => st.tree_blobs += 1,
            }
            st.blob_bytes += u64::from(loc.raw_len);
            if frames.insert((loc.pack, loc.offset)) {
                st.stored_bytes += u64::from(loc.len);
            }
        }
        st.snapshot_bytes = snaps.iter().map(|s| s.snapshot.summary.bytes).sum();
        st.ratio = if st.pack_bytes > 0 {
            st.snapshot_bytes as f64 / st.pack_bytes as f64
        } else {
            0.0
        };
        Ok(st)
    }
}

type FrameKey = ((Id, u64), Arc<Vec<u8>>);

/// The index a [`BlobReader`] looks blobs up in: borrowed for one command, shared by the
/// readers of a snapshot opened as an image.
pub(crate) enum IndexRef<'a> {
    Borrowed(&'a Index),
    Shared(Arc<Index>),
}

impl std::ops::Deref for IndexRef<'_> {
    type Target = Index;

    fn deref(&self) -> &Index {
        match self {
            IndexRef::Borrowed(i) => i,
            IndexRef::Shared(i) => i,
        }
    }
}

/// Reads and verifies blobs, keeping a few packs open and the last group frames decompressed.
pub(crate) struct BlobReader<'a> {
    backend: Arc<dyn Backend>,
    index: IndexRef<'a>,
    open: HashMap<Id, Box<dyn ReadAt>>,
    /// (pack, frame offset) → plain bytes, least recently used first.
    frames: Vec<FrameKey>,
}

impl<'a> BlobReader<'a> {
    pub fn new(repo: &Repo, index: &'a Index) -> BlobReader<'a> {
        BlobReader::with(repo.backend.clone(), IndexRef::Borrowed(index))
    }

    pub fn with(backend: Arc<dyn Backend>, index: IndexRef<'a>) -> BlobReader<'a> {
        BlobReader {
            backend,
            index,
            open: HashMap::new(),
            frames: Vec::new(),
        }
    }

    /// The blob's bytes, verified against its id.
    pub fn read(&mut self, id: &Id) -> Result<Vec<u8>> {
        let (pack, e) = self.index.get(id).ok_or_else(|| {
            Error::damaged(format!(
                "blob {} is not in the index (a lost index file or pack; `imagewise repo check` tells more)",
                id.short()
            ))
        })?;
        if !self.open.contains_key(&pack) {
            if self.open.len() >= 32 {
                self.open.clear();
            }
            let f = self
                .backend
                .open(FileKind::Pack, &pack.hex())
                .map_err(|e| {
                    Error::damaged(format!(
                        "pack {} holding blob {}: {e}",
                        pack.short(),
                        id.short()
                    ))
                })?;
            self.open.insert(pack, f);
        }
        let damaged = |why: Malformed| {
            Error::damaged(format!(
                "blob {} in pack {} at offset {}: {why}",
                id.short(),
                pack.short(),
                e.offset
            ))
        };
        let key = (pack, e.offset);
        let plain = match self.frames.iter().position(|f| f.0 == key) {
            Some(i) => {
                // Most recently used last.
                let hit = self.frames.remove(i);
                let plain = hit.1.clone();
                self.frames.push(hit);
                plain
            }
            None => {
                let stored = self.open[&pack].read_at(e.offset, e.len as usize)?;
                let plain = Arc::new(frame_plain(&e, &stored).map_err(damaged)?);
                if is_group(e.comp) {
                    if self.frames.len() >= 16 {
                        self.frames.remove(0);
                    }
                    self.frames.push((key, plain.clone()));
                }
                plain
            }
        };
        blob_from_frame(&e, &plain).map_err(damaged)
    }

    pub fn tree(&mut self, id: &Id) -> Result<Tree> {
        let b = self.read(id)?;
        Tree::decode(&b).map_err(|why| Error::damaged(format!("tree {}: {why}", id.short())))
    }
}
