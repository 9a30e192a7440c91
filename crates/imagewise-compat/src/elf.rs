//! What the dynamic loader reads from an ELF file: class, byte order and machine; type and
//! interpreter; the dynamic section's NEEDED, SONAME, RPATH, RUNPATH and FLAGS_1; symbol
//! version needs and definitions; dynamic symbols; the GNU ABI note. Parsing by goblin; the
//! constants are the gABI's and the GNU extensions' (`elf.h`).

use goblin::elf::dynamic::{DF_1_NODEFLIB, DF_1_PIE};
use goblin::elf::header::{self, ET_DYN, ET_EXEC};
use goblin::elf::program_header::{PT_DYNAMIC, PT_INTERP};
use goblin::elf::sym::{
    STB_GLOBAL, STB_GNU_UNIQUE, STB_WEAK, STT_FILE, STT_GNU_IFUNC, STT_SECTION,
};
use goblin::elf::Elf;
use imagewise_types::{Arch, ElfMachine};

use crate::error::Unreadable;
use std::collections::HashMap;

/// `VER_FLG_WEAK` on a version need: its absence is not an error.
const VER_FLG_WEAK: u16 = 0x2;
/// `VER_FLG_BASE` on a version definition: the file's own name, not a version.
const VER_FLG_BASE: u16 = 0x1;
/// `NT_GNU_ABI_TAG`, the note naming the oldest kernel a binary supports.
const NT_GNU_ABI_TAG: u32 = 1;

/// Class, byte order and machine: what must agree for a loader to map a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Machine {
    pub is64: bool,
    pub little: bool,
    pub machine: u16,
}

impl Machine {
    /// The architecture. The float ABI of 32-bit ARM is not part of what a loader matches on
    /// (it is in `e_flags`); such a machine is taken as Debian's `armhf`.
    pub fn arch(self) -> Arch {
        const EF_ARM_ABI_FLOAT_HARD: u32 = 0x400;
        Arch::from_elf(ElfMachine {
            machine: self.machine,
            is64: self.is64,
            little: self.little,
            flags: if self.machine == header::EM_ARM {
                EF_ARM_ABI_FLOAT_HARD
            } else {
                0
            },
        })
    }

    /// The architecture as every report spells it (Debian's: `amd64`, `arm64`, …).
    pub fn name(self) -> String {
        self.arch().to_string()
    }
}

/// What kind of object a file is, as the loader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ET_EXEC`: a position-dependent executable.
    Exec,
    /// `ET_DYN`: a shared library or a position-independent executable.
    Dyn,
    /// Relocatable objects, core files and the rest: not loadable.
    Other(u16),
}

/// One needed version: `GLIBC_2.34` from `libc.so.6`, with the symbols that use it.
#[derive(Debug, Clone)]
pub struct VersionNeed {
    pub name: String,
    pub weak: bool,
    /// The `.gnu.version` index symbols carry to say they use this version.
    pub index: u16,
}

/// The versions needed from one file (`Elf_Verneed`).
#[derive(Debug, Clone)]
pub struct FileNeeds {
    pub file: String,
    pub versions: Vec<VersionNeed>,
}

/// An undefined dynamic symbol.
#[derive(Debug, Clone, Copy)]
pub struct SymRef<'a> {
    pub name: &'a str,
    /// The version it asks for (a name from [`FileNeeds`]), if versioned.
    pub version: Option<&'a str>,
    pub weak: bool,
}

/// An undefined symbol as stored: its name in [`ElfInfo`]'s name buffer, its version index.
#[derive(Debug, Clone, Copy)]
struct Undef {
    start: u32,
    len: u32,
    version: u16,
    weak: bool,
}

/// One definition of a dynamic symbol.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SymDef {
    pub version: Option<String>,
    /// `name@VERSION` (hidden, non-default) rather than `name@@VERSION`.
    pub hidden: bool,
    /// `STT_GNU_IFUNC`, which musl does not resolve.
    pub ifunc: bool,
}

/// Everything the loader rules need from one ELF file.
#[derive(Debug, Clone)]
pub struct ElfInfo {
    pub machine: Machine,
    pub flags: u32,
    pub osabi: u8,
    pub kind: Kind,
    /// `DF_1_PIE`: an executable that the loader refuses to load as a library.
    pub pie: bool,
    pub interp: Option<String>,
    /// Has a `PT_DYNAMIC` segment.
    pub dynamic: bool,
    pub soname: Option<String>,
    pub needed: Vec<String>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
    /// `DF_1_NODEFLIB`: neither the cache nor the default directories for this object's needs.
    pub nodeflib: bool,
    pub needs: Vec<FileNeeds>,
    /// Version names defined (`.gnu.version_d`), without the base (file name) entry.
    pub verdefs: Vec<String>,
    pub has_verdef: bool,
    /// Undefined symbols, their names packed in one buffer (a program has hundreds).
    undef: Vec<Undef>,
    undef_names: String,
    /// Version index → name, for the versions this file needs.
    need_names: Vec<(u16, String)>,
    /// Defined dynamic symbols by name (only when asked for: see [`parse`]).
    pub defined: HashMap<String, Vec<SymDef>>,
    /// Oldest Linux kernel supported, from `.note.ABI-tag`.
    pub abi_kernel: Option<[u32; 3]>,
}

