//! ISO 9660 images (ECMA-119), read-only: the volume descriptors, directory records (names,
//! flags, multi-extent files), Rock Ridge (SUSP `SP`, `CE` continuation areas, `PX`, `NM`,
//! `SL`, `TF`, `PN`, relocated directories `CL`/`RE`) for POSIX names, modes, owners, links and
//! times, and Joliet (UCS-2 names) when there is no Rock Ridge. A live image's root filesystem
//! (`live/filesystem.squashfs`, `casper/*.squashfs`) is found here and offered instead of the
//! ISO's own tree. Every extent, length and continuation is checked; directory depth and entry
//! counts are capped.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::disk::ext4::{DataMap, Extent, FileData};
use crate::disk::BlockDev;
use crate::entry::{Entry, EntryKind};
use crate::error::{Error, Result};
use crate::tree::{Content, FileReader, RawEntry, TreeBuilder};
use crate::Limits;
use imagewise_types::Progress;

const SECTOR: u64 = 2048;
const MAX_ENTRIES: usize = 4 << 20;
const MAX_DEPTH: usize = 64;
const MAX_CE: usize = 32;

fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Whether `dev` holds an ISO 9660 volume (`CD001` in the descriptor at sector 16).
pub(crate) fn is_iso(dev: &dyn BlockDev) -> bool {
    let mut b = [0u8; 6];
    dev.size() >= 17 * SECTOR && dev.read_at(16 * SECTOR, &mut b).is_ok() && &b[1..6] == b"CD001"
}

pub(crate) struct Iso {
    dev: Arc<dyn BlockDev>,
    /// The extents of each file, by the index in its content.
    files: Vec<(Vec<Extent>, u64)>,
}

/// One directory record, decoded.
#[derive(Clone)]
struct Record {
    name: Vec<u8>,
    dir: bool,
    extent: u64,
    len: u64,
    multi: bool,
    mtime: i64,
    mode: Option<u32>,
    nlink: u32,
    uid: u32,
    gid: u32,
    link: Option<Vec<u8>>,
    device: Option<(u32, u32)>,
    /// Rock Ridge `CL`: a relocated directory's real location.
    child: Option<u64>,
    /// Rock Ridge `RE`: the relocated directory's placeholder; not listed.
    relocated: bool,
}

struct Reader<'a> {
    dev: &'a dyn BlockDev,
    what: String,
    joliet: bool,
    /// Bytes to skip at the start of each system use area (SUSP `SP`).
    skip: usize,
    rock_ridge: bool,
}

