//! The loaders' search and checks, as glibc's `elf/dl-load.c`, `dl-deps.c`, `dl-version.c` and
//! musl's `ldso/dynlink.c` do them in their list (`ldd`) mode.

use std::sync::Arc;

use crate::elf::{self, ElfInfo, Kind, Machine};
use crate::verdict::{Code, How, Loaded, Reason, Verdict};
use crate::view::{dirname, join, Found, Missing, Overlay, Side, View};
use crate::{glibc_loader, ldcache, musl_loader, runs_natively, Libc, Parsed, Target, Unreadable};

/// Symbols listed per reason, at most.
const SHOW_SYMBOLS: usize = 5;
/// Objects loaded for one binary, at most (a loop guard; real programs load a few hundred).
const MAX_OBJECTS: usize = 4096;

/// What a glibc `ld.so` has built in: its default directories (`SYSTEM_DIRS`) and `$LIB`.
#[derive(Debug, Clone)]
pub struct GlibcDirs {
    pub system: Vec<String>,
    pub lib: String,
    pub platform: String,
}

impl GlibcDirs {
    /// Read them from the loader's bytes: the default directories are one run of
    /// NUL-separated absolute paths ending in `/` (`/lib/x86_64-linux-gnu/\0/usr/lib/…`), and
    /// `$LIB` is the string after `ORIGIN\0PLATFORM\0LIB\0`. Without them, upstream's defaults.
    pub fn from_loader(bytes: &[u8], m: Machine) -> GlibcDirs {
        let platform = platform_of(m);
        let mut best: Vec<String> = Vec::new();
        for start in find_all(bytes, b"/lib") {
            // The run must start right after a NUL.
            if start == 0 || bytes[start - 1] != 0 {
                continue;
            }
            let mut run = Vec::new();
            let mut at = start;
            while let Some(len) = bytes[at..].iter().position(|&b| b == 0) {
                let s = &bytes[at..at + len];
                let ok = len > 1
                    && s[0] == b'/'
                    && s[len - 1] == b'/'
                    && s.iter()
                        .all(|&b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b));
                if !ok {
                    break;
                }
                run.push(String::from_utf8_lossy(&s[..len - 1]).into_owned());
                at += len + 1;
            }
            if run.len() > best.len() {
                best = run;
            }
        }
        const DSTS: &[u8] = b"ORIGIN\0PLATFORM\0LIB\0";
        let lib = crate::find_bytes(bytes, DSTS)
            .and_then(|at| {
                let rest = &bytes[at + DSTS.len()..];
                let end = rest.iter().position(|&b| b == 0)?;
                std::str::from_utf8(&rest[..end]).ok().map(str::to_string)
            })
            .filter(|s| !s.is_empty() && !s.contains('\0'));
        let lib64 = m.is64
            && matches!(
                m.machine,
                goblin::elf::header::EM_X86_64
                    | goblin::elf::header::EM_PPC64
                    | goblin::elf::header::EM_S390
            );
        if best.len() < 2 {
            best = if lib64 {
                vec!["/lib64".into(), "/usr/lib64".into()]
            } else {
                vec!["/lib".into(), "/usr/lib".into()]
            };
        }
        let lib = lib.unwrap_or_else(|| {
            best.first()
                .map(|d| d.trim_start_matches('/').to_string())
                .unwrap_or_else(|| "lib".into())
        });
        GlibcDirs {
            system: best,
            lib,
            platform,
        }
    }
}

/// `AT_PLATFORM` as the kernel reports it for a machine (what `$PLATFORM` becomes).
fn platform_of(m: Machine) -> String {
    use goblin::elf::header::*;
    match m.machine {
        EM_386 => "i686".into(),
        EM_ARM => "v7l".into(),
        _ => m.arch().uname().to_string(),
    }
}

/// Every place `pat` occurs in `hay`.
fn find_all<'b>(hay: &'b [u8], pat: &'b [u8]) -> impl Iterator<Item = usize> + 'b {
    let mut from = 0;
    std::iter::from_fn(move || {
        let at = from + crate::find_bytes(hay.get(from..)?, pat)?;
        from = at + 1;
        Some(at)
    })
}

/// Directories `/etc/ld.so.conf` names, following `include` globs (`*` in the last component).
pub fn conf_dirs(view: &View) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = 0;
    read_conf(view, "/etc/ld.so.conf", &mut out, &mut seen);
    out
}

