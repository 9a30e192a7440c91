//! `dir:` a root filesystem in a host directory. The walk never follows a symlink, and files are
//! opened with `O_NOFOLLOW`, so nothing outside the directory is ever read.

use std::collections::BTreeMap;
use std::fs::OpenOptions as FsOpen;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::entry::{Entry, EntryKind};
use crate::error::{Error, Result};
use crate::info::{Format, ImageInfo};
use crate::progress::Progress;
use crate::tree::{Backend, Content, FileReader, ImageTree, RawEntry, TreeBuilder};
use crate::OpenOptions;

const O_NOFOLLOW: i32 = 0o400000;

pub(crate) fn open(
    reference: &str,
    root: &Path,
    opts: &OpenOptions,
    progress: &dyn Progress,
) -> Result<ImageTree> {
    let mut builder = TreeBuilder::new(false, opts.limits);
    progress.begin(&format!("walking {}", root.display()), None);
    let root_dev = fs_err::symlink_metadata(root)
        .map_err(|e| Error::io(root, e))?
        .dev();
    let mut n = 0u64;
    for item in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
    {
        let item = item.map_err(|e| {
            let p = e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| root.to_path_buf());
            Error::io(
                p,
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            )
        })?;
        let host = item.path();
        let meta = item.metadata().map_err(|e| {
            Error::io(
                host,
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("stat failed")),
            )
        })?;
        let rel = host.strip_prefix(root).unwrap_or(host);
        let Some(name) = rel.to_str() else {
            let shown = rel.to_string_lossy().into_owned();
            builder.warn(format!(
                "{shown:?}: name is not UTF-8; shown with replacement characters"
            ));
            add(&mut builder, &shown, host, &meta)?;
            continue;
        };
        add(&mut builder, name, host, &meta)?;
        n += 1;
        if n % 1024 == 0 {
            progress.advance(0);
        }
        if meta.is_dir() && meta.dev() != root_dev && !rel.as_os_str().is_empty() {
            tracing::debug!("{} is on another filesystem", host.display());
        }
    }
    progress.end();
    let info = ImageInfo::new(reference, Format::Dir, root.to_path_buf());
    Ok(builder.finish(info, Backend::Dir))
}

fn add(builder: &mut TreeBuilder, name: &str, host: &Path, meta: &std::fs::Metadata) -> Result<()> {
    let mode = meta.mode();
    let kind = EntryKind::from_mode(mode)
        .ok_or_else(|| Error::unsupported(host.display().to_string(), "unknown file type"))?;
    let link = if kind == EntryKind::Symlink {
        Some(
            fs_err::read_link(host)
                .map_err(|e| Error::io(host, e))?
                .to_string_lossy()
                .into_owned(),
        )
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
    if let Ok(names) = xattr::list(host) {
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
    let identity = (kind != EntryKind::Dir && meta.nlink() > 1).then(|| (meta.dev(), meta.ino()));
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
            link,
            device,
            xattrs,
            layer: None,
        },
        content: if kind == EntryKind::File {
            Content::Host(host.to_path_buf())
        } else {
            Content::None
        },
        identity,
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
    Ok(FileReader::seekable(f))
}
