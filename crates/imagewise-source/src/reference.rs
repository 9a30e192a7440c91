//! Image references, skopeo-style: `dir:PATH`, `tar:PATH`, `docker-archive:PATH[:repo:tag]`,
//! `oci:PATH[:tag]`, `oci-archive:PATH[:tag]`, `disk:PATH[#N]`, `snapshot:REPO[@SNAP]`; a bare
//! path is detected by its content.
//!
//! [`ImageRef::parse`] reads only the string (skopeo's rule: the path ends at the first `:`
//! after the transport, or `#` for a disk; a snapshot's repository ends at the last `@`), and
//! its `Display` gives the same string back. [`ImageRef::resolve`] is the one step that looks at
//! the filesystem: it detects what a bare path is, and lets a path that itself contains `:`
//! (or `#`) keep its selector, taking the shortest prefix that exists.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::compression::Compression;
use crate::error::{Error, Result};
use crate::store;

/// The transports, each with its prefix: the one list every caller uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Dir,
    Tar,
    DockerArchive,
    Oci,
    OciArchive,
    Disk,
    Snapshot,
}

impl Transport {
    pub const ALL: [Transport; 7] = [
        Transport::Dir,
        Transport::Tar,
        Transport::DockerArchive,
        Transport::Oci,
        Transport::OciArchive,
        Transport::Disk,
        Transport::Snapshot,
    ];

    /// The name before the `:` (`docker-archive`).
    pub fn name(self) -> &'static str {
        match self {
            Transport::Dir => "dir",
            Transport::Tar => "tar",
            Transport::DockerArchive => "docker-archive",
            Transport::Oci => "oci",
            Transport::OciArchive => "oci-archive",
            Transport::Disk => "disk",
            Transport::Snapshot => "snapshot",
        }
    }

    /// The transport a reference names, if it starts with one (`oci:x` → `Oci`); a bare path
    /// (even one with a `:` in it) names none.
    pub fn of(reference: &str) -> Option<Transport> {
        let (t, _) = reference.split_once(':')?;
        Transport::ALL.into_iter().find(|x| x.name() == t)
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    Dir(PathBuf),
    Tar(PathBuf),
    DockerArchive {
        path: PathBuf,
        tag: Option<String>,
    },
    Oci {
        path: PathBuf,
        tag: Option<String>,
    },
    OciArchive {
        path: PathBuf,
        tag: Option<String>,
    },
    Disk {
        path: PathBuf,
        partition: Option<PartitionSel>,
    },
    /// A stored snapshot: `repo` a repository location as written (a directory, or a URL such
    /// as `s3://bucket/prefix`), `snapshot` an id, a unique id prefix, a tag or `latest`.
    Snapshot {
        repo: String,
        snapshot: Option<String>,
    },
    /// A path without a transport: [`ImageRef::resolve`] tells what it is.
    Bare(PathBuf),
}

/// Which part of a disk to open: a partition by number (`#2`), an LVM logical volume by
/// volume group and name (`#vg0/root`), or a Btrfs subvolume by its path from the top level,
/// on the partition chosen by number or by the default rule (`#subvol=root`,
/// `#4,subvol=@/snapshots/1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionSel {
    Number(u32),
    Volume(String),
    Subvolume {
        partition: Option<u32>,
        path: String,
    },
}

impl PartitionSel {
    /// `N`, `VG/LV` (LVM's name characters: letters, digits, `+_.-`), `subvol=PATH` or
    /// `N,subvol=PATH`.
    pub fn parse(s: &str) -> Option<PartitionSel> {
        let (number, rest) = match s.split_once(',') {
            Some((n, rest)) if rest.starts_with("subvol=") => (Some(n.parse::<u32>().ok()?), rest),
            _ => (None, s),
        };
        if let Some(path) = rest.strip_prefix("subvol=") {
            // `subvol=/` is the top level.
            let path = path.trim_matches('/');
            if path
                .split('/')
                .any(|p| p == "." || p == ".." || p.is_empty())
                && !path.is_empty()
            {
                return None;
            }
            return Some(PartitionSel::Subvolume {
                partition: number,
                path: path.to_string(),
            });
        }
        if let Ok(n) = s.parse::<u32>() {
            return Some(PartitionSel::Number(n));
        }
        let ok = |p: &str| {
            !p.is_empty()
                && !p.starts_with('-')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+_.-".contains(c))
        };
        match s.split_once('/') {
            Some((vg, lv)) if ok(vg) && ok(lv) => Some(PartitionSel::Volume(s.to_string())),
            _ => None,
        }
    }
}

