//! Tar layers (a plain tarball is a one-layer image): indexing each layer's members into the
//! tree in one pass while its digest is checked, and reading members back afterwards.
//! Member headers are parsed by [`crate::tarball`] (ustar, GNU, PAX, V7).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

use crate::blob::{ByteRange, Digest, Hasher, SeekBuf};
use crate::compression::{self, Compression};
use crate::entry::{Entry, EntryKind};
use crate::error::{Error, Result};
use crate::info::LayerInfo;
use crate::limits::Limits;
use crate::sparse::{self, SparseReader};
use crate::tarball::{self, Layout, Member};
use crate::tree::{Content, FileReader, RawEntry, Sparse, TreeBuilder};
use imagewise_types::Progress;

/// One layer blob: where it is, how it is compressed, the digest it must have.
#[derive(Debug, Clone)]
pub(crate) struct LayerSource {
    pub range: ByteRange,
    pub compression: Compression,
    pub digest: Option<Digest>,
    pub media_type: Option<String>,
    /// Names the layer in messages, e.g. `layer 2 (sha256:ab12…) of oci:img`.
    pub what: String,
}

impl LayerSource {
    /// A layer whose compression is read from its first bytes.
    pub fn sniffed(
        range: ByteRange,
        digest: Option<Digest>,
        media_type: Option<String>,
        what: String,
    ) -> Result<LayerSource> {
        let mut head = Vec::with_capacity(compression::DETECT_BYTES);
        range
            .open()?
            .take(compression::DETECT_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(&*range.path, e))?;
        let compression = Compression::detect(&head)
            .map_err(|unread| Error::unsupported(&what, unread.to_string()))?;
        Ok(LayerSource {
            range,
            compression,
            digest,
            media_type,
            what,
        })
    }
}

pub(crate) struct Layers {
    pub sources: Vec<LayerSource>,
    pub limits: Limits,
    /// Each layer's stamp, worked out on first use (one `stat` per archive, not per member).
    stamps: std::sync::OnceLock<Vec<crate::Stamp>>,
}

impl Layers {
    pub fn new(sources: Vec<LayerSource>, limits: Limits) -> Layers {
        Layers {
            sources,
            limits,
            stamps: std::sync::OnceLock::new(),
        }
    }

    /// The stamp of a layer's members: its digest, else the file it is read from.
    pub fn stamp(&self, layer: usize) -> crate::Stamp {
        let stamps = self.stamps.get_or_init(|| {
            self.sources
                .iter()
                .map(|src| match &src.digest {
                    Some(d) => crate::Stamp::Layer(d.to_string()),
                    None => std::fs::metadata(&*src.range.path)
                        .map_or(crate::Stamp::None, |m| crate::Stamp::of(&m)),
                })
                .collect()
        });
        stamps.get(layer).cloned().unwrap_or_default()
    }
}

/// Hashes and counts raw bytes; the state stays reachable after the reader is buried inside a
/// decompressor, so the digest can be finished once the tar parser is done.
struct Tap<'p, R> {
    inner: R,
    state: Arc<Mutex<TapState>>,
    progress: &'p dyn Progress,
    /// When (in raw bytes) to report progress next.
    report_at: u64,
}

const REPORT_EVERY: u64 = 4 << 20;

struct TapState {
    hasher: Option<Hasher>,
    count: u64,
}

impl<R: Read> Read for Tap<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let count = match self.state.lock() {
            Ok(mut s) => {
                s.count += n as u64;
                if let Some(h) = &mut s.hasher {
                    h.update(&buf[..n]);
                }
                s.count
            }
            Err(_) => return Err(io::Error::other("digest state poisoned")),
        };
        if count >= self.report_at {
            self.progress.advance(count);
            self.report_at = count + REPORT_EVERY;
        }
        Ok(n)
    }
}

