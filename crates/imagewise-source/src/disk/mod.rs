//! `disk:` — disk images: raw, qcow2, VMDK (monolithic sparse, stream-optimized), VHD (fixed,
//! dynamic) and VHDX, detected by magic; a block device, its partition table (MBR or GPT, or none
//! for a bare filesystem), and the ext2/3/4, XFS, Btrfs or squashfs filesystem on the chosen
//! partition.

pub(crate) mod btrfs;
pub(crate) mod ext4;
pub(crate) mod iso;
mod lvm;
mod partition;
mod qcow2;
pub(crate) mod squashfs;
mod vhd;
mod vhdx;
mod vmdk;
pub(crate) mod xfs;

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::info::{DiskInfo, Format, ImageInfo, PartitionInfo};
use crate::reference::PartitionSel;
use crate::tree::{Backend, ImageTree, RawEntry, TreeBuilder};
use crate::OpenOptions;
use imagewise_types::Progress;

/// What the shared directory walk needs from a filesystem reader: nodes by number, a
/// directory's (name, number) pairs, and the entry a node makes.
pub(crate) trait Walk {
    type Node;
    /// The filesystem, for errors (`ext4 filesystem on …`).
    fn what(&self) -> &str;
    fn node(&self, id: u64) -> Result<Self::Node>;
    fn children(&self, id: u64, node: &Self::Node) -> Result<Vec<(Vec<u8>, u64)>>;
    fn entry(&self, path: String, id: u64, node: &Self::Node) -> Result<RawEntry>;
    fn is_dir(node: &Self::Node) -> bool;
}

/// Whether `path` (absolute, no symlinks followed) names something in the filesystem: for
/// choosing the partition that holds `/etc/os-release`.
pub(crate) fn exists<W: Walk>(fs: &W, root: u64, path: &str) -> bool {
    let mut id = root;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let Ok(node) = fs.node(id) else { return false };
        if !W::is_dir(&node) {
            return false;
        }
        let Ok(children) = fs.children(id, &node) else {
            return false;
        };
        match children.into_iter().find(|(n, _)| n == part.as_bytes()) {
            Some((_, child)) => id = child,
            None => return false,
        }
    }
    true
}

/// Walk a filesystem from `root` into `builder`: directories depth-first, names sorted, `.`
/// and `..` skipped; a name that is empty or holds `/`, or a directory reached twice, is
/// corruption.
pub(crate) fn walk_tree<W: Walk>(
    fs: &W,
    root: u64,
    mut builder: TreeBuilder,
    progress: &dyn Progress,
) -> Result<TreeBuilder> {
    let corrupt = |d: String| Error::corrupt(fs.what(), d);
    progress.begin(&format!("reading {}", fs.what()), None);
    let root_node = fs.node(root)?;
    let first = fs.entry("/".into(), root, &root_node)?;
    if first.entry.kind != crate::entry::EntryKind::Dir {
        return Err(corrupt("the root inode is not a directory".into()));
    }
    builder.add(first)?;
    let mut visited = std::collections::HashSet::from([root]);
    let mut stack = vec![("/".to_string(), root, root_node)];
    let mut n = 0u64;
    while let Some((dir_path, dir_id, dir)) = stack.pop() {
        let mut children = fs.children(dir_id, &dir)?;
        children.sort();
        for (name, id) in children {
            if name == b"." || name == b".." {
                continue;
            }
            let name = crate::names::from_bytes(&name);
            if name.is_empty() || name.contains('/') {
                return Err(corrupt(format!(
                    "directory {dir_path} has an entry named {name:?}"
                )));
            }
            let path = crate::path::join(&dir_path, &name);
            let node = fs.node(id)?;
            let raw = fs.entry(path.clone(), id, &node)?;
            let is_dir = raw.entry.kind == crate::entry::EntryKind::Dir;
            builder.add(raw)?;
            n += 1;
            if n.is_multiple_of(1024) {
                progress.advance(0);
            }
            if is_dir {
                if !visited.insert(id) {
                    return Err(corrupt(format!(
                        "directory loop: {path} is inode {id}, already seen"
                    )));
                }
                stack.push((path, id, node));
            }
        }
    }
    progress.end();
    Ok(builder)
}

