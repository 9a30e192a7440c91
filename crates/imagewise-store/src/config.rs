//! The repository's `config` file: format version, chunking, compression, signing key.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::chunk::ChunkParams;
use crate::error::{Error, Result};
use crate::keys::PublicKey;

/// The format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_NAME: &str = "imagewise-store";

/// How blobs are compressed in packs. Each blob also records its own method, so a repository
/// can change level (or mix) without rewriting anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Zstd(i32),
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd(3)
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Zstd(l) => write!(f, "zstd:{l}"),
        }
    }
}

impl FromStr for Compression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "none" => Ok(Compression::None),
            "zstd" => Ok(Compression::default()),
            _ => {
                let level = s
                    .strip_prefix("zstd:")
                    .and_then(|l| l.parse::<i32>().ok())
                    .filter(|l| (-7..=22).contains(l) && *l != 0)
                    .ok_or_else(|| {
                        Error::input(format!(
                            "unknown compression {s:?}: use none, zstd or zstd:LEVEL (-7..22, not 0)"
                        ))
                    })?;
                Ok(Compression::Zstd(level))
            }
        }
    }
}

impl Serialize for Compression {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Compression {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Contents of `REPO/config` (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub format: String,
    pub version: u32,
    /// Random id of this repository.
    pub id: String,
    /// RFC 3339 creation time.
    pub created: String,
    pub compression: Compression,
    /// Chunking of files in image trees.
    pub chunker: ChunkParams,
    /// Chunking of raw disk images (`snapshot create --raw`).
    pub raw_chunker: ChunkParams,
    /// Packs are closed once they hold this many stored bytes.
    pub pack_size: u64,
    /// When set, every snapshot must carry an ed25519 signature by this key.
    pub public_key: Option<PublicKey>,
}

impl Config {
    pub(crate) fn new(
        compression: Compression,
        public_key: Option<PublicKey>,
        chunker: ChunkParams,
        raw_chunker: ChunkParams,
    ) -> Config {
        let mut id = [0u8; 16];
        let _ = getrandom::fill(&mut id);
        Config {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            id: hex::encode(id),
            created: jiff::Timestamp::now().to_string(),
            compression,
            chunker,
            raw_chunker,
            pack_size: 16 << 20,
            public_key,
        }
    }

    pub(crate) fn parse(bytes: &[u8], location: &str) -> Result<Config> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            Error::damaged(format!(
                "{location}/config is not valid JSON ({e}); is this an imagewise repository?"
            ))
        })?;
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
            return Err(Error::not_found(format!(
                "{location} is not an imagewise repository (its config has no \"format\": \"{FORMAT_NAME}\")"
            )));
        }
        let version = v.get("version").and_then(|f| f.as_u64()).unwrap_or(0);
        if version > u64::from(FORMAT_VERSION) {
            return Err(Error::Unsupported(format!(
                "{location} uses repository format {version}; this imagewise reads up to {FORMAT_VERSION}: upgrade imagewise"
            )));
        }
        let c: Config = serde_json::from_value(v)
            .map_err(|e| Error::damaged(format!("{location}/config: {e}")))?;
        for p in [c.chunker, c.raw_chunker] {
            p.validate()
                .map_err(|e| Error::damaged(format!("{location}/config: {e}")))?;
        }
        if c.pack_size < 1 << 20 || c.pack_size > 1 << 30 {
            return Err(Error::damaged(format!(
                "{location}/config: pack_size {} is outside 1 MiB..1 GiB",
                c.pack_size
            )));
        }
        Ok(c)
    }
}
