//! The facts report. These types map directly to the `imagewise inspect --json` document,
//! whose schema is written down in `docs/inspect-json.md`; change them only with that file.
//!
//! Lists are sorted and maps are `BTreeMap`s, so the same image gives the same bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bumped when a key changes meaning or disappears (adding keys does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

/// Everything `inspect` found out about one image, from the image's own files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageFacts {
    pub schema_version: u32,
    pub image: ImageSummary,
    pub os: Os,
    /// Debian-style architecture name (`amd64`, `arm64`, `armhf`, `i386`, …); `null` when the
    /// image has no configuration and no ELF files.
    pub arch: Option<String>,
    pub arch_detail: ArchDetail,
    pub libc: Libc,
    /// Installed packages of every ecosystem, sorted by ecosystem, name, version, arch.
    pub packages: Vec<Package>,
    /// Each package database found (or looked for and found broken).
    pub package_databases: Vec<PackageDatabase>,
    pub kernel: KernelFacts,
    pub init: InitFacts,
    pub agents: Vec<Agent>,
    pub logging: Logging,
    pub runtimes: Vec<Runtime>,
    pub security: Security,
    pub kind: ImageKind,
    pub size: SizeFacts,
    /// The OCI image configuration, where the image has one.
    pub config: Option<ConfigFacts>,
    /// What could not be determined, and why.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageSummary {
    pub reference: String,
    /// `dir`, `tar`, `docker-archive`, `oci`, `oci-archive` or `disk`.
    pub format: String,
    pub manifest_digest: Option<String>,
    pub platform: Option<String>,
    pub tags: Vec<String>,
    /// For disks: the partition the tree was read from (`#N`, table, type, filesystem).
    pub partition: Option<String>,
    /// For disks: the container (`raw`, `qcow2`, `vmdk`, `vhd-fixed`, `vhd-dynamic`, `vhdx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The image's content digest (the manifest digest, else `tree:sha256:` of its listing);
    /// computed for SBOMs, where it is the image's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_digest: Option<String>,
}

/// The distribution, from `/etc/os-release` or the fallbacks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Os {
    /// os-release `ID` (`debian`, `alpine`, `rocky`, …).
    pub id: Option<String>,
    pub id_like: Vec<String>,
    pub name: Option<String>,
    pub version_id: Option<String>,
    pub version_codename: Option<String>,
    pub pretty_name: Option<String>,
    /// The file the identity came from (`/etc/os-release`, `/etc/alpine-release`, …).
    pub source: Option<String>,
    /// Every key of os-release as written.
    pub release: BTreeMap<String, String>,
    /// How long this release is supported, from the lifecycle table; `null` when the table
    /// has no row for it.
    pub support: Option<SupportWindow>,
}

/// Where a release stands on the day it was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportStatus {
    /// Within standard support.
    Supported,
    /// Past standard support, within the distribution's extended support (LTS, ESM, ELS, LTSS).
    Extended,
    /// Past every published end.
    Ended,
    /// Not released yet (a testing distribution's next release).
    Unreleased,
    /// A rolling distribution or a development snapshot: no release to end.
    Rolling,
    /// Released, but no end date has been published.
    Unknown,
}

/// The support window of the image's release, from the lifecycle table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupportWindow {
    /// The distribution's name in the table (`Debian`).
    pub distro: String,
    /// The release the image's version matched (`12`, `3.20`).
    pub release: String,
    pub codename: Option<String>,
    pub status: SupportStatus,
    pub released: Option<String>,
    /// End of standard (security) support, `YYYY-MM-DD`.
    pub end_of_life: Option<String>,
    /// Days from the day judged to `end_of_life` (negative: ended that many days ago).
    pub days_left: Option<i64>,
    /// The distribution's name for its extended support (`LTS`, `ESM`, `ELS`, `LTSS`).
    pub extended: Option<String>,
    pub extended_end: Option<String>,
    pub extended_days_left: Option<i64>,
    /// Where the dates were published.
    pub source: String,
    /// Which table answered: `builtin 2026-12-06`, `+ FILE` per user file.
    pub table: String,
}

