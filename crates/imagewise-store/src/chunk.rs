//! Content-defined chunking (FastCDC 2020) of a byte stream, with runs of zeros reported as
//! holes so sparse files and disk images stay sparse.

use imagewise_source::{Ahead, FileRead};

use fastcdc::v2020::FastCDC;
use serde::{Deserialize, Serialize};

/// FastCDC sizes in bytes. The defaults were chosen by measurement on Debian root filesystems
/// and ext4 disk images (docs/store.md, "Chunk sizes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkParams {
    pub min: u32,
    pub avg: u32,
    pub max: u32,
}

impl ChunkParams {
    /// Files of image trees: 32 KiB average (8 KiB..128 KiB).
    pub const FILES: ChunkParams = ChunkParams::around(32 << 10);
    /// Raw disk images: 16 KiB average (4 KiB..64 KiB), so a filesystem made afresh with the
    /// same files still shares most chunks with the old one.
    pub const RAW: ChunkParams = ChunkParams::around(16 << 10);

    /// min = avg/4, max = avg*4, as FastCDC's authors suggest.
    pub const fn around(avg: u32) -> ChunkParams {
        ChunkParams {
            min: avg / 4,
            avg,
            max: avg.saturating_mul(4),
        }
    }

    /// In range for FastCDC and for this format; an [`crate::Error::Input`] saying the range when not.
    pub fn validate(&self) -> crate::Result<()> {
        let ok = (256..=(64 << 20)).contains(&self.min)
            && (1024..=(256 << 20)).contains(&self.avg)
            && (4096..=(16 << 20)).contains(&self.max)
            && self.min <= self.avg
            && self.avg <= self.max
            && self.min.is_multiple_of(2)
            && self.avg.is_multiple_of(2)
            && self.max.is_multiple_of(2);
        if ok {
            Ok(())
        } else {
            Err(crate::Error::input(format!(
                "chunk sizes min {} avg {} max {} are out of range (min ≥ 256, avg ≥ 1 KiB, max ≤ 16 MiB, min ≤ avg ≤ max, even)",
                self.min, self.avg, self.max
            )))
        }
    }
}

/// One piece of a stream, in order.
pub(crate) enum Piece<'a> {
    Data(&'a [u8]),
    /// This many zero bytes.
    Zeros(u64),
}

/// A reusable chunker with its buffer.
pub(crate) struct Chunker {
    params: ChunkParams,
    buf: Vec<u8>,
    /// Where FastCDC cuts a run of zeros that reaches `max` bytes past a chunk's start.
    zero_cut: u64,
    /// Bytes of recorded holes passed without reading them, over all runs.
    pub skipped: u64,
}

fn all_zero(b: &[u8]) -> bool {
    // OR 64-byte blocks together (vectorised), stopping at the first block with a set bit.
    let blocks = b.chunks_exact(64);
    let rest = blocks.remainder();
    blocks
        .into_iter()
        .all(|c| c.iter().fold(0u8, |acc, &x| acc | x) == 0)
        && rest.iter().all(|&x| x == 0)
}

impl Chunker {
    pub fn new(params: ChunkParams) -> Chunker {
        let max = params.max as usize;
        let zeros = vec![0u8; max];
        let (_, zero_cut) =
            FastCDC::new(&zeros, params.min as usize, params.avg as usize, max).cut(0, max);
        Chunker {
            params,
            buf: Vec::new(),
            zero_cut: zero_cut.max(1) as u64,
            skipped: 0,
        }
    }

