//! The merged, read-only tree: building it from the entries of one or more layers (OCI whiteout
//! and overlay rules, image-spec `layer.md`), and reading it afterwards.

use std::collections::{btree_map, BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::PathBuf;

use crate::entry::{Entry, EntryKind, Stamp};
use crate::error::{Error, Result};
use crate::info::ImageInfo;
use crate::limits::Limits;
use crate::path::{self, MAX_PATH};

/// Where an entry's bytes live; private to the crate, interpreted by the backend.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    None,
    /// A file of a rootfs directory on the host, at the root joined with the entry's path, with
    /// what `lstat` said of it during the walk.
    Host(Box<Stamp>),
    /// The same, for a name that is not UTF-8 (the entry shows it lossily, so keep the real one).
    HostPath(PathBuf, Box<Stamp>),
    /// A tar member: the layer, the member's header offset and its data offset in the
    /// decompressed layer stream.
    Tar {
        layer: u32,
        header_pos: u64,
        data_pos: u64,
        sparse: Sparse,
    },
    /// An inode of the ext4 filesystem.
    Ext4 {
        inode: u32,
    },
    /// An inode of the XFS filesystem.
    Xfs {
        inode: u64,
    },
    /// A file of a Btrfs filesystem, by its walk id (subvolume slot and inode).
    Btrfs {
        id: u64,
    },
    /// An inode of a squashfs, by its inode reference.
    Squashfs {
        inode: u64,
    },
    /// A file of an ISO 9660 image, by its index in the reader.
    Iso {
        file: u32,
    },
    /// A file of a provided tree, by the provider's key.
    Provided(u64),
}

/// How a tar member's data maps onto the file.
#[derive(Debug, Clone)]
pub(crate) enum Sparse {
    /// Contiguous data.
    No,
    /// Sparse (old GNU or PAX): segments of `data_pos..` placed at these offsets.
    Map(crate::sparse::SparseMap),
}

/// One entry as a format reader reports it, before merging.
pub(crate) struct RawEntry {
    /// Untrusted name as stored (normalised here).
    pub name: String,
    pub entry: Entry,
    pub content: Content,
    /// Identity of the underlying file, shared by all its hardlinked names (inode, tar member).
    pub identity: Option<(u64, u64)>,
    /// The identity is known to be shared by several names (a link count above 1).
    pub linked: bool,
}

struct Node {
    entry: Entry,
    content: Content,
    identity: Option<(u64, u64)>,
}

/// Builds an [`ImageTree`] from raw entries, layer by layer.
pub(crate) struct TreeBuilder {
    /// Boxed: under sorted inserts the B-tree's nodes end up about half full, and a half-empty
    /// slot of a pointer wastes far less than one of a 200-byte node.
    map: BTreeMap<String, Box<Node>>,
    warnings: Vec<String>,
    layer: Option<usize>,
    layered: bool,
    seen: u64,
    limits: Limits,
    /// The last parent resolved: (lexical, resolved, generation it was resolved in).
    last_parent: Option<(String, String, u64)>,
    /// Bumped whenever an entry is removed, which may invalidate `last_parent`.
    generation: u64,
    /// Identities shared by more than one name (hardlinks), the only ones worth grouping.
    linked: HashSet<(u64, u64)>,
    /// Per layer: entries and file bytes that later layers deleted or replaced (its waste).
    hidden: Vec<(u64, u64)>,
    /// Archive member names should be relative; walkers of a filesystem pass absolute paths.
    warn_absolute: bool,
    /// Entries come from walking a real filesystem, parents first: a parent is always an
    /// existing directory, never a symlink, so it needs no resolution.
    walked: bool,
}

impl TreeBuilder {
    pub fn new(layered: bool, limits: Limits) -> TreeBuilder {
        let mut map = BTreeMap::new();
        map.insert(
            "/".to_string(),
            Box::new(Node {
                entry: implicit_dir(None),
                content: Content::None,
                identity: None,
            }),
        );
        TreeBuilder {
            map,
            warnings: Vec::new(),
            layer: None,
            layered,
            seen: 0,
            limits,
            last_parent: None,
            generation: 0,
            linked: HashSet::new(),
            hidden: Vec::new(),
            warn_absolute: layered,
            walked: false,
        }
    }