impl ElfInfo {
    /// The undefined dynamic symbols, with the versions they ask for.
    pub fn undefined(&self) -> impl Iterator<Item = SymRef<'_>> + '_ {
        self.undef.iter().map(move |u| SymRef {
            name: self
                .undef_names
                .get(u.start as usize..(u.start + u.len) as usize)
                .unwrap_or(""),
            version: (u.version > 1)
                .then(|| {
                    self.need_names
                        .iter()
                        .find(|(i, _)| *i == u.version)
                        .map(|(_, n)| n.as_str())
                })
                .flatten(),
            weak: u.weak,
        })
    }
}

/// Whether bytes start like an ELF file.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// Parse an ELF file; the error says what is wrong in words. `defs`: also list the defined
/// dynamic symbols (only symbol checks need them, and they are most of the work).
pub fn parse(bytes: &[u8], defs: bool) -> Result<ElfInfo, Unreadable> {
    if !is_elf(bytes) {
        return Err(Unreadable::NotElf);
    }
    parse_text(bytes, defs)
}

fn parse_text(bytes: &[u8], defs: bool) -> Result<ElfInfo, Unreadable> {
    if bytes.len() < 52 {
        return Err(format!("truncated ELF header ({} bytes)", bytes.len()).into());
    }
    // goblin is well fuzzed, but a panic on one hostile file must not take the whole check down.
    let elf = std::panic::catch_unwind(|| Elf::parse(bytes))
        .map_err(|_| "malformed ELF (the parser gave up on it)".to_string())?
        .map_err(|e| format!("malformed ELF: {e}"))?;
    let h = &elf.header;
    let machine = Machine {
        is64: h.e_ident[header::EI_CLASS] == header::ELFCLASS64,
        little: h.e_ident[header::EI_DATA] == header::ELFDATA2LSB,
        machine: h.e_machine,
    };
    let kind = match h.e_type {
        ET_EXEC => Kind::Exec,
        ET_DYN => Kind::Dyn,
        t => Kind::Other(t),
    };
    let dynamic = elf.program_headers.iter().any(|p| p.p_type == PT_DYNAMIC);
    let interp = if elf.program_headers.iter().any(|p| p.p_type == PT_INTERP) {
        elf.interpreter
            .map(|s| s.trim_end_matches('\0').to_string())
            .or_else(|| Some(String::new()))
    } else {
        None
    };
    let flags_1 = elf.dynamic.as_ref().map(|d| d.info.flags_1).unwrap_or(0);
    let join = |v: &[&str]| (!v.is_empty()).then(|| v.join(":"));

    // Version index → (file, version name) for needs, and → version name for definitions.
    let str_at = |off: usize| elf.dynstrtab.get_at(off).unwrap_or("").to_string();
    let mut needs = Vec::new();
    let mut need_names: Vec<(u16, String)> = Vec::new();
    if let Some(vn) = &elf.verneed {
        for file in vn.iter() {
            let mut versions = Vec::new();
            for aux in file.iter() {
                let name = str_at(aux.vna_name);
                let index = aux.vna_other & 0x7fff;
                need_names.push((index, name.clone()));
                versions.push(VersionNeed {
                    name,
                    weak: aux.vna_flags & VER_FLG_WEAK != 0,
                    index,
                });
            }
            needs.push(FileNeeds {
                file: str_at(file.vn_file),
                versions,
            });
        }
    }
    let mut verdefs = Vec::new();
    let mut def_names: Vec<(u16, String)> = Vec::new();
    if let Some(vd) = &elf.verdef {
        for def in vd.iter() {
            if let Some(aux) = def.iter().next() {
                let name = str_at(aux.vda_name);
                def_names.push((def.vd_ndx, name.clone()));
                if def.vd_flags & VER_FLG_BASE == 0 {
                    verdefs.push(name);
                }
            }
        }
    }
    let lookup = |table: &[(u16, String)], idx: u16| {
        table
            .iter()
            .find(|(i, _)| *i == idx)
            .map(|(_, n)| n.clone())
    };

    let mut undef = Vec::new();
    let mut undef_names = String::new();
    let mut defined: HashMap<String, Vec<SymDef>> = HashMap::new();
    for (i, sym) in elf.dynsyms.iter().enumerate() {
        if i == 0 || sym.st_name == 0 {
            continue;
        }
        let name = elf.dynstrtab.get_at(sym.st_name).unwrap_or("");
        if name.is_empty() {
            continue;
        }
        let bind = sym.st_bind();
        let vs = elf.versym.as_ref().and_then(|v| v.get_at(i));
        let idx = vs.as_ref().map(|v| v.version()).unwrap_or(1);
        if sym.st_shndx == 0 {
            if bind != STB_GLOBAL && bind != STB_WEAK {
                continue;
            }
            undef.push(Undef {
                start: undef_names.len() as u32,
                len: name.len() as u32,
                version: if idx > 1 { idx } else { 0 },
                weak: bind == STB_WEAK,
            });
            undef_names.push_str(name);
        } else if defs {
            let ty = sym.st_type();
            if !matches!(bind, STB_GLOBAL | STB_WEAK | STB_GNU_UNIQUE)
                || ty == STT_SECTION
                || ty == STT_FILE
            {
                continue;
            }
            defined.entry(name.to_string()).or_default().push(SymDef {
                version: if idx > 1 {
                    lookup(&def_names, idx)
                } else {
                    None
                },
                hidden: vs.as_ref().is_some_and(|v| v.is_hidden()),
                ifunc: ty == STT_GNU_IFUNC,
            });
        }
    }

    let mut abi_kernel = None;
    if let Some(notes) = elf.iter_note_headers(bytes) {
        for note in notes.flatten() {
            if note.n_type == NT_GNU_ABI_TAG && note.name == "GNU" && note.desc.len() >= 16 {
                let word = |k: usize| {
                    let b = [
                        note.desc[k * 4],
                        note.desc[k * 4 + 1],
                        note.desc[k * 4 + 2],
                        note.desc[k * 4 + 3],
                    ];
                    if machine.little {
                        u32::from_le_bytes(b)
                    } else {
                        u32::from_be_bytes(b)
                    }
                };
                // Word 0 is the OS: 0 = Linux.
                if word(0) == 0 {
                    abi_kernel = Some([word(1), word(2), word(3)]);
                }
            }
        }
    }

    Ok(ElfInfo {
        machine,
        flags: h.e_flags,
        osabi: h.e_ident[header::EI_OSABI],
        kind,
        pie: flags_1 & DF_1_PIE != 0,
        interp,
        dynamic,
        soname: elf.soname.map(str::to_string),
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        rpath: join(&elf.rpaths),
        runpath: join(&elf.runpaths),
        nodeflib: flags_1 & DF_1_NODEFLIB != 0,
        has_verdef: elf.verdef.is_some(),
        needs,
        verdefs,
        undef,
        undef_names,
        need_names,
        defined,
        abi_kernel,
    })
}

