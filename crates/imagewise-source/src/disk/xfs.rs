//! XFS, read-only, from untrusted bytes (the on-disk format of the kernel's `fs/xfs/libxfs`
//! headers, `xfs_format.h` and `xfs_da_format.h`): v4 and v5 (CRC) superblocks; inodes v1–v3
//! with nanosecond and bigtime timestamps and 64-bit extent counters; data forks in local,
//! extent-list and B+tree form (unwritten extents read as zeros); short-form, block, leaf and
//! node directories (every data block is read; the hash index blocks are not needed to list);
//! inline and remote symlinks; extended attributes in short-form and leaf blocks, with remote
//! values, POSIX ACLs turned into the kernel's standard xattr form. Every block number, offset,
//! count and length is checked before use; B+tree depth, directory and extent counts are
//! capped. Realtime-device files are refused by name. The log is not replayed.
//!
//! No crate reads XFS without a kernel (the few that exist parse the superblock only), so this
//! module does it; the file reader is ext4's (same extent model).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::disk::ext4::{DataMap, Extent, FileData};
use crate::disk::BlockDev;
use crate::entry::{Entry, EntryKind};
use crate::error::{Error, Result};
use crate::tree::{Content, FileReader, RawEntry, TreeBuilder};
use crate::Limits;
use imagewise_types::Progress;

const MAX_BTREE_DEPTH: u16 = 10;
/// Extents of one fork past this are refused.
const MAX_EXTENTS: usize = 4 << 20;
/// Directory entries of one directory past this are refused.
const MAX_DIR_ENTRIES: usize = 4 << 20;
/// Directory data ends here (`XFS_DIR2_LEAF_OFFSET`, 32 GiB); leaf and free blocks follow.
const DIR_LEAF_OFFSET: u64 = 32 << 30;
const MAX_XATTR_VALUE: usize = 65536;

fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn be64(b: &[u8], o: usize) -> u64 {
    (u64::from(be32(b, o)) << 32) | u64::from(be32(b, o + 4))
}

/// Bytes `o..o+n` of `b`, or a corruption error naming `what`.
fn get<'a>(b: &'a [u8], o: usize, n: usize, what: &dyn Fn() -> Error) -> Result<&'a [u8]> {
    b.get(o..o.checked_add(n).ok_or_else(what)?)
        .ok_or_else(what)
}

pub(crate) struct Xfs {
    inner: Arc<Inner>,
}

struct Inner {
    dev: Arc<dyn BlockDev>,
    what: String,
    block_size: u64,
    agblocks: u64,
    agblklog: u32,
    agcount: u64,
    inode_size: u64,
    inopblog: u32,
    dir_block: u64,
    v5: bool,
    ftype: bool,
    root: u64,
}

pub(crate) struct Inode {
    mode: u16,
    format: u8,
    uid: u32,
    gid: u32,
    nlink: u32,
    size: u64,
    nextents: u64,
    anextents: u64,
    aformat: u8,
    realtime: bool,
    mtime: i64,
    mtime_nsec: u32,
    /// Data fork bytes (the literal area up to the attribute fork).
    data: Vec<u8>,
    /// Attribute fork bytes, if the inode has one.
    attr: Vec<u8>,
    /// The raw device number of a device inode.
    rdev: u32,
}

