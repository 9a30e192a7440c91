//! Stored snapshots read as images: `snapshot:REPO[@SNAP]` opens a tree snapshot as an
//! [`ImageTree`] of the source crate, so every command that takes an image (`ls`, `cat`,
//! `inspect`, `sbom`, `scan`, `check`) reads a stored snapshot in place. Nothing is restored to
//! disk: entries come from the snapshot's tree blobs, file bytes from its chunks, each chunk
//! verified against its id as it is read. A damaged chunk fails the read of the files that use
//! it, naming the file, the blob and the pack; the rest of the tree still reads. The tree holds
//! a shared lock on the repository for as long as it lives, as `restore` does.

use std::io::Read;
use std::sync::{Arc, Mutex};

use imagewise_source::{
    Ahead, Entry, EntryKind, ErrorKind, Format, HasKind, ImageInfo, ImageTree, OpenOptions,
    ProvidedError, SnapshotOpener, TreeProvider,
};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::index::Index;
use crate::keys::PublicKey;
use crate::lock::{self, Lock};
use crate::repo::{BlobReader, IndexRef, Repo};
use crate::snapshot::{verify_signature, SnapshotKind};
use crate::tree::{join, too_deep, Extent, Node, NodeKind};

/// Opens `snapshot:` references for the source crate: hand one to
/// [`OpenOptions::snapshots`](imagewise_source::OpenOptions). Signatures are checked as
/// `restore` checks them.
#[derive(Debug, Clone, Default)]
pub struct SnapshotSource {
    /// Accept snapshots that are unsigned or signed by another key in a repository that signs.
    pub allow_unsigned: bool,
    /// Verify signatures with this key instead of the repository's.
    pub trust_key: Option<PublicKey>,
}

impl SnapshotOpener for SnapshotSource {
    fn open(
        &self,
        reference: &str,
        repo: &str,
        snapshot: Option<&str>,
        opts: &OpenOptions,
    ) -> imagewise_source::Result<ImageTree> {
        let opened = Repo::open_location(repo).and_then(|r| {
            r.image_tree(
                reference,
                snapshot.unwrap_or("latest"),
                self.trust_key.as_ref(),
                self.allow_unsigned,
                opts,
            )
        });
        opened.map_err(|e| match e {
            Error::Source(inner) => inner,
            other => imagewise_source::Error::External {
                what: reference.to_string(),
                kind: other.kind(),
                detail: other.to_string(),
            },
        })
    }
}