/// The read loop of a device made of fixed-size chunks (VHD blocks, VHDX blocks, VMDK grains):
/// refuses a read past `size`, then calls `part(offset, offset within its chunk, bytes)` for
/// each piece of `buf` that lies within one chunk.
pub(crate) fn read_chunks(
    dev: &dyn BlockDev,
    chunk: u64,
    offset: u64,
    buf: &mut [u8],
    mut part: impl FnMut(u64, u64, &mut [u8]) -> Result<()>,
) -> Result<()> {
    if offset
        .checked_add(buf.len() as u64)
        .is_none_or(|end| end > dev.size())
    {
        return Err(Error::corrupt(
            dev.describe(),
            format!(
                "read at {offset} goes past the virtual disk size {}",
                dev.size()
            ),
        ));
    }
    let mut done = 0usize;
    while done < buf.len() {
        let off = offset + done as u64;
        let within = off % chunk;
        let n = ((chunk - within) as usize).min(buf.len() - done);
        part(off, within, &mut buf[done..done + n])?;
        done += n;
    }
    Ok(())
}

/// Random-access, read-only bytes of a disk (or a window of one).
pub(crate) trait BlockDev: Send + Sync {
    fn size(&self) -> u64;
    /// Fill `buf` from `offset`; reading past the end is an error.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;
    fn describe(&self) -> String;
}

pub(crate) struct RawFile {
    file: std::fs::File,
    len: u64,
    path: std::path::PathBuf,
}

impl RawFile {
    pub fn open(path: &Path) -> Result<RawFile> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        Ok(RawFile {
            file,
            len,
            path: path.to_path_buf(),
        })
    }
}

impl BlockDev for RawFile {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > self.len)
        {
            return Err(Error::corrupt(
                self.describe(),
                format!("read of {} bytes at offset {offset} goes past the end ({} bytes): the image is truncated", buf.len(), self.len),
            ));
        }
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| Error::io(&self.path, e))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

impl RawFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A window `[start, start+len)` of another device.
#[derive(Clone)]
pub(crate) struct Slice {
    pub dev: Arc<dyn BlockDev>,
    pub start: u64,
    pub len: u64,
    pub name: String,
}

impl BlockDev for Slice {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > self.len)
        {
            return Err(Error::corrupt(
                &self.name,
                format!(
                    "read at offset {offset} goes past the end of the partition ({} bytes)",
                    self.len
                ),
            ));
        }
        self.dev.read_at(self.start + offset, buf)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// Open a disk container (raw, qcow2, VMDK, VHD, VHDX; by magic).
fn open_container(path: &Path, opts: &OpenOptions) -> Result<(Arc<dyn BlockDev>, &'static str)> {
    let raw = RawFile::open(path)?;
    let mut head = [0u8; 32];
    let n = (raw.size() as usize).min(head.len());
    raw.read_at(0, &mut head[..n])?;
    let head = &head[..n];
    if head.starts_with(b"QFI\xfb") {
        Ok((
            Arc::new(qcow2::Qcow2::open(raw, opts.allow_backing, 0)?),
            "qcow2",
        ))
    } else if vmdk::is_sparse(head) {
        let v = vmdk::Vmdk::open(raw)?;
        Ok((Arc::new(v), "vmdk"))
    } else if vmdk::is_descriptor(head) {
        Err(vmdk::descriptor_error(&raw))
    } else if vhdx::is_vhdx(&raw)? {
        Ok((Arc::new(vhdx::Vhdx::open(raw)?), "vhdx"))
    } else if vhd::has_footer(&raw)? {
        vhd::open(raw)
    } else {
        Ok((Arc::new(raw), "raw"))
    }
}