fn read_conf(view: &View, path: &str, out: &mut Vec<String>, seen: &mut usize) {
    *seen += 1;
    if *seen > 64 {
        return;
    }
    let Ok(f) = view.resolve(path) else {
        return;
    };
    let Ok(bytes) = view.read(&f) else {
        return;
    };
    for line in String::from_utf8_lossy(&bytes).lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pat) = line.strip_prefix("include") {
            for pat in pat.split_whitespace() {
                let pat = if pat.starts_with('/') {
                    pat.to_string()
                } else {
                    join(dirname(path), pat)
                };
                let (dir, glob) = (
                    dirname(&pat).to_string(),
                    pat.rsplit('/').next().unwrap_or(""),
                );
                let Some(real) = view.resolve_dir(&dir) else {
                    continue;
                };
                let Some(d) = view.target.get(&real) else {
                    continue;
                };
                let mut files: Vec<String> = view
                    .target
                    .subtree(d)
                    .filter(|e| {
                        dirname(&e.path) == real && glob_match(glob, &e.path[real.len() + 1..])
                    })
                    .map(|e| e.path.clone())
                    .collect();
                files.sort();
                for f in files {
                    read_conf(view, &f, out, seen);
                }
            }
        } else if !line.is_empty() && !line.starts_with("hwcap") {
            for d in line
                .split([' ', '\t', ',', ':'])
                .filter(|d| d.starts_with('/'))
            {
                let d = d.trim_end_matches('/').to_string();
                if !out.contains(&d) {
                    out.push(d);
                }
            }
        }
    }
}

/// `*` and `?` wildcards, enough for `include /etc/ld.so.conf.d/*.conf`.
fn glob_match(pat: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pat.as_bytes(), name.as_bytes())
}

/// An object in the loaded set.
struct Obj {
    /// Names it answers to: the names it was loaded by, its soname, its path.
    names: Vec<String>,
    /// The path as the loader opened it (not canonical: `$ORIGIN` comes from it).
    path: String,
    found: Found,
    info: Parsed,
    /// The object whose need loaded it (glibc's `l_loader`, musl's `needed_by`).
    loader: Option<usize>,
    how: How,
    /// musl: a search found it, so it answers to its file name.
    shortname: bool,
}

impl Obj {
    fn elf(&self) -> Option<&ElfInfo> {
        self.info.as_ref().as_ref().ok()
    }
}

/// Why the loader could not use a file it found.
enum Refusal {
    /// Another class or machine: glibc skips it and keeps searching.
    OtherClass(String),
    /// Anything else: a fatal error for the load.
    Fatal(String),
}

/// glibc's `open_verify` and the later checks of `_dl_map_object_from_fd`.
fn verify(info: &Result<ElfInfo, Unreadable>, want: Machine) -> Result<(), Refusal> {
    let i = match info {
        Ok(i) => i,
        Err(Unreadable::NotElf) => return Err(Refusal::Fatal("invalid ELF header".into())),
        Err(e) => return Err(Refusal::Fatal(e.to_string())),
    };
    if i.machine.is64 != want.is64 {
        return Err(Refusal::OtherClass(format!(
            "{}-bit",
            if i.machine.is64 { 64 } else { 32 }
        )));
    }
    if i.machine.little != want.little {
        return Err(Refusal::Fatal(format!(
            "ELF file data encoding not {}",
            if want.little {
                "little-endian"
            } else {
                "big-endian"
            }
        )));
    }
    if i.machine.machine != want.machine {
        return Err(Refusal::OtherClass(i.machine.name()));
    }
    if !matches!(i.osabi, 0 | 3) {
        return Err(Refusal::Fatal("ELF file OS ABI invalid".into()));
    }
    match i.kind {
        Kind::Dyn if i.pie => Err(Refusal::Fatal(
            "cannot dynamically load position-independent executable".into(),
        )),
        Kind::Dyn => Ok(()),
        Kind::Exec => Err(Refusal::Fatal("cannot dynamically load executable".into())),
        Kind::Other(_) => Err(Refusal::Fatal(
            "only ET_DYN and ET_EXEC can be loaded".into(),
        )),
    }
}

/// The loading of one binary.
struct Session<'a> {
    target: &'a Target,
    view: View<'a>,
    objs: Vec<Obj>,
    machine: Machine,
    reasons: Vec<Reason>,
}

impl<'a> Session<'a> {
    fn file(&self, f: &Found) -> Parsed {
        self.target.parsed(&self.view, f)
    }

    fn loaded_as(&self, name: &str) -> Option<usize> {
        self.objs
            .iter()
            .position(|o| o.names.iter().any(|n| n == name))
    }

    fn loaded_file(&self, f: &Found) -> Option<usize> {
        self.objs.iter().position(|o| o.found == *f)
    }

    fn push(
        &mut self,
        name: &str,
        path: String,
        found: Found,
        info: Parsed,
        loader: Option<usize>,
        how: How,
    ) -> usize {
        let mut names = vec![name.to_string(), path.clone()];
        if let Some(so) = info.as_ref().as_ref().ok().and_then(|i| i.soname.clone()) {
            names.push(so);
        }
        self.objs.push(Obj {
            names,
            path,
            found,
            info,
            loader,
            how,
            shortname: false,
        });
        self.objs.len() - 1
    }

    fn name_of(&self, i: usize) -> String {
        self.objs[i].path.clone()
    }
}

