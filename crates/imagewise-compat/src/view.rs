//! The filesystem a binary would see on a target: the target image's tree, with the application
//! placed into it (a bundle directory mounted at a path, or one file at its own path). Paths are
//! resolved as the kernel does — component by component, a symlink replaced by its target and
//! `..` taken from where the walk really is — never lexically, and never outside the image.

use std::sync::Arc;

use imagewise_source::{EntryKind, ImageTree};

/// Symlinks followed before giving up, as the kernel's `ELOOP` limit.
const MAX_LINKS: usize = 40;
/// Largest ELF file read whole.
pub const MAX_ELF: u64 = 1 << 30;

/// Where a file's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Target,
    App,
}

/// The application placed into the target.
#[derive(Clone)]
pub enum Overlay {
    None,
    /// A directory's tree, its root at `at`.
    Tree {
        at: String,
        tree: Arc<ImageTree>,
    },
    /// One file at `at`, bytes at hand.
    File {
        at: String,
        bytes: Arc<Vec<u8>>,
    },
}

impl Overlay {
    fn at(&self) -> Option<&str> {
        match self {
            Overlay::None => None,
            Overlay::Tree { at, .. } | Overlay::File { at, .. } => Some(at),
        }
    }
}

/// A node found at a path.
enum Node<'a> {
    Dir,
    File,
    Link(&'a str),
    Other,
}

/// A file found by [`View::resolve`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Found {
    /// The path with every symlink resolved.
    pub path: String,
    pub side: Side,
}

/// Why a path did not resolve to a regular file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    NotFound,
    NotAFile(&'static str),
    Loop,
}

pub struct View<'a> {
    pub target: &'a ImageTree,
    pub overlay: &'a Overlay,
}

impl<'a> View<'a> {
    /// What is at `path` itself (no symlink followed); `path` is absolute and clean.
    fn node(&self, path: &str) -> Option<(Node<'a>, Side)> {
        if let Some(at) = self.overlay.at() {
            let inside = path == at
                || (path.starts_with(at) && path.as_bytes().get(at.len()) == Some(&b'/'));
            if inside {
                return match self.overlay {
                    Overlay::Tree { tree, .. } => {
                        let rel = &path[at.len()..];
                        let rel = if rel.is_empty() { "/" } else { rel };
                        // The tree lives as long as the overlay, which outlives the view.
                        let e = tree.get(rel)?;
                        let node = match e.kind {
                            EntryKind::Dir => Node::Dir,
                            EntryKind::File | EntryKind::Hardlink => Node::File,
                            EntryKind::Symlink => Node::Link(e.link.as_deref().unwrap_or("")),
                            _ => Node::Other,
                        };
                        Some((node, Side::App))
                    }
                    Overlay::File { .. } if path == at => Some((Node::File, Side::App)),
                    _ => None,
                };
            }
            // The directories leading to the mount point exist even if the target lacks them.
            if at.starts_with(path)
                && (path == "/" || at.as_bytes().get(path.len()) == Some(&b'/'))
                && self
                    .target
                    .get(path)
                    .is_none_or(|e| e.kind != EntryKind::Dir)
            {
                return Some((Node::Dir, Side::Target));
            }
        }
        let e = self.target.get(path)?;
        let node = match e.kind {
            EntryKind::Dir => Node::Dir,
            EntryKind::File | EntryKind::Hardlink => Node::File,
            EntryKind::Symlink => Node::Link(e.link.as_deref().unwrap_or("")),
            _ => Node::Other,
        };
        Some((node, Side::Target))
    }

