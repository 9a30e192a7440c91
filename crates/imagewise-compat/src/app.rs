//! The application side: which ELF files to check and where each would sit on a target.
//!
//! - a bundle (a directory, or one file) is placed whole at a mount point (`/opt/app` unless told
//!   otherwise): its binaries find its own libraries through `$ORIGIN` or absolute paths there;
//! - an image's binaries are placed one at a time at their own paths, alone — the question is
//!   whether that binary, copied onto the target, runs with the target's libraries.

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::Arc;

use imagewise_source::{Entry, EntryKind, Format, ImageTree};

use crate::elf::{self, ElfInfo, Kind};
use crate::view::{dirname, join, Overlay, View, MAX_ELF};
use crate::{Error, Target, Unreadable, Verdict};

/// The `PATH` an image runs its command with when its config names none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One ELF file of the application.
#[derive(Debug, Clone)]
pub struct AppBinary {
    /// As reported: the path inside the bundle or image (or the file's name).
    pub path: String,
    /// Where it sits on a target, before the target's symlinks are applied.
    pub placed: String,
    pub info: Arc<Result<ElfInfo, Unreadable>>,
}

/// How the application's files are placed onto a target.
#[derive(Clone)]
pub enum Placement {
    /// Everything at `at`.
    Bundle { at: String, tree: Arc<ImageTree> },
    /// One file, `at` being its path on the target.
    File { at: String },
    /// Each binary alone at its own path.
    Own,
}

/// The binaries to check and how they are placed.
#[derive(Clone)]
pub struct AppSet {
    pub binaries: Vec<AppBinary>,
    /// ELF files left out (relocatable objects, core files), with why.
    pub skipped: Vec<(String, String)>,
    pub placement: Placement,
}

impl AppSet {
    /// One ELF file's bytes, placed at `at/NAME`.
    pub fn file(name: &str, bytes: &[u8], at: &str, defs: bool) -> AppSet {
        let placed = join(at, name);
        let info = elf::parse(bytes, defs);
        let mut set = AppSet {
            binaries: Vec::new(),
            skipped: Vec::new(),
            placement: Placement::File { at: placed.clone() },
        };
        match &info {
            Ok(i) if matches!(i.kind, Kind::Other(_)) => {
                set.skipped.push((name.to_string(), not_loadable(i)));
            }
            _ => set.binaries.push(AppBinary {
                path: name.to_string(),
                placed,
                info: Arc::new(info),
            }),
        }
        set
    }

    /// Every ELF file of a directory tree, the tree placed at `at`.
    pub fn bundle(tree: Arc<ImageTree>, at: &str, defs: bool) -> Result<AppSet, Error> {
        let at = at.trim_end_matches('/').to_string();
        let (binaries, skipped) = collect(
            &tree,
            defs,
            loadable_name,
            |p| format!("{at}{p}"),
            |p| p.trim_start_matches('/').to_string(),
        )?;
        Ok(AppSet {
            binaries,
            skipped,
            placement: Placement::Bundle { at, tree },
        })
    }

    /// An image's binaries: every ELF under `paths`, or when none are given, the entrypoint /
    /// command (through a script's `#!` interpreter) and every ELF directly in its `PATH`
    /// directories.
    pub fn image(tree: &ImageTree, paths: &[String], defs: bool) -> Result<AppSet, Error> {
        let mut roots: Vec<String> = Vec::new();
        let mut singles: BTreeSet<String> = BTreeSet::new();
        let mut flat: Vec<String> = Vec::new();
        if paths.is_empty() {
            let (command, path_var) = command_of(tree);
            let search: Vec<&str> = path_var.split(':').filter(|d| d.starts_with('/')).collect();
            if let Some(cmd) = command {
                if let Some(p) = find_command(tree, &cmd, &search) {
                    singles.insert(p);
                }
            }
            for d in search {
                if let Ok(e) = tree.resolve(d, true) {
                    if e.kind == EntryKind::Dir && !flat.contains(&e.path) {
                        flat.push(e.path.clone());
                    }
                }
            }
        } else {
            for p in paths {
                let e = tree.resolve(p, true).map_err(|source| Error::Path {
                    path: p.clone(),
                    source,
                })?;
                roots.push(e.path.clone());
            }
        }
        // A file named itself (the command, a --path) is read whatever its mode; in directories
        // only what could be a program or library.
        let under = |e: &Entry| {
            singles.contains(&e.path)
                || roots.contains(&e.path)
                || (loadable_name(e)
                    && (flat.iter().any(|d| dirname(&e.path) == d)
                        || roots.iter().any(|r| {
                            r == "/"
                                || (e.path.starts_with(r.as_str())
                                    && e.path.as_bytes().get(r.len()) == Some(&b'/'))
                        })))
        };
        let (binaries, skipped) = collect(tree, defs, under, |p| p.to_string(), |p| p.to_string())?;
        Ok(AppSet {
            binaries,
            skipped,
            placement: Placement::Own,
        })
    }
}