    /// For sources that walk a filesystem (a directory, ext4): parents come before children
    /// and are real directories, so no symlink resolution is needed to place an entry.
    pub fn walked(mut self) -> Self {
        self.walked = true;
        self
    }

    /// Warn about absolute member names (archives), not about walked paths (dir, ext4).
    pub fn archive_names(mut self) -> Self {
        self.warn_absolute = true;
        self
    }

    pub fn warn(&mut self, w: String) {
        tracing::debug!("{w}");
        self.warnings.push(w);
    }

    /// Start a new layer: whiteouts from now on hide only what earlier layers put in.
    pub fn begin_layer(&mut self, index: usize) {
        self.layer = Some(index);
        self.last_parent = None;
    }

    pub fn add(&mut self, raw: RawEntry) -> Result<()> {
        self.seen += 1;
        if self.seen > self.limits.max_entries {
            return Err(Error::LimitExceeded {
                what: "image".into(),
                detail: "too many entries".into(),
                limit: self.limits.max_entries,
                knob: "--max-entries (IMAGEWISE_MAX_ENTRIES)",
            });
        }
        if raw.name.len() > MAX_PATH {
            return Err(Error::unsafe_input(
                format!("entry {}…", raw.name.chars().take(64).collect::<String>()),
                format!("name is {} bytes long (at most {MAX_PATH})", raw.name.len()),
            ));
        }
        let norm = path::normalize(&raw.name);
        if norm.clamped {
            self.warn(format!(
                "entry {:?} points above the image root; shown as {} (clamped to the root, as container runtimes do)",
                raw.name, norm.path
            ));
        } else if norm.absolute && self.warn_absolute {
            self.warn(format!(
                "entry {:?} has an absolute name; shown relative to the image root",
                raw.name
            ));
        }
        let RawEntry {
            entry: mut e,
            mut content,
            mut identity,
            linked: raw_linked,
            ..
        } = raw;
        e.layer = self.layer;
        let Some((parent, name)) = path::split(&norm.path) else {
            // The root itself: keep its metadata if it is a directory.
            if e.kind == EntryKind::Dir {
                if let Some(root) = self.map.get_mut("/") {
                    root.entry = e;
                }
            } else {
                self.warn(format!(
                    "entry {:?} replaces the image root with a {}; ignored",
                    raw.name,
                    e.kind.as_str()
                ));
            }
            return Ok(());
        };
        let parent = if self.walked {
            match self.map.get(parent) {
                Some(n) if n.entry.kind == EntryKind::Dir => parent.to_string(),
                _ => {
                    return Err(Error::corrupt(
                        format!("entry {}", norm.path),
                        format!("its directory {parent} was not seen before it"),
                    ))
                }
            }
        } else {
            self.ensure_parent(parent, &norm.path)?
        };
        if self.layered {
            if let Some(hidden) = name.strip_prefix(".wh.") {
                if hidden == ".wh..opq" {
                    self.remove_lower(&parent, false);
                } else if !hidden.is_empty() {
                    self.remove_lower(&path::join(&parent, hidden), true);
                }
                return Ok(());
            }
        }
        let full = path::join(&parent, name);
        if e.kind == EntryKind::Hardlink {
            let target_raw = e.link.take().unwrap_or_default();
            let target_norm = path::normalize(&target_raw).path;
            let target = self.resolve(&target_norm, false)?;
            let Some(t) = self.map.get(&target) else {
                return Err(Error::corrupt(
                    format!("entry {full}"),
                    format!(
                        "hardlink to {target_raw:?}, which is not an earlier entry of the image"
                    ),
                ));
            };
            if t.entry.kind == EntryKind::Dir {
                return Err(Error::unsafe_input(
                    format!("entry {full}"),
                    format!("hardlink to directory {target}"),
                ));
            }
            // A hardlink is another name for the same inode: everything but the name is the
            // target's, whatever the link's own header says (as extraction by link(2) gives).
            let layer = e.layer;
            e = t.entry.clone();
            e.layer = layer;
            content = t.content.clone();
            identity = t.identity;
            if let Some(id) = identity {
                self.linked.insert(id);
            }
        }
        if raw_linked {
            if let Some(id) = identity {
                self.linked.insert(id);
            }
        }
        let node = Box::new(Node {
            entry: e,
            content,
            identity,
        });
        let replaced_dir = match self.map.entry(full) {
            btree_map::Entry::Vacant(v) => {
                v.insert(node);
                return Ok(());
            }
            btree_map::Entry::Occupied(mut o) => {
                let was_dir = o.get().entry.kind == EntryKind::Dir;
                if was_dir && node.entry.kind == EntryKind::Dir {
                    o.get_mut().entry = node.entry;
                    return Ok(());
                }
                let old = o.insert(node);
                let dir = was_dir.then(|| o.key().clone());
                self.account_hidden(&old);
                dir
            }
        };
        if let Some(dir) = replaced_dir {
            // A non-directory hides the whole lower directory.
            self.remove_subtree(&dir, None);
        }
        Ok(())
    }

