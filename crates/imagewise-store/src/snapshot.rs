//! Snapshots: `snapshots/<id>` holds two lines — the snapshot as compact JSON, then
//! `ed25519:<signature hex>` or `unsigned`. The id is the BLAKE3 of the first line's bytes, so
//! the name checks the content and the signature covers exactly what the id names.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::Id;
use crate::keys::{PublicKey, SecretKey};
use crate::repo::Repo;
use crate::tree::Node;

/// What was stored: an image's merged tree, or a disk image's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    Tree,
    Raw,
}

/// Figures of one `snapshot create`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotSummary {
    pub files: u64,
    pub dirs: u64,
    pub entries: u64,
    /// Apparent bytes of all files (holes included).
    pub bytes: u64,
    /// Bytes read from the source (holes the source records are not read).
    pub bytes_read: u64,
    /// Plain bytes of blobs this snapshot added to the repository.
    pub bytes_new: u64,
    /// Bytes those new blobs take in packs (compressed).
    pub bytes_stored: u64,
    pub blobs_new: u64,
    /// Files read from the source, and files the files cache showed unchanged since the parent
    /// snapshot (their chunks taken from it, unread).
    #[serde(default)]
    pub files_read: u64,
    #[serde(default)]
    pub files_unchanged: u64,
    pub duration_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub kind: SnapshotKind,
    /// RFC 3339, UTC, nanoseconds.
    pub time: String,
    /// The image reference as given (paths made absolute).
    pub source: String,
    /// The source's format (dir, tar, oci, disk, …; `raw` for --raw).
    pub format: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub hostname: String,
    /// The root directory: its metadata and its tree.
    pub root: Node,
    pub summary: SnapshotSummary,
    /// Names (and symlink targets) that are not UTF-8 are kept escaped
    /// (`imagewise_source::names`). Snapshots made before that hold their names verbatim (with
    /// replacement characters for such bytes) and are restored as they are.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub escaped_names: bool,
}

/// A snapshot read from the repository, with its id and signature state.
#[derive(Debug, Clone)]
pub struct StoredSnapshot {
    pub id: Id,
    pub snapshot: Snapshot,
    pub(crate) body: Vec<u8>,
    pub(crate) signature: Option<[u8; 64]>,
}

/// How a snapshot's signature checks out against the repository's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Signed {
    /// The repository has no key; nothing to check.
    NotRequired,
    Valid,
    Missing,
    Invalid,
}

/// `snapshot list --json`: the id (hex) and the snapshot.
impl Serialize for StoredSnapshot {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("StoredSnapshot", 2)?;
        st.serialize_field("id", &self.id.hex())?;
        st.serialize_field("snapshot", &self.snapshot)?;
        st.end()
    }
}

/// `snapshot show --json`: a snapshot with how its signature checks out.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotShow {
    pub id: String,
    pub signature: Signed,
    pub snapshot: Snapshot,
}

impl Signed {
    /// The name JSON gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Signed::NotRequired => "notrequired",
            Signed::Valid => "valid",
            Signed::Missing => "missing",
            Signed::Invalid => "invalid",
        }
    }
}

impl StoredSnapshot {
    /// What `snapshot show` prints, the signature checked against `key`.
    pub fn show(&self, key: Option<&PublicKey>) -> SnapshotShow {
        SnapshotShow {
            id: self.id.hex(),
            signature: self.signature_state(key),
            snapshot: self.snapshot.clone(),
        }
    }

    pub fn signature_state(&self, key: Option<&PublicKey>) -> Signed {
        match (key, &self.signature) {
            (None, _) => Signed::NotRequired,
            (Some(_), None) => Signed::Missing,
            (Some(k), Some(sig)) => {
                if k.verify(&self.body, sig) {
                    Signed::Valid
                } else {
                    Signed::Invalid
                }
            }
        }
    }
}

pub(crate) fn encode(s: &Snapshot, key: Option<&SecretKey>) -> (Id, Vec<u8>) {
    let body = serde_json::to_vec(s).unwrap_or_default();
    let id = Id::of(&body);
    let mut out = body.clone();
    out.push(b'\n');
    match key {
        Some(k) => {
            out.extend_from_slice(b"ed25519:");
            out.extend_from_slice(hex::encode(k.sign(&body)).as_bytes());
        }
        None => out.extend_from_slice(b"unsigned"),
    }
    out.push(b'\n');
    (id, out)
}

pub(crate) fn decode(name: &str, bytes: &[u8]) -> Result<StoredSnapshot> {
    let bad = |why: &str| Error::damaged(format!("snapshot {name}: {why}"));
    let nl = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("no signature line (truncated?)"))?;
    let body = &bytes[..nl];
    let id = Id::of(body);
    if id.hex() != name {
        return Err(bad("its content does not match its name (damaged)"));
    }
    let sig_line = std::str::from_utf8(&bytes[nl + 1..])
        .map_err(|_| bad("signature line is not text"))?
        .trim_end_matches('\n');
    let signature = match sig_line {
        "unsigned" => None,
        s => {
            let mut sig = [0u8; 64];
            s.strip_prefix("ed25519:")
                .and_then(|h| hex::decode_to_slice(h, &mut sig).ok())
                .ok_or_else(|| {
                    bad("signature line is neither `unsigned` nor `ed25519:<128 hex>`")
                })?;
            Some(sig)
        }
    };
    let snapshot: Snapshot =
        serde_json::from_slice(body).map_err(|e| bad(&format!("not a snapshot ({e})")))?;
    Ok(StoredSnapshot {
        id,
        snapshot,
        body: body.to_vec(),
        signature,
    })
}

/// Check a snapshot's signature as the options ask; Err when it must not be used.
pub(crate) fn verify_signature(
    repo: &Repo,
    s: &StoredSnapshot,
    trust: Option<&PublicKey>,
    allow_unsigned: bool,
) -> Result<Signed> {
    let key = trust.or(repo.config.public_key.as_ref());
    let state = s.signature_state(key);
    match state {
        Signed::Missing | Signed::Invalid if !allow_unsigned => Err(Error::Untrusted(format!(
            "snapshot {} is {} but {} requires signatures by key {}; refusing it (--allow-unsigned overrides)",
            s.id.short(),
            if state == Signed::Missing { "unsigned" } else { "signed by another key or altered" },
            repo.location(),
            key.map(|k| k.to_string()).unwrap_or_default()
        ))),
        _ => Ok(state),
    }
}

#[cfg(test)]
mod signed_tests {
    use super::Signed;

    #[test]
    fn signed_is_named_as_json_names_it() {
        for s in [
            Signed::NotRequired,
            Signed::Valid,
            Signed::Missing,
            Signed::Invalid,
        ] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::from(s.as_str())
            );
        }
    }
}
