//! `/etc/ld.so.cache`, as glibc's ldconfig writes it (`sysdeps/generic/dl-cache.h`):
//!
//! - the old format: magic `ld.so-1.7.0`, a count, 12-byte entries (flags, key, value) whose
//!   string offsets count from the end of the entry table; ldconfig before glibc 2.32 wrote this
//!   followed by the new format ("compat");
//! - the new format: magic `glibc-ld.so.cache1.1`, a 48-byte header (count, string table length,
//!   byte-order flag, extension offset), 24-byte entries (flags, key, value, osversion, hwcap)
//!   whose string offsets count from the start of this header. glibc 2.32 and later write only
//!   this.
//!
//! The loader takes, for a name, the first entry whose flags are `1` (plain ELF) or the
//! architecture's own value, so both are kept and the choice is made per loader.

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const NEW_HEADER: usize = 48;
/// `DL_CACHE_HWCAP_EXTENSION`: the entry is for a `glibc-hwcaps` subdirectory.
const HWCAP_EXTENSION: u64 = 1 << 62;
/// More entries than any real system has; a bigger count is damage.
const MAX_ENTRIES: usize = 1 << 20;

/// One library of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub name: String,
    pub path: String,
    pub flags: i32,
    /// Only for a `glibc-hwcaps` subdirectory (chosen by CPU level).
    pub hwcaps: bool,
}

/// A parsed cache: entries in file order (ldconfig sorts them).
#[derive(Debug, Clone, Default)]
pub struct LdCache {
    pub entries: Vec<CacheEntry>,
    /// `old`, `new` or `old+new`.
    pub layout: &'static str,
}

impl LdCache {
    /// Parse the bytes of an `ld.so.cache`.
    pub fn parse(bytes: &[u8]) -> Result<LdCache, crate::Unreadable> {
        LdCache::parse_text(bytes)
    }

    fn parse_text(bytes: &[u8]) -> Result<LdCache, crate::Unreadable> {
        if bytes.starts_with(NEW_MAGIC) {
            let entries = parse_new(bytes, 0)?;
            return Ok(LdCache {
                entries,
                layout: "new",
            });
        }
        if !bytes.starts_with(OLD_MAGIC) {
            return Err("not an ld.so.cache (unknown magic)".into());
        }
        let n = u32_le(bytes, 12).ok_or("truncated header")? as usize;
        if n > MAX_ENTRIES {
            return Err(format!("claims {n} entries").into());
        }
        let table_end = 16 + n * 12;
        if table_end > bytes.len() {
            return Err(format!("{n} entries do not fit in {} bytes", bytes.len()).into());
        }
        // A new-format cache may follow the old table, aligned to 8 bytes.
        let aligned = (table_end + 7) & !7;
        for at in [aligned, table_end] {
            if bytes.get(at..).is_some_and(|b| b.starts_with(NEW_MAGIC)) {
                let entries = parse_new(bytes, at)?;
                return Ok(LdCache {
                    entries,
                    layout: "old+new",
                });
            }
        }
        let mut entries = Vec::with_capacity(n);
        for i in 0..n {
            let e = 16 + i * 12;
            let flags = u32_le(bytes, e).ok_or("truncated entry")? as i32;
            let key = u32_le(bytes, e + 4).ok_or("truncated entry")? as usize;
            let value = u32_le(bytes, e + 8).ok_or("truncated entry")? as usize;
            entries.push(CacheEntry {
                name: cstr(bytes, table_end.checked_add(key))?,
                path: cstr(bytes, table_end.checked_add(value))?,
                flags,
                hwcaps: false,
            });
        }
        Ok(LdCache {
            entries,
            layout: "old",
        })
    }

    /// The path the loader takes for `name`, accepting entries whose flags are in `accept`.
    /// Entries for `glibc-hwcaps` subdirectories are passed over: which one applies depends on
    /// the CPU the image runs on, and each has a baseline entry beside it.
    pub fn lookup(&self, name: &str, accept: &[i32]) -> Option<&CacheEntry> {
        self.entries
            .iter()
            .find(|e| e.name == name && !e.hwcaps && accept.contains(&e.flags))
    }
}