/// Read what [`parse`] needs of an ELF file from a seekable reader: the headers, the segments
/// and sections the loader reads (interpreter, dynamic section, dynamic symbols and strings,
/// version tables, hash tables, notes), at their offsets in a zero-filled buffer of the file's
/// size. The rest — code and data, most of a library — is never read; a large zeroed
/// allocation is mapped lazily, so it costs nothing either. Ranges close to each other are read
/// in one go (they sit together at the start of real files). Files without section headers are
/// read whole.
pub fn read_sparse(r: &mut dyn imagewise_source::ReadSeek, size: u64) -> std::io::Result<Vec<u8>> {
    use goblin::elf::program_header::{ProgramHeader, PT_NOTE};
    use goblin::elf::section_header::*;
    use std::io::SeekFrom;
    /// Gaps up to this size between wanted ranges are read rather than skipped.
    const GAP: u64 = 16 << 10;
    let len = usize::try_from(size).unwrap_or(usize::MAX);
    let mut buf = vec![0u8; len];
    let mut fill = |buf: &mut [u8], off: u64, n: u64| -> std::io::Result<()> {
        let start = usize::try_from(off).unwrap_or(usize::MAX).min(buf.len());
        let end = start
            .saturating_add(usize::try_from(n).unwrap_or(usize::MAX))
            .min(buf.len());
        if start < end {
            r.seek(SeekFrom::Start(start as u64))?;
            r.read_exact(&mut buf[start..end])?;
        }
        Ok(())
    };
    let head = 4096.min(size);
    fill(&mut buf, 0, head)?;
    let Ok(h) = Elf::parse_header(&buf) else {
        return Ok(buf);
    };
    if h.e_shnum == 0 || h.e_shoff == 0 {
        fill(&mut buf, head, size - head)?;
        return Ok(buf);
    }
    let ctx = goblin::container::Ctx::new(
        if h.e_ident[header::EI_CLASS] == header::ELFCLASS64 {
            goblin::container::Container::Big
        } else {
            goblin::container::Container::Little
        },
        if h.e_ident[header::EI_DATA] == header::ELFDATA2LSB {
            goblin::container::Endian::Little
        } else {
            goblin::container::Endian::Big
        },
    );
    let phsize = u64::from(h.e_phnum) * u64::from(h.e_phentsize);
    let shsize = u64::from(h.e_shnum) * u64::from(h.e_shentsize);
    if h.e_phoff.saturating_add(phsize) > head {
        fill(&mut buf, h.e_phoff, phsize)?;
    }
    fill(&mut buf, h.e_shoff, shsize)?;
    let mut want: Vec<(u64, u64)> = Vec::new();
    if let Ok(phs) = ProgramHeader::parse(&buf, h.e_phoff as usize, h.e_phnum as usize, ctx) {
        for p in phs
            .iter()
            .filter(|p| matches!(p.p_type, PT_INTERP | PT_DYNAMIC | PT_NOTE))
        {
            want.push((p.p_offset, p.p_offset.saturating_add(p.p_filesz)));
        }
    }
    let Ok(shs) = SectionHeader::parse(&buf, h.e_shoff as usize, h.e_shnum as usize, ctx) else {
        fill(&mut buf, head, size - head)?;
        return Ok(buf);
    };
    let dynstr: Vec<usize> = shs
        .iter()
        .filter(|d| d.sh_type == SHT_DYNSYM)
        .map(|d| d.sh_link as usize)
        .collect();
    for (i, s) in shs.iter().enumerate() {
        let wanted = matches!(
            s.sh_type,
            SHT_DYNSYM
                | SHT_DYNAMIC
                | SHT_NOTE
                | SHT_HASH
                | SHT_GNU_HASH
                | SHT_GNU_VERSYM
                | SHT_GNU_VERDEF
                | SHT_GNU_VERNEED
        ) || i == usize::from(h.e_shstrndx)
            || dynstr.contains(&i);
        if wanted && s.sh_type != SHT_NOBITS {
            want.push((s.sh_offset, s.sh_offset.saturating_add(s.sh_size)));
        }
    }
    // Leave out what is read already, merge what is close, read each run once.
    let shend = h.e_shoff.saturating_add(shsize);
    want.retain(|&(a, b)| a < b && a < size && !(b <= head || (a >= h.e_shoff && b <= shend)));
    want.sort_unstable();
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for (a, b) in want {
        match runs.last_mut() {
            Some(last) if a <= last.1.saturating_add(GAP) => last.1 = last.1.max(b),
            _ => runs.push((a, b)),
        }
    }
    for (a, b) in runs {
        fill(&mut buf, a, b - a)?;
    }
    Ok(buf)
}