/// `$ORIGIN`, `$LIB`, `$PLATFORM` (and their `${…}` forms) in one path (glibc).
fn expand_glibc(s: &str, origin: &str, dirs: &GlibcDirs) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let value = match name {
            "ORIGIN" => Some(origin.to_string()),
            "LIB" => Some(dirs.lib.clone()),
            "PLATFORM" => Some(dirs.platform.clone()),
            _ => None,
        };
        match value {
            Some(v) if len > 0 => {
                out.push_str(&v);
                rest = &after[len..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One directory list (`a:b:c`), expanded and absolute entries only.
fn dir_list(list: &str, expand: impl Fn(&str) -> String) -> Vec<String> {
    list.split(':')
        .filter(|d| !d.is_empty())
        .map(expand)
        .filter(|d| d.starts_with('/'))
        .collect()
}

/// Check one binary against a target.
pub fn check(
    target: &Target,
    info: &ElfInfo,
    placed: &str,
    canonical: &str,
    overlay: &Overlay,
) -> Verdict {
    let opts = target.opts;
    let mut v = Verdict {
        runs: false,
        reasons: Vec::new(),
        notes: Vec::new(),
        loader: None,
        loaded: Vec::new(),
    };
    let bin_arch = info.machine.name();
    if let Kind::Other(t) = info.kind {
        v.reasons.push(Reason::new(
            Code::NotLoadable,
            format!("not a program or shared library (ELF type {t})"),
        ));
        return v.finish();
    }
    let Some(host) = target.arch else {
        v.reasons.push(Reason::new(
            Code::ArchMismatch,
            "the image's architecture is unknown: it has no shell, init or loader binary and no platform in its config",
        ));
        return v.finish();
    };
    if !runs_natively(info.machine, host) {
        let mut r = Reason::new(
            Code::ArchMismatch,
            format!("{bin_arch} binary on an {} image", host.name()),
        );
        if info
            .interp
            .as_deref()
            .is_some_and(|i| Libc::of_interp(i) == Libc::Musl)
            != (target.libc == Some(Libc::Musl))
        {
            r.hint = Some(format!(
                "and a {} binary on a {} image",
                info.interp
                    .as_deref()
                    .map(Libc::of_interp)
                    .unwrap_or(Libc::Glibc)
                    .as_str(),
                target.libc.map(Libc::as_str).unwrap_or("libc-less")
            ));
        }
        v.reasons.push(r);
        return v.finish();
    }
    kernel_check(target, info, &mut v);
    let is_static = !info.dynamic || (info.needed.is_empty() && info.interp.is_none());
    if is_static {
        v.notes.push(match (info.kind, info.dynamic) {
            (Kind::Dyn, true) => "static-pie: needs no loader".to_string(),
            (Kind::Dyn, false) => {
                "statically linked (position-independent): needs no loader".to_string()
            }
            _ => "statically linked: needs no loader".to_string(),
        });
        return v.finish();
    }

    let view = View {
        target: &target.tree,
        overlay,
    };
    // The loader: the binary's own PT_INTERP, or for a library the image's loader for its machine.
    let (interp, libc) = match info.interp.as_deref() {
        Some(i) => (i.to_string(), Libc::of_interp(i)),
        None => {
            let g = glibc_loader(info.machine, info.flags).filter(|p| view.resolve(p).is_ok());
            let m = musl_loader(info.machine, info.flags).filter(|p| view.resolve(p).is_ok());
            match (g, m) {
                (Some(g), _) => (g.to_string(), Libc::Glibc),
                (None, Some(m)) => (m, Libc::Musl),
                (None, None) => {
                    v.reasons.push(Reason::new(
                        Code::NoLoader,
                        format!("shared library, and the image has no {bin_arch} dynamic loader to load it"),
                    ));
                    return v.finish();
                }
            }
        }
    };
    v.loader = Some(interp.clone());
    let interp_found = match view.resolve(&interp) {
        Ok(f) => f,
        Err(e) => {
            if let Some(tl) = target.libc.filter(|l| *l != libc) {
                v.reasons.push(Reason::new(
                    Code::LibcMismatch,
                    format!("{} binary on a {} image", libc.as_str(), tl.as_str()),
                ));
            }
            let why = match e {
                Missing::NotFound => "is not in the image".to_string(),
                Missing::NotAFile(what) => format!("is {what} in the image"),
                Missing::Loop => "is a symlink loop in the image".to_string(),
            };
            v.reasons.push(
                Reason::new(
                    Code::InterpreterMissing,
                    format!("interpreter {interp} {why}"),
                )
                .library(&interp),
            );
            return v.finish();
        }
    };

    let mut s = Session {
        target,
        view,
        objs: Vec::new(),
        machine: info.machine,
        reasons: Vec::new(),
    };
    let main_found = Found {
        path: canonical.to_string(),
        side: Side::App,
    };
    s.push(
        placed,
        placed.to_string(),
        main_found,
        Arc::new(Ok(info.clone())),
        None,
        How::Main,
    );
    let interp_info = s.file(&interp_found);
    match (interp_info.as_ref(), libc) {
        (Err(e), _) => {
            v.reasons.push(
                Reason::new(
                    Code::InterpreterMissing,
                    format!("interpreter {interp} is unusable: {e}"),
                )
                .library(&interp),
            );
            return v.finish();
        }
        (Ok(i), _) if i.machine != info.machine => {
            v.reasons.push(
                Reason::new(
                    Code::InterpreterMissing,
                    format!(
                        "interpreter {interp} is a {} file, not {bin_arch}",
                        i.machine.name()
                    ),
                )
                .library(&interp),
            );
            return v.finish();
        }
        _ => {}
    }
    s.push(
        &interp,
        interp.clone(),
        interp_found,
        interp_info,
        None,
        How::Interpreter,
    );
    match libc {
        Libc::Musl => {
            v.notes.push("musl loader".into());
            musl_load(&mut s);
            symbols(&mut s, Libc::Musl);
        }
        // Every loader that is not musl's is glibc's (`Libc::of_interp`).
        Libc::Glibc | Libc::None => {
            v.notes.push("glibc loader".into());
            glibc_load(&mut s);
            glibc_versions(&mut s);
            if opts.symbols {
                symbols(&mut s, Libc::Glibc);
            }
        }
    }
    v.reasons.append(&mut s.reasons);
    v.loaded = s
        .objs
        .iter()
        .map(|o| Loaded {
            name: o.names[0].clone(),
            path: o.path.clone(),
            how: o.how,
            from_app: o.found.side == Side::App,
        })
        .collect();
    v.finish()
}

fn kernel_check(target: &Target, info: &ElfInfo, v: &mut Verdict) {
    if let (Some(need), Some((text, have))) = (info.abi_kernel, target.kernel.as_ref()) {
        if need > *have {
            v.reasons.push(Reason::new(
                Code::KernelTooOld,
                format!(
                    "needs Linux {}.{}.{} or newer (ABI note); the image's kernel is {text}",
                    need[0], need[1], need[2]
                ),
            ));
        }
    }
}

/// glibc: breadth-first over every object's `DT_NEEDED`, as `_dl_map_object_deps`.
fn glibc_load(s: &mut Session) {
    let interp = &s.objs[1];
    let dirs = s
        .target
        .glibc_dirs(&s.view, &interp.found.clone(), s.machine);
    let accept = [
        1,
        ldcache::default_flags(s.machine, s.objs[0].elf().map(|i| i.flags).unwrap_or(0)),
    ];
    breadth_first(s, |s, name, i| glibc_map(s, name, i, &dirs, &accept));
}

/// Every `DT_NEEDED` of every loaded object, in load order (objects a need loads are appended
/// and visited in turn: breadth-first, as both loaders do). The interpreter's needs are its own.
fn breadth_first(s: &mut Session, mut map: impl FnMut(&mut Session, &str, usize)) {
    let mut i = 0;
    while i < s.objs.len() && s.objs.len() < MAX_OBJECTS {
        if s.objs[i].how != How::Interpreter {
            let needed = s.objs[i]
                .elf()
                .map(|e| e.needed.clone())
                .unwrap_or_default();
            for name in needed {
                map(s, &name, i);
            }
        }
        i += 1;
    }
}

fn origin_of(s: &Session, i: usize) -> String {
    dirname(&s.objs[i].path).to_string()
}

/// One `DT_NEEDED` of object `req`, as `_dl_map_object`.
fn glibc_map(s: &mut Session, name: &str, req: usize, dirs: &GlibcDirs, accept: &[i32]) {
    if let Some(j) = s.loaded_as(name) {
        let _ = j;
        return;
    }
    let req_name = s.name_of(req);
    if name.contains('/') {
        let path = expand_glibc(name, &origin_of(s, req), dirs);
        match s.view.resolve(&path) {
            Ok(f) => {
                if let Some(j) = s.loaded_file(&f) {
                    s.objs[j].names.push(name.to_string());
                    return;
                }
                let info = s.file(&f);
                match verify(&info, s.machine) {
                    Ok(()) => {
                        s.push(name, path, f, info, Some(req), How::Path);
                    }
                    Err(Refusal::OtherClass(what)) | Err(Refusal::Fatal(what)) => {
                        s.reasons.push(
                            Reason::new(
                                Code::LibraryUnloadable,
                                format!("{name}: cannot load {path}: {what}"),
                            )
                            .library(name)
                            .needed_by(req_name),
                        );
                    }
                }
            }
            Err(_) => s.reasons.push(
                Reason::new(
                    Code::LibraryNotFound,
                    format!("{name} not found (needed by {req_name})"),
                )
                .library(name)
                .needed_by(req_name),
            ),
        }
        return;
    }

    let mut searched: Vec<String> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    // (directory list, how) in the loader's order.
    let mut lists: Vec<(Vec<String>, How)> = Vec::new();
    let Some((req_runpath, req_nodeflib)) =
        s.objs[req].elf().map(|e| (e.runpath.clone(), e.nodeflib))
    else {
        return;
    };
    if req_runpath.is_none() {
        let mut l = Some(req);
        while let Some(k) = l {
            if let Some(e) = s.objs[k].elf() {
                if e.runpath.is_none() {
                    if let Some(rp) = &e.rpath {
                        let origin = origin_of(s, k);
                        lists.push((dir_list(rp, |d| expand_glibc(d, &origin, dirs)), How::Rpath));
                    }
                }
            }
            l = s.objs[k].loader;
        }
    }
    if let Some(rp) = &req_runpath {
        let origin = origin_of(s, req);
        lists.push((
            dir_list(rp, |d| expand_glibc(d, &origin, dirs)),
            How::Runpath,
        ));
    }
    let try_dir = |s: &mut Session,
                   dir: &str,
                   searched: &mut Vec<String>,
                   skipped: &mut Vec<String>|
     -> Result<Option<(String, Found, Parsed)>, String> {
        let path = join(dir, name);
        if !searched.iter().any(|d| d == dir) {
            searched.push(dir.to_string());
        }
        let Ok(f) = s.view.resolve(&path) else {
            return Ok(None);
        };
        let info = s.file(&f);
        match verify(&info, s.machine) {
            Ok(()) => Ok(Some((path, f, info))),
            Err(Refusal::OtherClass(what)) => {
                skipped.push(format!("{path} ({what})"));
                Ok(None)
            }
            Err(Refusal::Fatal(what)) => Err(format!("{path}: {what}")),
        }
    };
    let mut result: Option<(String, Found, Parsed, How)> = None;
    'search: for (list, how) in &lists {
        for dir in list {
            match try_dir(s, dir, &mut searched, &mut skipped) {
                Ok(Some((p, f, info))) => {
                    result = Some((p, f, info, *how));
                    break 'search;
                }
                Ok(None) => {}
                Err(e) => {
                    s.reasons.push(
                        Reason::new(Code::LibraryUnloadable, format!("{name}: cannot load {e}"))
                            .library(name)
                            .needed_by(req_name),
                    );
                    return;
                }
            }
        }
    }
    if result.is_none() && !req_nodeflib {
        if let Ok(Some(cache)) = &s.target.ld_cache {
            searched.push("/etc/ld.so.cache".into());
            if let Some(e) = cache.lookup(name, accept) {
                if let Ok(f) = s.view.resolve(&e.path) {
                    let info = s.file(&f);
                    match verify(&info, s.machine) {
                        Ok(()) => result = Some((e.path.clone(), f, info, How::Cache)),
                        Err(Refusal::OtherClass(what)) => {
                            skipped.push(format!("{} ({what})", e.path))
                        }
                        Err(Refusal::Fatal(what)) => {
                            s.reasons.push(
                                Reason::new(
                                    Code::LibraryUnloadable,
                                    format!("{name}: cannot load {}: {what}", e.path),
                                )
                                .library(name)
                                .needed_by(req_name),
                            );
                            return;
                        }
                    }
                }
            }
        }
        if result.is_none() {
            for dir in &dirs.system {
                match try_dir(s, dir, &mut searched, &mut skipped) {
                    Ok(Some((p, f, info))) => {
                        result = Some((p, f, info, How::Default));
                        break;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        s.reasons.push(
                            Reason::new(
                                Code::LibraryUnloadable,
                                format!("{name}: cannot load {e}"),
                            )
                            .library(name)
                            .needed_by(req_name),
                        );
                        return;
                    }
                }
            }
        }
    }
    match result {
        Some((path, f, info, how)) => {
            if let Some(j) = s.loaded_file(&f) {
                s.objs[j].names.push(name.to_string());
                return;
            }
            s.push(name, path, f, info, Some(req), how);
        }
        None => {
            let mut r = Reason::new(
                Code::LibraryNotFound,
                format!(
                    "{name} not found (needed by {req_name}; searched {})",
                    searched.join(", ")
                ),
            )
            .library(name)
            .needed_by(req_name);
            r.searched = searched;
            r.skipped = skipped;
            r.hint = not_found_hint(s, name);
            s.reasons.push(r);
        }
    }
}

/// Why a library may be missing though a file of that name exists: an `ld.so.conf` directory
/// the cache does not cover (a stale or missing cache), or another directory of the image.
fn not_found_hint(s: &Session, name: &str) -> Option<String> {
    let cache_state = match &s.target.ld_cache {
        Ok(None) => "the image has no /etc/ld.so.cache",
        Err(_) => "the image's /etc/ld.so.cache is damaged",
        Ok(Some(_)) => "its /etc/ld.so.cache does not list it",
    };
    for d in &s.target.conf_dirs {
        let p = join(d, name);
        if s.view.resolve(&p).is_ok() {
            return Some(format!(
                "{p} exists in a directory /etc/ld.so.conf names, but {cache_state}: run ldconfig in the image"
            ));
        }
    }
    None
}

/// glibc's `_dl_check_all_versions`: each object's version needs against the object that
/// answers to the needed file name.
fn glibc_versions(s: &mut Session) {
    let mut reasons = Vec::new();
    for (oi, o) in s.objs.iter().enumerate() {
        let Some(info) = o.elf() else { continue };
        for fneed in &info.needs {
            let Some(mi) = s.objs.iter().position(|m| m.names.contains(&fneed.file)) else {
                // Not loaded: the missing library is reported already.
                continue;
            };
            let Some(m) = s.objs[mi].elf() else { continue };
            if !m.has_verdef {
                continue;
            }
            let mut missing: Vec<&str> = fneed
                .versions
                .iter()
                .filter(|v| !v.weak && !m.verdefs.contains(&v.name))
                .map(|v| v.name.as_str())
                .collect();
            if missing.is_empty() {
                continue;
            }
            missing.sort_by_key(|v| std::cmp::Reverse(version_key(v)));
            let users: Vec<String> = info
                .undefined()
                .filter(|u| u.version.is_some_and(|v| missing.contains(&v)))
                .map(|u| format!("{}@{}", u.name, u.version.unwrap_or("")))
                .collect();
            let shown: Vec<&str> = users
                .iter()
                .take(SHOW_SYMBOLS)
                .map(String::as_str)
                .collect();
            let more = if users.len() > SHOW_SYMBOLS {
                " …"
            } else {
                ""
            };
            let used = if shown.is_empty() {
                String::new()
            } else {
                format!(" (used by: {}{more})", shown.join(", "))
            };
            let family = elf::version_family(missing[0]).map(|(f, _)| f);
            let newest = family.and_then(|f| newest_of(&m.verdefs, f));
            let release = (family == Some("GLIBC_"))
                .then(|| s.target.glibc_release(&s.view, &s.objs[mi].found))
                .flatten();
            let have = match (family, newest) {
                (Some("GLIBC_"), _) if release.is_some() => {
                    format!("the image has glibc {}", release.unwrap_or_default())
                }
                (Some("GLIBC_"), Some(n)) => {
                    format!("the image has glibc {}", &n["GLIBC_".len()..])
                }
                (_, Some(n)) => format!("the image's {} has up to {n}", s.objs[mi].path),
                (_, None) => format!(
                    "the image's {} defines no {} versions",
                    s.objs[mi].path,
                    family.unwrap_or("such")
                ),
            };
            let list = if missing.len() > 1 {
                format!("{} (and {})", missing[0], missing[1..].join(", "))
            } else {
                missing[0].to_string()
            };
            let by = if oi == 0 {
                String::new()
            } else {
                format!(" [required by {}]", o.path)
            };
            let mut r = Reason::new(
                Code::VersionNotFound,
                format!("needs {list} from {}{used}{by}; {have}", fneed.file),
            )
            .library(fneed.file.clone())
            .needed_by(o.path.clone());
            r.versions = missing.iter().map(|m| m.to_string()).collect();
            r.symbols = users;
            reasons.push(r);
        }
    }
    s.reasons.extend(reasons);
}

fn version_key(name: &str) -> (String, Vec<u32>) {
    match elf::version_family(name) {
        Some((f, n)) => (f.to_string(), n),
        None => (name.to_string(), Vec::new()),
    }
}

fn newest_of<'v>(defs: &'v [String], family: &str) -> Option<&'v String> {
    defs.iter()
        .filter(|d| elf::version_family(d).is_some_and(|(f, _)| f == family))
        .max_by_key(|d| version_key(d))
}

