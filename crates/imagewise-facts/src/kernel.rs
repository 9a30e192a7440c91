//! Installed kernels: `/boot/vmlinuz-<release>`, `/lib/modules/<release>` and
//! `/usr/lib/modules/<release>` (where Fedora and Arch keep the image too), with the build
//! configuration from `/boot/config-<release>` or `/usr/lib/modules/<release>/config`.

use std::collections::BTreeMap;

use imagewise_source::{EntryKind, ImageTree};

use crate::files::{self, Files, Wants};
use crate::report::{Kernel, KernelFacts};

const MAX_CONFIG: u64 = 4 << 20;

/// The flags people choose images by, shown in the short report.
pub const HIGHLIGHTS: [&str; 20] = [
    "CONFIG_BPF_SYSCALL",
    "CONFIG_BPF_JIT",
    "CONFIG_CGROUPS",
    "CONFIG_MEMCG",
    "CONFIG_CGROUP_BPF",
    "CONFIG_KVM",
    "CONFIG_PREEMPT_RT",
    "CONFIG_PREEMPT",
    "CONFIG_XFS_FS",
    "CONFIG_BTRFS_FS",
    "CONFIG_EXT4_FS",
    "CONFIG_VIRTIO_PCI",
    "CONFIG_VIRTIO_BLK",
    "CONFIG_VIRTIO_NET",
    "CONFIG_IMA",
    "CONFIG_SECURITY_SELINUX",
    "CONFIG_SECURITY_APPARMOR",
    "CONFIG_MODULE_SIG",
    "CONFIG_USER_NS",
    "CONFIG_DEBUG_INFO_BTF",
];

/// Image, modules directory and config path of one kernel release.
type Paths = (Option<String>, Option<String>, Option<String>);

#[derive(Debug, Default)]
pub(crate) struct Found {
    /// release → its paths
    kernels: BTreeMap<String, Paths>,
}

pub(crate) fn find(tree: &ImageTree) -> Found {
    let mut f = Found::default();
    for e in files::children(tree, "/boot") {
        let name = files::base_name(&e.path);
        if let Some(r) = name
            .strip_prefix("vmlinuz-")
            .or_else(|| name.strip_prefix("vmlinux-"))
        {
            f.kernels.entry(r.to_string()).or_default().0 = Some(e.path.clone());
        }
    }
    for root in ["/lib/modules", "/usr/lib/modules"] {
        for e in files::children(tree, root) {
            if e.kind != EntryKind::Dir {
                continue;
            }
            let release = files::base_name(&e.path).to_string();
            let dir = e.path.clone();
            let slot = f.kernels.entry(release).or_default();
            slot.1.get_or_insert(dir.clone());
            if slot.0.is_none() && tree.get(&format!("{dir}/vmlinuz")).is_some() {
                slot.0 = Some(format!("{dir}/vmlinuz"));
            }
            if tree.get(&format!("{dir}/config")).is_some() {
                slot.2.get_or_insert(format!("{dir}/config"));
            }
        }
    }
    for (release, slot) in f.kernels.iter_mut() {
        let boot = format!("/boot/config-{release}");
        if tree.get(&boot).is_some() {
            slot.2 = Some(boot);
        }
    }
    f
}

/// The kernel releases an image ships (`6.1.0-28-amd64`), from file and directory names only,
/// in name order: what `inspect` lists and what `check` holds an ABI note against.
pub fn releases(tree: &ImageTree) -> Vec<String> {
    find(tree).kernels.into_keys().collect()
}

pub(crate) fn want(f: &Found, w: &mut Wants) {
    for (_, _, config) in f.kernels.values() {
        if let Some(c) = config {
            w.whole(c.clone(), MAX_CONFIG);
        }
    }
}

pub(crate) fn read(f: Found, files: &Files) -> KernelFacts {
    let kernels = f
        .kernels
        .into_iter()
        .map(|(version, (image, modules_dir, config_path))| {
            let config = config_path
                .as_deref()
                .and_then(|p| files.text(p))
                .map(|t| parse_config(&t))
                .unwrap_or_default();
            let highlights = if config.is_empty() {
                BTreeMap::new()
            } else {
                HIGHLIGHTS
                    .iter()
                    .map(|k| {
                        (
                            k.to_string(),
                            config.get(*k).cloned().unwrap_or_else(|| "n".into()),
                        )
                    })
                    .collect()
            };
            Kernel {
                version,
                image,
                modules_dir,
                config_path,
                highlights,
                config,
            }
        })
        .collect();
    KernelFacts { kernels }
}

/// Kconfig output: `CONFIG_X=y|m|value`, and `# CONFIG_X is not set` as `n`.
pub(crate) fn parse_config(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# ") {
            if let Some(name) = rest.strip_suffix(" is not set") {
                if name.starts_with("CONFIG_") {
                    out.insert(name.to_string(), "n".to_string());
                }
            }
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.starts_with("CONFIG_") {
                out.insert(k.to_string(), v.trim_matches('"').to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lines() {
        let c = parse_config(
            "#\n# Automatically generated\nCONFIG_CGROUPS=y\nCONFIG_KVM=m\n# CONFIG_PREEMPT_RT is not set\n\
             CONFIG_LOCALVERSION=\"-amd64\"\nCONFIG_NR_CPUS=8192\ngarbage\n",
        );
        assert_eq!(c["CONFIG_CGROUPS"], "y");
        assert_eq!(c["CONFIG_KVM"], "m");
        assert_eq!(c["CONFIG_PREEMPT_RT"], "n");
        assert_eq!(c["CONFIG_LOCALVERSION"], "-amd64");
        assert_eq!(c["CONFIG_NR_CPUS"], "8192");
        assert_eq!(c.len(), 5);
    }
}
