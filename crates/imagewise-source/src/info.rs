//! What was opened: the report type that travels with an [`crate::ImageTree`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::compression::Compression;

/// The wrapping an image came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Dir,
    Tar,
    DockerArchive,
    Oci,
    OciArchive,
    Disk,
    /// A tree snapshot of an imagewise repository.
    Snapshot,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Dir => "dir",
            Format::Tar => "tar",
            Format::DockerArchive => "docker-archive",
            Format::Oci => "oci",
            Format::OciArchive => "oci-archive",
            Format::Disk => "disk",
            Format::Snapshot => "snapshot",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// The digest the layer is referenced by (OCI descriptor, docker-archive blob name or
    /// diff_id), verified while it was read.
    pub digest: Option<String>,
    pub media_type: Option<String>,
    pub compression: Compression,
    /// Bytes as stored.
    pub size: u64,
    /// Bytes of the uncompressed tar stream.
    pub uncompressed_size: u64,
    pub entries: u64,
    /// Entries of this layer that later layers delete or replace (directories merged with a
    /// later one do not count).
    pub hidden_entries: u64,
    /// File bytes this layer stores that later layers delete or replace: the layer's waste.
    pub hidden_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    /// 1-based, as in `/dev/sda1`; 0 for a filesystem without a partition table.
    pub number: u32,
    pub table: String,
    pub type_name: String,
    pub start: u64,
    pub size: u64,
    pub filesystem: String,
    /// The GPT partition name.
    pub label: Option<String>,
    /// PARTUUID: the GPT entry's unique GUID, or MBR disk signature and number (`1a2b3c4d-01`).
    #[serde(default)]
    pub part_uuid: Option<String>,
    /// The filesystem's UUID as blkid prints it (`UUID=` in fstab): ext, xfs, btrfs and swap as
    /// 8-4-4-4-12 hex, FAT as `XXXX-XXXX`.
    #[serde(default)]
    pub fs_uuid: Option<String>,
    /// The filesystem's label (`LABEL=` in fstab).
    #[serde(default)]
    pub fs_label: Option<String>,
    /// The Btrfs subvolume read, by its path from the top level (`subvol=` in fstab); none for
    /// the top level and other filesystems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subvolume: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskInfo {
    /// `raw`, `qcow2`, `vmdk`, `vhd-fixed`, `vhd-dynamic` or `vhdx`.
    pub container: String,
    pub virtual_size: u64,
    pub partitions: Vec<PartitionInfo>,
    pub selected: PartitionInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// The reference as given.
    pub reference: String,
    pub format: Format,
    /// The file or directory on the host.
    pub location: PathBuf,
    pub layers: Vec<LayerInfo>,
    /// Manifest digest for OCI images.
    pub manifest_digest: Option<String>,
    /// The image configuration (OCI / docker config JSON), as stored.
    pub config: Option<serde_json::Value>,
    /// `os/arch[/variant]` of the selected manifest or config.
    pub platform: Option<String>,
    /// Tags of the selected image in a docker-archive or OCI index.
    pub tags: Vec<String>,
    pub disk: Option<DiskInfo>,
    /// Signature artifacts that name this image's manifest (OCI layouts only): cosign-style
    /// `sha256-<digest>.sig` tags and OCI referrers (manifests whose `subject` is this one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<SignatureInfo>,
}

/// A signature artifact found beside an image; read and checked for what it names, not
/// cryptographically verified (that needs a key: the caller's business).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureInfo {
    /// `cosign` (a `sha256-<hex>.sig` tag) or `referrer` (a manifest whose subject is this one).
    pub kind: String,
    /// The tag or the referrer manifest's digest.
    pub reference: String,
    /// The artifact type (`application/vnd.dev.cosign.simplesigning.v1+json`,
    /// `application/vnd.dev.sigstore.bundle.v0.3+json`, `application/vnd.cncf.notary.signature`…).
    pub artifact_type: Option<String>,
    /// Each signed payload with its signature, as stored.
    pub layers: Vec<SignedPayload>,
    /// What is wrong with the artifact (missing blobs, an unreadable payload).
    pub problems: Vec<String>,
    /// The verdict of a reader that verifies signatures itself (store snapshots): `valid`,
    /// `invalid` (another key or altered), `missing`, `not_required` (no key to check with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<String>,
    /// The key it was checked with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedPayload {
    pub media_type: String,
    pub digest: String,
    /// The payload bytes (a simple-signing JSON document for cosign), when small and readable.
    pub payload: Option<String>,
    /// The manifest digest the payload names (`critical.image.docker-manifest-digest`).
    pub names_digest: Option<String>,
    /// The base64 signature (`dev.cosignproject.cosign/signature` annotation).
    pub signature: Option<String>,
}

impl ImageInfo {
    /// What a reader of `format` found at `location`: no layers, configuration or tags yet.
    pub fn new(reference: &str, format: Format, location: PathBuf) -> ImageInfo {
        ImageInfo {
            reference: reference.to_string(),
            format,
            location,
            layers: Vec::new(),
            manifest_digest: None,
            config: None,
            platform: None,
            tags: Vec::new(),
            disk: None,
            signatures: Vec::new(),
        }
    }
}
