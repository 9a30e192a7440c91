//! Will this ELF binary run on that image? The dynamic loader's rules followed against the
//! image's own files, without running anything:
//!
//! - class, byte order and machine against the image's architecture; static and static-pie
//!   binaries need nothing more;
//! - the `PT_INTERP` loader present in the image (symlinks followed inside it), glibc or musl;
//! - every `DT_NEEDED`, transitively and breadth-first, found as that loader finds it: for glibc
//!   `DT_RPATH` (of the object and the objects that loaded it, when it has no `DT_RUNPATH`),
//!   `DT_RUNPATH`, `/etc/ld.so.cache`, then the directories built into the image's `ld.so`;
//!   `$ORIGIN`, `$LIB` and `$PLATFORM` expanded; files of another class or machine skipped;
//!   for musl the rpath chain, then `/etc/ld-musl-ARCH.path` or its default path;
//! - glibc: every `DT_VERNEED` version against the definitions of the library that resolved;
//! - musl (whose `ldd` relocates), and glibc with [`Options::symbols`]: every non-weak
//!   undefined symbol defined by some loaded object;
//! - the ABI note's oldest kernel against the image's kernel, when it ships one.
//!
//! A [`Target`] indexes one image once (its cache, loaders, parsed libraries) so that checking
//! many binaries against it is cheap.

mod app;
mod elf;
mod error;
mod ldcache;
mod loader;
mod report;
mod verdict;
mod view;

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use imagewise_source::{Format, ImageTree};

pub use app::{AppBinary, AppSet, Placement, DEFAULT_PATH};
pub use elf::{is_elf, parse as parse_elf, read_sparse, ElfInfo, Kind, Machine};
pub use error::{Error, Unreadable};
pub use ldcache::{CacheEntry, LdCache};
pub use report::{check_all, CheckReport, CheckResult, Skipped, Summary, TargetSummary, TopReason};
pub use verdict::{Code, How, Loaded, Reason, Verdict};
pub use view::{Overlay, MAX_ELF};

use view::{Found, Side, View};

/// What to check beyond what the loader's `--list` mode checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Every non-weak undefined symbol must be defined somewhere (as `ldd -r`).
    pub symbols: bool,
}

/// Which C library a loader or image has (never `None` here: a target without one has no
/// `libc` at all).
pub use imagewise_types::LibcKind as Libc;

/// The glibc loader path for a machine (`sysdeps/*/ldsodefs.h`, `gnu/lib-names.h`).
fn glibc_loader(m: Machine, e_flags: u32) -> Option<&'static str> {
    use goblin::elf::header::*;
    Some(match (m.machine, m.is64, m.little) {
        (EM_X86_64, true, _) => "/lib64/ld-linux-x86-64.so.2",
        (EM_X86_64, false, _) => "/libx32/ld-linux-x32.so.2",
        (EM_386, false, _) => "/lib/ld-linux.so.2",
        (EM_AARCH64, true, true) => "/lib/ld-linux-aarch64.so.1",
        (EM_ARM, false, _) if e_flags & 0x400 != 0 => "/lib/ld-linux-armhf.so.3",
        (EM_ARM, false, _) => "/lib/ld-linux.so.3",
        (EM_PPC64, true, true) => "/lib64/ld64.so.2",
        (EM_PPC64, true, false) => "/lib64/ld64.so.1",
        (EM_S390, true, _) => "/lib/ld64.so.1",
        (EM_RISCV, true, _) => "/lib/ld-linux-riscv64-lp64d.so.1",
        (258, true, _) => "/lib64/ld-linux-loongarch-lp64d.so.1",
        _ => return None,
    })
}

/// musl's loader path for a machine (`LDSO_ARCH`).
fn musl_loader(m: Machine, e_flags: u32) -> Option<String> {
    use goblin::elf::header::*;
    let arch = match (m.machine, m.is64, m.little) {
        (EM_X86_64, true, _) => "x86_64",
        (EM_X86_64, false, _) => "x32",
        (EM_386, false, _) => "i386",
        (EM_AARCH64, true, true) => "aarch64",
        (EM_ARM, false, _) if e_flags & 0x400 != 0 => "armhf",
        (EM_ARM, false, _) => "arm",
        (EM_PPC64, true, true) => "powerpc64le",
        (EM_S390, true, _) => "s390x",
        (EM_RISCV, true, _) => "riscv64",
        _ => return None,
    };
    Some(format!("/lib/ld-musl-{arch}.so.1"))
}

