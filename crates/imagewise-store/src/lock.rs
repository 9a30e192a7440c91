//! Locks: `locks/<random>` files naming owner, host, pid and time. Writers and readers take
//! shared locks; `prune` (which deletes) takes an exclusive one. A lock whose process is gone
//! (same host, pid not running) is stale and removed.

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LockFile {
    exclusive: bool,
    host: String,
    pid: u32,
    time: String,
    command: String,
}

/// A held lock; removed on drop.
pub(crate) struct Lock<'a> {
    backend: &'a dyn Backend,
    name: String,
}

impl Drop for Lock<'_> {
    fn drop(&mut self) {
        let _ = self.backend.remove(&self.name);
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
pub(crate) fn read_lock<'a>(backend: &'a dyn Backend, command: &str) -> Result<Option<Lock<'a>>> {
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
pub(crate) fn lock<'a>(
    backend: &'a dyn Backend,
    exclusive: bool,
    command: &str,
) -> Result<Lock<'a>> {
    let me = LockFile {
        exclusive,
        host: hostname(),
        pid: std::process::id(),
        time: jiff::Timestamp::now().to_string(),
        command: command.to_string(),
    };
    let mut rnd = [0u8; 8];
    let _ = getrandom::fill(&mut rnd);
    let name = format!("locks/{}", hex::encode(rnd));
    let bytes = serde_json::to_vec(&me).unwrap_or_default();
    backend.write(&name, &bytes, true)?;
    let held = Lock { backend, name };
    // Both sides write first, then look: of two conflicting lockers at least one sees the other.
    for (other, _) in backend.list("locks")? {
        let other = format!("locks/{other}");
        if other == held.name {
            continue;
        }
        let Ok(b) = backend.read(&other) else {
            continue;
        };
        let Ok(l) = serde_json::from_slice::<LockFile>(&b) else {
            continue;
        };
        if l.host == me.host && !alive(l.pid) {
            let _ = backend.remove(&other);
            continue;
        }
        if exclusive || l.exclusive {
            return Err(Error::Locked(format!(
                "the repository {} is locked by `{}` (pid {} on {}, since {}){}; try again when it is done, or remove {} if that process is gone",
                backend.location(),
                l.command,
                l.pid,
                l.host,
                l.time,
                if l.exclusive { "" } else { ", which must finish first" },
                other
            )));
        }
    }
    Ok(held)
}
