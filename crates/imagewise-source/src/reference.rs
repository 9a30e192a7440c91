//! Image references, skopeo-style: `dir:`, `tar:`, `docker-archive:PATH[:repo:tag]`,
//! `oci:PATH[:tag]`, `oci-archive:PATH[:tag]`, `disk:PATH[#N]`; a bare path is detected.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::compression::Compression;
use crate::error::{Error, Result};
use crate::store;

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
        partition: Option<u32>,
    },
}

impl ImageRef {
    /// Parse a reference; a bare path is looked at (without reading more than headers) to tell
    /// its format.
    pub fn parse(reference: &str) -> Result<ImageRef> {
        let bad = |detail: String| Error::Reference {
            reference: reference.to_string(),
            detail,
        };
        if reference.is_empty() {
            return Err(bad("empty reference; give a path or TRANSPORT:PATH".into()));
        }
        let Some((transport, rest)) = reference.split_once(':') else {
            return detect(Path::new(reference));
        };
        let r = match transport {
            "dir" => ImageRef::Dir(existing(rest, reference)?),
            "tar" => ImageRef::Tar(existing(rest, reference)?),
            "docker-archive" => {
                let (path, tag) = split_selector(rest, ':', reference)?;
                ImageRef::DockerArchive { path, tag }
            }
            "oci" => {
                let (path, tag) = split_selector(rest, ':', reference)?;
                ImageRef::Oci { path, tag }
            }
            "oci-archive" => {
                let (path, tag) = split_selector(rest, ':', reference)?;
                ImageRef::OciArchive { path, tag }
            }
            "disk" => {
                let (path, part) = split_selector(rest, '#', reference)?;
                let partition = part
                    .map(|p| {
                        p.parse::<u32>().map_err(|_| {
                            bad(format!(
                                "partition {p:?} is not a number (disk:PATH#N, N from 1)"
                            ))
                        })
                    })
                    .transpose()?;
                ImageRef::Disk { path, partition }
            }
            // Not a transport: a bare path that happens to contain ':'.
            _ => return detect(Path::new(reference)),
        };
        Ok(r)
    }

    pub fn path(&self) -> &Path {
        match self {
            ImageRef::Dir(p) | ImageRef::Tar(p) => p,
            ImageRef::DockerArchive { path, .. }
            | ImageRef::Oci { path, .. }
            | ImageRef::OciArchive { path, .. }
            | ImageRef::Disk { path, .. } => path,
        }
    }
}

fn existing(p: &str, reference: &str) -> Result<PathBuf> {
    let path = PathBuf::from(p);
    if p.is_empty() {
        return Err(Error::Reference {
            reference: reference.to_string(),
            detail: "no path after the transport".into(),
        });
    }
    if !path.exists() {
        return Err(Error::not_found(p, "no such file or directory"));
    }
    Ok(path)
}

/// Split `PATH[<sep>SELECTOR]` where PATH itself may contain `sep`: the shortest prefix that
/// exists on disk is the path.
fn split_selector(rest: &str, sep: char, reference: &str) -> Result<(PathBuf, Option<String>)> {
    if Path::new(rest).exists() {
        return Ok((PathBuf::from(rest), None));
    }
    for (i, _) in rest.match_indices(sep) {
        let (p, sel) = (&rest[..i], &rest[i + 1..]);
        if !p.is_empty() && Path::new(p).exists() {
            if sel.is_empty() {
                return Ok((PathBuf::from(p), None));
            }
            return Ok((PathBuf::from(p), Some(sel.to_string())));
        }
    }
    existing(rest, reference).map(|p| (p, None))
}

fn detect(path: &Path) -> Result<ImageRef> {
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
    if head.starts_with(b"QFI\xfb") {
        return Ok(ImageRef::Disk {
            path: path.to_path_buf(),
            partition: None,
        });
    }
    match Compression::detect(head) {
        Ok(Compression::None) => {}
        Ok(_) => return Ok(ImageRef::Tar(path.to_path_buf())),
        Err(name) => {
            return Err(Error::unsupported(
                &shown,
                format!("{name}-compressed files are not supported"),
            ))
        }
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
        "cannot tell what this is: not a directory, tar (plain, gzip, zstd, xz), docker-archive, OCI layout or archive, qcow2 or disk image; name the format with a prefix such as tar: or disk:",
    ))
}

/// A 512-byte block is a tar header if it names something and its checksum field matches.
pub(crate) fn is_tar_header(block: &[u8]) -> bool {
    let Ok(block) = <&[u8; 512]>::try_from(block) else {
        return false;
    };
    !block[..100].iter().all(|&b| b == 0) && crate::tar_guard::checksum_ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_split_after_the_existing_path() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("img:with:colons.tar");
        std::fs::write(&f, b"x").unwrap();
        let s = f.display().to_string();
        let r = ImageRef::parse(&format!("docker-archive:{s}:debian:12")).unwrap();
        assert_eq!(
            r,
            ImageRef::DockerArchive {
                path: f.clone(),
                tag: Some("debian:12".into())
            }
        );
        let r = ImageRef::parse(&format!("docker-archive:{s}")).unwrap();
        assert_eq!(
            r,
            ImageRef::DockerArchive {
                path: f.clone(),
                tag: None
            }
        );
        let r = ImageRef::parse(&format!("disk:{s}#2")).unwrap();
        assert_eq!(
            r,
            ImageRef::Disk {
                path: f.clone(),
                partition: Some(2)
            }
        );
        assert!(ImageRef::parse(&format!("disk:{s}#two")).is_err());
        assert!(ImageRef::parse("oci:/does/not/exist:latest").is_err());
        assert!(ImageRef::parse("").is_err());
    }

    #[test]
    fn unknown_bytes_are_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("junk");
        std::fs::write(&f, vec![7u8; 10_000]).unwrap();
        let e = ImageRef::parse(f.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot tell what this is"), "{e}");
    }
}
