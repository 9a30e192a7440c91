//! The real loader as the oracle. Each target is an overlay (or a copy) of a fixture root
//! filesystem; each binary is copied to where the check places it, and the target's own loader
//! lists it from inside a chroot. The verdicts must agree for every binary; disagreements are
//! printed in full.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use imagewise_compat::{AppSet, Code, Options, Placement, Target, Verdict};
use imagewise_source::{open, OpenOptions};

pub fn fixtures() -> PathBuf {
    let dir = std::env::var_os("IMAGEWISE_FIXTURES").map(PathBuf::from).expect(
        "IMAGEWISE_FIXTURES is not set: run scripts/test.sh, which builds the fixture images and sets it",
    );
    assert!(
        dir.join("compat-bins.complete").exists(),
        "{} lacks compat-bins: run scripts/fixtures.sh",
        dir.display()
    );
    dir
}

/// A writable copy-on-write view of a root filesystem: an overlay mount when the kernel allows
/// it, else a full copy.
pub struct Scratch {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    mounted: bool,
}

impl Scratch {
    pub fn new(lower: &Path) -> Scratch {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        for d in ["root", "upper", "work"] {
            std::fs::create_dir(tmp.path().join(d)).unwrap();
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            tmp.path().join("upper").display(),
            tmp.path().join("work").display()
        );
        let mounted = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(&root)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            let ok = Command::new("cp")
                .args(["-a", "--reflink=auto"])
                .arg(format!("{}/.", lower.display()))
                .arg(&root)
                .status()
                .unwrap();
            assert!(ok.success(), "cannot copy {}", lower.display());
        }
        Scratch {
            _tmp: tmp,
            root,
            mounted,
        }
    }

    /// Run a command inside the scratch root.
    pub fn chroot(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("chroot")
            .arg(&self.root)
            .args(args)
            .output()
            .unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// Resolve a path inside the root, symlinks confined to it (for placing files from outside).
    pub fn host_path(&self, path: &str) -> PathBuf {
        self.resolve(path, false)
    }

    /// The same, following a symlink in the last component too.
    pub fn host_file(&self, path: &str) -> PathBuf {
        self.resolve(path, true)
    }

    fn resolve(&self, path: &str, follow_last: bool) -> PathBuf {
        let mut cur = PathBuf::from("/");
        let mut pending: Vec<String> = path
            .split('/')
            .rev()
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            if c == ".." {
                cur.pop();
                continue;
            }
            let next = cur.join(&c);
            let host = self.root.join(next.strip_prefix("/").unwrap());
            match std::fs::symlink_metadata(&host) {
                Ok(m)
                    if m.file_type().is_symlink()
                        && hops < 40
                        && (follow_last || !pending.is_empty()) =>
                {
                    hops += 1;
                    let t = std::fs::read_link(&host).unwrap();
                    let t = t.to_string_lossy().into_owned();
                    if t.starts_with('/') {
                        cur = PathBuf::from("/");
                    }
                    pending.extend(
                        t.split('/')
                            .rev()
                            .filter(|c| !c.is_empty())
                            .map(String::from),
                    );
                }
                _ => cur = next,
            }
        }
        self.root.join(cur.strip_prefix("/").unwrap())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.root).status();
        }
    }
}

