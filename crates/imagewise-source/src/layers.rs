//! Tar layers (a plain tarball is a one-layer image): indexing each layer's members into the
//! tree in one pass while its digest is checked, and reading members back afterwards.
//! Member headers are parsed by the `tar` crate (ustar, GNU long names and sparse files, PAX).

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
use crate::tar_guard::TarGuard;
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
        let mut head = [0u8; 8];
        let n = range
            .open()?
            .read(&mut head)
            .map_err(|e| Error::io(&*range.path, e))?;
        let compression = Compression::detect(&head[..n]).map_err(|name| {
            Error::unsupported(&what, format!("{name}-compressed layers are not supported"))
        })?;
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
        let mut archive = tar::Archive::new(SeekBuf::new(raw, 64 * 1024));
        let mut entries = archive.entries_with_seek().map_err(stream_err)?;
        scan(
            &mut entries,
            builder,
            index,
            src,
            &mut info,
            progress,
            &stream_err,
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
    let mut archive = tar::Archive::new(TarGuard::new(decoded));
    {
        let mut entries = archive.entries().map_err(stream_err)?;
        // The tap reports progress as the raw bytes go by.
        scan(
            &mut entries,
            builder,
            index,
            src,
            &mut info,
            &imagewise_types::NoProgress,
            &stream_err,
        )?;
    }
    // Drain what follows the end-of-archive marker so the decompressor checks its trailer and
    // the whole blob is hashed.
    let mut rest = archive.into_inner();
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
fn scan<R: Read>(
    entries: &mut tar::Entries<'_, R>,
    builder: &mut TreeBuilder,
    index: usize,
    src: &LayerSource,
    info: &mut LayerInfo,
    progress: &dyn Progress,
    stream_err: &dyn Fn(io::Error) -> Error,
) -> Result<()> {
    let seekable_len = (src.compression == Compression::None).then_some(src.range.len);
    for item in entries {
        let mut member = item.map_err(stream_err)?;
        let header_pos = member.raw_header_position();
        let mut data_pos = member.raw_file_position();
        let size = member.size();
        // Bytes the member occupies in the archive (for a GNU sparse member, less than `size`).
        let stored = member.header().entry_size().unwrap_or(size);
        info.entries += 1;
        info.uncompressed_size = data_pos + stored.div_ceil(512) * 512;
        if info.entries.is_multiple_of(256) {
            progress.advance(data_pos);
        }
        if let Some(len) = seekable_len {
            // Seeking past the end succeeds silently, so check declared sizes here.
            if data_pos.saturating_add(stored) > len {
                return Err(Error::corrupt(
                    &src.what,
                                            format!(
                        "member {:?} declares {stored} bytes at offset {data_pos}, past the end of the {len}-byte archive: the file is truncated",
                        String::from_utf8_lossy(&member.path_bytes())
                    ),
                ));
            }
        }
        let header = member.header().clone();
        let ty = header.entry_type();
        if ty.is_pax_global_extensions() {
            continue;
        }
        let mut name = String::from_utf8_lossy(&member.path_bytes()).into_owned();
        let kind = match ty {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                EntryKind::File
            }
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::Hardlink,
            tar::EntryType::Char => EntryKind::Char,
            tar::EntryType::Block => EntryKind::Block,
            tar::EntryType::Fifo => EntryKind::Fifo,
            other => {
                builder.warn(format!(
                    "{}: member {name:?} has tar type {:?}, which is not a file system object; skipped",
                    src.what,
                    other.as_byte() as char
                ));
                continue;
            }
        };
        let shown = name.clone();
        let bad = |field: &str, e: io::Error| {
            Error::corrupt(
                &src.what,
                format!("member {shown:?}: bad {field} field: {e}"),
            )
        };
        let mode = header.mode().map_err(|e| bad("mode", e))? & 0o7777;
        let uid = header.uid().map_err(|e| bad("uid", e))?;
        let gid = header.gid().map_err(|e| bad("gid", e))?;
        let mut mtime = header.mtime().map_err(|e| bad("mtime", e))? as i64;
        let mut mtime_nsec = 0u32;
        let mut xattrs = BTreeMap::new();
        let mut gnu_sparse: BTreeMap<String, String> = BTreeMap::new();
        if let Some(pax) = member.pax_extensions().map_err(stream_err)? {
            for ext in pax {
                let ext = ext.map_err(|e| bad("pax", e))?;
                let Ok(key) = ext.key() else { continue };
                if let Some(k) = key.strip_prefix("GNU.sparse.") {
                    gnu_sparse.insert(k.to_string(), ext.value().unwrap_or_default().to_string());
                } else if let Some(x) = key.strip_prefix("SCHILY.xattr.") {
                    xattrs.insert(x.to_string(), ext.value_bytes().to_vec());
                } else if key == "mtime" {
                    if let Some((secs, nsec)) = ext.value().ok().and_then(pax_time) {
                        mtime = secs;
                        mtime_nsec = nsec;
                    }
                }
            }
        }
        let link = match kind {
            EntryKind::Symlink | EntryKind::Hardlink => Some(
                member
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
                    .ok_or_else(|| {
                        Error::corrupt(&src.what, format!("link member {name:?} has no target"))
                    })?,
            ),
            _ => None,
        };
        let device = match kind {
            EntryKind::Char | EntryKind::Block => Some((
                header.device_major().ok().flatten().unwrap_or(0),
                header.device_minor().ok().flatten().unwrap_or(0),
            )),
            _ => None,
        };
        let mut sparse = if ty == tar::EntryType::GNUSparse {
            Sparse::Gnu
        } else {
            Sparse::No
        };
        let mut file_size = if ty == tar::EntryType::GNUSparse {
            header
                .as_gnu()
                .and_then(|g| g.real_size().ok())
                .unwrap_or(size)
        } else {
            size
        };
        if !gnu_sparse.is_empty() && kind == EntryKind::File {
            // PAX sparse (GNU tar --posix --sparse): the real name and size are in the keys.
            if let Some(n) = gnu_sparse.get("name") {
                name = n.clone();
            }
            let sparse_err =
                |d: sparse::MapError| Error::corrupt(&src.what, format!("member {name:?}: {d}"));
            let real = gnu_sparse
                .get("realsize")
                .or_else(|| gnu_sparse.get("size"))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| {
                    Error::corrupt(
                        &src.what,
                        format!("member {name:?}: sparse member without its real size"),
                    )
                })?;
            let map = match (
                gnu_sparse.get("major").map(String::as_str),
                gnu_sparse.get("map"),
            ) {
                (Some("1"), _) => {
                    let (map, took) =
                        sparse::read_map_1_0(&mut member, real, size).map_err(sparse_err)?;
                    data_pos += took;
                    map
                }
                (_, Some(m)) => sparse::parse_map_0_1(m, real).map_err(sparse_err)?,
                _ => {
                    return Err(Error::unsupported(
                        &src.what,
                        format!(
                        "member {name:?} uses GNU sparse format 0.0, which imagewise does not read"
                    ),
                    ))
                }
            };
            file_size = real;
            sparse = Sparse::Map(map);
        }
        let entry_size = match kind {
            EntryKind::File => file_size,
            EntryKind::Symlink => link.as_ref().map_or(0, |l| l.len() as u64),
            _ => 0,
        };
        let (uid, gid) = (
            u32::try_from(uid).map_err(|_| bad("uid", io::Error::other("over 32 bits")))?,
            u32::try_from(gid).map_err(|_| bad("gid", io::Error::other("over 32 bits")))?,
        );
        let content = if kind == EntryKind::File {
            Content::Tar {
                layer: index as u32,
                header_pos,
                data_pos,
                sparse,
            }
        } else {
            Content::None
        };
        builder.add(RawEntry {
            name,
            entry: Entry {
                path: String::new(),
                kind,
                mode,
                uid,
                gid,
                size: entry_size,
                mtime,
                mtime_nsec,
                link,
                device,
                xattrs,
                layer: None,
            },
            content,
            identity: Some((index as u64, header_pos)),
            linked: false,
        })?;
    }
    Ok(())
}