/// musl's `load_library` for every object's needs, in its order.
fn musl_load(s: &mut Session) {
    let loader_path = s.objs[1].path.clone();
    // The search path: <prefix>/etc/ld-musl-ARCH.path beside the loader, else the default.
    let arch = loader_path
        .rsplit('/')
        .next()
        .and_then(|n| n.strip_prefix("ld-musl-"))
        .and_then(|n| n.strip_suffix(".so.1"))
        .unwrap_or("")
        .to_string();
    let prefix = dirname(dirname(&loader_path))
        .trim_end_matches('/')
        .to_string();
    let path_file = format!("{prefix}/etc/ld-musl-{arch}.path");
    let sys: Vec<String> = match s.view.resolve(&path_file) {
        Ok(f) => String::from_utf8_lossy(&s.view.read(&f).unwrap_or_default())
            .split([':', '\n'])
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect(),
        Err(_) => vec!["/lib".into(), "/usr/local/lib".into(), "/usr/lib".into()],
    };
    // The loader answers to the C library's names.
    s.objs[1].names.push("libc.so".into());
    breadth_first(s, |s, name, i| musl_map(s, name, i, &sys));
}

fn musl_reserved(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("lib") else {
        return false;
    };
    ["c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."]
        .iter()
        .any(|r| rest.starts_with(r))
}

