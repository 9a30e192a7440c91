//! Progress reporting for long operations. Libraries only call this trait; the CLI draws it
//! (indicatif on a terminal, nothing with `--json` or `--no-progress`).

/// Receives progress of one stream at a time (a layer, a tarball, a disk walk, a snapshot).
pub trait Progress: Send + Sync {
    /// A new stream starts; `total` is its size in bytes where known.
    fn begin(&self, label: &str, total: Option<u64>);
    /// Bytes of the current stream consumed so far (0 when unknown).
    fn advance(&self, position: u64);
    /// The current stream is done.
    fn end(&self);
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn end(&self) {}
}
