//! A read-only ext2/3/4 reader for untrusted images (kernel `Documentation/filesystems/ext4/`):
//! superblock, group descriptors (incl. `meta_bg`), inodes, extent trees and indirect blocks,
//! inline data, linear and htree directories (read linearly), symlinks, device numbers and
//! extended attributes. It exists beside the `ext4-view` crate because imagewise needs what that
//! crate does not expose: inode numbers and link counts (to report hardlinks the same way as a
//! tar does), device numbers, xattrs (`security.capability`), and a `Send + Sync` handle.
//!
//! Every offset read from the image is checked before use; a journal is not replayed.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

use crate::disk::BlockDev;
use crate::entry::{Entry, EntryKind};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::tree::{Content, FileReader, RawEntry, TreeBuilder};
use imagewise_types::Progress;

const ROOT_INO: u32 = 2;
const EXTENTS_FL: u32 = 0x80000;
const INLINE_DATA_FL: u32 = 0x1000_0000;
/// An inode that holds an xattr value (`EXT4_EA_INODE_FL`).
const EA_INODE_FL: u32 = 0x20_0000;
const MAX_DIR_BYTES: u64 = 256 << 20;
const MAX_EXTENT_DEPTH: u16 = 5;
const BLOCK_CACHE: usize = 2048;

#[derive(Clone)]
pub(crate) struct Ext4 {
    inner: Arc<Inner>,
}

struct Inner {
    dev: Arc<dyn BlockDev>,
    what: String,
    block_size: u64,
    inodes_per_group: u32,
    inodes_count: u32,
    inode_size: u64,
    /// Inode table block of each group.
    inode_tables: Vec<u64>,
    cache: Mutex<HashMap<u64, Arc<Vec<u8>>>>,
    /// The journal holds changes not yet written back (not cleanly unmounted).
    needs_recovery: bool,
    /// The `64bit` feature: only then do inodes' high words of block numbers count.
    is_64: bool,
    /// Bytes of an allocation unit: the block, or with bigalloc the cluster.
    cluster_size: u64,
    /// The `ea_inode` feature: xattr values may live in inodes of their own.
    ea_inode: bool,
}

fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// One inode's fields that imagewise uses.
pub(crate) struct Inode {
    mode: u16,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: i64,
    mtime_nsec: u32,
    links: u16,
    flags: u32,
    block: [u8; 60],
    /// `i_blocks`: 512-byte units allocated (data, extent tree and xattr block).
    blocks: u64,
    file_acl: u64,
    /// Raw in-inode extended attribute area (after `i_extra_isize`), if any.
    xattr_area: Vec<u8>,
}

/// A run of a file's blocks: `len` blocks from `logical` stored at `physical` (filesystem
/// blocks from the device start); unwritten ones read as zeros. Shared with the XFS reader.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extent {
    pub logical: u64,
    pub physical: u64,
    pub len: u64,
    pub uninit: bool,
}

