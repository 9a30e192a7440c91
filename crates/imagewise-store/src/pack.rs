//! Pack files: many compressed blobs back to back, then a header that lists them, so a pack
//! describes itself even when every index is lost.
//!
//! ```text
//! frames … | header: N × entry (54 bytes) | header length: u32 LE | magic "IWPACK02"
//! entry: kind u8 | compression u8 | id [32] | offset u64 LE | stored length u32 LE |
//!        plain length u32 LE | offset in the frame u32 LE
//! ```
//! A frame is one blob compressed alone, or a *group*: several small blobs concatenated and
//! compressed together (small files compress far better with their neighbours). Every entry of
//! a group names the same frame (offset, stored length) and where its bytes start inside the
//! decompressed frame. The pack's name is the BLAKE3 of the whole file.

use std::fs::File;
use std::io::{BufWriter, Write};

use crate::backend::{Backend, FileKind, Staged};
use crate::error::{Error, IoContext, Malformed, Result};
use crate::id::Id;

pub(crate) const MAGIC: &[u8; 8] = b"IWPACK02";
pub(crate) const ENTRY: usize = 54;
/// No blob is larger than this (chunks are at most 16 MiB; a tree blob this big would list
/// hundreds of thousands of names in one directory).
pub(crate) const MAX_BLOB: u32 = 64 << 20;
/// A decompressed group frame is never larger than this (groups close at 512 KiB + one blob).
pub(crate) const MAX_FRAME: usize = 1 << 20;

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

/// Stored as is.
pub(crate) const COMP_NONE: u8 = 0;
/// zstd, this blob alone.
pub(crate) const COMP_ZSTD: u8 = 1;
/// zstd frame of a group of small blobs.
pub(crate) const COMP_ZSTD_GROUP: u8 = 2;
/// A group stored uncompressed (it did not shrink).
pub(crate) const COMP_NONE_GROUP: u8 = 3;

pub(crate) fn is_group(comp: u8) -> bool {
    comp == COMP_ZSTD_GROUP || comp == COMP_NONE_GROUP
}

/// A blob in a frame being written: kind, id, plain length, offset in the decompressed frame.
pub(crate) type FrameMember = (BlobKind, Id, u32, u32);

/// One blob's place in a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackEntry {
    pub kind: BlobKind,
    pub comp: u8,
    pub id: Id,
    /// Where its frame starts in the pack, and the frame's stored length.
    pub offset: u64,
    pub len: u32,
    pub raw_len: u32,
    /// Where the blob starts in its decompressed group frame (0 for a lone blob).
    pub sub: u32,
}

impl PackEntry {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind as u8);
        out.push(self.comp);
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.raw_len.to_le_bytes());
        out.extend_from_slice(&self.sub.to_le_bytes());
    }

    pub fn decode(e: &[u8]) -> Result<PackEntry, Malformed> {
        let u32_at = |i: usize| u32::from_le_bytes([e[i], e[i + 1], e[i + 2], e[i + 3]]);
        let kind = BlobKind::from_u8(e[0]).ok_or(Malformed::BlobKind(e[0]))?;
        let comp = e[1];
        if comp > COMP_NONE_GROUP {
            return Err(Malformed::Compression(comp));
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(&e[2..34]);
        let mut off = [0u8; 8];
        off.copy_from_slice(&e[34..42]);
        let entry = PackEntry {
            kind,
            comp,
            id: Id(id),
            offset: u64::from_le_bytes(off),
            len: u32_at(42),
            raw_len: u32_at(46),
            sub: u32_at(50),
        };
        if entry.raw_len > MAX_BLOB {
            return Err(Malformed::TooBig {
                blob: entry.id.short(),
                len: entry.raw_len,
            });
        }
        let grouped_ok = if is_group(comp) {
            (entry.sub as u64 + entry.raw_len as u64) <= MAX_FRAME as u64
        } else {
            entry.sub == 0
        };
        if !grouped_ok {
            return Err(Malformed::Place(entry.id.short()));
        }
        Ok(entry)
    }
}

/// Where a pack sits in a repository (`packs/ab/<id>`): what messages name.
pub(crate) fn pack_name(id: &Id) -> String {
    FileKind::Pack.path(&id.hex())
}

/// A pack whose bytes are all written, waiting to be synced and moved to its name. Dropped
/// uncommitted, its staged file is deleted.
pub(crate) struct Sealed {
    staged: Staged,
    id: Id,
    entries: Vec<PackEntry>,
}

impl Sealed {
    /// Sync the pack and move it to its name. Returns its id and entries.
    pub fn commit(self, backend: &dyn Backend) -> Result<(Id, Vec<PackEntry>)> {
        backend.commit(self.staged, FileKind::Pack, &self.id.hex())?;
        Ok((self.id, self.entries))
    }
}

/// Writes one pack to a staged file, then commits it under its id.
pub(crate) struct PackWriter {
    staged: Staged,
    out: BufWriter<File>,
    hasher: blake3::Hasher,
    entries: Vec<PackEntry>,
    size: u64,
}