/// `readelf -hlWd`: machine, interpreter, whether it needs libraries.
fn readelf(file: &Path) -> (String, Option<String>, bool) {
    let out = Command::new("readelf")
        .arg("-hlWd")
        .arg(file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let machine = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Machine:"))
        .unwrap_or("")
        .trim()
        .to_string();
    let interp = text.lines().find_map(|l| {
        let at = l.find("[Requesting program interpreter: ")?;
        Some(l[at + 34..].trim_end_matches(']').to_string())
    });
    (machine, interp, text.contains("(NEEDED)"))
}

/// The loader's verdict for `bytes` placed at `placed` in the scratch target.
/// `bytes_from`: the file to copy to `placed` first, or `None` when it is in place already.
fn oracle(
    s: &Scratch,
    bytes_from: Option<&Path>,
    placed: &str,
    host_machine: &str,
) -> (bool, String) {
    let in_place = s.host_file(placed);
    let (machine, interp, needs) = readelf(bytes_from.unwrap_or(&in_place));
    if machine != host_machine {
        return (false, format!("readelf: {machine} on {host_machine}"));
    }
    // A target of another machine than this host: its loader cannot run here, so the oracle is
    // readelf's machine (equal above) and the interpreter's presence.
    if host_machine != readelf(Path::new("/bin/sh")).0 {
        return match &interp {
            Some(i) if !s.host_file(i).exists() => (false, format!("interpreter {i} missing")),
            _ => (true, "same machine (foreign target: loader not run)".into()),
        };
    }
    let loader = match &interp {
        Some(i) => i.clone(),
        None if !needs => return (true, "no interpreter, no needed libraries: static".into()),
        None => {
            let musl = ["/lib/ld-musl-x86_64.so.1"];
            let glibc = ["/lib64/ld-linux-x86-64.so.2"];
            match glibc
                .iter()
                .chain(musl.iter())
                .find(|l| s.host_file(l).exists())
            {
                Some(l) => l.to_string(),
                None => return (false, "no loader in the target".into()),
            }
        }
    };
    let dest = s.host_path(placed);
    let aside = dest.with_extension("iw-oracle-aside");
    let had = bytes_from.is_some() && std::fs::symlink_metadata(&dest).is_ok();
    if had {
        std::fs::rename(&dest, &aside).unwrap();
    }
    if let Some(from) = bytes_from {
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(from, &dest).unwrap();
    }
    let result = if !s.host_file(&loader).exists() {
        (false, format!("interpreter {loader} missing"))
    } else {
        let (ok, text) = s.chroot(&[&loader, "--list", placed]);
        let bad = ["not found", "error while loading", "Error ", "No such file"];
        (ok && !bad.iter().any(|b| text.contains(b)), text)
    };
    if bytes_from.is_some() {
        std::fs::remove_file(&dest).unwrap();
    }
    if had {
        std::fs::rename(&aside, &dest).unwrap();
    }
    result
}

/// Where a binary of the set sits, and a host file with its bytes.
fn source_of(set_root: &Path, set: &AppSet, path: &str, placed: &str) -> PathBuf {
    match &set.placement {
        Placement::Own => set_root.join(path.trim_start_matches('/')),
        Placement::Bundle { .. } => set_root.join(path),
        Placement::File { .. } => set_root.to_path_buf(),
    }
    .canonicalize()
    .unwrap_or_else(|_| panic!("{placed}"))
}

/// Check every binary of `set` (read from `set_root` on the host) against the scratch target,
/// with imagewise and with the loader; return the verdicts and print every disagreement.
pub fn compare(
    label: &str,
    set_root: &Path,
    set: &AppSet,
    scratch: &Scratch,
    opts: Options,
) -> (Vec<(String, Verdict)>, Vec<String>) {
    let tree = open(
        &format!("dir:{}", scratch.root.display()),
        &OpenOptions::default(),
    )
    .unwrap();
    let target = Target::new(label, Arc::new(tree), opts);
    let (host_machine, _, _) = readelf(&scratch.host_file("/bin/sh"));
    let mut disagreements = Vec::new();
    let mut verdicts = Vec::new();
    // A bundle is placed whole, as the check places it.
    if let Placement::Bundle { at, .. } = &set.placement {
        let dest = scratch.host_path(at);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let st = Command::new("cp")
            .arg("-a")
            .arg(set_root)
            .arg(&dest)
            .status()
            .unwrap();
        assert!(st.success());
    }
    for b in &set.binaries {
        let v = target.check_app(set, b);
        let (ok, text) = match &set.placement {
            Placement::Bundle { .. } => oracle(scratch, None, &b.placed, &host_machine),
            _ => oracle(
                scratch,
                Some(&source_of(set_root, set, &b.path, &b.placed)),
                &b.placed,
                &host_machine,
            ),
        };
        if ok != v.runs {
            disagreements.push(format!(
                "{label}: {}: imagewise says {}, the loader says {}\n  imagewise: {:?}\n  loader: {}",
                b.path,
                if v.runs { "runs" } else { "won't run" },
                if ok { "runs" } else { "won't run" },
                v.reasons.iter().map(|r| &r.message).collect::<Vec<_>>(),
                text.trim()
            ));
        }
        verdicts.push((b.path.clone(), v));
    }
    for d in &disagreements {
        eprintln!("DISAGREEMENT {d}");
    }
    let runs = verdicts.iter().filter(|(_, v)| v.runs).count();
    eprintln!(
        "{label}: {} binaries, {runs} run, {} won't; {} disagreements with the loader",
        verdicts.len(),
        verdicts.len() - runs,
        disagreements.len()
    );
    (verdicts, disagreements)
}

/// Zero disagreements with the loader is the bar.
fn assert_agrees(all: &[String]) {
    assert!(
        all.is_empty(),
        "{} disagreements:\n{}",
        all.len(),
        all.join("\n")
    );
}

fn image_set(root: &Path) -> AppSet {
    let tree = open(&format!("dir:{}", root.display()), &OpenOptions::default()).unwrap();
    AppSet::image(&tree, &["/".to_string()], true).unwrap()
}

fn reasons_of<'v>(verdicts: &'v [(String, Verdict)], path: &str) -> &'v Verdict {
    &verdicts
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} not checked"))
        .1
}

