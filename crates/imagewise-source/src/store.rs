//! Where the files of an image layout live: a host directory (OCI layout) or the members of an
//! uncompressed outer tar (docker-archive, oci-archive), read in place as byte ranges.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::blob::{ByteRange, SeekBuf};
use crate::compression::Compression;
use crate::error::{Error, Result};
use crate::path;

pub(crate) enum Store {
    Dir(PathBuf),
    Archive {
        path: PathBuf,
        members: BTreeMap<String, Member>,
    },
}

pub(crate) enum Member {
    File(ByteRange),
    Link(String),
}

impl Store {
    pub fn dir(root: &Path) -> Store {
        Store::Dir(root.to_path_buf())
    }

    /// Index the members of an outer archive. It must be an uncompressed tar, so members can be
    /// read in place; compressed outer archives get a clear error.
    pub fn archive(file: &Path, what: &str) -> Result<Store> {
        let mut f = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
        let mut head = [0u8; 8];
        let n = f.read(&mut head).map_err(|e| Error::io(file, e))?;
        match Compression::detect(&head[..n]) {
            Ok(Compression::None) => {}
            Ok(c) => {
                return Err(Error::unsupported(
                    what,
                    format!(
                        "the archive is {}-compressed; imagewise reads layers in place from an uncompressed archive: decompress it first (e.g. `{} -d`)",
                        c.as_str(),
                        match c {
                            Compression::Gzip => "gzip",
                            Compression::Zstd => "zstd",
                            _ => "xz",
                        }
                    ),
                ))
            }
            Err(unread) => return Err(Error::unsupported(what, unread.to_string())),
        }
        let members = list_members(file, what)?;
        Ok(Store::Archive {
            path: file.to_path_buf(),
            members,
        })
    }

    /// The bytes stored under `name` (a relative path), following symlinks inside the store.
    pub fn get(&self, name: &str) -> Result<Option<ByteRange>> {
        match self {
            Store::Dir(root) => {
                let norm = path::normalize(name);
                if norm.clamped {
                    return Err(Error::unsafe_input(
                        format!("{}", root.display()),
                        format!("{name:?} points outside the image layout"),
                    ));
                }
                let rel = norm.path.trim_start_matches('/');
                // Directories on the way (`blobs`, `blobs/sha256`) must not be symlinks either.
                let mut p = root.clone();
                let parts: Vec<&str> = rel.split('/').collect();
                for dir in &parts[..parts.len().saturating_sub(1)] {
                    p.push(dir);
                    match std::fs::symlink_metadata(&p) {
                        Ok(m) if m.is_dir() => {}
                        Ok(_) => {
                            return Err(Error::unsafe_input(
                                p.display().to_string(),
                                "is a symlink or file where the image layout needs a directory",
                            ))
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                        Err(e) => return Err(Error::io(p, e)),
                    }
                }
                p.push(parts.last().copied().unwrap_or_default());
                match std::fs::symlink_metadata(&p) {
                    Ok(m) if m.is_file() => Ok(Some(ByteRange {
                        path: Arc::new(p),
                        offset: 0,
                        len: m.len(),
                    })),
                    Ok(m) if m.file_type().is_symlink() => Err(Error::unsafe_input(
                        p.display().to_string(),
                        "is a symlink; blobs of an image layout must be regular files",
                    )),
                    Ok(_) => Err(Error::corrupt(
                        p.display().to_string(),
                        "is not a regular file",
                    )),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(Error::io(p, e)),
                }
            }
            Store::Archive {
                path: file,
                members,
            } => {
                let mut norm = path::normalize(name);
                if norm.clamped {
                    return Err(Error::unsafe_input(
                        file.display().to_string(),
                        format!("{name:?} points outside the archive"),
                    ));
                }
                for _ in 0..path::MAX_LINKS {
                    match members.get(&norm.path) {
                        None => return Ok(None),
                        Some(Member::File(r)) => return Ok(Some(r.clone())),
                        Some(Member::Link(target)) => {
                            let base = path::split(&norm.path).map_or("/", |(p, _)| p);
                            norm = path::normalize(&path::join(base, target));
                            if norm.clamped || target.starts_with('/') {
                                return Err(Error::unsafe_input(
                                    file.display().to_string(),
                                    format!(
                                        "member {name:?} links outside the archive ({target:?})"
                                    ),
                                ));
                            }
                        }
                    }
                }
                Err(Error::unsafe_input(
                    file.display().to_string(),
                    format!("member {name:?}: too many levels of symbolic links"),
                ))
            }
        }
    }

    /// Like [`Store::get`], but a missing file is an error naming what it was needed for.
    pub fn require(&self, name: &str, what: &str) -> Result<ByteRange> {
        self.get(name)?
            .ok_or_else(|| Error::corrupt(what, format!("{name} is missing from the image")))
    }
}

fn list_members(file: &Path, what: &str) -> Result<BTreeMap<String, Member>> {
    let f = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let len = f.metadata().map_err(|e| Error::io(file, e))?.len();
    let mut archive = tar::Archive::new(SeekBuf::new(f, 64 * 1024));
    let err = |e| Error::from_stream(what, file, e);
    let mut members = BTreeMap::new();
    let shared = Arc::new(file.to_path_buf());
    for item in archive.entries_with_seek().map_err(err)? {
        let m = item.map_err(err)?;
        let name = path::normalize(&String::from_utf8_lossy(&m.path_bytes())).path;
        let data_pos = m.raw_file_position();
        let size = m.size();
        if data_pos.saturating_add(size) > len {
            return Err(Error::corrupt(
                what,
                format!("member {name} declares {size} bytes past the end of the archive: the file is truncated"),
            ));
        }
        match m.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                members.insert(
                    name,
                    Member::File(ByteRange {
                        path: shared.clone(),
                        offset: data_pos,
                        len: size,
                    }),
                );
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = m
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
                    .unwrap_or_default();
                // A hardlink names an archive member from the archive root.
                let target = if m.header().entry_type() == tar::EntryType::Link {
                    format!("/{}", path::normalize(&target).path.trim_start_matches('/'))
                } else {
                    target
                };
                if m.header().entry_type() == tar::EntryType::Link {
                    if let Some(Member::File(r)) = members.get(&target) {
                        let r = r.clone();
                        members.insert(name, Member::File(r));
                        continue;
                    }
                }
                members.insert(name, Member::Link(target));
            }
            _ => {}
        }
    }
    Ok(members)
}

