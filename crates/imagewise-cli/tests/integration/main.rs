//! CLI acceptance tests: run the `imagewise` binary on real images built by
//! `scripts/fixtures.sh` (see README: `scripts/test.sh` builds them and sets
//! `IMAGEWISE_FIXTURES`), assert exit codes and JSON.

#![allow(clippy::unwrap_used)]

mod apps;
mod btrfs;
mod catalog;
mod check;
mod db_update;
mod exit_codes;
mod files_cache;
mod golden;
mod host_root;
mod inspect;
mod iso;
mod layers;
mod lifecycle;
mod lint;
mod lvm;
mod peer_corpus;
mod rank;
mod same_tree;
mod sbom_conformance;
mod scan;
mod snapshot_source;
mod squashfs;
mod store;
mod support;
mod trust;
mod xfs;
