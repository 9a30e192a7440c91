//! The index: which pack holds each blob. Index files are written by each `snapshot create`
//! (and rewritten by `prune`); all of them together are the repository's index.
//!
//! ```text
//! magic "IWINDEX2" | per pack: pack id [32] | count u32 LE | count × entry (54 bytes, as in
//! the pack header, see pack.rs) | BLAKE3 of everything before [32]
//! ```
//! The file's name is the hex of that final hash.

use std::collections::HashMap;

use crate::backend::{list_all, Backend, FileKind};
use crate::error::{Malformed, Result};
use crate::id::Id;
use crate::pack::{PackEntry, ENTRY};

const MAGIC: &[u8; 8] = b"IWINDEX2";

/// Where one blob is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loc {
    /// Index into [`Index::packs`].
    pub pack: u32,
    pub entry: PackEntry,
}

/// All index files, merged.
#[derive(Default)]
pub(crate) struct Index {
    pub packs: Vec<Id>,
    pack_pos: HashMap<Id, u32>,
    pub blobs: HashMap<Id, Loc>,
    /// Every entry of every pack, as listed (a blob stored twice shows in both packs).
    pub pack_entries: Vec<Vec<PackEntry>>,
    /// Index files read, by name, with the packs each lists.
    pub files: Vec<(String, Vec<Id>)>,
    /// Index files that could not be read, with why.
    pub damaged: Vec<(String, String)>,
}

impl Index {
    pub fn load(backend: &dyn Backend) -> Result<Index> {
        let mut idx = Index::default();
        for (name, _) in list_all(backend, FileKind::Index)? {
            let bytes = backend.read(FileKind::Index, &name)?;
            match decode(&bytes, &name) {
                Ok(packs) => {
                    let ids = packs.iter().map(|(p, _)| *p).collect();
                    for (pack, entries) in packs {
                        idx.add_pack(pack, &entries);
                    }
                    idx.files.push((name, ids));
                }
                Err(why) => idx.damaged.push((name, why.to_string())),
            }
        }
        Ok(idx)
    }

    pub fn add_pack(&mut self, pack: Id, entries: &[PackEntry]) {
        let n = self.packs.len() as u32;
        let p = *self.pack_pos.entry(pack).or_insert_with(|| {
            self.packs.push(pack);
            self.pack_entries.push(entries.to_vec());
            n
        });
        for e in entries {
            self.blobs.entry(e.id).or_insert(Loc { pack: p, entry: *e });
        }
    }

    pub fn get(&self, id: &Id) -> Option<(Id, &PackEntry)> {
        self.blobs
            .get(id)
            .map(|l| (self.packs[l.pack as usize], &l.entry))
    }

    pub fn contains(&self, id: &Id) -> bool {
        self.blobs.contains_key(id)
    }
}

/// Encode packs and their entries as an index file; returns (name, bytes).
pub(crate) fn encode(packs: &[(Id, Vec<PackEntry>)]) -> (String, Vec<u8>) {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    for (pack, entries) in packs {
        out.extend_from_slice(&pack.0);
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for e in entries {
            e.encode(&mut out);
        }
    }
    let h = Id::of(&out);
    out.extend_from_slice(&h.0);
    (h.hex(), out)
}

fn decode(b: &[u8], name: &str) -> Result<Vec<(Id, Vec<PackEntry>)>, Malformed> {
    if b.len() < MAGIC.len() + 32 || &b[..8] != MAGIC {
        return Err(Malformed::IndexMagic);
    }
    let (body, sum) = b.split_at(b.len() - 32);
    let h = Id::of(body);
    if h.0 != sum || h.hex() != name {
        return Err(Malformed::IndexChecksum);
    }
    let mut out = Vec::new();
    let mut p = &body[8..];
    while !p.is_empty() {
        if p.len() < 36 {
            return Err(Malformed::IndexTruncated("pack record"));
        }
        let mut pack = [0u8; 32];
        pack.copy_from_slice(&p[..32]);
        let n = u32::from_le_bytes([p[32], p[33], p[34], p[35]]) as usize;
        p = &p[36..];
        if p.len() < n * ENTRY {
            return Err(Malformed::IndexTruncated("blob list"));
        }
        let mut entries = Vec::with_capacity(n);
        for e in p[..n * ENTRY].chunks_exact(ENTRY) {
            entries.push(PackEntry::decode(e)?);
        }
        p = &p[n * ENTRY..];
        out.push((Id(pack), entries));
    }
    Ok(out)
}

/// Write an index file for these packs (atomic; the name is its hash).
pub(crate) fn write(backend: &dyn Backend, packs: &[(Id, Vec<PackEntry>)]) -> Result<String> {
    let (name, bytes) = encode(packs);
    backend.write(FileKind::Index, &name, &bytes, false)?;
    Ok(name)
}
