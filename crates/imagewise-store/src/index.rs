//! The index: which pack holds each blob. Index files are written by each `snapshot create`
//! (and rewritten by `prune`); all of them together are the repository's index.
//!
//! ```text
//! magic "IWINDEX2" | per pack: pack id [32] | count u32 LE | count × entry (54 bytes, as in
//! the pack header, see pack.rs) | BLAKE3 of everything before [32]
//! ```
//! The file's name is the hex of that final hash.
//!
//! In memory, every entry is a 38-byte [`Slot`] in one array sorted by id, looked up by binary
//! search: the first 20 bytes of the id, then the pack's number and the entry's place packed
//! in 18 bytes, plus a table of the pack ids (32 bytes per pack of some 500 blobs). The hash
//! map of full entries this replaced, with every pack's list beside it, took 220 bytes per blob
//! resident (measured by the test below on the old code; a 1 TB repository of 32 KiB chunks
//! would have needed 7 GB to open); this takes 38 (1.2 GB). Why 20 bytes of the id
//! are enough: reads check every blob against the full id the tree names, so a prefix shared by
//! two blobs is found as damage, never returned as data; and a new chunk taken for a stored one
//! because their ids share 160 bits takes about 2^80 hashes to make on purpose (2^-80 per pair
//! by chance). docs/store.md says how this goes on past memory.
//!
//! `repo check` and `prune` read every entry of every pack anyway; [`Index::load_with_entries`]
//! keeps those lists beside the array for them.

use std::collections::HashMap;

use crate::backend::{list_all, Backend, FileKind};
use crate::error::{Malformed, Result};
use crate::id::Id;
use crate::pack::{BlobKind, PackEntry, ENTRY};

const MAGIC: &[u8; 8] = b"IWINDEX2";

/// Bytes of the id kept in memory.
const PREFIX: usize = 20;

/// One entry of one index file in 38 bytes: the id's first 20 bytes, then one little-endian
/// 144-bit word (bit: field): 0: frame offset (31 bits; packs are at most 1 GiB and a blob at
/// most 64 MiB) · 31: frame stored length (27) · 58: plain length (27) · 85: offset in the
/// frame (21; at most 1 MiB) · 106: compression (2) · 108: kind (1) · 109: pack number (35).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot([u8; PREFIX + 18]);

const _: () = assert!(std::mem::size_of::<Slot>() == 38);

impl Slot {
    fn new(pack: u32, e: &PackEntry) -> Result<Slot, Malformed> {
        // PackEntry::decode has checked the plain length (≤ 64 MiB), the offset in the frame
        // (≤ 1 MiB) and the compression (≤ 3); a frame is never longer than its plain bytes.
        if e.offset >= 1 << 31 || u64::from(e.len) >= 1 << 27 || u64::from(e.raw_len) >= 1 << 27 {
            return Err(Malformed::IndexOffset(e.offset));
        }
        let w: u128 = u128::from(e.offset)
            | u128::from(e.len) << 31
            | u128::from(e.raw_len) << 58
            | u128::from(e.sub) << 85
            | u128::from(e.comp & 3) << 106
            | (e.kind as u128) << 108
            | u128::from(pack & 0x7_ffff) << 109;
        let mut b = [0u8; PREFIX + 18];
        b[..PREFIX].copy_from_slice(&e.id.0[..PREFIX]);
        b[PREFIX..PREFIX + 16].copy_from_slice(&w.to_le_bytes());
        b[PREFIX + 16..].copy_from_slice(&((pack >> 19) as u16).to_le_bytes());
        Ok(Slot(b))
    }

    fn prefix(&self) -> &[u8] {
        &self.0[..PREFIX]
    }

    fn word(&self) -> u128 {
        let mut w = [0u8; 16];
        w.copy_from_slice(&self.0[PREFIX..PREFIX + 16]);
        u128::from_le_bytes(w)
    }

    fn pack(&self) -> u32 {
        let hi = u16::from_le_bytes([self.0[PREFIX + 16], self.0[PREFIX + 17]]);
        (self.word() >> 109) as u32 | u32::from(hi) << 19
    }

