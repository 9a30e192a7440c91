//! squashfs 4.0, read-only (the kernel's `fs/squashfs/squashfs_fs.h` layout): the superblock,
//! compressed metadata blocks (inode, directory, fragment, id and xattr tables), basic and
//! extended inodes of every type, directories with their headers, data blocks (compressed,
//! stored, or sparse) and fragment tails, and extended attributes (user, trusted, security;
//! out-of-line values). Compressors: gzip (zlib), xz, lzo, lz4 and zstd; the legacy lzma is
//! refused by name. Every table position, block size and count is checked; metadata reads
//! are bounded, decompression is capped at the block size.
//!
//! No maintained crate reads squashfs from untrusted bytes with these bounds (the ones that
//! exist write images, or trust sizes), so this module does it.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

use crate::disk::BlockDev;
use crate::entry::{Entry, EntryKind};
use crate::error::{Error, Result};
use crate::tree::{Content, FileReader, RawEntry, TreeBuilder};
use crate::Limits;
use imagewise_types::Progress;

const META: usize = 8192;
const NO_FRAGMENT: u32 = 0xffff_ffff;
const MAX_DIR_ENTRIES: usize = 4 << 20;
const META_CACHE: usize = 256;

fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn le64(b: &[u8], o: usize) -> u64 {
    u64::from(le32(b, o)) | (u64::from(le32(b, o + 4)) << 32)
}

#[derive(Clone, Copy, PartialEq)]
enum Codec {
    Gzip,
    Xz,
    Lzo,
    Lz4,
    Zstd,
}

pub(crate) struct Squashfs {
    inner: Arc<Inner>,
}

struct Inner {
    dev: Arc<dyn BlockDev>,
    what: String,
    codec: Codec,
    block_size: u64,
    root: u64,
    inode_table: u64,
    dir_table: u64,
    /// The end of the bytes the image uses.
    used: u64,
    ids: Vec<u32>,
    /// (start, on-disk size word) of each fragment block.
    fragments: Vec<(u64, u32)>,
    /// (xattr table start, per-id (ref, count)).
    xattrs: Option<(u64, Vec<(u64, u32)>)>,
    /// Decompressed metadata blocks by position.
    cache: Mutex<HashMap<u64, MetaBlock>>,
}

/// A decompressed metadata block and the position of the next one.
type MetaBlock = (Arc<Vec<u8>>, u64);

/// A parsed inode.
pub(crate) struct Inode {
    kind: EntryKind,
    mode: u16,
    uid: u32,
    gid: u32,
    mtime: u32,
    nlink: u32,
    size: u64,
    /// Directories: (metadata block offset in the directory table, offset in it, listing size).
    dir: Option<(u64, usize, u64)>,
    /// Files: (first data block, block size words, fragment index, offset in the fragment).
    blocks: Option<(u64, Vec<u32>, u32, u32)>,
    link: Option<Vec<u8>>,
    device: Option<(u32, u32)>,
    xattr: u32,
}

