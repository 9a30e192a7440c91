//! ed25519 keys for signing snapshots. Key files are small text files: a header line naming
//! the kind, then the 32 key bytes in hex.

use std::fmt;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

const SECRET_HEADER: &str = "imagewise ed25519 secret key";
const PUBLIC_HEADER: &str = "imagewise ed25519 public key";

/// A signing key (keep it secret; `key generate` writes it mode 0600).
pub struct SecretKey(SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public())
    }
}

/// A verifying key, as kept in the repository config.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub [u8; 32]);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("ed25519:{self}"))
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut b = [0u8; 32];
        s.strip_prefix("ed25519:")
            .and_then(|h| hex::decode_to_slice(h, &mut b).ok())
            .ok_or_else(|| serde::de::Error::custom(format!("bad public key {s:?}")))?;
        Ok(PublicKey(b))
    }
}

/// A new random key pair; the secret goes to `out` (mode 0600), the public key to `out.pub`.
pub fn generate_key(out: &Path) -> Result<PublicKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| Error::input(format!("no random numbers from the OS: {e}")))?;
    let key = SecretKey(SigningKey::from_bytes(&seed));
    let public = key.public();
    let pub_path = {
        let mut p = out.as_os_str().to_owned();
        p.push(".pub");
        std::path::PathBuf::from(p)
    };
    for p in [out, pub_path.as_path()] {
        if p.exists() {
            return Err(Error::input(format!(
                "{} exists; not overwriting a key (remove it or choose another name)",
                p.display()
            )));
        }
    }
    write_new(
        out,
        &format!("{SECRET_HEADER}\n{}\n", hex::encode(seed)),
        0o600,
    )?;
    write_new(&pub_path, &format!("{PUBLIC_HEADER}\n{public}\n"), 0o644)?;
    Ok(public)
}

fn write_new(p: &Path, text: &str, mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(p)
        .ctx(|| format!("creating {}", p.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .ctx(|| format!("writing {}", p.display()))
}

fn read_key_file(p: &Path) -> Result<(bool, [u8; 32])> {
    let text = std::fs::read_to_string(p).ctx(|| format!("reading key file {}", p.display()))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().trim();
    let secret = match header {
        SECRET_HEADER => true,
        PUBLIC_HEADER => false,
        _ => {
            return Err(Error::input(format!(
                "{} is not an imagewise key file (make one with `imagewise key generate FILE`)",
                p.display()
            )))
        }
    };
    let mut b = [0u8; 32];
    hex::decode_to_slice(lines.next().unwrap_or_default().trim(), &mut b).map_err(|_| {
        Error::input(format!(
            "{}: the key line is not 64 hex digits",
            p.display()
        ))
    })?;
    Ok((secret, b))
}

impl SecretKey {
    pub fn load(p: &Path) -> Result<SecretKey> {
        match read_key_file(p)? {
            (true, seed) => Ok(SecretKey(SigningKey::from_bytes(&seed))),
            (false, _) => Err(Error::input(format!(
                "{} is a public key; signing needs the secret key file",
                p.display()
            ))),
        }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }
}

impl PublicKey {
    /// The public key from a public key file, or derived from a secret key file.
    pub fn load(p: &Path) -> Result<PublicKey> {
        match read_key_file(p)? {
            (true, seed) => Ok(SecretKey(SigningKey::from_bytes(&seed)).public()),
            (false, b) => {
                VerifyingKey::from_bytes(&b).map_err(|_| {
                    Error::input(format!("{}: not a valid ed25519 public key", p.display()))
                })?;
                Ok(PublicKey(b))
            }
        }
    }

    pub(crate) fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        let Ok(k) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        k.verify(msg, &Signature::from_bytes(sig)).is_ok()
    }
}
