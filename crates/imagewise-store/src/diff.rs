//! `snapshot diff A B`: added, removed and changed paths; unchanged directories (same tree id)
//! are skipped without reading them.

use serde::Serialize;

use crate::error::Result;
use crate::id::Id;
use crate::repo::{BlobReader, Repo};
use crate::tree::{join, too_deep, Node, NodeKind, MAX_DEPTH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    /// Content (or type) changed.
    Changed,
    /// Only metadata changed (mode, owner, mtime, xattrs).
    Metadata,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub path: String,
    pub change: ChangeKind,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_a: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_b: Option<u64>,
    /// What differs: content, type, link, mode, owner, mtime, xattrs, device.
    pub what: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub a: String,
    pub b: String,
    pub changes: Vec<Change>,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub metadata_only: usize,
    /// Apparent bytes of added files, of removed files, and the size change of changed files.
    pub bytes_added: u64,
    pub bytes_removed: u64,
}

fn size_of(n: &Node) -> Option<u64> {
    matches!(n.kind, NodeKind::File | NodeKind::Symlink).then_some(n.size)
}

fn differences(a: &Node, b: &Node) -> Vec<&'static str> {
    let mut w = Vec::new();
    if a.kind != b.kind {
        w.push("type");
        return w;
    }
    if a.content != b.content || a.size != b.size {
        w.push("content");
    }
    if a.link != b.link {
        w.push("link");
    }
    if a.device != b.device {
        w.push("device");
    }
    if a.mode != b.mode {
        w.push("mode");
    }
    if a.uid != b.uid || a.gid != b.gid {
        w.push("owner");
    }
    if a.mtime != b.mtime || a.mtime_nsec != b.mtime_nsec {
        w.push("mtime");
    }
    if a.xattrs != b.xattrs {
        w.push("xattrs");
    }
    w
}

fn deep(path: &str) -> Result<()> {
    if too_deep(path) {
        return Err(crate::error::Error::damaged(format!(
            "{path}: nested more than {MAX_DEPTH} directories deep; not followed"
        )));
    }
    Ok(())
}

struct Walk<'a> {
    reader: BlobReader<'a>,
    out: Vec<Change>,
}

impl Walk<'_> {
    fn all(&mut self, id: &Id, path: &str, change: ChangeKind) -> Result<()> {
        deep(path)?;
        let t = self.reader.tree(id)?;
        for n in &t.nodes {
            self.one(n, &join(path, &n.name), change)?;
        }
        Ok(())
    }

    fn one(&mut self, n: &Node, path: &str, change: ChangeKind) -> Result<()> {
        let s = size_of(n);
        self.out.push(Change {
            path: path.to_string(),
            change,
            kind: n.kind.as_str(),
            size_a: if change == ChangeKind::Removed {
                s
            } else {
                None
            },
            size_b: if change == ChangeKind::Added { s } else { None },
            what: Vec::new(),
        });
        if let Some(sub) = n.subtree {
            self.all(&sub, path, change)?;
        }
        Ok(())
    }

    fn pair(&mut self, a: &Id, b: &Id, path: &str) -> Result<()> {
        if a == b {
            return Ok(());
        }
        deep(path)?;
        let ta = self.reader.tree(a)?;
        let tb = self.reader.tree(b)?;
        let (mut i, mut j) = (0, 0);
        while i < ta.nodes.len() || j < tb.nodes.len() {
            let na = ta.nodes.get(i);
            let nb = tb.nodes.get(j);
            match (na, nb) {
                (Some(x), Some(y)) if x.name == y.name => {
                    let p = join(path, &x.name);
                    let what = differences(x, y);
                    if !what.is_empty() {
                        let content = what
                            .iter()
                            .any(|w| matches!(*w, "type" | "content" | "link" | "device"));
                        self.out.push(Change {
                            path: p.clone(),
                            change: if content {
                                ChangeKind::Changed
                            } else {
                                ChangeKind::Metadata
                            },
                            kind: y.kind.as_str(),
                            size_a: size_of(x),
                            size_b: size_of(y),
                            what,
                        });
                    }
                    match (
                        x.kind == NodeKind::Dir,
                        y.kind == NodeKind::Dir,
                        x.subtree,
                        y.subtree,
                    ) {
                        (true, true, Some(sa), Some(sb)) => self.pair(&sa, &sb, &p)?,
                        (true, false, Some(sa), _) => self.all(&sa, &p, ChangeKind::Removed)?,
                        (false, true, _, Some(sb)) => self.all(&sb, &p, ChangeKind::Added)?,
                        _ => {}
                    }
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x.name < y.name => {
                    self.one(x, &join(path, &x.name), ChangeKind::Removed)?;
                    i += 1;
                }
                (Some(x), None) => {
                    self.one(x, &join(path, &x.name), ChangeKind::Removed)?;
                    i += 1;
                }
                (_, Some(y)) => {
                    self.one(y, &join(path, &y.name), ChangeKind::Added)?;
                    j += 1;
                }
                (None, None) => break,
            }
        }
        Ok(())
    }
}

impl Repo {
    pub fn diff(&self, a: &str, b: &str) -> Result<DiffReport> {
        let sa = self.find(a)?;
        let sb = self.find(b)?;
        let index = self.load_index()?;
        let mut w = Walk {
            reader: BlobReader::new(self, &index),
            out: Vec::new(),
        };
        let root_changes = differences(&sa.snapshot.root, &sb.snapshot.root)
            .into_iter()
            .filter(|x| *x != "content")
            .collect::<Vec<_>>();
        if !root_changes.is_empty() {
            w.out.push(Change {
                path: "/".into(),
                change: ChangeKind::Metadata,
                kind: "dir",
                size_a: None,
                size_b: None,
                what: root_changes,
            });
        }
        if let (Some(ra), Some(rb)) = (sa.snapshot.root.subtree, sb.snapshot.root.subtree) {
            w.pair(&ra, &rb, "/")?;
        }
        let mut changes = w.out;
        changes.sort_by(|x, y| x.path.cmp(&y.path));
        let count = |k| changes.iter().filter(|c| c.change == k).count();
        let file_bytes = |k: ChangeKind, f: fn(&Change) -> Option<u64>| -> u64 {
            changes
                .iter()
                .filter(|c| c.change == k && c.kind == "file")
                .filter_map(f)
                .sum()
        };
        Ok(DiffReport {
            a: sa.id.hex(),
            b: sb.id.hex(),
            added: count(ChangeKind::Added),
            removed: count(ChangeKind::Removed),
            changed: count(ChangeKind::Changed),
            metadata_only: count(ChangeKind::Metadata),
            bytes_added: file_bytes(ChangeKind::Added, |c| c.size_b),
            bytes_removed: file_bytes(ChangeKind::Removed, |c| c.size_a),
            changes,
        })
    }
}
