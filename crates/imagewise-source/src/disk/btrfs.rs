//! Btrfs, read-only, from untrusted bytes (the on-disk format of the kernel's
//! `include/uapi/linux/btrfs_tree.h` and `fs/btrfs/accessors.h`): the superblock (the copy at
//! 64 MiB when the first is damaged), the system chunk array and the chunk tree (logical to
//! physical addresses: single, DUP and mirrored profiles; striped ones refused by name), the
//! root tree, and one subvolume's file tree — the default subvolume, one named with
//! `#subvol=PATH`, or, when the default holds no system but one of its subvolumes does (the
//! `root` or `@` layouts of Fedora and openSUSE), that one. Nested subvolumes are walked into as
//! the kernel shows them; a snapshot's placeholder for a subvolume it did not capture is an
//! empty directory, as the kernel shows it.
//!
//! Files: inline, regular and preallocated extents, holes (with or without `NO_HOLES`), zlib,
//! lzo (btrfs' per-sector segment framing) and zstd compression; xattrs (POSIX ACLs are stored
//! in the kernel's standard form already); device numbers in the kernel's encoding. Tree nodes
//! are checked (crc32c or SHA-256 checksum, address, owner fsid, level); every offset and size
//! is bounds-checked, levels strictly descend, and decompressed sizes are capped. Data
//! checksums (the csum tree) are not verified, and an unreplayed log tree (a filesystem not
//! cleanly unmounted) is not replayed: a warning says so. Multi-device filesystems are read
//! when every chunk has a copy on this device.
//!
//! No crate reads Btrfs from bytes (the existing ones are ioctl wrappers for a mounted
//! filesystem), so this module does it.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

use crate::disk::BlockDev;
use crate::entry::{Entry, EntryKind};
use crate::error::{Error, Result};
use crate::tree::{Content, FileReader, RawEntry, TreeBuilder};
use crate::Limits;
use imagewise_types::Progress;

const SUPER_OFFSETS: [u64; 2] = [0x10000, 0x400_0000];
const SUPER_SIZE: usize = 4096;
const HEADER: usize = 0x65;
const ITEM: usize = 25;
const KEY_PTR: usize = 33;
const MAX_LEVEL: u8 = 7;

const INODE_ITEM: u8 = 1;
const INODE_REF: u8 = 12;
const XATTR_ITEM: u8 = 24;
const DIR_ITEM: u8 = 84;
const DIR_INDEX: u8 = 96;
const EXTENT_DATA: u8 = 108;
const ROOT_ITEM: u8 = 132;
const ROOT_BACKREF: u8 = 144;
const ROOT_REF: u8 = 156;
const CHUNK_ITEM: u8 = 228;

const FS_TREE: u64 = 5;
const ROOT_TREE_DIR: u64 = 6;
/// The inode the kernel shows for a snapshot's placeholder of a subvolume.
const EMPTY_SUBVOL_DIR: u64 = 2;

/// Inode numbers are kept in the low 48 bits of a walk id, the subvolume's slot above them.
const INO_BITS: u32 = 48;
const MAX_SLOTS: usize = 1 << 16;
/// A compressed extent decompresses to at most 128 KiB (`BTRFS_MAX_UNCOMPRESSED`); past this
/// is corruption.
const MAX_RAM: u64 = 1 << 20;
/// Tree nodes kept in memory (each one `nodesize`, 16 KiB by default).
const NODE_CACHE: usize = 4096;
const MAX_DIR_ENTRIES: usize = 4 << 20;
const MAX_EXTENTS: usize = 4 << 20;

/// The chunk type bits of striped profiles, which spread one logical range over devices.
const STRIPED: u64 = (1 << 3) | (1 << 6) | (1 << 7) | (1 << 8);