impl PackWriter {
    pub fn new(backend: &dyn Backend) -> Result<PackWriter> {
        let mut staged = backend.stage()?;
        let f = staged
            .file()
            .try_clone()
            .ctx(|| format!("opening {}", staged.describe()))?;
        Ok(PackWriter {
            staged,
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

    /// Append one frame holding the given blobs: `(kind, id, plain length, offset in frame)`.
    pub fn add_frame(&mut self, comp: u8, blobs: &[FrameMember], stored: &[u8]) -> Result<()> {
        self.hasher.update(stored);
        self.out
            .write_all(stored)
            .ctx(|| format!("writing {}", self.staged.describe()))?;
        for &(kind, id, raw_len, sub) in blobs {
            self.entries.push(PackEntry {
                kind,
                comp,
                id,
                offset: self.size,
                len: stored.len() as u32,
                raw_len,
                sub,
            });
        }
        self.size += stored.len() as u64;
        Ok(())
    }

    /// Write the header, sync, and move the pack to its name. Returns its id and entries.
    pub fn finish(self, backend: &dyn Backend) -> Result<(Id, Vec<PackEntry>)> {
        self.seal()?.commit(backend)
    }

    /// Write the header: the pack is complete but not yet durable or named.
    pub fn seal(mut self) -> Result<Sealed> {
        let mut header = Vec::with_capacity(self.entries.len() * ENTRY + 12);
        for e in &self.entries {
            e.encode(&mut header);
        }
        let hlen = header.len() as u32;
        header.extend_from_slice(&hlen.to_le_bytes());
        header.extend_from_slice(MAGIC);
        self.hasher.update(&header);
        self.out
            .write_all(&header)
            .ctx(|| format!("writing {}", self.staged.describe()))?;
        let what = self.staged.describe();
        let f = self
            .out
            .into_inner()
            .map_err(|e| Error::io(format!("writing {what}"), e.into_error()))?;
        drop(f);
        Ok(Sealed {
            staged: self.staged,
            id: Id(*self.hasher.finalize().as_bytes()),
            entries: self.entries,
        })
    }

    /// Throw the unfinished pack away.
    pub fn abandon(self) {}
}

/// Parse a pack's own header from its tail bytes and total size.
pub(crate) fn read_header(backend: &dyn Backend, id: &Id, size: u64) -> Result<Vec<PackEntry>> {
    let name = id.hex();
    let bad = |why: String| Error::damaged(format!("pack {}: {why}", id.short()));
    if size < 12 {
        return Err(bad(format!("only {size} bytes, too short for a pack")));
    }
    let tail = backend.read_at(FileKind::Pack, &name, size - 12, 12)?;
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
    let header = backend.read_at(FileKind::Pack, &name, size - 12 - hlen, hlen as usize)?;
    parse_header(&header, size - 12 - hlen).map_err(|m| bad(m.to_string()))
}

/// Entries of a pack header; every frame must lie inside the `data_len` bytes before it.
pub(crate) fn parse_header(header: &[u8], data_len: u64) -> Result<Vec<PackEntry>, Malformed> {
    let mut out = Vec::with_capacity(header.len() / ENTRY);
    for e in header.chunks_exact(ENTRY) {
        let entry = PackEntry::decode(e)?;
        if entry.offset + u64::from(entry.len) > data_len {
            return Err(Malformed::PastData {
                blob: entry.id.short(),
                data_len,
            });
        }
        out.push(entry);
    }
    Ok(out)
}

/// The plain bytes of the frame an entry is in.
pub(crate) fn frame_plain(e: &PackEntry, stored: &[u8]) -> Result<Vec<u8>, Malformed> {
    if stored.len() != e.len as usize {
        return Err(Malformed::Short {
            present: stored.len(),
            len: e.len,
        });
    }
    match e.comp {
        COMP_NONE | COMP_NONE_GROUP => Ok(stored.to_vec()),
        COMP_ZSTD => zstd::bulk::decompress(stored, e.raw_len as usize)
            .map_err(|err| Malformed::Decompress(err.to_string())),
        COMP_ZSTD_GROUP => zstd::bulk::decompress(stored, MAX_FRAME)
            .map_err(|err| Malformed::Decompress(err.to_string())),
        c => Err(Malformed::Compression(c)),
    }
}

/// The blob out of its frame's plain bytes, checked against its id.
pub(crate) fn blob_from_frame(e: &PackEntry, plain: &[u8]) -> Result<Vec<u8>, Malformed> {
    let (start, end) = (e.sub as usize, e.sub as usize + e.raw_len as usize);
    let blob = plain.get(start..end).ok_or(Malformed::FrameEnd {
        frame: plain.len(),
        end,
    })?;
    if !is_group(e.comp) && plain.len() != e.raw_len as usize {
        return Err(Malformed::Length {
            got: plain.len(),
            want: e.raw_len,
        });
    }
    if Id::of(blob) != e.id {
        return Err(Malformed::Hash);
    }
    Ok(blob.to_vec())
}

/// Stored bytes of a pack's frames (a group's frame counted once).
pub(crate) fn frame_bytes(entries: &[PackEntry]) -> u64 {
    let mut seen = std::collections::HashSet::new();
    entries
        .iter()
        .filter(|e| seen.insert(e.offset))
        .map(|e| u64::from(e.len))
        .sum()
}