/// Read every member header of layer `index` into `builder`; verify the layer digest.
pub(crate) fn index_layer(
    builder: &mut TreeBuilder,
    index: usize,
    src: &LayerSource,
    limits: Limits,
    progress: &dyn Progress,
) -> Result<LayerInfo> {
    builder.begin_layer(index);
    progress.begin(&src.what, Some(src.range.len));
    let path = src.range.path.clone();
    let what = src.what.as_str();
    let stream_err = |e: io::Error| Error::from_stream(what, &path, e);
    let mut info = LayerInfo {
        digest: src.digest.as_ref().map(ToString::to_string),
        media_type: src.media_type.clone(),
        compression: src.compression,
        size: src.range.len,
        uncompressed_size: 0,
        entries: 0,
        hidden_entries: 0,
        hidden_bytes: 0,
    };
    if src.compression == Compression::None && src.digest.is_none() {
        // Plain tar, nothing to verify: seek over member data instead of reading it.
        let raw = src.range.open()?;
        let mut reader = tarball::Reader::new(
            tarball::Seekable::new(SeekBuf::new(raw, 64 * 1024), src.range.len),
            what,
        );
        scan(
            &mut reader,
            builder,
            index,
            src,
            &mut info,
            progress,
            limits,
        )?;
        progress.end();
        return Ok(info);
    }
    let state = Arc::new(Mutex::new(TapState {
        hasher: src.digest.as_ref().map(Digest::hasher),
        count: 0,
    }));
    let tap = Tap {
        inner: src.range.open()?,
        state: state.clone(),
        progress,
        report_at: REPORT_EVERY,
    };
    let decoded = compression::decoder(tap, src.compression, limits, what)?;
    let mut reader = tarball::Reader::new(tarball::Stream(decoded), what);
    // The tap reports progress as the raw bytes go by.
    scan(
        &mut reader,
        builder,
        index,
        src,
        &mut info,
        &imagewise_types::NoProgress,
        limits,
    )?;
    // Drain what follows the end-of-archive marker so the decompressor checks its trailer and
    // the whole blob is hashed.
    let mut rest = reader.into_inner();
    info.uncompressed_size += io::copy(&mut rest, &mut io::sink()).map_err(stream_err)?;
    drop(rest);
    if let Some(expected) = &src.digest {
        let (hasher, count) = {
            let mut s = state
                .lock()
                .map_err(|_| Error::corrupt(what, "digest state poisoned"))?;
            (s.hasher.take(), s.count)
        };
        let mut hasher = hasher.unwrap_or_else(|| expected.hasher());
        // The decompressor may stop before trailing bytes of the blob; hash those too.
        let mut tail = src.range.open()?;
        tail.seek(SeekFrom::Start(count))
            .map_err(|e| Error::io(&*src.range.path, e))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = tail.read(&mut buf).map_err(stream_err)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let actual = hasher.finish_hex();
        if actual != expected.hex {
            return Err(Error::DigestMismatch {
                what: what.to_string(),
                expected: expected.to_string(),
                actual: format!("{}:{actual}", expected.algorithm_name()),
            });
        }
    }
    progress.end();
    Ok(info)
}

/// Index every member; `progress` hears the member data offsets (for a seekable layer; a
/// streamed one reports from its tap instead).
fn scan<I: tarball::Input>(
    reader: &mut tarball::Reader<I>,
    builder: &mut TreeBuilder,
    index: usize,
    src: &LayerSource,
    info: &mut LayerInfo,
    progress: &dyn Progress,
    limits: Limits,
) -> Result<()> {
    // Sparse members unpack to their full size, holes included, though the archive stores only
    // their data: they count against the unpacked-bytes limit as what they unpack to.
    let mut sparse_bytes = 0u64;
    while let Some(m) = reader.next()? {
        if m.layout != Layout::Plain {
            sparse_bytes = sparse_bytes.saturating_add(m.size);
            if sparse_bytes > limits.max_unpacked_bytes {
                return Err(Error::LimitExceeded {
                    what: src.what.clone(),
                    detail: format!(
                        "sparse members unpack to more than {} bytes (member {:?} alone is {} bytes, {} of them stored)",
                        limits.max_unpacked_bytes,
                        String::from_utf8_lossy(&m.name),
                        m.size,
                        m.stored
                    ),
                    limit: limits.max_unpacked_bytes,
                    knob: "--max-unpacked-bytes (IMAGEWISE_MAX_UNPACKED_BYTES)",
                });
            }
        }
        info.entries += 1;
        info.uncompressed_size = m.data_pos + m.stored.next_multiple_of(512);
        if info.entries.is_multiple_of(256) {
            progress.advance(m.data_pos);
        }
        let Some(raw) = raw_entry(reader, m, index, src, builder)? else {
            continue;
        };
        builder.add(raw)?;
    }
    Ok(())
}