    /// The entry, with the id it was looked up by.
    fn entry(&self, id: Id) -> PackEntry {
        let w = self.word();
        let bits = |at: u32, n: u32| ((w >> at) & ((1u128 << n) - 1)) as u32;
        PackEntry {
            kind: if bits(108, 1) == 1 {
                BlobKind::Tree
            } else {
                BlobKind::Data
            },
            comp: bits(106, 2) as u8,
            id,
            offset: u64::from(bits(0, 31)),
            len: bits(31, 27),
            raw_len: bits(58, 27),
            sub: bits(85, 21),
        }
    }
}

/// Where one blob is, for statistics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loc {
    /// Index into [`Index::packs`].
    pub pack: u32,
    pub kind: BlobKind,
    pub offset: u64,
    pub len: u32,
    pub raw_len: u32,
}

/// All index files, merged.
#[derive(Default)]
pub(crate) struct Index {
    pub packs: Vec<Id>,
    pack_pos: HashMap<Id, u32>,
    /// The pack last numbered, while loading.
    last_pack: Option<(Id, u32)>,
    /// Every entry of every index file, sorted by id prefix and then pack number (so the first
    /// location read wins; a blob stored twice has a slot per pack).
    slots: Vec<Slot>,
    unique: usize,
    /// Every entry of every pack, as listed: only with [`Index::load_with_entries`].
    pub pack_entries: Vec<Vec<PackEntry>>,
    /// Index files read, by name, with the packs each lists.
    pub files: Vec<(String, Vec<Id>)>,
    /// Index files that could not be read, with why.
    pub damaged: Vec<(String, String)>,
}

impl Index {
    /// The index for looking blobs up: 40 bytes per entry.
    pub fn load(backend: &dyn Backend) -> Result<Index> {
        Index::read(backend, false)
    }

    /// The index with every pack's list of entries as well, for `repo check` and `prune`.
    pub fn load_with_entries(backend: &dyn Backend) -> Result<Index> {
        Index::read(backend, true)
    }

    fn read(backend: &dyn Backend, keep_entries: bool) -> Result<Index> {
        let mut idx = Index::default();
        let files = list_all(backend, FileKind::Index)?;
        // Sized once from the files' lengths (an upper bound: pack records take room too), so
        // loading never holds a half-grown copy of the array.
        let most: u64 = files
            .iter()
            .map(|(_, size)| size.saturating_sub((MAGIC.len() + 32) as u64) / ENTRY as u64)
            .sum();
        // Sizes are the backend's word: a hostile listing claiming terabytes must not abort the
        // process, so a reservation that cannot be had is skipped (the array then grows).
        let _ = idx
            .slots
            .try_reserve_exact(usize::try_from(most).unwrap_or(usize::MAX));
        for (name, _) in files {
            let bytes = backend.read(FileKind::Index, &name)?;
            // Checked whole first, so nothing of a damaged file is used.
            let checked = body(&bytes, &name)
                .and_then(|b| walk(b, |_, e| Slot::new(0, &e).map(drop)).map(|()| b));
            let b = match checked {
                Ok(b) => b,
                Err(why) => {
                    idx.damaged.push((name, why.to_string()));
                    continue;
                }
            };
            let mut ids = Vec::new();
            // Packs first seen in this file: their entries are the ones kept.
            let mut fresh = std::collections::HashSet::new();
            let added = walk(b, |pack, e| {
                let known = idx.packs.len();
                let n = idx.pack_number(pack);
                if n as usize == known {
                    fresh.insert(n);
                    if keep_entries {
                        idx.pack_entries.push(Vec::new());
                    }
                }
                if ids.last() != Some(&pack) {
                    ids.push(pack);
                }
                if keep_entries && fresh.contains(&n) {
                    idx.pack_entries[n as usize].push(e);
                }
                idx.slots.push(Slot::new(n, &e)?);
                Ok(())
            });
            debug_assert!(added.is_ok(), "checked above");
            idx.files.push((name, ids));
        }
        idx.slots
            .sort_unstable_by(|a, b| a.prefix().cmp(b.prefix()).then(a.pack().cmp(&b.pack())));
        idx.slots.shrink_to_fit();
        // Pack numbers are given while loading only.
        idx.pack_pos = HashMap::new();
        idx.last_pack = None;
        idx.unique = idx.first_slots().count();
        Ok(idx)
    }

