//! VHDX (Microsoft's [MS-VHDX] 1.0): the file identifier, two headers (the valid one with the
//! higher sequence number wins; CRC-32C checked), the region table (BAT and metadata regions),
//! the metadata items (block size, virtual disk size, logical sector size, whether it has a
//! parent) and the block allocation table, whose payload entries are interleaved with a
//! sector-bitmap entry every "chunk ratio" blocks. A disk with a log left to replay, or a
//! differencing disk, is refused by name rather than read inconsistently.

use crate::disk::{BlockDev, RawFile};
use crate::error::{Error, Result};

const KIB64: u64 = 64 << 10;
const MIB: u64 = 1 << 20;
/// A BAT larger than this (in entries) is refused: 256 MiB of table.
const MAX_BAT_ENTRIES: u64 = 32 << 20;

const BAT_GUID: [u8; 16] = guid(
    0x2DC2_7766,
    0xF623,
    0x4200,
    [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08],
);
const METADATA_GUID: [u8; 16] = guid(
    0x8B7C_A206,
    0x4790,
    0x4B9A,
    [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
);
const FILE_PARAMETERS: [u8; 16] = guid(
    0xCAA1_6737,
    0xFA36,
    0x4D43,
    [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B],
);
const VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2FA5_4224,
    0xCD1B,
    0x4876,
    [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8],
);
const LOGICAL_SECTOR_SIZE: [u8; 16] = guid(
    0x8141_BF1D,
    0xA96F,
    0x4709,
    [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F],
);

/// A GUID as stored: the first three fields little-endian, the last eight bytes as written.
const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn le64(b: &[u8], o: usize) -> u64 {
    u64::from(le32(b, o)) | (u64::from(le32(b, o + 4)) << 32)
}

/// CRC-32C of `b` with its 4-byte checksum field at `field` taken as zero.
fn crc_ok(b: &[u8], field: usize) -> bool {
    let mut copy = b.to_vec();
    copy[field..field + 4].fill(0);
    crc32c::crc32c(&copy) == le32(b, field)
}

pub(crate) fn is_vhdx(file: &RawFile) -> Result<bool> {
    let mut sig = [0u8; 8];
    if file.size() < 8 {
        return Ok(false);
    }
    file.read_at(0, &mut sig)?;
    Ok(&sig == b"vhdxfile")
}

pub(crate) struct Vhdx {
    file: RawFile,
    size: u64,
    block: u64,
    chunk_ratio: u64,
    bat: Vec<u64>,
}

