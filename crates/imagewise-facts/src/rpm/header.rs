//! The rpm header blob, as rpm stores one per installed package in every database backend:
//! `il` and `dl` (big-endian counts of index entries and data bytes), `il` index entries of
//! 16 bytes (tag, type, offset, count), then `dl` bytes of data. Specified in rpm's
//! `lib/header.c` (`headerImport`, `hdrblobVerifyInfo`) and the LSB rpm file format chapter.
//!
//! Nothing here trusts the blob: every offset and count is checked against the data size.

use super::DbError;
use sha2::{Digest, Sha256};

pub(crate) const TAG_NAME: u32 = 1000;
pub(crate) const TAG_VERSION: u32 = 1001;
pub(crate) const TAG_RELEASE: u32 = 1002;
pub(crate) const TAG_EPOCH: u32 = 1003;
pub(crate) const TAG_SUMMARY: u32 = 1004;
pub(crate) const TAG_SIZE: u32 = 1009;
pub(crate) const TAG_VENDOR: u32 = 1011;
pub(crate) const TAG_LICENSE: u32 = 1014;
pub(crate) const TAG_PACKAGER: u32 = 1015;
pub(crate) const TAG_ARCH: u32 = 1022;
pub(crate) const TAG_SOURCERPM: u32 = 1044;
pub(crate) const TAG_LONGSIZE: u32 = 5009;
/// `RPMTAG_SHA256HEADER`: SHA-256 over the immutable header region, copied from the package's
/// signature header at install time.
pub(crate) const TAG_SHA256HEADER: u32 = 273;
const TAG_HEADERIMMUTABLE: u32 = 63;
const TAG_HEADERSIGNATURES: u32 = 62;

const TYPE_INT8: u32 = 2;
const TYPE_INT16: u32 = 3;
const TYPE_INT32: u32 = 4;
const TYPE_INT64: u32 = 5;
const TYPE_STRING: u32 = 6;
const TYPE_BIN: u32 = 7;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// rpm refuses more entries or data than these (`hdrchkTags`, `hdrchkData`).
const MAX_ENTRIES: usize = 0x00ff_ffff;
const MAX_DATA: usize = 256 << 20;
const HEADER_MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];

#[derive(Debug, Clone, Copy)]
struct IndexEntry {
    tag: u32,
    typ: u32,
    offset: usize,
    count: usize,
}

