//! Readers of the configuration files the rules judge, each as the program that reads it does:
//! sysctl.d(5) (systemd-sysctl and procps `sysctl --system`), login.defs(5), sudoers(5),
//! limits.conf(5), fstab(5), and the kernel command line in GRUB's defaults. A line they cannot
//! read is reported, never guessed at; binary garbage is not text and says so.

use std::collections::BTreeMap;

use crate::context::Ctx;

/// A value and the file that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Set {
    pub value: String,
    pub file: String,
}

/// The text of a config file the rules read; `None` when it is absent, or when it could not be
/// read or is not text — then `problems` says so, and the rule must not pass on it.
pub(crate) fn config_text(ctx: &Ctx<'_>, file: &str, problems: &mut Vec<String>) -> Option<String> {
    match ctx.text(file) {
        Ok(Some(t)) if looks_binary(&t) => {
            problems.push(format!("{file} is not text; its settings are not known"));
            None
        }
        Ok(t) => t,
        Err(why) => {
            problems.push(why);
            None
        }
    }
}

/// Text that is mostly not text (NULs, control bytes) is not a config file.
pub(crate) fn looks_binary(text: &str) -> bool {
    let bad = text
        .chars()
        .filter(|&c| c == '\0' || c == '\u{fffd}' || (c.is_control() && !c.is_whitespace()))
        .count();
    bad > 0 && bad * 20 > text.chars().count().min(4096)
}

/// Settings by key, and the problems met reading them.
pub(crate) type Sysctl = (BTreeMap<String, Set>, Vec<String>);

/// Effective sysctl settings from the image's sysctl.d directories and /etc/sysctl.conf.
/// Files of the same name: /etc over /run over /usr/local/lib over /usr/lib over /lib; all files
/// in name order; /etc/sysctl.conf last (procps reads it after the directories). The last
/// assignment of a key wins. Returns the settings and the problems met.
pub(crate) fn sysctl(ctx: &Ctx<'_>) -> Sysctl {
    let dirs = [
        "/etc/sysctl.d",
        "/run/sysctl.d",
        "/usr/local/lib/sysctl.d",
        "/usr/lib/sysctl.d",
        "/lib/sysctl.d",
    ];
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for d in dirs {
        for e in ctx.children(d) {
            let name = imagewise_facts::files::base_name(&e.path).to_string();
            if name.ends_with(".conf") {
                // The first directory in the list that has the name wins.
                by_name.entry(name).or_insert_with(|| {
                    format!("{d}/{}", imagewise_facts::files::base_name(&e.path))
                });
            }
        }
    }
    let mut order: Vec<String> = by_name.into_values().collect();
    order.push("/etc/sysctl.conf".into());
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for file in order {
        // Debian links /etc/sysctl.d/99-sysctl.conf to /etc/sysctl.conf: read that once, last.
        let real = ctx.entry(&file).map(|e| e.path.as_str()).unwrap_or("");
        if real == "/etc/sysctl.conf" && file != "/etc/sysctl.conf" {
            continue;
        }
        let Some(text) = config_text(ctx, &file, &mut problems) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                problems.push(format!("{file}:{}: not `key = value`: {line:.80}", n + 1));
                continue;
            };
            let k = k.trim().trim_start_matches('-').replace('/', ".");
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_graphic()) {
                problems.push(format!("{file}:{}: not a sysctl key: {line:.80}", n + 1));
                continue;
            }
            out.insert(
                k,
                Set {
                    value: v.trim().to_string(),
                    file: file.clone(),
                },
            );
        }
    }
    (out, problems)
}

/// `KEY VALUE` lines of /etc/login.defs (the last one wins, as shadow-utils reads it).
pub(crate) fn login_defs(text: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut w = line.split_whitespace();
        if let (Some(k), Some(v)) = (w.next(), w.next()) {
            m.insert(k.to_string(), v.trim_matches('"').to_string());
        }
    }
    m
}

/// Logical lines of the sudoers files (/etc/sudoers, then the `#includedir`/`@includedir`
/// directory /etc/sudoers.d as sudo reads it: names without `.` or `~`), with `\` continuations
/// joined and comments dropped: (file, line).
pub(crate) fn sudoers(ctx: &Ctx<'_>) -> (Vec<(String, String)>, Vec<String>) {
    let mut files = vec!["/etc/sudoers".to_string()];
    for e in ctx.children("/etc/sudoers.d") {
        let name = imagewise_facts::files::base_name(&e.path);
        if !name.contains('.') && !name.ends_with('~') {
            files.push(e.path.clone());
        }
    }
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        let Some(text) = config_text(ctx, &f, &mut problems) else {
            continue;
        };
        let mut acc = String::new();
        for line in text.lines() {
            if let Some(head) = line.strip_suffix('\\') {
                acc.push_str(head);
                acc.push(' ');
                continue;
            }
            acc.push_str(line);
            let logical = std::mem::take(&mut acc);
            let t = logical.trim();
            // `#include`/`#includedir` are directives, other `#` lines comments.
            if t.is_empty() || (t.starts_with('#') && !t.starts_with("#include")) {
                continue;
            }
            let t = match t.find(" #") {
                Some(i) => &t[..i],
                None => t,
            };
            out.push((f.clone(), t.trim().to_string()));
        }
    }
    (out, problems)
}

