//! VHD (Virtual Hard Disk, Microsoft's "Virtual Hard Disk Image Format Specification" 1.0):
//! fixed disks (the raw bytes followed by a 512-byte footer) and dynamic ones (a footer copy, a
//! dynamic header, a block allocation table of 32-bit sector numbers; each allocated block is a
//! sector bitmap then the data). Differencing disks are refused by name. Every checksum, size
//! and table entry is checked before use.

use std::sync::Arc;

use crate::disk::{BlockDev, RawFile, Slice};
use crate::error::{Error, Result};

/// BAT entries past this are refused (64 MiB of table, 2^24 blocks).
const MAX_BAT_ENTRIES: u32 = 1 << 24;
const UNALLOCATED: u32 = 0xffff_ffff;

fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn be64(b: &[u8], o: usize) -> u64 {
    (u64::from(be32(b, o)) << 32) | u64::from(be32(b, o + 4))
}

/// The spec's checksum: the one's complement of the byte sum, the checksum field left out.
fn checksum(b: &[u8], field: usize) -> u32 {
    let sum = b
        .iter()
        .enumerate()
        .filter(|(i, _)| !(field..field + 4).contains(i))
        .fold(0u32, |s, (_, &x)| s.wrapping_add(u32::from(x)));
    !sum
}

/// A footer at the end of the file (fixed and dynamic disks), or its copy at the start.
pub(crate) fn has_footer(file: &RawFile) -> Result<bool> {
    let mut head = [0u8; 8];
    if file.size() >= 512 {
        file.read_at(0, &mut head)?;
        if &head == b"conectix" {
            return Ok(true);
        }
        file.read_at(file.size() - 512, &mut head)?;
        return Ok(&head == b"conectix");
    }
    Ok(false)
}

pub(crate) struct DynamicVhd {
    file: RawFile,
    size: u64,
    block: u64,
    bitmap: u64,
    bat: Vec<u32>,
}

/// Open a VHD; returns the device and its kind (`vhd-fixed`, `vhd-dynamic`).
pub(crate) fn open(file: RawFile) -> Result<(Arc<dyn BlockDev>, &'static str)> {
    let what = format!("VHD {}", file.describe());
    let corrupt = |d: String| Error::corrupt(&what, d);
    let len = file.size();
    if len < 512 {
        return Err(corrupt("shorter than a footer".into()));
    }
    let mut footer = [0u8; 512];
    file.read_at(len - 512, &mut footer)?;
    let at_end = &footer[..8] == b"conectix";
    if !at_end {
        // A dynamic disk keeps a copy at the start; the end one may be lost to truncation.
        file.read_at(0, &mut footer)?;
        if &footer[..8] != b"conectix" {
            return Err(corrupt(
                "no footer (\"conectix\") at the end or the start".into(),
            ));
        }
    }
    if checksum(&footer, 64) != be32(&footer, 64) {
        return Err(corrupt("footer checksum does not match".into()));
    }
    let size = be64(&footer, 48);
    let kind = be32(&footer, 60);
    match kind {
        2 => {
            if !at_end || size.checked_add(512).is_none_or(|n| n > len) {
                return Err(corrupt(format!(
                    "fixed disk of {size} bytes, but the file is {len} bytes"
                )));
            }
            let name = file.describe();
            Ok((
                Arc::new(Slice {
                    dev: Arc::new(file),
                    start: 0,
                    len: size,
                    name,
                }),
                "vhd-fixed",
            ))
        }
        3 => Ok((Arc::new(DynamicVhd::open(file, &footer, size)?), "vhd-dynamic")),
        4 => Err(Error::unsupported(
            what,
            "a differencing disk (it needs its parent); merge it with qemu-img convert -O vpc first",
        )),
        k => Err(corrupt(format!("disk type {k} is none of fixed (2), dynamic (3), differencing (4)"))),
    }
}

impl DynamicVhd {
    fn open(file: RawFile, footer: &[u8], size: u64) -> Result<DynamicVhd> {
        let what = format!("VHD {}", file.describe());
        let corrupt = |d: String| Error::corrupt(&what, d);
        let header_at = be64(footer, 16);
        if header_at
            .checked_add(1024)
            .is_none_or(|end| end > file.size())
        {
            return Err(corrupt(format!(
                "dynamic header offset {header_at} lies past the end of the file"
            )));
        }
        let mut h = [0u8; 1024];
        file.read_at(header_at, &mut h)?;
        if &h[..8] != b"cxsparse" {
            return Err(corrupt("no dynamic header (\"cxsparse\")".into()));
        }
        if checksum(&h, 36) != be32(&h, 36) {
            return Err(corrupt("dynamic header checksum does not match".into()));
        }
        let table = be64(&h, 16);
        let entries = be32(&h, 28);
        let block = u64::from(be32(&h, 32));
        if !block.is_power_of_two() || !(512..=(256 << 20)).contains(&block) {
            return Err(corrupt(format!(
                "block size {block} is not a power of two in 512 B..256 MiB"
            )));
        }
        if entries > MAX_BAT_ENTRIES || u64::from(entries) * block < size {
            return Err(corrupt(format!(
                "{entries} blocks of {block} bytes cannot hold a {size}-byte disk"
            )));
        }
        let bat_len = u64::from(entries) * 4;
        if table
            .checked_add(bat_len)
            .is_none_or(|end| end > file.size())
        {
            return Err(corrupt(format!(
                "block table at {table} ({bat_len} bytes) lies past the end of the file"
            )));
        }
        let mut raw = vec![0u8; bat_len as usize];
        file.read_at(table, &mut raw)?;
        let bat = raw.chunks_exact(4).map(|c| be32(c, 0)).collect();
        // One bit per sector, padded to whole sectors.
        let bitmap = (block / 512).div_ceil(8).div_ceil(512) * 512;
        Ok(DynamicVhd {
            file,
            size,
            block,
            bitmap,
            bat,
        })
    }
}

impl BlockDev for DynamicVhd {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        crate::disk::read_chunks(self, self.block, offset, buf, |off, within, part| {
            match self.bat.get((off / self.block) as usize).copied() {
                None | Some(UNALLOCATED) => part.fill(0),
                Some(sector) => {
                    let host = u64::from(sector) * 512 + self.bitmap + within;
                    if host
                        .checked_add(part.len() as u64)
                        .is_none_or(|end| end > self.file.size())
                    {
                        return Err(Error::corrupt(
                            self.describe(),
                            format!("block at sector {sector} lies past the end of the file"),
                        ));
                    }
                    self.file.read_at(host, part)?;
                }
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        format!("VHD {}", self.file.describe())
    }
}
