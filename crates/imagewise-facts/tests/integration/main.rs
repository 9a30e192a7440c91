//! Facts checked against the reference tools (`dpkg-query`, `rpm`, the apk database itself, the
//! kernel's own config file) on real images built by `scripts/fixtures.sh`, and SBOMs checked
//! against the official schemas.

#![allow(clippy::unwrap_used)]

mod alpine;
mod debian;
mod dep5;
mod kernel;
mod kinds;
mod rpm;
mod sbom;
mod scalibr;
mod support;
mod system;