    /// Walk `path` as the kernel does: the resolved path, where it lives, and whether it is a
    /// directory.
    fn walk(&self, path: &str) -> Result<(String, Side, bool), Missing> {
        let mut pending: Vec<String> = path
            .split('/')
            .rev()
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        let mut cur: Vec<String> = Vec::new();
        let mut links = 0;
        let mut side = Side::Target;
        let mut is_dir = true;
        while let Some(comp) = pending.pop() {
            if !is_dir {
                return Err(Missing::NotAFile("a path through a file"));
            }
            match comp.as_str() {
                "." => continue,
                ".." => {
                    cur.pop();
                    continue;
                }
                _ => {}
            }
            cur.push(comp);
            let here = format!("/{}", cur.join("/"));
            let (node, s) = self.node(&here).ok_or(Missing::NotFound)?;
            side = s;
            match node {
                Node::Dir => is_dir = true,
                Node::File => is_dir = false,
                Node::Other => {
                    return Err(if pending.is_empty() {
                        Missing::NotAFile("a device, fifo or socket")
                    } else {
                        Missing::NotFound
                    });
                }
                Node::Link(target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Missing::Loop);
                    }
                    cur.pop();
                    if target.starts_with('/') {
                        cur.clear();
                    }
                    pending.extend(
                        target
                            .split('/')
                            .rev()
                            .filter(|c| !c.is_empty())
                            .map(str::to_string),
                    );
                    is_dir = true;
                }
            }
        }
        Ok((format!("/{}", cur.join("/")), side, is_dir))
    }

    /// Resolve an absolute path to a regular file, following symlinks as the kernel does.
    pub fn resolve(&self, path: &str) -> Result<Found, Missing> {
        match self.walk(path)? {
            (_, _, true) => Err(Missing::NotAFile("a directory")),
            (path, side, false) => Ok(Found { path, side }),
        }
    }

    /// The resolved path of a directory, if `path` is one.
    pub fn resolve_dir(&self, path: &str) -> Option<String> {
        match self.walk(path) {
            Ok((p, _, true)) => Some(p),
            _ => None,
        }
    }

    /// What the ELF reader needs of a resolved file (see [`crate::elf::read_sparse`]); the
    /// whole file where the format cannot seek.
    pub fn read_elf(&self, f: &Found) -> Result<Vec<u8>, crate::Unreadable> {
        let Some((tree, path)) = self.locate(f) else {
            return self.read(f);
        };
        let size = tree.get(path).map(|e| e.size).unwrap_or(0);
        if size > MAX_ELF {
            return Err(format!("{} bytes, more than the {MAX_ELF} read", size).into());
        }
        let mut r = tree
            .open(path)
            .map_err(|e| crate::Unreadable::from(e.to_string()))?;
        match r.as_seek() {
            Some(s) if size > 0 => {
                crate::elf::read_sparse(s, size).map_err(|e| e.to_string().into())
            }
            _ => self.read(f),
        }
    }

    /// The tree a resolved file lives in and its path there; `None` for the one-file overlay,
    /// whose bytes are at hand.
    fn locate<'f>(&self, f: &'f Found) -> Option<(&'a ImageTree, &'f str)> {
        match (f.side, self.overlay) {
            (Side::App, Overlay::File { .. }) => None,
            (Side::App, Overlay::Tree { at, tree }) => {
                let rel = f.path.get(at.len()..).unwrap_or("");
                Some((tree.as_ref(), if rel.is_empty() { "/" } else { rel }))
            }
            _ => Some((self.target, f.path.as_str())),
        }
    }

    /// The bytes of a resolved file.
    pub fn read(&self, f: &Found) -> Result<Vec<u8>, crate::Unreadable> {
        match (self.locate(f), self.overlay) {
            (Some((tree, path)), _) => tree.read(path, MAX_ELF).map_err(|e| e.to_string().into()),
            (None, Overlay::File { bytes, .. }) => Ok(bytes.as_ref().clone()),
            (None, _) => Err(format!("{} cannot be read", f.path).into()),
        }
    }
}

/// The directory part of a path (`/usr/lib/x.so` → `/usr/lib`; `/x` → `/`).
pub fn dirname(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Join a directory and a name without doubling slashes.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}
