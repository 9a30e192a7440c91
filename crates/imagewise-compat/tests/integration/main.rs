//! `check` against the real loader: every ELF of real Debian and Alpine root filesystems, and
//! programs built by scripts/fixtures.sh, checked with imagewise and with the target's own
//! loader (`chroot TARGET LOADER --list BIN` on an overlay of the target), verdicts compared.
#![allow(clippy::unwrap_used)]

mod oracle;
