//! VMDK hosted sparse extents (VMware's "Virtual Disk Format 5.0"): the monolithic sparse and
//! stream-optimized files cloud images and `qemu-img` make. The sparse header (`KDMV`), its
//! grain directory and grain tables, plain grains and deflate-compressed ones (each behind a
//! grain marker), and the footer copy of the header that stream-optimized files write at the
//! end. A descriptor file that names extents in other files (monolithicFlat, twoGbMaxExtent*,
//! vmfs) is refused by name: imagewise opens one file.

use std::io::Read;
use std::sync::Mutex;

use crate::disk::{BlockDev, RawFile};
use crate::error::{Error, Result};

const SECTOR: u64 = 512;
const GD_AT_END: u64 = u64::MAX;
/// Grain directory entries past this are refused (a 64 MiB directory).
const MAX_GD_ENTRIES: u64 = 16 << 20;
const GT_CACHE: usize = 64;

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn le64(b: &[u8], o: usize) -> u64 {
    u64::from(le32(b, o)) | (u64::from(le32(b, o + 4)) << 32)
}

pub(crate) fn is_sparse(head: &[u8]) -> bool {
    head.starts_with(b"KDMV")
}

pub(crate) fn is_descriptor(head: &[u8]) -> bool {
    head.starts_with(b"# Disk DescriptorFile")
}