#[test]
fn every_elf_of_trixie_on_bookworm_and_bullseye_agrees_with_the_loader() {
    let f = fixtures();
    let set = image_set(&f.join("trixie-rootfs"));
    assert!(set.binaries.len() > 200, "{} ELF files", set.binaries.len());
    let mut all = Vec::new();
    for t in ["bookworm", "bullseye"] {
        let s = Scratch::new(&f.join(format!("{t}-rootfs")));
        let (v, d) = compare(
            &format!("trixie on {t}"),
            &f.join("trixie-rootfs"),
            &set,
            &s,
            Options::default(),
        );
        all.extend(d);
        // trixie's coreutils need glibc 2.38 (C23 strtol and friends): neither target has it.
        let ls = reasons_of(&v, "/usr/bin/ls");
        assert!(!ls.runs);
        let r = ls
            .reasons
            .iter()
            .find(|r| r.code == Code::VersionNotFound)
            .unwrap();
        assert!(r.versions.iter().any(|x| x == "GLIBC_2.38"), "{r:?}");
        let have = if t == "bookworm" { "2.36" } else { "2.31" };
        assert!(
            r.message.contains(&format!("the image has glibc {have}")),
            "{}",
            r.message
        );
    }
    assert_agrees(&all);
}

#[test]
fn every_elf_of_bookworm_and_bullseye_on_each_other_agrees_with_the_loader() {
    let f = fixtures();
    let mut all = Vec::new();
    for (app, t) in [("bookworm", "bullseye"), ("bullseye", "trixie")] {
        let set = image_set(&f.join(format!("{app}-rootfs")));
        let s = Scratch::new(&f.join(format!("{t}-rootfs")));
        let (v, d) = compare(
            &format!("{app} on {t}"),
            &f.join(format!("{app}-rootfs")),
            &set,
            &s,
            Options::default(),
        );
        all.extend(d);
        let runs = v.iter().filter(|(_, v)| v.runs).count();
        if app == "bullseye" {
            // Old binaries on a newer release: most of them run.
            assert!(runs * 2 > v.len(), "{runs} of {} run", v.len());
        }
    }
    assert_agrees(&all);
}

