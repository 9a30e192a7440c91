//! The init system and what it starts, read from the links init systems enable services with:
//! systemd `*.wants`/`*.requires` links under `/etc/systemd/system` (`systemd.unit(5)`),
//! OpenRC `/etc/runlevels/<level>/<service>`, runit service directories, and SysV `rcN.d/S*`.

use imagewise_source::{EntryKind, ImageTree};

use crate::files;
use crate::report::{EnabledService, InitFacts};

pub(crate) fn detect(tree: &ImageTree) -> InitFacts {
    let init_target = ["/sbin/init", "/usr/sbin/init", "/init"]
        .iter()
        .find_map(|p| {
            tree.resolve(p, true)
                .ok()
                .filter(|e| e.kind != EntryKind::Dir)
        })
        .map(|e| e.path.clone());
    let exists = |p: &str| tree.resolve(p, true).is_ok();
    let has_systemd = exists("/lib/systemd/systemd") || exists("/usr/lib/systemd/systemd");
    let system = match init_target.as_deref() {
        Some(t) if t.contains("systemd") => "systemd",
        Some(t) if t.ends_with("/busybox") => "busybox",
        Some(t) if t.contains("openrc-init") => "openrc",
        Some(t) if t.contains("runit") => "runit",
        Some(t) if t.contains("s6") => "s6",
        _ if exists("/sbin/openrc") || exists("/usr/sbin/openrc") => "openrc",
        _ if has_systemd => "systemd",
        _ if exists("/etc/s6-overlay") || exists("/command/s6-svscan") => "s6",
        _ if exists("/sbin/runit") || exists("/usr/sbin/runit") => "runit",
        Some(_) if exists("/etc/inittab") => "sysvinit",
        Some(_) => "unknown",
        None => "none",
    };
    let mut facts = InitFacts {
        system: system.to_string(),
        init_path: init_target,
        ..InitFacts::default()
    };
    match system {
        "systemd" => systemd(tree, &mut facts),
        "openrc" => openrc(tree, &mut facts),
        "runit" => runit(tree, &mut facts),
        "sysvinit" => sysv(tree, &mut facts),
        _ => {
            // busybox init runs /etc/inittab; an OpenRC tree may sit beside it.
            openrc(tree, &mut facts);
        }
    }
    facts.enabled.sort();
    facts.enabled.dedup();
    facts.masked.sort();
    facts
}

fn systemd(tree: &ImageTree, facts: &mut InitFacts) {
    for dir in [
        "/etc/systemd/system",
        "/lib/systemd/system",
        "/usr/lib/systemd/system",
    ] {
        if facts.default_target.is_none() {
            if let Some(link) = tree
                .get(&format!("{dir}/default.target"))
                .and_then(|e| e.link.as_deref())
            {
                facts.default_target = Some(files::base_name(link).to_string());
            }
        }
    }
    for e in files::children(tree, "/etc/systemd/system") {
        let name = files::base_name(&e.path);
        if e.kind == EntryKind::Symlink && e.link.as_deref() == Some("/dev/null") {
            facts.masked.push(name.to_string());
            continue;
        }
        let by = name
            .strip_suffix(".wants")
            .or_else(|| name.strip_suffix(".requires"));
        if let (EntryKind::Dir, Some(by)) = (e.kind, by) {
            for unit in files::children(tree, &e.path) {
                if unit.kind == EntryKind::Symlink {
                    facts.enabled.push(EnabledService {
                        name: files::base_name(&unit.path).to_string(),
                        by: by.to_string(),
                    });
                }
            }
        }
    }
}

fn openrc(tree: &ImageTree, facts: &mut InitFacts) {
    for level in files::children(tree, "/etc/runlevels") {
        if level.kind != EntryKind::Dir {
            continue;
        }
        for s in files::children(tree, &level.path) {
            facts.enabled.push(EnabledService {
                name: files::base_name(&s.path).to_string(),
                by: files::base_name(&level.path).to_string(),
            });
        }
    }
}

fn runit(tree: &ImageTree, facts: &mut InitFacts) {
    for dir in [
        "/etc/runit/runsvdir/default",
        "/etc/service",
        "/var/service",
    ] {
        for s in files::children(tree, dir) {
            facts.enabled.push(EnabledService {
                name: files::base_name(&s.path).to_string(),
                by: "default".into(),
            });
        }
    }
}

fn sysv(tree: &ImageTree, facts: &mut InitFacts) {
    for level in ["2", "3", "5", "S"] {
        for s in files::children(tree, &format!("/etc/rc{level}.d")) {
            let name = files::base_name(&s.path);
            if let Some(rest) = name.strip_prefix('S') {
                let service = rest.trim_start_matches(|c: char| c.is_ascii_digit());
                facts.enabled.push(EnabledService {
                    name: service.to_string(),
                    by: format!("runlevel {level}"),
                });
            }
        }
    }
}