impl Xfs {
    pub fn open(dev: Arc<dyn BlockDev>, what: &str) -> Result<Xfs> {
        let what = format!("XFS filesystem on {what}");
        let corrupt = |d: String| Error::corrupt(&what, d);
        if dev.size() < 512 {
            return Err(corrupt("too small to hold a superblock".into()));
        }
        let mut sb = vec![0u8; 512];
        dev.read_at(0, &mut sb)?;
        if &sb[..4] != b"XFSB" {
            return Err(corrupt("no XFS superblock magic".into()));
        }
        let block_size = u64::from(be32(&sb, 4));
        let root = be64(&sb, 56);
        let agblocks = u64::from(be32(&sb, 84));
        let agcount = u64::from(be32(&sb, 88));
        let version = be16(&sb, 100);
        let inode_size = u64::from(be16(&sb, 104));
        let blocklog = u32::from(sb[120]);
        let inopblog = u32::from(sb[123]);
        let agblklog = u32::from(sb[124]);
        let dirblklog = u32::from(sb[192]);
        let features2 = be32(&sb, 200);
        if !block_size.is_power_of_two()
            || !(512..=65536).contains(&block_size)
            || 1u64.checked_shl(blocklog) != Some(block_size)
        {
            return Err(corrupt(format!("block size {block_size} (log {blocklog})")));
        }
        if !inode_size.is_power_of_two()
            || !(256..=2048).contains(&inode_size)
            || inode_size > block_size
            || 1u64.checked_shl(inopblog) != Some(block_size / inode_size)
        {
            return Err(corrupt(format!(
                "inode size {inode_size} with {inopblog} as inodes-per-block log"
            )));
        }
        if agblocks == 0
            || agcount == 0
            || agblklog > 31
            || agblocks > 1u64 << agblklog
            || agblocks <= (1u64 << agblklog) >> 1
        {
            return Err(corrupt(format!(
                "{agcount} allocation groups of {agblocks} blocks (log {agblklog})"
            )));
        }
        if dirblklog > 8 || (block_size << dirblklog) > 65536 {
            return Err(corrupt(format!("directory block log {dirblklog}")));
        }
        let v5 = match version & 0xf {
            4 => false,
            5 => true,
            v => {
                return Err(Error::unsupported(
                    &what,
                    format!("superblock version {v} (imagewise reads 4 and 5)"),
                ))
            }
        };
        let mut ftype = features2 & 0x200 != 0;
        if v5 {
            let incompat = be32(&sb, 216);
            // ftype, sparse inodes, meta uuid, bigtime, needsrepair, nrext64.
            const KNOWN: u32 = 1 | 2 | 4 | 8 | 16 | 32;
            if incompat & !KNOWN != 0 {
                return Err(Error::unsupported(
                    &what,
                    format!(
                        "incompatible features {:#x} imagewise does not know",
                        incompat & !KNOWN
                    ),
                ));
            }
            if incompat & 16 != 0 {
                return Err(corrupt(
                    "xfs_repair left it marked as needing repair".into(),
                ));
            }
            ftype = incompat & 1 != 0;
            let mut check = sb.clone();
            check[224..228].fill(0);
            // The CRC covers the whole sector the superblock lives in.
            let sect = u64::from(be16(&sb, 102)).clamp(512, 4096);
            if sect > 512 {
                check.resize(sect as usize, 0);
                dev.read_at(512, &mut check[512..])?;
            }
            if crc32c::crc32c(&check) != u32::from_le_bytes([sb[224], sb[225], sb[226], sb[227]]) {
                return Err(corrupt("superblock checksum does not match".into()));
            }
        }
        Ok(Xfs {
            inner: Arc::new(Inner {
                dev,
                what,
                block_size,
                agblocks,
                agblklog,
                agcount,
                inode_size,
                inopblog,
                dir_block: block_size << dirblklog,
                v5,
                ftype,
                root,
            }),
        })
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

    pub fn open_file(&self, ino: u64, size: u64) -> Result<FileReader> {
        let fs = &self.inner;
        let inode = fs.inode(ino)?;
        if inode.realtime {
            return Err(Error::unsupported(
                &fs.what,
                format!("inode {ino} keeps its data on the realtime device, which imagewise does not read"),
            ));
        }
        let data = match inode.format {
            1 => {
                DataMap::Inline(inode.data[..(inode.size as usize).min(inode.data.len())].to_vec())
            }
            _ => {
                DataMap::Extents(fs.fork_extents(&inode.data, inode.format, inode.nextents, ino)?)
            }
        };
        Ok(FileReader::seekable(FileData {
            dev: fs.dev.clone(),
            block_size: fs.block_size,
            data,
            size,
            pos: 0,
        }))
    }
}

impl Inner {
    fn corrupt(&self, d: String) -> Error {
        Error::corrupt(&self.what, d)
    }

