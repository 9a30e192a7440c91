//! A deduplicated, verifiable, signed snapshot repository for server images.
//!
//! A repository holds *blobs* (file chunks and directory trees), each named by the BLAKE3 hash of
//! its plain bytes, zstd-compressed inside *pack* files; *index* files say which pack holds which
//! blob; a *snapshot* names the root tree of one stored image and is signed with ed25519 when the
//! repository has a key. Everything is written append-only and atomically (temp file, fsync,
//! rename, fsync of the directory), so a killed writer leaves at most unreferenced data, which
//! `prune` removes. docs/store.md describes the format byte for byte.

mod backend;
mod check;
mod chunk;
mod config;
pub mod conformance;
mod create;
mod diff;
mod error;
mod filescache;
mod id;
mod image;
mod index;
mod keys;
mod lock;
mod pack;
mod prune;
mod repo;
mod restore;
mod snapshot;
mod text;
mod tree;

pub use backend::{list_all, Backend, FileKind, LocalDir, MemoryBackend, ReadAt, Staged};
pub use check::{CheckOptions, CheckReport, Damage, Outcome};
pub use chunk::ChunkParams;
pub use config::{Compression, Config, FORMAT_VERSION};
pub use create::{CreateOptions, CreateReport, PreparedTree};
pub use diff::{Change, ChangeKind, DiffReport};
pub use error::{Error, Malformed, Result};
pub use filescache::default_dir as default_cache_dir;
pub use id::Id;
pub use image::SnapshotSource;
pub use keys::{generate_key, PublicKey, SecretKey};
pub use prune::{ForgetPolicy, ForgetReport, PruneReport, RepairReport};
pub use repo::{InitOptions, Location, Repo, RepoStats, Unreadable};
pub use restore::{RestoreOptions, RestoreReport};
pub use snapshot::{Signed, Snapshot, SnapshotKind, SnapshotShow, SnapshotSummary, StoredSnapshot};
pub use text::{mib, render_list};
pub use tree::{Extent, Node, NodeKind, Tree};

/// Where long operations report how far they are (bytes done of a total).
pub use imagewise_source::Progress;
