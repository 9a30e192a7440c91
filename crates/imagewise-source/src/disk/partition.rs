//! Partition tables: MBR (with extended/logical partitions) and GPT (UEFI spec ch. 5, with the
//! header and entry-array CRCs checked, falling back to the backup header). A disk without a
//! table is one partition, number 0, covering the whole device.

use crate::disk::BlockDev;
use crate::error::{Error, Result};

const SECTOR: u64 = 512;
const MAX_GPT_ENTRIES: u32 = 1024;
const MAX_LOGICAL: usize = 128;

#[derive(Debug, Clone)]
pub(crate) struct Partition {
    pub number: u32,
    pub start: u64,
    pub size: u64,
    pub type_name: String,
    pub label: Option<String>,
    /// PARTUUID as udev names it: the GPT entry's unique GUID (lowercase), or for MBR the disk
    /// signature and the partition number (`1a2b3c4d-01`).
    pub uuid: Option<String>,
}

pub(crate) struct Table {
    pub kind: &'static str,
    pub partitions: Vec<Partition>,
}

pub(crate) fn read_table(dev: &dyn BlockDev, what: &str) -> Result<Table> {
    let size = dev.size();
    if size < SECTOR * 2 {
        return Ok(whole(size));
    }
    let mut mbr = [0u8; 512];
    dev.read_at(0, &mut mbr)?;
    let mut lba1 = [0u8; 512];
    dev.read_at(SECTOR, &mut lba1)?;
    let has_sig = mbr[510] == 0x55 && mbr[511] == 0xaa;
    let protective = has_sig && (0..4).any(|i| mbr[446 + i * 16 + 4] == 0xee);
    if protective || &lba1[..8] == b"EFI PART" {
        return read_gpt(dev, what);
    }
    if !has_sig {
        return Ok(whole(size));
    }
    // A bare filesystem whose first sector happens to end in 55AA (a boot sector left by an
    // installer, or chance): an ext superblock at 1024 and no partition entry that fits the
    // disk make it a filesystem, not an empty MBR.
    let mut magic = [0u8; 2];
    if size >= 1082 {
        dev.read_at(1080, &mut magic)?;
    }
    let ext_at_1024 = magic == [0x53, 0xef];
    let any_valid_entry = (0..4).any(|i| {
        let e = &mbr[446 + i * 16..446 + i * 16 + 16];
        let (start, len) = (u64::from(le32(e, 8)), u64::from(le32(e, 12)));
        e[4] != 0
            && len != 0
            && start
                .checked_add(len)
                .and_then(|end| end.checked_mul(SECTOR))
                .is_some_and(|end| end <= size)
    });
    if ext_at_1024 && !any_valid_entry {
        return Ok(whole(size));
    }
    read_mbr(dev, &mbr, what)
}

fn whole(size: u64) -> Table {
    Table {
        kind: "none",
        partitions: vec![Partition {
            number: 0,
            start: 0,
            size,
            type_name: "whole disk".into(),
            label: None,
            uuid: None,
        }],
    }
}

fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn le64(b: &[u8], off: usize) -> u64 {
    u64::from(le32(b, off)) | (u64::from(le32(b, off + 4)) << 32)
}

fn mbr_type_name(t: u8) -> String {
    match t {
        0x83 => "Linux".into(),
        0x82 => "Linux swap".into(),
        0x8e => "Linux LVM".into(),
        0xfd => "Linux RAID".into(),
        0xef => "EFI System".into(),
        0x07 => "NTFS/exFAT".into(),
        0x0b | 0x0c => "FAT32".into(),
        0x06 | 0x0e => "FAT16".into(),
        0x05 | 0x0f | 0x85 => "Extended".into(),
        t => format!("type 0x{t:02x}"),
    }
}

