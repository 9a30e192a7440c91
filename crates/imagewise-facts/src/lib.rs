//! Facts about a server image, read from its own files and never from the host: distribution,
//! architecture, C library, installed packages (dpkg, apk, rpm in all three database backends),
//! kernels and their configuration, init system and enabled services, guest agents, language
//! runtimes, security settings, kind and size, and the OCI configuration; plus SPDX 2.3 and
//! CycloneDX 1.5 SBOMs of the packages.
//!
//! Inspecting costs close to a metadata walk: only package databases, release and config files,
//! the C library and the first 4 KiB of programs are read, in one pass over the image.
//!
//! ```no_run
//! use imagewise_source::{open, OpenOptions};
//!
//! let tree = open("/", &OpenOptions::default())?;
//! let facts = imagewise_facts::inspect(&tree);
//! println!("{:?} {:?}, {} packages", facts.os.pretty_name, facts.arch, facts.packages.len());
//! let spdx = imagewise_facts::sbom::spdx(&facts, "2026-01-01T00:00:00Z");
//! # Ok::<(), imagewise_source::Error>(())
//! ```

mod agents;
mod apk;
mod apps;
mod arch;
pub mod copyright;
mod dpkg;
mod elf;
mod error;
pub mod files;
mod init;
mod kernel;
mod layout;
mod libc;
pub mod lifecycle;
mod os_release;
mod packages;
mod report;
mod rpm;
mod runtimes;
pub mod sbom;
mod security;
mod text;

use imagewise_source::ImageTree;

pub use error::Error;
pub use kernel::{releases as kernel_releases, HIGHLIGHTS as KERNEL_HIGHLIGHTS};
pub use libc::{find_bytes, glibc_release};
pub use packages::{read_rpm_database, Distro, RpmDatabase};
pub use report::*;
pub use text::render_text;

/// Everything that can be told about `tree` from its files. Never fails: what cannot be read
/// is left empty and explained in [`ImageFacts::notes`].
pub fn inspect(tree: &ImageTree) -> ImageFacts {
    inspect_with(tree, files::Wants::default()).0
}

/// [`inspect`] with what an SBOM needs besides: each dpkg package's licence and copyright
/// from its machine-readable copyright file (read in the same pass).
pub fn inspect_with_licenses(tree: &ImageTree) -> ImageFacts {
    let mut w = files::Wants::default();
    copyright::want(tree, &mut w);
    let (mut facts, files) = inspect_with(tree, w);
    copyright::apply(tree, &files, &mut facts);
    facts.image.content_digest = Some(tree.content_digest());
    facts
}

/// [`inspect`], reading the `extra` files in the same pass (a compressed layer is streamed
/// once); returns them with the facts' own.
pub fn inspect_with(tree: &ImageTree, extra: files::Wants) -> (ImageFacts, files::Files) {
    let mut notes = Vec::new();

    // 1. Decide from metadata alone which files are needed, and read them in one pass.
    let mut wants = extra;
    os_release::want(&mut wants);
    packages::want(tree, &mut wants);
    let libc_candidates = libc::candidates(tree);
    libc::want(&libc_candidates, &mut wants);
    let samples = arch::samples(tree, &libc_candidates.files());
    arch::want(&samples, &mut wants);
    let kernels = kernel::find(tree);
    kernel::want(&kernels, &mut wants);
    agents::want_logging(tree, &mut wants);
    runtimes::want(tree, &mut wants);
    security::want(tree, &mut wants);
    apps::want(tree, &mut wants);
    let files = files::Files::load(tree, wants, &mut notes);

    // 2. Derive the facts.
    let mut os = os_release::read(&files);
    os.support = lifecycle::Table::builtin().support(&os, lifecycle::today());
    let distro = os.distro();
    let (mut packages, package_databases) = packages::read(tree, &files, &distro);
    packages.sort_by(|a, b| {
        (a.ecosystem, &a.name, &a.version, &a.arch).cmp(&(
            b.ecosystem,
            &b.name,
            &b.version,
            &b.arch,
        ))
    });
    let heads = arch::heads(&samples, &files);
    let (arch, arch_detail) = arch::detect(tree, &heads);
    let libc = libc::detect(&libc_candidates, &files, &packages, &heads);
    let kernel = kernel::read(kernels, &files);
    let init = init::detect(tree);
    let agents = agents::detect(tree, &packages, &init.enabled);
    let logging = agents::logging(tree, &files);
    let runtimes = runtimes::detect(tree, &files, &packages);
    let security = security::detect(tree, &files, &mut notes);
    let kind = layout::kind(tree, &init, !kernel.kernels.is_empty(), &packages, &heads);
    let size = layout::size(tree);
    let config = layout::config(tree);
    // Application packages join the list after the OS-level facts are judged from the OS
    // packages alone.
    packages.extend(apps::read(tree, &files, &mut notes));
    packages.sort_by(|a, b| {
        (a.ecosystem, &a.name, &a.version, &a.arch, &a.database).cmp(&(
            b.ecosystem,
            &b.name,
            &b.version,
            &b.arch,
            &b.database,
        ))
    });

    if os.id.is_none() {
        notes.push(
            "no /etc/os-release, /usr/lib/os-release or older release file: the distribution is unknown"
                .into(),
        );
    }
    if package_databases.is_empty() {
        notes.push(
            "no package database (dpkg, apk or rpm) in the image: its packages cannot be listed"
                .into(),
        );
    }
    for db in package_databases.iter().filter(|d| d.status != "ok") {
        notes.push(format!(
            "package database {} is {}: {}",
            db.path,
            db.status,
            db.problems.first().map(String::as_str).unwrap_or("")
        ));
    }
    if arch_detail.mixed {
        notes.push(format!(
            "programs of more than one architecture: {}",
            arch_detail
                .elf
                .iter()
                .map(|(a, n)| format!("{a} ({n})"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let (Some("oci-config"), Some(a)) = (arch_detail.source.as_deref(), &arch) {
        if let Some((elf_arch, _)) = arch_detail.elf.iter().max_by_key(|(_, n)| **n) {
            if elf_arch != a {
                notes.push(format!(
                    "the configuration says {a} but most programs are {elf_arch}"
                ));
            }
        }
    }

    let info = tree.info();
    let facts = ImageFacts {
        schema_version: SCHEMA_VERSION,
        image: ImageSummary {
            reference: info.reference.clone(),
            format: info.format.as_str().to_string(),
            manifest_digest: info.manifest_digest.clone(),
            platform: info.platform.clone(),
            tags: info.tags.clone(),
            content_digest: None,
            partition: info.disk.as_ref().map(|d| {
                let p = match (&*d.selected.table, &d.selected.label) {
                    ("lvm", Some(lv)) => format!("#{lv} lvm {}", d.selected.filesystem),
                    _ => format!(
                        "#{} {} {} {}",
                        d.selected.number,
                        d.selected.table,
                        d.selected.type_name,
                        d.selected.filesystem
                    ),
                };
                match &d.selected.subvolume {
                    Some(sv) => format!("{p} subvol={sv}"),
                    None => p,
                }
            }),
            container: info.disk.as_ref().map(|d| d.container.clone()),
        },
        os,
        arch,
        arch_detail,
        libc,
        packages,
        package_databases,
        kernel,
        init,
        agents,
        logging,
        runtimes,
        security,
        kind,
        size,
        config,
        notes,
    };
    (facts, files)
}
