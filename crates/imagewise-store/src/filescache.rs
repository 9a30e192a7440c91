//! The files cache: what each file of a source looked like when the last snapshot of it read
//! it, so that `snapshot create` reads only files that changed since and takes the others'
//! chunks from that snapshot (the parent).
//!
//! Each record keeps the file's extents as the parent stored them, so an unchanged file costs a
//! comparison and an index lookup per chunk: the parent's trees are not read. (They would be
//! the same extents: the cache is written from the nodes of the snapshot whose root tree it
//! names, and it is used only when that root tree is the parent's.) Like the files themselves, the cache is
//! trusted as a local file: who can rewrite it can as well rewrite the files it describes.
//!
//! It also keeps a digest of the whole listing it was written from (every entry's metadata and
//! every file's stamp) and the ids of the snapshot's trees. A tree is a function of the listing
//! and the files' chunks, so when the listing hashes the same and every file is unchanged, the
//! new snapshot's trees are the parent's: nothing is built, and the cache stays as it is.
//! (It is tied to the parent's root tree, not to a snapshot id, for that reason; which is also
//! why it can be written while the new snapshot is.)
//!
//! One file per repository, source and tag set, under the user's cache directory (never inside the
//! repository: it is a local speed-up, not data): `$IMAGEWISE_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/imagewise`, else `~/.cache/imagewise`, then `files/<repository id>/<BLAKE3
//! of the source reference and the sorted tags>`. A file is unchanged when its size, mtime (ns) and [`Stamp`] (a
//! directory's files: device, inode and ctime; an image layer's: the layer's digest) are those
//! recorded. It records the root tree of the snapshot it was written for; it is used only when the
//! parent of the new snapshot has that root tree.
//!
//! The limit every files cache shares: a file rewritten with the same size by a writer that
//! then restores its mtime, on a filesystem or in a way that leaves ctime alone (or a ctime
//! set back by changing the clock), looks unchanged. `snapshot create --force` rereads
//! everything, and `repo check --read-data` verifies what is stored.
//!
//! ```text
//! magic "IWFILES3" | repository id: u16 LE length + UTF-8 | root tree id [32] | listing digest [32] | tree count u32 LE | tree ids [32] each |
//! record count u64 LE | records, by path in byte order | BLAKE3 of everything before [32]
//! record: path: u32 LE length + bytes | size u64 | mtime i64 | mtime_nsec u32 | stamp |
//!         extent count u32 | extents
//! stamp: 0 (none) | 1, dev u64, ino u64, ctime i64, ctime_nsec u32 | 2, u16 length + digest
//! extent: 0, length u64 (a hole) | 1, chunk id [32], length u64
//! ```
//!
//! A cache of an earlier format ("IWFILES1" without extents, "IWFILES2" with a snapshot id) is
//! passed over without a warning: the next snapshot reads every file once and writes this one.

use std::io::Write;
use std::path::{Path, PathBuf};

use imagewise_source::{Entry, Stamp};

use crate::id::Id;
use crate::tree::Extent;

const MAGIC: &[u8; 8] = b"IWFILES3";
/// Earlier formats: not damage, just nothing to use.
const OLD_MAGICS: [&[u8; 8]; 2] = [b"IWFILES1", b"IWFILES2"];

/// What a file looked like when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    pub stamp: Stamp,
}

impl Seen {
    pub fn of(e: &Entry, stamp: Stamp) -> Seen {
        Seen {
            size: e.size,
            mtime: e.mtime,
            mtime_nsec: e.mtime_nsec,
            stamp,
        }
    }
}

/// The source reference and the sorted tags, NUL-separated, hashed.
fn lineage(source: &str, tags: &[String]) -> Id {
    let mut tags = tags.to_vec();
    tags.sort();
    tags.dedup();
    let mut key = source.as_bytes().to_vec();
    for t in tags {
        key.push(0);
        key.extend_from_slice(t.as_bytes());
    }
    Id::of(&key)
}

/// One file as the snapshot stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub path: String,
    pub seen: Seen,
    pub content: Vec<Extent>,
}

/// A loaded cache.
#[derive(Debug)]
pub(crate) struct FilesCache {
    /// The root tree of the snapshot it was written for: it holds for any snapshot with it.
    pub tree: Id,
    /// The digest of the listing it was written from ([`listing_digest`]).
    pub listing: Id,
    /// Every tree of that snapshot.
    pub trees: Vec<Id>,
    /// By path, in byte order (as an image tree's entries are), each path once.
    pub files: Vec<Record>,
}

/// The user's cache directory for imagewise: `$IMAGEWISE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/imagewise`, else `~/.cache/imagewise`; `None` without any of them.
pub fn default_dir() -> Option<PathBuf> {
    std::env::var_os("IMAGEWISE_CACHE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(|d| PathBuf::from(d).join("imagewise"))
        })
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache/imagewise"))
        })
}

/// Where the files cache of this repository, source and tag set (a lineage of snapshots, as
/// the parent is chosen) lives under the cache directory.
pub(crate) fn path(base: &Path, repo_id: &str, source: &str, tags: &[String]) -> Option<PathBuf> {
    // The repository id is 32 hex digits (config.rs checks it); anything else gets no cache.
    if repo_id.is_empty() || !repo_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(
        base.join("files")
            .join(repo_id)
            .join(lineage(source, tags).hex()),
    )
}

