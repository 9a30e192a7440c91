//! Open a server image — a rootfs directory, a tarball, a `docker save` archive, an OCI image
//! layout or archive, a raw or qcow2 disk with ext4 — as one read-only [`ImageTree`], without
//! extracting anything to the host and without trusting the input.
//!
//! ```no_run
//! use imagewise_source::{open, OpenOptions};
//!
//! let tree = open("oci:debian-bookworm:latest", &OpenOptions::default())?;
//! for e in tree.entries().iter().take(5) {
//!     println!("{} {:o} {}", e.kind.as_str(), e.mode, e.path);
//! }
//! let os_release = tree.read("/etc/os-release", 1 << 20)?;
//! # Ok::<(), imagewise_source::Error>(())
//! ```

mod blob;
mod compression;
mod dir;
mod disk;
mod docker_archive;
mod entry;
mod error;
mod info;
mod layers;
mod limits;
mod listing;
pub mod names;
mod oci;
mod path;
mod platform;
mod provided;
mod reference;
mod sparse;
mod store;
mod tarball;
mod tree;

use std::sync::Arc;

pub use compression::{Compression, UnreadCompression};
pub use disk::DiskBytes;
pub use entry::{Entry, EntryKind, Stamp};
pub use error::{Error, ProvidedError, Result};
pub use imagewise_types::{ErrorKind, HasKind, NoProgress, Progress};
pub use info::{
    DiskInfo, Format, ImageInfo, LayerInfo, PartitionInfo, SignatureInfo, SignedPayload,
};
pub use limits::Limits;
pub use listing::{ls_line, LsRecord};
pub use platform::Platform;
pub use provided::{SnapshotOpener, TreeProvider};
pub use reference::{detect, ImageRef, PartitionSel, Transport};
pub use tree::{Ahead, FileRead, FileReader, ImageTree, ReadSeek};

/// How to open an image.
#[derive(Clone)]
pub struct OpenOptions {
    /// Which image of a multi-platform index; default: the host's platform.
    pub platform: Option<Platform>,
    /// Follow a qcow2 backing file (only ever one that sits beside the image).
    pub allow_backing: bool,
    pub limits: Limits,
    pub progress: Arc<dyn Progress>,
    /// Read extended attributes of a directory's files (default). Callers that never look at
    /// them (`check`) save a system call or two per entry.
    pub xattrs: bool,
    /// Opens `snapshot:` references (the store crate's `SnapshotSource`); without one they are
    /// refused.
    pub snapshots: Option<Arc<dyn SnapshotOpener>>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            platform: None,
            allow_backing: false,
            limits: Limits::default(),
            progress: Arc::new(NoProgress),
            xattrs: true,
            snapshots: None,
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("platform", &self.platform)
            .field("allow_backing", &self.allow_backing)
            .field("limits", &self.limits)
            .field("xattrs", &self.xattrs)
            .field("snapshots", &self.snapshots.is_some())
            .finish()
    }
}

/// Open an image reference (see [`ImageRef`] for the forms) into a merged, read-only tree.
pub fn open(reference: &str, opts: &OpenOptions) -> Result<ImageTree> {
    let r = ImageRef::parse(reference)?.resolve()?;
    open_ref(reference, &r, opts)
}

/// Open a parsed reference; `reference` is the text used in messages. A bare path is detected
/// here; other paths are taken as parsed (see [`ImageRef::resolve`] for paths with `:` in them).
pub fn open_ref(reference: &str, r: &ImageRef, opts: &OpenOptions) -> Result<ImageTree> {
    let progress = opts.progress.as_ref();
    match r {
        ImageRef::Bare(p) => open_ref(reference, &reference::detect(p)?, opts),
        ImageRef::Dir(p) => {
            if !p.is_dir() {
                return Err(Error::not_found(
                    p.display().to_string(),
                    "is not a directory",
                ));
            }
            dir::open(reference, p, opts, progress)
        }
        ImageRef::Tar(p) => {
            let range = blob::ByteRange::whole_file(p)?;
            let src = layers::LayerSource::sniffed(range, None, None, reference.to_string())?;
            let mut info = ImageInfo::new(reference, Format::Tar, p.clone());
            let mut builder = tree::TreeBuilder::new(false, opts.limits).archive_names();
            info.layers.push(layers::index_layer(
                &mut builder,
                0,
                &src,
                opts.limits,
                progress,
            )?);
            // A plain tarball has no layers to speak of: entries carry no layer index.
            let mut t = builder.finish(
                info,
                tree::Backend::Layers(layers::Layers::new(vec![src], opts.limits)),
            );
            t.clear_layers();
            Ok(t)
        }
        ImageRef::DockerArchive { path, tag } => {
            docker_archive::open(reference, path, tag.as_deref(), opts, progress)
        }
        ImageRef::Oci { path, tag } => oci::open(
            reference,
            Format::Oci,
            path,
            store::Store::dir(path),
            tag.as_deref(),
            opts,
            progress,
        ),
        ImageRef::OciArchive { path, tag } => oci::open(
            reference,
            Format::OciArchive,
            path,
            store::Store::archive(path, reference)?,
            tag.as_deref(),
            opts,
            progress,
        ),
        ImageRef::Disk { path, partition } => {
            disk::open(reference, path, partition.as_ref(), opts, progress)
        }
        ImageRef::Snapshot { repo, snapshot } => match &opts.snapshots {
            Some(opener) => opener.open(reference, repo, snapshot.as_deref(), opts),
            None => Err(Error::unsupported(
                reference,
                "snapshot: references need a snapshot store to read them (OpenOptions::snapshots); this program opens none",
            )),
        },
    }
}
