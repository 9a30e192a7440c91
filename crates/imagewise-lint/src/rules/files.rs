//! Files: permissions and owners of the account databases and SSH keys, world-writable paths,
//! setuid and setgid programs, host keys baked into an image.

use imagewise_source::{Entry, EntryKind};
use imagewise_types::Level;

use super::NO_REFS;
use crate::context::Ctx;
use crate::rule::{Family, Outcome, Refs, Rule, Target};

pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "shadow-permissions",
        title: "/etc/shadow or /etc/gshadow readable beyond root and group shadow",
        level: Level::High,
        family: Family::Files,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "cis-container", "vm"],
        why: "The shadow files hold the password hashes; anyone who can read them can crack them offline at leisure.",
        fix: "chown root:shadow /etc/shadow /etc/gshadow && chmod 0640 /etc/shadow /etc/gshadow (root:root 0000 on RHEL)",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 6.1.5", "Debian 11 v1.0.0 6.1.7"],
            ssg: &[
                "file_permissions_etc_shadow",
                "file_owner_etc_shadow",
                "file_permissions_etc_gshadow",
                "file_owner_etc_gshadow",
            ],
            ..NO_REFS
        },
        check: shadow_permissions,
    },
    Rule {
        id: "passwd-permissions",
        title: "/etc/passwd or /etc/group writable beyond root",
        level: Level::High,
        family: Family::Files,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "cis-container", "vm"],
        why: "Whoever can write /etc/passwd or /etc/group can add a UID 0 account or join any group.",
        fix: "chown root:root /etc/passwd /etc/group && chmod 0644 /etc/passwd /etc/group",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 6.1.1", "Debian 11 v1.0.0 6.1.3"],
            ssg: &[
                "file_permissions_etc_passwd",
                "file_owner_etc_passwd",
                "file_groupowner_etc_passwd",
                "file_permissions_etc_group",
                "file_owner_etc_group",
                "file_groupowner_etc_group",
            ],
            ..NO_REFS
        },
        check: passwd_permissions,
    },
    Rule {
        id: "world-writable-files",
        title: "regular files anyone can write",
        level: Level::Medium,
        family: Family::Files,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "cis-container", "vm"],
        why: "A world-writable file can be changed by any account or process; if a service or root ever runs or reads it, that is an escalation.",
        fix: "chmod o-w FILE (find / -xdev -type f -perm -0002 lists them)",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 6.1.9"],
            ssg: &["file_permissions_unauthorized_world_writable"],
            ..NO_REFS
        },
        check: world_writable_files,
    },
    Rule {
        id: "world-writable-dirs",
        title: "world-writable directories without the sticky bit",
        level: Level::Medium,
        family: Family::Files,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "cis-container", "vm"],
        why: "Without the sticky bit anyone can delete or replace anyone else's files in a shared directory, such as a service's socket or pid file.",
        fix: "chmod +t DIR (or o-w if it need not be shared)",
        refs: Refs {
            ssg: &["dir_perms_world_writable_sticky_bits"],
            ..NO_REFS
        },
        check: world_writable_dirs,
    },
    Rule {
        id: "setuid-unexpected",
        title: "setuid or setgid programs beyond the usual ones",
        level: Level::Medium,
        family: Family::Files,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "cis-container", "vm"],
        why: "Every setuid or setgid program is a way to gain its owner's rights through a bug in it; an image should carry only those it needs.",
        fix: "chmod u-s,g-s FILE, or remove the package; list the ones you need in the profile setting `setuid_allowed`.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 6.1.12", "Debian 11 v1.0.0 6.1.13"],
            ..NO_REFS
        },
        check: setuid_unexpected,
    },
    Rule {
        id: "setuid-in-container",
        title: "setuid or setgid programs in a container image",
        level: Level::Low,
        family: Family::Files,
        targets: &[Target::Container],
        kinds: &[],
        profiles: &["cis-container"],
        why: "Nothing in a container logs in or changes users, so setuid programs only help an attacker who got a foothold to become root inside it.",
        fix: "In the Dockerfile: RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} + (keep those the application needs in `setuid_allowed`).",
        refs: Refs {
            dockle: &["CIS-DI-0008"],
            cis: &["Docker 4.8"],
            ..NO_REFS
        },
        check: setuid_in_container,
    },
    Rule {
        id: "ssh-host-key-permissions",
        title: "SSH host private keys readable beyond root",
        level: Level::High,
        family: Family::Files,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "vm"],
        why: "A readable host private key lets any local account impersonate the server to every client that trusts it.",
        fix: "chown root:root /etc/ssh/ssh_host_*_key && chmod 0600 /etc/ssh/ssh_host_*_key",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 5.2.2"],
            ssg: &["file_permissions_sshd_private_key"],
            ..NO_REFS
        },
        check: ssh_host_key_permissions,
    },
    Rule {
        id: "ssh-host-keys-baked",
        title: "SSH host keys baked into the image",
        level: Level::Medium,
        family: Family::Files,
        targets: &[Target::Container, Target::Vm],
        kinds: &[],
        profiles: &["baseline", "vm", "cis-container"],
        why: "Every machine made from this image has the same host keys, so one leaked copy lets an attacker impersonate all of them.",
        fix: "rm /etc/ssh/ssh_host_*_key* before publishing the image; cloud-init or `ssh-keygen -A` at first boot makes new ones.",
        refs: NO_REFS,
        check: ssh_host_keys_baked,
    },
    Rule {
        id: "authorized-keys-permissions",
        title: "authorized_keys writable by others",
        level: Level::High,
        family: Family::Files,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "vm"],
        why: "Whoever can write an account's authorized_keys (or its .ssh directory) can add a key and log in as that account.",
        fix: "chmod 0700 ~/.ssh && chmod 0600 ~/.ssh/authorized_keys (owned by the account)",
        refs: NO_REFS,
        check: authorized_keys_permissions,
    },
];