/// Whether a kernel of machine `host` runs binaries of machine `bin` natively.
fn runs_natively(bin: Machine, host: Machine) -> bool {
    use goblin::elf::header::*;
    bin == host || (host.machine == EM_X86_64 && host.is64 && bin.machine == EM_386)
}

/// A parsed file, shared between the checks that load it.
pub(crate) type Parsed = Arc<Result<ElfInfo, Unreadable>>;

/// One image, indexed for checking binaries against it.
pub struct Target {
    /// The reference as given.
    pub reference: String,
    tree: Arc<ImageTree>,
    /// The image's own architecture (from its shell, init or loader binaries, or its config).
    pub arch: Option<Machine>,
    /// `e_flags` of the file the architecture was read from (the ARM float ABI is there).
    arch_flags: u32,
    /// The C library of its native loader.
    pub libc: Option<Libc>,
    /// The newest kernel it ships (`/lib/modules`, `/boot/vmlinuz-*`), as text and numbers.
    pub kernel: Option<(String, [u32; 3])>,
    /// `/etc/ld.so.cache`: absent (`Ok(None)`), parsed, or damaged (the loader then ignores it).
    pub ld_cache: Result<Option<LdCache>, Unreadable>,
    /// Directories named by `/etc/ld.so.conf` and its includes (for hints only: the loader
    /// itself reads the cache, never this file).
    pub conf_dirs: Vec<String>,
    /// What is checked beyond the loader's list mode.
    pub opts: Options,
    /// Parse defined symbols of libraries (for symbol checks: `--symbols`, musl).
    defs: bool,
    files: Mutex<HashMap<String, Parsed>>,
    loaders: Mutex<HashMap<String, Arc<loader::GlibcDirs>>>,
    releases: Mutex<HashMap<String, Option<String>>>,
    /// Whole bytes of the loaders and C libraries of a layered image, kept from the one pass.
    raw: HashMap<String, Arc<Vec<u8>>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("reference", &self.reference)
            .field("arch", &self.arch.map(Machine::name))
            .field("libc", &self.libc)
            .field("kernel", &self.kernel)
            .finish()
    }
}

/// Files whose machine tells an image's architecture, in order of trust.
///
/// This is not facts' architecture vote (`inspect` reads up to 2000 program headers and
/// prefers the OCI configuration): a check needs the machine the image's own loader and shell
/// run as, which one header says, and reading two thousand would make every `check --on` pay
/// for a census. Both name the result through [`imagewise_types::Arch::from_elf`] with the
/// real `e_flags`, and a CI test holds `inspect` and `check` to the same string on the
/// fixtures of both architectures.
const ARCH_PROBES: &[&str] = &[
    "/bin/sh",
    "/usr/bin/env",
    "/bin/busybox",
    "/sbin/init",
    "/usr/bin/ls",
    "/bin/ls",
];