    /// The device block of a filesystem block number (AG number in the high bits).
    fn block(&self, fsb: u64) -> Result<u64> {
        let agno = fsb >> self.agblklog;
        let agbno = fsb & ((1u64 << self.agblklog) - 1);
        if agno >= self.agcount || agbno >= self.agblocks {
            return Err(self.corrupt(format!(
                "block {fsb} (AG {agno}, block {agbno}) is outside the filesystem"
            )));
        }
        Ok(agno * self.agblocks + agbno)
    }

    fn read_block(&self, block: u64, len: u64) -> Result<Vec<u8>> {
        let at = block
            .checked_mul(self.block_size)
            .ok_or_else(|| self.corrupt(format!("block {block} overflows")))?;
        if at.checked_add(len).is_none_or(|end| end > self.dev.size()) {
            return Err(self.corrupt(format!("block {block} lies past the end of the device")));
        }
        let mut b = vec![0u8; len as usize];
        self.dev.read_at(at, &mut b)?;
        Ok(b)
    }

    fn inode(&self, ino: u64) -> Result<Inode> {
        let agno = ino >> (self.agblklog + self.inopblog);
        let agbno = (ino >> self.inopblog) & ((1u64 << self.agblklog) - 1);
        let off = ino & ((1u64 << self.inopblog) - 1);
        if agno >= self.agcount || agbno >= self.agblocks {
            return Err(self.corrupt(format!("inode {ino} is outside the filesystem")));
        }
        let at = (agno * self.agblocks + agbno) * self.block_size + off * self.inode_size;
        if at
            .checked_add(self.inode_size)
            .is_none_or(|end| end > self.dev.size())
        {
            return Err(self.corrupt(format!("inode {ino} lies past the end of the device")));
        }
        let mut b = vec![0u8; self.inode_size as usize];
        self.dev.read_at(at, &mut b)?;
        let bad = |d: &str| self.corrupt(format!("inode {ino}: {d}"));
        if &b[..2] != b"IN" {
            return Err(bad("no inode magic"));
        }
        let version = b[4];
        let core = match version {
            1 | 2 => 100,
            3 => 176,
            v => return Err(bad(&format!("version {v}"))),
        };
        if version == 3 && be64(&b, 152) != ino {
            return Err(bad(&format!("it says it is inode {}", be64(&b, 152))));
        }
        let flags = be16(&b, 90);
        let flags2 = if version == 3 { be64(&b, 120) } else { 0 };
        let nrext64 = flags2 & (1 << 4) != 0;
        let (nextents, anextents) = if nrext64 {
            (be64(&b, 24), u64::from(be32(&b, 76)))
        } else {
            (u64::from(be32(&b, 76)), u64::from(be16(&b, 80)))
        };
        let nlink = if version == 1 {
            u32::from(be16(&b, 6))
        } else {
            be32(&b, 16)
        };
        let (mtime, mtime_nsec) = if flags2 & (1 << 3) != 0 {
            // bigtime: nanoseconds since 1901-12-13T20:45:52Z.
            let t = be64(&b, 40);
            (
                (t / 1_000_000_000) as i64 - (1i64 << 31),
                (t % 1_000_000_000) as u32,
            )
        } else {
            (
                i64::from(be32(&b, 40) as i32),
                be32(&b, 44).min(999_999_999),
            )
        };
        let forkoff = usize::from(b[82]) * 8;
        let literal = b.len() - core;
        if forkoff > literal {
            return Err(bad("attribute fork offset past the inode"));
        }
        let (data, attr) = if forkoff == 0 {
            (b[core..].to_vec(), Vec::new())
        } else {
            (
                b[core..core + forkoff].to_vec(),
                b[core + forkoff..].to_vec(),
            )
        };
        let format = b[5];
        let rdev = if format == 0 && data.len() >= 4 {
            be32(&data, 0)
        } else {
            0
        };
        Ok(Inode {
            mode: be16(&b, 2),
            format,
            uid: be32(&b, 8),
            gid: be32(&b, 12),
            nlink,
            size: be64(&b, 56),
            nextents,
            anextents,
            aformat: if forkoff == 0 { 0xff } else { b[83] },
            realtime: flags & 1 != 0,
            mtime,
            mtime_nsec,
            data,
            attr,
            rdev,
        })
    }

