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

impl Compression {
    /// Detect from the first bytes of a stream. Anything without a known magic is taken as
    /// uncompressed; the tar parser then says whether it is a tar at all.
    pub fn detect(head: &[u8]) -> Result<Compression, &'static str> {
        Ok(if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(b"BZh") && head.len() > 3 && head[3].is_ascii_digit() {
            return Err("bzip2");
        } else if head.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
            return Err("lz4");
        } else {
            Compression::None
        })
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
