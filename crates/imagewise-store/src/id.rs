//! Content ids: BLAKE3 of the plain bytes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 32-byte BLAKE3 hash naming a blob, a pack, an index file or a snapshot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub [u8; 32]);

impl Id {
    pub fn of(bytes: &[u8]) -> Id {
        Id(*blake3::hash(bytes).as_bytes())
    }

    pub fn hex(&self) -> String {
        self.hex_buf().as_str().to_string()
    }

    /// The id in hex without an allocation (trees name thousands of ids).
    fn hex_buf(&self) -> HexBuf {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut b = [0u8; 64];
        for (i, x) in self.0.iter().enumerate() {
            b[2 * i] = DIGITS[(x >> 4) as usize];
            b[2 * i + 1] = DIGITS[(x & 15) as usize];
        }
        HexBuf(b)
    }

    /// The first 8 bytes in hex, as shown in listings.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..8])
    }

    pub fn parse(s: &str) -> Option<Id> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b).ok()?;
        Some(Id(b))
    }
}

struct HexBuf([u8; 64]);

impl HexBuf {
    fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex_buf().as_str())
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.hex_buf().as_str())
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Id::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("bad id {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_round_trips() {
        for id in [Id([0; 32]), Id([0xff; 32]), Id::of(b"imagewise")] {
            let h = id.hex();
            assert_eq!(h, hex::encode(id.0));
            assert_eq!(id.to_string(), h);
            assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{h}\""));
            assert_eq!(Id::parse(&h), Some(id));
        }
    }
}
