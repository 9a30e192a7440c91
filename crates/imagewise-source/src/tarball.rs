//! Reading tar member headers: ustar, GNU (long names, old sparse, incremental directories,
//! volume labels), PAX (local and global records, the three GNU sparse formats, xattrs) and
//! V7, as GNU tar reads them.
//!
//! This replaces the `tar` crate's header parsing, which cannot be steered through its API on
//! what server images and other tools' archives contain: it splits PAX records at newlines, so
//! one binary xattr value (`security.ima`, `security.capability`) made a whole archive
//! unreadable; it trusts a PAX `size` past the end of a stream (a truncated member came out
//! with exit 0 and the next member vanished); it refuses numeric fields that are blank or all
//! NUL, which Maven's plexus archiver and GNU volume labels write; it requires old-GNU sparse
//! segments to be 512-byte aligned; it reads long-name and PAX bodies of any declared size into
//! memory. Here every header is checked against its checksum, every extension body is capped
//! at [`MAX_META`] before it is read, and what a member declares is held against what the
//! stream delivers.
//!
//! Where readers disagree, GNU tar is followed: global PAX records apply to the members after
//! them; the last of two long names (or PAX records) for one member wins; a NUL ends a name;
//! header-only types (links, devices, directories, FIFOs) carry no data whatever their size
//! field says; a lone zero block ends the archive.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};

use crate::error::{Error, Result};
use crate::sparse::{self, SparseMap};

/// Largest long name, long link or PAX body read (real ones are a few hundred bytes; PAX bodies
/// with many xattrs a few KiB).
pub(crate) const MAX_META: u64 = 1 << 20;
/// Old-GNU sparse extension blocks followed for one member (21 segments each).
const MAX_SPARSE_BLOCKS: usize = 1 << 16;

/// Where a member's bytes come from: skipping data seeks when it can.
pub(crate) trait Input: Read {
    /// Skip `n` bytes; fewer left is an `UnexpectedEof`.
    fn skip(&mut self, n: u64) -> io::Result<()>;
}

/// A stream: skipping reads.
pub(crate) struct Stream<R>(pub R);

impl<R: Read> Read for Stream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Input for Stream<R> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let got = io::copy(&mut (&mut self.0).take(n), &mut io::sink())?;
        if got < n {
            return Err(truncated());
        }
        Ok(())
    }
}

/// A file of known length: skipping seeks, and a skip past the end is a truncation (seeking
/// past the end of a file succeeds silently).
pub(crate) struct Seekable<R> {
    inner: R,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> Seekable<R> {
    /// `inner` must be at offset 0 of its `len` bytes.
    pub fn new(inner: R, len: u64) -> Self {
        Seekable { inner, pos: 0, len }
    }
}

impl<R: Read> Read for Seekable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Input for Seekable<R> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let to = self.pos.saturating_add(n);
        if to > self.len {
            return Err(truncated());
        }
        self.inner.seek(SeekFrom::Start(to))?;
        self.pos = to;
        Ok(())
    }
}

fn truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the archive ends inside a member",
    )
}

/// How a member's data maps onto the file it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    /// The data is the file.
    Plain,
    /// The data is these segments of the file, back to back; the rest is holes.
    Sparse(SparseMap),
    /// GNU sparse 1.0: the data starts with the segment map (the caller reads it with
    /// [`crate::sparse::read_map_1_0`]).
    SparseMapInData,
}

/// One member, as its headers (and the PAX records in force) describe it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// Offset of the member's own header (after any long-name, PAX or sparse extension
    /// headers before it): what names the member when the layer is streamed again.
    pub header_pos: u64,
    /// Offset of its data.
    pub data_pos: u64,
    /// Bytes of data in the archive (a sparse member stores less than its size).
    pub stored: u64,
    /// The type flag, after V7 directories (`0` or NUL with a name ending in `/`) became `5`.
    pub typeflag: u8,
    pub name: Vec<u8>,
    pub link: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    /// The file's size (its real size when sparse).
    pub size: u64,
    pub device: (u32, u32),
    pub xattrs: BTreeMap<String, Vec<u8>>,
    pub layout: Layout,
}