impl Squashfs {
    pub fn open(dev: Arc<dyn BlockDev>, what: &str) -> Result<Squashfs> {
        let what = format!("squashfs on {what}");
        let corrupt = |d: String| Error::corrupt(&what, d);
        if dev.size() < 96 {
            return Err(corrupt("too small to hold a superblock".into()));
        }
        let mut sb = [0u8; 96];
        dev.read_at(0, &mut sb)?;
        if &sb[..4] != b"hsqs" {
            return Err(corrupt("no squashfs magic".into()));
        }
        let (major, minor) = (le16(&sb, 28), le16(&sb, 30));
        if (major, minor) != (4, 0) {
            return Err(Error::unsupported(
                &what,
                format!("version {major}.{minor} (imagewise reads 4.0)"),
            ));
        }
        let block_size = u64::from(le32(&sb, 12));
        let block_log = u32::from(le16(&sb, 22));
        if !block_size.is_power_of_two()
            || !(4096..=(1 << 20)).contains(&block_size)
            || 1u64.checked_shl(block_log) != Some(block_size)
        {
            return Err(corrupt(format!(
                "block size {block_size} (log {block_log})"
            )));
        }
        let codec = match le16(&sb, 20) {
            1 => Codec::Gzip,
            4 => Codec::Xz,
            5 => Codec::Lz4,
            6 => Codec::Zstd,
            2 => {
                return Err(Error::unsupported(
                    &what,
                    "lzma (legacy) compression; rebuild it with mksquashfs -comp xz",
                ))
            }
            3 => Codec::Lzo,
            c => return Err(corrupt(format!("compressor {c}"))),
        };
        let used = le64(&sb, 40);
        if used > dev.size() {
            return Err(corrupt(format!(
                "it says it uses {used} bytes; the device has {}",
                dev.size()
            )));
        }
        let mut fs = Inner {
            dev,
            what: what.clone(),
            codec,
            block_size,
            root: le64(&sb, 32),
            inode_table: le64(&sb, 64),
            dir_table: le64(&sb, 72),
            used,
            ids: Vec::new(),
            fragments: Vec::new(),
            xattrs: None,
            cache: Mutex::new(HashMap::new()),
        };
        for (name, at) in [
            ("inode table", fs.inode_table),
            ("directory table", fs.dir_table),
        ] {
            if at >= used {
                return Err(corrupt(format!(
                    "{name} at {at} lies past the image's end {used}"
                )));
            }
        }
        // The id table: u32 ids in metadata blocks whose positions follow id_table_start.
        let id_count = usize::from(le16(&sb, 26));
        let ids = fs.indexed_table(le64(&sb, 48), id_count, 4, "id table")?;
        fs.ids = ids.chunks_exact(4).map(|c| le32(c, 0)).collect();
        let frag_count = le32(&sb, 16) as usize;
        let flags = le16(&sb, 24);
        if frag_count > 0 && flags & 0x10 == 0 {
            let t = fs.indexed_table(le64(&sb, 80), frag_count, 16, "fragment table")?;
            fs.fragments = t
                .chunks_exact(16)
                .map(|c| (le64(c, 0), le32(c, 8)))
                .collect();
        }
        let xattr_at = le64(&sb, 56);
        if xattr_at != u64::MAX && flags & 0x200 == 0 {
            let mut h = [0u8; 16];
            fs.read_raw(xattr_at, &mut h, "xattr id table")?;
            let (table, count) = (le64(&h, 0), le32(&h, 8) as usize);
            let t = fs.indexed_table_at(xattr_at + 16, count, 16, "xattr id table")?;
            fs.xattrs = Some((
                table,
                t.chunks_exact(16)
                    .map(|c| (le64(c, 0), le32(c, 8)))
                    .collect(),
            ));
        }
        Ok(Squashfs {
            inner: Arc::new(fs),
        })
    }

    pub fn exists(&self, path: &str) -> bool {
        crate::disk::exists(self.inner.as_ref(), self.inner.root, path)
    }

    pub fn walk(&self, limits: Limits, progress: &dyn Progress) -> Result<TreeBuilder> {
        let builder = TreeBuilder::new(false, limits).walked();
        crate::disk::walk_tree(self.inner.as_ref(), self.inner.root, builder, progress)
    }

    pub fn open_file(&self, inode_ref: u64, size: u64) -> Result<FileReader> {
        let fs = &self.inner;
        let inode = fs.inode(inode_ref)?;
        let (start, blocks, frag, frag_off) = inode
            .blocks
            .ok_or_else(|| fs.corrupt("not a regular file".into()))?;
        // Where each full block starts.
        let mut starts = Vec::with_capacity(blocks.len());
        let mut at = start;
        for &w in &blocks {
            starts.push(at);
            at = at
                .checked_add(u64::from(w & 0x00ff_ffff))
                .filter(|e| *e <= fs.used)
                .ok_or_else(|| fs.corrupt("a file's blocks run past the image's end".into()))?;
        }
        Ok(FileReader::seekable(FileData {
            fs: self.inner.clone(),
            blocks,
            starts,
            frag: (frag != NO_FRAGMENT).then_some((frag, frag_off)),
            size,
            pos: 0,
            current: None,
        }))
    }
}

impl Inner {
    fn corrupt(&self, d: String) -> Error {
        Error::corrupt(&self.what, d)
    }