impl std::fmt::Display for PartitionSel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PartitionSel::Number(n) => write!(f, "{n}"),
            PartitionSel::Volume(v) => f.write_str(v),
            PartitionSel::Subvolume {
                partition: Some(n),
                path,
            } => write!(f, "{n},subvol=/{path}"),
            PartitionSel::Subvolume {
                partition: None,
                path,
            } => write!(f, "subvol=/{path}"),
        }
    }
}

impl ImageRef {
    /// Parse a reference from its text alone (no I/O).
    pub fn parse(reference: &str) -> Result<ImageRef> {
        let bad = |detail: String| Error::Reference {
            reference: reference.to_string(),
            detail,
        };
        if reference.is_empty() {
            return Err(bad("empty reference; give a path or TRANSPORT:PATH".into()));
        }
        let Some(transport) = Transport::of(reference) else {
            return Ok(ImageRef::Bare(PathBuf::from(reference)));
        };
        let rest = &reference[transport.name().len() + 1..];
        if rest.is_empty() {
            return Err(bad(format!(
                "no path after {transport}: (write {transport}:PATH)"
            )));
        }
        let split = |sep: char| match rest.split_once(sep) {
            Some((p, sel)) if !p.is_empty() => {
                (PathBuf::from(p), (!sel.is_empty()).then(|| sel.to_string()))
            }
            _ => (PathBuf::from(rest), None),
        };
        Ok(match transport {
            Transport::Dir => ImageRef::Dir(PathBuf::from(rest)),
            Transport::Tar => ImageRef::Tar(PathBuf::from(rest)),
            Transport::DockerArchive => {
                let (path, tag) = split(':');
                ImageRef::DockerArchive { path, tag }
            }
            Transport::Oci => {
                let (path, tag) = split(':');
                ImageRef::Oci { path, tag }
            }
            Transport::OciArchive => {
                let (path, tag) = split(':');
                ImageRef::OciArchive { path, tag }
            }
            Transport::Disk => match split('#') {
                // Not a partition number or VG/LV: `#` is part of the file name (resolve tells).
                (path, Some(part)) => match PartitionSel::parse(&part) {
                    Some(sel) => ImageRef::Disk {
                        path,
                        partition: Some(sel),
                    },
                    None => ImageRef::Disk {
                        path: PathBuf::from(rest),
                        partition: None,
                    },
                },
                (path, None) => ImageRef::Disk {
                    path,
                    partition: None,
                },
            },
            Transport::Snapshot => {
                let (repo, snapshot) = match rest.rsplit_once('@') {
                    Some((r, s)) if !r.is_empty() && !s.contains('/') => {
                        (r, (!s.is_empty()).then(|| s.to_string()))
                    }
                    _ => (rest, None),
                };
                ImageRef::Snapshot {
                    repo: repo.to_string(),
                    snapshot,
                }
            }
        })
    }

    /// The transport; `None` for a bare path not yet resolved.
    pub fn transport(&self) -> Option<Transport> {
        Some(match self {
            ImageRef::Dir(_) => Transport::Dir,
            ImageRef::Tar(_) => Transport::Tar,
            ImageRef::DockerArchive { .. } => Transport::DockerArchive,
            ImageRef::Oci { .. } => Transport::Oci,
            ImageRef::OciArchive { .. } => Transport::OciArchive,
            ImageRef::Disk { .. } => Transport::Disk,
            ImageRef::Snapshot { .. } => Transport::Snapshot,
            ImageRef::Bare(_) => return None,
        })
    }