    /// One packed 128-bit extent record.
    fn extent(&self, r: &[u8]) -> Result<Extent> {
        let hi = be64(r, 0);
        let lo = be64(r, 8);
        let logical = (hi >> 9) & ((1u64 << 54) - 1);
        let fsb = ((hi & 0x1ff) << 43) | (lo >> 21);
        let len = lo & ((1u64 << 21) - 1);
        Ok(Extent {
            logical,
            physical: self.block(fsb)?,
            len,
            uninit: hi >> 63 != 0,
        })
    }

    /// The extents of a fork in extent-list (2) or B+tree (3) form, sorted and checked.
    fn fork_extents(&self, fork: &[u8], format: u8, count: u64, ino: u64) -> Result<Vec<Extent>> {
        let bad = |d: String| self.corrupt(format!("inode {ino}: {d}"));
        let mut out = Vec::new();
        match format {
            2 => {
                if count as usize > fork.len() / 16 {
                    return Err(bad(format!("{count} extents do not fit in the inode")));
                }
                for r in fork.chunks_exact(16).take(count as usize) {
                    out.push(self.extent(r)?);
                }
            }
            3 => {
                if fork.len() < 4 {
                    return Err(bad("B+tree root is truncated".into()));
                }
                let level = be16(fork, 0);
                let numrecs = usize::from(be16(fork, 2));
                let maxrecs = (fork.len() - 4) / 16;
                if level == 0 || level > MAX_BTREE_DEPTH || numrecs > maxrecs {
                    return Err(bad(format!(
                        "B+tree root of level {level} with {numrecs} records"
                    )));
                }
                let mut seen = HashSet::new();
                for i in 0..numrecs {
                    let ptr = be64(fork, 4 + maxrecs * 8 + i * 8);
                    self.bmbt_block(ptr, level - 1, &mut out, &mut seen, ino)?;
                }
            }
            f => return Err(bad(format!("a fork in format {f} has no extents"))),
        }
        out.retain(|e| e.len > 0);
        out.sort_by_key(|e| e.logical);
        for w in out.windows(2) {
            if w[0].logical + w[0].len > w[1].logical {
                return Err(bad("overlapping extents".into()));
            }
        }
        Ok(out)
    }

    fn bmbt_block(
        &self,
        fsb: u64,
        level: u16,
        out: &mut Vec<Extent>,
        seen: &mut HashSet<u64>,
        ino: u64,
    ) -> Result<()> {
        let bad = |d: String| self.corrupt(format!("inode {ino}: {d}"));
        if !seen.insert(fsb) {
            return Err(bad(format!("B+tree block {fsb} is reached twice (a loop)")));
        }
        let b = self.read_block(self.block(fsb)?, self.block_size)?;
        let (magic, hdr): (&[u8], usize) = if self.v5 {
            (b"BMA3", 72)
        } else {
            (b"BMAP", 24)
        };
        if &b[..4] != magic {
            return Err(bad(format!(
                "B+tree block {fsb} has no {} magic",
                String::from_utf8_lossy(magic)
            )));
        }
        let got_level = be16(&b, 4);
        let numrecs = usize::from(be16(&b, 6));
        let maxrecs = (b.len() - hdr) / 16;
        if got_level != level || numrecs > maxrecs {
            return Err(bad(format!(
                "B+tree block {fsb}: level {got_level} (expected {level}), {numrecs} records"
            )));
        }
        if level == 0 {
            for i in 0..numrecs {
                if out.len() >= MAX_EXTENTS {
                    return Err(bad(format!("more than {MAX_EXTENTS} extents")));
                }
                out.push(self.extent(&b[hdr + i * 16..hdr + i * 16 + 16])?);
            }
        } else {
            for i in 0..numrecs {
                let ptr = be64(&b, hdr + maxrecs * 8 + i * 8);
                self.bmbt_block(ptr, level - 1, out, seen, ino)?;
            }
        }
        Ok(())
    }