impl Reader<'_> {
    fn corrupt(&self, d: String) -> Error {
        Error::corrupt(&self.what, d)
    }

    fn read(&self, at: u64, len: u64) -> Result<Vec<u8>> {
        if at.checked_add(len).is_none_or(|e| e > self.dev.size()) {
            return Err(self.corrupt(format!("{len} bytes at {at} lie past the end of the image")));
        }
        let mut b = vec![0u8; len as usize];
        self.dev.read_at(at, &mut b)?;
        Ok(b)
    }

    /// The records of the directory at `extent` (`len` bytes), `.` and `..` included.
    fn records(&self, extent: u64, len: u64) -> Result<Vec<Record>> {
        if len > 256 << 20 {
            return Err(self.corrupt(format!("a directory of {len} bytes")));
        }
        let data = self.read(extent * SECTOR, len)?;
        let mut out = Vec::new();
        let mut pos = 0usize;
        while pos < data.len() {
            let rl = usize::from(data[pos]);
            if rl == 0 {
                // Records do not cross sectors: the rest of this one is padding.
                pos = (pos / SECTOR as usize + 1) * SECTOR as usize;
                continue;
            }
            let r = data
                .get(pos..pos + rl)
                .filter(|r| r.len() >= 34)
                .ok_or_else(|| self.corrupt("a directory record runs past its directory".into()))?;
            out.push(self.record(r)?);
            if out.len() > MAX_ENTRIES {
                return Err(self.corrupt("too many directory records".into()));
            }
            pos += rl;
        }
        Ok(out)
    }

    fn record(&self, r: &[u8]) -> Result<Record> {
        let name_len = usize::from(r[32]);
        let raw_name = r
            .get(33..33 + name_len)
            .ok_or_else(|| self.corrupt("a record's name runs past it".into()))?;
        let flags = r[25];
        let d = &r[18..25];
        let mtime = civil(1900 + i64::from(d[0]), d[1], d[2], d[3], d[4], d[5])
            - i64::from(d[6] as i8) * 15 * 60;
        let mut rec = Record {
            name: self.plain_name(raw_name),
            dir: flags & 2 != 0,
            extent: u64::from(le32(r, 2)),
            len: u64::from(le32(r, 10)),
            multi: flags & 0x80 != 0,
            mtime,
            mode: None,
            nlink: 1,
            uid: 0,
            gid: 0,
            link: None,
            device: None,
            child: None,
            relocated: false,
        };
        if self.rock_ridge {
            let su_start = 33 + name_len + usize::from(name_len % 2 == 0) + self.skip;
            if su_start < r.len() {
                self.rock_ridge_fields(&r[su_start..], &mut rec)?;
            }
        }
        Ok(rec)
    }

    fn plain_name(&self, raw: &[u8]) -> Vec<u8> {
        match raw {
            [0] => b".".to_vec(),
            [1] => b"..".to_vec(),
            _ if self.joliet => {
                let units: Vec<u16> = raw
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                let s = String::from_utf16_lossy(&units);
                let s = s.split(';').next().unwrap_or("").to_string();
                s.into_bytes()
            }
            _ => {
                let s = raw.split(|&c| c == b';').next().unwrap_or(raw);
                let s = s.strip_suffix(b".").unwrap_or(s);
                s.to_vec()
            }
        }
    }

    /// Walk the SUSP entries of a system use area (and its continuations).
    fn rock_ridge_fields(&self, first: &[u8], rec: &mut Record) -> Result<()> {
        let mut current = first.to_vec();
        let mut name: Option<Vec<u8>> = None;
        let mut link: Option<Vec<u8>> = None;
        let mut link_done = false;
        let mut ces = 0;
        loop {
            let area = &current[..];
            let mut next: Option<(u64, u64, u64)> = None;
            let mut pos = 0;
            while pos + 4 <= area.len() {
                let sig = &area[pos..pos + 2];
                let len = usize::from(area[pos + 2]);
                if len < 4 || pos + len > area.len() {
                    break;
                }
                let e = &area[pos..pos + len];
                match sig {
                    b"PX" if len >= 36 => {
                        rec.mode = Some(le32(e, 4));
                        rec.nlink = le32(e, 12);
                        rec.uid = le32(e, 20);
                        rec.gid = le32(e, 28);
                    }
                    b"NM" if len >= 5 => {
                        let flags = e[4];
                        if flags & 6 == 0 {
                            name.get_or_insert_with(Vec::new).extend_from_slice(&e[5..]);
                        }
                    }
                    b"SL" if len >= 5 && !link_done => {
                        let l = link.get_or_insert_with(Vec::new);
                        let mut p = 5;
                        while p + 2 <= e.len() {
                            let (cf, cl) = (e[p], usize::from(e[p + 1]));
                            let content = e.get(p + 2..p + 2 + cl).ok_or_else(|| {
                                self.corrupt("a symlink component runs past its entry".into())
                            })?;
                            // Each component after the first is separated by `/`, unless the
                            // one before continues into it.
                            if !l.is_empty() && !l.ends_with(b"/") && !l.ends_with(b"\0") {
                                l.push(b'/');
                            }
                            if l.ends_with(b"\0") {
                                l.pop();
                            }
                            match cf & 0x0e {
                                2 => l.push(b'.'),
                                4 => l.extend_from_slice(b".."),
                                8 => {
                                    l.clear();
                                    l.push(b'/');
                                }
                                _ => l.extend_from_slice(content),
                            }
                            if cf & 1 != 0 {
                                l.push(b'\0'); // continues: no separator before the next
                            }
                            p += 2 + cl;
                        }
                        if e[4] & 1 == 0 {
                            link_done = true;
                        }
                    }
                    b"TF" if len >= 5 => {
                        let flags = e[4];
                        let long = flags & 0x80 != 0;
                        let size = if long { 17 } else { 7 };
                        // Creation comes first when present; modification next.
                        let idx = usize::from(flags & 1 != 0);
                        if flags & 2 != 0 {
                            let at = 5 + idx * size;
                            if let Some(t) = e.get(at..at + size) {
                                rec.mtime = if long {
                                    long_time(t)
                                } else {
                                    civil(1900 + i64::from(t[0]), t[1], t[2], t[3], t[4], t[5])
                                        - i64::from(t[6] as i8) * 15 * 60
                                };
                            }
                        }
                    }
                    b"PN" if len >= 20 => {
                        // As Linux reads it: a 16-bit old encoding in `low` when `high` is 0,
                        // else major and minor.
                        let (hi, lo) = (le32(e, 4), le32(e, 12));
                        rec.device = Some(if hi == 0 && lo & !0xff != 0 {
                            (lo >> 8, lo & 0xff)
                        } else {
                            (hi, lo)
                        });
                    }
                    b"CL" if len >= 12 => rec.child = Some(u64::from(le32(e, 4))),
                    b"RE" => rec.relocated = true,
                    b"CE" if len >= 28 => {
                        next = Some((
                            u64::from(le32(e, 4)),
                            u64::from(le32(e, 12)),
                            u64::from(le32(e, 20)),
                        ));
                    }
                    b"ST" => break,
                    _ => {}
                }
                pos += len;
            }
            match next {
                Some((block, off, len)) if ces < MAX_CE && len <= SECTOR => {
                    ces += 1;
                    current = self.read(block * SECTOR + off, len)?;
                }
                Some(_) => {
                    return Err(self.corrupt("Rock Ridge continuation areas chain too far".into()))
                }
                None => break,
            }
        }
        if let Some(n) = name {
            if !n.is_empty() {
                rec.name = n;
            }
        }
        if let Some(mut l) = link {
            if l.ends_with(b"\0") {
                l.pop();
            }
            rec.link = Some(l);
        }
        Ok(())
    }
}