impl Ext4 {
    pub fn open(dev: Arc<dyn BlockDev>, what: &str) -> Result<Ext4> {
        let corrupt = |d: String| Error::corrupt(format!("ext4 filesystem on {what}"), d);
        if dev.size() < 2048 {
            return Err(corrupt("too small to hold a superblock".into()));
        }
        let mut sb = vec![0u8; 1024];
        dev.read_at(1024, &mut sb)?;
        if le16(&sb, 56) != 0xef53 {
            return Err(corrupt(
                "no ext2/3/4 superblock magic at offset 1024".into(),
            ));
        }
        let incompat = le32(&sb, 96);
        let ro_compat = le32(&sb, 100);
        if ro_compat & 0x400 != 0 {
            let stored = le32(&sb, 0x3fc);
            // The kernel's crc32c(~0, …) without the final inversion.
            let actual = !crc32c::crc32c(&sb[..0x3fc]);
            if stored != actual {
                return Err(corrupt(format!(
                    "superblock checksum mismatch (stored {stored:#010x}); the superblock is damaged — try `e2fsck -b 32768` on a copy"
                )));
            }
        }
        for (bit, name) in [
            (0x1, "compression"),
            (0x8, "external journal device"),
            (0x1000, "dirdata"),
            (0x10000, "encryption"),
        ] {
            if incompat & bit != 0 {
                return Err(Error::unsupported(
                    format!("ext4 filesystem on {what}"),
                    format!("feature {name} is not supported"),
                ));
            }
        }
        let log_bs = le32(&sb, 24);
        if log_bs > 6 {
            return Err(corrupt(format!("block size 2^{} is invalid", 10 + log_bs)));
        }
        let block_size = 1024u64 << log_bs;
        let inodes_count = le32(&sb, 0);
        let first_data_block = u64::from(le32(&sb, 20));
        let blocks_per_group = u64::from(le32(&sb, 32));
        let inodes_per_group = le32(&sb, 40);
        let rev = le32(&sb, 76);
        // Revision 0 has 128-byte inodes; so does a later one that leaves the size 0 (e2fsck
        // reads it so).
        let inode_size = match (rev, le16(&sb, 88)) {
            (0, _) | (_, 0) => 128,
            (_, n) => u64::from(n),
        };
        let is_64 = incompat & 0x80 != 0;
        let desc_size = if is_64 { u64::from(le16(&sb, 254)) } else { 32 };
        let blocks_count = u64::from(le32(&sb, 4))
            | if is_64 {
                u64::from(le32(&sb, 0x150)) << 32
            } else {
                0
            };
        if !(128..=block_size).contains(&inode_size) || !inode_size.is_power_of_two() {
            return Err(corrupt(format!("inode size {inode_size} is invalid")));
        }
        // A group's block bitmap covers `block_size * 8` allocation units: blocks, or with
        // bigalloc clusters (`s_clusters_per_group`) of several blocks.
        let bigalloc = ro_compat & 0x200 != 0;
        let units_per_group = if bigalloc {
            u64::from(le32(&sb, 36))
        } else {
            blocks_per_group
        };
        if blocks_per_group == 0
            || inodes_per_group == 0
            || units_per_group == 0
            || units_per_group > block_size * 8
            || u64::from(inodes_per_group) > block_size * 8
        {
            return Err(corrupt(format!(
                "{blocks_per_group} blocks ({units_per_group} allocation units) and {inodes_per_group} inodes per group is invalid"
            )));
        }
        if !(32..=block_size).contains(&desc_size) || !desc_size.is_power_of_two() {
            return Err(corrupt(format!(
                "group descriptor size {desc_size} is invalid"
            )));
        }
        if blocks_count.saturating_mul(block_size) > dev.size().saturating_mul(2).max(1 << 40) {
            return Err(corrupt(format!(
                "claims {blocks_count} blocks of {block_size} bytes, far more than the {}-byte device",
                dev.size()
            )));
        }
        let groups = blocks_count
            .saturating_sub(first_data_block)
            .div_ceil(blocks_per_group);
        if groups == 0 || groups.saturating_mul(desc_size) > dev.size() {
            return Err(corrupt(format!(
                "{groups} block groups cannot fit the device"
            )));
        }
        if u64::from(inodes_count) > groups * u64::from(inodes_per_group) {
            return Err(corrupt("more inodes than groups can hold".into()));
        }
        let per_block = block_size / desc_size;
        let meta_bg = incompat & 0x10 != 0;
        let first_meta_bg = u64::from(le32(&sb, 0x104));
        let sparse_super = ro_compat & 0x1 != 0;
        let mut inode_tables = Vec::with_capacity(groups as usize);
        let mut block = vec![0u8; block_size as usize];
        for desc_block in 0..groups.div_ceil(per_block) {
            let loc = if meta_bg && desc_block >= first_meta_bg {
                let g = desc_block * per_block;
                first_data_block + g * blocks_per_group + u64::from(has_super(g, sparse_super))
            } else {
                // The descriptors follow the block holding the superblock (byte 1024): block 2
                // with 1 KiB blocks even when bigalloc makes the first data block 0.
                1024 / block_size + 1 + desc_block
            };
            let off = loc
                .checked_mul(block_size)
                .ok_or_else(|| corrupt("descriptor offset overflows".into()))?;
            dev.read_at(off, &mut block)
                .map_err(|e| corrupt(format!("group descriptors at block {loc}: {e}")))?;
            for i in 0..per_block {
                if inode_tables.len() as u64 == groups {
                    break;
                }
                let d = &block[(i * desc_size) as usize..((i + 1) * desc_size) as usize];
                let lo = u64::from(le32(d, 8));
                let hi = if desc_size >= 64 {
                    u64::from(le32(d, 0x28))
                } else {
                    0
                };
                inode_tables.push(lo | (hi << 32));
            }
        }
        Ok(Ext4 {
            inner: Arc::new(Inner {
                dev,
                what: format!("ext4 filesystem on {what}"),
                block_size,
                inodes_per_group,
                inodes_count,
                inode_size,
                inode_tables,
                cache: Mutex::new(HashMap::new()),
                needs_recovery: incompat & 0x4 != 0,
                is_64,
                ea_inode: incompat & 0x400 != 0,
                cluster_size: if bigalloc {
                    1024u64 << le32(&sb, 28).min(30)
                } else {
                    block_size
                },
            }),
        })
    }

