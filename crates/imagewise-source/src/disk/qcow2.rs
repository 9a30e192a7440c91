//! qcow2 images, versions 2 and 3 (qemu `docs/interop/qcow2.txt`): L1/L2 tables, zlib (and
//! zstd) compressed clusters, zero clusters, and a backing file followed only when asked and only
//! when it sits beside the image. Every table offset is checked against the file before use.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use crate::disk::{BlockDev, RawFile};
use crate::error::{Error, Result};

const MAX_BACKING_DEPTH: u32 = 8;
const MAX_L1_BYTES: u64 = 32 << 20;
const L2_CACHE: usize = 64;
const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;

pub(crate) struct Qcow2 {
    file: RawFile,
    cluster_bits: u32,
    size: u64,
    l1: Vec<u64>,
    zstd: bool,
    backing: Option<Arc<dyn BlockDev>>,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    l2: HashMap<u64, Arc<Vec<u64>>>,
    /// The last decompressed cluster, by its host descriptor.
    cluster: Option<(u64, Arc<Vec<u8>>)>,
}

fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn be64(b: &[u8], o: usize) -> u64 {
    (u64::from(be32(b, o)) << 32) | u64::from(be32(b, o + 4))
}

impl Qcow2 {
    pub fn open(file: RawFile, allow_backing: bool, depth: u32) -> Result<Qcow2> {
        let what = file.describe();
        let corrupt = |d: String| Error::corrupt(format!("qcow2 {what}"), d);
        let mut h = [0u8; 112];
        let hl = (file.size() as usize).min(h.len());
        if hl < 72 {
            return Err(corrupt("header is truncated".into()));
        }
        file.read_at(0, &mut h[..hl])?;
        let version = be32(&h, 4);
        if version != 2 && version != 3 {
            return Err(Error::unsupported(
                format!("qcow2 {what}"),
                format!("version {version} (imagewise reads 2 and 3)"),
            ));
        }
        let backing_offset = be64(&h, 8);
        let backing_size = be32(&h, 16);
        let cluster_bits = be32(&h, 20);
        let size = be64(&h, 24);
        let crypt = be32(&h, 32);
        let l1_size = be32(&h, 36);
        let l1_offset = be64(&h, 40);
        if !(9..=21).contains(&cluster_bits) {
            return Err(corrupt(format!(
                "cluster_bits {cluster_bits} is outside 9..21"
            )));
        }
        if crypt != 0 {
            return Err(Error::unsupported(
                format!("qcow2 {what}"),
                "the image is encrypted; decrypt it with qemu-img convert first",
            ));
        }
        let mut zstd = false;
        if version == 3 {
            if hl < 104 {
                return Err(corrupt("version 3 header is truncated".into()));
            }
            let incompat = be64(&h, 72);
            if incompat & 2 != 0 {
                return Err(corrupt(
                    "qemu marked the image corrupt; run `qemu-img check -r all` on a copy".into(),
                ));
            }
            if incompat & 4 != 0 {
                return Err(Error::unsupported(
                    format!("qcow2 {what}"),
                    "external data files are not supported",
                ));
            }
            if incompat & 16 != 0 {
                return Err(Error::unsupported(
                    format!("qcow2 {what}"),
                    "extended L2 entries (subclusters) are not supported",
                ));
            }
            if incompat & !0b1_1111 != 0 {
                return Err(Error::unsupported(
                    format!("qcow2 {what}"),
                    format!("unknown incompatible features {incompat:#x}"),
                ));
            }
            let header_len = be32(&h, 100);
            if incompat & 8 != 0 {
                if header_len <= 104 || hl <= 104 {
                    return Err(corrupt(
                        "compression type bit set but header has no compression type".into(),
                    ));
                }
                match h[104] {
                    0 => {}
                    1 => zstd = true,
                    t => {
                        return Err(Error::unsupported(
                            format!("qcow2 {what}"),
                            format!("compression type {t}"),
                        ))
                    }
                }
            }
        }
        let cluster = 1u64 << cluster_bits;
        let l2_entries = cluster / 8;
        let needed_l1 = size.div_ceil(cluster).div_ceil(l2_entries);
        if u64::from(l1_size) < needed_l1 || u64::from(l1_size) * 8 > MAX_L1_BYTES {
            return Err(corrupt(format!(
                "L1 table has {l1_size} entries; a {size}-byte disk needs {needed_l1}"
            )));
        }
        let l1_bytes = u64::from(l1_size) * 8;
        if l1_offset
            .checked_add(l1_bytes)
            .is_none_or(|end| end > file.size())
        {
            return Err(corrupt(format!(
                "L1 table at offset {l1_offset} ({l1_bytes} bytes) lies past the end of the file ({} bytes)",
                file.size()
            )));
        }
        let mut raw = vec![0u8; l1_bytes as usize];
        file.read_at(l1_offset, &mut raw)?;
        let l1 = raw.chunks_exact(8).map(|c| be64(c, 0)).collect();

        let backing = if backing_offset != 0 && backing_size != 0 {
            if backing_size > 1023 || backing_offset + u64::from(backing_size) > file.size() {
                return Err(corrupt("backing file name is out of bounds".into()));
            }
            let mut name = vec![0u8; backing_size as usize];
            file.read_at(backing_offset, &mut name)?;
            let name = String::from_utf8_lossy(&name).into_owned();
            Some(open_backing(&file, &name, allow_backing, depth)?)
        } else {
            None
        };
        Ok(Qcow2 {
            file,
            cluster_bits,
            size,
            l1,
            zstd,
            backing,
            cache: Mutex::new(Cache::default()),
        })
    }