/// Which of `names` (in order of preference) an uncompressed tar holds at its top level, as a
/// docker-archive or OCI archive does? Those archives hold nothing but a few well-known names (`manifest.json`,
/// `index.json`, `oci-layout`, `repositories`, `blobs/<alg>/<hex>`, `<hex>.json`, `<hex>/…`),
/// so the scan stops at the first member that could not be in one: a rootfs tarball is told
/// apart after a header or two instead of a walk over all of it.
pub(crate) fn has_member(file: &Path, names: &[&str]) -> Result<Option<String>> {
    let f = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let mut archive = tar::Archive::new(SeekBuf::new(f, 64 * 1024));
    let Ok(entries) = archive.entries_with_seek() else {
        return Ok(None);
    };
    let mut best: Option<usize> = None;
    for item in entries {
        let Ok(m) = item else { break };
        let name = path::normalize(&String::from_utf8_lossy(&m.path_bytes())).path;
        let name = name.trim_start_matches('/');
        if let Some(i) = names.iter().position(|n| name == *n) {
            best = Some(best.map_or(i, |b| b.min(i)));
        } else if !could_be_in_image_archive(name) {
            return Ok(None);
        }
    }
    Ok(best.map(|i| names[i].to_string()))
}

fn could_be_in_image_archive(name: &str) -> bool {
    let hexish =
        |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        [""] | ["manifest.json" | "index.json" | "oci-layout" | "repositories" | "blobs"] => true,
        [one] => one.strip_suffix(".json").is_some_and(hexish) || hexish(one),
        ["blobs", alg] => alg.bytes().all(|b| b.is_ascii_alphanumeric()),
        ["blobs", _, hex] => hexish(hex),
        [id, "layer.tar" | "json" | "VERSION"] => hexish(id),
        _ => false,
    }
}
