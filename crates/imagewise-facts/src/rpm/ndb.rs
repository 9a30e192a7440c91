//! rpm's ndb `Packages.db` (SUSE since SLE 15 SP? and openSUSE): a file of 16-byte slots, each
//! pointing at a blob of header bytes. Little-endian throughout. Layout from rpm's
//! `lib/backend/ndb/rpmpkg.c`: a 32-byte file header (`RpmP`, version, generation, number of
//! slot pages, next package index), slots (`Slot`, package index, block offset, block count) up
//! to the end of the slot pages, and blobs at `offset * 16` framed by a `BlbS` head (package
//! index, generation, length) and a `BlbE` tail.

use super::DbError;
const FILE_MAGIC: &[u8; 4] = b"RpmP";
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const BLOB_HEAD_MAGIC: &[u8; 4] = b"BlbS";
const BLOB_TAIL_MAGIC: &[u8; 4] = b"BlbE";
const PAGE_SIZE: usize = 4096;
const BLOCK: usize = 16;
const HEAD: usize = 16;
const TAIL: usize = 12;

fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub(crate) fn blobs(bytes: &[u8], problems: &mut Vec<String>) -> Result<Vec<Vec<u8>>, DbError> {
    if bytes.len() < 32 || &bytes[..4] != FILE_MAGIC {
        return Err("not an rpm ndb package database (bad magic)".into());
    }
    let version = le32(bytes, 4).unwrap_or(u32::MAX);
    if version != 0 {
        return Err(DbError::Unsupported(format!(
            "ndb format version {version} is not supported"
        )));
    }
    let slot_pages = le32(bytes, 12).unwrap_or(0) as usize;
    let slot_end = slot_pages
        .checked_mul(PAGE_SIZE)
        .filter(|&e| e >= 32 && e <= bytes.len())
        .ok_or_else(|| format!("ndb claims {slot_pages} slot pages, past the end of the file"))?;
    let mut out = Vec::new();
    let mut at = 32;
    while at + BLOCK <= slot_end {
        let slot = &bytes[at..at + BLOCK];
        at += BLOCK;
        if &slot[..4] != SLOT_MAGIC {
            problems.push(format!("slot at byte {} has a bad magic", at - BLOCK));
            continue;
        }
        let pkgidx = le32(slot, 4).unwrap_or(0);
        if pkgidx == 0 {
            continue; // free slot
        }
        let offset = le32(slot, 8).unwrap_or(0) as usize * BLOCK;
        let count = le32(slot, 12).unwrap_or(0) as usize * BLOCK;
        match blob(bytes, pkgidx, offset, count) {
            Ok(b) => out.push(b.to_vec()),
            Err(e) => problems.push(format!("package {pkgidx}: {e}")),
        }
    }
    Ok(out)
}

fn blob(bytes: &[u8], pkgidx: u32, offset: usize, count: usize) -> Result<&[u8], DbError> {
    let area = offset
        .checked_add(count)
        .and_then(|end| bytes.get(offset..end))
        .filter(|a| a.len() >= HEAD + TAIL)
        .ok_or_else(|| format!("blob at byte {offset} ({count} bytes) is outside the file"))?;
    if &area[..4] != BLOB_HEAD_MAGIC || le32(area, 4) != Some(pkgidx) {
        return Err(format!("blob at byte {offset} has a bad head").into());
    }
    let len = le32(area, 12).unwrap_or(0) as usize;
    if len + HEAD + TAIL > area.len() {
        return Err(format!("blob claims {len} bytes in a {count}-byte area").into());
    }
    let tail = &area[HEAD + len..];
    // The tail sits right after the data, padded to a block.
    let tail_at = area.len() - TAIL;
    if &area[tail_at + 8..tail_at + 12] != BLOB_TAIL_MAGIC && &tail[8..12] != BLOB_TAIL_MAGIC {
        return Err(format!("blob at byte {offset} has a bad tail").into());
    }
    Ok(&area[HEAD..HEAD + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_files_and_skips_bad_slots() {
        let mut p = Vec::new();
        assert!(blobs(b"nope", &mut p)
            .unwrap_err()
            .to_string()
            .contains("bad magic"));
        let mut f = vec![0u8; PAGE_SIZE * 2];
        f[..4].copy_from_slice(FILE_MAGIC);
        f[12..16].copy_from_slice(&9u32.to_le_bytes());
        assert!(blobs(&f, &mut p)
            .unwrap_err()
            .to_string()
            .contains("slot pages"));
        f[12..16].copy_from_slice(&1u32.to_le_bytes());
        // One used slot pointing past the end, one pointing at a good blob.
        f[32..36].copy_from_slice(SLOT_MAGIC);
        f[36..40].copy_from_slice(&1u32.to_le_bytes());
        f[40..44].copy_from_slice(&10_000u32.to_le_bytes());
        f[44..48].copy_from_slice(&2u32.to_le_bytes());
        f[48..52].copy_from_slice(SLOT_MAGIC);
        f[52..56].copy_from_slice(&2u32.to_le_bytes());
        f[56..60].copy_from_slice(&256u32.to_le_bytes()); // byte 4096
        f[60..64].copy_from_slice(&3u32.to_le_bytes()); // 48 bytes
        let b = PAGE_SIZE;
        f[b..b + 4].copy_from_slice(BLOB_HEAD_MAGIC);
        f[b + 4..b + 8].copy_from_slice(&2u32.to_le_bytes());
        f[b + 12..b + 16].copy_from_slice(&5u32.to_le_bytes());
        f[b + 16..b + 21].copy_from_slice(b"hello");
        f[b + 44..b + 48].copy_from_slice(BLOB_TAIL_MAGIC);
        let got = blobs(&f, &mut p).unwrap();
        assert_eq!(got, vec![b"hello".to_vec()]);
        assert!(p.iter().any(|m| m.contains("outside the file")), "{p:?}");
    }
}
