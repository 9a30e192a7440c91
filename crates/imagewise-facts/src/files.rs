//! Reading the few files the facts need, in one pass over the image.
//!
//! Every fact is derived from metadata plus a small set of files (package databases, os-release,
//! configs, ELF headers). The set is known from the entry list alone, so all of it is read with one
//! [`ImageTree::for_each_file`] call: a compressed layer is streamed once, not once per file.
//! Judgements over the facts that need a few more files (lint) add them to the same pass through
//! [`crate::inspect_with`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use imagewise_source::{Entry, EntryKind, ImageTree};

/// How much of a file to read.
#[derive(Debug, Clone, Copy)]
enum Limit {
    /// The whole file, refused (with a note) when it is bigger than this.
    Whole(u64),
    /// At most this many leading bytes (ELF headers).
    Head(u64),
    /// Handed to a scanner that reads what it needs and keeps what it finds, not the bytes;
    /// with the leading bytes kept too when they are also asked for.
    Scan(crate::apps::Scan, Option<u64>),
}

/// Requested files, by the path asked for (symlinks inside the image are followed).
#[derive(Debug, Default)]
pub struct Wants {
    asked: BTreeMap<String, Limit>,
}

impl Wants {
    /// The whole file; one bigger than `max` bytes is skipped with a note.
    pub fn whole(&mut self, path: impl Into<String>, max: u64) {
        let path = path.into();
        let max = match self.asked.get(&path) {
            Some(Limit::Whole(m)) => max.max(*m),
            _ => max,
        };
        self.asked.insert(path, Limit::Whole(max));
    }

    /// At most the first `bytes` bytes.
    pub fn head(&mut self, path: impl Into<String>, bytes: u64) {
        let e = self.asked.entry(path.into()).or_insert(Limit::Head(bytes));
        match e {
            Limit::Head(n) => *n = (*n).max(bytes),
            Limit::Scan(_, head) => *head = Some(head.unwrap_or(0).max(bytes)),
            Limit::Whole(_) => {}
        }
    }

    /// Scanned for application packages (an archive, a program), unless its bytes are asked
    /// for otherwise.
    pub(crate) fn scan(&mut self, path: impl Into<String>, kind: crate::apps::Scan) {
        let e = self
            .asked
            .entry(path.into())
            .or_insert(Limit::Scan(kind, None));
        if let Limit::Head(n) = *e {
            *e = Limit::Scan(kind, Some(n));
        }
    }
}

/// The bytes of the files that were asked for and exist.
#[derive(Debug, Default)]
pub struct Files {
    /// Asked path → the regular file it resolved to.
    resolved: HashMap<String, String>,
    contents: HashMap<String, Vec<u8>>,
    /// What the scanners found, by the scanned file's path.
    scanned: BTreeMap<String, crate::apps::Scanned>,
}

