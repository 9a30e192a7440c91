//! The backend seam: the conformance suite on every backend here, and a whole repository (create,
//! check, read as an image, restore, forget, prune) in memory, which no host path can reach.

use std::sync::Arc;

use imagewise_source::OpenOptions;
use imagewise_store::{
    conformance, Backend, CheckOptions, CreateOptions, FileKind, ForgetPolicy, InitOptions,
    LocalDir, MemoryBackend, Repo, RestoreOptions,
};

#[test]
fn every_backend_passes_the_conformance_suite() {
    let dirs = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let local = || -> Arc<dyn Backend> {
        let root = dirs.path().join(format!(
            "r{}",
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let b = LocalDir::new(&root);
        b.create_layout().unwrap();
        Arc::new(b)
    };
    let failures = conformance::run(&local);
    assert!(
        failures.is_empty(),
        "local directory:\n{}",
        lines(&failures)
    );
    let failures = conformance::run(&|| Arc::new(MemoryBackend::new()) as Arc<dyn Backend>);
    assert!(failures.is_empty(), "memory:\n{}", lines(&failures));
}

fn lines(failures: &[conformance::Failure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_repository_lives_whole_in_memory() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("etc/app")).unwrap();
    std::fs::write(src.join("etc/os-release"), b"ID=demo\nVERSION_ID=1\n").unwrap();
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i * 31 % 255) as u8).collect();
    std::fs::write(src.join("etc/app/big"), &big).unwrap();
    std::fs::hard_link(src.join("etc/app/big"), src.join("etc/app/same")).unwrap();
    std::os::unix::fs::symlink("big", src.join("etc/app/link")).unwrap();

    let mem: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let repo = Repo::init_with(mem.clone(), &InitOptions::default()).unwrap();
    assert!(Repo::init_with(mem.clone(), &InitOptions::default()).is_err());
    let tree =
        imagewise_source::open(&format!("dir:{}", src.display()), &OpenOptions::default()).unwrap();
    let opts = CreateOptions {
        tags: vec!["v1".into()],
        ..CreateOptions::default()
    };
    repo.create_tree(&tree, &opts).unwrap();
    repo.create_tree(&tree, &CreateOptions::default()).unwrap();
    assert!(!mem.list(FileKind::Pack, None, 10).unwrap().is_empty());
    let check = repo
        .check(&CheckOptions {
            read_data: true,
            ..CheckOptions::default()
        })
        .unwrap();
    assert!(check.ok(), "{:?}", check.errors);

    // Read as an image, straight from memory.
    let reopened = Repo::open_with(mem.clone()).unwrap();
    let image = reopened
        .image_tree(
            "snapshot:memory",
            "v1",
            None,
            false,
            &OpenOptions::default(),
        )
        .unwrap();
    assert_eq!(image.read("/etc/app/link", 1 << 22).unwrap(), big);
    assert_eq!(image.read("/etc/app/same", 1 << 22).unwrap(), big);
    assert_eq!(image.entries().len(), tree.entries().len());

    // Restore to disk, exactly.
    let out = t.path().join("out");
    let rep = reopened
        .restore("v1", &out, &RestoreOptions::default())
        .unwrap();
    assert!(rep.failures.is_empty(), "{:?}", rep.failures);
    assert_eq!(super::manifest(&src), super::manifest(&out));

    // While the tree is open it holds a shared lock: nothing can be forgotten under it.
    let policy = ForgetPolicy {
        keep_last: 1,
        ..ForgetPolicy::default()
    };
    let held = reopened.forget(&policy).unwrap_err();
    assert!(held.to_string().contains("reading a snapshot"), "{held}");
    drop(image);

    // Forget one, prune: what is left still checks out.
    reopened
        .forget(&ForgetPolicy {
            keep_last: 1,
            ..ForgetPolicy::default()
        })
        .unwrap();
    reopened.prune().unwrap();
    let check = reopened
        .check(&CheckOptions {
            read_data: true,
            ..CheckOptions::default()
        })
        .unwrap();
    assert!(check.ok(), "{:?}", check.errors);
    assert_eq!(reopened.snapshots().unwrap().0.len(), 1);
}