fn not_loadable(i: &ElfInfo) -> String {
    match i.kind {
        Kind::Other(1) => "a relocatable object (.o, .ko): not loadable".into(),
        Kind::Other(4) => "a core dump".into(),
        Kind::Other(t) => format!("ELF type {t}: not loadable"),
        _ => String::new(),
    }
}

/// Whether a file could be a program or a library by its metadata: an executable bit, or `.so`
/// in its name (Debian ships libraries 0644). Everything else — data, documentation, kernel
/// modules, objects — is not opened at all, which is most of a root filesystem.
fn loadable_name(e: &Entry) -> bool {
    e.mode & 0o111 != 0 || e.path.rsplit('/').next().is_some_and(|n| n.contains(".so"))
}

fn too_big(size: u64) -> String {
    format!("{size} bytes, more than the {MAX_ELF} read")
}

type Collected = (Vec<AppBinary>, Vec<(String, String)>);

/// Read every regular file `want` selects; keep the ELF ones.
fn collect(
    tree: &ImageTree,
    defs: bool,
    want: impl Fn(&Entry) -> bool,
    placed: impl Fn(&str) -> String,
    shown: impl Fn(&str) -> String,
) -> Result<Collected, Error> {
    let mut binaries = Vec::new();
    let mut skipped = Vec::new();
    let mut keep = |e: &Entry, info: Result<ElfInfo, Unreadable>| match &info {
        Ok(i) if matches!(i.kind, Kind::Other(_)) => {
            skipped.push((shown(&e.path), not_loadable(i)));
        }
        _ => binaries.push(AppBinary {
            path: shown(&e.path),
            placed: placed(&e.path),
            info: Arc::new(info),
        }),
    };
    // Directories and disks seek cheaply: read only what the ELF reader needs of each file.
    if matches!(tree.info().format, Format::Dir | Format::Disk) {
        let picked: Vec<&Entry> = tree
            .entries()
            .iter()
            .filter(|e| e.kind == EntryKind::File && e.size >= 52 && want(e))
            .collect();
        // One file: None when it is not ELF.
        let read_one = |e: &Entry| -> Option<Result<ElfInfo, Unreadable>> {
            let mut r = tree.open(&e.path).ok()?;
            let mut head = [0u8; 4];
            if r.read_exact(&mut head).is_err() || !elf::is_elf(&head) {
                return None;
            }
            if e.size > MAX_ELF {
                return Some(Err(too_big(e.size).into()));
            }
            let bytes = match r.as_seek() {
                Some(s) => elf::read_sparse(s, e.size).map_err(|err| err.to_string().into()),
                None => tree
                    .read(&e.path, MAX_ELF)
                    .map_err(|err| err.to_string().into()),
            };
            Some(bytes.and_then(|b| elf::parse(&b, defs)))
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let chunk = picked.len().div_ceil(threads).max(1);
        let read: Vec<Option<Result<ElfInfo, Unreadable>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = picked
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || part.iter().map(|e| read_one(e)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        for (e, info) in picked.into_iter().zip(read) {
            if let Some(info) = info {
                keep(e, info);
            }
        }
        return Ok((binaries, skipped));
    }
    // Layers stream: every selected file in one pass over them.
    tree.for_each_file(
        |e| e.size >= 52 && want(e),
        |e, r| {
            let mut head = [0u8; 4];
            if r.read_exact(&mut head).is_err() || !elf::is_elf(&head) {
                return Ok(());
            }
            if e.size > MAX_ELF {
                keep(e, Err(too_big(e.size).into()));
                return Ok(());
            }
            let mut bytes = head.to_vec();
            bytes.reserve(e.size as usize);
            let info = match r.take(MAX_ELF).read_to_end(&mut bytes) {
                Ok(_) => elf::parse(&bytes, defs),
                Err(err) => Err(format!("cannot be read: {err}").into()),
            };
            keep(e, info);
            Ok(())
        },
    )?;
    Ok((binaries, skipped))
}

/// The image's command (entrypoint, else cmd: the first word) and its `PATH`.
fn command_of(tree: &ImageTree) -> (Option<String>, String) {
    let cfg = tree.info().config.as_ref().and_then(|c| c.get("config"));
    let words = |k: &str| -> Vec<String> {
        cfg.and_then(|c| c.get(k))
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut cmd = words("Entrypoint");
    if cmd.is_empty() {
        cmd = words("Cmd");
    }
    let path = cfg
        .and_then(|c| c.get("Env"))
        .and_then(|v| v.as_array())
        .and_then(|env| {
            env.iter()
                .filter_map(|e| e.as_str())
                .find_map(|e| e.strip_prefix("PATH=").map(str::to_string))
        })
        .unwrap_or_else(|| DEFAULT_PATH.to_string());
    // `/bin/sh -c "…"`: the shell is what runs first.
    (cmd.into_iter().next(), path)
}

/// Resolve a command word to a file of the image, following a script's `#!` once.
fn find_command(tree: &ImageTree, cmd: &str, search: &[&str]) -> Option<String> {
    let candidates: Vec<String> = if cmd.contains('/') {
        vec![cmd.to_string()]
    } else {
        search.iter().map(|d| join(d, cmd)).collect()
    };
    for c in candidates {
        let Ok(e) = tree.resolve(&c, true) else {
            continue;
        };
        if !matches!(e.kind, EntryKind::File | EntryKind::Hardlink) {
            continue;
        }
        let path = e.path.clone();
        let mut head = [0u8; 256];
        let n = tree
            .open(&path)
            .ok()
            .and_then(|mut r| r.read(&mut head).ok())
            .unwrap_or(0);
        if let Some(rest) = head[..n].strip_prefix(b"#!") {
            let line = rest.split(|&b| b == b'\n').next().unwrap_or(&[]);
            let text = String::from_utf8_lossy(line);
            let mut words = text.split_whitespace();
            let interp = words.next()?;
            // `#!/usr/bin/env python3`: the program env runs.
            let interp = if interp.ends_with("/env") {
                words
                    .next()
                    .map(str::to_string)
                    .unwrap_or(interp.to_string())
            } else {
                interp.to_string()
            };
            return find_command(tree, &interp, search).filter(|p| *p != path);
        }
        return Some(path);
    }
    None
}

impl Target {
    /// Check one binary of an application set against this target.
    pub fn check_app(&self, set: &AppSet, bin: &AppBinary) -> Verdict {
        let info = match bin.info.as_ref() {
            Ok(i) => i,
            Err(e) => {
                let mut v = Verdict {
                    runs: false,
                    reasons: vec![crate::Reason::new(
                        crate::Code::NotLoadable,
                        format!("not a loadable ELF file: {e}"),
                    )],
                    notes: Vec::new(),
                    loader: None,
                    loaded: Vec::new(),
                };
                v.runs = false;
                return v;
            }
        };
        let none = Overlay::None;
        let view = View {
            target: self.tree(),
            overlay: &none,
        };
        // Apply the target's symlinks to the place's directory, so that the overlay sits where
        // a copy onto the target would land.
        let canon = |p: &str| -> String {
            let d = dirname(p);
            let base = &p[d.len()..].trim_start_matches('/');
            match view.resolve_dir(d) {
                Some(real) if base.is_empty() => real,
                Some(real) => join(&real, base),
                None => p.to_string(),
            }
        };
        let overlay = match &set.placement {
            Placement::Bundle { at, tree } => Overlay::Tree {
                at: canon(at),
                tree: tree.clone(),
            },
            Placement::File { at } => Overlay::File {
                at: canon(at),
                bytes: Arc::new(Vec::new()),
            },
            Placement::Own => Overlay::File {
                at: canon(&bin.placed),
                bytes: Arc::new(Vec::new()),
            },
        };
        crate::loader::check(self, info, &bin.placed, &canon(&bin.placed), &overlay)
    }
}
