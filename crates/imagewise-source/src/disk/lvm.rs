//! LVM2 physical volumes (the on-disk format lvm2 writes, `lib/format_text/layout.h` and the
//! text metadata of `vgcfgbackup`): the `LABELONE` label in one of the first four sectors, the
//! PV header with its metadata areas, the metadata area header (its magic and CRC), the newest
//! metadata text (a circular buffer; its checksum is checked) and, in it, the volume group's
//! extent size, this PV's `pe_start`, and each logical volume's segments. Linear segments (one
//! stripe) map onto this PV; an LV with another segment type, or with a segment on a PV that is
//! not this disk, is refused by name when it is chosen.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::disk::BlockDev;
use crate::error::{Error, Result};

const SECTOR: u64 = 512;
const MDA_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
const INITIAL_CRC: u32 = 0xf597_a6cf;
/// Metadata text larger than this is refused.
const MAX_METADATA: u64 = 16 << 20;
const MAX_DEPTH: usize = 32;

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn le64(b: &[u8], o: usize) -> u64 {
    u64::from(le32(b, o)) | (u64::from(le32(b, o + 4)) << 32)
}

/// lvm2's CRC: the reflected CRC-32 polynomial from a fixed seed, no final inversion.
fn crc(data: &[u8]) -> u32 {
    let mut c = INITIAL_CRC;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    c
}

/// A PV label: the PV's UUID (without dashes) and its metadata areas (byte offset, length).
pub(crate) type Label = (String, Vec<(u64, u64)>);

/// The PV label, if `dev` starts with one.
pub(crate) fn label(dev: &dyn BlockDev) -> Result<Option<Label>> {
    for sector in 0..4u64 {
        if dev.size() < (sector + 1) * SECTOR {
            return Ok(None);
        }
        let mut s = [0u8; 512];
        dev.read_at(sector * SECTOR, &mut s)?;
        if &s[..8] != b"LABELONE" || &s[24..32] != b"LVM2 001" {
            continue;
        }
        let what = || Error::corrupt(dev.describe(), "LVM2 label is malformed");
        let hdr = le32(&s, 20) as usize;
        let pv = s.get(hdr..).ok_or_else(what)?;
        if pv.len() < 48 {
            return Err(what());
        }
        let uuid = String::from_utf8_lossy(&pv[..32]).to_string();
        // Data areas, a zero entry, then metadata areas, a zero entry.
        let mut pos = 40;
        let mut lists: Vec<Vec<(u64, u64)>> = vec![Vec::new(), Vec::new()];
        for list in lists.iter_mut() {
            loop {
                if pos + 16 > pv.len() {
                    return Err(what());
                }
                let (off, len) = (le64(pv, pos), le64(pv, pos + 8));
                pos += 16;
                if off == 0 {
                    break;
                }
                list.push((off, len));
                if list.len() > 8 {
                    return Err(what());
                }
            }
        }
        return Ok(Some((uuid, lists.pop().unwrap_or_default())));
    }
    Ok(None)
}

/// A parsed metadata value.
#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Int(i64),
    List(Vec<Value>),
    Section(BTreeMap<String, Value>),
}