impl Repo {
    /// Tree snapshot `spec` (an id, a unique id prefix, a tag or `latest`) as an image tree,
    /// after its signature checks out as `trust`/`allow_unsigned` ask. `opts.limits.max_entries`
    /// bounds the number of entries, as for every other image.
    pub fn image_tree(
        &self,
        reference: &str,
        spec: &str,
        trust: Option<&PublicKey>,
        allow_unsigned: bool,
        opts: &OpenOptions,
    ) -> Result<ImageTree> {
        // Held as long as the tree is: a prune cannot remove what it reads.
        let lock = lock::read_lock(&self.backend, "reading a snapshot")?;
        let snap = self.find(spec)?;
        let signed = verify_signature(self, &snap, trust, allow_unsigned)?;
        if snap.snapshot.kind == SnapshotKind::Raw {
            return Err(Error::Unsupported(format!(
                "snapshot {} holds the bytes of a disk image (stored with --raw), not a tree; restore it to a file and open that as disk:FILE, or store the image without --raw",
                snap.id.short()
            )));
        }
        let root_tree = snap.snapshot.root.subtree.ok_or_else(|| {
            Error::damaged(format!("snapshot {} has no root tree", snap.id.short()))
        })?;
        let index = Arc::new(self.load_index()?);
        let mut reader = BlobReader::with(self.backend.clone(), IndexRef::Shared(index.clone()));
        let max = opts.limits.max_entries;
        let mut files: Vec<Vec<Extent>> = Vec::new();
        let mut entries: Vec<(Entry, u64)> = vec![(entry("/", &snap.snapshot.root), 0)];
        let mut stack: Vec<(String, crate::id::Id)> = vec![("/".to_string(), root_tree)];
        while let Some((dir, id)) = stack.pop() {
            if too_deep(&dir) {
                return Err(Error::damaged(format!("{dir}: nested too deep")));
            }
            for mut node in reader.tree(&id)?.nodes {
                let path = join(&dir, &node.name);
                if entries.len() as u64 >= max {
                    return Err(imagewise_source::Error::LimitExceeded {
                        what: reference.to_string(),
                        detail: "the snapshot has more entries than allowed".into(),
                        limit: max,
                        knob: "--max-entries",
                    }
                    .into());
                }
                let key = if node.kind == NodeKind::File {
                    files.push(std::mem::take(&mut node.content));
                    files.len() as u64 - 1
                } else {
                    0
                };
                if let (NodeKind::Dir, Some(sub)) = (node.kind, node.subtree) {
                    stack.push((path.clone(), sub));
                }
                entries.push((entry(&path, &node), key));
            }
        }
        // Trees list names in order per directory; an image lists whole paths in byte order.
        entries.sort_by(|a, b| a.0.path.as_bytes().cmp(b.0.path.as_bytes()));
        // A hardlink reads (and measures) as its first name, found in the sorted entries.
        let links: Vec<(usize, u64, u64)> = entries
            .iter()
            .enumerate()
            .filter(|(_, (e, _))| e.kind == EntryKind::Hardlink)
            .filter_map(|(i, (e, _))| {
                let target = e.link.as_deref()?;
                let j = entries
                    .binary_search_by(|x| x.0.path.as_str().cmp(target))
                    .ok()?;
                let (first, key) = &entries[j];
                (first.kind == EntryKind::File).then_some((i, first.size, *key))
            })
            .collect();
        for (i, size, key) in links {
            entries[i].0.size = size;
            entries[i].1 = key;
        }
        let mut info = ImageInfo::new(
            reference,
            Format::Snapshot,
            std::path::PathBuf::from(self.location()),
        );
        info.tags = snap.snapshot.tags.clone();
        info.signatures.push(imagewise_source::SignatureInfo {
            kind: "imagewise-snapshot".into(),
            reference: snap.id.hex(),
            artifact_type: None,
            layers: Vec::new(),
            problems: Vec::new(),
            verified: Some(signed.as_str().to_string()),
            key: trust
                .or(self.config.public_key.as_ref())
                .map(|k| k.to_string()),
        });
        let provider = Arc::new(StoredFiles(Arc::new(Shared {
            backend: self.backend.clone(),
            index,
            files,
            idle: Mutex::new(vec![reader]),
            snapshot: snap.id.short(),
            _lock: lock,
        })));
        Ok(ImageTree::provided(info, entries, provider, Vec::new())?)
    }
}

/// An image entry from a tree node.
fn entry(path: &str, n: &Node) -> Entry {
    Entry {
        path: path.to_string(),
        kind: n.kind,
        mode: n.mode,
        uid: n.uid,
        gid: n.gid,
        size: n.size,
        mtime: n.mtime,
        mtime_nsec: n.mtime_nsec,
        link: n.link.clone(),
        device: n.device,
        xattrs: n.xattrs.clone(),
        layer: None,
    }
}

/// The bytes behind a snapshot's files.
struct StoredFiles(Arc<Shared>);

/// What every file read shares: the extents of each file, and idle blob readers (each with
/// its open packs and decompressed frames, so neighbouring small files decompress a group once).
struct Shared {
    backend: Arc<dyn Backend>,
    index: Arc<Index>,
    files: Vec<Vec<Extent>>,
    idle: Mutex<Vec<BlobReader<'static>>>,
    snapshot: String,
    _lock: Option<Lock>,
}

impl TreeProvider for StoredFiles {
    fn open(
        &self,
        key: u64,
        entry: &Entry,
    ) -> imagewise_source::Result<Box<dyn imagewise_source::FileRead + Send>> {
        let file = usize::try_from(key)
            .ok()
            .filter(|&k| k < self.0.files.len())
            .ok_or_else(|| {
                imagewise_source::Error::corrupt(
                    &entry.path,
                    "names no stored content (a damaged snapshot)",
                )
            })?;
        Ok(Box::new(StoredFile {
            shared: self.0.clone(),
            reader: None,
            file,
            next: 0,
            hole: 0,
            buf: Vec::new(),
            buf_zeros: false,
            at: 0,
            path: entry.path.clone(),
        }))
    }
}