    fn read_raw(&self, at: u64, buf: &mut [u8], what: &str) -> Result<()> {
        if at
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > self.used)
        {
            return Err(self.corrupt(format!("{what} at {at} lies past the image's end")));
        }
        self.dev.read_at(at, buf)
    }

    fn decompress(&self, input: &[u8], max: usize, what: &str) -> Result<Vec<u8>> {
        let bad = |e: String| self.corrupt(format!("{what}: {e}"));
        let mut out = Vec::with_capacity(max);
        match self.codec {
            Codec::Gzip => {
                flate2::read::ZlibDecoder::new(input)
                    .take(max as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| bad(e.to_string()))?;
            }
            Codec::Xz => {
                liblzma::read::XzDecoder::new(input)
                    .take(max as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| bad(e.to_string()))?;
            }
            Codec::Zstd => {
                zstd::stream::read::Decoder::new(input)
                    .map_err(|e| bad(e.to_string()))?
                    .take(max as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| bad(e.to_string()))?;
            }
            Codec::Lz4 => {
                out = lz4_flex::block::decompress(input, max).map_err(|e| bad(e.to_string()))?;
            }
            Codec::Lzo => {
                out = lzo::decompress(input, max).map_err(|e| bad(e.to_string()))?;
            }
        }
        if out.len() > max {
            return Err(bad(format!("inflates past {max} bytes")));
        }
        Ok(out)
    }

    /// The metadata block at `at`: its bytes and where the next one starts.
    fn meta_block(&self, at: u64) -> Result<MetaBlock> {
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&at).cloned()) {
            return Ok(hit);
        }
        let mut h = [0u8; 2];
        self.read_raw(at, &mut h, "metadata block")?;
        let word = le16(&h, 0);
        let len = usize::from(word & 0x7fff);
        if len == 0 || len > META {
            return Err(self.corrupt(format!("metadata block at {at} claims {len} bytes")));
        }
        let mut raw = vec![0u8; len];
        self.read_raw(at + 2, &mut raw, "metadata block")?;
        let data = if word & 0x8000 != 0 {
            raw
        } else {
            self.decompress(&raw, META, &format!("metadata block at {at}"))?
        };
        let hit = (Arc::new(data), at + 2 + len as u64);
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= META_CACHE {
                c.clear();
            }
            c.insert(at, hit.clone());
        }
        Ok(hit)
    }

    /// `len` bytes of metadata from block `block` (absolute) at `offset`, across blocks.
    fn meta(&self, block: u64, offset: usize, len: usize) -> Result<Vec<u8>> {
        self.read_meta(&mut (block, offset), len)
    }

    /// `len` bytes of metadata at the cursor (block position, offset in it), which moves on.
    fn read_meta(&self, cur: &mut (u64, usize), len: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len.min(1 << 20));
        while out.len() < len {
            let (data, next) = self.meta_block(cur.0)?;
            if data.is_empty() {
                return Err(self.corrupt(format!("an empty metadata block at {}", cur.0)));
            }
            if cur.1 >= data.len() {
                // The position lies in a later block (an offset past this one's end).
                if next >= self.used {
                    return Err(self.corrupt("metadata runs past the image's end".into()));
                }
                *cur = (next, cur.1 - data.len());
                continue;
            }
            let take = (data.len() - cur.1).min(len - out.len());
            out.extend_from_slice(&data[cur.1..cur.1 + take]);
            cur.1 += take;
        }
        Ok(out)
    }

    /// A table of `count` fixed-size entries kept in metadata blocks whose positions (u64s)
    /// start at `index_at`.
    fn indexed_table_at(
        &self,
        index_at: u64,
        count: usize,
        entry: usize,
        what: &str,
    ) -> Result<Vec<u8>> {
        let total = count
            .checked_mul(entry)
            .filter(|t| *t <= 64 << 20)
            .ok_or_else(|| self.corrupt(format!("{what}: {count} entries")))?;
        let blocks = total.div_ceil(META);
        let mut idx = vec![0u8; blocks * 8];
        self.read_raw(index_at, &mut idx, what)?;
        let mut out = Vec::with_capacity(total);
        for i in 0..blocks {
            let want = (total - out.len()).min(META);
            out.extend(self.meta(le64(&idx, i * 8), 0, want)?);
        }
        Ok(out)
    }

    fn indexed_table(
        &self,
        index_at: u64,
        count: usize,
        entry: usize,
        what: &str,
    ) -> Result<Vec<u8>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        self.indexed_table_at(index_at, count, entry, what)
    }

    fn id(&self, i: u16) -> Result<u32> {
        self.ids
            .get(usize::from(i))
            .copied()
            .ok_or_else(|| self.corrupt(format!("id index {i} past the id table")))
    }

    /// The inode an inode reference names.
    fn inode(&self, r: u64) -> Result<Inode> {
        let block = self
            .inode_table
            .checked_add(r >> 16)
            .ok_or_else(|| self.corrupt(format!("inode reference {r:#x}")))?;
        let off = (r & 0xffff) as usize;
        let h = self.meta(block, off, 16)?;
        let kind_no = le16(&h, 0);
        let mut inode = Inode {
            kind: EntryKind::File,
            mode: le16(&h, 2),
            uid: self.id(le16(&h, 4))?,
            gid: self.id(le16(&h, 6))?,
            mtime: le32(&h, 8),
            nlink: 1,
            size: 0,
            dir: None,
            blocks: None,
            link: None,
            device: None,
            xattr: NO_FRAGMENT,
        };
        let body = |n: usize| self.meta(block, off + 16, n);
        match kind_no {
            1 => {
                let b = body(16)?;
                inode.kind = EntryKind::Dir;
                inode.nlink = le32(&b, 4);
                inode.dir = Some((
                    u64::from(le32(&b, 0)),
                    usize::from(le16(&b, 10)),
                    u64::from(le16(&b, 8)),
                ));
            }
            8 => {
                let b = body(24)?;
                inode.kind = EntryKind::Dir;
                inode.nlink = le32(&b, 0);
                inode.dir = Some((
                    u64::from(le32(&b, 8)),
                    usize::from(le16(&b, 18)),
                    u64::from(le32(&b, 4)),
                ));
                inode.xattr = le32(&b, 20);
            }
            2 | 9 => {
                let (head, start, size, frag, frag_off) = if kind_no == 2 {
                    let b = body(16)?;
                    (
                        16,
                        u64::from(le32(&b, 0)),
                        u64::from(le32(&b, 12)),
                        le32(&b, 4),
                        le32(&b, 8),
                    )
                } else {
                    let b = body(40)?;
                    inode.nlink = le32(&b, 24);
                    inode.xattr = le32(&b, 36);
                    (40, le64(&b, 0), le64(&b, 8), le32(&b, 28), le32(&b, 32))
                };
                let full = if frag == NO_FRAGMENT {
                    size.div_ceil(self.block_size)
                } else {
                    size / self.block_size
                };
                if full > (1 << 26) || size > self.used.saturating_mul(1 << 16) {
                    return Err(self.corrupt(format!("a file of {size} bytes")));
                }
                let words = self.meta(block, off + 16 + head, full as usize * 4)?;
                let words = words.chunks_exact(4).map(|c| le32(c, 0)).collect();
                inode.size = size;
                inode.blocks = Some((start, words, frag, frag_off));
            }
            3 | 10 => {
                let b = body(8)?;
                inode.kind = EntryKind::Symlink;
                inode.nlink = le32(&b, 0);
                let n = le32(&b, 4) as usize;
                if n == 0 || n > 4096 {
                    return Err(self.corrupt(format!("a symlink of {n} bytes")));
                }
                let t = self.meta(block, off + 24, n + if kind_no == 10 { 4 } else { 0 })?;
                if kind_no == 10 {
                    inode.xattr = le32(&t, n);
                }
                inode.size = n as u64;
                inode.link = Some(t[..n].to_vec());
            }
            4 | 5 | 11 | 12 => {
                let b = body(if kind_no > 10 { 12 } else { 8 })?;
                inode.kind = if kind_no == 4 || kind_no == 11 {
                    EntryKind::Block
                } else {
                    EntryKind::Char
                };
                inode.nlink = le32(&b, 0);
                let d = le32(&b, 4);
                inode.device = Some(((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00)));
                if kind_no > 10 {
                    inode.xattr = le32(&b, 8);
                }
            }
            6 | 7 | 13 | 14 => {
                let b = body(if kind_no > 10 { 8 } else { 4 })?;
                inode.kind = if kind_no == 6 || kind_no == 13 {
                    EntryKind::Fifo
                } else {
                    EntryKind::Socket
                };
                inode.nlink = le32(&b, 0);
                if kind_no > 10 {
                    inode.xattr = le32(&b, 4);
                }
            }
            t => return Err(self.corrupt(format!("inode type {t}"))),
        }
        Ok(inode)
    }

    /// (name, inode reference) of a directory's entries.
    fn dir_entries(&self, dir: &Inode) -> Result<Vec<(Vec<u8>, u64)>> {
        let Some((block, off, size)) = dir.dir else {
            return Err(self.corrupt("not a directory".into()));
        };
        // The listing size counts 3 bytes for `.` and `..`, which are not stored.
        let len = size.saturating_sub(3) as usize;
        if len == 0 {
            return Ok(Vec::new());
        }
        if len > 64 << 20 {
            return Err(self.corrupt(format!("a directory listing of {len} bytes")));
        }
        let at = self
            .dir_table
            .checked_add(block)
            .ok_or_else(|| self.corrupt("directory block offset overflows".into()))?;
        let b = self.meta(at, off, len)?;
        let bad = || self.corrupt("a directory listing is malformed".into());
        let mut out = Vec::new();
        let mut pos = 0;
        while pos + 12 <= b.len() {
            let count = le32(&b, pos) as usize + 1;
            let start = u64::from(le32(&b, pos + 4));
            pos += 12;
            if count > 256 {
                return Err(bad());
            }
            for _ in 0..count {
                let e = b.get(pos..pos + 8).ok_or_else(bad)?;
                let offset = u64::from(le16(e, 0));
                let name_len = usize::from(le16(e, 6)) + 1;
                let name = b.get(pos + 8..pos + 8 + name_len).ok_or_else(bad)?.to_vec();
                pos += 8 + name_len;
                out.push((name, (start << 16) | offset));
                if out.len() > MAX_DIR_ENTRIES {
                    return Err(bad());
                }
            }
        }
        Ok(out)
    }

    fn xattrs(&self, idx: u32) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut out = BTreeMap::new();
        let Some((table, ids)) = &self.xattrs else {
            return Ok(out);
        };
        if idx == NO_FRAGMENT {
            return Ok(out);
        }
        let &(r, count) = ids
            .get(idx as usize)
            .ok_or_else(|| self.corrupt(format!("xattr index {idx} past the table")))?;
        if count > 1024 {
            return Err(self.corrupt(format!("{count} xattrs on one inode")));
        }
        let mut cur = (table + (r >> 16), (r & 0xffff) as usize);
        let mut take = |n: usize| self.read_meta(&mut cur, n);
        for _ in 0..count {
            let k = take(4)?;
            let (kind, name_len) = (le16(&k, 0), usize::from(le16(&k, 2)));
            let name = take(name_len)?;
            let prefix = match kind & 0xff {
                0 => "user.",
                1 => "trusted.",
                2 => "security.",
                t => return Err(self.corrupt(format!("xattr type {t}"))),
            };
            let vs = le32(&take(4)?, 0) as usize;
            let value = if kind & 0x100 != 0 {
                // Out of line: a reference to the value (size word then bytes) elsewhere.
                if vs != 8 {
                    return Err(self.corrupt("an out-of-line xattr without its reference".into()));
                }
                let vr = le64(&take(8)?, 0);
                let (vb, vo) = (table + (vr >> 16), (vr & 0xffff) as usize);
                let n = le32(&self.meta(vb, vo, 4)?, 0) as usize;
                if n > 65536 {
                    return Err(self.corrupt(format!("an xattr value of {n} bytes")));
                }
                self.meta(vb, vo + 4, n)?
            } else {
                if vs > 65536 {
                    return Err(self.corrupt(format!("an xattr value of {vs} bytes")));
                }
                take(vs)?
            };
            out.insert(format!("{prefix}{}", String::from_utf8_lossy(&name)), value);
        }
        Ok(out)
    }

    fn raw_entry(&self, path: String, r: u64, inode: &Inode) -> Result<RawEntry> {
        let size = match inode.kind {
            EntryKind::File | EntryKind::Symlink => inode.size,
            _ => 0,
        };
        Ok(RawEntry {
            name: path,
            entry: Entry {
                path: String::new(),
                kind: inode.kind,
                mode: u32::from(inode.mode) & 0o7777,
                uid: inode.uid,
                gid: inode.gid,
                size,
                mtime: i64::from(inode.mtime),
                mtime_nsec: 0,
                link: inode.link.as_deref().map(crate::names::from_bytes),
                device: inode.device,
                xattrs: self.xattrs(inode.xattr)?,
                layer: None,
            },
            content: if inode.kind == EntryKind::File {
                Content::Squashfs { inode: r }
            } else {
                Content::None
            },
            // squashfs stores a hardlinked file once; its names share the inode.
            identity: (inode.kind != EntryKind::Dir && inode.nlink > 1).then_some((0, r)),
            linked: inode.kind != EntryKind::Dir && inode.nlink > 1,
        })
    }

    /// The bytes of data block `i` (or the fragment tail): decompressed, `len` long.
    fn data_block(&self, at: u64, word: u32, len: usize) -> Result<Vec<u8>> {
        let size = (word & 0x00ff_ffff) as usize;
        if size == 0 {
            return Ok(vec![0u8; len]); // a sparse block
        }
        if size as u64 > self.block_size + 1024 {
            return Err(self.corrupt(format!("a data block of {size} bytes")));
        }
        let mut raw = vec![0u8; size];
        self.read_raw(at, &mut raw, "data block")?;
        let mut data = if word & 0x0100_0000 != 0 {
            raw
        } else {
            self.decompress(
                &raw,
                self.block_size as usize,
                &format!("data block at {at}"),
            )?
        };
        data.resize(len.max(data.len()), 0);
        Ok(data)
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

    fn children(&self, _id: u64, node: &Inode) -> Result<Vec<(Vec<u8>, u64)>> {
        self.dir_entries(node)
    }

    fn entry(&self, path: String, id: u64, node: &Inode) -> Result<RawEntry> {
        self.raw_entry(path, id, node)
    }

    fn is_dir(node: &Inode) -> bool {
        node.kind == EntryKind::Dir
    }
}