    fn corrupt(&self, d: String) -> Error {
        Error::corrupt(format!("qcow2 {}", self.file.describe()), d)
    }

    fn check_host(&self, off: u64, len: u64, what: &str) -> Result<()> {
        if off
            .checked_add(len)
            .is_none_or(|end| end > self.file.size())
        {
            return Err(self.corrupt(format!(
                "{what} at offset {off} ({len} bytes) lies past the end of the file ({} bytes)",
                self.file.size()
            )));
        }
        Ok(())
    }

    fn l2_table(&self, l2_off: u64) -> Result<Arc<Vec<u64>>> {
        if let Some(t) = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.l2.get(&l2_off).cloned())
        {
            return Ok(t);
        }
        let cluster = 1u64 << self.cluster_bits;
        self.check_host(l2_off, cluster, "L2 table")?;
        let mut raw = vec![0u8; cluster as usize];
        self.file.read_at(l2_off, &mut raw)?;
        let t: Arc<Vec<u64>> = Arc::new(raw.chunks_exact(8).map(|c| be64(c, 0)).collect());
        if let Ok(mut c) = self.cache.lock() {
            if c.l2.len() >= L2_CACHE {
                c.l2.clear();
            }
            c.l2.insert(l2_off, t.clone());
        }
        Ok(t)
    }

    fn compressed_cluster(&self, desc: u64) -> Result<Arc<Vec<u8>>> {
        if let Some((d, data)) = self.cache.lock().ok().and_then(|c| c.cluster.clone()) {
            if d == desc {
                return Ok(data);
            }
        }
        let cluster = 1usize << self.cluster_bits;
        let x = 62 - (self.cluster_bits - 8);
        let host = desc & ((1u64 << x) - 1);
        let extra_sectors = (desc >> x) & ((1u64 << (self.cluster_bits - 8)) - 1);
        let len =
            (extra_sectors * 512 + (512 - (host & 511))).min(self.file.size().saturating_sub(host));
        self.check_host(host, len.max(1), "compressed cluster")?;
        let mut input = vec![0u8; len as usize];
        self.file.read_at(host, &mut input)?;
        let mut out = vec![0u8; cluster];
        if self.zstd {
            zstd::stream::read::Decoder::new(&input[..])
                .and_then(|mut d| d.read_exact(&mut out))
                .map_err(|e| self.corrupt(format!("compressed cluster at {host}: {e}")))?;
        } else {
            let mut d = flate2::Decompress::new(false);
            d.decompress(&input, &mut out, flate2::FlushDecompress::Finish)
                .map_err(|e| self.corrupt(format!("compressed cluster at {host}: {e}")))?;
            if d.total_out() != cluster as u64 {
                return Err(self.corrupt(format!(
                    "compressed cluster at {host} inflates to {} bytes, not {cluster}",
                    d.total_out()
                )));
            }
        }
        let out = Arc::new(out);
        if let Ok(mut c) = self.cache.lock() {
            c.cluster = Some((desc, out.clone()));
        }
        Ok(out)
    }

    /// Fill `buf` (within one cluster) from guest offset `off`.
    fn read_cluster_part(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        let cluster = 1u64 << self.cluster_bits;
        let idx = off >> self.cluster_bits;
        let within = off & (cluster - 1);
        let l2_bits = self.cluster_bits - 3;
        let l1_idx = (idx >> l2_bits) as usize;
        let l2_idx = (idx & ((1 << l2_bits) - 1)) as usize;
        let l2_off = self.l1.get(l1_idx).map_or(0, |e| e & OFFSET_MASK);
        if l2_off == 0 {
            return self.unallocated(off, buf);
        }
        let table = self.l2_table(l2_off)?;
        let e = table.get(l2_idx).copied().unwrap_or(0);
        if e & (1 << 62) != 0 {
            let data = self.compressed_cluster(e & !(3u64 << 62))?;
            let w = within as usize;
            buf.copy_from_slice(&data[w..w + buf.len()]);
            return Ok(());
        }
        if e & 1 != 0 {
            buf.fill(0);
            return Ok(());
        }
        let host = e & OFFSET_MASK;
        if host == 0 {
            return self.unallocated(off, buf);
        }
        self.check_host(host, cluster, "data cluster")
            .or_else(|err| {
                // The last cluster of a file may be short; only the bytes read must exist.
                self.check_host(host + within, buf.len() as u64, "data cluster")
                    .map_err(|_| err)
            })?;
        self.file.read_at(host + within, buf)
    }

    fn unallocated(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        match &self.backing {
            Some(b) if off < b.size() => {
                let n = (b.size() - off).min(buf.len() as u64) as usize;
                b.read_at(off, &mut buf[..n])?;
                buf[n..].fill(0);
                Ok(())
            }
            _ => {
                buf.fill(0);
                Ok(())
            }
        }
    }
}

