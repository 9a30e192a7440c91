//! `dir:` a root filesystem in a host directory. The walk never follows a symlink, and files are
//! opened with `O_NOFOLLOW`, so nothing outside the directory is ever read.

use std::collections::BTreeMap;
use std::fs::OpenOptions as FsOpen;
use std::io::Seek;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::entry::{Entry, EntryKind, Stamp};
use crate::error::{Error, Result};
use crate::info::{Format, ImageInfo};
use crate::tree::{Backend, Content, FileReader, ImageTree, RawEntry, TreeBuilder};
use crate::OpenOptions;
use imagewise_types::Progress;

const O_NOFOLLOW: i32 = 0o400000;

/// What the walking thread hands to the building thread. Warnings are rare and short-lived, so
/// the size difference between the variants costs nothing worth an allocation per entry.
#[allow(clippy::large_enum_variant)]
enum Walked {
    Entry {
        name: String,
        host: PathBuf,
        meta: std::fs::Metadata,
        /// The name is not UTF-8 and `name` shows it lossily.
        lossy: bool,
    },
    Warning(String),
}

const BATCH: usize = 512;

pub(crate) fn open(
    reference: &str,
    root: &Path,
    opts: &OpenOptions,
    progress: &dyn Progress,
) -> Result<ImageTree> {
    let mut builder = TreeBuilder::new(false, opts.limits).walked();
    progress.begin(&format!("walking {}", root.display()), None);
    // Two stages on two threads: one walks and stats (half the system calls), the other reads
    // xattrs and link targets and builds the tree (the other half). Order is kept, so the
    // result is the same as a single-threaded walk.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Walked>>(16);
    let walked = std::thread::scope(|scope| -> Result<()> {
        let walker = scope.spawn(move || walk(root, &tx));
        let mut n = 0u64;
        let mut failed = None;
        for batch in rx {
            for item in batch {
                match item {
                    Walked::Warning(w) => builder.warn(w),
                    Walked::Entry {
                        name,
                        host,
                        meta,
                        lossy,
                    } => {
                        if failed.is_none() {
                            if let Err(e) =
                                add(&mut builder, &name, &host, &meta, lossy, opts.xattrs)
                            {
                                failed = Some(e);
                            }
                        }
                        n += 1;
                        if n.is_multiple_of(4096) {
                            progress.advance(0);
                        }
                    }
                }
            }
            if failed.is_some() {
                // Dropping the receiver makes the walker stop at its next send.
                break;
            }
        }
        let walk_result = walker.join().unwrap_or_else(|_| {
            Err(Error::corrupt(
                root.display().to_string(),
                "the directory walk failed",
            ))
        });
        match failed {
            Some(e) => Err(e),
            None => walk_result,
        }
    });
    walked?;
    progress.end();
    let info = ImageInfo::new(reference, Format::Dir, root.to_path_buf());
    Ok(builder.finish(info, Backend::Dir(root.to_path_buf())))
}