fn musl_map(s: &mut Session, name: &str, req: usize, sys: &[String]) {
    let req_name = s.name_of(req);
    if musl_reserved(name) || name == "libc.so" {
        return;
    }
    let not_found = |s: &mut Session, searched: Vec<String>| {
        let mut r = Reason::new(
            Code::LibraryNotFound,
            format!(
                "{name} not found (needed by {req_name}; searched {})",
                if searched.is_empty() {
                    "nothing".to_string()
                } else {
                    searched.join(", ")
                }
            ),
        )
        .library(name)
        .needed_by(req_name.clone());
        r.searched = searched;
        s.reasons.push(r);
    };
    let (path, found, how) = if name.contains('/') {
        match s.view.resolve(name) {
            Ok(f) => (name.to_string(), f, How::Path),
            Err(_) => return not_found(s, Vec::new()),
        }
    } else {
        if s.objs
            .iter()
            .any(|o| o.shortname && o.path.rsplit('/').next() == Some(name))
        {
            return;
        }
        let mut searched = Vec::new();
        let mut hit = None;
        // The rpath of the requester, then of whatever loaded it, up to the program.
        let mut l = Some(req);
        'chain: while let Some(k) = l {
            if let Some(e) = s.objs[k].elf() {
                if let Some(rp) = e.runpath.as_ref().or(e.rpath.as_ref()) {
                    if let Some(dirs) = musl_rpath(rp, &origin_of(s, k)) {
                        for d in dirs {
                            searched.push(d.clone());
                            let p = join(&d, name);
                            if let Ok(f) = s.view.resolve(&p) {
                                hit = Some((
                                    p,
                                    f,
                                    if e.runpath.is_some() {
                                        How::Runpath
                                    } else {
                                        How::Rpath
                                    },
                                ));
                                break 'chain;
                            }
                        }
                    }
                }
            }
            l = s.objs[k].loader;
        }
        if hit.is_none() {
            for d in sys {
                searched.push(d.clone());
                let p = join(d, name);
                if let Ok(f) = s.view.resolve(&p) {
                    hit = Some((p, f, How::Default));
                    break;
                }
            }
        }
        match hit {
            Some(h) => h,
            None => return not_found(s, searched),
        }
    };
    if let Some(j) = s.loaded_file(&found) {
        if how != How::Path {
            s.objs[j].shortname = true;
        }
        return;
    }
    let info = s.file(&found);
    let refusal = match info.as_ref() {
        Err(e) => Some(e.to_string()),
        Ok(i) if i.machine != s.machine => Some(format!("a {} file", i.machine.name())),
        Ok(i) if !matches!(i.kind, Kind::Dyn | Kind::Exec) => Some("not a shared library".into()),
        Ok(_) => None,
    };
    if let Some(why) = refusal {
        s.reasons.push(
            Reason::new(
                Code::LibraryUnloadable,
                format!("{name}: cannot load {path}: {why}"),
            )
            .library(name)
            .needed_by(req_name),
        );
        return;
    }
    // A second C library (glibc's or musl's) is replaced by the loader itself.
    if let Ok(i) = info.as_ref() {
        let defines = |n: &str| i.defined.contains_key(n);
        if defines("__libc_start_main") && defines("stdin") {
            return;
        }
    }
    let j = s.push(name, path, found, info, Some(req), how);
    s.objs[j].shortname = how != How::Path;
}