/// The first index in `0..n` where `before` turns false (`before` holds for a prefix).
fn lower_bound(n: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn le64(b: &[u8], o: usize) -> u64 {
    u64::from(le32(b, o)) | (u64::from(le32(b, o + 4)) << 32)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    objectid: u64,
    ty: u8,
    offset: u64,
}

impl Key {
    fn at(b: &[u8], o: usize) -> Key {
        Key {
            objectid: le64(b, o),
            ty: b[o + 8],
            offset: le64(b, o + 9),
        }
    }

    fn new(objectid: u64, ty: u8, offset: u64) -> Key {
        Key {
            objectid,
            ty,
            offset,
        }
    }
}

/// A logical range and where its copy on this device is.
#[derive(Debug, Clone)]
struct Chunk {
    logical: u64,
    len: u64,
    /// The copy on this device, or why there is none to read.
    physical: std::result::Result<u64, String>,
}

/// A tree by its root node.
#[derive(Debug, Clone, Copy)]
struct TreeRoot {
    bytenr: u64,
    level: u8,
}

/// What a walk id's slot names: a subvolume's tree, or a snapshot's placeholder directory.
#[derive(Debug, Clone)]
enum Slot {
    Tree { id: u64, root: TreeRoot, dirid: u64 },
    Placeholder { mtime: i64, mtime_nsec: u32 },
}

pub(crate) struct Btrfs {
    inner: Arc<Inner>,
}

struct Inner {
    dev: Arc<dyn BlockDev>,
    what: String,
    sectorsize: u64,
    nodesize: u64,
    csum_type: u16,
    metadata_fsid: [u8; 16],
    chunks: Vec<Chunk>,
    root_tree: TreeRoot,
    slots: Mutex<Vec<Slot>>,
    cache: Mutex<HashMap<u64, Arc<Vec<u8>>>>,
    /// The walk id of the chosen subvolume's root directory.
    root: u64,
    /// The chosen subvolume's path from the top level (`None` for the top level itself).
    subvolume: Option<String>,
}

/// An inode of the walk: its item and xattrs.
pub(crate) struct Inode {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u32,
    size: u64,
    rdev: u64,
    mtime: i64,
    mtime_nsec: u32,
    xattrs: BTreeMap<String, Vec<u8>>,
}

impl Btrfs {
    /// Open the filesystem; `subvol` names a subvolume by its path from the top level.
    pub fn open(dev: Arc<dyn BlockDev>, what: &str, subvol: Option<&str>) -> Result<Btrfs> {
        let what = format!("Btrfs filesystem on {what}");
        let (sb, at) = read_super(dev.as_ref(), &what)?;
        if at != SUPER_OFFSETS[0] {
            tracing::warn!(
                "{what}: the first superblock is damaged; reading the copy at {} MiB",
                at >> 20
            );
        }
        let corrupt = |d: String| Error::corrupt(&what, d);
        let sectorsize = u64::from(le32(&sb, 0x90));
        let nodesize = u64::from(le32(&sb, 0x94));
        if !sectorsize.is_power_of_two() || !(512..=65536).contains(&sectorsize) {
            return Err(corrupt(format!("sector size {sectorsize}")));
        }
        if !nodesize.is_power_of_two()
            || !(4096..=65536).contains(&nodesize)
            || nodesize < sectorsize
        {
            return Err(corrupt(format!("node size {nodesize}")));
        }
        let incompat = le64(&sb, 0xbc);
        for (bit, name) in [
            (1u64 << 13, "extent-tree-v2"),
            (1 << 14, "raid-stripe-tree"),
            (1 << 12, "zoned"),
        ] {
            if incompat & bit != 0 {
                return Err(Error::unsupported(
                    &what,
                    format!("it uses the {name} format, which imagewise does not read"),
                ));
            }
        }
        let mut metadata_fsid = [0u8; 16];
        let fsid_at = if incompat & (1 << 10) != 0 {
            0x23b
        } else {
            0x20
        };
        metadata_fsid.copy_from_slice(&sb[fsid_at..fsid_at + 16]);
        let devid = le64(&sb, 0xc9);
        if le64(&sb, 0x60) != 0 {
            tracing::warn!(
                "{what}: the filesystem was not cleanly unmounted and its log tree is not replayed: the last fsync'd changes may be missing"
            );
        }
        let mut inner = Inner {
            dev,
            what: what.clone(),
            sectorsize,
            nodesize,
            csum_type: le16(&sb, 0xc4),
            metadata_fsid,
            chunks: Vec::new(),
            root_tree: TreeRoot {
                bytenr: le64(&sb, 0x50),
                level: sb[0xc6],
            },
            slots: Mutex::new(Vec::new()),
            cache: Mutex::new(HashMap::new()),
            root: 0,
            subvolume: None,
        };
        // The system chunk array maps the chunk tree, which maps everything else.
        let sys_len = le32(&sb, 0xa0) as usize;
        if sys_len > 2048 {
            return Err(corrupt(format!("system chunk array of {sys_len} bytes")));
        }
        let sys = &sb[0x32b..0x32b + sys_len];
        let mut o = 0;
        while o < sys.len() {
            if o + 17 > sys.len() {
                return Err(corrupt("system chunk array ends inside a key".into()));
            }
            let key = Key::at(sys, o);
            if key.ty != CHUNK_ITEM {
                return Err(corrupt(format!(
                    "system chunk array holds an item of type {}",
                    key.ty
                )));
            }
            let (chunk, used) = parse_chunk(&sys[o + 17..], key.offset, devid)
                .ok_or_else(|| corrupt("system chunk array ends inside a chunk".into()))?;
            inner.add_chunk(chunk)?;
            o += 17 + used;
        }
        let chunk_root = TreeRoot {
            bytenr: le64(&sb, 0x58),
            level: sb[0xc7],
        };
        let mut found = Vec::new();
        inner.scan(
            chunk_root,
            Key::new(256, CHUNK_ITEM, 0),
            Key::new(256, CHUNK_ITEM, u64::MAX),
            &mut |key, data| {
                let (chunk, _) = parse_chunk(data, key.offset, devid).ok_or_else(|| {
                    Error::corrupt(&what, format!("chunk item at {} is short", key.offset))
                })?;
                found.push(chunk);
                Ok(true)
            },
        )?;
        for chunk in found {
            if !inner.chunks.iter().any(|c| c.logical == chunk.logical) {
                inner.add_chunk(chunk)?;
            }
        }
        // The default subvolume: the root tree's `default` entry, else the top level.
        let mut default = FS_TREE;
        inner.scan(
            inner.root_tree,
            Key::new(ROOT_TREE_DIR, DIR_ITEM, 0),
            Key::new(ROOT_TREE_DIR, DIR_ITEM, u64::MAX),
            &mut |_, data| {
                for (name, loc, _) in dir_items(data) {
                    if name == b"default" {
                        default = loc.objectid;
                    }
                }
                Ok(true)
            },
        )?;
        let (root, subvolume) = match subvol {
            Some(path) => {
                let id = inner.resolve_subvolume(path)?;
                let path = path.trim_matches('/');
                (id, (!path.is_empty()).then(|| path.to_string()))
            }
            None => {
                let slot = inner.tree_slot(default)?;
                let mut root = inner.slot_root(slot)?;
                let mut name = (default != FS_TREE).then(|| inner.subvolume_path(default));
                let has_os = |i: &Inner, root| {
                    crate::disk::exists(i, root, "/etc/os-release")
                        || crate::disk::exists(i, root, "/usr/lib/os-release")
                };
                if !has_os(&inner, root) {
                    // A system kept in a subvolume below the default (`root`, `@`).
                    for (child, child_name) in inner.child_subvolumes(default)? {
                        let slot = inner.tree_slot(child)?;
                        let r = inner.slot_root(slot)?;
                        if has_os(&inner, r) {
                            root = r;
                            name = Some(match name {
                                Some(parent) => format!("{parent}/{child_name}"),
                                None => child_name,
                            });
                            break;
                        }
                    }
                }
                (root, name.map(|n: String| n.trim_matches('/').to_string()))
            }
        };
        inner.root = root;
        inner.subvolume = subvolume;
        Ok(Btrfs {
            inner: Arc::new(inner),
        })
    }

    /// The chosen subvolume's path from the top level, when it is not the top level.
    pub fn subvolume(&self) -> Option<&str> {
        self.inner.subvolume.as_deref()
    }

    /// Whether `path` (absolute, no symlinks followed) exists.
    pub fn exists(&self, path: &str) -> bool {
        crate::disk::exists(self.inner.as_ref(), self.inner.root, path)
    }

    /// Walk the whole filesystem into a tree builder.
    pub fn walk(&self, limits: Limits, progress: &dyn Progress) -> Result<TreeBuilder> {
        let builder = TreeBuilder::new(false, limits).walked();
        crate::disk::walk_tree(self.inner.as_ref(), self.inner.root, builder, progress)
    }

    pub fn open_file(&self, id: u64, size: u64) -> Result<FileReader> {
        let fs = &self.inner;
        let (tree, ino) = fs.split(id)?;
        let spans = fs.file_spans(tree, ino)?;
        Ok(FileReader::seekable(FileData {
            fs: fs.clone(),
            spans,
            size,
            pos: 0,
            cached: None,
        }))
    }
}

/// The newest valid superblock copy: its bytes and offset.
fn read_super(dev: &dyn BlockDev, what: &str) -> Result<(Vec<u8>, u64)> {
    let mut first_error = None;
    for at in SUPER_OFFSETS {
        if dev.size() < at + SUPER_SIZE as u64 {
            break;
        }
        let mut sb = vec![0u8; SUPER_SIZE];
        dev.read_at(at, &mut sb)?;
        let problem = if &sb[0x40..0x48] != b"_BHRfS_M" {
            Some("no Btrfs superblock magic".to_string())
        } else if le64(&sb, 0x30) != at {
            Some(format!(
                "the superblock at {at} says it is at {}",
                le64(&sb, 0x30)
            ))
        } else if !checksum_ok(le16(&sb, 0xc4), &sb) {
            Some(format!("the superblock at {at} fails its checksum"))
        } else {
            None
        };
        match problem {
            None => return Ok((sb, at)),
            Some(p) => {
                first_error.get_or_insert(p);
            }
        }
    }
    Err(Error::corrupt(
        what,
        first_error.unwrap_or_else(|| "too small to hold a superblock".into()),
    ))
}

/// Whether a superblock or tree node's checksum (over everything after the 32-byte field)
/// matches. crc32c and SHA-256 are checked; xxhash64 and BLAKE2b are taken on trust.
fn checksum_ok(csum_type: u16, b: &[u8]) -> bool {
    match csum_type {
        0 => le32(b, 0) == crc32c::crc32c(&b[32..]),
        2 => {
            use sha2::Digest;
            sha2::Sha256::digest(&b[32..]).as_slice() == &b[..32]
        }
        _ => true,
    }
}

/// A chunk item at the start of `d` for the range at `logical`, with the copy on `devid`; and
/// the bytes it takes.
fn parse_chunk(d: &[u8], logical: u64, devid: u64) -> Option<(Chunk, usize)> {
    if d.len() < 48 {
        return None;
    }
    let len = le64(d, 0);
    let ty = le64(d, 24);
    let stripes = usize::from(le16(d, 44));
    let used = 48 + stripes * 32;
    if d.len() < used {
        return None;
    }
    let physical = if stripes == 0 {
        Err("the chunk has no stripes".to_string())
    } else if ty & STRIPED != 0 {
        Err(format!(
            "the range is striped across {stripes} devices (RAID0/10/5/6); imagewise reads single, DUP and mirrored profiles"
        ))
    } else {
        (0..stripes)
            .map(|i| 48 + i * 32)
            .find(|&s| le64(d, s) == devid)
            .map(|s| le64(d, s + 8))
            .ok_or_else(|| "its data is on another device of a multi-device filesystem".to_string())
    };
    Some((
        Chunk {
            logical,
            len,
            physical,
        },
        used,
    ))
}

/// A ROOT_REF or ROOT_BACKREF item: the directory holding the subvolume and its name there.
fn root_ref(d: &[u8]) -> Option<(u64, &[u8])> {
    let n = usize::from(le16(d.get(..18)?, 16));
    Some((le64(d, 0), d.get(18..18 + n)?))
}

/// The (name, location, type) entries packed in a DIR_ITEM, DIR_INDEX or XATTR_ITEM; a
/// truncated entry ends the list. For xattrs the location is unused and the value follows.
fn dir_items(d: &[u8]) -> Vec<(&[u8], Key, u8)> {
    dir_items_with_data(d)
        .into_iter()
        .map(|(n, k, t, _)| (n, k, t))
        .collect()
}

fn dir_items_with_data(d: &[u8]) -> Vec<(&[u8], Key, u8, &[u8])> {
    let mut out = Vec::new();
    let mut o = 0;
    while o + 30 <= d.len() {
        let loc = Key::at(d, o);
        let data_len = usize::from(le16(d, o + 25));
        let name_len = usize::from(le16(d, o + 27));
        let ty = d[o + 29];
        let end = o + 30 + name_len + data_len;
        if end > d.len() {
            break;
        }
        out.push((
            &d[o + 30..o + 30 + name_len],
            loc,
            ty,
            &d[o + 30 + name_len..end],
        ));
        o = end;
    }
    out
}

impl Inner {
    fn corrupt(&self, d: String) -> Error {
        Error::corrupt(&self.what, d)
    }

    fn add_chunk(&mut self, chunk: Chunk) -> Result<()> {
        if chunk.len == 0 || chunk.logical.checked_add(chunk.len).is_none() {
            return Err(self.corrupt(format!("chunk at {} of {} bytes", chunk.logical, chunk.len)));
        }
        if let Ok(p) = chunk.physical {
            if p.checked_add(chunk.len)
                .is_none_or(|end| end > self.dev.size())
            {
                return Err(self.corrupt(format!(
                    "chunk at {} lies at {p}..+{}, past the end of the device ({} bytes): the image is truncated",
                    chunk.logical,
                    chunk.len,
                    self.dev.size()
                )));
            }
        }
        let i = self.chunks.partition_point(|c| c.logical < chunk.logical);
        let overlaps = self
            .chunks
            .get(i)
            .is_some_and(|n| n.logical < chunk.logical + chunk.len)
            || i > 0 && self.chunks[i - 1].logical + self.chunks[i - 1].len > chunk.logical;
        if overlaps {
            return Err(self.corrupt(format!("chunk at {} overlaps another", chunk.logical)));
        }
        if self.chunks.len() >= 1 << 20 {
            return Err(self.corrupt("more than a million chunks".into()));
        }
        self.chunks.insert(i, chunk);
        Ok(())
    }

    /// Read `buf.len()` bytes at a logical address, across chunks.
    fn read_logical(&self, logical: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = logical + done as u64;
            let i = self.chunks.partition_point(|c| c.logical + c.len <= at);
            let c = self
                .chunks
                .get(i)
                .filter(|c| c.logical <= at)
                .ok_or_else(|| self.corrupt(format!("address {at} is in no chunk")))?;
            let physical = c.physical.as_ref().map_err(|why| {
                Error::unsupported(&self.what, format!("the chunk at {}: {why}", c.logical))
            })?;
            let n = ((c.logical + c.len - at) as usize).min(buf.len() - done);
            self.dev
                .read_at(physical + (at - c.logical), &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }

    /// The tree node at `bytenr`, which its parent says is at `level`.
    fn node(&self, bytenr: u64, level: u8) -> Result<Arc<Vec<u8>>> {
        if let Some(n) = self.cache.lock().ok().and_then(|c| c.get(&bytenr).cloned()) {
            if n[0x64] == level {
                return Ok(n);
            }
        }
        let mut b = vec![0u8; self.nodesize as usize];
        self.read_logical(bytenr, &mut b)?;
        if !checksum_ok(self.csum_type, &b) {
            return Err(self.corrupt(format!("tree node at {bytenr} fails its checksum")));
        }
        if le64(&b, 0x30) != bytenr {
            return Err(self.corrupt(format!(
                "tree node at {bytenr} says it is at {}",
                le64(&b, 0x30)
            )));
        }
        if b[0x20..0x30] != self.metadata_fsid {
            return Err(self.corrupt(format!(
                "tree node at {bytenr} belongs to another filesystem"
            )));
        }
        if b[0x64] != level {
            return Err(self.corrupt(format!(
                "tree node at {bytenr} is at level {}, its parent says {level}",
                b[0x64]
            )));
        }
        let n = le32(&b, 0x60) as usize;
        let each = if level == 0 { ITEM } else { KEY_PTR };
        if HEADER + n * each > b.len() {
            return Err(self.corrupt(format!(
                "tree node at {bytenr} claims {n} items, more than fit"
            )));
        }
        let b = Arc::new(b);
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= NODE_CACHE {
                c.clear();
            }
            c.insert(bytenr, b.clone());
        }
        Ok(b)
    }

    /// Call `f` with every item of the tree from `lo` to `hi` (inclusive), in key order, until it
    /// returns false. Returns false when stopped early.
    fn scan(
        &self,
        root: TreeRoot,
        lo: Key,
        hi: Key,
        f: &mut dyn FnMut(Key, &[u8]) -> Result<bool>,
    ) -> Result<bool> {
        if root.level > MAX_LEVEL {
            return Err(self.corrupt(format!(
                "a tree root at {} claims level {}",
                root.bytenr, root.level
            )));
        }
        self.scan_node(root.bytenr, root.level, lo, hi, f)
    }

    fn scan_node(
        &self,
        bytenr: u64,
        level: u8,
        lo: Key,
        hi: Key,
        f: &mut dyn FnMut(Key, &[u8]) -> Result<bool>,
    ) -> Result<bool> {
        let node = self.node(bytenr, level)?;
        let n = le32(&node, 0x60) as usize;
        if level == 0 {
            let first = lower_bound(n, |i| Key::at(&node, HEADER + i * ITEM) < lo);
            for i in first..n {
                let o = HEADER + i * ITEM;
                let key = Key::at(&node, o);
                if key > hi {
                    return Ok(false);
                }
                let off = le32(&node, o + 17) as usize;
                let size = le32(&node, o + 21) as usize;
                let data = node
                    .get(HEADER + off..)
                    .and_then(|d| d.get(..size))
                    .ok_or_else(|| {
                        self.corrupt(format!(
                            "item {i} of the leaf at {bytenr} lies outside the node"
                        ))
                    })?;
                if !f(key, data)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        // The last child whose first key is at or before `lo` may hold it.
        let ptr_key = |i: usize| Key::at(&node, HEADER + i * KEY_PTR);
        let after = lower_bound(n, |i| ptr_key(i) <= lo);
        for i in after.saturating_sub(1)..n {
            if i > after.saturating_sub(1) && ptr_key(i) > hi {
                return Ok(false);
            }
            let child = le64(&node, HEADER + i * KEY_PTR + 17);
            if !self.scan_node(child, level - 1, lo, hi, f)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The root item of tree `id`: its root node and root directory.
    fn root_item(&self, id: u64) -> Result<Option<(TreeRoot, u64)>> {
        let mut found = None;
        self.scan(
            self.root_tree,
            Key::new(id, ROOT_ITEM, 0),
            Key::new(id, ROOT_ITEM, u64::MAX),
            &mut |_, d| {
                if d.len() < 239 {
                    return Err(self.corrupt(format!("root item of tree {id} is short")));
                }
                // A root with no references is being deleted.
                if le32(d, 216) != 0 {
                    found = Some((
                        TreeRoot {
                            bytenr: le64(d, 176),
                            level: d[238],
                        },
                        le64(d, 168),
                    ));
                }
                Ok(false)
            },
        )?;
        Ok(found)
    }

    /// The slot of subvolume `id`'s tree, registering it on first use.
    fn tree_slot(&self, id: u64) -> Result<usize> {
        if let Some(i) = self
            .slots
            .lock()
            .map_err(|_| self.corrupt("poisoned".into()))?
            .iter()
            .position(|s| matches!(s, Slot::Tree { id: t, .. } if *t == id))
        {
            return Ok(i);
        }
        let (root, dirid) = self
            .root_item(id)?
            .ok_or_else(|| self.corrupt(format!("subvolume {id} has no root item")))?;
        if dirid == 0 || dirid >= 1 << INO_BITS {
            return Err(self.corrupt(format!("subvolume {id}'s root directory is {dirid}")));
        }
        self.add_slot(Slot::Tree { id, root, dirid })
    }

    fn add_slot(&self, slot: Slot) -> Result<usize> {
        let mut slots = self
            .slots
            .lock()
            .map_err(|_| self.corrupt("poisoned".into()))?;
        if slots.len() >= MAX_SLOTS {
            return Err(Error::unsupported(
                &self.what,
                format!("more than {MAX_SLOTS} subvolumes are reached from the root"),
            ));
        }
        slots.push(slot);
        Ok(slots.len() - 1)
    }

    fn slot(&self, i: usize) -> Result<Slot> {
        self.slots
            .lock()
            .map_err(|_| self.corrupt("poisoned".into()))?
            .get(i)
            .cloned()
            .ok_or_else(|| self.corrupt(format!("no subvolume slot {i}")))
    }

    /// The walk id of a slot's root directory.
    fn slot_root(&self, i: usize) -> Result<u64> {
        match self.slot(i)? {
            Slot::Tree { dirid, .. } => Ok(((i as u64) << INO_BITS) | dirid),
            Slot::Placeholder { .. } => Ok(((i as u64) << INO_BITS) | EMPTY_SUBVOL_DIR),
        }
    }

    /// A walk id's tree and inode.
    fn split(&self, id: u64) -> Result<(TreeRoot, u64)> {
        let slot = (id >> INO_BITS) as usize;
        let ino = id & ((1 << INO_BITS) - 1);
        match self.slot(slot)? {
            Slot::Tree { root, .. } => Ok((root, ino)),
            Slot::Placeholder { .. } => Err(self.corrupt(format!("{id} has no inode"))),
        }
    }

    fn tree_id(&self, id: u64) -> Result<u64> {
        match self.slot((id >> INO_BITS) as usize)? {
            Slot::Tree { id, .. } => Ok(id),
            Slot::Placeholder { .. } => Err(self.corrupt(format!("{id} is a placeholder"))),
        }
    }

    /// The subvolumes whose root sits in subvolume `parent`, with their names, by name.
    fn child_subvolumes(&self, parent: u64) -> Result<Vec<(u64, String)>> {
        let mut out = Vec::new();
        self.scan(
            self.root_tree,
            Key::new(parent, ROOT_REF, 0),
            Key::new(parent, ROOT_REF, u64::MAX),
            &mut |key, d| {
                if let Some((_, name)) = root_ref(d) {
                    out.push((key.offset, crate::names::from_bytes(name)));
                }
                Ok(out.len() < MAX_SLOTS)
            },
        )?;
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// The root reference from `parent` to subvolume `child`: the directory holding it and
    /// its name.
    fn root_ref(&self, parent: u64, child: u64) -> Result<Option<(u64, Vec<u8>)>> {
        let mut found = None;
        self.scan(
            self.root_tree,
            Key::new(parent, ROOT_REF, child),
            Key::new(parent, ROOT_REF, child),
            &mut |_, d| {
                found = root_ref(d).map(|(dir, name)| (dir, name.to_vec()));
                Ok(false)
            },
        )?;
        Ok(found)
    }

    /// A subvolume's path from the top level, through its back references and the inode
    /// references of the directories holding it.
    fn subvolume_path(&self, mut id: u64) -> String {
        let mut parts = Vec::new();
        for _ in 0..64 {
            if id == FS_TREE {
                break;
            }
            // (parent tree, directory in it, name)
            let mut next = None;
            let _ = self.scan(
                self.root_tree,
                Key::new(id, ROOT_BACKREF, 0),
                Key::new(id, ROOT_BACKREF, u64::MAX),
                &mut |key, d| {
                    next = root_ref(d)
                        .map(|(dir, name)| (key.offset, dir, crate::names::from_bytes(name)));
                    Ok(false)
                },
            );
            let Some((parent, dir, name)) = next else {
                parts.push(format!("<subvolume {id}>"));
                break;
            };
            parts.push(name);
            parts.extend(self.dir_path(parent, dir));
            id = parent;
        }
        parts.reverse();
        parts.join("/")
    }

    /// The names from directory `dir` up to (not including) its subvolume's root, innermost
    /// first, through inode references.
    fn dir_path(&self, tree: u64, mut dir: u64) -> Vec<String> {
        let mut out = Vec::new();
        let Ok(Some((root, dirid))) = self.root_item(tree) else {
            return out;
        };
        for _ in 0..256 {
            if dir == dirid {
                return out;
            }
            let mut up = None;
            let _ = self.scan(
                root,
                Key::new(dir, INODE_REF, 0),
                Key::new(dir, INODE_REF, u64::MAX),
                &mut |key, d| {
                    if d.len() >= 10 {
                        let n = usize::from(le16(d, 8));
                        if let Some(name) = d.get(10..10 + n) {
                            up = Some((key.offset, crate::names::from_bytes(name)));
                        }
                    }
                    Ok(false)
                },
            );
            let Some((parent, name)) = up else { break };
            out.push(name);
            dir = parent;
        }
        out.push("…".into());
        out
    }

    /// The walk id of the subvolume at `path` from the top level (`mount -o subvol=`).
    fn resolve_subvolume(&self, path: &str) -> Result<u64> {
        let top = self.tree_slot(FS_TREE)?;
        let mut id = self.slot_root(top)?;
        let mut at_subvolume_root = true;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let node = crate::disk::Walk::node(self, id)?;
            if node.mode & 0o170000 != 0o040000 {
                return Err(Error::not_found(
                    &self.what,
                    format!("no subvolume {path}: a part of it is not a directory"),
                ));
            }
            let children = crate::disk::Walk::children(self, id, &node)?;
            let Some((_, child)) = children.into_iter().find(|(n, _)| n == part.as_bytes()) else {
                return Err(Error::not_found(
                    &self.what,
                    format!(
                        "no subvolume {path}; subvolumes: {} (and / for the top level)",
                        self.list_subvolumes()
                    ),
                ));
            };
            at_subvolume_root = (child >> INO_BITS) != (id >> INO_BITS);
            id = child;
        }
        if !at_subvolume_root {
            return Err(Error::not_found(
                &self.what,
                format!(
                    "{path} is a directory, not a subvolume; subvolumes: {}",
                    self.list_subvolumes()
                ),
            ));
        }
        if matches!(
            self.slot((id >> INO_BITS) as usize)?,
            Slot::Placeholder { .. }
        ) {
            return Err(Error::not_found(
                &self.what,
                format!("{path} is a snapshot's placeholder for a subvolume it did not capture"),
            ));
        }
        Ok(id)
    }

    /// Every subvolume's path, for messages.
    fn list_subvolumes(&self) -> String {
        let mut all = Vec::new();
        let _ = self.scan(
            self.root_tree,
            Key::new(0, 0, 0),
            Key::new(u64::MAX, u8::MAX, u64::MAX),
            &mut |key, _| {
                if key.ty == ROOT_REF {
                    all.push(key.offset);
                }
                Ok(all.len() < 1000)
            },
        );
        let mut names: Vec<String> = all.into_iter().map(|id| self.subvolume_path(id)).collect();
        names.sort();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    fn inode(&self, id: u64) -> Result<Inode> {
        if let Slot::Placeholder { mtime, mtime_nsec } = self.slot((id >> INO_BITS) as usize)? {
            return Ok(Inode {
                mode: 0o40755,
                uid: 0,
                gid: 0,
                nlink: 1,
                size: 0,
                rdev: 0,
                mtime,
                mtime_nsec,
                xattrs: BTreeMap::new(),
            });
        }
        let (tree, ino) = self.split(id)?;
        let mut item = None;
        let mut xattrs = BTreeMap::new();
        let mut problem = None;
        self.scan(
            tree,
            Key::new(ino, INODE_ITEM, 0),
            Key::new(ino, XATTR_ITEM, u64::MAX),
            &mut |key, d| {
                match key.ty {
                    INODE_ITEM if key.offset == 0 => {
                        if d.len() < 160 {
                            problem = Some(format!("inode {ino}'s item is short"));
                            return Ok(false);
                        }
                        item = Some(Inode {
                            size: le64(d, 16),
                            nlink: le32(d, 40),
                            uid: le32(d, 44),
                            gid: le32(d, 48),
                            mode: le32(d, 52),
                            rdev: le64(d, 56),
                            mtime: le64(d, 136) as i64,
                            mtime_nsec: le32(d, 144),
                            xattrs: BTreeMap::new(),
                        });
                    }
                    XATTR_ITEM => {
                        for (name, _, _, value) in dir_items_with_data(d) {
                            if xattrs.len() >= 65536 {
                                problem = Some(format!("inode {ino} has too many xattrs"));
                                return Ok(false);
                            }
                            xattrs.insert(crate::names::from_bytes(name), value.to_vec());
                        }
                    }
                    _ => {}
                }
                Ok(true)
            },
        )?;
        if let Some(p) = problem {
            return Err(self.corrupt(p));
        }
        let mut inode =
            item.ok_or_else(|| self.corrupt(format!("inode {ino} has no inode item")))?;
        inode.xattrs = xattrs;
        if inode.mtime_nsec >= 1_000_000_000 {
            return Err(self.corrupt(format!("inode {ino} has {} nanoseconds", inode.mtime_nsec)));
        }
        Ok(inode)
    }

    fn dir_entries(&self, id: u64, dir: &Inode) -> Result<Vec<(Vec<u8>, u64)>> {
        if matches!(
            self.slot((id >> INO_BITS) as usize)?,
            Slot::Placeholder { .. }
        ) {
            return Ok(Vec::new());
        }
        let (tree, ino) = self.split(id)?;
        let slot = id >> INO_BITS;
        let mut raw = Vec::new();
        self.scan(
            tree,
            Key::new(ino, DIR_INDEX, 0),
            Key::new(ino, DIR_INDEX, u64::MAX),
            &mut |_, d| {
                if let Some((name, loc, _)) = dir_items(d).into_iter().next() {
                    raw.push((name.to_vec(), loc));
                }
                Ok(raw.len() <= MAX_DIR_ENTRIES)
            },
        )?;
        if raw.len() > MAX_DIR_ENTRIES {
            return Err(self.corrupt(format!(
                "directory {ino} has more than {MAX_DIR_ENTRIES} entries"
            )));
        }
        let mut out = Vec::with_capacity(raw.len());
        for (name, loc) in raw {
            let child = match loc.ty {
                INODE_ITEM => {
                    if loc.objectid >= 1 << INO_BITS || loc.objectid < 256 {
                        return Err(
                            self.corrupt(format!("directory {ino} names inode {}", loc.objectid))
                        );
                    }
                    (slot << INO_BITS) | loc.objectid
                }
                ROOT_ITEM => self.subvolume_entry(id, ino, &name, loc.objectid, dir)?,
                other => {
                    return Err(self.corrupt(format!(
                        "directory {ino} has an entry pointing at an item of type {other}"
                    )))
                }
            };
            out.push((name, child));
        }
        Ok(out)
    }

    /// The walk id a directory entry for subvolume `child` leads to: that subvolume's root when
    /// this tree holds it (the root reference says so), else — a snapshot's copy of the entry —
    /// an empty directory, as the kernel shows it.
    fn subvolume_entry(
        &self,
        dir_id: u64,
        dir_ino: u64,
        name: &[u8],
        child: u64,
        dir: &Inode,
    ) -> Result<u64> {
        let parent = self.tree_id(dir_id)?;
        let holds = self
            .root_ref(parent, child)?
            .is_some_and(|(d, n)| d == dir_ino && n == name);
        let slot = if holds {
            self.tree_slot(child)?
        } else {
            self.add_slot(Slot::Placeholder {
                mtime: dir.mtime,
                mtime_nsec: dir.mtime_nsec,
            })?
        };
        self.slot_root(slot)
    }

    /// The file's extents, in file order.
    fn file_spans(&self, tree: TreeRoot, ino: u64) -> Result<Vec<Span>> {
        let mut spans: Vec<Span> = Vec::new();
        let mut problem = None;
        self.scan(
            tree,
            Key::new(ino, EXTENT_DATA, 0),
            Key::new(ino, EXTENT_DATA, u64::MAX),
            &mut |key, d| {
                match self.span(key.offset, d, ino) {
                    Ok(s) => {
                        if let Some(last) = spans.last() {
                            if last.file_off + last.len > s.file_off {
                                problem = Some(format!(
                                    "inode {ino} has overlapping extents at {}",
                                    s.file_off
                                ));
                                return Ok(false);
                            }
                        }
                        if s.len > 0 {
                            spans.push(s);
                        }
                    }
                    Err(e) => {
                        problem = Some(e);
                        return Ok(false);
                    }
                }
                if spans.len() > MAX_EXTENTS {
                    problem = Some(format!("inode {ino} has more than {MAX_EXTENTS} extents"));
                    return Ok(false);
                }
                Ok(true)
            },
        )?;
        match problem {
            Some(p) => Err(self.corrupt(p)),
            None => Ok(spans),
        }
    }

    fn span(&self, file_off: u64, d: &[u8], ino: u64) -> std::result::Result<Span, String> {
        if d.len() < 21 {
            return Err(format!("inode {ino}'s extent at {file_off} is short"));
        }
        let ram = le64(d, 8);
        let compression = d[16];
        if d[17] != 0 || le16(d, 18) != 0 {
            return Err(format!(
                "inode {ino}'s extent at {file_off} is encrypted or encoded, which imagewise does not read"
            ));
        }
        if compression > 3 {
            return Err(format!(
                "inode {ino}'s extent at {file_off} uses compression {compression}"
            ));
        }
        match d[20] {
            0 => {
                let stored = &d[21..];
                let data = if compression == 0 {
                    stored.to_vec()
                } else {
                    if ram > self.sectorsize.max(4096) {
                        return Err(format!("inode {ino}'s inline extent claims {ram} bytes"));
                    }
                    decompress(compression, stored, ram, self.sectorsize)
                        .map_err(|e| format!("inode {ino}'s inline extent: {e}"))?
                };
                if file_off.checked_add(data.len() as u64).is_none() {
                    return Err(format!(
                        "inode {ino}'s inline extent at {file_off} runs past 2^64"
                    ));
                }
                Ok(Span {
                    file_off,
                    len: data.len() as u64,
                    piece: Piece::Inline(Arc::new(data)),
                })
            }
            ty @ (1 | 2) => {
                if d.len() < 53 {
                    return Err(format!("inode {ino}'s extent at {file_off} is short"));
                }
                let disk = le64(d, 21);
                let disk_len = le64(d, 29);
                let offset = le64(d, 37);
                let len = le64(d, 45);
                if file_off.checked_add(len).is_none() {
                    return Err(format!("inode {ino}'s extent at {file_off} runs past 2^64"));
                }
                let piece = if ty == 2 || disk == 0 {
                    Piece::Zero
                } else if compression == 0 {
                    if disk
                        .checked_add(offset)
                        .and_then(|a| a.checked_add(len))
                        .is_none()
                    {
                        return Err(format!("inode {ino}'s extent at {file_off} overflows"));
                    }
                    Piece::Plain {
                        disk: disk + offset,
                    }
                } else {
                    if ram > MAX_RAM || disk_len > MAX_RAM {
                        return Err(format!(
                            "inode {ino}'s compressed extent at {file_off} claims {ram} bytes from {disk_len}"
                        ));
                    }
                    if offset.checked_add(len).is_none_or(|e| e > ram) {
                        return Err(format!(
                            "inode {ino}'s extent at {file_off} takes {offset}..+{len} of {ram} bytes"
                        ));
                    }
                    Piece::Compressed {
                        disk,
                        disk_len,
                        ram,
                        offset,
                        alg: compression,
                    }
                };
                Ok(Span {
                    file_off,
                    len,
                    piece,
                })
            }
            other => Err(format!(
                "inode {ino}'s extent at {file_off} has type {other}"
            )),
        }
    }

    fn symlink_target(&self, id: u64, size: u64) -> Result<Vec<u8>> {
        let (tree, ino) = self.split(id)?;
        if size > 65536 {
            return Err(self.corrupt(format!("symlink {ino} is {size} bytes long")));
        }
        let spans = self.file_spans(tree, ino)?;
        let mut out = vec![0u8; size as usize];
        let mut cached = None;
        let mut pos = 0;
        while pos < size {
            pos += self.fill(&spans, pos, size, &mut cached, &mut out[pos as usize..])? as u64;
        }
        Ok(out)
    }

    /// Fill the start of `buf` with the file's bytes at `pos` (at least one byte when `pos` is
    /// before `size`); returns how many. `cached` keeps the last inflated extent.
    fn fill(
        &self,
        spans: &[Span],
        pos: u64,
        size: u64,
        cached: &mut Option<(usize, Vec<u8>)>,
        buf: &mut [u8],
    ) -> Result<usize> {
        let left = (size - pos).min(buf.len() as u64) as usize;
        let i = spans.partition_point(|s| s.file_off + s.len <= pos);
        let Some(span) = spans.get(i).filter(|s| s.file_off <= pos) else {
            // A hole up to the next extent (or the end).
            let end = spans.get(i).map_or(size, |s| s.file_off);
            let n = ((end - pos).min(left as u64)) as usize;
            buf[..n].fill(0);
            return Ok(n);
        };
        let within = pos - span.file_off;
        let n = ((span.len - within).min(left as u64)) as usize;
        match &span.piece {
            Piece::Zero => buf[..n].fill(0),
            Piece::Inline(d) => {
                let start = (within as usize).min(d.len());
                let avail = (d.len() - start).min(n);
                buf[..avail].copy_from_slice(&d[start..start + avail]);
                buf[avail..n].fill(0);
            }
            Piece::Plain { disk } => self.read_logical(disk + within, &mut buf[..n])?,
            Piece::Compressed {
                disk,
                disk_len,
                ram,
                offset,
                alg,
            } => {
                let data = match cached {
                    Some((c, d)) if *c == i => d,
                    _ => {
                        let mut stored = vec![0u8; *disk_len as usize];
                        self.read_logical(*disk, &mut stored)?;
                        let data = decompress(*alg, &stored, *ram, self.sectorsize)
                            .map_err(|e| self.corrupt(format!("extent at {disk}: {e}")))?;
                        &mut cached.insert((i, data)).1
                    }
                };
                let start = (offset + within) as usize;
                buf[..n].copy_from_slice(&data[start..start + n]);
            }
        }
        Ok(n)
    }

    fn raw_entry(&self, path: String, id: u64, inode: &Inode) -> Result<RawEntry> {
        let kind = EntryKind::from_mode(inode.mode).ok_or_else(|| {
            self.corrupt(format!("{path}: inode has unknown type {:o}", inode.mode))
        })?;
        let link = if kind == EntryKind::Symlink {
            Some(crate::names::from_bytes(
                &self.symlink_target(id, inode.size)?,
            ))
        } else {
            None
        };
        // The kernel's dev_t: 12 bits of major above 20 of minor.
        let device = matches!(kind, EntryKind::Char | EntryKind::Block).then(|| {
            (
                ((inode.rdev >> 20) & 0xfff) as u32,
                (inode.rdev & 0xfffff) as u32,
            )
        });
        let size = match kind {
            EntryKind::File | EntryKind::Symlink => inode.size,
            _ => 0,
        };
        Ok(RawEntry {
            name: path,
            entry: Entry {
                path: String::new(),
                kind,
                mode: inode.mode & 0o7777,
                uid: inode.uid,
                gid: inode.gid,
                size,
                mtime: inode.mtime,
                mtime_nsec: inode.mtime_nsec,
                link,
                device,
                xattrs: inode.xattrs.clone(),
                layer: None,
            },
            content: if kind == EntryKind::File {
                Content::Btrfs { id }
            } else {
                Content::None
            },
            identity: (kind != EntryKind::Dir && inode.nlink > 1).then_some((0, id)),
            linked: kind != EntryKind::Dir && inode.nlink > 1,
        })
    }
}

impl crate::disk::Walk for Inner {
    type Node = Inode;

    fn what(&self) -> &str {
        &self.what
    }

    fn node(&self, id: u64) -> Result<Inode> {
        self.inode(id)
    }

    fn children(&self, id: u64, node: &Inode) -> Result<Vec<(Vec<u8>, u64)>> {
        if node.mode & 0o170000 != 0o040000 {
            return Err(self.corrupt(format!("{id} is not a directory")));
        }
        self.dir_entries(id, node)
    }

    fn entry(&self, path: String, id: u64, node: &Inode) -> Result<RawEntry> {
        self.raw_entry(path, id, node)
    }

    fn is_dir(node: &Inode) -> bool {
        node.mode & 0o170000 == 0o040000
    }
}

/// Decompress a btrfs extent (`alg` 1 zlib, 2 lzo, 3 zstd) to exactly `ram` bytes (shorter
/// output is padded with zeros, as the kernel does for a short last block).
fn decompress(
    alg: u8,
    input: &[u8],
    ram: u64,
    sectorsize: u64,
) -> std::result::Result<Vec<u8>, String> {
    let ram = ram as usize;
    let mut out = Vec::with_capacity(ram);
    match alg {
        1 => {
            flate2::read::ZlibDecoder::new(input)
                .take(ram as u64)
                .read_to_end(&mut out)
                .map_err(|e| format!("zlib: {e}"))?;
        }
        3 => {
            // One frame, then sector padding.
            zstd::stream::read::Decoder::new(input)
                .map_err(|e| format!("zstd: {e}"))?
                .single_frame()
                .take(ram as u64)
                .read_to_end(&mut out)
                .map_err(|e| format!("zstd: {e}"))?;
        }
        2 => {
            // A 4-byte total length, then segments of a 4-byte length and LZO1X data that
            // inflate to at most a sector each; a segment header never straddles a sector:
            // fewer than 4 bytes left in one are padding.
            let sector = sectorsize as usize;
            if input.len() < 4 {
                return Err("lzo: no header".into());
            }
            let total = (le32(input, 0) as usize).min(input.len());
            let mut at = 4;
            let mut seg = vec![0u8; sector];
            while at < total && out.len() < ram {
                let left_in_sector = sector - at % sector;
                if left_in_sector < 4 {
                    at += left_in_sector;
                    continue;
                }
                if at + 4 > total {
                    return Err("lzo: a segment header is cut off".into());
                }
                let len = le32(input, at) as usize;
                at += 4;
                let data = input
                    .get(at..at.checked_add(len).ok_or("lzo: segment length")?)
                    .filter(|_| at + len <= total)
                    .ok_or_else(|| format!("lzo: a segment of {len} bytes runs past the extent"))?;
                let n = lzo::decompress_into(data, &mut seg).map_err(|e| e.to_string())?;
                out.extend_from_slice(&seg[..n.min(ram - out.len())]);
                at += len;
            }
        }
        _ => return Err(format!("unknown compression {alg}")),
    }
    out.resize(ram, 0);
    Ok(out)
}

/// Where one run of a file's bytes comes from.
enum Piece {
    Inline(Arc<Vec<u8>>),
    /// Uncompressed, at this logical address.
    Plain {
        disk: u64,
    },
    /// A compressed extent of `disk_len` bytes at `disk`, inflating to `ram` bytes of which
    /// the run is `offset..`.
    Compressed {
        disk: u64,
        disk_len: u64,
        ram: u64,
        offset: u64,
        alg: u8,
    },
    /// Preallocated, or a hole written as an extent.
    Zero,
}

struct Span {
    file_off: u64,
    len: u64,
    piece: Piece,
}

/// A seekable reader over a file's extents; holes and preallocated extents read as zeros.
struct FileData {
    fs: Arc<Inner>,
    spans: Vec<Span>,
    size: u64,
    pos: u64,
    /// The last inflated extent: its span index and bytes.
    cached: Option<(usize, Vec<u8>)>,
}

impl Read for FileData {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let n = self
            .fs
            .fill(&self.spans, self.pos, self.size, &mut self.cached, buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl crate::tree::FileRead for FileData {
    fn ahead(&mut self) -> crate::tree::Ahead {
        use crate::tree::Ahead;
        if self.pos >= self.size {
            return Ahead::End;
        }
        let pos = self.pos;
        let i = self.spans.partition_point(|s| s.file_off + s.len <= pos);
        // Zeros from here up to the first span at or after j that holds data.
        let zeros_to = |j: usize| {
            self.spans[j..]
                .iter()
                .find(|s| !matches!(s.piece, Piece::Zero))
                .map_or(self.size, |s| s.file_off.min(self.size))
        };
        match self.spans.get(i) {
            Some(s) if s.file_off <= pos && !matches!(s.piece, Piece::Zero) => {
                Ahead::Data((s.file_off + s.len).min(self.size) - pos)
            }
            Some(s) if s.file_off <= pos => Ahead::Hole(zeros_to(i + 1).max(pos) - pos),
            _ => Ahead::Hole(zeros_to(i).max(pos) - pos),
        }
    }

    fn skip_hole(&mut self) -> io::Result<u64> {
        match self.ahead() {
            crate::tree::Ahead::Hole(n) => {
                self.pos += n;
                Ok(n)
            }
            _ => Ok(0),
        }
    }
}

impl Seek for FileData {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = crate::blob::seek_target(to, self.pos, self.size)?;
        self.pos = new;
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    //! Damaged filesystems, each a clear error (or, for a lost first superblock, the copy):
    //! made by `mkfs.btrfs --rootdir`, then damaged where the reader looks, with the node's
    //! checksum made to match where the damage should reach the parser behind it.
    use super::*;
    use crate::disk::RawFile;
    use std::os::unix::fs::FileExt;
    use std::path::{Path, PathBuf};

    struct Image {
        _dir: tempfile::TempDir,
        path: PathBuf,
    }

    /// A small tree (a directory, a 70 KB file, a symlink, an xattr) in a `size` Btrfs.
    fn made(size: &str, extra: &[&str]) -> Image {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::fs::write(root.join("d/file"), vec![7u8; 70_000]).unwrap();
        std::fs::write(root.join("small"), b"hello").unwrap();
        std::os::unix::fs::symlink("d/file", root.join("link")).unwrap();
        let path = dir.path().join("fs.btrfs");
        std::fs::File::create(&path).unwrap();
        let st = std::process::Command::new("truncate")
            .args(["-s", size])
            .arg(&path)
            .status()
            .unwrap();
        assert!(st.success());
        let out = std::process::Command::new("mkfs.btrfs")
            .args(["-q", "-f", "--rootdir"])
            .arg(&root)
            .args(extra)
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Image { _dir: dir, path }
    }

    fn open(path: &Path) -> Result<Btrfs> {
        let dev: Arc<dyn BlockDev> = Arc::new(RawFile::open(path)?);
        Btrfs::open(dev, "test", None)
    }

    /// Open, walk, and read every file.
    fn read_all(path: &Path) -> Result<usize> {
        let fs = open(path)?;
        let mut n = 0;
        let tree = fs
            .walk(Limits::default(), &imagewise_types::NoProgress)?
            .finish(
                crate::info::ImageInfo::new("t", crate::info::Format::Disk, path.into()),
                Backend::Btrfs(fs),
            );
        for e in tree.entries() {
            if e.kind == EntryKind::File {
                let mut r = tree.open(&e.path)?;
                std::io::copy(&mut r, &mut std::io::sink())
                    .map_err(|err| Error::corrupt("read", err.to_string()))?;
                n += 1;
            }
        }
        Ok(n)
    }

    use crate::tree::Backend;

    fn poke(path: &Path, at: u64, bytes: &[u8]) {
        let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.write_all_at(bytes, at).unwrap();
    }

    fn peek(path: &Path, at: u64, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        std::fs::File::open(path)
            .unwrap()
            .read_exact_at(&mut b, at)
            .unwrap();
        b
    }

    /// The physical offset of a logical address (the copy the reader uses).
    fn physical(fs: &Btrfs, logical: u64) -> u64 {
        let c = fs
            .inner
            .chunks
            .iter()
            .find(|c| c.logical <= logical && logical < c.logical + c.len)
            .unwrap();
        c.physical.clone().unwrap() + (logical - c.logical)
    }

    /// Recompute the crc32c of the node at `at`.
    fn fix_node(path: &Path, at: u64, nodesize: usize) {
        let b = peek(path, at, nodesize);
        poke(path, at, &crc32c::crc32c(&b[32..]).to_le_bytes());
    }

    /// The top-level file tree's leaf: its physical offset and the (key, data offset) of each
    /// item.
    fn fs_leaf(path: &Path) -> (u64, usize, Vec<(Key, usize, usize)>) {
        let fs = open(path).unwrap();
        let (root, _) = fs.inner.root_item(FS_TREE).unwrap().unwrap();
        assert_eq!(root.level, 0, "the small tree fits one leaf");
        let at = physical(&fs, root.bytenr);
        let nodesize = fs.inner.nodesize as usize;
        let b = peek(path, at, nodesize);
        let items = (0..le32(&b, 0x60) as usize)
            .map(|i| {
                let o = HEADER + i * ITEM;
                (Key::at(&b, o), o, HEADER + le32(&b, o + 17) as usize)
            })
            .collect();
        (at, nodesize, items)
    }

    fn error_of(r: Result<usize>) -> String {
        match r {
            Ok(n) => panic!("read {n} files without an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_sound_filesystem_reads() {
        let img = made("16M", &["-M"]);
        assert_eq!(read_all(&img.path).unwrap(), 2);
    }

    #[test]
    fn truncation_and_lost_superblocks() {
        let img = made("16M", &["-M"]);
        let len = std::fs::metadata(&img.path).unwrap().len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&img.path)
            .unwrap();
        f.set_len(len / 4).unwrap();
        let e = error_of(read_all(&img.path));
        assert!(e.contains("truncated") || e.contains("past the end"), "{e}");
        f.set_len(0x10000 + 100).unwrap();
        let e = error_of(read_all(&img.path));
        assert!(e.contains("too small") || e.contains("superblock"), "{e}");

        // The first superblock damaged: the copy at 64 MiB is read.
        let img = made("80M", &["-M"]);
        poke(&img.path, 0x10000 + 0x100, b"\xff\xff");
        assert_eq!(read_all(&img.path).unwrap(), 2);
        // Both damaged: named.
        poke(&img.path, 0x400_0000 + 0x100, b"\xff\xff");
        let e = error_of(read_all(&img.path));
        assert!(e.contains("fails its checksum"), "{e}");
    }

    #[test]
    fn damaged_nodes_are_named() {
        // A flipped byte: the checksum says so.
        let img = made("16M", &["-M"]);
        let (at, _, items) = fs_leaf(&img.path);
        poke(&img.path, at + items[0].2 as u64, b"\x55");
        let e = error_of(read_all(&img.path));
        assert!(e.contains("fails its checksum"), "{e}");

        // More items than fit, with a matching checksum.
        let img = made("16M", &["-M"]);
        let (at, nodesize, _) = fs_leaf(&img.path);
        poke(&img.path, at + 0x60, &50_000u32.to_le_bytes());
        fix_node(&img.path, at, nodesize);
        let e = error_of(read_all(&img.path));
        assert!(e.contains("more than fit"), "{e}");

        // An item whose data lies outside the node.
        let img = made("16M", &["-M"]);
        let (at, nodesize, items) = fs_leaf(&img.path);
        let (_, o, _) = items[items.len() / 2];
        poke(&img.path, at + o as u64 + 17, &60_000u32.to_le_bytes());
        fix_node(&img.path, at, nodesize);
        let e = error_of(read_all(&img.path));
        assert!(e.contains("outside the node"), "{e}");
    }

    #[test]
    fn damaged_file_items_are_named() {
        // The 70 KB file's extent moved past every chunk.
        let img = made("16M", &["-M"]);
        let (at, nodesize, items) = fs_leaf(&img.path);
        let (_, _, data) = *items
            .iter()
            .find(|(k, _, d)| {
                k.ty == EXTENT_DATA && peek(&img.path, at + *d as u64 + 20, 1)[0] == 1
            })
            .unwrap();
        poke(
            &img.path,
            at + data as u64 + 21,
            &(1u64 << 50).to_le_bytes(),
        );
        fix_node(&img.path, at, nodesize);
        let e = error_of(read_all(&img.path));
        assert!(e.contains("is in no chunk"), "{e}");

        // The same extent claiming to be compressed into an absurd size.
        let img = made("16M", &["-M"]);
        let (at, nodesize, items) = fs_leaf(&img.path);
        let (_, _, data) = *items
            .iter()
            .find(|(k, _, d)| {
                k.ty == EXTENT_DATA && peek(&img.path, at + *d as u64 + 20, 1)[0] == 1
            })
            .unwrap();
        poke(&img.path, at + data as u64 + 8, &(1u64 << 40).to_le_bytes());
        poke(&img.path, at + data as u64 + 16, &[3]);
        fix_node(&img.path, at, nodesize);
        let e = error_of(read_all(&img.path));
        assert!(e.contains("claims"), "{e}");

        // A directory entry that leads back to the root: a loop.
        let img = made("16M", &["-M"]);
        let (at, nodesize, items) = fs_leaf(&img.path);
        let (_, _, data) = *items
            .iter()
            .find(|(k, _, d)| {
                k.ty == DIR_INDEX
                    && k.objectid != 256
                    && peek(&img.path, at + *d as u64 + 29, 1)[0] == 2
            })
            .expect("a directory entry for a directory below the root");
        poke(&img.path, at + data as u64, &256u64.to_le_bytes());
        fix_node(&img.path, at, nodesize);
        let e = error_of(read_all(&img.path));
        assert!(e.contains("directory loop"), "{e}");

        // A root item that puts the file tree at the wrong level.
        let img = made("16M", &["-M"]);
        let fs = open(&img.path).unwrap();
        let root_tree = fs.inner.root_tree;
        let at = physical(&fs, root_tree.bytenr);
        let nodesize = fs.inner.nodesize as usize;
        let b = peek(&img.path, at, nodesize);
        let o = (0..le32(&b, 0x60) as usize)
            .map(|i| HEADER + i * ITEM)
            .find(|&o| Key::at(&b, o) == Key::new(FS_TREE, ROOT_ITEM, 0))
            .unwrap();
        let data = HEADER + le32(&b, o + 17) as usize;
        poke(&img.path, at + data as u64 + 238, &[1]);
        fix_node(&img.path, at, nodesize);
        let e = error_of(read_all(&img.path));
        assert!(e.contains("its parent says 1"), "{e}");
    }

    #[test]
    fn a_striped_chunk_is_refused_by_name() {
        let img = made("16M", &["-M"]);
        // The system chunk array's first chunk, made RAID0, with the superblock's checksum
        // made to match.
        let sb = 0x10000u64;
        let ty = sb + 0x32b + 17 + 24;
        let old = u64::from_le_bytes(peek(&img.path, ty, 8).try_into().unwrap());
        poke(&img.path, ty, &(old | 8).to_le_bytes());
        let b = peek(&img.path, sb, SUPER_SIZE);
        poke(&img.path, sb, &crc32c::crc32c(&b[32..]).to_le_bytes());
        let e = error_of(read_all(&img.path));
        assert!(e.contains("striped"), "{e}");
    }
}