/// A file's reader: one decompressed block at a time.
struct FileData {
    fs: Arc<Inner>,
    blocks: Vec<u32>,
    starts: Vec<u64>,
    frag: Option<(u32, u32)>,
    size: u64,
    pos: u64,
    /// The block index held and its bytes.
    current: Option<(u64, Vec<u8>)>,
}

impl FileData {
    fn block(&mut self, i: u64) -> Result<&[u8]> {
        if self.current.as_ref().is_none_or(|(k, _)| *k != i) {
            let fs = &self.fs;
            let bs = fs.block_size;
            let len = (self.size - i * bs).min(bs) as usize;
            let data = if let Some(&word) = self.blocks.get(i as usize) {
                fs.data_block(self.starts[i as usize], word, len)?
            } else {
                let (frag, off) = self
                    .frag
                    .ok_or_else(|| fs.corrupt("a file's tail is missing".into()))?;
                let &(at, word) = fs.fragments.get(frag as usize).ok_or_else(|| {
                    fs.corrupt(format!("fragment {frag} past the fragment table"))
                })?;
                let block = fs.data_block(at, word, 0)?;
                let off = off as usize;
                block
                    .get(off..off + len)
                    .ok_or_else(|| {
                        fs.corrupt(format!("a file's tail lies outside fragment {frag}"))
                    })?
                    .to_vec()
            };
            self.current = Some((i, data));
        }
        Ok(&self.current.as_ref().map(|(_, d)| d).expect("just set")[..])
    }
}

impl Read for FileData {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let bs = self.fs.block_size;
        let (i, within) = (self.pos / bs, (self.pos % bs) as usize);
        let left = (self.size - self.pos).min(buf.len() as u64) as usize;
        let data = self
            .block(i)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let n = left.min(data.len().saturating_sub(within));
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a data block is shorter than the file says",
            ));
        }
        buf[..n].copy_from_slice(&data[within..within + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl crate::tree::FileRead for FileData {
    fn ahead(&mut self) -> crate::tree::Ahead {
        if self.pos >= self.size {
            crate::tree::Ahead::End
        } else {
            crate::tree::Ahead::Unknown
        }
    }
}

impl Seek for FileData {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = crate::blob::seek_target(to, self.pos, self.size)?;
        Ok(self.pos)
    }
}