    /// `len` bytes of a fork from logical byte `at` (holes read as zeros).
    fn read_fork(&self, ext: &[Extent], at: u64, len: u64) -> Result<Vec<u8>> {
        let mut out = vec![0u8; len as usize];
        let bs = self.block_size;
        for e in ext {
            let (start, end) = (e.logical * bs, (e.logical + e.len) * bs);
            let (from, to) = (start.max(at), end.min(at + len));
            if from >= to || e.uninit {
                continue;
            }
            let dev_at = e.physical * bs + (from - start);
            if dev_at
                .checked_add(to - from)
                .is_none_or(|x| x > self.dev.size())
            {
                return Err(self.corrupt("an extent lies past the end of the device".into()));
            }
            self.dev
                .read_at(dev_at, &mut out[(from - at) as usize..(to - at) as usize])?;
        }
        Ok(out)
    }

    fn dir_entries(&self, ino: u64, inode: &Inode) -> Result<Vec<(Vec<u8>, u64)>> {
        let bad = || self.corrupt(format!("directory inode {ino} is malformed"));
        let mut out = Vec::new();
        match inode.format {
            1 => {
                let d = &inode.data;
                let h = get(d, 0, 2, &bad)?;
                let (count, i8) = (usize::from(h[0]), h[1] != 0);
                let isz = if i8 { 8 } else { 4 };
                let mut pos = 2 + isz;
                for _ in 0..count {
                    let namelen = usize::from(get(d, pos, 1, &bad)?[0]);
                    let name = get(d, pos + 3, namelen, &bad)?.to_vec();
                    pos += 3 + namelen + usize::from(self.ftype);
                    let raw = get(d, pos, isz, &bad)?;
                    let child = if i8 {
                        be64(raw, 0)
                    } else {
                        u64::from(be32(raw, 0))
                    };
                    pos += isz;
                    out.push((name, child));
                }
            }
            2 | 3 => {
                let ext = self.fork_extents(&inode.data, inode.format, inode.nextents, ino)?;
                let bs = self.block_size;
                let (hdr, block_magic, data_magic): (usize, &[u8], &[u8]) = if self.v5 {
                    (64, b"XDB3", b"XDD3")
                } else {
                    (16, b"XD2B", b"XD2D")
                };
                for e in &ext {
                    let start = e.logical * bs;
                    let end = ((e.logical + e.len) * bs).min(DIR_LEAF_OFFSET);
                    // Directory blocks that begin in this extent.
                    let mut at = start.div_ceil(self.dir_block) * self.dir_block;
                    while at < end {
                        let b = self.read_fork(&ext, at, self.dir_block)?;
                        at += self.dir_block;
                        let magic = &b[..4];
                        let stop = if magic == block_magic {
                            let count = be32(&b, b.len() - 8) as usize;
                            b.len()
                                .checked_sub(8 + count.saturating_mul(8))
                                .filter(|s| *s >= hdr)
                                .ok_or_else(bad)?
                        } else if magic == data_magic {
                            b.len()
                        } else {
                            // A hole in a sparse directory (freed blocks).
                            continue;
                        };
                        let mut pos = hdr;
                        while pos + 8 <= stop {
                            if be16(&b, pos) == 0xffff {
                                let len = usize::from(be16(&b, pos + 2));
                                if len < 8 || len % 8 != 0 {
                                    return Err(bad());
                                }
                                pos += len;
                                continue;
                            }
                            let child = be64(&b, pos);
                            let namelen = usize::from(get(&b, pos + 8, 1, &bad)?[0]);
                            if namelen == 0 {
                                return Err(bad());
                            }
                            let name = get(&b, pos + 9, namelen, &bad)?.to_vec();
                            let len =
                                (8 + 1 + namelen + usize::from(self.ftype) + 2).div_ceil(8) * 8;
                            pos += len;
                            if pos > stop {
                                return Err(bad());
                            }
                            out.push((name, child));
                            if out.len() > MAX_DIR_ENTRIES {
                                return Err(self.corrupt(format!(
                                    "directory inode {ino} has more than {MAX_DIR_ENTRIES} entries"
                                )));
                            }
                        }
                    }
                }
            }
            f => return Err(self.corrupt(format!("directory inode {ino} is in format {f}"))),
        }
        Ok(out)
    }