    /// Cut everything `r` yields into pieces and hand them to `f`; returns the bytes it
    /// stands for (holes included). An I/O error from `r` comes back as is.
    ///
    /// Holes that `r` records are not read: FastCDC's cut from a chunk's start depends only
    /// on the next `max` bytes, so from a start with at least `max` zeros ahead the cut is
    /// always `zero_cut` bytes on. Those chunks are counted, not scanned, and only the zeros
    /// next to data are put in the buffer — the pieces are the same as if every zero had been
    /// read, so a file cuts alike whether or not its image records its holes.
    pub fn run<E: From<std::io::Error>>(
        &mut self,
        r: &mut dyn FileRead,
        mut f: impl FnMut(Piece<'_>) -> Result<(), E>,
    ) -> Result<u64, E> {
        let p = self.params;
        let max = p.max as u64;
        let cap = (p.max as usize * 4).max(4 << 20);
        if self.buf.len() < cap {
            self.buf.resize(cap, 0);
        }
        let mut filled = 0usize;
        let mut total = 0u64;
        let mut eof = false;
        // Zeros of a skipped hole that are not in the buffer yet.
        let mut pending = 0u64;
        while !eof || filled > 0 || pending > 0 {
            // The buffer starts at a chunk's start: skip whole zero chunks without scanning.
            let ahead = filled as u64 + pending;
            if pending > 0 && ahead >= max && all_zero(&self.buf[..filled]) {
                let n = (ahead - max) / self.zero_cut + 1;
                for _ in 0..n {
                    f(Piece::Zeros(self.zero_cut))?;
                }
                let left = ahead - n * self.zero_cut;
                filled = left.min(cap as u64) as usize;
                self.buf[..filled].fill(0);
                pending = left - filled as u64;
            }
            while filled < cap {
                if pending > 0 {
                    let k = pending.min((cap - filled) as u64) as usize;
                    self.buf[filled..filled + k].fill(0);
                    filled += k;
                    pending -= k as u64;
                    continue;
                }
                if eof {
                    break;
                }
                let want = match r.ahead() {
                    Ahead::End => {
                        eof = true;
                        break;
                    }
                    Ahead::Hole(n) if n > 0 => {
                        let skipped = r.skip_hole()?;
                        if skipped > 0 {
                            pending = skipped;
                            total += skipped;
                            self.skipped += skipped;
                            continue;
                        }
                        cap - filled
                    }
                    Ahead::Data(n) if n > 0 => n.min((cap - filled) as u64) as usize,
                    _ => cap - filled,
                };
                match r.read(&mut self.buf[filled..filled + want]) {
                    Ok(0) => eof = true,
                    Ok(n) => {
                        filled += n;
                        total += n as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let last = eof && pending == 0;
            let data = &self.buf[..filled];
            let mut start = 0usize;
            let cdc = FastCDC::new(data, p.min as usize, p.avg as usize, p.max as usize);
            while start < filled {
                let (_, end) = cdc.cut(start, filled - start);
                if end >= filled && !last {
                    break; // the chunk may go on in the next read
                }
                emit(&data[start..end], &mut f)?;
                start = end;
            }
            self.buf.copy_within(start..filled, 0);
            filled -= start;
        }
        Ok(total)
    }
}

fn emit<E>(chunk: &[u8], f: &mut impl FnMut(Piece<'_>) -> Result<(), E>) -> Result<(), E> {
    if all_zero(chunk) {
        f(Piece::Zeros(chunk.len() as u64))
    } else {
        f(Piece::Data(chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(data: &[u8], p: ChunkParams, read_size: usize) -> Vec<(bool, usize)> {
        struct Slow<'a>(&'a [u8], usize);
        impl FileRead for Slow<'_> {}
        impl std::io::Read for Slow<'_> {
            fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(b.len()).min(self.1);
                b[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        Chunker::new(p)
            .run::<std::io::Error>(&mut Slow(data, read_size), |piece| {
                out.push(match piece {
                    Piece::Data(d) => (true, d.len()),
                    Piece::Zeros(n) => (false, n as usize),
                });
                Ok(())
            })
            .expect("in-memory read");
        out
    }

    fn noise(n: usize, mut seed: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    }

    #[test]
    fn cuts_do_not_depend_on_read_sizes() {
        let p = ChunkParams::around(4096);
        let mut data = noise(300_000, 7);
        data.extend(vec![0u8; 100_000]);
        data.extend(noise(50_000, 9));
        let whole = pieces(&data, p, usize::MAX);
        assert_eq!(whole, pieces(&data, p, 1000));
        assert_eq!(whole, pieces(&data, p, 4 << 20));
        assert_eq!(whole.iter().map(|x| x.1).sum::<usize>(), data.len());
        assert!(whole.iter().any(|x| !x.0), "zeros become holes");
        assert!(whole.iter().all(|x| x.1 <= p.max as usize));
    }

    #[test]
    fn an_edit_changes_few_chunks() {
        let p = ChunkParams::around(4096);
        let a = noise(1 << 20, 3);
        let mut b = a.clone();
        b.splice(500_000..500_000, b"inserted".iter().copied());
        let cuts = |d: &[u8]| {
            let mut v = Vec::new();
            let mut off = 0;
            for (_, n) in pieces(d, p, usize::MAX) {
                v.push(blake3::hash(&d[off..off + n]));
                off += n;
            }
            v
        };
        let (ca, cb) = (cuts(&a), cuts(&b));
        let shared = cb.iter().filter(|h| ca.contains(h)).count();
        assert!(shared + 3 >= cb.len(), "{shared} of {}", cb.len());
    }

    #[test]
    fn empty_and_tiny() {
        let p = ChunkParams::FILES;
        assert!(pieces(b"", p, 10).is_empty());
        assert_eq!(pieces(b"abc", p, 10), vec![(true, 3)]);
        assert_eq!(pieces(&[0, 0], p, 10), vec![(false, 2)]);
    }

    /// Bytes with holes, read by a reader that names the holes (as a tar sparse map does).
    struct Holey<'a> {
        data: &'a [u8],
        holes: Vec<(usize, usize)>,
        pos: usize,
    }

    impl std::io::Read for Holey<'_> {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            let end = match self.ahead() {
                Ahead::Data(n) | Ahead::Hole(n) => self.pos + (n as usize).min(b.len()),
                _ => self.pos,
            };
            let n = end - self.pos;
            b[..n].copy_from_slice(&self.data[self.pos..end]);
            self.pos = end;
            Ok(n)
        }
    }

    impl FileRead for Holey<'_> {
        fn ahead(&mut self) -> Ahead {
            if self.pos >= self.data.len() {
                return Ahead::End;
            }
            for &(s, e) in &self.holes {
                if (s..e).contains(&self.pos) {
                    return Ahead::Hole((e - self.pos) as u64);
                }
                if s > self.pos {
                    return Ahead::Data((s - self.pos) as u64);
                }
            }
            Ahead::Data((self.data.len() - self.pos) as u64)
        }

        fn skip_hole(&mut self) -> std::io::Result<u64> {
            match self.ahead() {
                Ahead::Hole(n) => {
                    self.pos += n as usize;
                    Ok(n)
                }
                _ => Ok(0),
            }
        }
    }

    /// Pieces with neighbouring zero runs merged, as the store keeps them (one hole).
    fn merged(v: Vec<(bool, usize)>) -> Vec<(bool, usize)> {
        let mut out: Vec<(bool, usize)> = Vec::new();
        for (data, n) in v {
            match out.last_mut() {
                Some((false, m)) if !data => *m += n,
                _ => out.push((data, n)),
            }
        }
        out
    }

    #[test]
    fn recorded_holes_cut_like_read_zeros_and_are_not_read() {
        let p = ChunkParams::around(4096);
        // Data, a long hole, data, a short hole (less than max), data, a hole to the end.
        let mut data = noise(50_000, 1);
        data.extend(vec![0u8; 9_000_000]);
        data.extend(noise(30_001, 2));
        data.extend(vec![0u8; 5_000]);
        data.extend(noise(20_000, 3));
        data.extend(vec![0u8; 7_777_777]);
        let holes = vec![
            (50_000, 9_050_000),
            (9_080_001, 9_085_001),
            (9_105_001, data.len()),
        ];
        let plain = merged(pieces(&data, p, usize::MAX));
        let mut c = Chunker::new(p);
        let mut got = Vec::new();
        let mut r = Holey {
            data: &data,
            holes,
            pos: 0,
        };
        let total = c
            .run::<std::io::Error>(&mut r, |piece| {
                got.push(match piece {
                    Piece::Data(d) => (true, d.len()),
                    Piece::Zeros(n) => (false, n as usize),
                });
                Ok(())
            })
            .unwrap();
        assert_eq!(total, data.len() as u64);
        assert_eq!(merged(got), plain, "the same cuts as reading every zero");
        assert_eq!(c.skipped, 9_000_000 + 5_000 + 7_777_777);
    }
}
