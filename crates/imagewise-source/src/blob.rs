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

/// Where a seek lands in a stream of `len` bytes now at `pos`; before the start is an error.
pub(crate) fn seek_target(to: SeekFrom, pos: u64, len: u64) -> io::Result<u64> {
    match to {
        SeekFrom::Start(n) => Some(n),
        SeekFrom::Current(d) => pos.checked_add_signed(d),
        SeekFrom::End(d) => len.checked_add_signed(d),
    }
    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))
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
        let new = crate::blob::seek_target(to, self.pos, self.len)?;
        self.file.seek(SeekFrom::Start(self.start + new))?;
        self.pos = new;
        Ok(new)
    }
}

/// A buffered reader whose seeks stay inside the buffer when they can. `std::io::BufReader`
/// drops its buffer on every seek, so a tar parser that seeks over each member's data would
/// refill the whole buffer once per member; this one only refills when the target is outside it.
pub(crate) struct SeekBuf<R> {
    inner: R,
    buf: Vec<u8>,
    /// Valid bytes in `buf` and the cursor within them.
    filled: usize,
    at: usize,
    /// Position of `inner` (the offset just past `buf[..filled]`).
    inner_pos: u64,
}

impl<R: Read + Seek> SeekBuf<R> {
    pub fn new(inner: R, capacity: usize) -> Self {
        SeekBuf {
            inner,
            buf: vec![0; capacity],
            filled: 0,
            at: 0,
            inner_pos: 0,
        }
    }

    fn pos(&self) -> u64 {
        self.inner_pos - (self.filled - self.at) as u64
    }
}

impl<R: Read + Seek> Read for SeekBuf<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.filled {
            if out.len() >= self.buf.len() {
                let n = self.inner.read(out)?;
                self.inner_pos += n as u64;
                return Ok(n);
            }
            self.filled = self.inner.read(&mut self.buf)?;
            self.inner_pos += self.filled as u64;
            self.at = 0;
        }
        let n = out.len().min(self.filled - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for SeekBuf<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => n,
            SeekFrom::Current(d) => self
                .pos()
                .checked_add_signed(d)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?,
            SeekFrom::End(_) => {
                self.filled = 0;
                self.at = 0;
                self.inner_pos = self.inner.seek(to)?;
                return Ok(self.inner_pos);
            }
        };
        let start = self.inner_pos - self.filled as u64;
        if target >= start && target <= self.inner_pos {
            self.at = (target - start) as usize;
        } else {
            self.inner_pos = self.inner.seek(SeekFrom::Start(target))?;
            self.filled = 0;
            self.at = 0;
        }
        Ok(target)
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

/// Why a string is not a digest imagewise accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    #[error("digest {0:?} has no algorithm prefix")]
    NoAlgorithm(String),
    #[error("digest {digest:?}: unsupported algorithm {algorithm:?} (sha256 and sha512 are read)")]
    Algorithm { digest: String, algorithm: String },
    #[error("digest {digest:?}: expected {len} lowercase hex digits")]
    Hex { digest: String, len: usize },
}

impl Digest {
    /// Parse and validate; only lowercase hex of the algorithm's length is accepted, so a digest
    /// can never smuggle `/` or `..` into a blob path.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::NoAlgorithm(s.to_string()))?;
        let (algorithm, len) = match alg {
            "sha256" => (DigestAlgorithm::Sha256, 64),
            "sha512" => (DigestAlgorithm::Sha512, 128),
            _ => {
                return Err(DigestError::Algorithm {
                    digest: s.to_string(),
                    algorithm: alg.to_string(),
                })
            }
        };
        if hex.len() != len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestError::Hex {
                digest: s.to_string(),
                len,
            });
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
    fn seekbuf_reads_like_the_underlying_file_whatever_the_seeks() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut r = SeekBuf::new(io::Cursor::new(data.clone()), 4096);
        let mut pos = 0u64;
        for (i, step) in [0i64, 10, 5000, -3000, 70_000, -69_999, 1]
            .iter()
            .enumerate()
        {
            pos = r.seek(SeekFrom::Current(*step)).unwrap();
            let mut b = [0u8; 700];
            let n = r.read(&mut b).unwrap();
            assert_eq!(&b[..n], &data[pos as usize..pos as usize + n], "step {i}");
            pos += n as u64;
        }
        assert_eq!(r.seek(SeekFrom::Start(99_990)).unwrap(), 99_990);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &data[99_990..]);
        assert!(pos > 0);
    }

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