/// Split a version name into its family and number: `GLIBC_2.34` → (`GLIBC_`, [2, 34]),
/// `OPENSSL_1_1_1` → (`OPENSSL_`, [1, 1, 1]).
pub fn version_family(name: &str) -> Option<(&str, Vec<u32>)> {
    let at = name.find(|c: char| c.is_ascii_digit())?;
    let (family, number) = name.split_at(at);
    let parts: Option<Vec<u32>> = number.split(['.', '_']).map(|p| p.parse().ok()).collect();
    Some((family, parts?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_families() {
        assert_eq!(version_family("GLIBC_2.34"), Some(("GLIBC_", vec![2, 34])));
        assert_eq!(
            version_family("OPENSSL_1_1_1"),
            Some(("OPENSSL_", vec![1, 1, 1]))
        );
        assert_eq!(
            version_family("GLIBCXX_3.4.30"),
            Some(("GLIBCXX_", vec![3, 4, 30]))
        );
        assert_eq!(version_family("GLIBC_PRIVATE"), None);
    }

    #[test]
    fn not_elf_and_garbage() {
        assert!(parse(b"#!/bin/sh\n", true).is_err());
        assert!(parse(b"\x7fELF", true).is_err());
        let mut junk = b"\x7fELF\x02\x01\x01".to_vec();
        junk.resize(200, 0xff);
        assert!(parse(&junk, true).is_err());
    }

    #[test]
    fn reads_the_running_test_binary() {
        let exe = std::env::current_exe().unwrap_or_default();
        let bytes = std::fs::read(exe).unwrap_or_default();
        let info = parse(&bytes, true).expect("the test binary is ELF");
        assert!(info.dynamic);
        assert!(info.needed.iter().any(|n| n.starts_with("libc.")));
        assert!(info
            .needs
            .iter()
            .any(|f| f.versions.iter().any(|v| v.name.starts_with("GLIBC_2."))));
        assert!(info
            .undefined()
            .any(|s| s.version.is_some_and(|v| v.starts_with("GLIBC_"))));
        assert!(info.undefined().any(|s| s.name == "malloc"));
    }
}
