//! Listings of a tree: the record `ls --json` prints for each entry (docs/ls-json.md), its
//! `ls -l`-like text line, and the SHA-256 of many files read in one pass.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Read;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::entry::{Entry, EntryKind};
use crate::error::{Error, Result};
use crate::tree::{Ahead, ImageTree};

/// Zeros to hash a hole with.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// One line of `ls --json`: the documented, stable shape.
#[derive(Debug, Clone, Serialize)]
pub struct LsRecord<'a> {
    pub path: &'a str,
    pub kind: &'static str,
    /// Permission bits, 4 octal digits.
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    pub link: Option<&'a str>,
    pub layer: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<[u32; 2]>,
    /// Extended attributes, values in lowercase hex.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub xattrs: BTreeMap<&'a str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<&'a str>,
}

impl<'a> LsRecord<'a> {
    pub fn new(e: &'a Entry, sha256: Option<&'a str>) -> LsRecord<'a> {
        LsRecord {
            path: &e.path,
            kind: e.kind.as_str(),
            mode: octal4(e.mode),
            uid: e.uid,
            gid: e.gid,
            size: e.size,
            mtime: e.mtime,
            mtime_nsec: e.mtime_nsec,
            link: e.link.as_deref(),
            layer: e.layer,
            device: e.device.map(|(a, b)| [a, b]),
            xattrs: e
                .xattrs
                .iter()
                .map(|(k, v)| (k.as_str(), hex::encode(v)))
                .collect(),
            sha256,
        }
    }
}

/// `0755`-style permission bits without going through `format!` (a hot path at a million lines).
fn octal4(mode: u32) -> String {
    let digit = |shift: u32| char::from(b'0' + ((mode >> shift) & 7) as u8);
    [digit(9), digit(6), digit(3), digit(0)].iter().collect()
}

/// An entry as one text line, like `ls -l`: type and permissions, owner, size (or device
/// numbers), mtime (UTC, minutes), path, link target, and the digest when given.
pub fn ls_line(e: &Entry, digest: Option<&str>) -> String {
    let t = match e.kind {
        EntryKind::File | EntryKind::Hardlink => '-',
        EntryKind::Dir => 'd',
        EntryKind::Symlink => 'l',
        EntryKind::Char => 'c',
        EntryKind::Block => 'b',
        EntryKind::Fifo => 'p',
        EntryKind::Socket => 's',
    };
    let mut perm = String::with_capacity(10);
    perm.push(t);
    for (shift, special, lower, upper) in [
        (6, 0o4000, 's', 'S'),
        (3, 0o2000, 's', 'S'),
        (0, 0o1000, 't', 'T'),
    ] {
        let bits = (e.mode >> shift) & 7;
        perm.push(if bits & 4 != 0 { 'r' } else { '-' });
        perm.push(if bits & 2 != 0 { 'w' } else { '-' });
        let x = bits & 1 != 0;
        perm.push(match (e.mode & special != 0, x) {
            (true, true) => lower,
            (true, false) => upper,
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    let size = match e.device {
        Some((ma, mi)) => format!("{ma},{mi}"),
        None => e.size.to_string(),
    };
    let when = jiff::Timestamp::from_second(e.mtime)
        .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| e.mtime.to_string());
    let mut s = format!(
        "{perm} {:>5}/{:<5} {size:>10} {when} {}",
        e.uid, e.gid, e.path
    );
    match (e.kind, &e.link) {
        (EntryKind::Symlink, Some(l)) => {
            let _ = write!(s, " -> {l}");
        }
        (EntryKind::Hardlink, Some(l)) => {
            let _ = write!(s, " link to {l}");
        }
        _ => {}
    }
    if let Some(d) = digest {
        let _ = write!(s, " sha256:{d}");
    }
    s
}

impl ImageTree {
    /// The SHA-256 (hex) of every file and hardlink among `entries`, keyed by the path whose
    /// content it is (a hardlink's first name, wherever that is), read in one pass.
    pub fn sha256_of(&self, entries: &[&Entry]) -> Result<HashMap<String, String>> {
        let mut wanted: HashSet<&str> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| e.path.as_str())
            .collect();
        wanted.extend(
            entries
                .iter()
                .filter(|e| e.kind == EntryKind::Hardlink)
                .filter_map(|e| e.link.as_deref()),
        );
        let mut digests = HashMap::new();
        let mut buf = vec![0u8; 256 * 1024];
        self.for_each_file(
            |e| wanted.contains(e.path.as_str()),
            |e, r| {
                let mut h = Sha256::new();
                let failed = |err| {
                    Error::from_stream(&format!("reading {}", e.path), &self.info().location, err)
                };
                loop {
                    // A recorded hole is hashed from a block of zeros, never read. SHA-256 has
                    // no shortcut over zeros, so this saves the reading, not the hashing.
                    let data = match r.ahead() {
                        Ahead::End => break,
                        Ahead::Hole(_) => {
                            let mut n = r.skip_hole().map_err(failed)?;
                            if n > 0 {
                                while n > 0 {
                                    let k = n.min(ZEROS.len() as u64) as usize;
                                    h.update(&ZEROS[..k]);
                                    n -= k as u64;
                                }
                                continue;
                            }
                            u64::MAX
                        }
                        Ahead::Data(n) if n > 0 => n,
                        _ => u64::MAX,
                    };
                    let mut part = Read::take(&mut *r, data);
                    let mut got = 0u64;
                    loop {
                        let n = part.read(&mut buf).map_err(failed)?;
                        if n == 0 {
                            break;
                        }
                        got += n as u64;
                        h.update(&buf[..n]);
                    }
                    if got == 0 || data == u64::MAX {
                        break;
                    }
                }
                digests.insert(e.path.clone(), hex::encode(h.finalize()));
                Ok(())
            },
        )?;
        Ok(digests)
    }
}