/// What a descriptor-only VMDK names, for the error.
pub(crate) fn descriptor_error(file: &RawFile) -> Error {
    let mut text = vec![0u8; (file.size().min(4096)) as usize];
    let _ = file.read_at(0, &mut text);
    let text = String::from_utf8_lossy(&text);
    let create = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("createType="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    Error::unsupported(
        format!("VMDK {}", file.describe()),
        format!(
            "a descriptor file (createType {create}) whose data is in other extent files; imagewise opens single-file VMDKs (monolithicSparse, streamOptimized): convert it with `qemu-img convert -O qcow2`"
        ),
    )
}

pub(crate) struct Vmdk {
    file: RawFile,
    size: u64,
    grain: u64,
    gtes_per_gt: u64,
    compressed: bool,
    gd: Vec<u32>,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    gt: std::collections::HashMap<u32, std::sync::Arc<Vec<u32>>>,
    grain: Option<(u32, std::sync::Arc<Vec<u8>>)>,
}

impl Vmdk {
    pub(crate) fn open(file: RawFile) -> Result<Vmdk> {
        let what = format!("VMDK {}", file.describe());
        let corrupt = |d: String| Error::corrupt(&what, d);
        if file.size() < SECTOR {
            return Err(corrupt("shorter than its header".into()));
        }
        let mut h = [0u8; 512];
        file.read_at(0, &mut h)?;
        let mut gd_offset = le64(&h, 56);
        if gd_offset == GD_AT_END {
            // Stream-optimized: the real header is the footer, one sector before the
            // end-of-stream marker.
            if file.size() < 3 * SECTOR {
                return Err(corrupt("no footer".into()));
            }
            let mut f = [0u8; 512];
            file.read_at(file.size() - 2 * SECTOR, &mut f)?;
            if !is_sparse(&f) {
                return Err(corrupt(
                    "the header says the grain directory is at the end, but there is no footer"
                        .into(),
                ));
            }
            h = f;
            gd_offset = le64(&h, 56);
        }
        let version = le32(&h, 4);
        if !(1..=3).contains(&version) {
            return Err(Error::unsupported(
                &what,
                format!("sparse extent version {version}"),
            ));
        }
        let flags = le32(&h, 8);
        let capacity = le64(&h, 12);
        let grain = le64(&h, 20);
        let gtes_per_gt = u64::from(le32(&h, 44));
        let compress = u16::from_le_bytes([h[77], h[78]]);
        let compressed = flags & (1 << 16) != 0;
        if compressed && compress != 1 {
            return Err(Error::unsupported(
                &what,
                format!("compression algorithm {compress} (imagewise reads deflate)"),
            ));
        }
        if !grain.is_power_of_two() || !(8..=2048).contains(&grain) {
            return Err(corrupt(format!(
                "grain of {grain} sectors (a power of two of 4 KiB..1 MiB expected)"
            )));
        }
        if gtes_per_gt == 0 || gtes_per_gt > 4096 {
            return Err(corrupt(format!("{gtes_per_gt} entries per grain table")));
        }
        let size = capacity
            .checked_mul(SECTOR)
            .ok_or_else(|| corrupt(format!("capacity of {capacity} sectors")))?;
        let gd_entries = capacity.div_ceil(grain).div_ceil(gtes_per_gt);
        if gd_entries > MAX_GD_ENTRIES {
            return Err(corrupt(format!("{gd_entries} grain directory entries")));
        }
        let gd_bytes = gd_entries * 4;
        let gd_at = gd_offset.saturating_mul(SECTOR);
        if gd_at
            .checked_add(gd_bytes)
            .is_none_or(|end| end > file.size())
        {
            return Err(corrupt(format!(
                "grain directory at sector {gd_offset} ({gd_bytes} bytes) lies past the end of the file"
            )));
        }
        let mut raw = vec![0u8; gd_bytes as usize];
        file.read_at(gd_at, &mut raw)?;
        let gd = raw.chunks_exact(4).map(|c| le32(c, 0)).collect();
        Ok(Vmdk {
            file,
            size,
            grain: grain * SECTOR,
            gtes_per_gt,
            compressed,
            gd,
            cache: Mutex::new(Cache::default()),
        })
    }

    fn corrupt(&self, d: String) -> Error {
        Error::corrupt(self.describe(), d)
    }

    fn grain_table(&self, sector: u32) -> Result<std::sync::Arc<Vec<u32>>> {
        if let Some(t) = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.gt.get(&sector).cloned())
        {
            return Ok(t);
        }
        let at = u64::from(sector) * SECTOR;
        let len = self.gtes_per_gt * 4;
        if at.checked_add(len).is_none_or(|end| end > self.file.size()) {
            return Err(self.corrupt(format!(
                "grain table at sector {sector} lies past the end of the file"
            )));
        }
        let mut raw = vec![0u8; len as usize];
        self.file.read_at(at, &mut raw)?;
        let t = std::sync::Arc::new(raw.chunks_exact(4).map(|c| le32(c, 0)).collect::<Vec<_>>());
        if let Ok(mut c) = self.cache.lock() {
            if c.gt.len() >= GT_CACHE {
                c.gt.clear();
            }
            c.gt.insert(sector, t.clone());
        }
        Ok(t)
    }

    /// A compressed grain: a marker (LBA, size) then deflate (zlib) data.
    fn compressed_grain(&self, sector: u32) -> Result<std::sync::Arc<Vec<u8>>> {
        if let Some((s, g)) = self.cache.lock().ok().and_then(|c| c.grain.clone()) {
            if s == sector {
                return Ok(g);
            }
        }
        let at = u64::from(sector) * SECTOR;
        let mut marker = [0u8; 12];
        if at.checked_add(12).is_none_or(|end| end > self.file.size()) {
            return Err(self.corrupt(format!(
                "grain at sector {sector} lies past the end of the file"
            )));
        }
        self.file.read_at(at, &mut marker)?;
        let len = u64::from(le32(&marker, 8));
        // Deflate never grows data much: more than twice the grain is not a grain.
        if len == 0 || len > 2 * self.grain || at + 12 + len > self.file.size() {
            return Err(self.corrupt(format!(
                "compressed grain at sector {sector} claims {len} bytes"
            )));
        }
        let mut input = vec![0u8; len as usize];
        self.file.read_at(at + 12, &mut input)?;
        let mut out = Vec::with_capacity(self.grain as usize);
        flate2::read::ZlibDecoder::new(&input[..])
            .take(self.grain + 1)
            .read_to_end(&mut out)
            .map_err(|e| self.corrupt(format!("compressed grain at sector {sector}: {e}")))?;
        if out.len() as u64 > self.grain {
            return Err(self.corrupt(format!(
                "compressed grain at sector {sector} inflates past the grain size"
            )));
        }
        // The last grain may be short; the rest of it reads as zeros.
        out.resize(self.grain as usize, 0);
        let out = std::sync::Arc::new(out);
        if let Ok(mut c) = self.cache.lock() {
            c.grain = Some((sector, out.clone()));
        }
        Ok(out)
    }
}

impl BlockDev for Vmdk {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        crate::disk::read_chunks(self, self.grain, offset, buf, |off, within, part| {
            let g = off / self.grain;
            let gt_sector = self
                .gd
                .get((g / self.gtes_per_gt) as usize)
                .copied()
                .unwrap_or(0);
            let gte = if gt_sector == 0 {
                0
            } else {
                self.grain_table(gt_sector)?
                    .get((g % self.gtes_per_gt) as usize)
                    .copied()
                    .unwrap_or(0)
            };
            let n = part.len();
            match gte {
                // Unallocated, or a zeroed grain.
                0 | 1 => part.fill(0),
                s if self.compressed => {
                    let data = self.compressed_grain(s)?;
                    part.copy_from_slice(&data[within as usize..within as usize + n]);
                }
                s => {
                    let host = u64::from(s) * SECTOR + within;
                    if host
                        .checked_add(n as u64)
                        .is_none_or(|end| end > self.file.size())
                    {
                        return Err(self.corrupt(format!(
                            "grain at sector {s} lies past the end of the file"
                        )));
                    }
                    self.file.read_at(host, part)?;
                }
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        format!("VMDK {}", self.file.describe())
    }
}