    /// The file or directory on this host; `None` for a snapshot (its repository may be
    /// anywhere).
    pub fn path(&self) -> Option<&Path> {
        match self {
            ImageRef::Dir(p) | ImageRef::Tar(p) | ImageRef::Bare(p) => Some(p),
            ImageRef::DockerArchive { path, .. }
            | ImageRef::Oci { path, .. }
            | ImageRef::OciArchive { path, .. }
            | ImageRef::Disk { path, .. } => Some(path),
            ImageRef::Snapshot { .. } => None,
        }
    }

    /// Look at the filesystem: a bare path becomes the format its content shows; a path that
    /// does not exist as parsed but whose longer prefix does (a file name with `:` or `#` in
    /// it) takes that prefix; a missing file is an error. Snapshots are left as they are (their
    /// store resolves them).
    pub fn resolve(self) -> Result<ImageRef> {
        let reference = self.to_string();
        let rest = || &reference[reference.find(':').map_or(0, |i| i + 1)..];
        Ok(match self {
            ImageRef::Bare(p) => detect(&p)?,
            ImageRef::Dir(p) => ImageRef::Dir(existing(p)?),
            ImageRef::Tar(p) => ImageRef::Tar(existing(p)?),
            ImageRef::DockerArchive { path, tag } => {
                let (path, tag) = longer_path(path, tag, rest(), ':')?;
                ImageRef::DockerArchive { path, tag }
            }
            ImageRef::Oci { path, tag } => {
                let (path, tag) = longer_path(path, tag, rest(), ':')?;
                ImageRef::Oci { path, tag }
            }
            ImageRef::OciArchive { path, tag } => {
                let (path, tag) = longer_path(path, tag, rest(), ':')?;
                ImageRef::OciArchive { path, tag }
            }
            ImageRef::Disk { path, partition } => {
                let sel = partition.map(|p| p.to_string());
                let (path, sel) = longer_path(path, sel, rest(), '#')?;
                let partition = sel.map(|p| self::partition(&p, &reference)).transpose()?;
                ImageRef::Disk { path, partition }
            }
            s @ ImageRef::Snapshot { .. } => s,
        })
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sel = |f: &mut std::fmt::Formatter<'_>, sep: char, s: &Option<String>| match s {
            Some(s) => write!(f, "{sep}{s}"),
            None => Ok(()),
        };
        match self {
            ImageRef::Bare(p) => write!(f, "{}", p.display()),
            ImageRef::Dir(p) | ImageRef::Tar(p) => {
                write!(
                    f,
                    "{}:{}",
                    self.transport().map_or("", |t| t.name()),
                    p.display()
                )
            }
            ImageRef::DockerArchive { path, tag }
            | ImageRef::Oci { path, tag }
            | ImageRef::OciArchive { path, tag } => {
                let t = self.transport().map_or("", |t| t.name());
                write!(f, "{t}:{}", path.display())?;
                sel(f, ':', tag)
            }
            ImageRef::Disk { path, partition } => {
                write!(f, "disk:{}", path.display())?;
                sel(f, '#', &partition.as_ref().map(|p| p.to_string()))
            }
            ImageRef::Snapshot { repo, snapshot } => {
                write!(f, "snapshot:{repo}")?;
                sel(f, '@', snapshot)
            }
        }
    }
}

fn partition(p: &str, reference: &str) -> Result<PartitionSel> {
    PartitionSel::parse(p).ok_or_else(|| Error::Reference {
        reference: reference.to_string(),
        detail: format!(
            "partition {p:?} is neither a number, an LVM volume nor a Btrfs subvolume (disk:PATH#N, N from 1; disk:PATH#VG/LV; disk:PATH#subvol=NAME or #N,subvol=NAME)"
        ),
    })
}

fn existing(path: PathBuf) -> Result<PathBuf> {
    if !path.exists() {
        return Err(Error::not_found(
            path.display().to_string(),
            "no such file or directory",
        ));
    }
    Ok(path)
}