/// The virtual disk inside a disk image (raw, qcow2, VMDK, VHD, VHDX; by magic) as a stream of
/// bytes: what `qemu-img convert -O raw` writes. The seam for exporting a disk to another
/// container, and how the container readers are checked against qemu-img.
pub struct DiskBytes {
    dev: Arc<dyn BlockDev>,
    container: &'static str,
    pos: u64,
}

impl DiskBytes {
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<DiskBytes> {
        let (dev, container) = open_container(path, opts)?;
        Ok(DiskBytes {
            dev,
            container,
            pos: 0,
        })
    }

    /// `raw`, `qcow2`, `vmdk`, `vhd-fixed`, `vhd-dynamic` or `vhdx`.
    pub fn container(&self) -> &str {
        self.container
    }

    /// The virtual disk's size in bytes.
    pub fn size(&self) -> u64 {
        self.dev.size()
    }
}

impl std::io::Read for DiskBytes {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.dev.size().saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.dev
            .read_at(self.pos, &mut buf[..n])
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for DiskBytes {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        self.pos = crate::blob::seek_target(to, self.pos, self.dev.size())?;
        Ok(self.pos)
    }
}

/// Whether the first bytes (and the last 512) of a file are one of the disk containers.
pub(crate) fn is_container(path: &Path, head: &[u8]) -> Result<bool> {
    let raw = RawFile::open(path)?;
    if iso::is_iso(&raw) {
        return Ok(true);
    }
    if head.starts_with(b"QFI\xfb")
        || vmdk::is_sparse(head)
        || vmdk::is_descriptor(head)
        || head.starts_with(b"vhdxfile")
    {
        return Ok(true);
    }
    vhd::has_footer(&raw)
}

/// Name of the filesystem found at the start of `dev`, if any is recognised.
fn filesystem_name(dev: &dyn BlockDev) -> Option<&'static str> {
    probe(dev).map(|p| p.name)
}

/// A filesystem's name and the identity fstab and udev use: UUID and label.
struct Probe {
    name: &'static str,
    uuid: Option<String>,
    label: Option<String>,
}

