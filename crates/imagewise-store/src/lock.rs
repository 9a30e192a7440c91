//! Locks: `locks/<random>` objects naming owner, host, pid, time and an expiry. Writers and
//! readers take shared locks; commands that delete (`forget`, `prune`, `repair`) take an
//! exclusive one. A held lock is rewritten with a later expiry every [`REFRESH`] by a thread of
//! its own, so a lock outlives its command only by at most [`TTL`]: a lock past its expiry is
//! stale wherever its process ran (a machine that died, a bucket shared across hosts), and so is
//! one whose process is gone on this host.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::{list_all, Backend, FileKind};
use crate::error::{Error, Result};

/// How long a lock holds without being refreshed.
pub const TTL: Duration = Duration::from_secs(30 * 60);
/// How often a running command refreshes its lock.
pub const REFRESH: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LockFile {
    pub exclusive: bool,
    pub host: String,
    pub pid: u32,
    pub time: String,
    pub command: String,
    /// RFC 3339; a lock written before expiries existed has none and never expires by time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl LockFile {
    fn new(exclusive: bool, command: &str, ttl: Duration) -> LockFile {
        let now = jiff::Timestamp::now();
        LockFile {
            exclusive,
            host: hostname(),
            pid: std::process::id(),
            time: now.to_string(),
            command: command.to_string(),
            expires: Some(expiry(now, ttl)),
        }
    }

    /// Left by a process that is gone: past its expiry, or its pid dead on this host.
    fn stale(&self, host: &str, now: jiff::Timestamp) -> bool {
        let expired = self
            .expires
            .as_deref()
            .and_then(|e| e.parse::<jiff::Timestamp>().ok())
            .is_some_and(|e| e < now);
        expired || (self.host == host && !alive(self.pid))
    }
}

fn expiry(now: jiff::Timestamp, ttl: Duration) -> String {
    let ttl = jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::MAX);
    now.checked_add(ttl).unwrap_or(now).to_string()
}

/// A held lock: refreshed while held, removed on drop.
pub(crate) struct Lock {
    backend: Arc<dyn Backend>,
    name: String,
    stop: Arc<AtomicBool>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.refresher.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        let _ = self.backend.remove(FileKind::Lock, &self.name);
    }
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// A shared lock for a command that only reads: on a repository this process cannot write (a
/// read-only mount, another user's files) it goes on without one, saying so.
pub(crate) fn read_lock(backend: &Arc<dyn Backend>, command: &str) -> Result<Option<Lock>> {
    match lock(backend, false, command) {
        Ok(l) => Ok(Some(l)),
        Err(Error::Io { what, err }) => {
            tracing::warn!(
                "cannot write a lock into {} ({what}: {err}); reading without one: a concurrent prune could remove data under this {command}",
                backend.location()
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Take a lock, failing with who holds a conflicting one.
pub(crate) fn lock(backend: &Arc<dyn Backend>, exclusive: bool, command: &str) -> Result<Lock> {
    lock_with(backend, exclusive, command, TTL, REFRESH)
}

pub(crate) fn lock_with(
    backend: &Arc<dyn Backend>,
    exclusive: bool,
    command: &str,
    ttl: Duration,
    refresh: Duration,
) -> Result<Lock> {
    let me = LockFile::new(exclusive, command, ttl);
    let name = crate::backend::random_name();
    let bytes = serde_json::to_vec(&me).unwrap_or_default();
    backend.write(FileKind::Lock, &name, &bytes, true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut held = Lock {
        backend: backend.clone(),
        name: name.clone(),
        stop: stop.clone(),
        refresher: None,
    };
    // Both sides write first, then look: of two conflicting lockers at least one sees the other.
    let now = jiff::Timestamp::now();
    for (other, _) in list_all(backend.as_ref(), FileKind::Lock)? {
        if other == name {
            continue;
        }
        let Ok(b) = backend.read(FileKind::Lock, &other) else {
            continue;
        };
        let Ok(l) = serde_json::from_slice::<LockFile>(&b) else {
            continue;
        };
        if l.stale(&me.host, now) {
            tracing::info!(
                "removing stale lock {} of `{}` (pid {} on {})",
                FileKind::Lock.path(&other),
                l.command,
                l.pid,
                l.host
            );
            let _ = backend.remove(FileKind::Lock, &other);
            continue;
        }
        if exclusive || l.exclusive {
            return Err(Error::Locked(format!(
                "the repository {} is locked by `{}` (pid {} on {}, since {}){}; try again when it is done, or remove {} if that process is gone (it expires by itself at {})",
                backend.location(),
                l.command,
                l.pid,
                l.host,
                l.time,
                if l.exclusive { "" } else { ", which must finish first" },
                FileKind::Lock.path(&other),
                l.expires.as_deref().unwrap_or("never: it predates expiries")
            )));
        }
    }
    let b = backend.clone();
    let mut mine = me;
    held.refresher = Some(std::thread::spawn(move || {
        let mut last = std::time::Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::park_timeout(refresh.min(Duration::from_secs(1)));
            if stop.load(Ordering::Relaxed) || last.elapsed() < refresh {
                continue;
            }
            last = std::time::Instant::now();
            mine.expires = Some(expiry(jiff::Timestamp::now(), ttl));
            let bytes = serde_json::to_vec(&mine).unwrap_or_default();
            if let Err(e) = b.write(FileKind::Lock, &name, &bytes, false) {
                tracing::warn!(
                    "cannot refresh the lock {}: {e}",
                    FileKind::Lock.path(&name)
                );
            }
        }
    }));
    Ok(held)
}