impl Target {
    /// Index an opened image.
    pub fn new(reference: &str, tree: Arc<ImageTree>, opts: Options) -> Target {
        let none = Overlay::None;
        let view = View {
            target: &tree,
            overlay: &none,
        };
        let mut arch = None;
        let mut arch_flags = 0;
        for p in ARCH_PROBES {
            if let Ok(f) = view.resolve(p) {
                if let Some(h) = read_head(&tree, &f.path) {
                    arch = Some(h.0);
                    arch_flags = h.1;
                    break;
                }
            }
        }
        if arch.is_none() {
            let platform = tree.info().platform.as_deref();
            arch = platform.and_then(machine_of_platform);
            // 32-bit ARM in a config is hard-float unless its variant says v5 or v6 (as
            // `Arch::from_oci` reads it).
            if platform.is_some_and(|p| p.split('/').nth(1) == Some("arm"))
                && !platform.is_some_and(|p| p.ends_with("/v5") || p.ends_with("/v6"))
            {
                arch_flags = 0x400;
            }
        }
        // No shell and no config: take the first loader present.
        if arch.is_none() {
            for (m, fl) in known_machines() {
                let present = |p: Option<String>| p.is_some_and(|p| view.resolve(&p).is_ok());
                if present(glibc_loader(m, fl).map(str::to_string)) || present(musl_loader(m, fl)) {
                    arch = Some(m);
                    arch_flags = fl;
                    break;
                }
            }
        }
        let libc = arch.and_then(|m| {
            if glibc_loader(m, arch_flags).is_some_and(|p| view.resolve(p).is_ok()) {
                Some(Libc::Glibc)
            } else if musl_loader(m, arch_flags).is_some_and(|p| view.resolve(&p).is_ok()) {
                Some(Libc::Musl)
            } else {
                None
            }
        });
        let ld_cache = match view.resolve("/etc/ld.so.cache") {
            Err(_) => Ok(None),
            Ok(f) => view
                .read(&f)
                .and_then(|b| LdCache::parse(&b))
                .map(Some)
                .map_err(|e| format!("/etc/ld.so.cache: {e}").into()),
        };
        let conf_dirs = loader::conf_dirs(&view);
        let defs = opts.symbols || libc == Some(Libc::Musl);
        // Layered images read a file by decompressing its layer up to it: read every file that
        // could be a library in one pass instead, once.
        let mut files = HashMap::new();
        let mut raw = HashMap::new();
        if !matches!(
            tree.info().format,
            Format::Dir | Format::Disk | Format::Snapshot
        ) {
            let _ = tree.for_each_file(
                |e| {
                    e.size >= 52
                        && e.size <= MAX_ELF
                        && e.path.rsplit('/').next().is_some_and(|n| n.contains(".so"))
                },
                |e, r| {
                    let mut bytes = Vec::with_capacity(e.size as usize);
                    if r.take(MAX_ELF).read_to_end(&mut bytes).is_ok() && elf::is_elf(&bytes) {
                        let name = e.path.rsplit('/').next().unwrap_or("");
                        if name.starts_with("ld-")
                            || name.starts_with("libc.")
                            || name.starts_with("libc-")
                        {
                            raw.insert(e.path.clone(), Arc::new(bytes.clone()));
                        }
                        let p: Parsed = Arc::new(elf::parse(&bytes, defs));
                        files.insert(e.path.clone(), p);
                    }
                    Ok(())
                },
            );
        }
        Target {
            reference: reference.to_string(),
            kernel: kernel_of(&tree),
            opts,
            defs,
            arch,
            arch_flags,
            libc,
            ld_cache,
            conf_dirs,
            tree,
            files: Mutex::new(files),
            loaders: Mutex::new(HashMap::new()),
            releases: Mutex::new(HashMap::new()),
            raw,
        }
    }

    /// The release of the image's own glibc (`2.36`): its `libc.so.6` as its loader finds it
    /// (the cache, then the loader's directories), read from the library's banner.
    pub fn glibc_version(&self) -> Option<String> {
        let m = self.arch?;
        let none = Overlay::None;
        let view = View {
            target: &self.tree,
            overlay: &none,
        };
        let loader = view.resolve(glibc_loader(m, 0)?).ok()?;
        let flags = [1, ldcache::default_flags(m, 0)];
        let cached = match &self.ld_cache {
            Ok(Some(c)) => c.lookup("libc.so.6", &flags).map(|e| e.path.clone()),
            _ => None,
        };
        let dirs = self.glibc_dirs(&view, &loader, m);
        let libc = cached
            .into_iter()
            .chain(dirs.system.iter().map(|d| view::join(d, "libc.so.6")))
            .find_map(|p| view.resolve(&p).ok())?;
        self.glibc_release(&view, &libc)
    }

    /// The architecture as every report spells it, as `inspect` derives it from an ELF header
    /// (`armel` and `armhf` told apart by the float ABI in `e_flags`).
    pub fn architecture(&self) -> Option<imagewise_types::Arch> {
        let m = self.arch?;
        Some(imagewise_types::Arch::from_elf(
            imagewise_types::ElfMachine {
                machine: m.machine,
                is64: m.is64,
                little: m.little,
                flags: self.arch_flags,
            },
        ))
    }

    /// Whether binaries checked against this target need their defined symbols parsed.
    pub fn needs_symbols(&self) -> bool {
        self.defs
    }

    pub fn tree(&self) -> &ImageTree {
        &self.tree
    }

    /// Parse a file of the target, once.
    pub(crate) fn parsed(&self, view: &View, f: &Found) -> Parsed {
        if f.side == Side::App {
            return Arc::new(view.read_elf(f).and_then(|b| elf::parse(&b, self.defs)));
        }
        if let Some(p) = self.files.lock().ok().and_then(|m| m.get(&f.path).cloned()) {
            return p;
        }
        let p: Parsed = Arc::new(view.read_elf(f).and_then(|b| elf::parse(&b, self.defs)));
        if let Ok(mut m) = self.files.lock() {
            m.insert(f.path.clone(), p.clone());
        }
        p
    }