/// Seconds since the epoch of a civil UTC time (no leap seconds); out-of-range fields clamp.
fn civil(y: i64, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> i64 {
    let (mo, d) = (i64::from(mo.clamp(1, 12)), i64::from(d.clamp(1, 31)));
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + i64::from(h.min(23)) * 3600 + i64::from(mi.min(59)) * 60 + i64::from(s.min(59))
}

/// The 17-byte "long form" date: digits YYYYMMDDHHMMSSHH and a 15-minute offset.
fn long_time(t: &[u8]) -> i64 {
    let num = |a: usize, b: usize| -> i64 {
        std::str::from_utf8(&t[a..b])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    civil(
        num(0, 4),
        num(4, 6) as u8,
        num(6, 8) as u8,
        num(8, 10) as u8,
        num(10, 12) as u8,
        num(12, 14) as u8,
    ) - i64::from(t[16] as i8) * 15 * 60
}

/// What opening an ISO found: its own tree, or a live root filesystem inside it.
pub(crate) enum Opened {
    Tree(Box<(Iso, TreeBuilder)>),
    /// (path in the ISO, byte offset, length) of a squashfs to offer as the root.
    Live(String, u64, u64),
}

impl Iso {
    pub fn open(
        dev: Arc<dyn BlockDev>,
        what: &str,
        limits: Limits,
        progress: &dyn Progress,
        live: bool,
    ) -> Result<Opened> {
        let what = format!("ISO 9660 image {what}");
        let corrupt = |d: String| Error::corrupt(&what, d);
        // Volume descriptors: the primary, and a Joliet supplementary one if any.
        let (mut primary, mut joliet) = (None, None);
        for i in 16..16 + 64u64 {
            if (i + 1) * SECTOR > dev.size() {
                break;
            }
            let mut d = vec![0u8; SECTOR as usize];
            dev.read_at(i * SECTOR, &mut d)?;
            if &d[1..6] != b"CD001" {
                return Err(corrupt(format!("volume descriptor {i} has no CD001 mark")));
            }
            match d[0] {
                1 if primary.is_none() => primary = Some(d),
                2 if matches!(&d[88..91], b"%/@" | b"%/C" | b"%/E") => joliet = Some(d),
                255 => break,
                _ => {}
            }
        }
        let primary = primary.ok_or_else(|| corrupt("no primary volume descriptor".into()))?;
        if le16(&primary, 128) != SECTOR as u16 {
            return Err(Error::unsupported(
                &what,
                format!("logical block size {}", le16(&primary, 128)),
            ));
        }
        let mut reader = Reader {
            dev: dev.as_ref(),
            what: what.clone(),
            joliet: false,
            skip: 0,
            rock_ridge: false,
        };
        let root_rec = reader.record(&primary[156..190])?;
        // Rock Ridge: the root's `.` record starts its system use area with `SP`.
        let first = reader.read(root_rec.extent * SECTOR, SECTOR)?;
        let rl = usize::from(first[0]);
        if rl >= 34 + 7 {
            let nl = usize::from(first[32]);
            let su = 33 + nl + usize::from(nl % 2 == 0);
            if first.get(su..su + 2) == Some(b"SP")
                && first.get(su + 4..su + 6) == Some(&[0xbe, 0xef])
            {
                reader.rock_ridge = true;
                reader.skip = usize::from(first[su + 6]);
            }
        }
        let root_rec = if !reader.rock_ridge {
            match &joliet {
                Some(j) => {
                    reader.joliet = true;
                    reader.record(&j[156..190])?
                }
                None => root_rec,
            }
        } else {
            root_rec
        };
        let mut iso = Iso {
            dev: dev.clone(),
            files: Vec::new(),
        };
        let mut builder = TreeBuilder::new(false, limits).walked();
        progress.begin(&format!("reading {what}"), None);
        // The root's own attributes are on its `.` record (the descriptor's copy has no
        // system use area).
        let dot = reader
            .records(root_rec.extent, root_rec.len.min(SECTOR))?
            .into_iter()
            .find(|r| r.name == b".");
        let mut root_entry = dot.unwrap_or_else(|| root_rec.clone());
        root_entry.dir = true;
        builder.add(iso.entry("/".into(), &root_entry, None))?;
        let mut stack = vec![("/".to_string(), root_rec.extent, root_rec.len, 0usize)];
        let mut seen = HashSet::from([root_rec.extent]);
        let mut live_root = None;
        while let Some((path, extent, len, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(corrupt(format!("{path}: directories nest too deep")));
            }
            let records = reader.records(extent, len)?;
            // Multi-extent files: consecutive records of one name, the last without the flag.
            let mut pending: Option<(Record, Vec<(u64, u64)>)> = None;
            let mut names = BTreeMap::new();
            for r in records {
                if r.name == b"." || r.name == b".." || r.relocated {
                    continue;
                }
                if let Some((first, mut parts)) = pending.take() {
                    parts.push((r.extent, r.len));
                    if r.multi {
                        pending = Some((first, parts));
                        continue;
                    }
                    names.insert(first.name.clone(), (first, parts));
                    continue;
                }
                if r.multi && !r.dir {
                    pending = Some((r.clone(), vec![(r.extent, r.len)]));
                    continue;
                }
                let parts = vec![(r.extent, r.len)];
                names.insert(r.name.clone(), (r, parts));
            }
            for (name, (r, parts)) in names {
                let name_s = crate::names::from_bytes(&name);
                if name_s.is_empty() || name_s.contains('/') {
                    return Err(corrupt(format!("{path} has an entry named {name_s:?}")));
                }
                let child = crate::path::join(&path, &name_s);
                let (dir_extent, dir_len) = match (r.child, r.dir) {
                    (Some(c), _) => {
                        let dot = reader.records(c, SECTOR)?;
                        let len = dot.first().map_or(SECTOR, |d| d.len);
                        (Some(c), len)
                    }
                    (None, true) => (Some(r.extent), r.len),
                    _ => (None, 0),
                };
                if let Some(e) = dir_extent {
                    if !seen.insert(e) {
                        return Err(corrupt(format!("directory loop at {child}")));
                    }
                    let mut rr = r;
                    rr.dir = true;
                    builder.add(iso.entry(child.clone(), &rr, None))?;
                    stack.push((child, e, dir_len, depth + 1));
                } else {
                    let total: u64 = parts.iter().map(|p| p.1).sum();
                    if live && live_root.is_none() && parts.len() == 1 && is_live_root(&child) {
                        live_root = Some((child.clone(), parts[0].0 * SECTOR, total));
                    }
                    builder.add(iso.entry(child, &r, Some((parts, total))))?;
                }
            }
        }
        progress.end();
        if let Some((p, at, len)) = live_root {
            return Ok(Opened::Live(p, at, len));
        }
        Ok(Opened::Tree(Box::new((iso, builder))))
    }

    fn entry(
        &mut self,
        path: String,
        r: &Record,
        data: Option<(Vec<(u64, u64)>, u64)>,
    ) -> RawEntry {
        let kind = match (r.mode.and_then(EntryKind::from_mode), r.dir, &r.link) {
            (Some(k), _, _) => k,
            (None, true, _) => EntryKind::Dir,
            (None, false, Some(_)) => EntryKind::Symlink,
            (None, false, None) => EntryKind::File,
        };
        let kind = if r.dir { EntryKind::Dir } else { kind };
        let mode = r
            .mode
            .map_or(if kind == EntryKind::Dir { 0o555 } else { 0o444 }, |m| {
                m & 0o7777
            });
        let (content, size) = match (kind, data) {
            (EntryKind::File, Some((parts, total))) => {
                // Extents in 2048-byte blocks, logically contiguous.
                let mut ext = Vec::new();
                let mut logical = 0u64;
                for (at, len) in parts {
                    let blocks = len.div_ceil(SECTOR);
                    ext.push(Extent {
                        logical,
                        physical: at,
                        len: blocks,
                        uninit: false,
                    });
                    logical += blocks;
                }
                self.files.push((ext, total));
                (
                    Content::Iso {
                        file: (self.files.len() - 1) as u32,
                    },
                    total,
                )
            }
            (EntryKind::Symlink, _) => {
                (Content::None, r.link.as_ref().map_or(0, |l| l.len() as u64))
            }
            _ => (Content::None, 0),
        };
        RawEntry {
            name: path,
            entry: Entry {
                path: String::new(),
                kind,
                mode,
                uid: r.uid,
                gid: r.gid,
                size,
                mtime: r.mtime,
                mtime_nsec: 0,
                link: r.link.as_deref().map(crate::names::from_bytes),
                device: r
                    .device
                    .filter(|_| matches!(kind, EntryKind::Char | EntryKind::Block)),
                xattrs: BTreeMap::new(),
                layer: None,
            },
            content,
            identity: None,
            linked: false,
        }
    }

    pub fn open_file(&self, file: u32, size: u64) -> Result<FileReader> {
        let (ext, _) = self
            .files
            .get(file as usize)
            .ok_or_else(|| Error::corrupt("ISO 9660 image", "no such file"))?;
        Ok(FileReader::seekable(FileData {
            dev: self.dev.clone(),
            block_size: SECTOR,
            data: DataMap::Extents(ext.clone()),
            size,
            pos: 0,
        }))
    }
}

/// A live system's root filesystem, as Debian Live and Ubuntu's casper lay it out.
fn is_live_root(path: &str) -> bool {
    path == "/live/filesystem.squashfs"
        || (path.starts_with("/casper/")
            && path.ends_with(".squashfs")
            && path.matches('/').count() == 2)
}
