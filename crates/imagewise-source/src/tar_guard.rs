//! A guard in front of the `tar` crate: the crate reads the body of GNU long-name/long-link
//! (`L`, `K`) and PAX (`x`, `g`) members wholly into memory, whatever size their header
//! declares, so a small compressed archive could make it allocate gigabytes. The guard follows
//! the header boundaries of the stream as it passes (ustar layout, GNU sparse extension blocks,
//! PAX `size` overrides) and fails with a limit error when such a member is too large.
//!
//! It only ever refuses on a header whose checksum is valid; if it loses track of the layout it
//! stops checking rather than guess, and the crate's own parsing decides.

use std::io::{self, Read};

use crate::limits::LimitHit;

/// Largest long name, long link or PAX header body accepted (real ones are a few hundred bytes;
/// PAX bodies with many xattrs a few KiB).
pub(crate) const MAX_META: u64 = 1 << 20;

pub(crate) struct TarGuard<R> {
    inner: R,
    /// Stream offset of the next byte `inner` returns.
    pos: u64,
    /// Stream offset of the next header block, if still tracking.
    next: Option<u64>,
    block: [u8; 512],
    fill: usize,
    state: State,
    /// Size override from the last PAX header, for the member that follows it.
    pax_size: Option<u64>,
    /// The body of a PAX header being collected to find `size=`: (stream offset, length, bytes).
    pax_body: Option<(u64, u64, Vec<u8>)>,
}

#[derive(Clone, Copy)]
enum State {
    Header,
    /// GNU sparse extension blocks follow; then `size` bytes of data.
    SparseExt {
        size: u64,
    },
}

impl<R> TarGuard<R> {
    pub fn new(inner: R) -> Self {
        TarGuard {
            inner,
            pos: 0,
            next: Some(0),
            block: [0; 512],
            fill: 0,
            state: State::Header,
            pax_size: None,
            pax_body: None,
        }
    }
}

fn padded(n: u64) -> u64 {
    n.div_ceil(512).saturating_mul(512)
}

/// ustar numeric field: octal text, or GNU base-256 (high bit set).
fn number(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let text: String = field
        .iter()
        .skip_while(|&&b| b == b' ' || b == 0)
        .take_while(|&&b| (b'0'..=b'7').contains(&b))
        .map(|&b| b as char)
        .collect();
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(&text, 8).ok()
}

/// Does the header checksum field match the block (ustar, GNU and v7 alike)?
pub(crate) fn checksum_ok(h: &[u8; 512]) -> bool {
    let Some(stored) = number(&h[148..156]) else {
        return false;
    };
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    sum == stored
}

/// `size=` from a PAX body ("<len> key=value\n" records).
fn pax_size(body: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .filter_map(|rec| rec.split_once(' ').map(|(_, kv)| kv))
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "size")
        .and_then(|(_, v)| v.trim().parse().ok())
}

impl<R: Read> TarGuard<R> {
    /// Look at a complete header block at `at`; returns the offset of the next one.
    fn header(&mut self, at: u64) -> io::Result<Option<u64>> {
        let h = self.block;
        if let State::SparseExt { size } = self.state {
            // A GNU sparse extension block: byte 504 says whether another follows.
            if h[504] != 0 {
                return Ok(Some(at + 512));
            }
            self.state = State::Header;
            return Ok(Some(at + 512 + padded(size)));
        }
        if h.iter().all(|&b| b == 0) {
            return Ok(Some(at + 512));
        }
        if !checksum_ok(&h) {
            // Lost track (or not a tar at all): stop guarding; the parser will judge.
            return Ok(None);
        }
        let ty = h[156];
        let Some(mut size) = number(&h[124..136]) else {
            return Ok(None);
        };
        if matches!(ty, b'L' | b'K' | b'x' | b'g' | b'X') {
            if size > MAX_META {
                return Err(io::Error::other(LimitHit::new(
                    format!(
                        "a tar {} member at offset {at} declares {size} bytes; such metadata is never that large",
                        match ty {
                            b'L' => "long-name",
                            b'K' => "long-link",
                            _ => "PAX header",
                        }
                    ),
                    MAX_META,
                    "(none: tar metadata members are capped)",
                )));
            }
            if ty == b'x' || ty == b'X' {
                self.pax_body = Some((at + 512, size, Vec::with_capacity(size as usize)));
            }
            return Ok(Some(at + 512 + padded(size)));
        }
        if let Some(s) = self.pax_size.take() {
            size = s;
        }
        if ty == b'S' && h[482] != 0 {
            self.state = State::SparseExt { size };
            return Ok(Some(at + 512));
        }
        Ok(Some(at + 512 + padded(size)))
    }