/// One member as a tree entry; `None` for members that are not file system objects (skipped
/// with a warning).
fn raw_entry<I: tarball::Input>(
    reader: &mut tarball::Reader<I>,
    m: Member,
    index: usize,
    src: &LayerSource,
    builder: &mut TreeBuilder,
) -> Result<Option<RawEntry>> {
    let name = crate::names::from_bytes(&m.name);
    let kind = match m.typeflag {
        0 | b'0' | b'7' => EntryKind::File,
        // GNU incremental dumps list a directory's contents in a `D` member's data.
        b'5' | b'D' => EntryKind::Dir,
        b'2' => EntryKind::Symlink,
        b'1' => EntryKind::Hardlink,
        b'3' => EntryKind::Char,
        b'4' => EntryKind::Block,
        b'6' => EntryKind::Fifo,
        other => {
            builder.warn(format!(
                "{}: member {name:?} has tar type {:?}, which is not a file system object; skipped",
                src.what, other as char
            ));
            return Ok(None);
        }
    };
    if m.name.is_empty() {
        builder.warn(format!(
            "{}: a member at byte {} has an empty name; skipped",
            src.what, m.header_pos
        ));
        return Ok(None);
    }
    let link = match kind {
        EntryKind::Symlink | EntryKind::Hardlink => {
            if m.link.is_empty() {
                return Err(Error::corrupt(
                    &src.what,
                    format!("link member {name:?} has no target"),
                ));
            }
            Some(crate::names::from_bytes(&m.link))
        }
        _ => None,
    };
    let device = matches!(kind, EntryKind::Char | EntryKind::Block).then_some(m.device);
    let mut data_pos = m.data_pos;
    let sparse = match m.layout {
        Layout::Plain => Sparse::No,
        Layout::Sparse(map) => Sparse::Map(map),
        Layout::SparseMapInData => {
            let (map, took) = sparse::read_map_1_0(&mut reader.data(), m.size, m.stored)
                .map_err(|d| Error::corrupt(&src.what, format!("member {name:?}: {d}")))?;
            data_pos += took;
            Sparse::Map(map)
        }
    };
    let entry_size = match kind {
        EntryKind::File => m.size,
        EntryKind::Symlink => link.as_ref().map_or(0, |l| l.len() as u64),
        _ => 0,
    };
    let over = |field: &str| {
        Error::corrupt(
            &src.what,
            format!("member {name:?}: {field} does not fit in 32 bits"),
        )
    };
    let uid = u32::try_from(m.uid).map_err(|_| over("uid"))?;
    let gid = u32::try_from(m.gid).map_err(|_| over("gid"))?;
    let content = if kind == EntryKind::File {
        Content::Tar {
            layer: index as u32,
            header_pos: m.header_pos,
            data_pos,
            sparse,
        }
    } else {
        Content::None
    };
    Ok(Some(RawEntry {
        name,
        entry: Entry {
            path: String::new(),
            kind,
            mode: m.mode,
            uid,
            gid,
            size: entry_size,
            mtime: m.mtime,
            mtime_nsec: m.mtime_nsec,
            link,
            device,
            xattrs: m.xattrs,
            layer: None,
        },
        content,
        identity: Some((index as u64, m.header_pos)),
        linked: false,
    }))
}