/// A memory backend with one fault.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// Conditional creates and paging done wrong: the suite must say so.
    Careless,
    /// The disk is full for packs: every pack commit fails with ENOSPC.
    FullDisk,
}

struct Faulty(MemoryBackend, Fault);

impl Backend for Faulty {
    fn location(&self) -> String {
        self.0.location()
    }
    fn read(&self, k: FileKind, n: &str) -> imagewise_store::Result<Vec<u8>> {
        self.0.read(k, n)
    }
    fn read_at(&self, k: FileKind, n: &str, o: u64, l: usize) -> imagewise_store::Result<Vec<u8>> {
        self.0.read_at(k, n, o, l)
    }
    fn write(&self, k: FileKind, n: &str, b: &[u8], x: bool) -> imagewise_store::Result<()> {
        self.0.write(k, n, b, x && self.1 != Fault::Careless)
    }
    fn stage(&self) -> imagewise_store::Result<imagewise_store::Staged> {
        self.0.stage()
    }
    fn commit(
        &self,
        s: imagewise_store::Staged,
        k: FileKind,
        n: &str,
    ) -> imagewise_store::Result<()> {
        if self.1 == Fault::FullDisk && k == FileKind::Pack {
            return Err(imagewise_store::Error::Io {
                what: format!("syncing pack {n}"),
                err: std::io::Error::from_raw_os_error(28),
            });
        }
        self.0.commit(s, k, n)
    }
    fn list(
        &self,
        k: FileKind,
        after: Option<&str>,
        l: usize,
    ) -> imagewise_store::Result<Vec<(String, u64)>> {
        let after = if self.1 == Fault::Careless {
            None
        } else {
            after
        };
        self.0.list(k, after, l)
    }
    fn size(&self, k: FileKind, n: &str) -> imagewise_store::Result<Option<u64>> {
        self.0.size(k, n)
    }
    fn remove(&self, k: FileKind, n: &str) -> imagewise_store::Result<()> {
        self.0.remove(k, n)
    }
    fn open(
        &self,
        k: FileKind,
        n: &str,
    ) -> imagewise_store::Result<Box<dyn imagewise_store::ReadAt>> {
        self.0.open(k, n)
    }
}

#[test]
fn the_suite_fails_a_careless_backend() {
    let failures = conformance::run(&|| {
        Arc::new(Faulty(MemoryBackend::new(), Fault::Careless)) as Arc<dyn Backend>
    });
    let text = lines(&failures);
    for case in [
        "conditional create",
        "concurrent conditional creates",
        "kinds and pages",
    ] {
        assert!(
            failures.iter().any(|f| f.case == case),
            "the suite passed {case:?}: {text}"
        );
    }
}

/// When the pack writers fail (here a full disk), `snapshot create` says why, not merely that
/// they stopped, whether the last pack of a writer failed (a small tree) or the committer's
/// first full one while files were still being read (48 MB that does not compress); and no
/// snapshot is left.
#[test]
fn a_pack_writers_own_error_is_the_one_reported() {
    let t = tempfile::tempdir().unwrap();
    let small = t.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(small.join("a"), b"some bytes").unwrap();
    let big = t.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for f in 0..6 {
        let bytes: Vec<u8> = (0..8 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(big.join(format!("f{f}")), bytes).unwrap();
    }
    for src in [&small, &big] {
        let backend: Arc<dyn Backend> = Arc::new(Faulty(MemoryBackend::new(), Fault::FullDisk));
        let repo = Repo::init_with(backend, &InitOptions::default()).unwrap();
        let tree =
            imagewise_source::open(&format!("dir:{}", src.display()), &OpenOptions::default())
                .unwrap();
        let err = repo
            .create_tree(&tree, &CreateOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("No space left on device") && err.contains("syncing pack"),
            "{}: {err}",
            src.display()
        );
        assert!(repo.snapshots().unwrap().0.is_empty());
    }
}