/// Reads members one by one. After [`Reader::next`] returns a member, its data can be read
/// with [`Reader::data`]; the next call skips what is left of it.
pub(crate) struct Reader<I> {
    input: I,
    what: String,
    /// Offset of the next byte `input` returns.
    pos: u64,
    /// Data of the current member not yet read, and the padding after it.
    left: u64,
    pad: u64,
    globals: BTreeMap<String, Vec<u8>>,
    /// Headers read so far (the first one decides "not a tar archive").
    headers: u64,
    done: bool,
}

/// Fields of the 512-byte header.
const NAME: (usize, usize) = (0, 100);
const MODE: (usize, usize) = (100, 8);
const UID: (usize, usize) = (108, 8);
const GID: (usize, usize) = (116, 8);
const SIZE: (usize, usize) = (124, 12);
const MTIME: (usize, usize) = (136, 12);
const CHKSUM: (usize, usize) = (148, 8);
const TYPEFLAG: usize = 156;
const LINKNAME: (usize, usize) = (157, 100);
const MAGIC: (usize, usize) = (257, 8);
const DEVMAJOR: (usize, usize) = (329, 8);
const DEVMINOR: (usize, usize) = (337, 8);
const PREFIX: (usize, usize) = (345, 155);
/// star's shorter prefix (its `tar\0` trailer at 508 says so).
const STAR_PREFIX: (usize, usize) = (345, 131);
/// Old GNU sparse: 4 (offset, length) pairs in the header, then `isextended`, `realsize`.
const GNU_SPARSE: usize = 386;
const GNU_ISEXTENDED: usize = 482;
const GNU_REALSIZE: (usize, usize) = (483, 12);

fn field(h: &[u8; 512], (at, len): (usize, usize)) -> &[u8] {
    &h[at..at + len]
}

/// Bytes up to the first NUL.
fn cstr(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

/// A numeric header field as GNU tar reads it: base-256 when the high bit of the first byte is
/// set; otherwise octal after optional spaces (and one leading NUL), ended by a NUL, a space or
/// the field's end. A field that is blank or all NUL is 0 (plexus archiver, volume labels).
fn number(b: &[u8]) -> Option<i128> {
    if b.is_empty() {
        return Some(0);
    }
    if b[0] & 0x80 != 0 {
        // Base-256, big-endian two's complement below the marker bit (GNU tar, star).
        if b.len() > 15 {
            return None;
        }
        let negative = b[0] & 0x40 != 0;
        let mut v: i128 = 0;
        for (i, &c) in b.iter().enumerate() {
            let c = if i == 0 { c & 0x7f } else { c };
            v = (v << 8) | i128::from(c);
        }
        if negative {
            v -= 1i128 << (8 * b.len() - 1);
        }
        return Some(v);
    }
    let mut i = usize::from(b[0] == 0);
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let mut v: i128 = 0;
    while i < b.len() && (b'0'..=b'7').contains(&b[i]) {
        v = v.checked_mul(8)?.checked_add(i128::from(b[i] - b'0'))?;
        i += 1;
    }
    if i < b.len() && b[i] != 0 && b[i] != b' ' {
        return None;
    }
    Some(v)
}

/// The checksum field matches the header (unsigned sum, or the signed sum old tars wrote).
pub(crate) fn checksum_ok(h: &[u8; 512]) -> bool {
    let Some(want) = number(field(h, CHKSUM)) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i128, 0i128);
    for (i, &b) in h.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += i128::from(b);
        signed += i128::from(b as i8);
    }
    want == unsigned || want == signed
}

/// Accumulated extension headers for the member that follows them.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: BTreeMap<String, Vec<u8>>,
    /// GNU sparse 0.0 (offset, length) records, in order.
    sparse_00: Vec<(u64, u64)>,
    sparse_00_offset: Option<u64>,
    seen: bool,
}

impl<I: Input> Reader<I> {
    pub fn new(input: I, what: &str) -> Self {
        Reader {
            input,
            what: what.to_string(),
            pos: 0,
            left: 0,
            pad: 0,
            globals: BTreeMap::new(),
            headers: 0,
            done: false,
        }
    }

    /// The archive's bytes after the end marker (to hash or drain them).
    pub fn into_inner(self) -> I {
        self.input
    }