/// A file's bytes, chunk by chunk, each verified; holes read as zeros.
struct StoredFile {
    shared: Arc<Shared>,
    /// Borrowed from the idle readers on the first chunk, given back on drop.
    reader: Option<BlobReader<'static>>,
    file: usize,
    /// The next extent.
    next: usize,
    /// Zeros still to hand out from the current hole.
    hole: u64,
    buf: Vec<u8>,
    /// `buf` holds zeros of a hole, not a chunk.
    buf_zeros: bool,
    at: usize,
    path: String,
}

/// Zeros are handed out in pieces of this size.
const ZEROS: u64 = 1 << 20;

impl StoredFile {
    /// The next piece into `buf`; false at the end of the file.
    fn fill(&mut self) -> std::io::Result<bool> {
        self.at = 0;
        if self.hole == 0 {
            let Some(Extent(id, len)) = self.shared.files[self.file].get(self.next).copied() else {
                return Ok(false);
            };
            self.next += 1;
            match id {
                None => self.hole = len,
                Some(id) => {
                    let shared = &self.shared;
                    let reader = self.reader.get_or_insert_with(|| {
                        shared
                            .idle
                            .lock()
                            .ok()
                            .and_then(|mut idle| idle.pop())
                            .unwrap_or_else(|| {
                                BlobReader::with(
                                    shared.backend.clone(),
                                    IndexRef::Shared(shared.index.clone()),
                                )
                            })
                    });
                    let data = reader.read(&id).map_err(|e| self.damaged(e.to_string()))?;
                    if data.len() as u64 != len {
                        return Err(self.damaged(format!(
                            "chunk {} is {} bytes, the file lists {len}",
                            id.short(),
                            data.len()
                        )));
                    }
                    self.buf = data;
                    self.buf_zeros = false;
                    return Ok(true);
                }
            }
        }
        let n = self.hole.min(ZEROS);
        self.hole -= n;
        self.buf.clear();
        self.buf.resize(n as usize, 0);
        self.buf_zeros = true;
        Ok(true)
    }

    /// Bytes from extent `from` on while each is a hole (`hole`) or data (`!hole`).
    fn run_from(&self, from: usize, hole: bool) -> u64 {
        self.shared.files[self.file][from..]
            .iter()
            .take_while(|e| e.0.is_none() == hole)
            .map(|e| e.1)
            .sum()
    }

    fn damaged(&self, why: String) -> std::io::Error {
        ProvidedError::io(
            ErrorKind::Damaged,
            format!("{} in snapshot {}: {why}", self.path, self.shared.snapshot),
        )
    }
}

impl Read for StoredFile {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.buf.len() {
            if !self.fill()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl imagewise_source::FileRead for StoredFile {
    fn ahead(&mut self) -> Ahead {
        let left = (self.buf.len() - self.at) as u64;
        if left > 0 && !self.buf_zeros {
            return Ahead::Data(left + self.run_from(self.next, false));
        }
        let zeros = if self.buf_zeros { left } else { 0 } + self.hole;
        if zeros > 0 {
            return Ahead::Hole(zeros + self.run_from(self.next, true));
        }
        match self.shared.files[self.file].get(self.next) {
            None => Ahead::End,
            Some(Extent(None, _)) => Ahead::Hole(self.run_from(self.next, true)),
            Some(Extent(Some(_), _)) => Ahead::Data(self.run_from(self.next, false)),
        }
    }

    fn skip_hole(&mut self) -> std::io::Result<u64> {
        let Ahead::Hole(n) = self.ahead() else {
            return Ok(0);
        };
        self.buf.clear();
        self.at = 0;
        self.hole = 0;
        while let Some(Extent(None, _)) = self.shared.files[self.file].get(self.next) {
            self.next += 1;
        }
        Ok(n)
    }
}

impl Drop for StoredFile {
    fn drop(&mut self) {
        if let (Some(r), Ok(mut idle)) = (self.reader.take(), self.shared.idle.lock()) {
            if idle.len() < 8 {
                idle.push(r);
            }
        }
    }
}