/// `rest` is `PATH[<sep>SELECTOR]` as written, parsed as (`path`, `sel`). A file named by the
/// whole of `rest` is the path; else the parsed path if it exists; else the path may itself
/// contain `sep`: the shortest prefix of `rest` that exists is the path, the remainder the
/// selector.
fn longer_path(
    path: PathBuf,
    sel: Option<String>,
    rest: &str,
    sep: char,
) -> Result<(PathBuf, Option<String>)> {
    // As before parse was pure: a file named by the whole text wins over a split.
    if Path::new(rest).exists() {
        return Ok((PathBuf::from(rest), None));
    }
    if path.exists() {
        return Ok((path, sel));
    }
    for (i, _) in rest.match_indices(sep) {
        let (p, s) = (&rest[..i], &rest[i + 1..]);
        if !p.is_empty() && Path::new(p).exists() {
            return Ok((PathBuf::from(p), (!s.is_empty()).then(|| s.to_string())));
        }
    }
    existing(path).map(|p| (p, sel))
}

/// What a bare path is, by its content (reads at most a few headers).
pub fn detect(path: &Path) -> Result<ImageRef> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::not_found(&shown, "no such file or directory")
        } else {
            Error::io(path, e)
        }
    })?;
    if meta.is_dir() {
        return Ok(if path.join("oci-layout").is_file() {
            ImageRef::Oci {
                path: path.to_path_buf(),
                tag: None,
            }
        } else {
            ImageRef::Dir(path.to_path_buf())
        });
    }
    let mut head = vec![0u8; 4096];
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut n = 0;
    while n < head.len() {
        let k = f.read(&mut head[n..]).map_err(|e| Error::io(path, e))?;
        if k == 0 {
            break;
        }
        n += k;
    }
    let head = &head[..n];
    if crate::disk::is_container(path, head)? {
        return Ok(ImageRef::Disk {
            path: path.to_path_buf(),
            partition: None,
        });
    }
    match Compression::detect(head) {
        Ok(Compression::None) => {}
        Ok(_) => return Ok(ImageRef::Tar(path.to_path_buf())),
        Err(unread) => return Err(Error::unsupported(&shown, unread.to_string())),
    }
    if n >= 512 && is_tar_header(&head[..512]) {
        return Ok(
            match store::has_member(path, &["manifest.json", "oci-layout"])?.as_deref() {
                Some("manifest.json") => ImageRef::DockerArchive {
                    path: path.to_path_buf(),
                    tag: None,
                },
                Some(_) => ImageRef::OciArchive {
                    path: path.to_path_buf(),
                    tag: None,
                },
                None => ImageRef::Tar(path.to_path_buf()),
            },
        );
    }
    let mbr = n >= 512 && head[510] == 0x55 && head[511] == 0xaa;
    let gpt = n >= 520 && &head[512..520] == b"EFI PART";
    let ext = n >= 1082 && head[1080] == 0x53 && head[1081] == 0xef;
    if mbr || gpt || ext || meta.len() >= 64 * 1024 && crate::disk::probe_filesystem_at(path)? {
        return Ok(ImageRef::Disk {
            path: path.to_path_buf(),
            partition: None,
        });
    }
    Err(Error::unsupported(
        &shown,
        "cannot tell what this is: not a directory, tar (plain, gzip, zstd, xz), docker-archive, OCI layout or archive, qcow2, VMDK, VHD, VHDX or raw disk image; name the format with a prefix such as tar: or disk:",
    ))
}

