//! `snapshot ls`: the entries of a snapshot (or of one directory in it), read from its trees.

use crate::error::{Error, Result};
use crate::repo::{BlobReader, Repo};
use crate::tree::{join, too_deep, Node, NodeKind};

impl Repo {
    /// Every entry of snapshot `spec` under `under` (a path in the snapshot; `/` for all), in
    /// depth-first name order, with its full path. `under` itself comes first.
    pub fn list(&self, spec: &str, under: &str) -> Result<Vec<(String, Node)>> {
        let snap = self.find(spec)?;
        let index = self.load_index()?;
        let mut reader = BlobReader::new(self, &index);
        // Walk down to `under`.
        let mut node = snap.snapshot.root.clone();
        let mut path = "/".to_string();
        for part in under.split('/').filter(|p| !p.is_empty() && *p != ".") {
            let sub = match (node.kind, node.subtree) {
                (NodeKind::Dir, Some(s)) => s,
                _ => {
                    return Err(Error::input(format!(
                        "{path} is a {} in snapshot {}, not a directory",
                        node.kind.as_str(),
                        snap.id.short()
                    )))
                }
            };
            let tree = reader.tree(&sub)?;
            node = tree
                .nodes
                .into_iter()
                .find(|n| n.name == part)
                .ok_or_else(|| {
                    Error::input(format!(
                        "no {} in snapshot {}",
                        join(&path, part),
                        snap.id.short()
                    ))
                })?;
            path = join(&path, part);
        }
        // Depth first, children in name order: each directory's contents right after it.
        let mut out = Vec::new();
        let mut stack: Vec<(String, Node)> = vec![(path, node)];
        while let Some((p, n)) = stack.pop() {
            if let (NodeKind::Dir, Some(sub)) = (n.kind, n.subtree) {
                if too_deep(&p) {
                    return Err(Error::damaged(format!("{p}: nested too deep")));
                }
                let tree = reader.tree(&sub)?;
                for child in tree.nodes.into_iter().rev() {
                    stack.push((join(&p, &child.name), child));
                }
            }
            out.push((p, n));
        }
        Ok(out)
    }
}
