//! Compression of tarballs and layers, detected by magic bytes, never by file name.

use std::io::{BufReader, Read};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::limits::{CountingReader, LimitedReader, Limits};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
}

/// A compression imagewise recognises but does not read: its name and how to undo it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreadCompression {
    /// `bzip2`, `compress (.Z)`, `lzop`, `lz4`, `lz4 (legacy format)`.
    pub name: &'static str,
    /// A command that decompresses such a file.
    pub command: &'static str,
}

impl std::fmt::Display for UnreadCompression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "compressed with {}, which imagewise does not read; decompress it first (`{}`) and open the result",
            self.name, self.command
        )
    }
}

/// Bytes of a stream's start that [`Compression::detect`] wants to see (skippable frames in
/// front of a zstd or lz4 frame are stepped over within them).
pub const DETECT_BYTES: usize = 4096;

impl Compression {
    /// Detect from the first bytes of a stream (up to [`DETECT_BYTES`]). Anything without a
    /// known magic is taken as uncompressed; the tar reader then says whether it is a tar at all.
    pub fn detect(head: &[u8]) -> Result<Compression, UnreadCompression> {
        let unread = |name, command| Err(UnreadCompression { name, command });
        // zstd and lz4 frames may follow skippable frames (magic 0x184D2A5?, then a length).
        let mut at = 0usize;
        while head.len() >= at + 8
            && head[at] & 0xf0 == 0x50
            && head[at + 1..at + 4] == [0x2a, 0x4d, 0x18]
        {
            let len = u32::from_le_bytes([head[at + 4], head[at + 5], head[at + 6], head[at + 7]]);
            at = at.saturating_add(8).saturating_add(len as usize);
        }
        if at > 0 && at >= head.len() {
            // Skippable frames longer than what was read: zstd's decoder steps over them, and a
            // zstd stream is what carries them in practice.
            return Ok(Compression::Zstd);
        }
        let head = &head[at..];
        if head.starts_with(&[0x1f, 0x8b]) {
            Ok(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Ok(Compression::Zstd)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Ok(Compression::Xz)
        } else if head.starts_with(b"BZh") && head.len() > 3 && head[3].is_ascii_digit() {
            unread("bzip2", "bunzip2 -k FILE")
        } else if head.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
            unread("lz4", "lz4 -d FILE")
        } else if head.starts_with(&[0x02, 0x21, 0x4c, 0x18]) {
            unread("lz4 (legacy format)", "lz4 -d FILE")
        } else if head.starts_with(&[0x1f, 0x9d]) {
            unread("compress (.Z)", "gzip -dc FILE > FILE.tar")
        } else if head.starts_with(&[0x89, b'L', b'Z', b'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a]) {
            unread("lzop", "lzop -d FILE")
        } else if at > 0 {
            // Skippable frames followed by something else: let zstd's decoder judge it.
            Ok(Compression::Zstd)
        } else {
            Ok(Compression::None)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }
}

/// A decompressing reader over `raw`, bounded by `limits` (for compressed streams).
pub(crate) fn decoder<'a, R: Read + Send + 'a>(
    raw: R,
    compression: Compression,
    limits: Limits,
    what: &str,
) -> Result<Box<dyn Read + Send + 'a>> {
    let (counted, count) = CountingReader::new(raw);
    let buffered = BufReader::with_capacity(128 * 1024, counted);
    Ok(match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(LimitedReader::new(
            flate2::bufread::MultiGzDecoder::new(buffered),
            count,
            limits,
        )),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| Error::corrupt(what, format!("bad zstd stream: {e}")))?;
            // Frames may declare windows up to 2 GiB; zstd's default cap (128 MiB) keeps a
            // hostile frame from allocating that much.
            d.window_log_max(27)
                .map_err(|e| Error::corrupt(what, format!("bad zstd stream: {e}")))?;
            Box::new(LimitedReader::new(d, count, limits))
        }
        Compression::Xz => Box::new(LimitedReader::new(
            liblzma::bufread::XzDecoder::new_multi_decoder(buffered),
            count,
            limits,
        )),
    })
}