    /// What a glibc loader file says about its built-in directories, once per loader.
    pub(crate) fn glibc_dirs(&self, view: &View, f: &Found, m: Machine) -> Arc<loader::GlibcDirs> {
        if let Some(d) = self
            .loaders
            .lock()
            .ok()
            .and_then(|l| l.get(&f.path).cloned())
        {
            return d;
        }
        let bytes = self.raw_bytes(view, f);
        let d = Arc::new(loader::GlibcDirs::from_loader(&bytes, m));
        if let Ok(mut l) = self.loaders.lock() {
            l.insert(f.path.clone(), d.clone());
        }
        d
    }

    /// A file's whole bytes: from the layered image's pass when kept there.
    fn raw_bytes(&self, view: &View, f: &Found) -> Vec<u8> {
        match self.raw.get(&f.path) {
            Some(b) if f.side == Side::Target => b.as_ref().clone(),
            _ => view.read(f).unwrap_or_default(),
        }
    }

    /// The release of a glibc `libc.so.6` (`2.31`), from its banner ("… release version 2.31"):
    /// its newest symbol version can be older (2.31 added none).
    pub(crate) fn glibc_release(&self, view: &View, f: &Found) -> Option<String> {
        if let Some(r) = self
            .releases
            .lock()
            .ok()
            .and_then(|m| m.get(&f.path).cloned())
        {
            return r;
        }
        let r = imagewise_facts::glibc_release(&self.raw_bytes(view, f));
        if let Ok(mut m) = self.releases.lock() {
            m.insert(f.path.clone(), r.clone());
        }
        r
    }

    /// Check one binary: `info` is the parsed file, `placed` where it sits in the target (its
    /// `$ORIGIN`), `overlay` the application files placed into the target around it.
    pub fn check(&self, info: &ElfInfo, placed: &str, overlay: &Overlay) -> Verdict {
        loader::check(self, info, placed, placed, overlay)
    }
}

pub(crate) use imagewise_facts::find_bytes;

/// Every machine a loader is known for, to recognise an image by its loader.
fn known_machines() -> Vec<(Machine, u32)> {
    use goblin::elf::header::*;
    let m = |machine, is64, little| Machine {
        machine,
        is64,
        little,
    };
    vec![
        (m(EM_X86_64, true, true), 0),
        (m(EM_AARCH64, true, true), 0),
        (m(EM_ARM, false, true), 0x400),
        (m(EM_386, false, true), 0),
        (m(EM_PPC64, true, true), 0),
        (m(EM_S390, true, false), 0),
        (m(EM_RISCV, true, true), 0),
    ]
}

/// OCI `os/arch[/variant]` to a machine.
fn machine_of_platform(p: &str) -> Option<Machine> {
    use goblin::elf::header::*;
    let arch = p.split('/').nth(1)?;
    let (machine, is64, little) = match arch {
        "amd64" => (EM_X86_64, true, true),
        "arm64" => (EM_AARCH64, true, true),
        "arm" => (EM_ARM, false, true),
        "386" => (EM_386, false, true),
        "ppc64le" => (EM_PPC64, true, true),
        "s390x" => (EM_S390, true, false),
        "riscv64" => (EM_RISCV, true, true),
        _ => return None,
    };
    Some(Machine {
        machine,
        is64,
        little,
    })
}

/// The machine and flags from the first bytes of a file in the tree.
fn read_head(tree: &ImageTree, path: &str) -> Option<(Machine, u32)> {
    let mut buf = [0u8; 64];
    let mut r = tree.open(path).ok()?;
    r.read_exact(&mut buf).ok()?;
    let h = goblin::elf::Elf::parse_header(&buf).ok()?;
    Some((
        Machine {
            is64: h.e_ident[goblin::elf::header::EI_CLASS] == goblin::elf::header::ELFCLASS64,
            little: h.e_ident[goblin::elf::header::EI_DATA] == goblin::elf::header::ELFDATA2LSB,
            machine: h.e_machine,
        },
        h.e_flags,
    ))
}

/// The newest kernel an image ships (`/boot/vmlinuz-*`, `/lib/modules/*`, `/usr/lib/modules/*`).
fn kernel_of(tree: &ImageTree) -> Option<(String, [u32; 3])> {
    // The releases `inspect` finds; the newest by its leading numbers.
    imagewise_facts::kernel_releases(tree)
        .into_iter()
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        .filter_map(|r| {
            let mut parts = r
                .split(|c: char| !c.is_ascii_digit())
                .take(3)
                .map(|p| p.parse::<u32>().ok());
            let v = [
                parts.next().flatten()?,
                parts.next().flatten().unwrap_or(0),
                parts.next().flatten().unwrap_or(0),
            ];
            Some((r, v))
        })
        .max_by(|a, b| a.1.cmp(&b.1))
}