    fn resolve(&self, p: &str, follow_last: bool) -> Result<String> {
        path::resolve(p, follow_last, |q| {
            self.map
                .get(q)
                .map(|n| (n.entry.kind, n.entry.link.as_deref()))
        })
    }

    /// The resolved directory an entry named under `parent` goes into, creating missing parents
    /// as tar and container runtimes do. A parent that is a symlink is followed inside the image.
    fn ensure_parent(&mut self, parent: &str, entry: &str) -> Result<String> {
        if let Some((lex, resolved, generation)) = &self.last_parent {
            if *generation == self.generation && lex == parent {
                return Ok(resolved.clone());
            }
        }
        let resolved = self.resolve(parent, true)?;
        let mut prefix = String::new();
        for comp in resolved.split('/').filter(|c| !c.is_empty()) {
            prefix.push('/');
            prefix.push_str(comp);
            match self.map.get(&prefix) {
                Some(n) if n.entry.kind == EntryKind::Dir => {}
                Some(n) => {
                    return Err(Error::corrupt(
                        format!("entry {entry}"),
                        format!(
                            "its parent {prefix} is a {}, not a directory",
                            n.entry.kind.as_str()
                        ),
                    ))
                }
                None => {
                    self.map.insert(
                        prefix.clone(),
                        Box::new(Node {
                            entry: implicit_dir(self.layer),
                            content: Content::None,
                            identity: None,
                        }),
                    );
                }
            }
        }
        if resolved != parent {
            self.warn(format!(
                "entry {entry} lies under a symlink: its parent {parent} resolves to {resolved} inside the image, where it is shown"
            ));
        }
        self.last_parent = Some((parent.to_string(), resolved.clone(), self.generation));
        Ok(resolved)
    }

    /// Remove what earlier layers put at `path` (with its subtree when `itself`) or, for an
    /// opaque directory, under it.
    fn remove_lower(&mut self, path: &str, itself: bool) {
        let Some(current) = self.layer else { return };
        if itself
            && self
                .map
                .get(path)
                .is_some_and(|n| n.entry.layer.is_some_and(|l| l < current))
        {
            if let Some(n) = self.map.remove(path) {
                self.account_hidden(&n);
            }
            self.generation += 1;
        }
        self.remove_subtree(path, Some(current));
    }

    /// Count a node that a later layer deletes or replaces against the layer it came from. File
    /// bytes count only where the layer stored them (not for a hardlink to a lower layer).
    fn account_hidden(&mut self, node: &Node) {
        let Some(layer) = node.entry.layer else {
            return;
        };
        if self.hidden.len() <= layer {
            self.hidden.resize(layer + 1, (0, 0));
        }
        let stored_here =
            matches!(node.content, Content::Tar { layer: l, .. } if l as usize == layer);
        let h = &mut self.hidden[layer];
        h.0 += 1;
        if node.entry.kind == EntryKind::File && stored_here {
            h.1 += node.entry.size;
        }
    }