impl Layers {
    pub fn open(&self, content: &Content, e: &Entry) -> Result<FileReader> {
        let Content::Tar {
            layer,
            data_pos,
            sparse,
            ..
        } = content
        else {
            return Err(Error::path(&e.path, "has no readable content"));
        };
        let (layer, data_pos) = (*layer, *data_pos);
        let src = self
            .sources
            .get(layer as usize)
            .ok_or_else(|| Error::path(&e.path, "refers to a layer that does not exist"))?;
        let stored = match sparse {
            Sparse::No => e.size,
            Sparse::Map(map) => map.iter().map(|s| s.1).sum(),
        };
        if src.compression == Compression::None {
            let mut r = src.range.open()?;
            r.seek(SeekFrom::Start(data_pos))
                .map_err(|err| Error::io(&*src.range.path, err))?;
            let w = Window::new(r, data_pos, stored);
            return Ok(match sparse {
                Sparse::Map(map) => FileReader::seekable(SparseReader::new(w, map.clone(), e.size)),
                _ => FileReader::seekable(w),
            });
        }
        let mut d =
            compression::decoder(src.range.open()?, src.compression, self.limits, &src.what)?;
        let skipped = io::copy(&mut (&mut d).take(data_pos), &mut io::sink())
            .map_err(|err| Error::from_stream(&src.what, &src.range.path, err))?;
        if skipped != data_pos {
            return Err(Error::corrupt(
                &src.what,
                "layer is shorter than when it was opened",
            ));
        }
        Ok(match sparse {
            Sparse::Map(map) => {
                FileReader::stream(SparseReader::new(d.take(stored), map.clone(), e.size))
            }
            _ => FileReader::stream(d.take(stored)),
        })
    }

    /// Stream the members of one layer in order: `f(header_pos, data_pos, reader)` returns
    /// whether to go on.
    fn stream_layer(
        &self,
        layer: usize,
        f: &mut dyn FnMut(u64, u64, &mut dyn Read) -> Result<bool>,
    ) -> Result<()> {
        let Some(src) = self.sources.get(layer) else {
            return Ok(());
        };
        let d = compression::decoder(src.range.open()?, src.compression, self.limits, &src.what)?;
        let mut reader = tarball::Reader::new(tarball::Stream(d), &src.what);
        while let Some(m) = reader.next()? {
            if !f(m.header_pos, m.data_pos, &mut reader.data())? {
                break;
            }
        }
        Ok(())
    }

    pub fn for_each(
        &self,
        entries: &[Entry],
        contents: &[Content],
        picked: &[usize],
        f: &mut dyn FnMut(&Entry, &mut dyn crate::tree::FileRead) -> Result<()>,
    ) -> Result<()> {
        let mut by_layer: BTreeMap<u32, HashMap<u64, usize>> = BTreeMap::new();
        for &i in picked {
            if let Content::Tar {
                layer, header_pos, ..
            } = contents[i]
            {
                by_layer.entry(layer).or_default().insert(header_pos, i);
            }
        }
        for (layer, wanted) in by_layer {
            let mut left = wanted.len();
            self.stream_layer(layer as usize, &mut |pos, raw_data_pos, r| {
                if let Some(&i) = wanted.get(&pos) {
                    let e = &entries[i];
                    match &contents[i] {
                        Content::Tar {
                            sparse: Sparse::Map(map),
                            data_pos,
                            ..
                        } => {
                            // Skip the in-data map (format 1.0), then expand the segments.
                            let skip = data_pos.saturating_sub(raw_data_pos);
                            io::copy(&mut r.take(skip), &mut io::sink()).map_err(|err| {
                                Error::from_stream(
                                    &e.path,
                                    &self.sources[layer as usize].range.path,
                                    err,
                                )
                            })?;
                            let stored: u64 = map.iter().map(|s| s.1).sum();
                            f(
                                e,
                                &mut SparseReader::new(r.take(stored), map.clone(), e.size),
                            )?;
                        }
                        _ => f(e, &mut r.take(e.size))?,
                    }
                    left -= 1;
                }
                Ok(left > 0)
            })?;
        }
        Ok(())
    }
}

/// A seekable window of `len` bytes at `start` of an inner reader.
pub(crate) struct Window<R> {
    inner: R,
    start: u64,
    len: u64,
    pos: u64,
}

impl<R: Read + Seek> Window<R> {
    /// `inner` must already be positioned at `start`.
    pub fn new(inner: R, start: u64, len: u64) -> Self {
        Window {
            inner,
            start,
            len,
            pos: 0,
        }
    }
}

impl<R: Read> Read for Window<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len - self.pos.min(self.len);
        let want = (left.min(buf.len() as u64)) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "member data is truncated",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read> crate::tree::FileRead for Window<R> {}

impl<R: Seek> Seek for Window<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = crate::blob::seek_target(to, self.pos, self.len)?;
        self.inner.seek(SeekFrom::Start(self.start + new))?;
        self.pos = new;
        Ok(new)
    }
}
