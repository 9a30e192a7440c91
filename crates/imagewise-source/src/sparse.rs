//! Sparse files in tar archives. GNU tar's PAX sparse formats (GNU tar manual, "Storing Sparse
//! Files"): 1.0 puts a decimal map (count, then offset/size pairs, one number per line, padded
//! to 512 bytes) in front of the data; 0.1 puts the map in the `GNU.sparse.map` PAX key. The
//! data that follows is the non-hole segments, back to back. 0.0 repeats `GNU.sparse.offset`
//! and `GNU.sparse.numbytes` keys, and old GNU `S` members keep the map in their headers;
//! [`crate::tarball`] reads those two into the same map.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

/// Segments `(offset in the file, length)`, in file order.
pub(crate) type SparseMap = Arc<[(u64, u64)]>;

/// Map entries accepted; real sparse maps have a handful.
const MAX_SEGMENTS: usize = 1 << 20;

/// What is wrong with a sparse map (the caller names the archive and member).
#[derive(Debug, thiserror::Error)]
pub(crate) enum MapError {
    #[error("bad number {0:?} in the sparse map")]
    BadNumber(String),
    #[error("the sparse map has {0} fields: not pairs, or more than {MAX_SEGMENTS}")]
    Fields(usize),
    #[error("the sparse map claims {0} segments (at most {MAX_SEGMENTS} are read)")]
    TooMany(usize),
    #[error("the sparse map runs past the member's {0} stored bytes")]
    PastData(u64),
    #[error("reading the sparse map: {0}")]
    Read(#[source] io::Error),
    #[error("sparse segment {off}+{len} overflows")]
    Overflow { off: u64, len: u64 },
    #[error("sparse segment {off}+{len} is out of order or past the file's size {size}")]
    OutOfOrder { off: u64, len: u64, size: u64 },
    #[error("sparse segments hold {data} bytes but the member stores only {stored}")]
    Short { data: u64, stored: u64 },
}

/// The `(offset, length)` pairs of a `GNU.sparse.map` value, unchecked.
pub(crate) fn parse_pairs(value: &str) -> Result<Vec<(u64, u64)>, MapError> {
    let nums: Vec<u64> = value
        .split(',')
        .map(|n| {
            n.trim()
                .parse::<u64>()
                .map_err(|_| MapError::BadNumber(n.to_string()))
        })
        .collect::<Result<_, _>>()?;
    if !nums.len().is_multiple_of(2) || nums.len() / 2 > MAX_SEGMENTS {
        return Err(MapError::Fields(nums.len()));
    }
    Ok(nums.chunks(2).map(|c| (c[0], c[1])).collect())
}

/// Read a format 1.0 map from the start of a member's data; returns the map and the bytes it
/// took (a multiple of 512).
pub(crate) fn read_map_1_0(
    r: &mut dyn Read,
    real_size: u64,
    stored: u64,
) -> Result<(SparseMap, u64), MapError> {
    let mut consumed = 0u64;
    let mut line = Vec::new();
    let mut next_number = |consumed: &mut u64| -> Result<u64, MapError> {
        line.clear();
        loop {
            let mut b = [0u8; 1];
            r.read_exact(&mut b).map_err(MapError::Read)?;
            *consumed += 1;
            if *consumed > stored {
                return Err(MapError::PastData(stored));
            }
            if b[0] == b'\n' {
                break;
            }
            line.push(b[0]);
            if line.len() > 20 {
                return Err(MapError::BadNumber(
                    String::from_utf8_lossy(&line).into_owned(),
                ));
            }
        }
        std::str::from_utf8(&line)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| MapError::BadNumber(String::from_utf8_lossy(&line).into_owned()))
    };
    let count = next_number(&mut consumed)? as usize;
    if count > MAX_SEGMENTS {
        return Err(MapError::TooMany(count));
    }
    let mut segs = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let off = next_number(&mut consumed)?;
        let len = next_number(&mut consumed)?;
        segs.push((off, len));
    }
    let padded = consumed.div_ceil(512) * 512;
    let mut pad = vec![0u8; (padded - consumed) as usize];
    r.read_exact(&mut pad).map_err(MapError::Read)?;
    let map = checked(segs, real_size)?;
    let data: u64 = map.iter().map(|s| s.1).sum();
    if padded + data > stored {
        return Err(MapError::Short {
            data,
            stored: stored - padded,
        });
    }
    Ok((map, padded))
}

/// Segments in order, not overlapping, inside the file.
pub(crate) fn checked(segs: Vec<(u64, u64)>, real_size: u64) -> Result<SparseMap, MapError> {
    let mut end = 0u64;
    for &(off, len) in &segs {
        let seg_end = off
            .checked_add(len)
            .ok_or(MapError::Overflow { off, len })?;
        if off < end || seg_end > real_size {
            return Err(MapError::OutOfOrder {
                off,
                len,
                size: real_size,
            });
        }
        end = seg_end;
    }
    Ok(segs.into())
}

/// Expands holes: reads segment data from `inner` (positioned at the first segment's data) and
/// zeros elsewhere, for a file of `size` bytes. Seekable when `inner` is.
pub(crate) struct SparseReader<R> {
    inner: R,
    map: SparseMap,
    size: u64,
    pos: u64,
    /// Offset of `inner`, relative to the start of the segment data.
    inner_pos: u64,
}

impl<R> SparseReader<R> {
    pub fn new(inner: R, map: SparseMap, size: u64) -> Self {
        SparseReader {
            inner,
            map,
            size,
            pos: 0,
            inner_pos: 0,
        }
    }

