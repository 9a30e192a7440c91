//! Trees: one blob per directory, listing its entries with all their metadata; a file's entry
//! lists its content as extents (a chunk id and length, or a run of zeros kept as a hole), a
//! directory's entry names the tree blob of its contents. Unchanged directories hash the same,
//! so they are stored once across snapshots.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Malformed;
use crate::id::Id;

/// What a node is: the same kinds, with the same names, as an image entry.
pub use imagewise_source::EntryKind as NodeKind;

/// A piece of a file: `[id, length]` for stored bytes, `[null, length]` for zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extent(pub Option<Id>, pub u64);

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    #[serde(default, skip_serializing_if = "is_zero32")]
    pub mtime_nsec: u32,
    /// Bytes of a file (apparent size), length of a symlink target.
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub size: u64,
    /// Symlink target, or a hardlink's first name (an absolute path in the snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<(u32, u32)>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "hex_map",
        deserialize_with = "unhex_map"
    )]
    pub xattrs: BTreeMap<String, Vec<u8>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<Extent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtree: Option<Id>,
}

impl Node {
    /// A directory the image implies but does not list (or the root of a raw snapshot):
    /// mode 0755, owned by root, mtime 0.
    pub(crate) fn plain_dir(name: &str) -> Node {
        Node {
            name: name.to_string(),
            kind: NodeKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: 0,
            mtime_nsec: 0,
            size: 0,
            link: None,
            device: None,
            xattrs: BTreeMap::new(),
            content: Vec::new(),
            subtree: None,
        }
    }
}

fn is_zero32(v: &u32) -> bool {
    *v == 0
}
fn is_zero64(v: &u64) -> bool {
    *v == 0
}

fn hex_map<S: Serializer>(m: &BTreeMap<String, Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(m.len()))?;
    for (k, v) in m {
        map.serialize_entry(k, &hex::encode(v))?;
    }
    map.end()
}

fn unhex_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<u8>>, D::Error> {
    let m = BTreeMap::<String, String>::deserialize(d)?;
    m.into_iter()
        .map(|(k, v)| {
            hex::decode(&v)
                .map(|b| (k, b))
                .map_err(|_| serde::de::Error::custom("xattr value is not hex"))
        })
        .collect()
}

/// A directory's entries, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parse and check a tree blob: names are single path components, unique and sorted;
    /// kinds carry the fields they need.
    pub(crate) fn decode(b: &[u8]) -> Result<Tree, Malformed> {
        let t: Tree = serde_json::from_slice(b).map_err(|e| Malformed::TreeJson(e.to_string()))?;
        let mut last: Option<&str> = None;
        for n in &t.nodes {
            if n.name.is_empty()
                || n.name == "."
                || n.name == ".."
                || n.name.contains('/')
                || n.name.contains('\0')
            {
                return Err(Malformed::TreeName(n.name.clone()));
            }
            if last.is_some_and(|l| l >= n.name.as_str()) {
                return Err(Malformed::TreeOrder(n.name.clone()));
            }
            last = Some(&n.name);
            let ok = match n.kind {
                NodeKind::Dir => n.subtree.is_some(),
                NodeKind::Symlink | NodeKind::Hardlink => n.link.is_some(),
                NodeKind::Char | NodeKind::Block => n.device.is_some(),
                _ => true,
            };
            if !ok || (n.kind != NodeKind::File && !n.content.is_empty()) {
                return Err(Malformed::TreeEntry {
                    name: n.name.clone(),
                    kind: n.kind.as_str(),
                });
            }
            if n.kind == NodeKind::File && n.content.iter().map(|e| e.1).sum::<u64>() != n.size {
                return Err(Malformed::TreeSize(n.name.clone()));
            }
        }
        Ok(t)
    }
}

/// Directories nested deeper than this are refused (a hostile repository could nest trees far
/// beyond any real filesystem and exhaust the stack).
pub(crate) const MAX_DEPTH: usize = 4096;

/// True when `path` is nested too deep to follow.
pub(crate) fn too_deep(path: &str) -> bool {
    path.bytes().filter(|&b| b == b'/').count() > MAX_DEPTH
}

/// Join a directory path and a name (`/` + `etc` = `/etc`).
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}