fn check_range(dev: &dyn BlockDev, what: &str, n: u32, start: u64, size: u64) -> Result<()> {
    if start.checked_add(size).is_none_or(|end| end > dev.size()) {
        return Err(Error::corrupt(
            what,
            format!(
                "partition {n} ({start}+{size} bytes) extends past the end of the disk ({} bytes)",
                dev.size()
            ),
        ));
    }
    Ok(())
}

fn read_mbr(dev: &dyn BlockDev, mbr: &[u8; 512], what: &str) -> Result<Table> {
    let signature = le32(mbr, 440);
    let part_uuid = |n: u32| (signature != 0).then(|| format!("{signature:08x}-{n:02x}"));
    let mut parts = Vec::new();
    let mut extended = None;
    for i in 0..4 {
        let e = &mbr[446 + i * 16..446 + i * 16 + 16];
        let ty = e[4];
        let start = u64::from(le32(e, 8)) * SECTOR;
        let size = u64::from(le32(e, 12)) * SECTOR;
        if ty == 0 || size == 0 {
            continue;
        }
        let number = i as u32 + 1;
        check_range(dev, what, number, start, size)?;
        if matches!(ty, 0x05 | 0x0f | 0x85) {
            extended = Some(start);
            continue;
        }
        parts.push(Partition {
            number,
            start,
            size,
            type_name: mbr_type_name(ty),
            label: None,
            uuid: part_uuid(number),
        });
    }
    // Logical partitions: a chain of EBRs, each relative to the extended partition's start.
    if let Some(ext_start) = extended {
        let mut ebr_at = ext_start;
        let mut number = 5;
        for _ in 0..MAX_LOGICAL {
            let mut ebr = [0u8; 512];
            dev.read_at(ebr_at, &mut ebr)?;
            if ebr[510] != 0x55 || ebr[511] != 0xaa {
                break;
            }
            let e = &ebr[446..462];
            let (ty, rel, size) = (
                e[4],
                u64::from(le32(e, 8)) * SECTOR,
                u64::from(le32(e, 12)) * SECTOR,
            );
            if ty != 0 && size != 0 {
                let start = ebr_at + rel;
                check_range(dev, what, number, start, size)?;
                parts.push(Partition {
                    number,
                    start,
                    size,
                    type_name: mbr_type_name(ty),
                    label: None,
                    uuid: part_uuid(number),
                });
                number += 1;
            }
            let next = &ebr[462..478];
            let next_rel = u64::from(le32(next, 8)) * SECTOR;
            if next[4] == 0 || next_rel == 0 {
                break;
            }
            ebr_at = ext_start + next_rel;
        }
    }
    Ok(Table {
        kind: "mbr",
        partitions: parts,
    })
}

fn gpt_type_name(guid: &[u8]) -> String {
    let s = guid_string(guid);
    match s.as_str() {
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4" => "Linux filesystem".into(),
        "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" => "Linux root (x86-64)".into(),
        "B921B045-1DF0-41C3-AF44-4C6F280D3FAE" => "Linux root (ARM64)".into(),
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" => "EFI System".into(),
        "21686148-6449-6E6F-744E-656564454649" => "BIOS boot".into(),
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" => "Linux swap".into(),
        "E6D6D379-F507-44C2-A23C-238F2A3DF928" => "Linux LVM".into(),
        "BC13C2FF-59E6-4262-A352-B275FD6F7172" => "Linux extended boot".into(),
        "933AC7E1-2EB4-4F13-B844-0E14E2AEF915" => "Linux home".into(),
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" => "Microsoft basic data".into(),
        _ => format!("GUID {s}"),
    }
}

fn guid_string(g: &[u8]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{}",
        le32(g, 0),
        u16::from_le_bytes([g[4], g[5]]),
        u16::from_le_bytes([g[6], g[7]]),
        g[8],
        g[9],
        g[10..16]
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    )
}