    /// Take what of the pending PAX body lies in `buf` (which starts at stream offset `start`).
    fn capture(&mut self, start: u64, buf: &[u8]) {
        let Some((at, len, body)) = &mut self.pax_body else {
            return;
        };
        let end = start + buf.len() as u64;
        let from = (*at + body.len() as u64).max(start);
        let to = (*at + *len).min(end);
        if from < to {
            body.extend_from_slice(&buf[(from - start) as usize..(to - start) as usize]);
        }
        if body.len() as u64 >= *len {
            self.pax_size = pax_size(body);
            self.pax_body = None;
        }
    }

    fn observe(&mut self, buf: &[u8]) -> io::Result<()> {
        let start = self.pos;
        let end = start + buf.len() as u64;
        self.capture(start, buf);
        while let Some(next) = self.next {
            if next >= end {
                break;
            }
            let from = next + self.fill as u64;
            if from < start {
                // Only sequential reads are watched; anything else ends the watch.
                self.next = None;
                break;
            }
            let take = (512 - self.fill).min((end - from) as usize);
            let off = (from - start) as usize;
            self.block[self.fill..self.fill + take].copy_from_slice(&buf[off..off + take]);
            self.fill += take;
            if self.fill < 512 {
                break;
            }
            self.fill = 0;
            self.next = self.header(next)?;
            self.capture(start, buf);
        }
        Ok(())
    }
}

impl<R: Read> Read for TarGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk_start = self.pos;
        if self.next.is_some() || self.pax_body.is_some() {
            self.observe(&buf[..n])?;
        }
        self.pos = chunk_start + n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, ty: u8, size: u64) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        let s = format!("{size:011o}\0");
        h[124..136].copy_from_slice(s.as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = ty;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn drain(data: &[u8], chunk: usize) -> io::Result<()> {
        let mut g = TarGuard::new(data);
        let mut buf = vec![0u8; chunk];
        while g.read(&mut buf)? > 0 {}
        Ok(())
    }

    #[test]
    fn a_huge_long_name_is_refused_before_it_is_read() {
        let mut t = Vec::new();
        t.extend_from_slice(&header("a", b'0', 5));
        t.extend_from_slice(&[b'x'; 512]);
        t.extend_from_slice(&header("././@LongLink", b'L', 4 << 30));
        t.extend_from_slice(&[b'n'; 4096]);
        for chunk in [1, 7, 512, 4096, 100_000] {
            let e = drain(&t, chunk).unwrap_err();
            assert!(e.to_string().contains("long-name"), "chunk {chunk}: {e}");
        }
    }

    #[test]
    fn a_pax_size_override_keeps_the_guard_aligned() {
        // A PAX header says the next member is 1024 bytes though its ustar size says 0; the
        // member's data holds bytes that would look like a huge L header if misaligned.
        let body = b"13 size=1024\n";
        let mut t = Vec::new();
        t.extend_from_slice(&header("pax", b'x', body.len() as u64));
        let mut b = body.to_vec();
        b.resize(512, 0);
        t.extend_from_slice(&b);
        t.extend_from_slice(&header("big", b'0', 0));
        t.extend_from_slice(&header("fake", b'L', 4 << 30));
        t.extend_from_slice(&[0u8; 512]);
        t.extend_from_slice(&header("ok", b'0', 0));
        t.extend_from_slice(&[0u8; 1024]);
        for chunk in [1, 100, 512, 3000] {
            drain(&t, chunk).unwrap_or_else(|e| panic!("chunk {chunk}: {e}"));
        }
    }

    #[test]
    fn garbage_is_not_judged() {
        drain(&[0xffu8; 5000], 333).unwrap();
    }
}