    fn symlink_target(&self, ino: u64, inode: &Inode) -> Result<Vec<u8>> {
        let size = inode.size as usize;
        if size == 0 || size > 4096 {
            return Err(self.corrupt(format!("symlink inode {ino} is {size} bytes")));
        }
        if inode.format == 1 {
            return Ok(get(&inode.data, 0, size, &|| {
                self.corrupt(format!("symlink inode {ino} is truncated"))
            })?
            .to_vec());
        }
        let ext = self.fork_extents(&inode.data, inode.format, inode.nextents, ino)?;
        let mut out = Vec::with_capacity(size);
        for e in &ext {
            for i in 0..e.len {
                let b = self.read_block(e.physical + i, self.block_size)?;
                let payload = if self.v5 {
                    if &b[..4] != b"XSLM" {
                        return Err(self.corrupt(format!(
                            "symlink inode {ino}: remote block without XSLM magic"
                        )));
                    }
                    let n = be32(&b, 8) as usize;
                    get(&b, 56, n, &|| {
                        self.corrupt(format!("symlink inode {ino}: remote block overruns"))
                    })?
                } else {
                    &b[..]
                };
                out.extend_from_slice(payload);
                if out.len() >= size {
                    out.truncate(size);
                    return Ok(out);
                }
            }
        }
        Err(self.corrupt(format!("symlink inode {ino} is shorter than its size")))
    }

    fn xattrs(&self, ino: u64, inode: &Inode) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut out = BTreeMap::new();
        let bad = || self.corrupt(format!("inode {ino}: malformed extended attributes"));
        let mut add = |flags: u8, name: &[u8], value: Vec<u8>| {
            // Parent pointers (8) are the filesystem's own bookkeeping, not attributes.
            if flags & 8 != 0 || flags & 0x80 != 0 {
                return;
            }
            let name = String::from_utf8_lossy(name);
            let (key, value) = match (flags & 6, name.as_ref()) {
                (2, "SGI_ACL_FILE") => {
                    ("system.posix_acl_access".to_string(), acl_to_xattr(&value))
                }
                (2, "SGI_ACL_DEFAULT") => {
                    ("system.posix_acl_default".to_string(), acl_to_xattr(&value))
                }
                (2, n) => (format!("trusted.{n}"), Some(value)),
                (4, n) => (format!("security.{n}"), Some(value)),
                (_, n) => (format!("user.{n}"), Some(value)),
            };
            if let Some(v) = value {
                out.insert(key, v);
            }
        };
        match inode.aformat {
            0xff => {}
            1 => {
                let a = &inode.attr;
                let h = get(a, 0, 4, &bad)?;
                let (total, count) = (usize::from(be16(h, 0)), usize::from(h[2]));
                let a = get(a, 0, total.min(a.len()), &bad)?;
                let mut pos = 4;
                for _ in 0..count {
                    let e = get(a, pos, 3, &bad)?;
                    let (nl, vl, flags) = (usize::from(e[0]), usize::from(e[1]), e[2]);
                    let name = get(a, pos + 3, nl, &bad)?;
                    let value = get(a, pos + 3 + nl, vl, &bad)?.to_vec();
                    add(flags, name, value);
                    pos += 3 + nl + vl;
                }
            }
            2 | 3 => {
                let ext = self.fork_extents(&inode.attr, inode.aformat, inode.anextents, ino)?;
                let (magic, hdr): (u16, usize) = if self.v5 { (0x3bee, 80) } else { (0xfbee, 32) };
                let bs = self.block_size;
                for e in &ext {
                    for i in 0..e.len {
                        let b = self.read_block(e.physical + i, bs)?;
                        if be16(&b, 8) != magic {
                            continue; // a node block or a remote value block
                        }
                        let count = usize::from(be16(&b, if self.v5 { 56 } else { 12 }));
                        for k in 0..count {
                            let ent = get(&b, hdr + k * 8, 8, &bad)?;
                            let (idx, flags) = (usize::from(be16(ent, 4)), ent[6]);
                            if flags & 1 != 0 {
                                let h = get(&b, idx, 3, &bad)?;
                                let (vl, nl) = (usize::from(be16(h, 0)), usize::from(h[2]));
                                let name = get(&b, idx + 3, nl, &bad)?;
                                let value = get(&b, idx + 3 + nl, vl, &bad)?.to_vec();
                                add(flags, name, value);
                            } else {
                                let h = get(&b, idx, 9, &bad)?;
                                let (blk, vl, nl) = (
                                    u64::from(be32(h, 0)),
                                    be32(h, 4) as usize,
                                    usize::from(h[8]),
                                );
                                if vl > MAX_XATTR_VALUE {
                                    return Err(bad());
                                }
                                let name = get(&b, idx + 9, nl, &bad)?.to_vec();
                                let value = self.remote_value(&ext, blk, vl, ino)?;
                                add(flags, &name, value);
                            }
                        }
                    }
                }
            }
            f => return Err(self.corrupt(format!("inode {ino}: attribute fork in format {f}"))),
        }
        Ok(out)
    }

