//! Which C library an image or a program uses.

use serde::{Deserialize, Serialize};

/// The C library of an image (or the one a program's loader belongs to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LibcKind {
    Glibc,
    Musl,
    /// No C library: static binaries only, or nothing to run.
    None,
}

impl LibcKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LibcKind::Glibc => "glibc",
            LibcKind::Musl => "musl",
            LibcKind::None => "none",
        }
    }

    /// The C library a `PT_INTERP` path belongs to: musl's loaders are `ld-musl-ARCH.so.1`,
    /// every other dynamic loader of Linux is glibc's.
    pub fn of_interp(interp: &str) -> LibcKind {
        if interp
            .rsplit('/')
            .next()
            .unwrap_or("")
            .starts_with("ld-musl-")
        {
            LibcKind::Musl
        } else {
            LibcKind::Glibc
        }
    }
}

impl std::fmt::Display for LibcKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
