//! Architectures and their three spellings: Debian's (`amd64`, `armhf`, `ppc64el`; what reports
//! print), the kernel's `uname -m` (`x86_64`, `armv7l`, `ppc64le`; what ELF people say) and
//! OCI's, which are Go's `GOARCH` with a variant (`amd64`, `arm` + `v7`, `ppc64le`; image-spec
//! `config.md` and the platform object of `image-index.md`). ELF machine numbers are from the
//! gABI; the ARM hard-float flag `EF_ARM_ABI_FLOAT_HARD` (0x400) from the ARM ELF ABI.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An architecture. Serialized (and displayed) in Debian's spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    Amd64,
    /// x86-64 instructions with 32-bit pointers.
    X32,
    I386,
    Arm64,
    /// 32-bit ARM, hard-float (ARMv7).
    Armhf,
    /// 32-bit ARM, soft-float (ARMv5/v6).
    Armel,
    Riscv64,
    /// 64-bit POWER, little endian.
    Ppc64el,
    /// 64-bit POWER, big endian.
    Ppc64,
    Powerpc,
    S390x,
    Mips64el,
    Mipsel,
    Mips,
    Loong64,
    /// Anything else, in the spelling it was met in (`elf-machine-N` for an ELF machine number
    /// without a name here).
    Other(String),
}

/// The ELF header fields that decide an architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ElfMachine {
    /// `e_machine`.
    pub machine: u16,
    /// `ELFCLASS64`.
    pub is64: bool,
    /// `ELFDATA2LSB`.
    pub little: bool,
    /// `e_flags` (the ARM float ABI lives there).
    pub flags: u32,
}

const EM_386: u16 = 3;
const EM_MIPS: u16 = 8;
const EM_PPC: u16 = 20;
const EM_PPC64: u16 = 21;
const EM_S390: u16 = 22;
const EM_ARM: u16 = 40;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const EM_RISCV: u16 = 243;
const EM_LOONGARCH: u16 = 258;
const EF_ARM_ABI_FLOAT_HARD: u32 = 0x400;

/// (arch, Debian, uname -m, OCI architecture, OCI variant).
const NAMES: &[(Arch, &str, &str, &str, Option<&str>)] = &[
    (Arch::Amd64, "amd64", "x86_64", "amd64", None),
    (Arch::X32, "x32", "x86_64", "amd64", None),
    (Arch::I386, "i386", "i686", "386", None),
    (Arch::Arm64, "arm64", "aarch64", "arm64", None),
    (Arch::Armhf, "armhf", "armv7l", "arm", Some("v7")),
    (Arch::Armel, "armel", "armv5tel", "arm", Some("v5")),
    (Arch::Riscv64, "riscv64", "riscv64", "riscv64", None),
    (Arch::Ppc64el, "ppc64el", "ppc64le", "ppc64le", None),
    (Arch::Ppc64, "ppc64", "ppc64", "ppc64", None),
    (Arch::Powerpc, "powerpc", "ppc", "ppc", None),
    (Arch::S390x, "s390x", "s390x", "s390x", None),
    (Arch::Mips64el, "mips64el", "mips64", "mips64le", None),
    (Arch::Mipsel, "mipsel", "mips", "mipsle", None),
    (Arch::Mips, "mips", "mips", "mips", None),
    (Arch::Loong64, "loong64", "loongarch64", "loong64", None),
];