impl SupportWindow {
    /// The last day of any support: extended if published, else standard.
    pub fn last_day(&self) -> Option<&str> {
        self.extended_end.as_deref().or(self.end_of_life.as_deref())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ArchDetail {
    /// `oci-config` or `elf`; `null` when neither told.
    pub source: Option<String>,
    /// The architecture the OCI configuration declares, in OCI spelling (`amd64`, `arm64/v8`).
    pub config: Option<String>,
    /// ELF files sampled from the binary and library directories, counted per architecture.
    pub elf: BTreeMap<String, u64>,
    /// More than one architecture among the image's own binaries.
    pub mixed: bool,
}

pub use imagewise_types::LibcKind;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Libc {
    pub kind: LibcKind,
    /// Upstream version (`2.36`, `1.2.5`).
    pub version: Option<String>,
    /// Where the version came from: `binary` (the library's own version string) or `package`.
    pub version_source: Option<String>,
    /// The package that ships it, with its full version (`libc6 2.36-9+deb12u4`).
    pub package: Option<String>,
    /// The C library file itself.
    pub path: Option<String>,
    /// The dynamic loader (`/lib64/ld-linux-x86-64.so.2`, `/lib/ld-musl-x86_64.so.1`).
    pub loader: Option<String>,
    /// glibc: the highest `GLIBC_x.y` symbol version the library defines.
    pub max_symbol_version: Option<String>,
}

pub use imagewise_types::Ecosystem;

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    /// The full version as the package manager orders it (dpkg `[epoch:]upstream[-revision]`,
    /// apk `x.y.z-rN`, rpm `[epoch:]version-release`).
    pub version: String,
    pub arch: Option<String>,
    /// dpkg `Source:` name, apk origin, rpm source package name (from SOURCERPM); the package's
    /// own name when the database records none.
    pub source_name: String,
    /// dpkg `Source: name (version)` version else the binary version; rpm `version-release` of
    /// the SOURCERPM; apk: the package version (origins share it).
    pub source_version: String,
    /// rpm epoch (also part of `version` when set).
    pub epoch: Option<u64>,
    /// Installed size in bytes, where recorded.
    pub installed_size: Option<u64>,
    /// License as recorded (apk `L:`, rpm LICENSE); for dpkg, which records none in its
    /// database, the SPDX expression of the package's machine-readable copyright file where it
    /// was read (SBOMs).
    pub license: Option<String>,
    /// Copyright lines, where recorded (dpkg: the machine-readable copyright file's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copyright: Option<String>,
    pub maintainer: Option<String>,
    pub summary: Option<String>,
    /// Package URL (purl) spec: `pkg:deb/debian/…`, `pkg:apk/alpine/…`, `pkg:rpm/…`.
    pub purl: String,
    /// The database it came from; for application packages, the file: the metadata file, the
    /// archive (`/app.jar!/BOOT-INF/lib/x.jar` inside another) or the program.
    pub database: String,
    /// The layer that wrote that file (layered images, application packages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// `direct` or `transitive`, where a manifest or lock file says (`dev` for composer's
    /// development packages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackageDatabase {
    pub ecosystem: Ecosystem,
    pub path: String,
    /// `dpkg-status`, `dpkg-status.d`, `apk-installed`, `rpm-sqlite`, `rpm-bdb`, `rpm-ndb`.
    pub format: String,
    pub packages: u64,
    /// `ok`, `unsupported` or `corrupt`.
    pub status: String,
    /// Records that could not be read, and why (the rest are still listed).
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KernelFacts {
    pub kernels: Vec<Kernel>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kernel {
    /// The release string (`6.1.0-28-amd64`).
    pub version: String,
    /// `/boot/vmlinuz-…` when present.
    pub image: Option<String>,
    /// `/lib/modules/…` or `/usr/lib/modules/…` when present.
    pub modules_dir: Option<String>,
    pub config_path: Option<String>,
    /// The flags people choose images by, `y`/`m`/`n` (absent from the config = `n`).
    pub highlights: BTreeMap<String, String>,
    /// Every `CONFIG_*` line of the config, as written (`y`, `m`, numbers, strings).
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InitFacts {
    /// `systemd`, `openrc`, `runit`, `sysvinit`, `busybox`, `s6`, or `none`.
    pub system: String,
    /// What `/sbin/init` is (its link target, or the file).
    pub init_path: Option<String>,
    /// systemd default target.
    pub default_target: Option<String>,
    /// Enabled services, `unit` names (systemd) or service names (openrc, runit), sorted.
    pub enabled: Vec<EnabledService>,
    /// systemd units masked (linked to /dev/null).
    pub masked: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EnabledService {
    pub name: String,
    /// The target or runlevel that wants it (`multi-user.target`, `default`, `boot`).
    pub by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Agent {
    /// `cloud-init`, `qemu-guest-agent`, `open-vm-tools`, `waagent`, `amazon-ssm-agent`,
    /// `google-guest-agent`, `node_exporter`, …
    pub name: String,
    /// The files that show it.
    pub evidence: Vec<String>,
    /// Version from its package where the image has a package database.
    pub version: Option<String>,
    /// Enabled as a service (systemd wants link or openrc runlevel).
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Logging {
    /// journald `Storage=` (`auto` when not set but journald is installed).
    pub journald_storage: Option<String>,
    pub journald_forward_to_syslog: Option<String>,
    pub rsyslog: bool,
    /// rsyslog forwards to a remote host (`@host` or `omfwd`).
    pub rsyslog_remote: bool,
    pub syslog_ng: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Runtime {
    /// `python`, `java`, `node`, `perl`, `ruby`, `go`, `openssl`, `php`.
    pub name: String,
    pub version: Option<String>,
    /// The executable or library it was found at.
    pub path: String,
    /// `package` (from the package database), `path` (from a versioned file name) or `file`
    /// (from a version file such as `release`).
    pub version_source: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Security {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    /// Accounts whose shadow password is empty: anyone can log in as them.
    pub empty_password: Vec<String>,
    /// Accounts with a usable password hash.
    pub password_set: Vec<String>,
    /// `locked` (`!`/`*` hash), `no-password` (empty: no password needed), `password`, or
    /// `unknown` (no /etc/shadow).
    pub root: String,
    pub sshd: Option<Sshd>,
    /// `/etc/sudoers` or `/etc/sudoers.d/*` present.
    pub sudoers: Vec<String>,
    pub setuid: Vec<String>,
    pub setgid: Vec<String>,
    /// Regular files and directories writable by anyone (directories with the sticky bit, such as
    /// `/tmp`, are not listed).
    pub world_writable: Vec<String>,
    pub apparmor: Option<String>,
    /// SELinux: `enforcing`, `permissive` or `disabled` from `/etc/selinux/config`.
    pub selinux: Option<String>,
    /// A FIPS switch is set (`/etc/system-fips`, crypto-policies FIPS, `fips=1` on the kernel command line).
    pub fips: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
    /// The shell lets the account log in (not `nologin` or `false`).
    pub login_shell: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sshd {
    pub config: String,
    /// The effective value (first one wins, as in sshd), or sshd's default when not set.
    pub permit_root_login: String,
    pub password_authentication: String,
    /// Whether the values came from the file (`true`) or are sshd's defaults.
    pub explicit: BTreeMap<String, bool>,
    /// Every keyword set before the first `Match`, lowercased, with the value sshd obtains
    /// first (as written: `permitemptypasswords` → `no`, `allowusers` → `alice bob`).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Lines and includes that could not be followed (an `Include` loop, an unreadable file).
    #[serde(default)]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    /// Has an init system: boots as a machine.
    System,
    /// Has a shell and a package manager, no init: a container base or app image.
    Application,
    /// No shell and no package manager, but more than one program or libraries.
    Distroless,
    /// One static binary (and little else).
    Scratch,
    /// No files at all.
    Empty,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SizeFacts {
    /// Bytes of regular files in the merged tree (hardlinks counted once).
    pub total_bytes: u64,
    pub files: u64,
    pub directories: u64,
    pub symlinks: u64,
    pub layers: Vec<LayerSize>,
    /// Bytes in layers that later layers delete or replace.
    pub waste_bytes: u64,
    /// The directories holding the most bytes (whole subtree), largest first.
    pub largest_directories: Vec<DirSize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerSize {
    pub index: usize,
    pub digest: Option<String>,
    /// Compressed blob size.
    pub size: u64,
    pub uncompressed_size: u64,
    pub entries: u64,
    pub hidden_entries: u64,
    pub hidden_bytes: u64,
    /// The history entry that made it (`created_by`), where the configuration has one.
    pub created_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DirSize {
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConfigFacts {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    /// The `Healthcheck` test (`["CMD", …]`, `["CMD-SHELL", …]`, `["NONE"]`) docker records;
    /// OCI configurations have no such field.
    #[serde(default)]
    pub healthcheck: Option<Vec<String>>,
    pub created: Option<String>,
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub created: Option<String>,
    pub created_by: Option<String>,
    pub comment: Option<String>,
    pub empty_layer: bool,
}