/// The cache at `path`, if there is one that belongs to `repo_id`: `Err` says why one that is
/// there cannot be used (damaged, another repository's), for a warning.
pub(crate) fn load(path: &Path, repo_id: &str) -> Result<Option<FilesCache>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it ({e})")),
    };
    if OLD_MAGICS.iter().any(|m| bytes.starts_with(*m)) {
        tracing::info!(
            "files cache {} is of an earlier format: every file is read once",
            path.display()
        );
        return Ok(None);
    }
    let (cache, owner) = decode(&bytes).ok_or("it is damaged")?;
    if owner != repo_id {
        return Err(format!(
            "it belongs to another repository ({owner}, this is {repo_id})"
        ));
    }
    Ok(Some(cache))
}

/// What a cache is written for: a snapshot's root tree and every tree, and the listing's digest.
pub(crate) struct Written<'a> {
    pub tree: Id,
    pub listing: Id,
    pub trees: &'a [Id],
}

/// Write the cache (atomically: a temporary file renamed over the old one). `files` come by
/// path in byte order.
pub(crate) fn save<'a>(
    path: &Path,
    repo_id: &str,
    written: &Written<'_>,
    files: impl Iterator<Item = (&'a str, &'a Seen, &'a [Extent])>,
) -> std::io::Result<()> {
    let mut body = Vec::new();
    body.extend_from_slice(MAGIC);
    body.extend_from_slice(&(repo_id.len() as u16).to_le_bytes());
    body.extend_from_slice(repo_id.as_bytes());
    body.extend_from_slice(&written.tree.0);
    body.extend_from_slice(&written.listing.0);
    body.extend_from_slice(&(written.trees.len() as u32).to_le_bytes());
    for t in written.trees {
        body.extend_from_slice(&t.0);
    }
    let count_at = body.len();
    body.extend_from_slice(&0u64.to_le_bytes());
    let mut n = 0u64;
    for (p, s, content) in files {
        body.extend_from_slice(&(p.len() as u32).to_le_bytes());
        body.extend_from_slice(p.as_bytes());
        body.extend_from_slice(&s.size.to_le_bytes());
        body.extend_from_slice(&s.mtime.to_le_bytes());
        body.extend_from_slice(&s.mtime_nsec.to_le_bytes());
        put_stamp(&mut body, &s.stamp);
        body.extend_from_slice(&(content.len() as u32).to_le_bytes());
        for Extent(id, len) in content {
            match id {
                None => body.push(0),
                Some(id) => {
                    body.push(1);
                    body.extend_from_slice(&id.0);
                }
            }
            body.extend_from_slice(&len.to_le_bytes());
        }
        n += 1;
    }
    body[count_at..count_at + 8].copy_from_slice(&n.to_le_bytes());
    let sum = Id::of(&body);
    body.extend_from_slice(&sum.0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(&body)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn put_stamp(out: &mut Vec<u8>, stamp: &Stamp) {
    match stamp {
        Stamp::None => out.push(0),
        Stamp::Host {
            dev,
            ino,
            ctime,
            ctime_nsec,
        } => {
            out.push(1);
            out.extend_from_slice(&dev.to_le_bytes());
            out.extend_from_slice(&ino.to_le_bytes());
            out.extend_from_slice(&ctime.to_le_bytes());
            out.extend_from_slice(&ctime_nsec.to_le_bytes());
        }
        Stamp::Layer(d) => {
            out.push(2);
            out.extend_from_slice(&(d.len() as u16).to_le_bytes());
            out.extend_from_slice(d.as_bytes());
        }
    }
}

/// Everything a snapshot's trees are made of besides the files' bytes: every entry's path, kind,
/// mode, owner, size, mtime, link target, device and xattrs, and each file's stamp (which vouches
/// for its bytes), in the tree's order, hashed. The first bytes name the tree encoding, so a
/// change to it makes every digest new.
pub(crate) fn listing_digest(tree: &imagewise_source::ImageTree) -> Id {
    fn put(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
    }
    let mut out = Vec::with_capacity(tree.entries().len() * 96);
    out.extend_from_slice(b"imagewise listing 1, trees json 1\0");
    for (i, e) in tree.entries().iter().enumerate() {
        put(&mut out, e.path.as_bytes());
        put(&mut out, e.kind.as_str().as_bytes());
        out.extend_from_slice(&e.mode.to_le_bytes());
        out.extend_from_slice(&e.uid.to_le_bytes());
        out.extend_from_slice(&e.gid.to_le_bytes());
        out.extend_from_slice(&e.size.to_le_bytes());
        out.extend_from_slice(&e.mtime.to_le_bytes());
        out.extend_from_slice(&e.mtime_nsec.to_le_bytes());
        match &e.link {
            Some(l) => {
                out.push(1);
                put(&mut out, l.as_bytes());
            }
            None => out.push(0),
        }
        match e.device {
            Some((a, b)) => {
                out.push(1);
                out.extend_from_slice(&a.to_le_bytes());
                out.extend_from_slice(&b.to_le_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&(e.xattrs.len() as u64).to_le_bytes());
        for (k, v) in &e.xattrs {
            put(&mut out, k.as_bytes());
            put(&mut out, v);
        }
        if e.kind == imagewise_source::EntryKind::File {
            put_stamp(&mut out, &tree.stamp_at(i));
        }
    }
    Id::of(&out)
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self, n: usize) -> Option<String> {
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// The cache and the repository id it names; `None` when anything is off.
fn decode(b: &[u8]) -> Option<(FilesCache, String)> {
    if b.len() < MAGIC.len() + 32 || &b[..8] != MAGIC {
        return None;
    }
    let (body, sum) = b.split_at(b.len() - 32);
    if Id::of(body).0 != sum {
        return None;
    }
    let mut c = Cursor(&body[8..]);
    let n = c.u16()? as usize;
    let owner = c.str(n)?;
    let tree = Id(c.take(32)?.try_into().ok()?);
    let listing = Id(c.take(32)?.try_into().ok()?);
    let n = c.u32()? as usize;
    let mut trees = Vec::with_capacity(n.min(c.0.len() / 32));
    for _ in 0..n {
        trees.push(Id(c.take(32)?.try_into().ok()?));
    }
    let count = c.u64()?;
    // Every record takes more than 30 bytes: a count past that is damage, not a reservation.
    let mut files: Vec<Record> = Vec::with_capacity((count as usize).min(c.0.len() / 30));
    for _ in 0..count {
        let n = c.u32()? as usize;
        let path = c.str(n)?;
        let size = c.u64()?;
        let mtime = c.i64()?;
        let mtime_nsec = c.u32()?;
        let stamp = match c.u8()? {
            0 => Stamp::None,
            1 => Stamp::Host {
                dev: c.u64()?,
                ino: c.u64()?,
                ctime: c.i64()?,
                ctime_nsec: c.u32()?,
            },
            2 => {
                let n = c.u16()? as usize;
                Stamp::Layer(c.str(n)?)
            }
            _ => return None,
        };
        let n = c.u32()? as usize;
        let mut content = Vec::with_capacity(n.min(c.0.len() / 9));
        for _ in 0..n {
            let id = match c.u8()? {
                0 => None,
                1 => Some(Id(c.take(32)?.try_into().ok()?)),
                _ => return None,
            };
            content.push(Extent(id, c.u64()?));
        }
        if files.last().is_some_and(|r| r.path >= path) {
            return None;
        }
        files.push(Record {
            path,
            seen: Seen {
                size,
                mtime,
                mtime_nsec,
                stamp,
            },
            content,
        });
    }
    if !c.0.is_empty() {
        return None;
    }
    Some((
        FilesCache {
            tree,
            listing,
            trees,
            files,
        },
        owner,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c");
        let a = Seen {
            size: 5,
            mtime: -3,
            mtime_nsec: 7,
            stamp: Stamp::Host {
                dev: 1,
                ino: 2,
                ctime: 3,
                ctime_nsec: 4,
            },
        };
        let b = Seen {
            size: 0,
            mtime: 0,
            mtime_nsec: 0,
            stamp: Stamp::Layer("sha256:ab".into()),
        };
        let trees = [Id::of(b"t"), Id::of(b"u")];
        let w = Written {
            tree: trees[0],
            listing: Id::of(b"l"),
            trees: &trees,
        };
        let ext = [Extent(Some(Id::of(b"x")), 3), Extent(None, 2)];
        save(
            &p,
            "00ff",
            &w,
            [("/a", &a, &ext[..]), ("/b", &b, &[][..])].into_iter(),
        )
        .unwrap();
        let c = load(&p, "00ff").unwrap().unwrap();
        assert_eq!((c.tree, c.listing), (trees[0], Id::of(b"l")));
        assert_eq!(c.trees, trees);
        assert_eq!(c.files.len(), 2);
        assert_eq!((c.files[0].path.as_str(), &c.files[0].seen), ("/a", &a));
        assert_eq!(c.files[0].content, ext);
        assert_eq!((c.files[1].path.as_str(), &c.files[1].seen), ("/b", &b));
        assert!(c.files[1].content.is_empty());
        assert!(load(&p, "00fe").unwrap_err().contains("another repository"));
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(load(&p, "00ff").err().as_deref(), Some("it is damaged"));
        assert!(load(&t.path().join("none"), "00ff").unwrap().is_none());
        // Out of order is damage too (the merge with the tree's entries relies on the order).
        save(
            &p,
            "00ff",
            &w,
            [("/b", &b, &[][..]), ("/a", &a, &[][..])].into_iter(),
        )
        .unwrap();
        assert_eq!(load(&p, "00ff").err().as_deref(), Some("it is damaged"));
        // Earlier formats are passed over quietly.
        for old in [&b"IWFILES1 whatever"[..], b"IWFILES2 whatever"] {
            std::fs::write(&p, old).unwrap();
            assert!(load(&p, "00ff").unwrap().is_none());
        }
    }
}