impl Arch {
    fn row(
        &self,
    ) -> Option<&'static (
        Arch,
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
    )> {
        NAMES.iter().find(|r| &r.0 == self)
    }

    /// Debian's name (`amd64`, `arm64`, `armhf`, `ppc64el`): what every report prints.
    pub fn debian(&self) -> &str {
        match self {
            Arch::Other(s) => s,
            a => a.row().map_or("", |r| r.1),
        }
    }

    /// The kernel's name, as `uname -m` prints it (`x86_64`, `aarch64`, `armv7l`).
    pub fn uname(&self) -> &str {
        match self {
            Arch::Other(s) => s,
            a => a.row().map_or("", |r| r.2),
        }
    }

    /// OCI's architecture and variant (`amd64`; `arm` + `v7`; `arm64`).
    pub fn oci(&self) -> (&str, Option<&str>) {
        match self {
            Arch::Other(s) => (s, None),
            a => a.row().map_or(("", None), |r| (r.3, r.4)),
        }
    }

    /// From an ELF header; machines without a name here become `elf-machine-N`.
    pub fn from_elf(m: ElfMachine) -> Arch {
        match (m.machine, m.is64, m.little) {
            (EM_X86_64, true, _) => Arch::Amd64,
            (EM_X86_64, false, _) => Arch::X32,
            (EM_386, _, _) => Arch::I386,
            (EM_AARCH64, true, true) => Arch::Arm64,
            (EM_ARM, false, true) if m.flags & EF_ARM_ABI_FLOAT_HARD != 0 => Arch::Armhf,
            (EM_ARM, false, true) => Arch::Armel,
            (EM_RISCV, true, _) => Arch::Riscv64,
            (EM_PPC64, true, true) => Arch::Ppc64el,
            (EM_PPC64, true, false) => Arch::Ppc64,
            (EM_PPC, false, _) => Arch::Powerpc,
            (EM_S390, true, _) => Arch::S390x,
            (EM_MIPS, true, true) => Arch::Mips64el,
            (EM_MIPS, false, true) => Arch::Mipsel,
            (EM_MIPS, _, false) => Arch::Mips,
            (EM_LOONGARCH, true, _) => Arch::Loong64,
            (other, _, _) => Arch::Other(format!("elf-machine-{other}")),
        }
    }

    /// From OCI's architecture and variant (`arm` + `v6` is soft-float `armel`; `arm` without
    /// a variant is taken as `v7`, as the image-spec's platform list does).
    pub fn from_oci(arch: &str, variant: Option<&str>) -> Arch {
        match (arch, variant) {
            ("arm", Some("v5" | "v6")) => Arch::Armel,
            ("arm", _) => Arch::Armhf,
            _ => NAMES
                .iter()
                .find(|r| r.3 == arch && r.0 != Arch::X32)
                .map_or_else(|| Arch::Other(arch.to_string()), |r| r.0.clone()),
        }
    }

    /// From any of the three spellings (Debian first, then `uname -m`, then OCI): `amd64`,
    /// `x86_64`, `aarch64`, `arm64`, `armv7l`, `386`, `ppc64le` …; `arm/v7` with a variant.
    pub fn parse_any(s: &str) -> Option<Arch> {
        if let Some((a, v)) = s.split_once('/') {
            return NAMES
                .iter()
                .any(|r| r.3 == a)
                .then(|| Arch::from_oci(a, Some(v)));
        }
        let s = match s {
            "x86-64" => "x86_64",
            "i486" | "i586" | "x86" => "i686",
            "armv7" | "armv7hl" => "armv7l",
            "armv6l" => "armv5tel",
            "powerpc64le" => "ppc64le",
            other => other,
        };
        NAMES
            .iter()
            .find(|r| r.1 == s)
            .or_else(|| {
                NAMES
                    .iter()
                    .find(|r| r.2 == s && r.0 != Arch::X32 && r.0 != Arch::Mips)
            })
            .or_else(|| NAMES.iter().find(|r| r.3 == s && r.0 != Arch::X32))
            .map(|r| r.0.clone())
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.debian())
    }
}

impl std::str::FromStr for Arch {
    type Err = crate::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::parse_any(s).ok_or_else(|| {
            crate::UnknownName::new(
                "architecture",
                s,
                "a Debian, uname or OCI name such as amd64, x86_64 or arm64",
            )
        })
    }
}

impl Serialize for Arch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.debian())
    }
}

impl<'de> Deserialize<'de> for Arch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Arch::parse_any(&s).unwrap_or(Arch::Other(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_round_trips() {
        for (a, deb, uname, oci, variant) in NAMES {
            assert_eq!(a.debian(), *deb);
            assert_eq!(Arch::parse_any(deb).as_ref(), Some(a), "{deb}");
            // `uname -m` does not tell x32 from amd64, nor mips from mipsel: those spellings
            // name the first of each pair.
            let shared_uname = NAMES.iter().filter(|r| r.2 == *uname).count() > 1;
            if !shared_uname || matches!(a, Arch::Amd64 | Arch::Mips) {
                assert_eq!(Arch::parse_any(uname).as_ref(), Some(a), "{uname}");
            }
            if *a != Arch::X32 {
                assert_eq!(Arch::from_oci(oci, *variant), *a, "{oci}");
            }
            assert_eq!(a.uname(), *uname);
            assert_eq!(a.oci(), (*oci, *variant));
        }
    }

    #[test]
    fn elf_machines_and_oci_variants() {
        let m = |machine, is64, little, flags| ElfMachine {
            machine,
            is64,
            little,
            flags,
        };
        assert_eq!(Arch::from_elf(m(EM_X86_64, true, true, 0)), Arch::Amd64);
        assert_eq!(
            Arch::from_elf(m(EM_ARM, false, true, 0x5000400)),
            Arch::Armhf
        );
        assert_eq!(
            Arch::from_elf(m(EM_ARM, false, true, 0x5000200)),
            Arch::Armel
        );
        assert_eq!(Arch::from_elf(m(EM_PPC64, true, false, 0)), Arch::Ppc64);
        assert_eq!(
            Arch::from_elf(m(9999, true, true, 0)).to_string(),
            "elf-machine-9999"
        );
        assert_eq!(Arch::from_oci("arm", Some("v6")), Arch::Armel);
        assert_eq!(Arch::from_oci("arm", None), Arch::Armhf);
        assert_eq!(Arch::from_oci("arm64", Some("v8")), Arch::Arm64);
        assert_eq!(Arch::parse_any("arm/v7"), Some(Arch::Armhf));
        assert_eq!(Arch::parse_any("386"), Some(Arch::I386));
        assert_eq!(Arch::parse_any("sparc"), None);
        assert_eq!(
            serde_json::to_string(&Arch::Ppc64el).unwrap(),
            "\"ppc64el\""
        );
        let back: Arch = serde_json::from_str("\"x86_64\"").unwrap();
        assert_eq!(back, Arch::Amd64);
    }
}