    fn corrupt(&self, detail: impl Into<String>) -> Error {
        Error::corrupt(&self.what, detail)
    }

    fn io_err(&self, e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return self.corrupt(format!(
                "{e} (at byte {}): the archive is truncated",
                self.pos
            ));
        }
        Error::from_stream(&self.what, std::path::Path::new(&self.what), e)
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.input.skip(n).map_err(|e| self.io_err(e))?;
        self.pos += n;
        Ok(())
    }

    /// Read one 512-byte block; `None` at a clean end of input.
    fn block(&mut self) -> Result<Option<[u8; 512]>> {
        let mut b = [0u8; 512];
        let mut got = 0;
        while got < 512 {
            match self.input.read(&mut b[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_err(e)),
            }
        }
        self.pos += got as u64;
        match got {
            0 => Ok(None),
            512 => Ok(Some(b)),
            n => Err(self.corrupt(format!(
                "the archive ends {n} bytes into a header block at byte {}: it is truncated",
                self.pos - n as u64
            ))),
        }
    }

    /// The body of an extension header (long name, PAX records), bounded.
    fn body(&mut self, size: u64, kind: &str) -> Result<Vec<u8>> {
        if size > MAX_META {
            return Err(Error::LimitExceeded {
                what: self.what.clone(),
                detail: format!(
                    "{kind} header at byte {} declares {size} bytes",
                    self.pos - 512
                ),
                limit: MAX_META,
                knob: "(none: tar extension headers are capped)",
            });
        }
        let mut v = vec![0u8; size as usize];
        self.input.read_exact(&mut v).map_err(|e| self.io_err(e))?;
        self.pos += size;
        self.skip(size.next_multiple_of(512) - size)?;
        Ok(v)
    }

    /// A reader of the current member's stored data.
    pub fn data(&mut self) -> Data<'_, I> {
        Data { r: self }
    }

    /// The next member, or `None` after the end of the archive.
    pub fn next(&mut self) -> Result<Option<Member>> {
        if self.done {
            return Ok(None);
        }
        let (left, pad) = (self.left, self.pad);
        self.left = 0;
        self.pad = 0;
        self.skip(left + pad)?;
        let mut pending = Pending::default();
        loop {
            let header_pos = self.pos;
            let Some(h) = self.block()? else {
                if pending.seen {
                    return Err(self.corrupt(
                        "the archive ends after extension headers, before the member they describe",
                    ));
                }
                self.done = true;
                return Ok(None);
            };
            if h.iter().all(|&b| b == 0) {
                if pending.seen {
                    return Err(self.corrupt(format!(
                        "extension headers are followed by the end-of-archive marker at byte {header_pos}, not by the member they describe"
                    )));
                }
                // GNU tar stops at the first zero block; the second is not required.
                self.done = true;
                return Ok(None);
            }
            if !checksum_ok(&h) {
                if self.headers == 0 {
                    return Err(self.corrupt(
                        "this does not look like a tar archive (its first header has no valid checksum)",
                    ));
                }
                return Err(self.corrupt(format!(
                    "the header at byte {header_pos} has a bad checksum: the archive is damaged"
                )));
            }
            self.headers += 1;
            let typeflag = h[TYPEFLAG];
            let size_field = number(field(&h, SIZE))
                .filter(|&v| v >= 0)
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| {
                    self.corrupt(format!(
                        "the header at byte {header_pos} has an invalid size field"
                    ))
                })?;
            match typeflag {
                b'L' => {
                    let b = self.body(size_field, "GNU long name")?;
                    pending.long_name = Some(cstr(&b).to_vec());
                    pending.seen = true;
                }
                b'K' => {
                    let b = self.body(size_field, "GNU long link")?;
                    pending.long_link = Some(cstr(&b).to_vec());
                    pending.seen = true;
                }
                b'x' | b'X' => {
                    let b = self.body(size_field, "PAX")?;
                    // A later PAX header replaces an earlier one for the same member (GNU tar).
                    pending.pax.clear();
                    pending.sparse_00.clear();
                    pending.sparse_00_offset = None;
                    self.pax_records(&b, header_pos, &mut pending, false)?;
                    pending.seen = true;
                }
                b'g' => {
                    let b = self.body(size_field, "PAX global")?;
                    let mut unused = Pending::default();
                    self.pax_records(&b, header_pos, &mut unused, true)?;
                }
                b'V' => {
                    // A GNU volume label names the archive, not a file.
                    self.skip(size_field.next_multiple_of(512))?;
                    pending = Pending::default();
                }
                b'A' => {
                    // Solaris ACL records for the member that follows: not read.
                    self.skip(size_field.next_multiple_of(512))?;
                }
                b'M' => {
                    return Err(Error::unsupported(
                        &self.what,
                        format!("the member at byte {header_pos} continues a file from a previous volume of a multi-volume archive, which imagewise does not read"),
                    ))
                }
                _ => return self.member(h, header_pos, size_field, pending).map(Some),
            }
        }
    }

    /// Parse PAX records (`LEN KEY=VALUE\n`, LEN counting the whole record), measured by their
    /// length so values may hold any byte.
    fn pax_records(
        &mut self,
        body: &[u8],
        header_pos: u64,
        pending: &mut Pending,
        global: bool,
    ) -> Result<()> {
        let bad = |why: &str| {
            Error::corrupt(
                &self.what,
                format!("the PAX header at byte {header_pos} is malformed: {why}"),
            )
        };
        let mut rest = body;
        while !rest.is_empty() {
            if rest.iter().all(|&b| b == 0) {
                break; // padding written by some tools
            }
            let sp = rest
                .iter()
                .take(20)
                .position(|&b| b == b' ')
                .ok_or_else(|| bad("a record without its length"))?;
            let len: usize = std::str::from_utf8(&rest[..sp])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("a record length that is not a number"))?;
            if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
                return Err(bad("a record length that does not end at a newline"));
            }
            let record = &rest[sp + 1..len - 1];
            rest = &rest[len..];
            let eq = record
                .iter()
                .position(|&b| b == b'=')
                .ok_or_else(|| bad("a record without '='"))?;
            let key = std::str::from_utf8(&record[..eq])
                .map_err(|_| bad("a key that is not UTF-8"))?
                .to_string();
            if key.contains('\0') {
                return Err(bad("a key with a NUL"));
            }
            let value = record[eq + 1..].to_vec();
            if global {
                if value.is_empty() {
                    self.globals.remove(&key);
                } else {
                    self.globals.insert(key, value);
                }
                continue;
            }
            // GNU sparse 0.0 repeats its keys; order pairs them.
            match key.as_str() {
                "GNU.sparse.offset" => {
                    pending.sparse_00_offset = Some(
                        decimal(&value).ok_or_else(|| bad("GNU.sparse.offset is not a number"))?,
                    );
                    continue;
                }
                "GNU.sparse.numbytes" => {
                    let n = decimal(&value)
                        .ok_or_else(|| bad("GNU.sparse.numbytes is not a number"))?;
                    let off = pending
                        .sparse_00_offset
                        .take()
                        .ok_or_else(|| bad("GNU.sparse.numbytes without its offset"))?;
                    pending.sparse_00.push((off, n));
                    continue;
                }
                _ => {}
            }
            pending.pax.insert(key, value);
        }
        Ok(())
    }

    fn member(
        &mut self,
        h: [u8; 512],
        header_pos: u64,
        size_field: u64,
        pending: Pending,
    ) -> Result<Member> {
        let what = self.what.clone();
        let corrupt = |detail: String| Error::corrupt(&what, detail);
        // PAX records in force: globals, overridden by this member's own.
        let mut pax = self.globals.clone();
        for (k, v) in pending.pax {
            if v.is_empty() {
                pax.remove(&k);
            } else {
                pax.insert(k, v);
            }
        }
        let magic = field(&h, MAGIC);
        let ustar = &magic[..6] == b"ustar\0";
        let mut name = cstr(field(&h, NAME)).to_vec();
        if ustar {
            let prefix = if &h[508..512] == b"tar\0" {
                cstr(field(&h, STAR_PREFIX))
            } else {
                cstr(field(&h, PREFIX))
            };
            if !prefix.is_empty() {
                let mut full = prefix.to_vec();
                full.push(b'/');
                full.extend_from_slice(&name);
                name = full;
            }
        }
        if let Some(n) = pending.long_name {
            name = n;
        }
        let mut link = cstr(field(&h, LINKNAME)).to_vec();
        if let Some(l) = pending.long_link {
            link = l;
        }
        if let Some(p) = pax.get("path") {
            name = cstr(p).to_vec();
        }
        if let Some(l) = pax.get("linkpath") {
            link = cstr(l).to_vec();
        }
        let shown = String::from_utf8_lossy(&name).into_owned();
        let num = |f: (usize, usize), label: &str| -> Result<i128> {
            number(field(&h, f)).ok_or_else(|| {
                corrupt(format!(
                    "member {:?}: bad {label} field {:?}",
                    shown,
                    String::from_utf8_lossy(field(&h, f))
                ))
            })
        };
        let pax_num = |key: &str| -> Result<Option<u64>> {
            pax.get(key)
                .map(|v| {
                    decimal(v).ok_or_else(|| {
                        corrupt(format!(
                            "member {:?}: PAX {key} {:?} is not a number",
                            shown,
                            String::from_utf8_lossy(v)
                        ))
                    })
                })
                .transpose()
        };
        let mode = (num(MODE, "mode")? & 0o7777) as u32;
        let to_u64 = |v: i128, label: &str| {
            u64::try_from(v).map_err(|_| corrupt(format!("member {:?}: negative {label}", shown)))
        };
        let uid = match pax_num("uid")? {
            Some(v) => v,
            None => to_u64(num(UID, "uid")?, "uid")?,
        };
        let gid = match pax_num("gid")? {
            Some(v) => v,
            None => to_u64(num(GID, "gid")?, "gid")?,
        };
        let (mut mtime, mut mtime_nsec) =
            (i64::try_from(num(MTIME, "mtime")?).unwrap_or(i64::MAX), 0);
        if let Some((s, n)) = pax
            .get("mtime")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(pax_time)
        {
            mtime = s;
            mtime_nsec = n;
        }
        let mut size = size_field;
        if let Some(s) = pax_num("size")? {
            size = s;
        }
        let device = if ustar || &magic[..6] == b"ustar " {
            (
                u32::try_from(num(DEVMAJOR, "devmajor")?).unwrap_or(0),
                u32::try_from(num(DEVMINOR, "devminor")?).unwrap_or(0),
            )
        } else {
            (0, 0)
        };
        let device = (
            pax_num("SCHILY.devmajor")?.map_or(device.0, |v| v as u32),
            pax_num("SCHILY.devminor")?.map_or(device.1, |v| v as u32),
        );
        let mut xattrs = BTreeMap::new();
        for (k, v) in &pax {
            let (xname, value) = if let Some(x) = k.strip_prefix("SCHILY.xattr.") {
                (x.to_string(), v.clone())
            } else if let Some(x) = k.strip_prefix("LIBARCHIVE.xattr.") {
                let xname = percent_decode(x).ok_or_else(|| {
                    corrupt(format!(
                        "member {:?}: xattr name {x:?} is not valid percent-encoding",
                        shown
                    ))
                })?;
                let value = base64_decode(v).ok_or_else(|| {
                    corrupt(format!(
                        "member {:?}: xattr {xname:?} value is not base64",
                        shown
                    ))
                })?;
                (xname, value)
            } else if k == "RHT.security.selinux" {
                // The context as text; on a file, libselinux stores it with its NUL.
                let mut v = v.clone();
                if v.last() != Some(&0) {
                    v.push(0);
                }
                ("security.selinux".to_string(), v)
            } else {
                continue;
            };
            if xname.is_empty() || xname.contains('\0') {
                return Err(corrupt(format!(
                    "member {:?}: xattr name {xname:?} is empty or holds a NUL",
                    shown
                )));
            }
            // The SCHILY form wins over the LIBARCHIVE form of the same name (both are
            // written by libarchive with the same value).
            xattrs.entry(xname).or_insert(value);
        }

        let mut typeflag = h[TYPEFLAG];
        if matches!(typeflag, 0 | b'0') && name.last() == Some(&b'/') {
            // V7 and old tars mark a directory by the trailing slash alone.
            typeflag = b'5';
        }
        // Header-only types carry no data, whatever their size field says (GNU tar, Go,
        // libarchive).
        let header_only = matches!(typeflag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6');
        let mut stored = if header_only { 0 } else { size };
        let mut layout = Layout::Plain;
        let mut data_pos = header_pos + 512;
        if typeflag == b'S' {
            // Old GNU sparse: segments in the header and in extension blocks after it.
            let mut segs = Vec::new();
            let mut entries: Vec<[u8; 24]> = (0..4)
                .map(|i| {
                    let mut e = [0u8; 24];
                    e.copy_from_slice(&h[GNU_SPARSE + 24 * i..GNU_SPARSE + 24 * (i + 1)]);
                    e
                })
                .collect();
            let mut extended = h[GNU_ISEXTENDED] != 0;
            let mut blocks = 0;
            while extended {
                blocks += 1;
                if blocks > MAX_SPARSE_BLOCKS {
                    return Err(corrupt(format!(
                        "member {:?}: more than {MAX_SPARSE_BLOCKS} sparse extension blocks",
                        shown
                    )));
                }
                let b = self.block()?.ok_or_else(|| {
                    corrupt(format!(
                        "member {:?}: the archive ends inside its sparse map",
                        shown
                    ))
                })?;
                for i in 0..21 {
                    let mut e = [0u8; 24];
                    e.copy_from_slice(&b[24 * i..24 * (i + 1)]);
                    entries.push(e);
                }
                extended = b[504] != 0;
            }
            for e in entries {
                if e[0] == 0 {
                    continue;
                }
                let (Some(off), Some(len)) = (number(&e[..12]), number(&e[12..])) else {
                    return Err(corrupt(format!(
                        "member {:?}: bad number in its sparse map",
                        shown
                    )));
                };
                segs.push((
                    u64::try_from(off).unwrap_or(u64::MAX),
                    u64::try_from(len).unwrap_or(u64::MAX),
                ));
            }
            let real = number(field(&h, GNU_REALSIZE))
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| {
                    corrupt(format!(
                        "member {:?}: bad real size of a sparse file",
                        shown
                    ))
                })?;
            layout = Layout::Sparse(self.sparse_map(segs, real, size_field, &name)?);
            data_pos = self.pos;
            stored = size_field;
            size = real;
            typeflag = b'0';
        } else if pax.contains_key("GNU.sparse.major")
            || pax.contains_key("GNU.sparse.map")
            || !pending.sparse_00.is_empty()
            || pax.contains_key("GNU.sparse.size")
            || pax.contains_key("GNU.sparse.realsize")
        {
            // PAX sparse (GNU tar --posix --sparse): the real name and size are in the keys.
            if let Some(n) = pax.get("GNU.sparse.name") {
                name = cstr(n).to_vec();
            }
            let real = pax_num("GNU.sparse.realsize")?
                .or(pax_num("GNU.sparse.size")?)
                .ok_or_else(|| {
                    corrupt(format!(
                        "member {:?}: sparse member without its real size",
                        shown
                    ))
                })?;
            stored = size;
            layout = match pax.get("GNU.sparse.major").map(Vec::as_slice) {
                Some(b"1") => Layout::SparseMapInData,
                _ => {
                    let segs = match pax.get("GNU.sparse.map") {
                        Some(m) => {
                            let m = String::from_utf8_lossy(m);
                            sparse::parse_pairs(&m)
                                .map_err(|e| corrupt(format!("member {:?}: {e}", shown)))?
                        }
                        None => pending.sparse_00.clone(),
                    };
                    Layout::Sparse(self.sparse_map(segs, real, stored, &name)?)
                }
            };
            size = real;
        }
        self.left = stored;
        self.pad = stored.next_multiple_of(512) - stored;
        Ok(Member {
            header_pos,
            data_pos,
            stored,
            typeflag,
            name,
            link,
            mode,
            uid,
            gid,
            mtime,
            mtime_nsec,
            size,
            device,
            xattrs,
            layout,
        })
    }

    fn sparse_map(
        &self,
        segs: Vec<(u64, u64)>,
        real: u64,
        stored: u64,
        name: &[u8],
    ) -> Result<SparseMap> {
        let map = sparse::checked(segs, real).map_err(|e| {
            self.corrupt(format!("member {:?}: {e}", String::from_utf8_lossy(name)))
        })?;
        let data: u64 = map.iter().map(|s| s.1).sum();
        if data > stored {
            return Err(self.corrupt(format!(
                "member {:?}: its sparse segments hold {data} bytes but it stores {stored}",
                String::from_utf8_lossy(name)
            )));
        }
        Ok(map)
    }
}

