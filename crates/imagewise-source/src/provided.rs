//! Trees that another crate provides: the entries of a stored snapshot (the store crate), or of
//! any other store of files, shown through the same [`ImageTree`] as every image format.
//!
//! The source crate knows no repository format: the store implements [`TreeProvider`] (read one
//! file) and [`SnapshotOpener`] (turn `snapshot:REPO[@SNAP]` into a tree), and whoever opens
//! images (the CLI, a server) hands the opener in through [`crate::OpenOptions::snapshots`].

use std::sync::Arc;

use crate::entry::{Entry, EntryKind};
use crate::error::{Error, Result};
use crate::info::ImageInfo;
use crate::path;
use crate::tree::{Backend, Content, ImageTree};
use crate::OpenOptions;

/// The bytes behind a provided tree's files.
pub trait TreeProvider: Send + Sync {
    /// The content of a regular file: `key` is the one given with its entry to
    /// [`ImageTree::provided`]. The reader must fail (never return short or wrong bytes) when
    /// the stored content is damaged.
    fn open(&self, key: u64, entry: &Entry) -> Result<Box<dyn crate::FileRead + Send>>;
}

/// Opens `snapshot:REPO[@SNAP]` references: implemented by the store.
pub trait SnapshotOpener: Send + Sync {
    /// `repo` is the repository location as written in the reference; `snapshot` an id, a
    /// unique id prefix, a tag or `latest` (`None`: the newest).
    fn open(
        &self,
        reference: &str,
        repo: &str,
        snapshot: Option<&str>,
        opts: &OpenOptions,
    ) -> Result<ImageTree>;
}

impl ImageTree {
    /// A tree from a provider's entries, each with the key its content is read by (ignored
    /// for anything but files and hardlinks). The entries are checked as untrusted input: paths
    /// normalised, sorted and unique, `/` first and a directory, every parent a directory
    /// listed before its children, every hardlink naming a regular file of the tree.
    pub fn provided(
        info: ImageInfo,
        entries: Vec<(Entry, u64)>,
        provider: Arc<dyn TreeProvider>,
        warnings: Vec<String>,
    ) -> Result<ImageTree> {
        let what = || info.reference.clone();
        let bad = |detail: String| Error::corrupt(what(), detail);
        match entries.first() {
            Some((e, _)) if e.path == "/" && e.kind == EntryKind::Dir => {}
            _ => return Err(bad("the tree does not start with its root directory".into())),
        }
        let mut list = Vec::with_capacity(entries.len());
        let mut contents = Vec::with_capacity(entries.len());
        for (i, (e, key)) in entries.into_iter().enumerate() {
            if i > 0 {
                let prev: &Entry = &list[i - 1];
                if prev.path.as_str() >= e.path.as_str() {
                    return Err(bad(format!(
                        "entries are not sorted and unique: {:?} after {:?}",
                        e.path, prev.path
                    )));
                }
                let norm = path::normalize(&e.path);
                if norm.path != e.path || norm.clamped {
                    return Err(bad(format!(
                        "entry {:?} is not a normal absolute path",
                        e.path
                    )));
                }
                let Some((parent, _)) = path::split(&e.path) else {
                    return Err(bad(format!("entry {:?} has no parent", e.path)));
                };
                if kind_of(&list, parent) != Some(EntryKind::Dir) {
                    return Err(bad(format!(
                        "entry {:?}: its parent {parent} is not a directory of the tree",
                        e.path
                    )));
                }
            }
            contents.push(match e.kind {
                EntryKind::File | EntryKind::Hardlink => Content::Provided(key),
                _ => Content::None,
            });
            list.push(e);
        }
        for e in list.iter().filter(|e| e.kind == EntryKind::Hardlink) {
            let target = e.link.as_deref().unwrap_or("");
            if kind_of(&list, target) != Some(EntryKind::File) {
                return Err(bad(format!(
                    "hardlink {:?} names {target:?}, which is not a regular file of the tree",
                    e.path
                )));
            }
        }
        Ok(ImageTree::from_parts(
            list,
            contents,
            Backend::Provided(provider),
            info,
            warnings,
        ))
    }
}

/// The kind of the entry at `path` in a list sorted by path.
fn kind_of(list: &[Entry], path: &str) -> Option<EntryKind> {
    list.binary_search_by(|x| x.path.as_str().cmp(path))
        .ok()
        .map(|j| list[j].kind)
}
