//! What every [`Backend`] must do, as one suite: the local directory and the in-memory backend
//! run it in this crate's tests, and an object-store backend runs it against a real server. Each
//! case takes a fresh, empty backend from `make`; [`run`] returns every failure, named.
//!
//! ```
//! use std::sync::Arc;
//! use imagewise_store::{conformance, Backend, MemoryBackend};
//!
//! let failures = conformance::run(&|| Arc::new(MemoryBackend::new()) as Arc<dyn Backend>);
//! assert!(failures.is_empty(), "{failures:?}");
//! ```

use std::io::Write;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use imagewise_source::{ErrorKind, HasKind};

use crate::backend::{list_all, Backend, FileKind};
use crate::error::Error;
use crate::lock::{self, LockFile};

type Make<'a> = &'a dyn Fn() -> Arc<dyn Backend>;
/// A case: `Err` is what the backend did wrong, in words (a finding of the suite, not an error
/// of the store).
type Case = fn(Make<'_>) -> Result<(), String>;

/// A case the backend failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The case, as [`run`] names it ("conditional create").
    pub case: &'static str,
    /// What the backend did wrong.
    pub problem: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.case, self.problem)
    }
}

/// Run every case; the failures, each naming its case and what went wrong.
pub fn run(make: Make<'_>) -> Vec<Failure> {
    let cases: [(&str, Case); 8] = [
        ("missing objects", missing),
        ("whole and ranged reads", reads),
        ("conditional create", conditional),
        ("concurrent conditional creates", concurrent),
        ("kinds and pages", pages),
        ("staged objects", staged),
        ("locks", locks),
        ("expired foreign lock", expired_lock),
    ];
    cases
        .iter()
        .filter_map(|(case, run)| run(make).err().map(|problem| Failure { case, problem }))
        .collect()
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

fn fine<T>(r: crate::Result<T>, what: &str) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

fn missing(make: Make<'_>) -> Result<(), String> {
    let b = make();
    for kind in FileKind::ALL {
        let e = match b.read(kind, "0123abcd") {
            Ok(_) => return Err(format!("reading a missing {kind:?} object succeeded")),
            Err(e) => e,
        };
        ensure(e.kind() == ErrorKind::NotFound, || {
            format!(
                "a missing {kind:?} object reads as {:?} ({e}), not not-found",
                e.kind()
            )
        })?;
        ensure(fine(b.size(kind, "0123abcd"), "size")?.is_none(), || {
            "a missing object has a size".into()
        })?;
        ensure(b.open(kind, "0123abcd").is_err(), || {
            "a missing object opens".into()
        })?;
        fine(b.remove(kind, "0123abcd"), "removing a missing object")?;
        ensure(fine(b.list(kind, None, 10), "list")?.is_empty(), || {
            "an empty backend lists objects".into()
        })?;
    }
    Ok(())
}

fn reads(make: Make<'_>) -> Result<(), String> {
    let b = make();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fine(b.write(FileKind::Index, "aa01", &data, false), "write")?;
    ensure(
        fine(b.read(FileKind::Index, "aa01"), "read")? == data,
        || "the object reads back otherwise than written".into(),
    )?;
    ensure(
        fine(b.size(FileKind::Index, "aa01"), "size")? == Some(data.len() as u64),
        || "wrong size".into(),
    )?;
    for (off, len) in [
        (0usize, 10usize),
        (99_990, 10),
        (5000, 40_000),
        (99_995, 100),
        (200_000, 5),
    ] {
        let want = &data[off.min(data.len())..(off + len).min(data.len())];
        let got = fine(
            b.read_at(FileKind::Index, "aa01", off as u64, len),
            "read_at",
        )?;
        ensure(got == want, || {
            format!("read_at({off}, {len}) gave {} bytes", got.len())
        })?;
        let o = fine(b.open(FileKind::Index, "aa01"), "open")?;
        let got = fine(o.read_at(off as u64, len), "ReadAt")?;
        ensure(got == want, || {
            format!("open().read_at({off}, {len}) gave {} bytes", got.len())
        })?;
    }
    // Replacing (not exclusive) and removing.
    fine(b.write(FileKind::Index, "aa01", b"new", false), "rewrite")?;
    ensure(
        fine(b.read(FileKind::Index, "aa01"), "read")? == b"new",
        || "a rewrite did not replace the object".into(),
    )?;
    fine(b.remove(FileKind::Index, "aa01"), "remove")?;
    ensure(
        fine(b.size(FileKind::Index, "aa01"), "size")?.is_none(),
        || "a removed object is still there".into(),
    )
}

fn conditional(make: Make<'_>) -> Result<(), String> {
    let b = make();
    fine(b.write(FileKind::Snapshot, "5a", b"first", true), "create")?;
    match b.write(FileKind::Snapshot, "5a", b"second", true) {
        Ok(()) => return Err("a second exclusive create succeeded".into()),
        Err(e @ Error::Exists(_)) => ensure(e.kind() == ErrorKind::Conflict, || {
            "exists is not a conflict".into()
        })?,
        Err(e) => return Err(format!("a second exclusive create failed otherwise: {e}")),
    }
    ensure(
        fine(b.read(FileKind::Snapshot, "5a"), "read")? == b"first",
        || "a failed exclusive create changed the object".into(),
    )?;
    // The same name in another kind is another object.
    fine(
        b.write(FileKind::Index, "5a", b"other", true),
        "create in another kind",
    )?;
    ensure(
        fine(b.read(FileKind::Snapshot, "5a"), "read")? == b"first",
        || "kinds share names".into(),
    )
}

fn concurrent(make: Make<'_>) -> Result<(), String> {
    const WRITERS: usize = 8;
    for round in 0..5 {
        let b = make();
        let start = Arc::new(Barrier::new(WRITERS));
        let results: Vec<(usize, crate::Result<()>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..WRITERS)
                .map(|i| {
                    let (b, start) = (b.clone(), start.clone());
                    s.spawn(move || {
                        start.wait();
                        let body = format!("writer {i}").into_bytes();
                        (i, b.write(FileKind::Lock, "contended", &body, true))
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        let winners: Vec<usize> = results
            .iter()
            .filter(|r| r.1.is_ok())
            .map(|r| r.0)
            .collect();
        ensure(winners.len() == 1, || {
            format!(
                "round {round}: {} of {WRITERS} concurrent creates won",
                winners.len()
            )
        })?;
        for (i, r) in &results {
            if let Err(e) = r {
                ensure(matches!(e, Error::Exists(_)), || {
                    format!("round {round}: writer {i} lost with {e}, not exists")
                })?;
            }
        }
        let body = fine(b.read(FileKind::Lock, "contended"), "read")?;
        ensure(
            body == format!("writer {}", winners[0]).into_bytes(),
            || format!("round {round}: the object is not the winner's"),
        )?;
    }
    Ok(())
}

fn pages(make: Make<'_>) -> Result<(), String> {
    let b = make();
    let written: std::collections::BTreeMap<String, u64> = (0..25u64)
        .map(|i| (format!("{:064x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)), i))
        .collect();
    for (n, size) in &written {
        fine(
            b.write(FileKind::Index, n, &vec![1u8; *size as usize], false),
            "write",
        )?;
    }
    let names: Vec<String> = written.keys().cloned().collect();
    fine(b.write(FileKind::Snapshot, &names[0], b"s", false), "write")?;
    let mut seen: Vec<(String, u64)> = Vec::new();
    loop {
        let page = fine(
            b.list(FileKind::Index, seen.last().map(|l| l.0.as_str()), 10),
            "list",
        )?;
        ensure(page.len() <= 10, || "a page holds more than asked".into())?;
        if let (Some(last), Some(first)) = (seen.last(), page.first()) {
            ensure(first.0 > last.0, || {
                format!("a page after {:?} starts at {:?}", last.0, first.0)
            })?;
        }
        let done = page.len() < 10;
        seen.extend(page);
        if done {
            break;
        }
    }
    let listed: Vec<String> = seen.iter().map(|s| s.0.clone()).collect();
    ensure(listed == names, || {
        format!(
            "pages listed {} names, not the 25 written, in order",
            listed.len()
        )
    })?;
    for (name, size) in &seen {
        ensure(written.get(name) == Some(size), || {
            format!("{name} listed with size {size}")
        })?;
    }
    ensure(
        fine(list_all(b.as_ref(), FileKind::Index), "list_all")?.len() == 25,
        || "list_all missed objects".into(),
    )?;
    ensure(
        fine(b.list(FileKind::Snapshot, None, 100), "list")?.len() == 1,
        || "another kind's objects are listed".into(),
    )
}

fn staged(make: Make<'_>) -> Result<(), String> {
    let b = make();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let mut s = fine(b.stage(), "stage")?;
    s.file()
        .write_all(&data)
        .map_err(|e| format!("writing the staged file: {e}"))?;
    fine(b.commit(s, FileKind::Pack, &"ab".repeat(32)), "commit")?;
    ensure(
        fine(b.read(FileKind::Pack, &"ab".repeat(32)), "read")? == data,
        || "a committed object reads back otherwise".into(),
    )?;
    // An uncommitted stage leaves nothing.
    let mut s = fine(b.stage(), "stage")?;
    let _ = s.file().write_all(b"abandoned");
    drop(s);
    ensure(
        fine(b.list(FileKind::Pack, None, 10), "list")?.len() == 1,
        || "an abandoned stage became an object".into(),
    )?;
    fine(b.clean_staging(), "clean staging")
}

fn locks(make: Make<'_>) -> Result<(), String> {
    let b = make();
    let shared1 = fine(lock::lock(&b, false, "reader one"), "shared lock")?;
    let shared2 = fine(lock::lock(&b, false, "reader two"), "second shared lock")?;
    match lock::lock(&b, true, "prune") {
        Ok(_) => return Err("an exclusive lock was taken beside shared ones".into()),
        Err(e) => ensure(e.kind() == ErrorKind::Conflict, || {
            format!("a held lock refused as {:?}", e.kind())
        })?,
    }
    drop(shared1);
    drop(shared2);
    ensure(
        fine(b.list(FileKind::Lock, None, 10), "list")?.is_empty(),
        || "released locks were left behind".into(),
    )?;
    let ex = fine(lock::lock(&b, true, "prune"), "exclusive lock")?;
    ensure(lock::lock(&b, false, "reader").is_err(), || {
        "a shared lock was taken beside an exclusive one".into()
    })?;
    drop(ex);
    // A held lock is refreshed: its expiry moves on while the command runs.
    let held = fine(
        lock::lock_with(
            &b,
            false,
            "long",
            Duration::from_secs(60),
            Duration::from_millis(200),
        ),
        "refreshed lock",
    )?;
    let expiry = |b: &Arc<dyn Backend>| -> Result<String, String> {
        let (name, _) = fine(b.list(FileKind::Lock, None, 10), "list")?
            .pop()
            .ok_or("no lock")?;
        let l: LockFile = serde_json::from_slice(&fine(b.read(FileKind::Lock, &name), "read")?)
            .map_err(|e| e.to_string())?;
        Ok(l.expires.unwrap_or_default())
    };
    let first = expiry(&b)?;
    std::thread::sleep(Duration::from_millis(1500));
    let later = expiry(&b)?;
    ensure(later > first, || {
        format!("a held lock was not refreshed ({first} → {later})")
    })?;
    drop(held);
    Ok(())
}

fn expired_lock(make: Make<'_>) -> Result<(), String> {
    let b = make();
    let foreign = |expires: &str| LockFile {
        exclusive: true,
        host: "another-host.invalid".into(),
        pid: 1,
        time: "2026-01-01T00:00:00Z".into(),
        command: "prune".into(),
        expires: Some(expires.into()),
    };
    let put = |name: &str, l: &LockFile| {
        fine(
            b.write(
                FileKind::Lock,
                name,
                &serde_json::to_vec(l).unwrap_or_default(),
                true,
            ),
            "write a foreign lock",
        )
    };
    // Live on another host: it holds, whatever its pid means here.
    put("live", &foreign("2999-01-01T00:00:00Z"))?;
    match lock::lock(&b, false, "snapshot create") {
        Ok(_) => return Err("a live foreign exclusive lock was ignored".into()),
        Err(e) => ensure(e.to_string().contains("another-host.invalid"), || {
            format!("the refusal does not name the holder: {e}")
        })?,
    }
    fine(b.remove(FileKind::Lock, "live"), "remove")?;
    // Expired on another host: stale, removed, and the lock is taken.
    put("dead", &foreign("2026-01-01T00:30:00Z"))?;
    let l = fine(
        lock::lock(&b, true, "prune"),
        "lock over an expired foreign lock",
    )?;
    ensure(
        fine(b.size(FileKind::Lock, "dead"), "size")?.is_none(),
        || "the expired lock was not removed".into(),
    )?;
    drop(l);
    Ok(())
}