/// musl's `fixup_rpath`: `$ORIGIN` and `${ORIGIN}` only; any other `$` disables the rpath.
fn musl_rpath(rp: &str, origin: &str) -> Option<Vec<String>> {
    let mut out = String::new();
    let mut rest = rp;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        if let Some(r) = after.strip_prefix("${ORIGIN}") {
            out.push_str(origin);
            rest = r;
        } else if let Some(r) = after.strip_prefix("$ORIGIN") {
            out.push_str(origin);
            rest = r;
        } else {
            return None;
        }
    }
    out.push_str(rest);
    Some(
        out.split(':')
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// musl resolves the large-file `*64` names glibc programs use (`open64`, `readdir64_r`) to its
/// plain functions when nothing defines them (`get_lfs64` in `ldso/dynlink.c`).
fn musl_lfs64(name: &str, defined: impl Fn(&str) -> bool) -> &str {
    const LFS64: &[&str] = &[
        "aio_cancel",
        "aio_error",
        "aio_fsync",
        "aio_read",
        "aio_return",
        "aio_suspend",
        "aio_write",
        "alphasort",
        "creat",
        "fallocate",
        "fgetpos",
        "fopen",
        "freopen",
        "fseeko",
        "fsetpos",
        "fstat",
        "fstatat",
        "fstatfs",
        "fstatvfs",
        "ftello",
        "ftruncate",
        "ftw",
        "getdents",
        "getrlimit",
        "glob",
        "globfree",
        "lio_listio",
        "lockf",
        "lseek",
        "lstat",
        "mkostemp",
        "mkostemps",
        "mkstemp",
        "mkstemps",
        "mmap",
        "nftw",
        "open",
        "openat",
        "posix_fadvise",
        "posix_fallocate",
        "pread",
        "preadv",
        "prlimit",
        "pwrite",
        "pwritev",
        "readdir",
        "scandir",
        "sendfile",
        "setrlimit",
        "stat",
        "statfs",
        "statvfs",
        "tmpfile",
        "truncate",
        "versionsort",
        "__fxstat",
        "__fxstatat",
        "__lxstat",
        "__xstat",
    ];
    if defined(name) {
        return name;
    }
    if name == "readdir64_r" {
        return "readdir_r";
    }
    match name.strip_suffix("64") {
        Some(base) if LFS64.contains(&base) => base,
        _ => name,
    }
}

/// Every non-weak undefined symbol of every loaded object must be defined by some loaded object:
/// musl matches by name (skipping hidden and IFUNC definitions); glibc also by version, as
/// `check_match` does.
fn symbols(s: &mut Session, libc: Libc) {
    let loaded: Vec<&ElfInfo> = s.objs.iter().filter_map(Obj::elf).collect();
    let definitions = |name: &str| {
        let name = name.to_string();
        loaded
            .iter()
            .flat_map(move |i| i.defined.get(&name).into_iter().flatten())
    };
    let mut reasons = Vec::new();
    for o in &s.objs {
        let Some(i) = o.elf() else { continue };
        let mut missing: Vec<String> = Vec::new();
        for u in i.undefined().filter(|u| !u.weak) {
            let lookup = match libc {
                Libc::Musl => musl_lfs64(u.name, |n| definitions(n).next().is_some()),
                Libc::Glibc | Libc::None => u.name,
            };
            let ok = definitions(lookup).any(|d| match libc {
                Libc::Musl => !d.hidden && !d.ifunc,
                Libc::Glibc | Libc::None => match (u.version, &d.version) {
                    (Some(want), Some(have)) => want == have,
                    (Some(_), None) => !d.hidden,
                    (None, _) => !d.hidden,
                },
            });
            if !ok {
                missing.push(match u.version {
                    Some(v) if libc == Libc::Glibc => format!("{}@{v}", u.name),
                    _ => u.name.to_string(),
                });
            }
        }
        if missing.is_empty() {
            continue;
        }
        let shown: Vec<&str> = missing
            .iter()
            .take(SHOW_SYMBOLS)
            .map(String::as_str)
            .collect();
        let more = if missing.len() > SHOW_SYMBOLS {
            format!(" and {} more", missing.len() - SHOW_SYMBOLS)
        } else {
            String::new()
        };
        let mut r = Reason::new(
            Code::UndefinedSymbol,
            format!(
                "undefined symbol{} {}{more} (in {})",
                if missing.len() > 1 { "s" } else { "" },
                shown.join(", "),
                o.path
            ),
        )
        .needed_by(o.path.clone());
        r.symbols = missing;
        reasons.push(r);
    }
    s.reasons.extend(reasons);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dst_expansion() {
        let dirs = GlibcDirs {
            system: vec![],
            lib: "lib/x86_64-linux-gnu".into(),
            platform: "x86_64".into(),
        };
        assert_eq!(
            expand_glibc("$ORIGIN/../lib", "/opt/app/bin", &dirs),
            "/opt/app/bin/../lib"
        );
        assert_eq!(expand_glibc("${ORIGIN}/x", "/o", &dirs), "/o/x");
        assert_eq!(
            expand_glibc("/usr/$LIB/p/$PLATFORM", "/o", &dirs),
            "/usr/lib/x86_64-linux-gnu/p/x86_64"
        );
        assert_eq!(expand_glibc("/a/$FOO/b", "/o", &dirs), "/a/$FOO/b");
        assert_eq!(expand_glibc("/a/${ORIGIN", "/o", &dirs), "/a/${ORIGIN");
    }

    #[test]
    fn musl_names_and_rpath() {
        assert!(musl_reserved("libc.so.6"));
        assert!(musl_reserved("libpthread.so.0"));
        assert!(!musl_reserved("libcrypto.so.3"));
        assert!(!musl_reserved("libmagic.so.1"));
        assert_eq!(
            musl_rpath("$ORIGIN/../lib:/x", "/a/bin"),
            Some(vec!["/a/bin/../lib".into(), "/x".into()])
        );
        assert_eq!(musl_rpath("$LIB/x", "/a"), None);
    }

    #[test]
    fn loader_dirs_from_bytes() {
        let m = Machine {
            is64: true,
            little: true,
            machine: goblin::elf::header::EM_X86_64,
        };
        let mut b = b"junk\0ORIGIN\0PLATFORM\0LIB\0lib/x86_64-linux-gnu\0x\0".to_vec();
        b.extend_from_slice(
            b"\0/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0/lib/\0/usr/lib/\0\0",
        );
        let d = GlibcDirs::from_loader(&b, m);
        assert_eq!(
            d.system,
            [
                "/lib/x86_64-linux-gnu",
                "/usr/lib/x86_64-linux-gnu",
                "/lib",
                "/usr/lib"
            ]
        );
        assert_eq!(d.lib, "lib/x86_64-linux-gnu");
        let d = GlibcDirs::from_loader(b"nothing here", m);
        assert_eq!(d.system, ["/lib64", "/usr/lib64"]);
        assert_eq!(d.lib, "lib64");
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.conf", "libc.conf"));
        assert!(!glob_match("*.conf", "libc.conf.bak"));
        assert!(glob_match("x86_64-linux-gnu.conf", "x86_64-linux-gnu.conf"));
    }
}