fn group_name<'a>(ctx: &Ctx<'a>, gid: u32) -> Option<&'a str> {
    ctx.facts
        .security
        .groups
        .iter()
        .find(|g| g.gid == gid)
        .map(|g| g.name.as_str())
}

/// Mode, owner and group of one file against a maximum mode and allowed groups.
fn check_file(
    ctx: &Ctx<'_>,
    path: &str,
    max_mode: u32,
    groups: &[&str],
    out: &mut Vec<String>,
) -> bool {
    let Some(e) = ctx.entry(path) else {
        return false;
    };
    let mode = e.mode & 0o7777;
    if mode & !max_mode != 0 {
        out.push(format!(
            "{path} has mode {mode:04o}; want {max_mode:04o} or stricter"
        ));
    }
    if e.uid != 0 {
        out.push(format!("{path} is owned by UID {}; want root", e.uid));
    }
    let gname = group_name(ctx, e.gid);
    if e.gid != 0 && !gname.is_some_and(|g| groups.contains(&g)) {
        out.push(format!(
            "{path} has group {}; want {}",
            gname.map_or_else(|| e.gid.to_string(), str::to_string),
            groups.join(" or ")
        ));
    }
    true
}

fn shadow_permissions(ctx: &Ctx<'_>) -> Outcome {
    let mut bad = Vec::new();
    let mut any = false;
    for f in ["/etc/shadow", "/etc/gshadow"] {
        any |= check_file(ctx, f, 0o640, &["root", "shadow"], &mut bad);
    }
    match (any, bad.is_empty()) {
        (false, _) => Outcome::NotApplicable("no /etc/shadow or /etc/gshadow".into()),
        (true, true) => Outcome::Pass,
        (true, false) => Outcome::Fail(bad),
    }
}

fn passwd_permissions(ctx: &Ctx<'_>) -> Outcome {
    let mut bad = Vec::new();
    let mut any = false;
    for f in ["/etc/passwd", "/etc/group"] {
        any |= check_file(ctx, f, 0o644, &["root"], &mut bad);
    }
    match (any, bad.is_empty()) {
        (false, _) => Outcome::NotApplicable("no /etc/passwd or /etc/group".into()),
        (true, true) => Outcome::Pass,
        (true, false) => Outcome::Fail(bad),
    }
}