#[test]
fn an_old_format_ld_so_cache_is_what_finds_a_moved_library() {
    let f = fixtures();
    let s = Scratch::new(&f.join("bullseye-rootfs"));
    // Move liblz4 out of the default directories; only the cache can find it then.
    let lib = s.host_path("/usr/lib/x86_64-linux-gnu/liblz4.so.1");
    let real = std::fs::canonicalize(&lib).unwrap();
    let local = s.host_path("/usr/local/lib");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::copy(&real, local.join("liblz4.so.1")).unwrap();
    std::fs::remove_file(&lib).unwrap();
    std::fs::remove_file(&real).unwrap();
    let set = image_set(&f.join("bullseye-rootfs"));
    let mut all = Vec::new();
    for format in ["old", "compat", "new"] {
        let (ok, text) = s.chroot(&["/sbin/ldconfig", "-c", format]);
        assert!(ok, "{text}");
        let (v, d) = compare(
            &format!("bullseye on bullseye with an {format} cache"),
            &f.join("bullseye-rootfs"),
            &set,
            &s,
            Options::default(),
        );
        all.extend(d);
        // glibc 2.31's `ldconfig -c old` offsets its strings by a padding it does not write, so
        // its own loader finds nothing through an old-only cache (the verdicts above agree with
        // it either way); the formats that carry the new table find the moved library.
        let apt = reasons_of(&v, "/usr/lib/x86_64-linux-gnu/libapt-pkg.so.6.0.0");
        assert_eq!(apt.runs, format != "old", "{format}: {:?}", apt.reasons);
    }
    // No cache at all: liblz4 is lost, and the hint says why.
    std::fs::remove_file(s.host_path("/etc/ld.so.cache")).unwrap();
    let (v, d) = compare(
        "bullseye without a cache",
        &f.join("bullseye-rootfs"),
        &set,
        &s,
        Options::default(),
    );
    all.extend(d);
    let apt = reasons_of(&v, "/usr/lib/x86_64-linux-gnu/libapt-pkg.so.6.0.0");
    assert!(!apt.runs);
    let r = &apt.reasons[0];
    assert_eq!(r.code, Code::LibraryNotFound);
    assert!(
        r.hint
            .as_deref()
            .unwrap_or("")
            .contains("/usr/local/lib/liblz4.so.1"),
        "{r:?}"
    );
    assert_agrees(&all);
}

#[test]
fn musl_images_follow_musl_rules_and_refuse_glibc_binaries() {
    let f = fixtures();
    let alpine = f.join("alpine-rootfs");
    let set = image_set(&alpine);
    let mut all = Vec::new();
    let s = Scratch::new(&alpine);
    let (v, d) = compare("alpine on alpine", &alpine, &set, &s, Options::default());
    all.extend(d);
    assert!(
        v.iter().all(|(_, v)| v.runs),
        "Alpine's own binaries all run on it"
    );
    assert!(v
        .iter()
        .any(|(_, v)| v.notes.iter().any(|n| n == "musl loader")));
    // Alpine's binaries on Debian, and Debian's on Alpine.
    let deb = Scratch::new(&f.join("bookworm-rootfs"));
    let (v, d) = compare(
        "alpine on bookworm",
        &alpine,
        &set,
        &deb,
        Options::default(),
    );
    all.extend(d);
    let bb = reasons_of(&v, "/bin/busybox");
    assert_eq!(bb.reasons[0].code, Code::LibcMismatch, "{:?}", bb.reasons);
    assert_eq!(bb.reasons[0].message, "musl binary on a glibc image");
    let set = image_set(&f.join("bookworm-rootfs"));
    let (v, d) = compare(
        "bookworm on alpine",
        &f.join("bookworm-rootfs"),
        &set,
        &s,
        Options::default(),
    );
    all.extend(d);
    let ls = reasons_of(&v, "/usr/bin/ls");
    assert_eq!(ls.reasons[0].message, "glibc binary on a musl image");
    assert_agrees(&all);
}

/// One of the built programs as a single-file application.
fn program(name: &str) -> (PathBuf, AppSet) {
    let p = fixtures().join("compat-bins").join(name);
    let bytes = std::fs::read(&p).unwrap();
    (p, AppSet::file(name, &bytes, "/opt/app", true))
}