    /// Remove everything strictly under `dir`, or only entries from layers below `below`.
    fn remove_subtree(&mut self, dir: &str, below: Option<usize>) {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        let doomed: Vec<String> = self
            .map
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, n)| match below {
                None => true,
                Some(l) => n.entry.layer.is_none_or(|el| el < l),
            })
            .map(|(k, _)| k.clone())
            .collect();
        self.generation += 1;
        for k in doomed {
            if k != "/" {
                if let Some(n) = self.map.remove(&k) {
                    self.account_hidden(&n);
                }
            }
        }
    }

    pub fn finish(self, mut info: ImageInfo, backend: Backend) -> ImageTree {
        for (layer, &(entries, bytes)) in self.hidden.iter().enumerate() {
            if let Some(l) = info.layers.get_mut(layer) {
                l.hidden_entries = entries;
                l.hidden_bytes = bytes;
            }
        }
        let mut entries = Vec::with_capacity(self.map.len());
        let mut contents = Vec::with_capacity(self.map.len());
        let mut groups: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
        for (path, node) in self.map {
            let mut e = node.entry;
            e.path = path;
            if let Some(id) = node.identity.filter(|id| self.linked.contains(id)) {
                if e.kind != EntryKind::Dir {
                    groups.entry(id).or_default().push(entries.len());
                }
            }
            entries.push(e);
            contents.push(node.content);
        }
        // Every name of a hardlinked file but the first in path order becomes a `Hardlink` to
        // it, so all formats agree whatever order they listed the names in.
        for idx in groups.into_values().filter(|g| g.len() > 1) {
            let primary = entries[idx[0]].path.clone();
            for &i in &idx[1..] {
                entries[i].kind = EntryKind::Hardlink;
                entries[i].link = Some(primary.clone());
            }
        }
        ImageTree {
            entries,
            contents,
            backend,
            info,
            warnings: self.warnings,
        }
    }
}

fn implicit_dir(layer: Option<usize>) -> Entry {
    Entry {
        path: String::new(),
        kind: EntryKind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: 0,
        mtime_nsec: 0,
        link: None,
        device: None,
        xattrs: BTreeMap::new(),
        layer,
    }
}

/// How to get bytes for [`Content`].
pub(crate) enum Backend {
    /// A rootfs directory on the host.
    Dir(PathBuf),
    Layers(crate::layers::Layers),
    Ext4(crate::disk::ext4::Ext4),
    Xfs(crate::disk::xfs::Xfs),
    Btrfs(crate::disk::btrfs::Btrfs),
    Squashfs(crate::disk::squashfs::Squashfs),
    Iso(crate::disk::iso::Iso),
    /// Another crate's store of files (a snapshot).
    Provided(std::sync::Arc<dyn crate::provided::TreeProvider>),
}

/// What lies at a file reader's position, as far as the image records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ahead {
    /// The format records no holes here: read on (runs of zeros may still come).
    Unknown,
    /// This many bytes of data, then a recorded hole or the end.
    Data(u64),
    /// A recorded hole of this many zero bytes: [`FileRead::skip_hole`] passes it unread.
    Hole(u64),
    /// Nothing left.
    End,
}

/// A file's bytes, with the holes its image records: GNU tar sparse maps, and the holes of a
/// sparse host file (`SEEK_HOLE`). A consumer that stores or hashes content can pass a hole
/// without producing its zeros; plain [`Read`] still yields them, so every reader is a correct
/// byte stream whether or not the consumer asks.
pub trait FileRead: Read {
    /// What comes next from the current position.
    fn ahead(&mut self) -> Ahead {
        Ahead::Unknown
    }

    /// Move past the recorded hole at the current position without producing it; returns its
    /// length (0 where [`FileRead::ahead`] is not a hole).
    fn skip_hole(&mut self) -> std::io::Result<u64> {
        Ok(0)
    }

