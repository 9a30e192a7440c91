//! The image's architecture: what its OCI configuration declares, checked against the ELF
//! headers of its own programs (sampled from the binary directories, or every executable of a
//! tiny image), so a mislabelled or mixed-architecture image shows.

use std::collections::BTreeMap;

use imagewise_source::{EntryKind, ImageTree};

use crate::elf::{self, ElfHead};
use crate::files::{self, Files, Wants};
use crate::report::ArchDetail;

const BIN_DIRS: [&str; 6] = [
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/usr/local/bin",
    "/usr/local/sbin",
];
/// Application images put their program at the top or in /app.
const TOP_DIRS: [&str; 2] = ["/", "/app"];
/// At most this many programs sampled: enough to see a mixed image, cheap on a big one.
const MAX_SAMPLES: usize = 2000;
/// An image with at most this many files has every executable sampled (scratch, distroless).
const TINY: usize = 200;

/// The executables whose headers are read.
pub(crate) fn samples(tree: &ImageTree, extra: &[String]) -> Vec<String> {
    let files: Vec<_> = tree
        .entries()
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .collect();
    let mut out: Vec<String> = if files.len() <= TINY {
        files
            .iter()
            .filter(|e| e.mode & 0o111 != 0 || e.path.contains(".so"))
            .map(|e| e.path.clone())
            .collect()
    } else {
        let mut v = Vec::new();
        for d in BIN_DIRS.iter().chain(&TOP_DIRS) {
            for e in files::children(tree, d) {
                if e.kind == EntryKind::File && e.mode & 0o111 != 0 {
                    v.push(e.path.clone());
                }
            }
        }
        v
    };
    // The programs the configuration starts, and the C library and loader, wherever they are.
    out.extend(config_programs(tree));
    out.extend(extra.iter().cloned());
    if out.is_empty() {
        // A kernel-only tree: its modules are ELF objects of the kernel's architecture.
        out.extend(
            ["/lib/modules", "/usr/lib/modules"]
                .iter()
                .filter_map(|d| tree.resolve(d, true).ok())
                .flat_map(|d| tree.subtree(d))
                .filter(|e| e.kind == EntryKind::File && e.path.ends_with(".ko"))
                .take(3)
                .map(|e| e.path.clone()),
        );
    }
    out.sort();
    out.dedup();
    out.truncate(MAX_SAMPLES);
    out
}

/// The absolute program paths of `Entrypoint` and `Cmd`.
fn config_programs(tree: &ImageTree) -> Vec<String> {
    let Some(c) = tree.info().config.as_ref().and_then(|c| c.get("config")) else {
        return Vec::new();
    };
    ["Entrypoint", "Cmd"]
        .iter()
        .filter_map(|k| c.get(*k)?.as_array()?.first()?.as_str())
        .filter(|p| p.starts_with('/'))
        .filter_map(|p| tree.resolve(p, true).ok())
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| e.path.clone())
        .collect()
}

pub(crate) fn want(samples: &[String], w: &mut Wants) {
    for s in samples {
        w.head(s.clone(), elf::HEAD_BYTES);
    }
}

/// The ELF headers of the sampled files that are ELF.
pub(crate) fn heads(samples: &[String], files: &Files) -> Vec<(String, ElfHead)> {
    // One file reached by two names counts once.
    let mut seen = std::collections::HashSet::new();
    samples
        .iter()
        .filter(|p| seen.insert(files.target(p).unwrap_or(p).to_string()))
        .filter_map(|p| Some((p.clone(), elf::head(files.get(p)?)?)))
        .collect()
}

/// The Debian-style name and how it was found.
pub(crate) fn detect(
    tree: &ImageTree,
    heads: &[(String, ElfHead)],
) -> (Option<String>, ArchDetail) {
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    for (_, h) in heads {
        *tally.entry(h.arch.clone()).or_default() += 1;
    }
    let config = tree.info().config.as_ref().and_then(|c| {
        let arch = c.get("architecture")?.as_str()?.to_string();
        let variant = c
            .get("variant")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        Some((arch, variant))
    });
    let mut detail = ArchDetail {
        source: None,
        config: config.as_ref().map(|(a, v)| match v {
            Some(v) => format!("{a}/{v}"),
            None => a.clone(),
        }),
        mixed: tally.len() > 1,
        elf: tally,
    };
    let arch = if let Some((a, v)) = &config {
        detail.source = Some("oci-config".into());
        Some(imagewise_types::Arch::from_oci(a, v.as_deref()).to_string())
    } else if let Some((a, _)) = detail.elf.iter().max_by_key(|(_, n)| **n) {
        detail.source = Some("elf".into());
        Some(a.clone())
    } else {
        None
    };
    (arch, detail)
}