/// The current member's data; reading past what the archive holds is a truncation.
pub(crate) struct Data<'a, I> {
    r: &'a mut Reader<I>,
}

impl<I: Input> Read for Data<'_, I> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.r.left.min(buf.len() as u64)) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.r.input.read(&mut buf[..want])?;
        if n == 0 {
            return Err(truncated());
        }
        self.r.left -= n as u64;
        self.r.pos += n as u64;
        Ok(n)
    }
}

/// A decimal PAX number.
fn decimal(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// A PAX time value (`1700000000.123456789`, `-1.5`) as whole seconds and nanoseconds, the
/// nanoseconds counted forward from the seconds (so `-1.5` is `(-2, 500000000)`, like `timespec`).
/// Like GNU tar, the number is read up to the first character that cannot continue it
/// (`999xxx` is 999 s; `12.5a` is 12.5 s); a value that does not start with a number is none.
pub(crate) fn pax_time(v: &str) -> Option<(i64, u32)> {
    let b = v.as_bytes();
    let negative = b.first() == Some(&b'-');
    let start = usize::from(negative);
    let int_end = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    if int_end == start {
        return None;
    }
    let whole: i64 = v[start..int_end].parse().ok()?;
    let mut nsec = 0u32;
    if b.get(int_end) == Some(&b'.') {
        let frac: Vec<u8> = b[int_end + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .copied()
            .chain(std::iter::repeat(b'0'))
            .take(9)
            .collect();
        nsec = std::str::from_utf8(&frac).ok()?.parse().ok()?;
    }
    if negative {
        if nsec > 0 {
            Some((-whole - 1, 1_000_000_000 - nsec))
        } else {
            Some((-whole, 0))
        }
    } else {
        Some((whole, nsec))
    }
}

/// libarchive writes xattr names percent-encoded (`%3D` for `=`).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// libarchive writes xattr values in base64 (standard alphabet, padding optional).
fn base64_decode(v: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(v.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in v {
        let d = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(d);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_gnu_tar_reads_them() {
        assert_eq!(number(b"0000644\0"), Some(0o644));
        assert_eq!(number(b"   644 \0"), Some(0o644));
        assert_eq!(number(b"       \0"), Some(0));
        assert_eq!(number(b"\0\0\0\0\0\0\0\0"), Some(0));
        assert_eq!(number(b"\0\0\0\0\0\0\x000016\0"), Some(0));
        assert_eq!(number(b"12x\0"), None);
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(
            number(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Some(-1)
        );
        assert_eq!(
            number(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]),
            Some(-2)
        );
    }

    #[test]
    fn pax_times() {
        assert_eq!(pax_time("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(pax_time("1700000000.5"), Some((1_700_000_000, 500_000_000)));
        assert_eq!(pax_time("12.000000001"), Some((12, 1)));
        assert_eq!(pax_time("12.1234567891"), Some((12, 123_456_789)));
        assert_eq!(pax_time("-1.5"), Some((-2, 500_000_000)));
        assert_eq!(pax_time("x"), None);
        assert_eq!(pax_time("-"), None);
        assert_eq!(pax_time("1.x"), Some((1, 0)));
        assert_eq!(pax_time("999xxx9324.432432444444"), Some((999, 0)));
        assert_eq!(
            pax_time("1748089464.951928467a"),
            Some((1_748_089_464, 951_928_467))
        );
    }

    #[test]
    fn libarchive_xattr_encodings() {
        assert_eq!(percent_decode("user.a%3Db").as_deref(), Some("user.a=b"));
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(base64_decode(b"aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode(b"AAEC").unwrap(), [0, 1, 2]);
        assert_eq!(base64_decode(b"a*b"), None);
    }
}