#[test]
fn built_programs_static_musl_newer_glibc_missing_soname_other_arch() {
    let f = fixtures();
    let targets = ["bookworm", "bullseye", "alpine", "alpine-arm64"];
    let scratches: BTreeMap<&str, Scratch> = targets
        .iter()
        .map(|t| (*t, Scratch::new(&f.join(format!("{t}-rootfs")))))
        .collect();
    let mut all = Vec::new();
    let mut got: BTreeMap<(&str, &str), Verdict> = BTreeMap::new();
    for name in [
        "hello",
        "static",
        "static-pie",
        "musl",
        "newglibc",
        "needs-missing",
        "arm64-busybox",
    ] {
        let (path, set) = program(name);
        for t in targets {
            let (v, d) = compare(
                &format!("{name} on {t}"),
                &path,
                &set,
                &scratches[t],
                Options::default(),
            );
            all.extend(d);
            got.insert((name, t), v.into_iter().next().unwrap().1);
        }
    }
    let first = |n, t| {
        got[&(n, t)]
            .reasons
            .first()
            .map(|r| (r.code, r.message.clone()))
    };
    for t in ["bookworm", "bullseye", "alpine"] {
        assert!(got[&("static", t)].runs);
        assert!(got[&("static-pie", t)].runs);
    }
    assert!(!got[&("hello", "bullseye")].runs);
    let ng = first("newglibc", "bullseye").unwrap();
    assert_eq!(ng.0, Code::VersionNotFound);
    assert!(
        ng.1.contains("GLIBC_2.36")
            && ng.1.contains("arc4random@GLIBC_2.36")
            && ng.1.contains("the image has glibc 2.31"),
        "{}",
        ng.1
    );
    assert!(got[&("newglibc", "bookworm")].runs);
    assert_eq!(
        first("needs-missing", "bookworm").unwrap().0,
        Code::LibraryNotFound
    );
    assert!(got[&("musl", "alpine")].runs);
    assert_eq!(
        first("musl", "bookworm").unwrap().1,
        "musl binary on a glibc image"
    );
    assert_eq!(
        first("arm64-busybox", "bookworm").unwrap().1,
        "arm64 binary on an amd64 image"
    );
    assert_eq!(
        first("hello", "alpine-arm64").unwrap().1,
        "amd64 binary on an arm64 image"
    );
    assert!(got[&("arm64-busybox", "alpine-arm64")].runs);
    assert_agrees(&all);
}

#[test]
fn a_bundle_finds_its_libraries_through_origin_and_skips_another_machine() {
    let f = fixtures();
    let bundle = f.join("compat-bins/bundle");
    let tree = open(
        &format!("dir:{}", bundle.display()),
        &OpenOptions::default(),
    )
    .unwrap();
    let set = AppSet::bundle(Arc::new(tree), "/opt/app", true).unwrap();
    let s = Scratch::new(&f.join("bookworm-rootfs"));
    let (v, d) = compare("bundle on bookworm", &bundle, &set, &s, Options::default());
    assert!(d.is_empty(), "{}", d.join("\n"));
    for app in ["bin/app", "bin/app-rpath", "bin/app-skip"] {
        let r = reasons_of(&v, app);
        assert!(r.runs, "{app}: {:?}", r.reasons);
        let lib = r
            .loaded
            .iter()
            .find(|l| l.name == "libiwdemo.so.1")
            .unwrap();
        assert!(lib.from_app, "{app}: {lib:?}");
        assert!(
            lib.path.ends_with("/../lib/libiwdemo.so.1"),
            "{app}: {lib:?}"
        );
    }
}