/// The entries of paths the facts listed (`inspect` finds world-writable and setuid files in
/// its walk; the rules reuse its lists, capped at 1000 paths each with a note).
fn listed<'a>(ctx: &Ctx<'a>, paths: &'a [String]) -> impl Iterator<Item = &'a Entry> + 'a {
    let tree = ctx.tree;
    paths.iter().filter_map(move |p| tree.get(p))
}

fn world_writable_files(ctx: &Ctx<'_>) -> Outcome {
    let bad: Vec<String> = listed(ctx, &ctx.facts.security.world_writable)
        .filter(|e| matches!(e.kind, EntryKind::File | EntryKind::Hardlink))
        .map(|e| format!("{} ({:04o})", e.path, e.mode & 0o7777))
        .collect();
    Outcome::failures(bad)
}

fn world_writable_dirs(ctx: &Ctx<'_>) -> Outcome {
    // The facts list directories only when they lack the sticky bit.
    let bad: Vec<String> = listed(ctx, &ctx.facts.security.world_writable)
        .filter(|e| e.kind == EntryKind::Dir)
        .map(|e| format!("{} ({:04o})", e.path, e.mode & 0o7777))
        .collect();
    Outcome::failures(bad)
}

/// setuid/setgid programs a Debian, Ubuntu, RHEL or Alpine base ships for a reason (password
/// changes, su/sudo, mounting, PAM helpers). Paths after merged-/usr; /bin and /sbin also match.
const USUAL_SETUID: &[&str] = &[
    "/usr/bin/passwd",
    "/usr/bin/su",
    "/usr/bin/sudo",
    "/usr/bin/mount",
    "/usr/bin/umount",
    "/usr/bin/chsh",
    "/usr/bin/chfn",
    "/usr/bin/gpasswd",
    "/usr/bin/newgrp",
    "/usr/bin/expiry",
    "/usr/bin/chage",
    "/usr/bin/crontab",
    "/usr/bin/wall",
    "/usr/bin/write",
    "/usr/bin/ssh-agent",
    "/usr/bin/pkexec",
    "/usr/bin/fusermount",
    "/usr/bin/fusermount3",
    "/usr/bin/at",
    "/usr/bin/bsd-write",
    "/usr/bin/dotlockfile",
    "/usr/sbin/unix_chkpwd",
    "/usr/sbin/pam_extrausers_chkpwd",
    "/usr/sbin/pam_timestamp_check",
    "/usr/sbin/userhelper",
    "/usr/lib/openssh/ssh-keysign",
    "/usr/libexec/openssh/ssh-keysign",
    "/usr/lib/dbus-1.0/dbus-daemon-launch-helper",
    "/usr/libexec/dbus-daemon-launch-helper",
    "/usr/lib/polkit-1/polkit-agent-helper-1",
    "/usr/libexec/polkit-agent-helper-1",
    "/usr/lib/x86_64-linux-gnu/utempter/utempter",
    "/usr/libexec/utempter/utempter",
];

fn usual(path: &str, allowed: &[String]) -> bool {
    let merged = path
        .strip_prefix("/bin/")
        .map(|p| format!("/usr/bin/{p}"))
        .or_else(|| {
            path.strip_prefix("/sbin/")
                .map(|p| format!("/usr/sbin/{p}"))
        })
        .unwrap_or_else(|| path.to_string());
    USUAL_SETUID.contains(&merged.as_str()) || allowed.iter().any(|a| a == path || *a == merged)
}

fn setuid_unexpected(ctx: &Ctx<'_>) -> Outcome {
    let allowed = ctx.settings.list("setuid_allowed");
    setuid_files(ctx, |e| !usual(&e.path, allowed))
}

fn setuid_in_container(ctx: &Ctx<'_>) -> Outcome {
    let allowed = ctx.settings.list("setuid_allowed");
    setuid_files(ctx, |e| !allowed.contains(&e.path))
}