/// A parsed header, borrowing the blob.
pub(crate) struct Header<'a> {
    blob: &'a [u8],
    entries: Vec<IndexEntry>,
    data: &'a [u8],
    /// Index entries and data bytes of the immutable region, when the header has one.
    region: Option<(usize, usize)>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl<'a> Header<'a> {
    pub fn parse(blob: &'a [u8]) -> Result<Header<'a>, DbError> {
        let il =
            be32(blob, 0).ok_or(DbError::Corrupt("header shorter than 8 bytes".into()))? as usize;
        let dl =
            be32(blob, 4).ok_or(DbError::Corrupt("header shorter than 8 bytes".into()))? as usize;
        if il == 0 || il > MAX_ENTRIES {
            return Err(format!("header claims {il} index entries").into());
        }
        if dl > MAX_DATA {
            return Err(format!("header claims {dl} data bytes").into());
        }
        let data_start = 8 + il * 16;
        let end = data_start + dl;
        if blob.len() < end {
            return Err(format!("header is {} bytes, its counts need {end}", blob.len()).into());
        }
        let data = &blob[data_start..end];
        let mut entries = Vec::with_capacity(il);
        for i in 0..il {
            let at = 8 + i * 16;
            let e = IndexEntry {
                tag: be32(blob, at).unwrap_or(0),
                typ: be32(blob, at + 4).unwrap_or(0),
                offset: be32(blob, at + 8).unwrap_or(0) as usize,
                count: be32(blob, at + 12).unwrap_or(0) as usize,
            };
            if e.typ > TYPE_I18NSTRING {
                return Err(format!("tag {} has unknown type {}", e.tag, e.typ).into());
            }
            entries.push(e);
        }
        let region = Self::region(&entries, data, il, dl);
        Ok(Header {
            blob,
            entries,
            data,
            region,
        })
    }

    /// The immutable region: the first entry is a region tag whose 16-byte trailer, in the data,
    /// holds minus the region's index size.
    fn region(entries: &[IndexEntry], data: &[u8], il: usize, dl: usize) -> Option<(usize, usize)> {
        let first = entries.first()?;
        if !matches!(first.tag, TAG_HEADERIMMUTABLE | TAG_HEADERSIGNATURES)
            || first.typ != TYPE_BIN
            || first.count != 16
        {
            return None;
        }
        let trailer_offset = be32(data, first.offset + 8)? as i32;
        if trailer_offset >= 0 || trailer_offset % 16 != 0 {
            return None;
        }
        let ril = (trailer_offset.unsigned_abs() / 16) as usize;
        let rdl = first.offset + 16;
        (ril <= il && rdl <= dl).then_some((ril, rdl))
    }

    fn find(&self, tag: u32) -> Option<&IndexEntry> {
        self.entries.iter().find(|e| e.tag == tag)
    }

    /// A string tag (the first element of an array).
    pub fn string(&self, tag: u32) -> Option<String> {
        let e = self.find(tag)?;
        if !matches!(e.typ, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) || e.count == 0 {
            return None;
        }
        let tail = self.data.get(e.offset..)?;
        let nul = tail.iter().position(|&b| b == 0)?;
        Some(String::from_utf8_lossy(&tail[..nul]).into_owned())
    }

    /// An integer tag (the first element).
    pub fn int(&self, tag: u32) -> Option<u64> {
        let e = self.find(tag)?;
        if e.count == 0 {
            return None;
        }
        let d = self.data;
        let o = e.offset;
        match e.typ {
            TYPE_INT8 => d.get(o).map(|&b| u64::from(b)),
            TYPE_INT16 => d
                .get(o..o + 2)
                .map(|s| u64::from(u16::from_be_bytes([s[0], s[1]]))),
            TYPE_INT32 => be32(d, o).map(u64::from),
            TYPE_INT64 => d
                .get(o..o + 8)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_be_bytes),
            _ => None,
        }
    }

    /// Whether the SHA-256 the header carries matches its immutable region: `None` when there is
    /// no digest or no region to check. rpm computes it over the header magic, the region's
    /// entry and data counts, its index entries and its data.
    pub fn digest_matches(&self) -> Option<bool> {
        let want = self.string(TAG_SHA256HEADER)?;
        let (ril, rdl) = self.region?;
        let mut h = Sha256::new();
        h.update(HEADER_MAGIC);
        h.update((ril as u32).to_be_bytes());
        h.update((rdl as u32).to_be_bytes());
        h.update(&self.blob[8..8 + ril * 16]);
        h.update(&self.data[..rdl]);
        Some(hex::encode(h.finalize()) == want.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(entries: &[(u32, u32, u32, u32)], data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend((entries.len() as u32).to_be_bytes());
        b.extend((data.len() as u32).to_be_bytes());
        for (t, ty, o, c) in entries {
            for v in [t, ty, o, c] {
                b.extend(v.to_be_bytes());
            }
        }
        b.extend(data);
        b
    }

    #[test]
    fn reads_strings_and_ints() {
        let b = blob(
            &[(TAG_NAME, TYPE_STRING, 0, 1), (TAG_EPOCH, TYPE_INT32, 8, 1)],
            b"bash\0\0\0\0\0\0\0\x02",
        );
        let h = Header::parse(&b).unwrap();
        assert_eq!(h.string(TAG_NAME).as_deref(), Some("bash"));
        assert_eq!(h.int(TAG_EPOCH), Some(2));
        assert_eq!(h.string(TAG_VERSION), None);
        assert_eq!(h.digest_matches(), None);
    }

    #[test]
    fn refuses_bad_headers() {
        for (bytes, why) in [
            (vec![0u8; 4], "shorter"),
            (blob(&[], b""), "0 index"),
            (
                [0xffu8, 0xff, 0xff, 0xff, 0, 0, 0, 0].to_vec(),
                "index entries",
            ),
            (
                [0u8, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff].to_vec(),
                "data bytes",
            ),
            (
                blob(&[(TAG_NAME, TYPE_STRING, 0, 1)], b"x\0")[..20].to_vec(),
                "need",
            ),
            (blob(&[(TAG_NAME, 99, 0, 1)], b"x\0"), "unknown type"),
        ] {
            let err = Header::parse(&bytes).err().unwrap().to_string();
            assert!(err.contains(why), "{err} should say {why}");
        }
    }

    #[test]
    fn out_of_range_offsets_read_as_absent() {
        let b = blob(
            &[
                (TAG_NAME, TYPE_STRING, 100, 1),
                (TAG_EPOCH, TYPE_INT32, 2, 1),
                (TAG_ARCH, TYPE_STRING, 0, 1),
            ],
            b"noend",
        );
        let h = Header::parse(&b).unwrap();
        assert_eq!(h.string(TAG_NAME), None);
        assert_eq!(h.int(TAG_EPOCH), None);
        assert_eq!(
            h.string(TAG_ARCH),
            None,
            "string without a NUL inside the data"
        );
    }
}