/// Largest sparse member read back into memory from a compressed layer.
const MAX_SPARSE_IN_MEMORY: u64 = 256 << 20;

impl Layers {
    pub fn open(&self, content: &Content, e: &Entry) -> Result<FileReader> {
        let Content::Tar {
            layer,
            header_pos,
            data_pos,
            sparse,
        } = content
        else {
            return Err(Error::path(&e.path, "has no readable content"));
        };
        let (layer, header_pos, data_pos) = (*layer, *header_pos, *data_pos);
        let src = self
            .sources
            .get(layer as usize)
            .ok_or_else(|| Error::path(&e.path, "refers to a layer that does not exist"))?;
        let stored = match sparse {
            Sparse::No => e.size,
            Sparse::Map(map) => map.iter().map(|s| s.1).sum(),
            Sparse::Gnu => return self.open_gnu_sparse(src, layer, header_pos, e),
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

    /// Old GNU sparse members: the `tar` crate expands them while streaming the layer; the
    /// expansion is kept in memory, so it is bounded.
    fn open_gnu_sparse(
        &self,
        src: &LayerSource,
        layer: u32,
        header_pos: u64,
        e: &Entry,
    ) -> Result<FileReader> {
        if e.size > MAX_SPARSE_IN_MEMORY {
            return Err(Error::unsupported(
                &e.path,
                format!("GNU sparse file of {} bytes; imagewise expands old-GNU sparse tar members up to {MAX_SPARSE_IN_MEMORY} bytes (PAX sparse members have no limit)", e.size),
            ));
        }
        let mut data = Vec::new();
        self.stream_layer(layer as usize, &mut |pos, _, r| {
            if pos == header_pos {
                r.take(MAX_SPARSE_IN_MEMORY)
                    .read_to_end(&mut data)
                    .map_err(|err| Error::from_stream(&src.what, &src.range.path, err))?;
                return Ok(false);
            }
            Ok(true)
        })?;
        Ok(FileReader::seekable(io::Cursor::new(data)))
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
        let err = |e: io::Error| Error::from_stream(&src.what, &src.range.path, e);
        let d = compression::decoder(src.range.open()?, src.compression, self.limits, &src.what)?;
        let mut archive = tar::Archive::new(d);
        for item in archive.entries().map_err(err)? {
            let mut member = item.map_err(err)?;
            if !f(
                member.raw_header_position(),
                member.raw_file_position(),
                &mut member,
            )? {
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
        f: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<()>,
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

impl<R: Seek> Seek for Window<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = crate::blob::seek_target(to, self.pos, self.len)?;
        self.inner.seek(SeekFrom::Start(self.start + new))?;
        self.pos = new;
        Ok(new)
    }
}

/// A PAX time value (`1700000000.123456789`, `-1.5`) as whole seconds and nanoseconds, the
/// nanoseconds counted forward from the seconds (so `-1.5` is `(-2, 500000000)`, like `timespec`).
fn pax_time(v: &str) -> Option<(i64, u32)> {
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = whole.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nsec: u32 = digits.parse().ok()?;
    if nsec > 0 && whole.starts_with('-') {
        Some((secs - 1, 1_000_000_000 - nsec))
    } else {
        Some((secs, nsec))
    }
}

#[cfg(test)]
mod pax_time_tests {
    use super::pax_time;

    #[test]
    fn pax_times() {
        assert_eq!(pax_time("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(pax_time("1700000000.5"), Some((1_700_000_000, 500_000_000)));
        assert_eq!(pax_time("12.000000001"), Some((12, 1)));
        assert_eq!(pax_time("12.1234567891"), Some((12, 123_456_789)));
        assert_eq!(pax_time("-1.5"), Some((-2, 500_000_000)));
        assert_eq!(pax_time("x"), None);
        assert_eq!(pax_time("1.x"), None);
    }
}