    /// The number of a pack, given on its first sight.
    fn pack_number(&mut self, pack: Id) -> u32 {
        // An index file lists a pack's entries together: most calls ask for the last one.
        if let Some(&(last, n)) = self.last_pack.as_ref() {
            if last == pack {
                return n;
            }
        }
        let n = self.packs.len() as u32;
        let n = *self.pack_pos.entry(pack).or_insert_with(|| {
            self.packs.push(pack);
            n
        });
        self.last_pack = Some((pack, n));
        n
    }

    /// The first slot of each run of equal prefixes.
    fn first_slots(&self) -> impl Iterator<Item = &Slot> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(i, s)| *i == 0 || self.slots[i - 1].prefix() != s.prefix())
            .map(|(_, s)| s)
    }

    fn slot(&self, id: &Id) -> Option<&Slot> {
        let key = &id.0[..PREFIX];
        let i = self.slots.partition_point(|s| s.prefix() < key);
        self.slots.get(i).filter(|s| s.prefix() == key)
    }

    pub fn get(&self, id: &Id) -> Option<(Id, PackEntry)> {
        self.slot(id)
            .map(|s| (self.packs[s.pack() as usize], s.entry(*id)))
    }

    pub fn contains(&self, id: &Id) -> bool {
        self.slot(id).is_some()
    }

    /// Distinct blobs.
    pub fn len(&self) -> usize {
        self.unique
    }

    /// One location per distinct blob (the one reads use).
    pub fn locations(&self) -> impl Iterator<Item = Loc> + '_ {
        self.first_slots().map(|s| {
            let e = s.entry(Id([0; 32]));
            Loc {
                pack: s.pack(),
                kind: e.kind,
                offset: e.offset,
                len: e.len,
                raw_len: e.raw_len,
            }
        })
    }

    /// Bytes the lookup structures take (the slot array and the pack table).
    pub fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.packs.capacity() * 32
            + self.pack_pos.capacity() * (32 + 4 + 8)
            + self.pack_entries.capacity() * std::mem::size_of::<Vec<PackEntry>>()
            + self
                .pack_entries
                .iter()
                .map(|v| v.capacity() * std::mem::size_of::<PackEntry>())
                .sum::<usize>()
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

/// The body of an index file (before its checksum), once the magic, checksum and name agree.
fn body<'a>(b: &'a [u8], name: &str) -> Result<&'a [u8], Malformed> {
    if b.len() < MAGIC.len() + 32 || &b[..8] != MAGIC {
        return Err(Malformed::IndexMagic);
    }
    let (body, sum) = b.split_at(b.len() - 32);
    let h = Id::of(body);
    if h.0 != sum || h.hex() != name {
        return Err(Malformed::IndexChecksum);
    }
    Ok(body)
}

/// Call `f` with each (pack, entry) of an index file's body, in order.
fn walk(
    body: &[u8],
    mut f: impl FnMut(Id, PackEntry) -> Result<(), Malformed>,
) -> Result<(), Malformed> {
    let mut p = &body[MAGIC.len()..];
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
        for e in p[..n * ENTRY].chunks_exact(ENTRY) {
            f(Id(pack), PackEntry::decode(e)?)?;
        }
        p = &p[n * ENTRY..];
    }
    Ok(())
}