impl Files {
    pub(crate) fn load(tree: &ImageTree, wants: Wants, notes: &mut Vec<String>) -> Files {
        let mut resolved = HashMap::new();
        let mut limits: HashMap<String, Limit> = HashMap::new();
        for (asked, limit) in wants.asked {
            let Ok(e) = tree.resolve(&asked, true) else {
                continue;
            };
            let target = match (e.kind, &e.link) {
                (EntryKind::File, _) => e.path.clone(),
                (EntryKind::Hardlink, Some(primary)) => primary.clone(),
                _ => continue,
            };
            if let Limit::Whole(max) = limit {
                if e.size > max {
                    notes.push(format!(
                        "{asked} is {} bytes, more than the {max} read for facts; skipped",
                        e.size
                    ));
                    continue;
                }
            }
            // A file asked for whole and by head is read whole; a scanned file is scanned under
            // its own name only (not again through a link to it).
            let merged = match (limits.get(&target), limit) {
                (Some(Limit::Whole(a)), Limit::Whole(b)) => Limit::Whole((*a).max(b)),
                (Some(Limit::Whole(a)), Limit::Head(_) | Limit::Scan(..)) => Limit::Whole(*a),
                (Some(Limit::Scan(k, h)), Limit::Head(n)) => {
                    Limit::Scan(*k, Some(h.unwrap_or(0).max(n)))
                }
                (Some(Limit::Head(n)), Limit::Scan(k, h)) => {
                    Limit::Scan(k, Some(h.unwrap_or(0).max(*n)))
                }
                (_, Limit::Scan(..)) if target != asked => continue,
                _ => limit,
            };
            limits.insert(target.clone(), merged);
            resolved.insert(asked, target);
        }
        let picked: HashSet<&str> = limits.keys().map(String::as_str).collect();
        let mut contents = HashMap::new();
        let mut scanned = BTreeMap::new();
        let result = tree.for_each_file(
            |e: &Entry| picked.contains(e.path.as_str()),
            |e: &Entry, r: &mut dyn imagewise_source::FileRead| {
                let cap = match limits.get(&e.path) {
                    Some(Limit::Whole(max)) => *max,
                    Some(Limit::Head(n)) => *n,
                    Some(Limit::Scan(kind, head)) => {
                        let found = match head {
                            None => crate::apps::scan(*kind, e, r),
                            Some(n) => {
                                // The head for the other facts, then the scan from the start.
                                let seek_head = r.seekable().and_then(|s| {
                                    use std::io::SeekFrom;
                                    let mut head = Vec::new();
                                    s.take(*n).read_to_end(&mut head).ok()?;
                                    s.seek(SeekFrom::Start(0)).ok()?;
                                    Some(head)
                                });
                                match seek_head {
                                    Some(head) => {
                                        contents.insert(e.path.clone(), head);
                                        crate::apps::scan(*kind, e, r)
                                    }
                                    None => {
                                        let mut buf = Vec::new();
                                        if let Err(err) =
                                            r.take(crate::apps::MAX_SCANNED).read_to_end(&mut buf)
                                        {
                                            tracing::warn!("reading {}: {err}", e.path);
                                            return Ok(());
                                        }
                                        let cut = buf.len().min(*n as usize);
                                        contents.insert(e.path.clone(), buf[..cut].to_vec());
                                        crate::apps::scan(*kind, e, &mut std::io::Cursor::new(buf))
                                    }
                                }
                            }
                        };
                        if !found.packages.is_empty() || !found.notes.is_empty() {
                            scanned.insert(e.path.clone(), found);
                        }
                        return Ok(());
                    }
                    None => return Ok(()),
                };
                let mut buf = Vec::with_capacity(e.size.min(cap) as usize);
                if let Err(err) = r.take(cap).read_to_end(&mut buf) {
                    tracing::warn!("reading {}: {err}", e.path);
                    return Ok(());
                }
                contents.insert(e.path.clone(), buf);
                Ok(())
            },
        );
        if let Err(e) = result {
            notes.push(format!(
                "reading files for facts stopped early: {e}; facts from unread files are missing"
            ));
        }
        Files {
            resolved,
            contents,
            scanned,
        }
    }

    /// What scanning archives and programs found, by path.
    pub(crate) fn scanned(&self) -> impl Iterator<Item = (&String, &crate::apps::Scanned)> {
        self.scanned.iter()
    }

    /// The bytes of `path` (as asked for), if it exists and was read.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        let target = self.resolved.get(path)?;
        self.contents.get(target).map(Vec::as_slice)
    }

    /// The text of `path`, with invalid UTF-8 replaced.
    pub fn text(&self, path: &str) -> Option<String> {
        self.get(path)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// The regular file `path` resolved to.
    pub fn target(&self, path: &str) -> Option<&str> {
        self.resolved.get(path).map(String::as_str)
    }
}

/// Paths of the direct children of `dir` (following a symlinked `dir` inside the image).
pub fn children<'a>(tree: &'a ImageTree, dir: &str) -> Vec<&'a Entry> {
    let Ok(d) = tree.resolve(dir, true) else {
        return Vec::new();
    };
    if d.kind != EntryKind::Dir {
        return Vec::new();
    }
    let depth = if d.path == "/" {
        1
    } else {
        d.path.matches('/').count() + 1
    };
    tree.subtree(d)
        .skip(1)
        .filter(|e| e.path.matches('/').count() == depth)
        .collect()
}

/// The last component of a path.
pub fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `dir` as the image names it after resolving symlinks, so children found under a resolved
/// directory can be asked for again by their real path.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}