/// Why a GPT header was not taken (the disk names itself in the caller's error).
#[derive(Debug, thiserror::Error)]
enum GptHeaderError {
    #[error("reading LBA {lba}: {source}")]
    Read {
        lba: u64,
        #[source]
        source: Box<crate::Error>,
    },
    #[error("no GPT signature at LBA {0}")]
    Signature(u64),
    #[error("header size {size} at LBA {lba} is out of range")]
    Size { lba: u64, size: usize },
    #[error("header CRC mismatch at LBA {0}")]
    Crc(u64),
    #[error("{0} partition entries (at most {MAX_GPT_ENTRIES} accepted)")]
    Entries(u32),
    #[error("partition entry size {0} is invalid")]
    EntrySize(u32),
}

/// Parse and check one GPT header at `lba`; returns (entries lba, count, entry size, entries crc).
fn gpt_header(
    dev: &dyn BlockDev,
    lba: u64,
) -> std::result::Result<(u64, u32, u32, u32), GptHeaderError> {
    let mut h = [0u8; 512];
    dev.read_at(lba * SECTOR, &mut h)
        .map_err(|e| GptHeaderError::Read {
            lba,
            source: Box::new(e),
        })?;
    if &h[..8] != b"EFI PART" {
        return Err(GptHeaderError::Signature(lba));
    }
    let hsize = le32(&h, 12) as usize;
    if !(92..=512).contains(&hsize) {
        return Err(GptHeaderError::Size { lba, size: hsize });
    }
    let stored = le32(&h, 16);
    let mut copy = h;
    copy[16..20].fill(0);
    if crc32fast::hash(&copy[..hsize]) != stored {
        return Err(GptHeaderError::Crc(lba));
    }
    let (entries_lba, count, esize, ecrc) =
        (le64(&h, 72), le32(&h, 80), le32(&h, 84), le32(&h, 88));
    if count > MAX_GPT_ENTRIES {
        return Err(GptHeaderError::Entries(count));
    }
    if !(128..=4096).contains(&esize) || esize % 8 != 0 {
        return Err(GptHeaderError::EntrySize(esize));
    }
    Ok((entries_lba, count, esize, ecrc))
}

fn read_gpt(dev: &dyn BlockDev, what: &str) -> Result<Table> {
    let last_lba = dev.size() / SECTOR - 1;
    let (entries_lba, count, esize, ecrc) = match gpt_header(dev, 1) {
        Ok(h) => h,
        Err(primary) => gpt_header(dev, last_lba).map_err(|backup| {
            Error::corrupt(
                what,
                format!("GPT primary header: {primary}; backup header: {backup}"),
            )
        })?,
    };
    let len = count as usize * esize as usize;
    let mut table = vec![0u8; len];
    dev.read_at(entries_lba.saturating_mul(SECTOR), &mut table)
        .map_err(|e| {
            Error::corrupt(
                what,
                format!("GPT partition entries at LBA {entries_lba}: {e}"),
            )
        })?;
    if crc32fast::hash(&table) != ecrc {
        return Err(Error::corrupt(
            what,
            "GPT partition entry array CRC mismatch",
        ));
    }
    let mut parts = Vec::new();
    for i in 0..count as usize {
        let e = &table[i * esize as usize..(i + 1) * esize as usize];
        if e[..16].iter().all(|&b| b == 0) {
            continue;
        }
        let (first, last) = (le64(e, 32), le64(e, 40));
        let number = i as u32 + 1;
        if last < first {
            return Err(Error::corrupt(
                what,
                format!("GPT partition {number} ends before it starts"),
            ));
        }
        let start = first.saturating_mul(SECTOR);
        let size = (last - first + 1).saturating_mul(SECTOR);
        check_range(dev, what, number, start, size)?;
        let name: Vec<u16> = e[56..128]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&c| c != 0)
            .collect();
        let label = String::from_utf16_lossy(&name);
        parts.push(Partition {
            number,
            start,
            size,
            type_name: gpt_type_name(&e[..16]),
            label: (!label.is_empty()).then_some(label),
            uuid: Some(guid_string(&e[16..32]).to_ascii_lowercase()),
        });
    }
    Ok(Table {
        kind: "gpt",
        partitions: parts,
    })
}