/// Write an index file for these packs (atomic; the name is its hash).
pub(crate) fn write(backend: &dyn Backend, packs: &[(Id, Vec<PackEntry>)]) -> Result<String> {
    let (name, bytes) = encode(packs);
    backend.write(FileKind::Index, &name, &bytes, false)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::LocalDir;
    use crate::pack::{COMP_ZSTD, COMP_ZSTD_GROUP};

    /// Entry `i` of the synthetic repository: pack `i / 500`, every 8th one a lone zstd frame,
    /// the others members of groups of 8.
    fn synthetic(i: u64) -> (Id, PackEntry) {
        let id = Id::of(&i.to_le_bytes());
        let pack = Id::of(format!("pack {}", i / 500).as_bytes());
        let lone = i.is_multiple_of(8);
        let e = PackEntry {
            kind: if i.is_multiple_of(97) {
                BlobKind::Tree
            } else {
                BlobKind::Data
            },
            comp: if lone { COMP_ZSTD } else { COMP_ZSTD_GROUP },
            id,
            offset: (i % 500) / 8 * 300_000,
            len: 20_000 + (i % 7) as u32,
            raw_len: 32_768 + (i % 1000) as u32,
            sub: if lone { 0 } else { (i % 8) as u32 * 40_000 },
        };
        (pack, e)
    }

    /// Index files of `n` synthetic entries, 100,000 to a file (one snapshot's worth each).
    fn write_synthetic(root: &std::path::Path, n: u64) {
        for d in ["index", "tmp"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let backend = LocalDir::new(root);
        let mut i = 0;
        while i < n {
            let end = (i + 100_000).min(n);
            let mut packs: Vec<(Id, Vec<PackEntry>)> = Vec::new();
            for j in i..end {
                let (p, e) = synthetic(j);
                match packs.last_mut() {
                    Some((q, v)) if *q == p => v.push(e),
                    _ => packs.push((p, vec![e])),
                }
            }
            write(&backend, &packs).unwrap();
            i = end;
        }
    }

    fn rss_kib() -> u64 {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    const CHUNKS: u64 = 5_000_000;

    /// Run alone by `index_of_five_million_chunks_takes_at_most_40_bytes_each` in a process of
    /// its own (other tests' allocations would blur the numbers).
    #[test]
    #[ignore = "run in a child process by the test below"]
    fn index_memory_child() {
        let Ok(dir) = std::env::var("IMAGEWISE_INDEX_CHILD") else {
            return;
        };
        let backend = LocalDir::new(&dir);
        let before = rss_kib();
        let idx = Index::load(&backend).unwrap();
        let after = rss_kib();
        println!(
            "MEASURED entries={} rss_bytes={} counted_bytes={}",
            idx.len(),
            (after - before) * 1024,
            idx.memory()
        );
        // Lookups agree with a plain map of every entry, on present and absent ids.
        let plain: HashMap<Id, (Id, PackEntry)> = (0..CHUNKS)
            .map(|i| {
                let (p, e) = synthetic(i);
                (e.id, (p, e))
            })
            .collect();
        let mut probes = 0;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = Id::of(&(x % (2 * CHUNKS)).to_le_bytes());
            let got = idx.get(&id);
            assert_eq!(got, plain.get(&id).copied(), "{id:?}");
            assert_eq!(idx.contains(&id), got.is_some());
            probes += 1;
        }
        println!("PROBES {probes}");
    }

    #[test]
    fn index_of_five_million_chunks_takes_at_most_40_bytes_each() {
        let t = tempfile::tempdir().unwrap();
        write_synthetic(t.path(), CHUNKS);
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "index::tests::index_memory_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("IMAGEWISE_INDEX_CHILD", t.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = text
            .lines()
            .find_map(|l| l.find("MEASURED").map(|i| &l[i..]))
            .unwrap_or_else(|| panic!("{text}"));
        let field = |k: &str| -> u64 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .unwrap()
                .parse()
                .unwrap()
        };
        let (entries, rss, counted) = (
            field("entries="),
            field("rss_bytes="),
            field("counted_bytes="),
        );
        eprintln!(
            "index of {entries} chunks: {:.1} bytes/chunk resident ({:.1} counted)",
            rss as f64 / entries as f64,
            counted as f64 / entries as f64
        );
        assert_eq!(entries, CHUNKS);
        assert!(counted <= 40 * CHUNKS, "{line}");
        assert!(rss <= 40 * CHUNKS, "{line}");
        assert!(text.contains("PROBES 200000"), "{text}");
    }
}