impl BlockDev for Qcow2 {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > self.size)
        {
            return Err(self.corrupt(format!(
                "read at {offset} goes past the virtual disk size {}",
                self.size
            )));
        }
        let cluster = 1u64 << self.cluster_bits;
        let mut done = 0usize;
        while done < buf.len() {
            let off = offset + done as u64;
            let room = (cluster - (off & (cluster - 1))) as usize;
            let n = room.min(buf.len() - done);
            self.read_cluster_part(off, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.file.describe()
    }
}

fn open_backing(file: &RawFile, name: &str, allow: bool, depth: u32) -> Result<Arc<dyn BlockDev>> {
    let what = format!("qcow2 {}", file.describe());
    if !allow {
        return Err(Error::unsupported(
            what,
            format!("the image has a backing file {name:?}; pass --allow-backing to read through it (only a file beside the image is followed)"),
        ));
    }
    if depth >= MAX_BACKING_DEPTH {
        return Err(Error::unsafe_input(
            what,
            "backing files chain too deep (a loop?)",
        ));
    }
    let dir = file
        .path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let bare = name.strip_prefix("./").unwrap_or(name);
    if bare.is_empty() || bare.contains('/') || bare == ".." || bare == "." {
        return Err(Error::unsafe_input(
            what,
            format!("backing file {name:?} is not beside the image; imagewise only follows a backing file in the same directory"),
        ));
    }
    let path = dir.join(bare);
    let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
    if !meta.is_file() {
        return Err(Error::unsafe_input(
            what,
            format!("backing file {} is not a regular file", path.display()),
        ));
    }
    let raw = RawFile::open(&path)?;
    let mut magic = [0u8; 4];
    if raw.size() >= 4 {
        raw.read_at(0, &mut magic)?;
    }
    if &magic == b"QFI\xfb" {
        Ok(Arc::new(Qcow2::open(raw, true, depth + 1)?))
    } else {
        Ok(Arc::new(raw))
    }
}