    pub fn exists(&self, path: &str) -> bool {
        crate::disk::exists(self, u64::from(ROOT_INO), path)
    }

    /// Walk the whole filesystem into a tree builder.
    pub fn walk(&self, limits: Limits, progress: &dyn Progress) -> Result<TreeBuilder> {
        let mut builder = TreeBuilder::new(false, limits).walked();
        if self.inner.needs_recovery {
            builder.warn(format!(
                "{} was not cleanly unmounted: its journal is not replayed, so the newest changes may be missing",
                self.inner.what
            ));
        }
        crate::disk::walk_tree(self, u64::from(ROOT_INO), builder, progress)
    }

    fn raw_entry(&self, path: String, ino: u32, inode: &Inode) -> Result<RawEntry> {
        let fs = &self.inner;
        let kind = EntryKind::from_mode(u32::from(inode.mode)).ok_or_else(|| {
            fs.corrupt(format!(
                "{path}: inode {ino} has unknown type {:o}",
                inode.mode
            ))
        })?;
        let link = if kind == EntryKind::Symlink {
            Some(crate::names::from_bytes(&fs.symlink_target(ino, inode)?))
        } else {
            None
        };
        let device = matches!(kind, EntryKind::Char | EntryKind::Block).then(|| {
            let old = le32(&inode.block, 0);
            if old != 0 {
                ((old >> 8) & 0xff, old & 0xff)
            } else {
                let new = le32(&inode.block, 4);
                ((new & 0xfff00) >> 8, (new & 0xff) | ((new >> 12) & 0xfff00))
            }
        });
        let xattrs = fs.xattrs(inode)?;
        let size = match kind {
            EntryKind::File | EntryKind::Symlink => inode.size,
            _ => 0,
        };
        Ok(RawEntry {
            name: path,
            entry: Entry {
                path: String::new(),
                kind,
                mode: u32::from(inode.mode) & 0o7777,
                uid: inode.uid,
                gid: inode.gid,
                size,
                mtime: inode.mtime,
                mtime_nsec: inode.mtime_nsec,
                link,
                device,
                xattrs,
                layer: None,
            },
            content: if kind == EntryKind::File {
                Content::Ext4 { inode: ino }
            } else {
                Content::None
            },
            identity: (kind != EntryKind::Dir && inode.links > 1).then_some((0, u64::from(ino))),
            linked: kind != EntryKind::Dir && inode.links > 1,
        })
    }

    pub fn open_file(&self, ino: u32, size: u64) -> Result<FileReader> {
        let inode = self.inner.inode(ino)?;
        let data = self.inner.data_map(ino, &inode)?;
        Ok(FileReader::seekable(FileData {
            dev: self.inner.dev.clone(),
            block_size: self.inner.block_size,
            data,
            size,
            pos: 0,
        }))
    }
}

impl crate::disk::Walk for Ext4 {
    type Node = Inode;

    fn what(&self) -> &str {
        &self.inner.what
    }

    fn node(&self, id: u64) -> Result<Inode> {
        self.inner.inode(ino32(id, &self.inner.what)?)
    }

    fn children(&self, id: u64, node: &Inode) -> Result<Vec<(Vec<u8>, u64)>> {
        Ok(self
            .inner
            .dir_entries(ino32(id, &self.inner.what)?, node)?
            .into_iter()
            .map(|(n, i)| (n, u64::from(i)))
            .collect())
    }

    fn entry(&self, path: String, id: u64, node: &Inode) -> Result<RawEntry> {
        self.raw_entry(path, ino32(id, &self.inner.what)?, node)
    }