/// The `nofile` soft limit for all users (`*` or a group line), from limits.conf and
/// limits.d/*.conf; and systemd's `DefaultLimitNOFILE` soft value. Unlimited is `i64::MAX`.
/// A limit and the line that set it.
pub(crate) type Limit = Option<(i64, String)>;

pub(crate) fn nofile(ctx: &Ctx<'_>) -> (Limit, Limit, Vec<String>) {
    let mut problems = Vec::new();
    let mut pam: Option<(i64, String)> = None;
    let mut files = vec!["/etc/security/limits.conf".to_string()];
    files.extend(
        ctx.children("/etc/security/limits.d")
            .iter()
            .filter(|e| e.path.ends_with(".conf"))
            .map(|e| e.path.clone()),
    );
    let num = |v: &str| -> Option<i64> {
        match v {
            "unlimited" | "infinity" | "-1" => Some(i64::MAX),
            _ => v.parse().ok(),
        }
    };
    for f in files {
        let Some(text) = config_text(ctx, &f, &mut problems) else {
            continue;
        };
        for line in text.lines() {
            let w: Vec<&str> = line
                .split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            if let [domain, kind, "nofile", value] = w[..] {
                if (domain == "*" || domain.starts_with('@')) && (kind == "soft" || kind == "-") {
                    if let Some(n) = num(value) {
                        pam = Some((n, format!("{f}: {}", w.join(" "))));
                    }
                }
            }
        }
    }
    let mut systemd: Option<(i64, String)> = None;
    let mut files = vec!["/etc/systemd/system.conf".to_string()];
    files.extend(
        ctx.children("/etc/systemd/system.conf.d")
            .iter()
            .map(|e| e.path.clone()),
    );
    for f in files {
        let Ok(Some(text)) = ctx.text(&f) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            if let Some(v) = line.strip_prefix("DefaultLimitNOFILE=") {
                let soft = v.split(':').next().unwrap_or("").trim();
                if let Some(n) = num(soft) {
                    systemd = Some((n, format!("{f}: {line}")));
                }
            }
        }
    }
    (pam, systemd, problems)
}

/// One fstab entry.
#[derive(Debug, Clone)]
pub(crate) struct Mount {
    pub spec: String,
    pub dir: String,
    pub fstype: String,
    pub options: Vec<String>,
}

pub(crate) fn fstab(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() < 3 {
                return None;
            }
            Some(Mount {
                spec: w[0].to_string(),
                dir: w[1].to_string(),
                fstype: w[2].to_string(),
                options: w
                    .get(3)
                    .map(|o| o.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Words of the kernel command line the image boots with: GRUB's defaults
/// (`GRUB_CMDLINE_LINUX` and `_DEFAULT`, in /etc/default/grub and grub.d), the `linux` lines of
/// grub.cfg, and /etc/kernel/cmdline (systemd-boot, UKIs). (word, where).
pub(crate) fn kernel_cmdline(ctx: &Ctx<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut files = vec!["/etc/default/grub".to_string()];
    files.extend(
        ctx.children("/etc/default/grub.d")
            .iter()
            .filter(|e| e.path.ends_with(".cfg"))
            .map(|e| e.path.clone()),
    );
    for f in &files {
        let Ok(Some(text)) = ctx.text(f) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            for key in ["GRUB_CMDLINE_LINUX=", "GRUB_CMDLINE_LINUX_DEFAULT="] {
                if let Some(v) = line.strip_prefix(key) {
                    for w in v.trim_matches(|c| c == '"' || c == '\'').split_whitespace() {
                        out.push((w.trim_matches('"').to_string(), f.clone()));
                    }
                }
            }
        }
    }
    for f in ["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"] {
        let Ok(Some(text)) = ctx.text(f) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("linux") {
                for w in line.split_whitespace().skip(2) {
                    out.push((w.to_string(), f.to_string()));
                }
            }
        }
    }
    if let Ok(Some(text)) = ctx.text("/etc/kernel/cmdline") {
        for w in text.split_whitespace() {
            out.push((w.to_string(), "/etc/kernel/cmdline".into()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_defs_last_wins_and_comments_are_skipped() {
        let m = login_defs("# UMASK 077\nUMASK 022\nPASS_MAX_DAYS\t99999\nUMASK 027\n");
        assert_eq!(m["UMASK"], "027");
        assert_eq!(m["PASS_MAX_DAYS"], "99999");
    }

    #[test]
    fn fstab_entries() {
        let m = fstab("# c\nUUID=abc / ext4 errors=remount-ro,noatime 0 1\n\nproc /proc proc\n");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].options, ["errors=remount-ro", "noatime"]);
        assert_eq!(m[1].fstype, "proc");
    }

    #[test]
    fn binary_is_not_text() {
        assert!(looks_binary("\0\0\0\x01\x02abc\0\0"));
        assert!(!looks_binary("net.core.somaxconn = 4096\n"));
    }
}