fn setuid_files(ctx: &Ctx<'_>, flag: impl Fn(&Entry) -> bool) -> Outcome {
    let sec = &ctx.facts.security;
    let mut entries: Vec<&Entry> = listed(ctx, &sec.setuid)
        .chain(listed(ctx, &sec.setgid))
        .collect();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries.dedup_by(|a, b| a.path == b.path);
    let bad: Vec<String> = entries
        .into_iter()
        .filter(|e| flag(e))
        .map(|e| {
            let what = match (e.mode & 0o4000 != 0, e.mode & 0o2000 != 0) {
                (true, true) => "setuid+setgid",
                (true, false) => "setuid",
                _ => "setgid",
            };
            format!(
                "{} ({what}, {:04o}, owner {})",
                e.path,
                e.mode & 0o7777,
                e.uid
            )
        })
        .collect();
    Outcome::failures(bad)
}

/// Host private keys: /etc/ssh/*_key.
fn host_keys<'a>(ctx: &Ctx<'a>) -> Vec<&'a Entry> {
    ctx.children("/etc/ssh")
        .into_iter()
        .filter(|e| e.path.ends_with("_key") && e.kind != EntryKind::Symlink)
        .collect()
}

fn ssh_host_key_permissions(ctx: &Ctx<'_>) -> Outcome {
    let keys = host_keys(ctx);
    if keys.is_empty() {
        return Outcome::NotApplicable("no host keys in /etc/ssh".into());
    }
    let mut bad = Vec::new();
    for k in keys {
        let mode = k.mode & 0o7777;
        // RHEL lets group ssh_keys read them (0640); everywhere else 0600.
        let max = if group_name(ctx, k.gid) == Some("ssh_keys") {
            0o640
        } else {
            0o600
        };
        if mode & !max != 0 || k.uid != 0 {
            bad.push(format!(
                "{} has mode {mode:04o}, owner UID {}; want root and {max:04o} or stricter",
                k.path, k.uid
            ));
        }
    }
    Outcome::failures(bad)
}

fn ssh_host_keys_baked(ctx: &Ctx<'_>) -> Outcome {
    let keys = host_keys(ctx);
    if keys.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(keys.iter().map(|k| k.path.clone()).collect())
    }
}

fn authorized_keys_permissions(ctx: &Ctx<'_>) -> Outcome {
    let mut homes: Vec<(String, u32)> = ctx
        .facts
        .security
        .users
        .iter()
        .filter(|u| u.home.starts_with('/') && u.home != "/")
        .map(|u| (u.home.clone(), u.uid))
        .collect();
    homes.sort();
    homes.dedup();
    let mut found = false;
    let mut bad = Vec::new();
    for (home, uid) in homes {
        let ssh = format!("{}/.ssh", home.trim_end_matches('/'));
        let Some(dir) = ctx.entry(&ssh) else {
            continue;
        };
        for name in ["authorized_keys", "authorized_keys2"] {
            let path = format!("{ssh}/{name}");
            let Some(f) = ctx.lentry(&path) else {
                continue;
            };
            found = true;
            if f.kind == EntryKind::Symlink {
                bad.push(format!("{path} is a symlink (sshd's StrictModes refuses it, and it may point anywhere)"));
                continue;
            }
            if f.mode & 0o022 != 0 || (f.uid != uid && f.uid != 0) {
                bad.push(format!(
                    "{path}: mode {:04o}, owner UID {} (the account is UID {uid})",
                    f.mode & 0o7777,
                    f.uid
                ));
            }
            if dir.mode & 0o022 != 0 {
                bad.push(format!(
                    "{ssh}: mode {:04o} lets others add keys",
                    dir.mode & 0o7777
                ));
            }
        }
    }
    match (found, bad.is_empty()) {
        (false, _) => Outcome::NotApplicable("no authorized_keys in any home directory".into()),
        (true, true) => Outcome::Pass,
        (true, false) => {
            bad.dedup();
            Outcome::Fail(bad)
        }
    }
}