/// 16 bytes as blkid prints a UUID; `None` when all zero.
fn uuid_at(head: &[u8], off: usize) -> Option<String> {
    let b = head.get(off..off + 16)?;
    if b.iter().all(|&x| x == 0) {
        return None;
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// A fixed-size label field: up to the first NUL, trailing spaces trimmed; `None` when empty.
fn label_at(head: &[u8], off: usize, len: usize) -> Option<String> {
    let b = head.get(off..off + len)?;
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(&b[..end]).trim_end().to_string();
    (!s.is_empty()).then_some(s)
}

fn probe(dev: &dyn BlockDev) -> Option<Probe> {
    let mut head = vec![0u8; 0x10400.min(dev.size() as usize)];
    dev.read_at(0, &mut head).ok()?;
    let at = |off: usize, magic: &[u8]| head.get(off..off + magic.len()) == Some(magic);
    let named = |name| Probe {
        name,
        uuid: None,
        label: None,
    };
    if at(1080, &[0x53, 0xef]) {
        let incompat = head
            .get(1024 + 0x60..1024 + 0x64)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        // ext4 disk layout: s_uuid at 0x68, s_volume_name (16 bytes) at 0x78.
        return Some(Probe {
            name: match incompat {
                Some(f) if f & 0x40 != 0 => "ext4",
                Some(f) if f & 0x4 != 0 => "ext3",
                _ => "ext2",
            },
            uuid: uuid_at(&head, 1024 + 0x68),
            label: label_at(&head, 1024 + 0x78, 16),
        });
    }
    if at(0, b"XFSB") {
        // xfs superblock: sb_uuid at 32, sb_fname (12 bytes) at 108.
        return Some(Probe {
            name: "xfs",
            uuid: uuid_at(&head, 32),
            label: label_at(&head, 108, 12),
        });
    }
    if at(0x10040, b"_BHRfS_M") {
        // btrfs superblock at 64 KiB: fsid at +0x20, label (256 bytes) at +0x12b.
        return Some(Probe {
            name: "btrfs",
            uuid: uuid_at(&head, 0x10020),
            label: label_at(&head, 0x1012b, 256),
        });
    }
    if at(0, b"LUKS\xba\xbe") {
        return Some(named("LUKS (encrypted)"));
    }
    if at(512 + 24, b"LVM2 001") || at(512, b"LABELONE") {
        return Some(named("LVM physical volume"));
    }
    if at(0, b"hsqs") {
        return Some(named("squashfs"));
    }
    if at(4086, b"SWAPSPACE2") || at(4086, b"SWAP-SPACE") {
        // swap header: uuid at 1024+12, volume name (16 bytes) at 1024+28.
        return Some(Probe {
            name: "swap",
            uuid: uuid_at(&head, 1024 + 12),
            label: label_at(&head, 1024 + 28, 16),
        });
    }
    // FAT: the volume serial blkid prints as XXXX-XXXX and the 11-byte label, at 0x43/0x47
    // (FAT32) or 0x27/0x2b (FAT12/16).
    let fat = |id: usize, label: usize| {
        let serial = head
            .get(id..id + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))?;
        Some(Probe {
            name: "vfat",
            uuid: Some(format!("{:04X}-{:04X}", serial >> 16, serial & 0xffff)),
            label: label_at(&head, label, 11).filter(|l| l != "NO NAME"),
        })
    };
    if at(0x52, b"FAT32   ") {
        return fat(0x43, 0x47);
    }
    if at(0x36, b"FAT16   ") || at(0x36, b"FAT12   ") {
        return fat(0x27, 0x2b);
    }
    if at(0x8001, b"CD001") {
        return Some(named("iso9660"));
    }
    if at(0x400, &[0x10, 0x20, 0xf5, 0xf2]) {
        return Some(named("f2fs"));
    }
    None
}

/// Does a bare file hold a filesystem we can name? (For autodetection of raw disks.)
pub(crate) fn probe_filesystem_at(path: &Path) -> Result<bool> {
    let raw = RawFile::open(path)?;
    Ok(filesystem_name(&raw).is_some())
}

pub(crate) fn open(
    reference: &str,
    path: &Path,
    partition: Option<&PartitionSel>,
    opts: &OpenOptions,
    progress: &dyn Progress,
) -> Result<ImageTree> {
    let (dev, container) = open_container(path, opts)?;
    if iso::is_iso(dev.as_ref()) {
        return open_iso(reference, path, dev, container, partition, opts, progress);
    }
    let table = partition::read_table(dev.as_ref(), reference)?;
    let mut infos = Vec::new();
    let mut ids: Vec<(Option<String>, Option<String>)> = Vec::new();
    // For each entry: the LVM logical volume it is (`vg/lv`) and why it cannot be read.
    let mut volumes: Vec<Option<(String, Option<String>)>> = Vec::new();
    for p in &table.partitions {
        let slice = Slice {
            dev: dev.clone(),
            start: p.start,
            len: p.size,
            name: format!("{reference} partition {}", p.number),
        };
        let found = probe(&slice);
        let fs = found.as_ref().map_or("unknown", |f| f.name);
        let is_pv = fs == "LVM physical volume";
        ids.push(found.map(|f| (f.uuid, f.label)).unwrap_or_default());
        infos.push((p.clone(), fs.to_string(), slice.clone()));
        volumes.push(None);
        if !is_pv {
            continue;
        }
        // A physical volume: its logical volumes are offered like partitions (`#vg/lv`).
        let Some((uuid, areas)) = lvm::label(&slice)? else {
            continue;
        };
        for v in lvm::volumes(&slice, &uuid, &areas)? {
            let name = v.name.clone();
            let unsupported = v.unsupported.clone();
            let size = v.size;
            let lv = Slice {
                dev: Arc::new(lvm::LvDev {
                    dev: Arc::new(slice.clone()),
                    volume: v,
                }),
                start: 0,
                len: size,
                name: format!("{reference} volume {name}"),
            };
            let found = if unsupported.is_none() {
                probe(&lv)
            } else {
                None
            };
            let fs = found.as_ref().map_or("unknown", |f| f.name);
            ids.push(found.map(|f| (f.uuid, f.label)).unwrap_or_default());
            infos.push((
                partition::Partition {
                    number: 0,
                    start: 0,
                    size,
                    type_name: "LVM2 logical volume".into(),
                    label: Some(name.clone()),
                    uuid: None,
                },
                fs.to_string(),
                lv,
            ));
            volumes.push(Some((name, unsupported)));
        }
    }
    let describe = |i: usize| {
        let (p, fs, _) = &infos[i];
        PartitionInfo {
            number: p.number,
            table: if volumes[i].is_some() {
                "lvm".to_string()
            } else {
                table.kind.to_string()
            },
            type_name: p.type_name.clone(),
            start: p.start,
            size: p.size,
            filesystem: fs.to_string(),
            label: p.label.clone(),
            part_uuid: p.uuid.clone(),
            fs_uuid: ids[i].0.clone(),
            fs_label: ids[i].1.clone(),
            subvolume: None,
        }
    };
    let listing = || -> String {
        let have: Vec<String> = infos
            .iter()
            .zip(&volumes)
            .map(|((p, fs, _), v)| match v {
                Some((name, _)) => format!("{name} (LVM, {fs})"),
                None => format!("{} ({}, {fs})", p.number, p.type_name),
            })
            .collect();
        if have.is_empty() {
            "none".into()
        } else {
            have.join(", ")
        }
    };
    let subvol = match partition {
        Some(PartitionSel::Subvolume { path, .. }) => Some(path.as_str()),
        _ => None,
    };
    let (chosen, opened) = match partition {
        Some(PartitionSel::Subvolume {
            partition: Some(n), ..
        })
        | Some(PartitionSel::Number(n)) => {
            let i = infos
                .iter()
                .zip(&volumes)
                .position(|((p, _, _), v)| v.is_none() && p.number == *n)
                .ok_or_else(|| {
                    Error::not_found(
                        reference,
                        format!("no partition {n}; the disk has: {}", listing()),
                    )
                })?;
            (i, None)
        }
        Some(PartitionSel::Volume(name)) => {
            let i = volumes
                .iter()
                .position(|v| v.as_ref().is_some_and(|(n, _)| n == name))
                .ok_or_else(|| {
                    Error::not_found(
                        reference,
                        format!("no logical volume {name}; the disk has: {}", listing()),
                    )
                })?;
            if let Some((_, Some(why))) = &volumes[i] {
                return Err(Error::unsupported(
                    format!("{reference} logical volume {name}"),
                    why.clone(),
                ));
            }
            (i, None)
        }
        Some(PartitionSel::Subvolume {
            partition: None,
            path,
        }) => pick_btrfs(&infos, reference, path)?,
        None => pick_default(&infos, reference)?,
    };
    let (p, fs_name, slice) = &infos[chosen];
    if !readable(fs_name) {
        return Err(not_readable(reference, p, fs_name));
    }
    if subvol.is_some() && fs_name != "btrfs" {
        return Err(Error::not_found(
            reference,
            format!(
                "partition {} holds {fs_name}, which has no subvolumes; the disk has: {}",
                p.number,
                listing()
            ),
        ));
    }
    let fs = match opened {
        Some(fs) => fs,
        None => Fs::open(fs_name, slice, subvol)?,
    };
    let mut selected = describe(chosen);
    if let Fs::Btrfs(b) = &fs {
        selected.subvolume = b.subvolume().map(str::to_string);
    }
    let mut info = ImageInfo::new(reference, Format::Disk, path.to_path_buf());
    info.disk = Some(DiskInfo {
        container: container.to_string(),
        virtual_size: dev.size(),
        partitions: (0..infos.len()).map(describe).collect(),
        selected,
    });
    Ok(match fs {
        Fs::Ext4(fs) => {
            let builder = fs.walk(opts.limits, progress)?;
            builder.finish(info, Backend::Ext4(fs))
        }
        Fs::Xfs(fs) => {
            let builder = fs.walk(opts.limits, progress)?;
            builder.finish(info, Backend::Xfs(fs))
        }
        Fs::Btrfs(fs) => {
            let builder = fs.walk(opts.limits, progress)?;
            builder.finish(info, Backend::Btrfs(fs))
        }
        Fs::Squashfs(fs) => {
            let builder = fs.walk(opts.limits, progress)?;
            builder.finish(info, Backend::Squashfs(fs))
        }
    })
}

/// An ISO 9660 image: a live system's root filesystem inside it when there is one (`#0`
/// asks for the ISO's own tree), the ISO's tree otherwise.
fn open_iso(
    reference: &str,
    path: &Path,
    dev: Arc<dyn BlockDev>,
    container: &str,
    partition: Option<&PartitionSel>,
    opts: &OpenOptions,
    progress: &dyn Progress,
) -> Result<ImageTree> {
    let live = match partition {
        None => true,
        Some(PartitionSel::Number(0)) => false,
        Some(other) => {
            return Err(Error::not_found(
                reference,
                format!("no partition {other} in an ISO 9660 image: none for the live root filesystem (if any), #0 for the ISO's own tree"),
            ))
        }
    };
    let mut info = ImageInfo::new(reference, Format::Disk, path.to_path_buf());
    let part = |fs: &str, label: Option<String>, size: u64| PartitionInfo {
        number: 0,
        table: "iso9660".into(),
        type_name: if label.is_some() {
            "live root filesystem".into()
        } else {
            "ISO 9660 tree".into()
        },
        start: 0,
        size,
        filesystem: fs.into(),
        label,
        part_uuid: None,
        fs_uuid: None,
        fs_label: None,
        subvolume: None,
    };
    match iso::Iso::open(dev.clone(), reference, opts.limits, progress, live)? {
        iso::Opened::Tree(opened) => {
            let (fs, builder) = *opened;
            let p = part("iso9660", None, dev.size());
            info.disk = Some(DiskInfo {
                container: container.to_string(),
                virtual_size: dev.size(),
                partitions: vec![p.clone()],
                selected: p,
            });
            Ok(builder.finish(info, Backend::Iso(fs)))
        }
        iso::Opened::Live(inside, at, len) => {
            let slice = Slice {
                dev: dev.clone(),
                start: at,
                len,
                name: format!("{reference} {inside}"),
            };
            if probe(&slice).map(|p| p.name) != Some("squashfs") {
                return Err(Error::unsupported(
                    format!("{reference} {inside}"),
                    "the live root filesystem is not a squashfs imagewise recognises; open the ISO's own tree with #0",
                ));
            }
            let fs = squashfs::Squashfs::open(Arc::new(slice), &format!("{reference} {inside}"))?;
            let p = part(
                "squashfs",
                Some(inside.trim_start_matches('/').to_string()),
                len,
            );
            info.disk = Some(DiskInfo {
                container: container.to_string(),
                virtual_size: dev.size(),
                partitions: vec![part("iso9660", None, dev.size()), p.clone()],
                selected: p,
            });
            let builder = fs.walk(opts.limits, progress)?;
            Ok(builder.finish(info, Backend::Squashfs(fs)))
        }
    }
}

/// The filesystems imagewise reads.
enum Fs {
    Ext4(ext4::Ext4),
    Xfs(xfs::Xfs),
    Btrfs(btrfs::Btrfs),
    Squashfs(squashfs::Squashfs),
}

impl Fs {
    /// Open filesystem `name` on `slice`; `subvol` is a Btrfs subvolume's path.
    fn open(name: &str, slice: &Slice, subvol: Option<&str>) -> Result<Fs> {
        if name == "btrfs" {
            Ok(Fs::Btrfs(btrfs::Btrfs::open(
                Arc::new(slice.clone()),
                &slice.name,
                subvol,
            )?))
        } else if name == "xfs" {
            Ok(Fs::Xfs(xfs::Xfs::open(
                Arc::new(slice.clone()),
                &slice.name,
            )?))
        } else if name == "squashfs" {
            Ok(Fs::Squashfs(squashfs::Squashfs::open(
                Arc::new(slice.clone()),
                &slice.name,
            )?))
        } else {
            Ok(Fs::Ext4(ext4::Ext4::open(
                Arc::new(slice.clone()),
                &slice.name,
            )?))
        }
    }

    fn exists(&self, path: &str) -> bool {
        match self {
            Fs::Ext4(f) => f.exists(path),
            Fs::Xfs(f) => f.exists(path),
            Fs::Btrfs(f) => f.exists(path),
            Fs::Squashfs(f) => f.exists(path),
        }
    }
}

fn readable(fs_name: &str) -> bool {
    fs_name.starts_with("ext") || ["xfs", "btrfs", "squashfs"].contains(&fs_name)
}

fn not_readable(reference: &str, p: &partition::Partition, fs_name: &str) -> Error {
    Error::unsupported(
        format!("{reference} partition {} ({})", p.number, p.type_name),
        if fs_name == "unknown" {
            "no filesystem imagewise recognises is on it; imagewise reads ext2/3/4, XFS, Btrfs and squashfs"
                .to_string()
        } else {
            format!(
                "it holds {fs_name}; imagewise reads ext2/3/4, XFS, Btrfs and squashfs filesystems so far"
            )
        },
    )
}

/// The Btrfs partition holding subvolume `path` (the first, by partition order, when several
/// are Btrfs), opened.
fn pick_btrfs(
    infos: &[(partition::Partition, String, Slice)],
    reference: &str,
    path: &str,
) -> Result<(usize, Option<Fs>)> {
    let mut first_error = None;
    for (i, (_, fs, slice)) in infos.iter().enumerate() {
        if fs != "btrfs" {
            continue;
        }
        match Fs::open(fs, slice, Some(path)) {
            Ok(fs) => return Ok((i, Some(fs))),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| {
        Error::not_found(
            reference,
            format!("no Btrfs filesystem on the disk holds a subvolume {path}"),
        )
    }))
}

/// The partition holding `/etc/os-release`, else the largest Linux (ext, XFS, Btrfs) one; with
/// the filesystem when it had to be opened to look.
fn pick_default(
    infos: &[(partition::Partition, String, Slice)],
    reference: &str,
) -> Result<(usize, Option<Fs>)> {
    let linux: Vec<usize> = (0..infos.len())
        .filter(|&i| readable(&infos[i].1))
        .collect();
    for &i in &linux {
        if let Ok(fs) = Fs::open(&infos[i].1, &infos[i].2, None) {
            if fs.exists("/etc/os-release") || fs.exists("/usr/lib/os-release") {
                return Ok((i, Some(fs)));
            }
        }
    }
    if let Some(&i) = linux.iter().max_by_key(|&&i| infos[i].0.size) {
        return Ok((i, None));
    }
    match infos {
        [] => Err(Error::corrupt(
            reference,
            "the partition table lists no partitions",
        )),
        [(p, fs, _)] => Err(not_readable(reference, p, fs)),
        _ => {
            let have: Vec<String> = infos
                .iter()
                .map(|(p, fs, _)| format!("{} ({}, {fs})", p.number, p.type_name))
                .collect();
            Err(Error::unsupported(
                reference,
                format!("no partition holds an ext2/3/4, XFS, Btrfs or squashfs filesystem (partitions: {}); imagewise reads those so far", have.join(", ")),
            ))
        }
    }
}
