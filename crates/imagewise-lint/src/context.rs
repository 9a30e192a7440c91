//! What a rule's check sees: the facts, the tree's metadata, the few extra files the rules read
//! (asked for before the one pass that reads the facts' own), and the profile's settings.

use imagewise_facts::files::{self, Files, Wants};
use imagewise_facts::{ImageFacts, ImageKind};
use imagewise_source::{Entry, EntryKind, ImageTree};

use crate::profile::Settings;
use crate::rule::Target;

/// Configuration files are read whole up to this size; a bigger one gets an "unknown" verdict.
pub(crate) const MAX_CONFIG: u64 = 1 << 20;
/// Files that may hold a secret are read up to this many leading bytes.
pub(crate) const SECRET_HEAD: u64 = 64 << 10;

/// Directories whose every file the rules read (drop-in directories of the configs they judge).
pub(crate) const CONFIG_DIRS: &[&str] = &[
    "/etc/sudoers.d",
    "/etc/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/run/sysctl.d",
    "/etc/security/limits.d",
    "/etc/systemd/system.conf.d",
    "/etc/systemd/journald.conf.d",
    "/etc/default/grub.d",
    "/etc/udev/rules.d",
    "/etc/tmpfiles.d",
    "/etc/profile.d",
];

/// Single configuration files the rules read.
pub(crate) const CONFIG_FILES: &[&str] = &[
    "/etc/login.defs",
    "/etc/sudoers",
    "/etc/sysctl.conf",
    "/etc/fstab",
    "/etc/security/limits.conf",
    "/etc/systemd/system.conf",
    "/etc/default/grub",
    "/boot/grub/grub.cfg",
    "/boot/grub2/grub.cfg",
    "/etc/kernel/cmdline",
    "/etc/pam.d/common-password",
    "/etc/pam.d/system-auth",
    "/etc/pam.d/password-auth",
    "/etc/audit/auditd.conf",
    "/etc/rc.local",
];

/// Everything a check may look at.
pub struct Ctx<'a> {
    pub(crate) facts: &'a ImageFacts,
    pub(crate) tree: &'a ImageTree,
    pub(crate) files: &'a Files,
    pub(crate) target: Target,
    pub(crate) settings: &'a Settings,
    /// The effective sysctl settings and the problems met, read once for all sysctl rules.
    sysctl: std::cell::OnceCell<crate::conf::Sysctl>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        facts: &'a ImageFacts,
        tree: &'a ImageTree,
        files: &'a Files,
        settings: &'a Settings,
    ) -> Ctx<'a> {
        Ctx {
            facts,
            tree,
            files,
            target: target_of(facts),
            settings,
            sysctl: std::cell::OnceCell::new(),
        }
    }

    /// The image's effective sysctl settings (see [`crate::conf::sysctl`]).
    pub(crate) fn sysctl(&self) -> &crate::conf::Sysctl {
        self.sysctl.get_or_init(|| crate::conf::sysctl(self))
    }

    /// The entry at `path`, following symlinks inside the image.
    pub(crate) fn entry(&self, path: &str) -> Option<&'a Entry> {
        self.tree.resolve(path, true).ok()
    }

    /// The entry at `path` itself (a symlink is not followed).
    pub(crate) fn lentry(&self, path: &str) -> Option<&'a Entry> {
        self.tree.resolve(path, false).ok()
    }

    pub(crate) fn exists(&self, path: &str) -> bool {
        self.entry(path).is_some()
    }

    /// The text of a file the rules asked for. `Err` says why a file that exists was not read
    /// (too big, unreadable), so the rule can answer "unknown" instead of a wrong pass.
    pub(crate) fn text(&self, path: &str) -> Result<Option<String>, String> {
        match self.files.text(path) {
            Some(t) => Ok(Some(t)),
            None => match self.entry(path) {
                None => Ok(None),
                Some(e) if e.kind == EntryKind::File || e.kind == EntryKind::Hardlink => {
                    Err(format!("{path} exists but was not read ({} bytes)", e.size))
                }
                Some(_) => Ok(None),
            },
        }
    }

    /// The text of a file a rule judges: not applicable when the image has none, unknown when
    /// it could not be read whole.
    pub(crate) fn judged_text(&self, path: &str) -> Result<String, crate::rule::Outcome> {
        use crate::rule::Outcome;
        match self.text(path) {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(Outcome::NotApplicable(format!("no {path}"))),
            Err(why) => Err(Outcome::Unknown(why)),
        }
    }

    /// The bytes of a file the rules asked for (secrets are read by their head only).
    pub(crate) fn bytes(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path)
    }

    /// Regular files directly in `dir`, sorted by name.
    pub(crate) fn children(&self, dir: &str) -> Vec<&'a Entry> {
        let mut v: Vec<&Entry> = files::children(self.tree, dir)
            .into_iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EntryKind::File | EntryKind::Hardlink | EntryKind::Symlink
                )
            })
            .collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }

    /// An installed package of any ecosystem by this name.
    pub(crate) fn installed(&self, name: &str) -> bool {
        self.facts.packages.iter().any(|p| p.name == name)
    }

    /// A service enabled by the init system (`ssh` matches `ssh.service`).
    pub(crate) fn enabled(&self, name: &str) -> bool {
        self.facts.init.enabled.iter().any(|s| {
            s.name == name
                || s.name.strip_suffix(".service") == Some(name)
                || s.name.strip_suffix(".socket") == Some(name)
        })
    }

    pub(crate) fn kind(&self) -> ImageKind {
        self.facts.kind
    }

    pub(crate) fn setting_int(&self, key: &str) -> i64 {
        self.settings.int(key)
    }
}

/// Container (has a configuration or comes from a container format), VM disk, or rootfs.
pub fn target_of(facts: &ImageFacts) -> Target {
    match facts.image.format.as_str() {
        "disk" => Target::Vm,
        "docker-archive" | "oci" | "oci-archive" => Target::Container,
        _ if facts.config.is_some() => Target::Container,
        _ => Target::Rootfs,
    }
}

/// The files to read along with the facts.
pub(crate) fn wants(tree: &ImageTree) -> Wants {
    let mut w = Wants::default();
    for f in CONFIG_FILES {
        w.whole(*f, MAX_CONFIG);
    }
    for d in CONFIG_DIRS {
        for e in files::children(tree, d) {
            if matches!(
                e.kind,
                EntryKind::File | EntryKind::Hardlink | EntryKind::Symlink
            ) {
                w.whole(e.path.clone(), MAX_CONFIG);
            }
        }
    }
    for p in crate::rules::secrets::candidates(tree) {
        w.head(p, SECRET_HEAD);
    }
    w
}