    /// Random access, where the format gives it (directories, disks, uncompressed files):
    /// readers of formats that keep their index at the end (ELF section headers, ZIP) use it to
    /// read a few pieces instead of the whole file.
    fn seekable(&mut self) -> Option<&mut dyn ReadSeek> {
        None
    }
}

impl<R: Read> FileRead for std::io::Take<R> {}
impl FileRead for std::io::Empty {}
impl<T: AsRef<[u8]> + Send> FileRead for std::io::Cursor<T> {
    fn seekable(&mut self) -> Option<&mut dyn ReadSeek> {
        Some(self)
    }
}
impl<R: FileRead + ?Sized> FileRead for Box<R> {
    fn ahead(&mut self) -> Ahead {
        (**self).ahead()
    }
    fn skip_hole(&mut self) -> std::io::Result<u64> {
        (**self).skip_hole()
    }
}
impl<R: FileRead + ?Sized> FileRead for &mut R {
    fn ahead(&mut self) -> Ahead {
        (**self).ahead()
    }
    fn skip_hole(&mut self) -> std::io::Result<u64> {
        (**self).skip_hole()
    }
}

/// A file's bytes. Seekable for directories, uncompressed tar layers and disks; a forward-only
/// stream for compressed layers.
pub struct FileReader {
    inner: ReaderKind,
}

/// `Read + Seek`, as handed out by [`FileReader::as_seek`].
pub trait ReadSeek: Read + std::io::Seek + Send {}
impl<T: Read + std::io::Seek + Send> ReadSeek for T {}

/// A seekable reader that knows its holes.
pub(crate) trait SeekFile: ReadSeek + FileRead {}
impl<T: FileRead + std::io::Seek + Send> SeekFile for T {}

enum ReaderKind {
    Seek(Box<dyn SeekFile>),
    Stream(Box<dyn FileRead + Send>),
}

impl FileReader {
    pub(crate) fn seekable(r: impl FileRead + std::io::Seek + Send + 'static) -> FileReader {
        FileReader {
            inner: ReaderKind::Seek(Box::new(r)),
        }
    }

    pub(crate) fn stream(r: impl FileRead + Send + 'static) -> FileReader {
        FileReader {
            inner: ReaderKind::Stream(Box::new(r)),
        }
    }

    /// Seek access, where the format allows it.
    pub fn as_seek(&mut self) -> Option<&mut dyn ReadSeek> {
        match &mut self.inner {
            ReaderKind::Seek(r) => Some(r.as_mut()),
            ReaderKind::Stream(_) => None,
        }
    }
}

impl std::fmt::Debug for FileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.inner {
            ReaderKind::Seek(_) => "FileReader(seekable)",
            ReaderKind::Stream(_) => "FileReader(stream)",
        })
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.inner {
            ReaderKind::Seek(r) => r.read(buf),
            ReaderKind::Stream(r) => r.read(buf),
        }
    }
}

impl FileRead for FileReader {
    fn ahead(&mut self) -> Ahead {
        match &mut self.inner {
            ReaderKind::Seek(r) => r.ahead(),
            ReaderKind::Stream(r) => r.ahead(),
        }
    }

    fn skip_hole(&mut self) -> std::io::Result<u64> {
        match &mut self.inner {
            ReaderKind::Seek(r) => r.skip_hole(),
            ReaderKind::Stream(r) => r.skip_hole(),
        }
    }

    fn seekable(&mut self) -> Option<&mut dyn ReadSeek> {
        self.as_seek()
    }
}

/// A read-only, merged view of one image's root filesystem.
pub struct ImageTree {
    entries: Vec<Entry>,
    contents: Vec<Content>,
    backend: Backend,
    info: ImageInfo,
    warnings: Vec<String>,
}

