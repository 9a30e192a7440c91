//! One entry of an image's merged root filesystem, as every format reports it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What an entry is. `Hardlink` names a second (third, …) name of a regular file; its `link` is
/// the path of the file's first name in byte order, so every format reports a hardlink group the
/// same way whatever order its archive or directory listed the names in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Char,
    Block,
    Fifo,
    Socket,
}

impl EntryKind {
    /// The kind from the `S_IFMT` bits of a Unix mode; `None` for an unknown type.
    pub fn from_mode(mode: u32) -> Option<EntryKind> {
        Some(match mode & 0o170000 {
            0o100000 => EntryKind::File,
            0o040000 => EntryKind::Dir,
            0o120000 => EntryKind::Symlink,
            0o020000 => EntryKind::Char,
            0o060000 => EntryKind::Block,
            0o010000 => EntryKind::Fifo,
            0o140000 => EntryKind::Socket,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
            EntryKind::Hardlink => "hardlink",
            EntryKind::Char => "char",
            EntryKind::Block => "block",
            EntryKind::Fifo => "fifo",
            EntryKind::Socket => "socket",
        }
    }
}

/// Metadata of one path in the merged tree. Paths are absolute within the image (`/etc/passwd`,
/// the root is `/`) and never contain `.` or `..` components.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits only (`0o7777`); the type is in `kind`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Bytes of content for files and hardlinks (the apparent size of a sparse file), the target's
    /// length for symlinks, 0 otherwise.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// Nanoseconds part of the modification time (0 where the format keeps whole seconds: ustar
    /// headers, ext4 inodes without extra fields).
    #[serde(default)]
    pub mtime_nsec: u32,
    /// Symlink target as stored, or for a hardlink the path of the group's primary name.
    pub link: Option<String>,
    /// `(major, minor)` of a character or block device.
    pub device: Option<(u32, u32)>,
    /// Extended attributes (`security.capability`, ACLs, …) by full name.
    pub xattrs: BTreeMap<String, Vec<u8>>,
    /// Index of the layer this entry came from, for layered images (0 = the base layer).
    pub layer: Option<usize>,
}

/// What tells, beside a file's path, size and mtime, that its bytes are the ones read before:
/// for files caches ([`crate::ImageTree::stamp`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Stamp {
    /// Nothing does (disk filesystems, provided trees): read it.
    #[default]
    None,
    /// A host file (a directory's file, or the archive a layer is read from): device, inode and
    /// change time, as `lstat` gave them. A file rewritten in place changes its ctime; one
    /// replaced by another, its inode.
    Host {
        dev: u64,
        ino: u64,
        ctime: i64,
        ctime_nsec: u32,
    },
    /// A member of the image layer with this digest: the digest names every byte of the layer.
    Layer(String),
}

impl Stamp {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp::Host {
            dev: meta.dev(),
            ino: meta.ino(),
            ctime: meta.ctime(),
            ctime_nsec: u32::try_from(meta.ctime_nsec()).unwrap_or(0),
        }
    }
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }
}