fn parse_new(bytes: &[u8], base: usize) -> Result<Vec<CacheEntry>, crate::Unreadable> {
    let h = bytes
        .get(base..base + NEW_HEADER)
        .ok_or("truncated new-format header")?;
    // Byte 28: 0 unknown, 1 invalid, 2 little-endian, 3 big-endian.
    let big = match h[28] {
        3 => true,
        0 | 2 => false,
        _ => return Err("byte-order flag is invalid".into()),
    };
    let word = |at: usize| -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let n = word(base + 20).ok_or("truncated header")? as usize;
    if n > MAX_ENTRIES {
        return Err(format!("claims {n} entries").into());
    }
    let table = base + NEW_HEADER;
    if table + n * 24 > bytes.len() {
        return Err(format!("{n} entries do not fit in {} bytes", bytes.len()).into());
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let e = table + i * 24;
        let flags = word(e).ok_or("truncated entry")? as i32;
        let key = word(e + 4).ok_or("truncated entry")? as usize;
        let value = word(e + 8).ok_or("truncated entry")? as usize;
        let lo = u64::from(word(e + 16).ok_or("truncated entry")?);
        let hi = u64::from(word(e + 20).ok_or("truncated entry")?);
        let hwcap = if big {
            (lo << 32) | hi
        } else {
            (hi << 32) | lo
        };
        out.push(CacheEntry {
            name: cstr(bytes, base.checked_add(key))?,
            path: cstr(bytes, base.checked_add(value))?,
            flags,
            hwcaps: hwcap & HWCAP_EXTENSION != 0,
        });
    }
    Ok(out)
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn cstr(bytes: &[u8], at: Option<usize>) -> Result<String, crate::Unreadable> {
    let rest = at
        .and_then(|a| bytes.get(a..))
        .ok_or("a string offset points past the end")?;
    let end = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or("a string is not terminated")?;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// The flags value ldconfig records for libraries of a machine (`_DL_CACHE_DEFAULT_ID`), as
/// (type, required) from `dl-cache.h`: `FLAG_ELF_LIBC6` with the architecture's marker.
pub fn default_flags(m: crate::elf::Machine, e_flags: u32) -> i32 {
    use goblin::elf::header::*;
    const LIBC6: i32 = 0x0003;
    let required = match (m.machine, m.is64) {
        (EM_X86_64, true) => 0x0300,
        (EM_X86_64, false) => 0x0800,
        (EM_AARCH64, true) => 0x0a00,
        (EM_ARM, false) if e_flags & 0x400 != 0 => 0x0900,
        (EM_ARM, false) => 0x0b00,
        (EM_PPC64, true) => 0x0500,
        (EM_S390, true) => 0x0400,
        (EM_IA_64, true) => 0x0200,
        (EM_SPARCV9, true) => 0x0100,
        (EM_RISCV, true) => 0x1000,
        (258, true) => 0x1200,
        (EM_MIPS, true) => 0x0700,
        _ => 0,
    };
    LIBC6 | required
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build a new-format cache by hand, as ldconfig lays it out.
    fn new_cache(entries: &[(&str, &str, i32, u64)]) -> Vec<u8> {
        let mut strings = Vec::new();
        let mut table = Vec::new();
        let str_base = NEW_HEADER + entries.len() * 24;
        for (name, path, flags, hwcap) in entries {
            let k = str_base + strings.len();
            strings.extend_from_slice(name.as_bytes());
            strings.push(0);
            let v = str_base + strings.len();
            strings.extend_from_slice(path.as_bytes());
            strings.push(0);
            table.extend_from_slice(&flags.to_le_bytes());
            table.extend_from_slice(&(k as u32).to_le_bytes());
            table.extend_from_slice(&(v as u32).to_le_bytes());
            table.extend_from_slice(&0u32.to_le_bytes());
            table.extend_from_slice(&hwcap.to_le_bytes());
        }
        let mut out = NEW_MAGIC.to_vec();
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        out.extend_from_slice(&[2, 0, 0, 0]);
        out.extend_from_slice(&[0; 16]);
        out.extend(table);
        out.extend(strings);
        out
    }

    #[test]
    fn new_format_lookup_by_flags() {
        let c = new_cache(&[
            (
                "libz.so.1",
                "/usr/lib/x86_64-linux-gnu/libz.so.1",
                0x0303,
                0,
            ),
            ("libz.so.1", "/usr/lib32/libz.so.1", 0x0003, 0),
            (
                "libx.so.1",
                "/usr/lib/glibc-hwcaps/x86-64-v3/libx.so.1",
                0x0303,
                HWCAP_EXTENSION,
            ),
        ]);
        let cache = LdCache::parse(&c).expect("parses");
        assert_eq!(cache.layout, "new");
        assert_eq!(
            cache.lookup("libz.so.1", &[1, 0x0303]).map(|e| &*e.path),
            Some("/usr/lib/x86_64-linux-gnu/libz.so.1")
        );
        assert_eq!(
            cache.lookup("libz.so.1", &[1, 0x0003]).map(|e| &*e.path),
            Some("/usr/lib32/libz.so.1")
        );
        assert!(cache.lookup("libx.so.1", &[1, 0x0303]).is_none());
    }

    #[test]
    fn old_format_with_new_appended_and_old_alone() {
        let new = new_cache(&[("liba.so.1", "/lib/liba.so.1", 0x0303, 0)]);
        let mut old = OLD_MAGIC.to_vec();
        old.push(0);
        old.extend_from_slice(&1u32.to_le_bytes());
        old.extend_from_slice(&0x0303i32.to_le_bytes());
        old.extend_from_slice(&0u32.to_le_bytes());
        old.extend_from_slice(&10u32.to_le_bytes());
        old.extend_from_slice(b"liba.so.1\0/old/liba.so.1\0");
        let alone = LdCache::parse(&old).expect("old alone");
        assert_eq!(alone.layout, "old");
        assert_eq!(alone.entries[0].path, "/old/liba.so.1");
        // Pad the old part to 8 bytes and append the new one; the new one wins.
        let mut both = old[..16 + 12].to_vec();
        while !both.len().is_multiple_of(8) {
            both.push(0);
        }
        both.extend_from_slice(&new);
        let both = LdCache::parse(&both).expect("old+new");
        assert_eq!(both.layout, "old+new");
        assert_eq!(both.entries[0].path, "/lib/liba.so.1");
    }

    #[test]
    fn damaged_caches_are_errors_not_panics() {
        let c = new_cache(&[("liba.so.1", "/lib/liba.so.1", 0x0303, 0)]);
        for cut in 0..c.len() {
            let _ = LdCache::parse(&c[..cut]);
        }
        let mut huge = c.clone();
        huge[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(LdCache::parse(&huge).is_err());
        assert!(LdCache::parse(b"garbage").is_err());
    }
}