impl std::fmt::Debug for ImageTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageTree")
            .field("info", &self.info)
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl ImageTree {
    /// All entries, sorted by path (byte order), the root `/` first.
    /// What identifies this content: the manifest digest where the image has one, else
    /// `tree:sha256:` of every entry's path, type, mode, owner, size, mtime, device, link
    /// target and xattrs (a digest of the listing, not of the file bytes: cheap, and equal for
    /// the same tree in any wrapping that keeps that metadata).
    pub fn content_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        if let Some(d) = &self.info().manifest_digest {
            return d.clone();
        }
        let mut h = Sha256::new();
        for e in self.entries() {
            h.update(e.path.as_bytes());
            h.update([0]);
            h.update(format!(
                "{:?} {:o} {} {} {} {}.{:09} {:?}",
                e.kind, e.mode, e.uid, e.gid, e.size, e.mtime, e.mtime_nsec, e.device
            ));
            h.update([0]);
            if let Some(l) = &e.link {
                h.update(l.as_bytes());
            }
            h.update([0]);
            for (k, v) in &e.xattrs {
                h.update(k.as_bytes());
                h.update([0]);
                h.update((v.len() as u64).to_le_bytes());
                h.update(v);
            }
            h.update([0xff]);
        }
        format!("tree:sha256:{}", hex::encode(h.finalize()))
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// What was opened: format, layers, configuration, partition.
    pub fn info(&self) -> &ImageInfo {
        &self.info
    }

    /// Oddities met while opening that did not stop it (clamped names, names under symlinks).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn index(&self, path: &str) -> Option<usize> {
        self.entries
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
    }

    /// The entry at `path` itself (a symlink is not followed), like `lstat`.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        let p = path::normalize(path).path;
        self.index(&p).map(|i| &self.entries[i])
    }

    /// Resolve `path` inside the image, following symlinks (clamped at the image root).
    pub fn resolve(&self, path: &str, follow_last: bool) -> Result<&Entry> {
        let p = path::normalize(path).path;
        let resolved = path::resolve(&p, follow_last, |q| {
            self.index(q)
                .map(|i| (self.entries[i].kind, self.entries[i].link.as_deref()))
        })?;
        self.index(&resolved)
            .map(|i| &self.entries[i])
            .ok_or_else(|| Error::path(path, "no such file or directory in the image"))
    }

    /// The entry and its descendants, in path order.
    ///
    /// Descendants are not always right after the directory in byte order: `/etc/systemd/system`
    /// is followed by `/etc/systemd/system.conf` before `/etc/systemd/system/…`, because `.`
    /// sorts before `/`. All names under `dir/` are contiguous, so they are found from there.
    pub fn subtree<'a>(&'a self, dir: &'a Entry) -> impl Iterator<Item = &'a Entry> + 'a {
        let itself = self.index(&dir.path).map(|i| &self.entries[i]);
        let prefix = if dir.path == "/" {
            "/".to_string()
        } else {
            format!("{}/", dir.path)
        };
        let start = if dir.is_dir() {
            self.entries
                .partition_point(|e| e.path.as_str() < prefix.as_str())
        } else {
            self.entries.len()
        };
        let start = if dir.path == "/" { start.max(1) } else { start };
        itself.into_iter().chain(
            self.entries[start..]
                .iter()
                .take_while(move |e| e.path.starts_with(&prefix)),
        )
    }

    /// Open a file for reading, following symlinks inside the image.
    pub fn open(&self, path: &str) -> Result<FileReader> {
        let e = self.resolve(path, true)?;
        if !matches!(e.kind, EntryKind::File | EntryKind::Hardlink) {
            return Err(Error::path(
                path,
                format!("is a {}, not a regular file", e.kind.as_str()),
            ));
        }
        let i = self.index(&e.path).unwrap_or_default();
        self.open_content(e, &self.contents[i])
    }

    /// What identifies the bytes of the regular file at `path` besides its path, size and mtime
    /// (no symlinks followed): for a directory's file what the walk's `lstat` said; for a layer
    /// member the layer's digest, or for an archive without one the archive file's own stamp.
    pub fn stamp(&self, path: &str) -> Stamp {
        match self.index(path) {
            Some(i) => self.stamp_at(i),
            None => Stamp::None,
        }
    }

    /// Where the entry at `path` is in [`ImageTree::entries`] (no symlinks followed).
    pub fn position(&self, path: &str) -> Option<usize> {
        self.index(path)
    }

    /// [`ImageTree::stamp`] of the `i`th entry of [`ImageTree::entries`], without looking its path
    /// up; `Stamp::None` past the end.
    pub fn stamp_at(&self, i: usize) -> Stamp {
        let Some(c) = self.contents.get(i) else {
            return Stamp::None;
        };
        match (&self.backend, c) {
            (Backend::Dir(_), Content::Host(s) | Content::HostPath(_, s)) => (**s).clone(),
            (Backend::Layers(l), Content::Tar { layer, .. }) => l.stamp(*layer as usize),
            _ => Stamp::None,
        }
    }

    /// Read a whole file into memory (following symlinks), refusing files over `max` bytes.
    pub fn read(&self, path: &str, max: u64) -> Result<Vec<u8>> {
        let e = self.resolve(path, true)?;
        if e.size > max {
            return Err(Error::path(
                path,
                format!("is {} bytes, more than the {max} asked for", e.size),
            ));
        }
        let mut buf = Vec::with_capacity(e.size as usize);
        self.open(path)?
            .take(max)
            .read_to_end(&mut buf)
            .map_err(|err| {
                Error::from_stream(&format!("reading {path}"), &self.info.location, err)
            })?;
        Ok(buf)
    }

    fn open_content(&self, e: &Entry, c: &Content) -> Result<FileReader> {
        match (&self.backend, c) {
            (Backend::Dir(root), Content::Host(_)) => {
                // A hardlink's bytes are its primary name's.
                let name = match (e.kind, &e.link) {
                    (EntryKind::Hardlink, Some(primary)) => primary,
                    _ => &e.path,
                };
                crate::dir::open_file(&root.join(name.trim_start_matches('/')), e)
            }
            (Backend::Dir(_), Content::HostPath(p, _)) => crate::dir::open_file(p, e),
            (Backend::Layers(l), Content::Tar { .. }) => l.open(c, e),
            (Backend::Ext4(fs), Content::Ext4 { inode }) => fs.open_file(*inode, e.size),
            (Backend::Xfs(fs), Content::Xfs { inode }) => fs.open_file(*inode, e.size),
            (Backend::Btrfs(fs), Content::Btrfs { id }) => fs.open_file(*id, e.size),
            (Backend::Squashfs(fs), Content::Squashfs { inode }) => fs.open_file(*inode, e.size),
            (Backend::Iso(fs), Content::Iso { file }) => fs.open_file(*file, e.size),
            (Backend::Provided(p), Content::Provided(key)) => {
                Ok(FileReader::stream(p.open(*key, e)?))
            }
            _ => Err(Error::path(&e.path, "has no readable content")),
        }
    }

    /// Call `f` with the bytes of every regular file that `want` selects (hardlinks are not
    /// repeated: one call per file, for its first name). Compressed layers are streamed once
    /// each, so this is the way to read many files.
    pub fn for_each_file(
        &self,
        mut want: impl FnMut(&Entry) -> bool,
        mut f: impl FnMut(&Entry, &mut dyn FileRead) -> Result<()>,
    ) -> Result<()> {
        let picked: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.entries[i].kind == EntryKind::File && want(&self.entries[i]))
            .collect();
        match &self.backend {
            Backend::Layers(l) => l.for_each(&self.entries, &self.contents, &picked, &mut f),
            _ => {
                for i in picked {
                    let e = &self.entries[i];
                    let mut r = self.open_content(e, &self.contents[i])?;
                    f(e, &mut r)?;
                }
                Ok(())
            }
        }
    }
}

impl ImageTree {
    /// A tree from entries already merged and sorted (checked by the caller).
    pub(crate) fn from_parts(
        entries: Vec<Entry>,
        contents: Vec<Content>,
        backend: Backend,
        info: ImageInfo,
        warnings: Vec<String>,
    ) -> ImageTree {
        ImageTree {
            entries,
            contents,
            backend,
            info,
            warnings,
        }
    }

    /// Forget layer indexes (a plain tarball is not a layered image).
    pub(crate) fn clear_layers(&mut self) {
        for e in &mut self.entries {
            e.layer = None;
        }
    }
}
