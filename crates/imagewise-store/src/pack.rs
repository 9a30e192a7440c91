//! Pack files: many compressed blobs back to back, then a header that lists them, so a pack
//! describes itself even when every index is lost.
//!
//! ```text
//! blob bytes … | header: N × entry (42 bytes) | header length: u32 LE | magic "IWPACK01"
//! entry: kind u8 | compression u8 | id [32] | stored length u32 LE | plain length u32 LE
//! ```
//! Blob offsets follow from the lengths. The pack's name is the BLAKE3 of the whole file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use crate::backend::Backend;
use crate::error::{Error, IoContext, Result};
use crate::id::Id;

pub(crate) const MAGIC: &[u8; 8] = b"IWPACK01";
const ENTRY: usize = 42;

/// What a blob holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlobKind {
    Data = 0,
    Tree = 1,
}

impl BlobKind {
    pub fn from_u8(b: u8) -> Option<BlobKind> {
        match b {
            0 => Some(BlobKind::Data),
            1 => Some(BlobKind::Tree),
            _ => None,
        }
    }
}

pub(crate) const COMP_NONE: u8 = 0;
pub(crate) const COMP_ZSTD: u8 = 1;

/// One blob's place in a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackEntry {
    pub kind: BlobKind,
    pub comp: u8,
    pub id: Id,
    pub offset: u64,
    pub len: u32,
    pub raw_len: u32,
}

pub(crate) fn pack_name(id: &Id) -> String {
    format!("packs/{:02x}/{}", id.0[0], id.hex())
}

/// Writes one pack to a temp file, then moves it in place.
pub(crate) struct PackWriter {
    path: PathBuf,
    out: BufWriter<File>,
    hasher: blake3::Hasher,
    entries: Vec<PackEntry>,
    size: u64,
}

impl PackWriter {
    pub fn new(backend: &dyn Backend) -> Result<PackWriter> {
        let (path, f) = backend.temp_file()?;
        Ok(PackWriter {
            path,
            out: BufWriter::with_capacity(1 << 20, f),
            hasher: blake3::Hasher::new(),
            entries: Vec::new(),
            size: 0,
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn add(
        &mut self,
        kind: BlobKind,
        id: Id,
        comp: u8,
        raw_len: u32,
        stored: &[u8],
    ) -> Result<()> {
        self.write(stored)?;
        self.entries.push(PackEntry {
            kind,
            comp,
            id,
            offset: self.size,
            len: stored.len() as u32,
            raw_len,
        });
        self.size += stored.len() as u64;
        Ok(())
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.hasher.update(b);
        self.out
            .write_all(b)
            .ctx(|| format!("writing {}", self.path.display()))
    }

    /// Write the header, sync, and move the pack to its name. Returns its id and entries.
    pub fn finish(mut self, backend: &dyn Backend) -> Result<(Id, Vec<PackEntry>)> {
        let mut header = Vec::with_capacity(self.entries.len() * ENTRY + 12);
        for e in &self.entries {
            header.push(e.kind as u8);
            header.push(e.comp);
            header.extend_from_slice(&e.id.0);
            header.extend_from_slice(&e.len.to_le_bytes());
            header.extend_from_slice(&e.raw_len.to_le_bytes());
        }
        let hlen = header.len() as u32;
        header.extend_from_slice(&hlen.to_le_bytes());
        header.extend_from_slice(MAGIC);
        self.write(&header)?;
        let path = self.path.clone();
        let f = self
            .out
            .into_inner()
            .map_err(|e| Error::io(format!("writing {}", path.display()), e.into_error()))?;
        drop(f);
        let id = Id(*self.hasher.finalize().as_bytes());
        if let Err(e) = backend.put(&path, &pack_name(&id)) {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok((id, self.entries))
    }

    /// Throw the unfinished pack away.
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Parse a pack's own header from its tail bytes and total size.
pub(crate) fn read_header(backend: &dyn Backend, id: &Id, size: u64) -> Result<Vec<PackEntry>> {
    let name = pack_name(id);
    let bad = |why: String| Error::damaged(format!("pack {}: {why}", id.short()));
    if size < 12 {
        return Err(bad(format!("only {size} bytes, too short for a pack")));
    }
    let tail = backend.read_at(&name, size - 12, 12)?;
    if tail.len() != 12 || &tail[4..] != MAGIC {
        return Err(bad(
            "no pack trailer at its end (truncated or overwritten)".into()
        ));
    }
    let hlen = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if hlen % ENTRY as u64 != 0 || hlen + 12 > size {
        return Err(bad(format!(
            "header length {hlen} does not fit a {size}-byte pack"
        )));
    }
    let header = backend.read_at(&name, size - 12 - hlen, hlen as usize)?;
    parse_header(&header, size - 12 - hlen).map_err(bad)
}

pub(crate) fn parse_header(header: &[u8], data_len: u64) -> Result<Vec<PackEntry>, String> {
    let mut out = Vec::with_capacity(header.len() / ENTRY);
    let mut offset = 0u64;
    for e in header.chunks_exact(ENTRY) {
        let kind = BlobKind::from_u8(e[0]).ok_or_else(|| format!("unknown blob kind {}", e[0]))?;
        let comp = e[1];
        if comp > COMP_ZSTD {
            return Err(format!("unknown compression {comp}"));
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(&e[2..34]);
        let len = u32::from_le_bytes([e[34], e[35], e[36], e[37]]);
        let raw_len = u32::from_le_bytes([e[38], e[39], e[40], e[41]]);
        out.push(PackEntry {
            kind,
            comp,
            id: Id(id),
            offset,
            len,
            raw_len,
        });
        offset += u64::from(len);
    }
    if offset != data_len {
        return Err(format!(
            "header lists {offset} bytes of blobs but the pack holds {data_len}"
        ));
    }
    Ok(out)
}

/// Turn stored bytes back into the blob and check that they hash to its id.
pub(crate) fn unpack_blob(e: &PackEntry, stored: &[u8]) -> Result<Vec<u8>, String> {
    if stored.len() != e.len as usize {
        return Err(format!("{} of {} bytes present", stored.len(), e.len));
    }
    let plain = match e.comp {
        COMP_NONE => stored.to_vec(),
        COMP_ZSTD => zstd::bulk::decompress(stored, e.raw_len as usize)
            .map_err(|err| format!("does not decompress ({err})"))?,
        c => return Err(format!("unknown compression {c}")),
    };
    if plain.len() != e.raw_len as usize {
        return Err(format!(
            "decompresses to {} bytes, not {}",
            plain.len(),
            e.raw_len
        ));
    }
    if Id::of(&plain) != e.id {
        return Err("content does not match its hash".into());
    }
    Ok(plain)
}