    fn is_dir(node: &Inode) -> bool {
        node.mode & 0o170000 == 0o040000
    }
}

/// ext4 inode numbers are 32-bit.
fn ino32(id: u64, what: &str) -> Result<u32> {
    u32::try_from(id).map_err(|_| Error::corrupt(what, format!("inode number {id}")))
}

fn has_super(group: u64, sparse: bool) -> bool {
    if !sparse || group <= 1 {
        return true;
    }
    [3u64, 5, 7].iter().any(|&b| {
        let mut p = b;
        while p < group {
            p *= b;
        }
        p == group
    })
}

/// Where a file's bytes are: a list of extents, or inline in the inode.
pub(crate) enum DataMap {
    /// Sorted by `logical`, not overlapping.
    Extents(Vec<Extent>),
    Inline(Vec<u8>),
}

impl Inner {
    fn corrupt(&self, d: String) -> Error {
        Error::corrupt(&self.what, d)
    }

    /// A metadata block, through a small cache.
    fn block(&self, n: u64) -> Result<Arc<Vec<u8>>> {
        if let Some(b) = self.cache.lock().ok().and_then(|c| c.get(&n).cloned()) {
            return Ok(b);
        }
        let off = n
            .checked_mul(self.block_size)
            .ok_or_else(|| self.corrupt(format!("block number {n} overflows")))?;
        let mut buf = vec![0u8; self.block_size as usize];
        self.dev
            .read_at(off, &mut buf)
            .map_err(|e| self.corrupt(format!("block {n}: {e}")))?;
        let b = Arc::new(buf);
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= BLOCK_CACHE {
                c.clear();
            }
            c.insert(n, b.clone());
        }
        Ok(b)
    }

    fn inode(&self, ino: u32) -> Result<Inode> {
        if ino == 0 || ino > self.inodes_count {
            return Err(self.corrupt(format!(
                "inode number {ino} is out of range (1..={})",
                self.inodes_count
            )));
        }
        let group = ((ino - 1) / self.inodes_per_group) as usize;
        let index = u64::from((ino - 1) % self.inodes_per_group);
        let table = *self.inode_tables.get(group).ok_or_else(|| {
            self.corrupt(format!(
                "inode {ino} is in group {group}, which does not exist"
            ))
        })?;
        let byte = index * self.inode_size;
        let blk = self.block(table + byte / self.block_size)?;
        let within = (byte % self.block_size) as usize;
        let raw = &blk[within..within + self.inode_size as usize];
        let extra = if self.inode_size > 128 {
            u64::from(le16(raw, 128))
        } else {
            0
        };
        if 128 + extra > self.inode_size {
            return Err(self.corrupt(format!(
                "inode {ino}: extra size {extra} overflows the inode"
            )));
        }
        let mtime_lo = i64::from(le32(raw, 16) as i32);
        // i_mtime_extra: two epoch bits, then nanoseconds << 2.
        let (mtime, mtime_nsec) = if extra >= 12 {
            let x = le32(raw, 136);
            (
                mtime_lo + (i64::from(x & 3) << 32),
                (x >> 2).min(999_999_999),
            )
        } else {
            (mtime_lo, 0)
        };
        let mut block = [0u8; 60];
        block.copy_from_slice(&raw[40..100]);
        let xattr_start = (128 + extra) as usize;
        Ok(Inode {
            mode: le16(raw, 0),
            uid: u32::from(le16(raw, 2)) | (u32::from(le16(raw, 120)) << 16),
            gid: u32::from(le16(raw, 24)) | (u32::from(le16(raw, 122)) << 16),
            size: u64::from(le32(raw, 4)) | (u64::from(le32(raw, 108)) << 32),
            mtime,
            mtime_nsec,
            links: le16(raw, 26),
            flags: le32(raw, 32),
            block,
            blocks: u64::from(le32(raw, 28)) | (u64::from(le16(raw, 116)) << 32),
            // The high word counts only on 64bit filesystems (as the kernel reads it).
            file_acl: u64::from(le32(raw, 104))
                | if self.is_64 {
                    u64::from(le16(raw, 118)) << 32
                } else {
                    0
                },
            xattr_area: if self.inode_size > 128 {
                raw[xattr_start..].to_vec()
            } else {
                Vec::new()
            },
        })
    }

    fn data_map(&self, ino: u32, inode: &Inode) -> Result<DataMap> {
        if inode.flags & INLINE_DATA_FL != 0 {
            let mut data = inode.block.to_vec();
            if let Some(more) = self.raw_xattrs(inode)?.values.remove("system.data") {
                data.extend_from_slice(&more);
            }
            data.truncate(inode.size.min(data.len() as u64) as usize);
            return Ok(DataMap::Inline(data));
        }
        let blocks = inode.size.div_ceil(self.block_size);
        let mut out = Vec::new();
        if inode.flags & EXTENTS_FL != 0 {
            let mut budget = 1 + blocks.min(1 << 20);
            self.extent_node(
                ino,
                &inode.block,
                MAX_EXTENT_DEPTH + 1,
                &mut out,
                &mut budget,
            )?;
            out.sort_by_key(|e| e.logical);
        } else {
            self.indirect(ino, inode, blocks, &mut out)?;
        }
        Ok(DataMap::Extents(out))
    }

    fn extent_node(
        &self,
        ino: u32,
        node: &[u8],
        max_depth: u16,
        out: &mut Vec<Extent>,
        budget: &mut u64,
    ) -> Result<()> {
        if node.len() < 12 || le16(node, 0) != 0xf30a {
            return Err(self.corrupt(format!("inode {ino}: bad extent header")));
        }
        let entries = le16(node, 2) as usize;
        let depth = le16(node, 6);
        if depth >= max_depth || 12 + entries * 12 > node.len() {
            return Err(self.corrupt(format!(
                "inode {ino}: extent tree node is malformed (depth {depth}, {entries} entries)"
            )));
        }
        for i in 0..entries {
            let e = &node[12 + i * 12..24 + i * 12];
            if depth == 0 {
                let raw_len = u64::from(le16(e, 4));
                let (len, uninit) = if raw_len > 32768 {
                    (raw_len - 32768, true)
                } else {
                    (raw_len, false)
                };
                let physical = (u64::from(le16(e, 6)) << 32) | u64::from(le32(e, 8));
                out.push(Extent {
                    logical: u64::from(le32(e, 0)),
                    physical,
                    len,
                    uninit,
                });
            } else {
                *budget = budget.checked_sub(1).ok_or_else(|| {
                    self.corrupt(format!("inode {ino}: extent tree is larger than the file"))
                })?;
                let child = u64::from(le32(e, 4)) | (u64::from(le16(e, 8)) << 32);
                let blk = self.block(child)?;
                self.extent_node(ino, &blk, depth, out, budget)?;
            }
        }
        Ok(())
    }

    /// ext2/3 block maps: 12 direct pointers, then single, double and triple indirect blocks.
    fn indirect(&self, ino: u32, inode: &Inode, blocks: u64, out: &mut Vec<Extent>) -> Result<()> {
        let per = self.block_size / 4;
        let mut logical = 0u64;
        let push = |out: &mut Vec<Extent>, logical: u64, physical: u64| {
            if physical == 0 {
                return;
            }
            if let Some(last) = out.last_mut() {
                if last.logical + last.len == logical && last.physical + last.len == physical {
                    last.len += 1;
                    return;
                }
            }
            out.push(Extent {
                logical,
                physical,
                len: 1,
                uninit: false,
            });
        };
        for i in 0..12 {
            if logical >= blocks {
                return Ok(());
            }
            push(out, logical, u64::from(le32(&inode.block, i * 4)));
            logical += 1;
        }
        for (level, slot) in [(1u32, 12usize), (2, 13), (3, 14)] {
            if logical >= blocks {
                return Ok(());
            }
            let ptr = u64::from(le32(&inode.block, slot * 4));
            let span = per.pow(level);
            if ptr == 0 {
                logical += span;
                continue;
            }
            self.indirect_level(ino, ptr, level, &mut logical, blocks, out, &push)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn indirect_level(
        &self,
        ino: u32,
        ptr: u64,
        level: u32,
        logical: &mut u64,
        blocks: u64,
        out: &mut Vec<Extent>,
        push: &dyn Fn(&mut Vec<Extent>, u64, u64),
    ) -> Result<()> {
        let per = self.block_size / 4;
        let blk = self
            .block(ptr)
            .map_err(|e| self.corrupt(format!("inode {ino}: indirect block: {e}")))?;
        for i in 0..per as usize {
            if *logical >= blocks {
                return Ok(());
            }
            let p = u64::from(le32(&blk, i * 4));
            if level == 1 {
                push(out, *logical, p);
                *logical += 1;
            } else if p == 0 {
                *logical += per.pow(level - 1);
            } else {
                self.indirect_level(ino, p, level - 1, logical, blocks, out, push)?;
            }
        }
        Ok(())
    }

    fn read_all(&self, ino: u32, inode: &Inode, max: u64) -> Result<Vec<u8>> {
        if inode.size > max {
            return Err(self.corrupt(format!(
                "inode {ino} claims {} bytes, more than {max}",
                inode.size
            )));
        }
        let mut r = FileData {
            dev: self.dev.clone(),
            block_size: self.block_size,
            data: self.data_map(ino, inode)?,
            size: inode.size,
            pos: 0,
        };
        let mut buf = Vec::with_capacity(inode.size as usize);
        r.read_to_end(&mut buf)
            .map_err(|e| self.corrupt(format!("inode {ino}: {e}")))?;
        Ok(buf)
    }

    fn symlink_target(&self, ino: u32, inode: &Inode) -> Result<Vec<u8>> {
        if inode.size > 4096 {
            return Err(self.corrupt(format!("symlink inode {ino} is {} bytes long", inode.size)));
        }
        // A fast symlink keeps its target in `i_block`. As the kernel decides it: nothing
        // allocated but the xattr block (one cluster), even if the extents flag is set.
        let ea_blocks = if inode.file_acl != 0 {
            self.cluster_size / 512
        } else {
            0
        };
        let fast = inode.flags & INLINE_DATA_FL == 0
            && inode.size < 60
            && (inode.blocks.saturating_sub(ea_blocks) == 0
                || inode.flags & EXTENTS_FL == 0 && inode.blocks == 0);
        if fast {
            return Ok(inode.block[..inode.size as usize].to_vec());
        }
        self.read_all(ino, inode, 4096)
    }

    /// `(name, inode)` of every entry of a directory.
    fn dir_entries(&self, ino: u32, inode: &Inode) -> Result<Vec<(Vec<u8>, u32)>> {
        let mut out = Vec::new();
        if inode.flags & INLINE_DATA_FL != 0 {
            // Inline directory: the parent inode, then entries in i_block and system.data.
            let parent = le32(&inode.block, 0);
            out.push((b"..".to_vec(), parent));
            self.parse_dirents(ino, &inode.block[4..], &mut out)?;
            if let Some(more) = self.raw_xattrs(inode)?.values.remove("system.data") {
                self.parse_dirents(ino, &more, &mut out)?;
            }
            return Ok(out);
        }
        let data = self.read_all(ino, inode, MAX_DIR_BYTES)?;
        for block in data.chunks(self.block_size as usize) {
            self.parse_dirents(ino, block, &mut out)?;
        }
        Ok(out)
    }

    fn parse_dirents(&self, ino: u32, block: &[u8], out: &mut Vec<(Vec<u8>, u32)>) -> Result<()> {
        let mut pos = 0usize;
        while pos + 8 <= block.len() {
            let child = le32(block, pos);
            let rec_len = le16(block, pos + 4) as usize;
            let name_len = block[pos + 6] as usize;
            if rec_len < 8 || pos + rec_len > block.len() || name_len + 8 > rec_len {
                // An all-zero tail of an inline directory is padding, not damage.
                if block[pos..].iter().all(|&b| b == 0) {
                    break;
                }
                return Err(self.corrupt(format!(
                    "directory inode {ino}: malformed entry at offset {pos}"
                )));
            }
            if child != 0 && name_len > 0 {
                out.push((block[pos + 8..pos + 8 + name_len].to_vec(), child));
            }
            pos += rec_len;
        }
        Ok(())
    }

    /// The extended attributes stored in the inode and its xattr block (including the internal
    /// `system.data`), and those whose values sit in inodes of their own, by (name, inode, size).
    /// Values are not followed here: reading one reads an inode's data, which may consult this
    /// again for inline data, and a hostile value inode may name itself.
    fn raw_xattrs(&self, inode: &Inode) -> Result<RawXattrs> {
        let mut out = BTreeMap::new();
        let mut in_inodes = Vec::new();
        let area = &inode.xattr_area;
        if area.len() >= 4 && le32(area, 0) == 0xea02_0000 {
            self.parse_xattrs(&area[4..], 0, &area[4..], &mut out, &mut in_inodes);
        }
        if inode.file_acl != 0 {
            let blk = self.block(inode.file_acl)?;
            if le32(&blk, 0) == 0xea02_0000 {
                self.parse_xattrs(&blk[32..], 0, &blk, &mut out, &mut in_inodes);
            }
        }
        Ok(RawXattrs {
            values: out,
            in_inodes,
        })
    }

    /// Entries start in `entries`; value offsets are relative to `base[base_off..]`.
    fn parse_xattrs(
        &self,
        entries: &[u8],
        base_off: usize,
        base: &[u8],
        out: &mut BTreeMap<String, Vec<u8>>,
        in_inodes: &mut Vec<InInode>,
    ) {
        let mut pos = 0usize;
        while pos + 16 <= entries.len() && le32(entries, pos) != 0 {
            let name_len = entries[pos] as usize;
            let index = entries[pos + 1];
            let value_offs = le16(entries, pos + 2) as usize;
            let value_inum = le32(entries, pos + 4);
            let value_size = le32(entries, pos + 8) as usize;
            let Some(name) = entries.get(pos + 16..pos + 16 + name_len) else {
                break;
            };
            let prefix = match index {
                1 => "user.",
                2 => "system.posix_acl_access",
                3 => "system.posix_acl_default",
                4 => "trusted.",
                6 => "security.",
                7 => "system.",
                8 => "system.richacl",
                _ => "",
            };
            let full = format!("{prefix}{}", crate::names::from_bytes(name));
            if value_inum == 0 {
                if let Some(v) = base.get(base_off + value_offs..base_off + value_offs + value_size)
                {
                    out.insert(full, v.to_vec());
                }
            } else {
                in_inodes.push((full, value_inum, value_size));
            }
            pos += (16 + name_len + 3) & !3;
        }
    }

    /// A file's extended attributes as a reader sees them: values kept in inodes of their own
    /// (the `ea_inode` feature) read from them, POSIX ACLs in the standard xattr form rather than
    /// ext4's, the internal `system.data` left out.
    fn xattrs(&self, inode: &Inode) -> Result<BTreeMap<String, Vec<u8>>> {
        let RawXattrs {
            values: mut out,
            in_inodes,
        } = self.raw_xattrs(inode)?;
        out.remove("system.data");
        for (name, ino, size) in in_inodes {
            if size > MAX_XATTR_VALUE {
                return Err(self.corrupt(format!(
                    "xattr {name:?} claims a {size}-byte value in inode {ino}, more than the {MAX_XATTR_VALUE} bytes Linux allows"
                )));
            }
            // As the kernel checks it (`ext4_xattr_inode_iget`): the feature must be on and the
            // inode must be an xattr inode; otherwise getfattr fails with EFSCORRUPTED.
            if !self.ea_inode {
                return Err(self.corrupt(format!(
                    "xattr {name:?} keeps its value in inode {ino}, but the filesystem has no ea_inode feature"
                )));
            }
            let value_inode = self.inode(ino)?;
            if value_inode.flags & EA_INODE_FL == 0 {
                return Err(self.corrupt(format!(
                    "xattr {name:?} keeps its value in inode {ino}, which is not an xattr inode"
                )));
            }
            if size == 0 || value_inode.size != size as u64 {
                return Err(self.corrupt(format!(
                    "xattr {name:?}: its value inode {ino} holds {} bytes, the entry says {size}",
                    value_inode.size
                )));
            }
            let v = self.read_all(ino, &value_inode, MAX_XATTR_VALUE as u64)?;
            out.insert(name, v);
        }
        for key in ["system.posix_acl_access", "system.posix_acl_default"] {
            if let Some(v) = out.get_mut(key) {
                match acl_to_xattr(v) {
                    Some(standard) => *v = standard,
                    None => {
                        return Err(
                            self.corrupt(format!("{key} is not an ext4 ACL ({} bytes)", v.len()))
                        )
                    }
                }
            }
        }
        Ok(out)
    }
}

/// An xattr whose value sits in an inode of its own: (name, inode, value size).
type InInode = (String, u32, usize);

/// The xattrs an inode and its xattr block hold, and those whose values sit elsewhere.
struct RawXattrs {
    values: BTreeMap<String, Vec<u8>>,
    in_inodes: Vec<InInode>,
}

/// Largest xattr value Linux accepts (`XATTR_SIZE_MAX`).
const MAX_XATTR_VALUE: usize = 65536;

/// ext4 keeps POSIX ACLs in its own compact form (`fs/ext4/acl.h`: version 1, then 4-byte
/// entries for the owner, group, mask and other, 8-byte ones with an id for named users and
/// groups); `getfattr` and every other reader see the kernel's standard form (version 2, 8-byte
/// entries, id 0xffffffff where there is none). `None` when the bytes are not an ext4 ACL.
fn acl_to_xattr(v: &[u8]) -> Option<Vec<u8>> {
    const UNDEFINED_ID: u32 = u32::MAX;
    if v.len() < 4 || le32(v, 0) != 1 {
        return None;
    }
    let mut out = 2u32.to_le_bytes().to_vec();
    let mut pos = 4;
    while pos < v.len() {
        let tag = le16(v.get(pos..pos + 2)?, 0);
        let perm = le16(v.get(pos + 2..pos + 4)?, 0);
        let id = match tag {
            // ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER
            0x01 | 0x04 | 0x10 | 0x20 => {
                pos += 4;
                UNDEFINED_ID
            }
            // ACL_USER, ACL_GROUP
            0x02 | 0x08 => {
                let id = le32(v.get(pos + 4..pos + 8)?, 0);
                pos += 8;
                id
            }
            _ => return None,
        };
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Some(out)
}

/// A seekable reader over a file's data map; holes and unwritten extents read as zeros.
pub(crate) struct FileData {
    pub dev: Arc<dyn BlockDev>,
    pub block_size: u64,
    pub data: DataMap,
    pub size: u64,
    pub pos: u64,
}

impl Read for FileData {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let left = (self.size - self.pos).min(buf.len() as u64) as usize;
        let n = match &self.data {
            DataMap::Inline(d) => {
                let start = self.pos as usize;
                let avail = d.len().saturating_sub(start).min(left);
                buf[..avail].copy_from_slice(&d[start..start + avail]);
                buf[avail..left].fill(0);
                left
            }
            DataMap::Extents(ext) => {
                let bs = self.block_size;
                let lblock = self.pos / bs;
                let within = self.pos % bs;
                let i = ext.partition_point(|e| e.logical + e.len <= lblock);
                match ext.get(i) {
                    Some(e) if e.logical <= lblock => {
                        let run_bytes = (e.logical + e.len - lblock) * bs - within;
                        let n = (run_bytes.min(left as u64)) as usize;
                        if e.uninit {
                            buf[..n].fill(0);
                        } else {
                            let off = (e.physical + (lblock - e.logical)) * bs + within;
                            self.dev.read_at(off, &mut buf[..n]).map_err(|err| {
                                io::Error::new(io::ErrorKind::InvalidData, err.to_string())
                            })?;
                        }
                        n
                    }
                    next => {
                        // A hole up to the next extent (or the end).
                        let hole_end = next.map_or(self.size, |e| e.logical * bs);
                        let n = ((hole_end - self.pos).min(left as u64)) as usize;
                        buf[..n].fill(0);
                        n
                    }
                }
            }
        };
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
        let DataMap::Extents(ext) = &self.data else {
            return Ahead::Unknown;
        };
        // Holes between extents and unwritten extents both read as zeros.
        let bs = self.block_size;
        let lblock = self.pos / bs;
        let i = ext.partition_point(|e| e.logical + e.len <= lblock);
        let hole_from = |j: usize| {
            // Zeros from here up to the first written extent at or after j.
            ext[j..]
                .iter()
                .find(|e| !e.uninit)
                .map_or(self.size, |e| (e.logical * bs).min(self.size))
        };
        match ext.get(i) {
            Some(e) if e.logical <= lblock && !e.uninit => {
                Ahead::Data(((e.logical + e.len) * bs).min(self.size) - self.pos)
            }
            Some(e) if e.logical <= lblock => {
                Ahead::Hole(hole_from(i + 1).max(self.pos) - self.pos)
            }
            _ => Ahead::Hole(hole_from(i).max(self.pos) - self.pos),
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
