//! rpm's legacy `Packages` file: a Berkeley DB hash database (rpm ≤ 4.15, EL ≤ 8, Amazon Linux 2)
//! whose values are header blobs. Read without libdb: the metadata page gives the page size and
//! byte order, every hash page's key/value pairs are visited, and values stored off-page are
//! gathered from their overflow page chains. Layouts from Berkeley DB's `dbinc/db_page.h`.

use super::DbError;
const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;

struct Db<'a> {
    bytes: &'a [u8],
    page_size: usize,
    big_endian: bool,
}

impl Db<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        let s: [u8; 2] = self.bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if self.big_endian {
            u16::from_be_bytes(s)
        } else {
            u16::from_le_bytes(s)
        })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let s: [u8; 4] = self.bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(s)
        } else {
            u32::from_le_bytes(s)
        })
    }

    fn page(&self, pgno: u32) -> Option<&[u8]> {
        let start = pgno as usize * self.page_size;
        self.bytes.get(start..start + self.page_size)
    }

    /// The bytes of an off-page item: `len` bytes along the overflow chain from `pgno`.
    fn overflow(&self, mut pgno: u32, len: usize) -> Result<Vec<u8>, DbError> {
        let pages = self.bytes.len() / self.page_size;
        let mut out = Vec::with_capacity(len.min(self.bytes.len()));
        let mut hops = 0;
        while out.len() < len {
            hops += 1;
            if pgno == 0 || hops > pages {
                return Err(
                    format!("overflow chain ends after {} of {len} bytes", out.len()).into(),
                );
            }
            let base = pgno as usize * self.page_size;
            let page = self
                .page(pgno)
                .ok_or_else(|| format!("overflow page {pgno} is past the end of the file"))?;
            if page[25] != P_OVERFLOW {
                return Err(
                    format!("page {pgno} is type {}, not an overflow page", page[25]).into(),
                );
            }
            // On overflow pages `hf_offset` holds the number of bytes used.
            let used = usize::from(self.u16(base + 22).unwrap_or(0));
            let chunk = page
                .get(PAGE_HEADER..PAGE_HEADER + used)
                .ok_or_else(|| format!("overflow page {pgno} claims {used} bytes"))?;
            out.extend_from_slice(&chunk[..chunk.len().min(len - out.len())]);
            pgno = self.u32(base + 16).unwrap_or(0);
        }
        Ok(out)
    }
}

/// Every header blob in the database, or why the file is not one we can read. Records that
/// cannot be followed are reported in `problems` and skipped.
pub(crate) fn blobs(bytes: &[u8], problems: &mut Vec<String>) -> Result<Vec<Vec<u8>>, DbError> {
    if bytes.len() < 512 {
        return Err(format!("{} bytes is too short for a Berkeley DB file", bytes.len()).into());
    }
    let magic = &bytes[12..16];
    let big_endian = if u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]) == HASH_MAGIC {
        false
    } else if u32::from_be_bytes([magic[0], magic[1], magic[2], magic[3]]) == HASH_MAGIC {
        true
    } else {
        return Err("not a Berkeley DB hash database (bad magic)".into());
    };
    let mut db = Db {
        bytes,
        page_size: 0,
        big_endian,
    };
    let page_size = db.u32(20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("Berkeley DB page size {page_size} is not valid").into());
    }
    db.page_size = page_size;
    if bytes[25] != P_HASHMETA {
        return Err(format!("metadata page has type {}, not hash metadata", bytes[25]).into());
    }
    if bytes[24] != 0 || bytes[26] & 0x01 != 0 {
        return Err(DbError::Unsupported(
            "encrypted or checksummed Berkeley DB files are not supported".into(),
        ));
    }
    let last = db.u32(32).unwrap_or(0) as usize;
    let pages = (bytes.len() / page_size).min(last + 1);
    let mut out = Vec::new();
    for pgno in 1..pages as u32 {
        let Some(page) = db.page(pgno) else { break };
        if !matches!(page[25], P_HASH | P_HASH_UNSORTED) {
            continue;
        }
        let base = pgno as usize * page_size;
        let entries = usize::from(db.u16(base + 20).unwrap_or(0));
        // Items come in key/value pairs; offsets are from the page start.
        for pair in 0..entries / 2 {
            let value_index = pair * 2 + 1;
            let Some(off) = db
                .u16(base + PAGE_HEADER + value_index * 2)
                .map(usize::from)
            else {
                break;
            };
            let Some(item) = page.get(off..) else {
                problems.push(format!(
                    "page {pgno} item {value_index} is past the page end"
                ));
                continue;
            };
            match item.first() {
                Some(&H_OFFPAGE) => {
                    let pg = db.u32(base + off + 4).unwrap_or(0);
                    let len = db.u32(base + off + 8).unwrap_or(0) as usize;
                    if len > bytes.len() {
                        problems.push(format!("page {pgno}: record claims {len} bytes"));
                        continue;
                    }
                    match db.overflow(pg, len) {
                        Ok(b) => out.push(b),
                        Err(e) => problems.push(format!("page {pgno}: {e}")),
                    }
                }
                Some(&H_KEYDATA) => {
                    // An on-page item runs to the start of the previous item (or the page end).
                    let end = if value_index == 0 {
                        page_size
                    } else {
                        db.u16(base + PAGE_HEADER + (value_index - 1) * 2)
                            .map(usize::from)
                            .unwrap_or(page_size)
                    };
                    if let Some(v) = page.get(off + 1..end) {
                        out.push(v.to_vec());
                    }
                }
                Some(t) => problems.push(format!(
                    "page {pgno} item {value_index} has type {t}, which rpm does not write"
                )),
                None => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_hash_db() {
        let mut p = Vec::new();
        for (bytes, why) in [(vec![0u8; 10], "too short"), (vec![0u8; 4096], "bad magic")] {
            assert!(blobs(&bytes, &mut p).unwrap_err().to_string().contains(why));
        }
        let mut b = vec![0u8; 8192];
        b[12..16].copy_from_slice(&HASH_MAGIC.to_le_bytes());
        b[20..24].copy_from_slice(&1000u32.to_le_bytes());
        assert!(blobs(&b, &mut p)
            .unwrap_err()
            .to_string()
            .contains("page size"));
        b[20..24].copy_from_slice(&4096u32.to_le_bytes());
        assert!(blobs(&b, &mut p)
            .unwrap_err()
            .to_string()
            .contains("hash metadata"));
        b[25] = P_HASHMETA;
        assert_eq!(blobs(&b, &mut p).unwrap().len(), 0);
        // An encrypted database is valid, just not read: unsupported, not corrupt.
        b[24] = 1;
        assert!(matches!(
            blobs(&b, &mut p),
            Err(DbError::Unsupported(why)) if why.contains("encrypted")
        ));
    }
}