/// Walk `root` without following symlinks, in name order, sending batches of entries.
fn walk(root: &Path, tx: &std::sync::mpsc::SyncSender<Vec<Walked>>) -> Result<()> {
    let root_dev = fs_err::symlink_metadata(root)
        .map_err(|e| Error::io(root, e))?
        .dev();
    let mut batch = Vec::with_capacity(BATCH);
    // No sorting here: the tree orders its entries itself.
    let mut it = walkdir::WalkDir::new(root).follow_links(false).into_iter();
    let root_len = root.as_os_str().len();
    while let Some(item) = it.next() {
        let item = match item {
            Ok(i) => i,
            // A file removed while we walk (a live system's /tmp, say) is gone, not an error.
            Err(e)
                if e.io_error()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) =>
            {
                let p = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                batch.push(Walked::Warning(format!(
                    "{p} disappeared during the walk; not listed"
                )));
                continue;
            }
            Err(e) => {
                let p = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.to_path_buf());
                return Err(Error::io(
                    p,
                    e.into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("walk failed")),
                ));
            }
        };
        let host = item.path();
        let meta = match item.metadata() {
            Ok(m) => m,
            Err(e)
                if e.io_error()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) =>
            {
                continue
            }
            Err(e) => {
                return Err(Error::io(
                    host,
                    e.into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("stat failed")),
                ))
            }
        };
        // Every walked path starts with `root`; cutting bytes is much cheaper than
        // `Path::strip_prefix`, which parses components.
        let rel = host
            .as_os_str()
            .as_bytes()
            .get(root_len..)
            .unwrap_or_default();
        let rel = rel.strip_prefix(b"/").unwrap_or(rel);
        // A name that is not UTF-8 (or spells an escape) is escaped (crate::names); its file is
        // then read by its host path, not by the name.
        let name = crate::names::from_bytes(rel);
        let lossy = name.as_bytes() != rel;
        // A kernel view mounted inside the tree (a live system's /proc, /sys) is not image
        // content: show the mount point, not what is under it.
        if meta.is_dir() && meta.dev() != root_dev {
            if let Some(fs) = pseudo_filesystem(host) {
                batch.push(Walked::Warning(format!(
                    "/{name}: {fs} filesystem mounted here; its contents are not part of the image and are not listed"
                )));
                it.skip_current_dir();
            }
        }
        batch.push(Walked::Entry {
            name,
            host: host.to_path_buf(),
            meta,
            lossy,
        });
        if batch.len() >= BATCH
            && tx
                .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                .is_err()
        {
            return Ok(());
        }
    }
    let _ = tx.send(batch);
    Ok(())
}

fn add(
    builder: &mut TreeBuilder,
    name: &str,
    host: &Path,
    meta: &std::fs::Metadata,
    lossy: bool,
    read_xattrs: bool,
) -> Result<()> {
    let mode = meta.mode();
    let kind = EntryKind::from_mode(mode)
        .ok_or_else(|| Error::unsupported(host.display().to_string(), "unknown file type"))?;
    let link = if kind == EntryKind::Symlink {
        match std::fs::read_link(host) {
            Ok(target) => Some(crate::names::from_bytes(target.as_os_str().as_bytes())),
            // Removed between the walk and now (a live system's /tmp): gone, not an error.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                builder.warn(format!(
                    "{} disappeared during the walk; not listed",
                    host.display()
                ));
                return Ok(());
            }
            Err(e) => return Err(Error::io(host, e)),
        }
    } else {
        None
    };
    let device = matches!(kind, EntryKind::Char | EntryKind::Block).then(|| {
        let rdev = meta.rdev();
        (
            (((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff)) as u32,
            (((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff)) as u32,
        )
    });
    let mut xattrs = BTreeMap::new();
    // Extended attributes are optional metadata: a filesystem without them is not an error.
    if let Some(Ok(names)) = read_xattrs.then(|| xattr::list(host)) {
        for n in names {
            if let (Some(key), Ok(Some(v))) = (n.to_str(), xattr::get(host, &n)) {
                xattrs.insert(key.to_string(), v);
            }
        }
    }
    let size = match kind {
        EntryKind::File | EntryKind::Symlink => meta.len(),
        _ => 0,
    };
    let linked = kind != EntryKind::Dir && meta.nlink() > 1;
    let identity = linked.then(|| (meta.dev(), meta.ino()));
    builder.add(RawEntry {
        name: name.to_string(),
        entry: Entry {
            path: String::new(),
            kind,
            mode: mode & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size,
            mtime: meta.mtime(),
            mtime_nsec: u32::try_from(meta.mtime_nsec()).unwrap_or(0),
            link,
            device,
            xattrs,
            layer: None,
        },
        content: if kind == EntryKind::File {
            if lossy {
                Content::HostPath(host.to_path_buf(), Box::new(Stamp::of(meta)))
            } else {
                Content::Host(Box::new(Stamp::of(meta)))
            }
        } else {
            Content::None
        },
        identity,
        linked,
    })
}

/// The name of a kernel pseudo filesystem mounted at `dir`, if it is one.
fn pseudo_filesystem(dir: &Path) -> Option<&'static str> {
    let st = rustix::fs::statfs(dir).ok()?;
    Some(match st.f_type as u64 {
        0x9fa0 => "proc",
        0x6265_6572 => "sysfs",
        0x1cd1 => "devpts",
        0x0027_e0eb => "cgroup",
        0x6367_7270 => "cgroup2",
        0x7363_6673 => "securityfs",
        0x6462_6720 => "debugfs",
        0x7472_6163 => "tracefs",
        0x6165_676c => "pstore",
        0xcafe_4a11 => "bpf",
        0x6265_6570 => "configfs",
        0x1980_0202 => "mqueue",
        0x9584_58f6 => "hugetlbfs",
        0x6573_5546 => "fusectl",
        0x4249_4e4d => "binfmt_misc",
        0x0187 => "autofs",
        0xf97c_ff8c => "selinuxfs",
        0x6e73_6673 => "nsfs",
        0xde5e_81e4 => "efivarfs",
        _ => return None,
    })
}