#[test]
fn library_versions_and_symbols_of_an_installed_library() {
    let f = fixtures();
    let bins = f.join("compat-bins");
    let (path, set) = program("needs-missing");
    let mut all = Vec::new();
    for (lib, runs, code) in [
        ("new", true, None),
        ("old", false, Some(Code::VersionNotFound)),
        ("nover", true, None),
    ] {
        let s = Scratch::new(&f.join("bookworm-rootfs"));
        std::fs::create_dir_all(s.host_path("/usr/local/lib")).unwrap();
        std::fs::copy(
            bins.join(lib).join("libiwdemo.so.1"),
            s.host_path("/usr/local/lib/libiwdemo.so.1"),
        )
        .unwrap();
        let (ok, text) = s.chroot(&["/sbin/ldconfig"]);
        assert!(ok, "{text}");
        let (v, d) = compare(
            &format!("app on bookworm with the {lib} library"),
            &path,
            &set,
            &s,
            Options::default(),
        );
        all.extend(d);
        let v = &v[0].1;
        assert_eq!(v.runs, runs, "{lib}: {:?}", v.reasons);
        assert_eq!(v.reasons.first().map(|r| r.code), code);
        if lib == "old" {
            let m = &v.reasons[0].message;
            assert!(
                m.contains("needs IWDEMO_2.0 from libiwdemo.so.1")
                    && m.contains("iw_extra@IWDEMO_2.0")
                    && m.contains("has up to IWDEMO_1.0"),
                "{m}"
            );
        }
        if lib == "nover" {
            // The loader's list mode does not bind symbols; --symbols does, as `ldd -r`.
            let tree = open(
                &format!("dir:{}", s.root.display()),
                &OpenOptions::default(),
            )
            .unwrap();
            let t = Target::new("with-symbols", Arc::new(tree), Options { symbols: true });
            let v = t.check_app(&set, &set.binaries[0]);
            assert!(!v.runs);
            assert_eq!(v.reasons[0].code, Code::UndefinedSymbol);
            assert!(
                v.reasons[0]
                    .symbols
                    .iter()
                    .any(|s| s.starts_with("iw_extra")),
                "{:?}",
                v.reasons
            );
            let dest = s.host_path("/opt/app/needs-missing");
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(&path, &dest).unwrap();
            let (_, text) = s.chroot(&[
                "/usr/bin/env",
                "LD_TRACE_LOADED_OBJECTS=1",
                "LD_WARN=yes",
                "LD_BIND_NOW=yes",
                "/lib64/ld-linux-x86-64.so.2",
                "/opt/app/needs-missing",
            ]);
            assert!(
                text.contains("undefined symbol: iw_extra"),
                "ldd -r agrees: {text}"
            );
        }
    }
    assert_agrees(&all);
}

#[test]
fn hostile_targets_symlink_loops_a_damaged_cache_and_a_self_including_conf() {
    let f = fixtures();
    let s = Scratch::new(&f.join("bookworm-rootfs"));
    let lib = s.host_path("/usr/lib/x86_64-linux-gnu");
    // The library the program needs is a symlink to itself; a NEEDED cycle would be next.
    std::os::unix::fs::symlink("libiwdemo.so.1", lib.join("libiwdemo.so.1")).unwrap();
    // Garbage where the cache should be, and a configuration that includes itself.
    std::fs::write(
        s.host_path("/etc/ld.so.cache"),
        b"glibc-ld.so.cache1.1\xff\xff\xff\xffjunk",
    )
    .unwrap();
    std::fs::write(
        s.host_path("/etc/ld.so.conf"),
        "include /etc/ld.so.conf\ninclude /etc/ld.so.conf.d/*.conf\n/usr/local/lib\n",
    )
    .unwrap();
    let (path, set) = program("needs-missing");
    let (v, d) = compare(
        "needs-missing on a hostile bookworm",
        &path,
        &set,
        &s,
        Options::default(),
    );
    assert!(d.is_empty(), "{}", d.join("\n"));
    assert_eq!(
        v[0].1.reasons[0].code,
        Code::LibraryNotFound,
        "{:?}",
        v[0].1.reasons
    );
    // The loader itself a symlink loop: the interpreter is missing, nothing hangs.
    let ld = s.host_path("/usr/lib64/ld-linux-x86-64.so.2");
    std::fs::remove_file(&ld).unwrap();
    std::os::unix::fs::symlink("ld-linux-x86-64.so.2", &ld).unwrap();
    let (_, set) = program("hello");
    let tree = open(
        &format!("dir:{}", s.root.display()),
        &OpenOptions::default(),
    )
    .unwrap();
    let t = Target::new("loop", Arc::new(tree), Options::default());
    assert!(
        t.ld_cache.is_err(),
        "a damaged cache is reported, and ignored as ld.so ignores it"
    );
    let v = t.check_app(&set, &set.binaries[0]);
    assert!(!v.runs);
    assert_eq!(
        v.reasons[0].code,
        Code::InterpreterMissing,
        "{:?}",
        v.reasons
    );
    assert!(
        v.reasons[0].message.contains("symlink loop"),
        "{}",
        v.reasons[0].message
    );
}
