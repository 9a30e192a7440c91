//! Byte ranges of files on the host: a whole tarball, a blob in an OCI layout, or a member of an
//! uncompressed outer archive (docker-archive, oci-archive), read in place without copying.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, Result};

/// `len` bytes of `path` starting at `offset`.
#[derive(Debug, Clone)]
pub(crate) struct ByteRange {
    pub path: Arc<PathBuf>,
    pub offset: u64,
    pub len: u64,
}

impl ByteRange {
    pub fn whole_file(path: &Path) -> Result<ByteRange> {
        let meta = fs_err::metadata(path).map_err(|e| Error::io(path, e))?;
        Ok(ByteRange {
            path: Arc::new(path.to_path_buf()),
            offset: 0,
            len: meta.len(),
        })
    }

    pub fn open(&self) -> Result<RangeReader> {
        let mut file = std::fs::File::open(&*self.path).map_err(|e| Error::io(&*self.path, e))?;
        file.seek(SeekFrom::Start(self.offset))
            .map_err(|e| Error::io(&*self.path, e))?;
        Ok(RangeReader {
            file,
            start: self.offset,
            len: self.len,
            pos: 0,
        })
    }

    pub fn read_all(&self, what: &str, max: u64) -> Result<Vec<u8>> {
        if self.len > max {
            return Err(Error::LimitExceeded {
                what: what.to_string(),
                detail: format!("{} bytes is too large for a metadata document", self.len),
                limit: max,
                knob: "(none: metadata documents are capped)",
            });
        }
        let mut buf = Vec::with_capacity(self.len as usize);
        self.open()?
            .read_to_end(&mut buf)
            .map_err(|e| Error::io(&*self.path, e))?;
        Ok(buf)
    }
}

/// Reads one [`ByteRange`]; seekable within it.
pub(crate) struct RangeReader {
    file: std::fs::File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        if left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(left.min(usize::MAX as u64) as usize);
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file is shorter than its recorded size",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RangeReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        self.file.seek(SeekFrom::Start(self.start + new))?;
        self.pos = new;
        Ok(new)
    }
}

/// A content digest as OCI writes it (`sha256:<64 hex>`), validated so it can name a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    pub algorithm: DigestAlgorithm,
    pub hex: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DigestAlgorithm {
    Sha256,
    Sha512,
}

impl Digest {
    /// Parse and validate; only lowercase hex of the algorithm's length is accepted, so a digest
    /// can never smuggle `/` or `..` into a blob path.
    pub fn parse(s: &str) -> Result<Digest, String> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| format!("digest {s:?} has no algorithm prefix"))?;
        let (algorithm, len) = match alg {
            "sha256" => (DigestAlgorithm::Sha256, 64),
            "sha512" => (DigestAlgorithm::Sha512, 128),
            _ => return Err(format!("digest {s:?}: unsupported algorithm {alg:?}")),
        };
        if hex.len() != len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(format!("digest {s:?}: expected {len} lowercase hex digits"));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    pub fn algorithm_name(&self) -> &'static str {
        match self.algorithm {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    pub fn hasher(&self) -> Hasher {
        match self.algorithm {
            DigestAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            DigestAlgorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm_name(), self.hex)
    }
}

pub enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub fn finish_hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// Hashes everything read through it; [`HashingReader::verify`] drains the rest and compares.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Option<Hasher>,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, digest: Option<&Digest>) -> Self {
        HashingReader {
            inner,
            hasher: digest.map(Digest::hasher),
        }
    }

    /// Read to the end and compare with `expected` (no-op when there is none).
    pub fn verify(mut self, expected: Option<&Digest>, what: &str) -> Result<()> {
        let Some(expected) = expected else {
            return Ok(());
        };
        io::copy(&mut self, &mut io::sink())
            .map_err(|e| Error::corrupt(what, format!("cannot read to the end: {e}")))?;
        let actual = self
            .hasher
            .take()
            .map(Hasher::finish_hex)
            .unwrap_or_default();
        if actual != expected.hex {
            return Err(Error::DigestMismatch {
                what: what.to_string(),
                expected: expected.to_string(),
                actual: format!("{}:{}", expected.algorithm_name(), actual),
            });
        }
        Ok(())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_parse_rejects_hostile_and_malformed() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert!(Digest::parse(&good).is_ok());
        for bad in [
            "sha256:../../etc/passwd".to_string(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}", "a".repeat(63)),
            format!("sha256/{}", "a".repeat(64)),
            format!("md5:{}", "a".repeat(32)),
            format!("sha256:{}/x", "a".repeat(62)),
            String::new(),
            "sha256:".to_string(),
        ] {
            assert!(Digest::parse(&bad).is_err(), "{bad:?} accepted");
        }
    }
}