impl Value {
    fn get(&self, k: &str) -> Option<&Value> {
        match self {
            Value::Section(m) => m.get(k),
            _ => None,
        }
    }
    fn int(&self, k: &str) -> Option<i64> {
        match self.get(k) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }
    fn str(&self, k: &str) -> Option<&str> {
        match self.get(k) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }
    fn sections(&self) -> Vec<(&String, &Value)> {
        match self {
            Value::Section(m) => m
                .iter()
                .filter(|(_, v)| matches!(v, Value::Section(_)))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The text metadata grammar: `name = value`, `name { … }`, values are "strings", integers
/// or `[ lists ]`; `#` starts a comment.
struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip(&mut self) {
        while self.pos < self.b.len() {
            match self.b[self.pos] {
                b' ' | b'\t' | b'\n' | b'\r' | b',' | 0 => self.pos += 1,
                b'#' => {
                    while self.pos < self.b.len() && self.b[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn word(&mut self) -> Option<String> {
        let start = self.pos;
        while self.pos < self.b.len()
            && (self.b[self.pos].is_ascii_alphanumeric() || b"_-+.".contains(&self.b[self.pos]))
        {
            self.pos += 1;
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.b[start..self.pos]).into_owned())
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip();
        match *self.b.get(self.pos)? {
            b'"' => {
                self.pos += 1;
                let mut s = Vec::new();
                while let Some(&c) = self.b.get(self.pos) {
                    self.pos += 1;
                    match c {
                        b'"' => return Some(Value::Str(String::from_utf8_lossy(&s).into_owned())),
                        b'\\' => {
                            s.push(*self.b.get(self.pos)?);
                            self.pos += 1;
                        }
                        c => s.push(c),
                    }
                }
                None
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip();
                    if *self.b.get(self.pos)? == b']' {
                        self.pos += 1;
                        return Some(Value::List(items));
                    }
                    items.push(self.value(depth + 1)?);
                    if items.len() > 1 << 16 {
                        return None;
                    }
                }
            }
            _ => self.word()?.parse().ok().map(Value::Int),
        }
    }

    /// Entries until `}` (or the end at depth 0).
    fn section(&mut self, depth: usize) -> Option<BTreeMap<String, Value>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut m = BTreeMap::new();
        loop {
            self.skip();
            match self.b.get(self.pos) {
                None => return (depth == 0).then_some(m),
                Some(b'}') => {
                    self.pos += 1;
                    return (depth > 0).then_some(m);
                }
                _ => {}
            }
            let key = self.word()?;
            self.skip();
            match *self.b.get(self.pos)? {
                b'=' => {
                    self.pos += 1;
                    let v = self.value(depth)?;
                    m.insert(key, v);
                }
                b'{' => {
                    self.pos += 1;
                    let v = self.section(depth + 1)?;
                    m.insert(key, Value::Section(v));
                }
                _ => return None,
            }
            if m.len() > 1 << 16 {
                return None;
            }
        }
    }
}

/// One logical volume of the VG on this disk.
pub(crate) struct Volume {
    /// `vg/lv`.
    pub name: String,
    pub size: u64,
    /// Why it cannot be read, if it cannot.
    pub unsupported: Option<String>,
    /// (LV byte offset, length, PV byte offset), sorted.
    segments: Vec<(u64, u64, u64)>,
}

/// The logical volumes of the PV `dev`, from its newest metadata.
pub(crate) fn volumes(dev: &dyn BlockDev, uuid: &str, areas: &[(u64, u64)]) -> Result<Vec<Volume>> {
    let what = format!("LVM2 physical volume on {}", dev.describe());
    let corrupt = |d: String| Error::corrupt(&what, d);
    let mut text = None;
    for &(start, size) in areas {
        if size < 2 * SECTOR || start.checked_add(size).is_none_or(|e| e > dev.size()) {
            return Err(corrupt(format!(
                "metadata area at {start} ({size} bytes) lies past the end"
            )));
        }
        let mut h = [0u8; 512];
        dev.read_at(start, &mut h)?;
        if &h[4..20] != MDA_MAGIC {
            return Err(corrupt("metadata area header has no LVM2 magic".into()));
        }
        if crc(&h[4..]) != le32(&h, 0) {
            return Err(corrupt(
                "metadata area header checksum does not match".into(),
            ));
        }
        let (off, len, sum) = (le64(&h, 40), le64(&h, 48), le32(&h, 56));
        if len == 0 {
            continue;
        }
        if len > MAX_METADATA || off < SECTOR || off >= size {
            return Err(corrupt(format!("metadata text at {off} ({len} bytes)")));
        }
        // A circular buffer after the header: the text may wrap to offset 512.
        let mut t = vec![0u8; len as usize];
        let first = (size - off).min(len);
        dev.read_at(start + off, &mut t[..first as usize])?;
        if first < len {
            if SECTOR + (len - first) > size {
                return Err(corrupt("metadata text is larger than its area".into()));
            }
            dev.read_at(start + SECTOR, &mut t[first as usize..])?;
        }
        if crc(&t) != sum {
            return Err(corrupt("metadata text checksum does not match".into()));
        }
        text = Some(t);
        break;
    }
    let Some(text) = text else {
        return Err(Error::unsupported(
            &what,
            "it holds no metadata copy (another PV of the group has it); imagewise reads a volume group from one disk",
        ));
    };
    let root = Parser { b: &text, pos: 0 }
        .section(0)
        .map(Value::Section)
        .ok_or_else(|| corrupt("metadata text does not parse".into()))?;
    let (vg_name, vg) = root
        .sections()
        .into_iter()
        .next()
        .ok_or_else(|| corrupt("metadata holds no volume group".into()))?;
    let extent = u64::try_from(vg.int("extent_size").unwrap_or(0)).unwrap_or(0) * SECTOR;
    if extent == 0 || extent > 1 << 40 {
        return Err(corrupt(format!("extent size {extent}")));
    }
    // This disk's PV name in the metadata (pv0, pv1, …) and where its extents start.
    let mut me = None;
    for (name, pv) in vg
        .get("physical_volumes")
        .map(Value::sections)
        .unwrap_or_default()
    {
        if pv.str("id").map(|i| i.replace('-', "")) == Some(uuid.to_string()) {
            let pe_start = u64::try_from(pv.int("pe_start").unwrap_or(-1))
                .map_err(|_| corrupt(format!("{name}: no pe_start")))?
                * SECTOR;
            let pe_count = u64::try_from(pv.int("pe_count").unwrap_or(0)).unwrap_or(0);
            me = Some((name.clone(), pe_start, pe_count));
        }
    }
    let (pv_name, pe_start, pe_count) = me.ok_or_else(|| {
        corrupt("this PV's UUID is not among the group's physical volumes".into())
    })?;
    let mut out = Vec::new();
    for (lv_name, lv) in vg
        .get("logical_volumes")
        .map(Value::sections)
        .unwrap_or_default()
    {
        let mut segments = Vec::new();
        let mut unsupported = None;
        let mut size = 0u64;
        for (_, seg) in lv.sections() {
            let start = u64::try_from(seg.int("start_extent").unwrap_or(-1));
            let count = u64::try_from(seg.int("extent_count").unwrap_or(-1));
            let (Ok(start), Ok(count)) = (start, count) else {
                return Err(corrupt(format!(
                    "{vg_name}/{lv_name}: a segment without extents"
                )));
            };
            size = size.max((start + count).saturating_mul(extent));
            let kind = seg.str("type").unwrap_or("");
            let stripes = match seg.get("stripes") {
                Some(Value::List(l)) => l.clone(),
                _ => Vec::new(),
            };
            if kind != "striped" || seg.int("stripe_count") != Some(1) || stripes.len() != 2 {
                unsupported.get_or_insert(format!(
                    "segment type {kind:?}{} (imagewise reads linear volumes)",
                    seg.int("stripe_count")
                        .filter(|n| *n > 1)
                        .map(|n| format!(" with {n} stripes"))
                        .unwrap_or_default()
                ));
                continue;
            }
            let (Value::Str(on), Value::Int(at)) = (&stripes[0], &stripes[1]) else {
                return Err(corrupt(format!("{vg_name}/{lv_name}: malformed stripes")));
            };
            if *on != pv_name {
                unsupported.get_or_insert(format!(
                    "a segment lies on {on}, a physical volume that is not this disk"
                ));
                continue;
            }
            let at = u64::try_from(*at)
                .map_err(|_| corrupt(format!("{vg_name}/{lv_name}: negative extent")))?;
            if at.checked_add(count).is_none_or(|e| e > pe_count) {
                return Err(corrupt(format!(
                    "{vg_name}/{lv_name}: extents {at}+{count} lie past the PV's {pe_count}"
                )));
            }
            let pv_at = pe_start + at * extent;
            if pv_at
                .checked_add(count * extent)
                .is_none_or(|e| e > dev.size())
            {
                return Err(corrupt(format!(
                    "{vg_name}/{lv_name}: a segment lies past the end of the disk"
                )));
            }
            segments.push((start * extent, count * extent, pv_at));
        }
        segments.sort_unstable();
        let mut next = 0;
        for s in &segments {
            if s.0 < next {
                return Err(corrupt(format!(
                    "{vg_name}/{lv_name}: overlapping segments"
                )));
            }
            next = s.0 + s.1;
        }
        if unsupported.is_none() && next != size {
            unsupported = Some("its segments do not cover it".into());
        }
        out.push(Volume {
            name: format!("{vg_name}/{lv_name}"),
            size,
            unsupported,
            segments,
        });
    }
    Ok(out)
}

/// A linear logical volume as a block device.
pub(crate) struct LvDev {
    pub dev: Arc<dyn BlockDev>,
    pub volume: Volume,
}

impl BlockDev for LvDev {
    fn size(&self) -> u64 {
        self.volume.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > self.volume.size)
        {
            return Err(Error::corrupt(
                self.describe(),
                format!(
                    "read at {offset} goes past the volume's {} bytes",
                    self.volume.size
                ),
            ));
        }
        let mut done = 0usize;
        while done < buf.len() {
            let off = offset + done as u64;
            let i = self.volume.segments.partition_point(|s| s.0 + s.1 <= off);
            let Some(&(start, len, pv_at)) = self.volume.segments.get(i) else {
                return Err(Error::corrupt(
                    self.describe(),
                    format!("no segment holds offset {off}"),
                ));
            };
            let n = ((start + len - off) as usize).min(buf.len() - done);
            self.dev
                .read_at(pv_at + (off - start), &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "logical volume {} on {}",
            self.volume.name,
            self.dev.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_text_parses_as_vgcfgbackup_writes_it() {
        let text = br#"vg0 {
    id = "abc"
    seqno = 3
    extent_size = 8192  # 4 Megabytes
    physical_volumes {
        pv0 { id = "AAAA-BBBB" device = "/dev/loop0" pe_start = 2048 pe_count = 99 }
    }
    logical_volumes {
        root {
            status = ["READ", "WRITE", "VISIBLE"]
            segment1 { start_extent = 0 extent_count = 10 type = "striped" stripe_count = 1
                stripes = [ "pv0", 20 ] }
        }
    }
}
contents = "Text Format Volume Group"
"#;
        let root = Value::Section(Parser { b: text, pos: 0 }.section(0).unwrap());
        let (name, vg) = root.sections()[0];
        assert_eq!(name, "vg0");
        assert_eq!(vg.int("extent_size"), Some(8192));
        let lvs = vg.get("logical_volumes").unwrap().sections();
        assert_eq!(lvs[0].0, "root");
        assert!(Parser {
            b: b"vg { a = [ \"x\" ",
            pos: 0
        }
        .section(0)
        .is_none());
        assert!(Parser {
            b: &[b'{'; 100],
            pos: 0
        }
        .section(0)
        .is_none());
    }

    proptest::proptest! {
        #[test]
        fn any_metadata_text_parses_or_is_refused_without_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = Parser { b: &b, pos: 0 }.section(0);
        }

        #[test]
        fn damaged_metadata_text_never_panics(flips in proptest::collection::vec((0usize..400, 1u8..=255), 1..6)) {
            let mut b = br#"vg0 { extent_size = 8192 physical_volumes { pv0 { id = "AAAA" pe_start = 2048 pe_count = 99 } }
    logical_volumes { root { segment1 { start_extent = 0 extent_count = 10 type = "striped" stripe_count = 1 stripes = [ "pv0", 20 ] } } } }"#.to_vec();
            for (at, x) in flips {
                let i = at % b.len();
                b[i] ^= x;
            }
            let _ = Parser { b: &b, pos: 0 }.section(0);
        }
    }
}
