//! What kind of image this is, how big, where the bytes are, and its OCI configuration
//! (image-spec `config.md`: `config.Entrypoint`, `Cmd`, `Env`, `User`, `ExposedPorts`, …, and
//! `history`, whose entries without `empty_layer` match the layers in order).

use std::collections::{BTreeMap, HashMap};

use imagewise_source::{EntryKind, ImageTree};
use serde_json::Value;

use crate::elf::ElfHead;
use crate::report::{
    ConfigFacts, DirSize, HistoryEntry, ImageKind, InitFacts, LayerSize, Package, SizeFacts,
};

const LARGEST_DIRS: usize = 10;
const DIR_DEPTH: usize = 3;
const SHELLS: [&str; 4] = ["/bin/sh", "/bin/bash", "/bin/ash", "/usr/bin/sh"];
const PACKAGE_MANAGERS: [&str; 8] = [
    "/usr/bin/dpkg",
    "/usr/bin/apt-get",
    "/sbin/apk",
    "/usr/bin/apk",
    "/usr/bin/rpm",
    "/bin/rpm",
    "/usr/bin/dnf",
    "/usr/bin/microdnf",
];

pub(crate) fn kind(
    tree: &ImageTree,
    init: &InitFacts,
    has_kernel: bool,
    packages: &[Package],
    heads: &[(String, ElfHead)],
) -> ImageKind {
    let files = tree
        .entries()
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .count();
    if files == 0 {
        return ImageKind::Empty;
    }
    let exists = |p: &&str| tree.resolve(p, true).is_ok();
    let bootable_init = matches!(
        init.system.as_str(),
        "systemd" | "openrc" | "sysvinit" | "runit"
    ) && init.init_path.is_some();
    if has_kernel || bootable_init {
        return ImageKind::System;
    }
    let shell = SHELLS.iter().any(exists);
    let package_manager = PACKAGE_MANAGERS.iter().any(exists);
    if shell || package_manager {
        return ImageKind::Application;
    }
    let executables = heads.len();
    if executables <= 1 && packages.is_empty() && files <= 50 {
        return ImageKind::Scratch;
    }
    ImageKind::Distroless
}

pub(crate) fn size(tree: &ImageTree) -> SizeFacts {
    let mut s = SizeFacts::default();
    let mut dirs: HashMap<&str, u64> = HashMap::new();
    for e in tree.entries() {
        match e.kind {
            EntryKind::File => {
                s.files += 1;
                s.total_bytes += e.size;
                // Every ancestor up to the depth shown gets the file's bytes.
                let mut end = 0;
                for _ in 0..DIR_DEPTH {
                    let Some(i) = e.path[end + 1..].find('/') else {
                        break;
                    };
                    end += 1 + i;
                    *dirs.entry(&e.path[..end]).or_default() += e.size;
                }
            }
            EntryKind::Dir => s.directories += 1,
            EntryKind::Symlink => s.symlinks += 1,
            _ => {}
        }
    }
    let mut largest: Vec<DirSize> = dirs
        .into_iter()
        .map(|(p, b)| DirSize {
            path: p.to_string(),
            bytes: b,
        })
        .collect();
    largest.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    largest.truncate(LARGEST_DIRS);
    s.largest_directories = largest;

    let history: Vec<Option<String>> = tree
        .info()
        .config
        .as_ref()
        .and_then(|c| c.get("history")?.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|h| {
            !h.get("empty_layer")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .map(|h| {
            h.get("created_by")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    for (i, l) in tree.info().layers.iter().enumerate() {
        s.waste_bytes += l.hidden_bytes;
        s.layers.push(LayerSize {
            index: i,
            digest: l.digest.clone(),
            size: l.size,
            uncompressed_size: l.uncompressed_size,
            entries: l.entries,
            hidden_entries: l.hidden_entries,
            hidden_bytes: l.hidden_bytes,
            created_by: history.get(i).cloned().flatten(),
        });
    }
    s
}

pub(crate) fn config(tree: &ImageTree) -> Option<ConfigFacts> {
    let c = tree.info().config.as_ref()?;
    let inner = c.get("config").cloned().unwrap_or(Value::Null);
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let keys = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_object)
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let string = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let labels: BTreeMap<String, String> = inner
        .get("Labels")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let history = c
        .get("history")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|h| HistoryEntry {
                    created: string(h.get("created")),
                    created_by: string(h.get("created_by")),
                    comment: string(h.get("comment")),
                    empty_layer: h
                        .get("empty_layer")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(ConfigFacts {
        entrypoint: strings(inner.get("Entrypoint")),
        cmd: strings(inner.get("Cmd")),
        env: strings(inner.get("Env")),
        user: string(inner.get("User")),
        working_dir: string(inner.get("WorkingDir")),
        exposed_ports: keys(inner.get("ExposedPorts")),
        volumes: keys(inner.get("Volumes")),
        labels,
        stop_signal: string(inner.get("StopSignal")),
        healthcheck: inner
            .get("Healthcheck")
            .and_then(|h| h.get("Test"))
            .map(|t| strings(Some(t))),
        created: string(c.get("created")),
        history,
    })
}