impl Vhdx {
    pub(crate) fn open(file: RawFile) -> Result<Vhdx> {
        let what = format!("VHDX {}", file.describe());
        let corrupt = |d: String| Error::corrupt(&what, d);
        let read = |off: u64, len: u64, name: &str| -> Result<Vec<u8>> {
            if off.checked_add(len).is_none_or(|end| end > file.size()) {
                return Err(Error::corrupt(
                    &what,
                    format!(
                        "{name} at {off} ({len} bytes) lies past the end of the file ({} bytes)",
                        file.size()
                    ),
                ));
            }
            let mut b = vec![0u8; len as usize];
            file.read_at(off, &mut b)?;
            Ok(b)
        };
        // Headers at 64 KiB and 128 KiB: 4 KiB each, checksum over all of it.
        let mut best: Option<(u64, Vec<u8>)> = None;
        for at in [KIB64, 2 * KIB64] {
            let h = read(at, 4096, "header")?;
            if &h[..4] == b"head" && crc_ok(&h, 4) {
                let seq = le64(&h, 8);
                if best.as_ref().is_none_or(|(s, _)| seq > *s) {
                    best = Some((seq, h));
                }
            }
        }
        let (_, header) = best.ok_or_else(|| corrupt("neither header is valid".into()))?;
        if header[48..64].iter().any(|&b| b != 0) {
            return Err(Error::unsupported(
                &what,
                "the disk has a log to replay (it was not closed cleanly); open it once in Hyper-V or run `qemu-img check -r all` on a copy",
            ));
        }
        let version = u16::from_le_bytes([header[66], header[67]]);
        if version != 1 {
            return Err(Error::unsupported(
                &what,
                format!("version {version} (imagewise reads 1)"),
            ));
        }
        // Region table at 192 KiB (64 KiB; the copy at 256 KiB if the first is damaged).
        let mut regions = None;
        for at in [3 * KIB64, 4 * KIB64] {
            let r = read(at, KIB64, "region table")?;
            if &r[..4] == b"regi" && crc_ok(&r, 4) {
                regions = Some(r);
                break;
            }
        }
        let r = regions.ok_or_else(|| corrupt("neither region table is valid".into()))?;
        let count = le32(&r, 8) as usize;
        if count > 2047 {
            return Err(corrupt(format!("{count} region entries")));
        }
        let (mut bat_at, mut meta_at) = (None, None);
        for i in 0..count {
            let e = &r[16 + i * 32..16 + (i + 1) * 32];
            let off = le64(e, 16);
            let len = u64::from(le32(e, 24));
            let required = le32(e, 28) & 1 != 0;
            if e[..16] == BAT_GUID {
                bat_at = Some((off, len));
            } else if e[..16] == METADATA_GUID {
                meta_at = Some((off, len));
            } else if required {
                return Err(Error::unsupported(
                    &what,
                    "a required region imagewise does not know",
                ));
            }
        }
        let (bat_off, bat_len) = bat_at.ok_or_else(|| corrupt("no BAT region".into()))?;
        let (meta_off, meta_len) = meta_at.ok_or_else(|| corrupt("no metadata region".into()))?;
        if meta_len > 16 * MIB {
            return Err(corrupt(format!("metadata region of {meta_len} bytes")));
        }
        let meta = read(meta_off, meta_len, "metadata region")?;
        if meta.len() < 32 || &meta[..8] != b"metadata" {
            return Err(corrupt("no metadata table".into()));
        }
        let entries = u16::from_le_bytes([meta[10], meta[11]]) as usize;
        let item = |id: &[u8; 16], min: usize| -> Result<&[u8]> {
            for i in 0..entries.min(2047) {
                let at = 32 + i * 32;
                let Some(e) = meta.get(at..at + 32) else {
                    break;
                };
                if &e[..16] == id {
                    let o = le32(e, 16) as usize;
                    let l = le32(e, 20) as usize;
                    return meta
                        .get(o..o.saturating_add(l))
                        .filter(|b| b.len() >= min)
                        .ok_or_else(|| corrupt("a metadata item lies outside its region".into()));
                }
            }
            Err(corrupt("a required metadata item is missing".into()))
        };
        let params = item(&FILE_PARAMETERS, 8)?;
        let block = u64::from(le32(params, 0));
        if le32(params, 4) & 2 != 0 {
            return Err(Error::unsupported(
                &what,
                "a differencing disk (it needs its parent); merge it with qemu-img convert -O vhdx first",
            ));
        }
        let size = le64(item(&VIRTUAL_DISK_SIZE, 8)?, 0);
        let sector = u64::from(le32(item(&LOGICAL_SECTOR_SIZE, 4)?, 0));
        if !block.is_power_of_two() || !(MIB..=256 * MIB).contains(&block) {
            return Err(corrupt(format!(
                "block size {block} is not a power of two in 1..256 MiB"
            )));
        }
        if sector != 512 && sector != 4096 {
            return Err(corrupt(format!("logical sector size {sector}")));
        }
        // Payload blocks per sector-bitmap block.
        let chunk_ratio = (1u64 << 23) * sector / block;
        let blocks = size.div_ceil(block);
        let needed = blocks + blocks.saturating_sub(1) / chunk_ratio;
        if needed > MAX_BAT_ENTRIES || needed * 8 > bat_len {
            return Err(corrupt(format!(
                "the BAT region ({bat_len} bytes) cannot describe {blocks} blocks of a {size}-byte disk"
            )));
        }
        let raw = read(bat_off, needed * 8, "BAT")?;
        let bat = raw.chunks_exact(8).map(|c| le64(c, 0)).collect();
        Ok(Vhdx {
            file,
            size,
            block,
            chunk_ratio,
            bat,
        })
    }
}

impl BlockDev for Vhdx {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        crate::disk::read_chunks(self, self.block, offset, buf, |off, within, part| {
            let b = off / self.block;
            let entry = self
                .bat
                .get((b + b / self.chunk_ratio) as usize)
                .copied()
                .unwrap_or(0);
            match entry & 7 {
                // Not present, undefined, zero, unmapped: reads as zeros.
                0..=3 => part.fill(0),
                6 => {
                    let host = (entry >> 20) * MIB + within;
                    if host
                        .checked_add(part.len() as u64)
                        .is_none_or(|end| end > self.file.size())
                    {
                        return Err(Error::corrupt(
                            self.describe(),
                            format!(
                                "block {b} at {} lies past the end of the file",
                                host - within
                            ),
                        ));
                    }
                    self.file.read_at(host, part)?;
                }
                7 => {
                    return Err(Error::unsupported(
                        self.describe(),
                        format!("block {b} is partially present (a differencing disk's)"),
                    ))
                }
                s => {
                    return Err(Error::corrupt(
                        self.describe(),
                        format!("block {b} has state {s}, which the format does not define"),
                    ))
                }
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        format!("VHDX {}", self.file.describe())
    }
}
