//! Limits that keep hostile input (decompression bombs, billions of entries) from exhausting the
//! machine, and the reader that enforces them on decompressed streams.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::Error;

/// Knobs of [`crate::OpenOptions`] that bound resource use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Decompressed bytes read from one compressed stream (a layer or a tarball).
    pub max_unpacked_bytes: u64,
    /// Decompressed ÷ compressed bytes of one stream, checked once 64 MiB have come out. Real
    /// layers compress 2–10×, sparse-ish files up to a few hundred; bombs reach 1000× and more.
    pub max_ratio: u64,
    /// Entries in all layers together.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_unpacked_bytes: 64 << 30,
            max_ratio: 1024,
            max_entries: 50_000_000,
        }
    }
}

/// The payload of the `io::Error` a [`LimitedReader`] returns, turned back into
/// [`Error::LimitExceeded`] by [`Error::from_stream`].
#[derive(Debug)]
pub(crate) struct LimitHit {
    detail: String,
    limit: u64,
    knob: &'static str,
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (limit {})", self.detail, self.limit)
    }
}

impl std::error::Error for LimitHit {}

impl LimitHit {
    pub(crate) fn to_error(&self, what: &str) -> Error {
        Error::LimitExceeded {
            what: what.to_string(),
            detail: self.detail.clone(),
            limit: self.limit,
            knob: self.knob,
        }
    }
}

/// Counts bytes as they pass; shared with a [`LimitedReader`] further up the stack.
pub(crate) struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    pub(crate) fn new(inner: R) -> (Self, Arc<AtomicU64>) {
        let count = Arc::new(AtomicU64::new(0));
        (
            CountingReader {
                inner,
                count: count.clone(),
            },
            count,
        )
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Wraps a decompressor: fails with a [`LimitHit`] once too many bytes come out, absolutely or
/// relative to the compressed bytes that went in.
pub(crate) struct LimitedReader<R> {
    inner: R,
    out: u64,
    compressed_in: Arc<AtomicU64>,
    limits: Limits,
}

const RATIO_GRACE: u64 = 64 << 20;

impl<R> LimitedReader<R> {
    pub(crate) fn new(inner: R, compressed_in: Arc<AtomicU64>, limits: Limits) -> Self {
        LimitedReader {
            inner,
            out: 0,
            compressed_in,
            limits,
        }
    }
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        if self.out > self.limits.max_unpacked_bytes {
            return Err(io::Error::other(LimitHit {
                detail: format!(
                    "decompressed data exceeds {} bytes; this looks like a decompression bomb",
                    self.limits.max_unpacked_bytes
                ),
                limit: self.limits.max_unpacked_bytes,
                knob: "--max-unpacked-bytes (IMAGEWISE_MAX_UNPACKED_BYTES)",
            }));
        }
        if self.out > RATIO_GRACE {
            let input = self.compressed_in.load(Ordering::Relaxed).max(1);
            if self.out / input > self.limits.max_ratio {
                return Err(io::Error::other(LimitHit {
                    detail: format!(
                        "{} bytes decompressed from {} compressed bytes (ratio over {}); this looks like a decompression bomb",
                        self.out, input, self.limits.max_ratio
                    ),
                    limit: self.limits.max_ratio,
                    knob: "--max-ratio (IMAGEWISE_MAX_RATIO)",
                }));
            }
        }
        Ok(n)
    }
}