    /// A remote attribute value: `len` bytes from attribute-fork block `blk` on (v5 blocks
    /// each carry an `XARM` header).
    fn remote_value(&self, ext: &[Extent], blk: u64, len: usize, ino: u64) -> Result<Vec<u8>> {
        let bs = self.block_size;
        let mut out = Vec::with_capacity(len);
        let mut b_no = blk;
        while out.len() < len {
            let b = self.read_fork(ext, b_no * bs, bs)?;
            b_no += 1;
            let chunk = if self.v5 {
                if &b[..4] != b"XARM" {
                    return Err(self.corrupt(format!(
                        "inode {ino}: remote attribute block without XARM magic"
                    )));
                }
                let n = be32(&b, 8) as usize;
                get(&b, 56, n, &|| {
                    self.corrupt(format!("inode {ino}: remote attribute overruns"))
                })?
            } else {
                &b[..]
            };
            if chunk.is_empty() {
                return Err(self.corrupt(format!("inode {ino}: empty remote attribute block")));
            }
            out.extend_from_slice(&chunk[..chunk.len().min(len - out.len())]);
        }
        Ok(out)
    }

    fn raw_entry(&self, path: String, ino: u64, inode: &Inode) -> Result<RawEntry> {
        let kind = EntryKind::from_mode(u32::from(inode.mode)).ok_or_else(|| {
            self.corrupt(format!(
                "{path}: inode {ino} has unknown type {:o}",
                inode.mode
            ))
        })?;
        let link = if kind == EntryKind::Symlink {
            Some(crate::names::from_bytes(&self.symlink_target(ino, inode)?))
        } else {
            None
        };
        // xfs_dev_t: 14 bits of major, 18 of minor.
        let device = matches!(kind, EntryKind::Char | EntryKind::Block)
            .then(|| ((inode.rdev >> 18) & 0x3fff, inode.rdev & 0x3ffff));
        let xattrs = self.xattrs(ino, inode)?;
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
                Content::Xfs { inode: ino }
            } else {
                Content::None
            },
            identity: (kind != EntryKind::Dir && inode.nlink > 1).then_some((0, ino)),
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
            return Err(self.corrupt(format!("inode {id} is not a directory")));
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

/// XFS keeps POSIX ACLs as `trusted.SGI_ACL_FILE`/`SGI_ACL_DEFAULT` in its own big-endian form
/// (`xfs_acl.h`: a count, then 12-byte entries of tag, id, perm); readers see the kernel's
/// standard form (version 2, little-endian 8-byte entries, id 0xffffffff where there is none).
fn acl_to_xattr(v: &[u8]) -> Option<Vec<u8>> {
    const UNDEFINED_ID: u32 = u32::MAX;
    let count = be32(v.get(..4)?, 0) as usize;
    if count > 1024 || v.len() < 4 + count * 12 {
        return None;
    }
    let mut out = 2u32.to_le_bytes().to_vec();
    for i in 0..count {
        let e = &v[4 + i * 12..4 + (i + 1) * 12];
        let tag = be32(e, 0);
        let id = match tag {
            0x01 | 0x04 | 0x10 | 0x20 => UNDEFINED_ID,
            0x02 | 0x08 => be32(e, 4),
            _ => return None,
        };
        out.extend_from_slice(&(tag as u16).to_le_bytes());
        out.extend_from_slice(&be16(e, 8).to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Some(out)
}
