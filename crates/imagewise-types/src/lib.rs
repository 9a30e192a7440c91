//! The vocabulary every imagewise crate shares, so that a value is spelled one way in every
//! command and every report: an image's [`Arch`] (with its Debian, `uname -m`/ELF and OCI
//! spellings), its [`LibcKind`], a package [`Ecosystem`], a [`Distro`], a severity [`Level`], the
//! [`ErrorKind`] every library error reports through [`HasKind`], and the [`Progress`] trait long
//! operations report to. It depends on no other crate of ours.
//!
//! ```
//! use imagewise_types::Arch;
//!
//! let a = Arch::from_oci("arm", Some("v7"));
//! assert_eq!(a, Arch::Armhf);
//! assert_eq!(a.uname(), "armv7l");
//! assert_eq!(a.to_string(), "armhf");
//! assert_eq!("aarch64".parse::<Arch>().unwrap(), Arch::Arm64);
//! ```

mod arch;
mod distro;
mod ecosystem;
mod error_kind;
mod level;
mod libc;
mod progress;
mod unknown;

pub use arch::{Arch, ElfMachine};
pub use distro::Distro;
pub use ecosystem::Ecosystem;
pub use error_kind::{ErrorKind, HasKind};
pub use level::Level;
pub use libc::LibcKind;
pub use progress::{NoProgress, Progress};
pub use unknown::UnknownName;
