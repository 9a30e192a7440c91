//! What ELF headers tell about an image: each binary's machine (named as Debian names
//! architectures), whether it is dynamic, and the symbol versions a C library defines. Parsing
//! by goblin; the machine numbers and ARM float-ABI flag from the ELF gABI and the ARM ELF ABI.

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::program_header::{ProgramHeader, PT_INTERP};
use goblin::elf::{header, Elf};
use imagewise_types::{Arch, ElfMachine};

/// The leading bytes read of each sampled binary: header plus program headers and interpreter.
pub(crate) const HEAD_BYTES: u64 = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ElfHead {
    /// Debian architecture name (`amd64`, `arm64`, …) or `elf-machine-N` for others.
    pub arch: String,
    /// The program interpreter (`PT_INTERP`), for dynamically linked executables.
    pub interp: Option<String>,
}

/// Parse the start of a file as ELF; `None` when it is not ELF.
pub(crate) fn head(bytes: &[u8]) -> Option<ElfHead> {
    if bytes.len() < 52 || &bytes[..4] != b"\x7fELF" {
        return None;
    }
    let h = Elf::parse_header(bytes).ok()?;
    let is64 = h.e_ident[header::EI_CLASS] == header::ELFCLASS64;
    let little = h.e_ident[header::EI_DATA] == header::ELFDATA2LSB;
    let arch = Arch::from_elf(ElfMachine {
        machine: h.e_machine,
        is64,
        little,
        flags: h.e_flags,
    })
    .to_string();
    let ctx = Ctx::new(
        if is64 {
            Container::Big
        } else {
            Container::Little
        },
        if little { Endian::Little } else { Endian::Big },
    );
    let mut interp = None;
    let phoff = usize::try_from(h.e_phoff).ok()?;
    let phnum = usize::from(h.e_phnum);
    let entsize = usize::from(h.e_phentsize).max(1);
    // Only what lies within the bytes read: a header table further in is simply not seen.
    if phoff > 0 && phnum > 0 && phoff.saturating_add(phnum * entsize) <= bytes.len() {
        if let Ok(phs) = ProgramHeader::parse(bytes, phoff, phnum, ctx) {
            if let Some(ph) = phs.iter().find(|p| p.p_type == PT_INTERP) {
                let start = usize::try_from(ph.p_offset).unwrap_or(usize::MAX);
                let len = usize::try_from(ph.p_filesz).unwrap_or(0);
                if let Some(s) = bytes.get(start..start.saturating_add(len)) {
                    let s = s.split(|&b| b == 0).next().unwrap_or(s);
                    interp = Some(String::from_utf8_lossy(s).into_owned());
                }
            }
        }
    }
    Some(ElfHead { arch, interp })
}

/// The `GLIBC_x.y[.z]` symbol versions a library defines (its `.gnu.version_d`), sorted.
pub(crate) fn glibc_versions_defined(bytes: &[u8]) -> Vec<String> {
    let Ok(elf) = Elf::parse(bytes) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    if let Some(vd) = &elf.verdef {
        for def in vd.iter() {
            for aux in def.iter() {
                if let Some(name) = elf.dynstrtab.get_at(aux.vda_name) {
                    if name.starts_with("GLIBC_") && parse_dotted(&name[6..]).is_some() {
                        out.push(name.to_string());
                    }
                }
            }
        }
    }
    out.sort_by_key(|v| parse_dotted(&v[6..]));
    out.dedup();
    out
}

/// `2.34` → [2, 34]; `None` unless all parts are numbers.
pub(crate) fn parse_dotted(s: &str) -> Option<Vec<u32>> {
    s.split('.').map(|p| p.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_elf_or_truncated() {
        assert_eq!(head(b"#!/bin/sh\n"), None);
        assert_eq!(head(b"\x7fELF"), None);
        let mut junk = b"\x7fELF".to_vec();
        junk.resize(64, 0xff);
        // Garbage after the magic is either refused or read without a panic.
        let _ = head(&junk);
    }
}