/// Open a regular file found by the walk, refusing to follow a symlink swapped in since.
pub(crate) fn open_file(host: &PathBuf, e: &Entry) -> Result<FileReader> {
    let f = FsOpen::new()
        .read(true)
        .custom_flags(O_NOFOLLOW)
        .open(host)
        .map_err(|err| Error::io(host, err))?;
    let meta = f.metadata().map_err(|err| Error::io(host, err))?;
    if !meta.is_file() {
        return Err(Error::path(
            &e.path,
            "changed since the image was opened: no longer a regular file",
        ));
    }
    // Fewer blocks than the size says: a sparse file, whose holes the kernel can name.
    let sparse = meta.blocks().saturating_mul(512) < meta.len();
    Ok(FileReader::seekable(HostFile { f, sparse }))
}

/// A host file; a sparse one reports its holes (`SEEK_DATA`/`SEEK_HOLE`).
struct HostFile {
    f: std::fs::File,
    sparse: bool,
}

impl std::io::Read for HostFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.f.read(buf)
    }
}

impl std::io::Seek for HostFile {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        self.f.seek(to)
    }
}

impl crate::tree::FileRead for HostFile {
    fn ahead(&mut self) -> crate::tree::Ahead {
        use crate::tree::Ahead;
        use rustix::fs::{seek, SeekFrom as RSeek};
        if !self.sparse {
            return Ahead::Unknown;
        }
        let Ok(pos) = self.f.stream_position() else {
            return Ahead::Unknown;
        };
        // Both probes move the offset: put it back before answering.
        let answer = match seek(&self.f, RSeek::Data(pos)) {
            Err(rustix::io::Errno::NXIO) => match self.f.metadata() {
                // No data after pos: a hole to the end, or the end itself.
                Ok(m) if m.len() > pos => Ahead::Hole(m.len() - pos),
                Ok(_) => Ahead::End,
                Err(_) => Ahead::Unknown,
            },
            Err(_) => Ahead::Unknown,
            Ok(data) if data > pos => Ahead::Hole(data - pos),
            Ok(_) => match seek(&self.f, RSeek::Hole(pos)) {
                Ok(hole) if hole > pos => Ahead::Data(hole - pos),
                _ => Ahead::Unknown,
            },
        };
        if self.f.seek(std::io::SeekFrom::Start(pos)).is_err() {
            return Ahead::Unknown;
        }
        answer
    }

    fn skip_hole(&mut self) -> std::io::Result<u64> {
        match self.ahead() {
            crate::tree::Ahead::Hole(n) => {
                self.f.seek(std::io::SeekFrom::Current(n as i64))?;
                Ok(n)
            }
            _ => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    #[test]
    fn a_symlink_removed_during_the_walk_is_a_warning_not_an_error() {
        let t = tempfile::tempdir().expect("tempdir");
        let link = t.path().join("gone");
        std::os::unix::fs::symlink("target", &link).expect("symlink");
        let meta = std::fs::symlink_metadata(&link).expect("lstat");
        std::fs::remove_file(&link).expect("rm");
        let mut b = TreeBuilder::new(false, Limits::default());
        add(&mut b, "gone", &link, &meta, false, false).expect("no error");
        let tree = b.finish(
            ImageInfo::new("t", Format::Dir, t.path().to_path_buf()),
            Backend::Dir(t.path().to_path_buf()),
        );
        assert!(tree.get("/gone").is_none());
        assert!(
            tree.warnings().iter().any(|w| w.contains("disappeared")),
            "{:?}",
            tree.warnings()
        );
    }
}