/// A 512-byte block is a tar header if its checksum field matches (an empty name is still a
/// tar, which the reader then reports).
pub(crate) fn is_tar_header(block: &[u8]) -> bool {
    let Ok(block) = <&[u8; 512]>::try_from(block) else {
        return false;
    };
    crate::tarball::checksum_ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(s: &str) -> Result<ImageRef> {
        ImageRef::parse(s)?.resolve()
    }

    #[test]
    fn parse_reads_only_the_text_and_display_gives_it_back() {
        let cases: &[(&str, ImageRef)] = &[
            ("dir:/x", ImageRef::Dir("/x".into())),
            ("tar:a.tar", ImageRef::Tar("a.tar".into())),
            (
                "docker-archive:a.tar:debian:12",
                ImageRef::DockerArchive {
                    path: "a.tar".into(),
                    tag: Some("debian:12".into()),
                },
            ),
            (
                "oci:/no/such/layout:v1",
                ImageRef::Oci {
                    path: "/no/such/layout".into(),
                    tag: Some("v1".into()),
                },
            ),
            (
                "oci-archive:o.tar",
                ImageRef::OciArchive {
                    path: "o.tar".into(),
                    tag: None,
                },
            ),
            (
                "disk:d.qcow2#2",
                ImageRef::Disk {
                    path: "d.qcow2".into(),
                    partition: Some(PartitionSel::Number(2)),
                },
            ),
            (
                "snapshot:/srv/golden@v41",
                ImageRef::Snapshot {
                    repo: "/srv/golden".into(),
                    snapshot: Some("v41".into()),
                },
            ),
            (
                "snapshot:s3://bucket/prefix",
                ImageRef::Snapshot {
                    repo: "s3://bucket/prefix".into(),
                    snapshot: None,
                },
            ),
            (
                "snapshot:/a@b/repo",
                ImageRef::Snapshot {
                    repo: "/a@b/repo".into(),
                    snapshot: None,
                },
            ),
            (
                "./img:with:colons.tar",
                ImageRef::Bare("./img:with:colons.tar".into()),
            ),
            ("s3://bucket", ImageRef::Bare("s3://bucket".into())),
        ];
        for (text, want) in cases {
            let got = ImageRef::parse(text).unwrap();
            assert_eq!(&got, want, "{text}");
            assert_eq!(got.to_string(), *text, "Display of {text}");
            assert_eq!(ImageRef::parse(&got.to_string()).unwrap(), got);
        }
        for t in Transport::ALL {
            assert_eq!(Transport::of(&format!("{t}:x")), Some(t));
        }
    }

    #[test]
    fn partition_selectors_parse_and_print_back() {
        for (text, want) in [
            ("2", PartitionSel::Number(2)),
            ("vg0/root", PartitionSel::Volume("vg0/root".into())),
            (
                "subvol=root",
                PartitionSel::Subvolume {
                    partition: None,
                    path: "root".into(),
                },
            ),
            (
                "4,subvol=/@/snapshots/1/",
                PartitionSel::Subvolume {
                    partition: Some(4),
                    path: "@/snapshots/1".into(),
                },
            ),
            (
                "subvol=/",
                PartitionSel::Subvolume {
                    partition: None,
                    path: String::new(),
                },
            ),
        ] {
            let got = PartitionSel::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(got, want, "{text}");
            assert_eq!(PartitionSel::parse(&got.to_string()), Some(got), "{text}");
        }
        for bad in [
            "subvol=a/../b",
            "subvol=a//b",
            "x,subvol=a",
            "two",
            "subvol=./a",
        ] {
            assert_eq!(PartitionSel::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_references_are_refused_by_parse() {
        for bad in ["", "dir:", "tar:", "snapshot:"] {
            let e = ImageRef::parse(bad).unwrap_err();
            assert!(matches!(e, Error::Reference { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn selectors_split_after_the_existing_path() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("img:with:colons.tar");
        std::fs::write(&f, b"x").unwrap();
        let s = f.display().to_string();
        let r = resolved(&format!("docker-archive:{s}:debian:12")).unwrap();
        assert_eq!(
            r,
            ImageRef::DockerArchive {
                path: f.clone(),
                tag: Some("debian:12".into())
            }
        );
        let r = resolved(&format!("docker-archive:{s}")).unwrap();
        assert_eq!(
            r,
            ImageRef::DockerArchive {
                path: f.clone(),
                tag: None
            }
        );
        let r = resolved(&format!("disk:{s}#2")).unwrap();
        assert_eq!(
            r,
            ImageRef::Disk {
                path: f.clone(),
                partition: Some(PartitionSel::Number(2))
            }
        );
        assert!(resolved(&format!("disk:{s}#two")).is_err());
        assert!(resolved("oci:/does/not/exist:latest").is_err());
    }

    #[test]
    fn unknown_bytes_are_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("junk");
        std::fs::write(&f, vec![7u8; 10_000]).unwrap();
        let e = resolved(f.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("cannot tell what this is"), "{e}");
    }
}