    /// Segment index containing `pos`, or the next one after it; and the data offset of that
    /// segment's start.
    fn locate(&self) -> (usize, u64) {
        let mut data = 0u64;
        for (i, &(off, len)) in self.map.iter().enumerate() {
            if self.pos < off + len {
                return (i, data);
            }
            data += len;
        }
        (self.map.len(), data)
    }
}

impl<R: Read> Read for SparseReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let (i, data_off) = self.locate();
        let left = (self.size - self.pos).min(buf.len() as u64);
        let n = match self.map.get(i) {
            Some(&(off, len)) if self.pos >= off => {
                let want = data_off + (self.pos - off);
                if want < self.inner_pos {
                    return Err(io::Error::other(
                        "sparse reader cannot go backwards on a stream",
                    ));
                }
                // Skip forward on a stream (only happens after a seek).
                io::copy(
                    &mut (&mut self.inner).take(want - self.inner_pos),
                    &mut io::sink(),
                )?;
                self.inner_pos = want;
                let n = left.min(off + len - self.pos) as usize;
                self.inner.read_exact(&mut buf[..n])?;
                self.inner_pos += n as u64;
                n
            }
            next => {
                let hole_end = next.map_or(self.size, |s| s.0);
                let n = left.min(hole_end - self.pos) as usize;
                buf[..n].fill(0);
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read> crate::tree::FileRead for SparseReader<R> {
    fn ahead(&mut self) -> crate::tree::Ahead {
        use crate::tree::Ahead;
        if self.pos >= self.size {
            return Ahead::End;
        }
        let (i, _) = self.locate();
        match self.map.get(i) {
            Some(&(off, len)) if self.pos >= off => Ahead::Data(off + len - self.pos),
            _ => {
                // Empty segments do not end a hole.
                let next = self.map[i..].iter().find(|s| s.1 > 0);
                Ahead::Hole(next.map_or(self.size, |s| s.0) - self.pos)
            }
        }
    }

    fn skip_hole(&mut self) -> io::Result<u64> {
        match self.ahead() {
            crate::tree::Ahead::Hole(n) => {
                // The stored data does not move: a hole has none.
                self.pos += n;
                Ok(n)
            }
            _ => Ok(0),
        }
    }
}

impl<R: Read + Seek> Seek for SparseReader<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = crate::blob::seek_target(to, self.pos, self.size)?;
        self.pos = new;
        let (i, data_off) = self.locate();
        let target = match self.map.get(i) {
            Some(&(off, _)) if new >= off => data_off + (new - off),
            _ => data_off,
        };
        self.inner
            .seek(SeekFrom::Current(target as i64 - self.inner_pos as i64))?;
        self.inner_pos = target;
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_1_0_and_expansion() {
        let mut member = b"2\n10\n3\n20\n2\n".to_vec();
        member.resize(512, 0);
        member.extend_from_slice(b"abcXY");
        let (map, took) = read_map_1_0(&mut &member[..], 30, member.len() as u64).unwrap();
        assert_eq!(took, 512);
        assert_eq!(&map[..], &[(10, 3), (20, 2)]);
        let mut r = SparseReader::new(io::Cursor::new(member[512..].to_vec()), map.clone(), 30);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        let mut want = vec![0u8; 30];
        want[10..13].copy_from_slice(b"abc");
        want[20..22].copy_from_slice(b"XY");
        assert_eq!(out, want);
        r.seek(SeekFrom::Start(11)).unwrap();
        let mut two = [0u8; 2];
        r.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"bc");
        r.seek(SeekFrom::Start(21)).unwrap();
        r.read_exact(&mut two[..1]).unwrap();
        assert_eq!(two[0], b'Y');
    }

    #[test]
    fn hostile_maps_are_refused() {
        for (text, real) in [
            (&b"1\n5\n10\n"[..], 10u64), // segment past the real size
            (b"2\n10\n1\n5\n1\n", 30),   // out of order
            (b"99999999999\n", 10),      // absurd count
            (b"1\nx\n1\n", 10),          // not a number
            (b"1\n0\n", 10),             // truncated
        ] {
            let mut m = text.to_vec();
            m.resize(1024, 0);
            assert!(
                read_map_1_0(&mut &m[..], real, 1024).is_err(),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        assert!(checked(parse_pairs("0,5,3,1").unwrap(), 10).is_err());
        assert_eq!(
            &checked(parse_pairs("0,5,8,2").unwrap(), 10).unwrap()[..],
            &[(0, 5), (8, 2)]
        );
    }

    #[test]
    fn holes_are_named_and_skipped_on_a_stream() {
        use crate::tree::{Ahead, FileRead};
        // A zero-length segment, data, a hole, data, and a hole to the end.
        let map = checked(vec![(2, 0), (3, 2), (10, 1)], 16).unwrap();
        let mut r = SparseReader::new(&b"abZ"[..], map, 16);
        let mut out = Vec::new();
        let mut steps = Vec::new();
        loop {
            let a = r.ahead();
            steps.push(a);
            match a {
                Ahead::End => break,
                Ahead::Hole(n) => {
                    assert_eq!(r.skip_hole().unwrap(), n);
                    out.resize(out.len() + n as usize, 0);
                }
                Ahead::Data(n) => {
                    let mut b = vec![0u8; n as usize];
                    r.read_exact(&mut b).unwrap();
                    out.extend(b);
                }
                Ahead::Unknown => unreachable!(),
            }
        }
        use Ahead::*;
        assert_eq!(steps, [Hole(3), Data(2), Hole(5), Data(1), Hole(5), End]);
        assert_eq!(out, b"\0\0\0ab\0\0\0\0\0Z\0\0\0\0\0");
        assert_eq!(r.skip_hole().unwrap(), 0, "nothing to skip at the end");
    }
}
