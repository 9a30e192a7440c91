//! Security-relevant settings: accounts (`passwd(5)`, `group(5)`, `shadow(5)`), sshd's
//! effective `PermitRootLogin` and `PasswordAuthentication` (`sshd_config(5)`: the first value
//! obtained wins, `Include` is expanded in place), sudoers, setuid/setgid and world-writable
//! files (from metadata), AppArmor, SELinux mode and FIPS switches.

use imagewise_source::{EntryKind, ImageTree};

use crate::files::{self, Files, Wants};
use crate::report::{Group, Security, Sshd, User};

const MAX_CONF: u64 = 4 << 20;
const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";
/// Lists of paths are capped; the count is noted when they are longer.
const MAX_LISTED: usize = 1000;

pub(crate) fn want(tree: &ImageTree, w: &mut Wants) {
    for f in [
        "/etc/passwd",
        "/etc/group",
        "/etc/shells",
        "/etc/shadow",
        SSHD_CONFIG,
        "/etc/selinux/config",
        "/etc/crypto-policies/config",
        "/etc/default/grub",
        "/etc/kernel/cmdline",
    ] {
        w.whole(f, MAX_CONF);
    }
    for e in files::children(tree, "/etc/ssh/sshd_config.d") {
        w.whole(e.path.clone(), MAX_CONF);
    }
}

pub(crate) fn detect(tree: &ImageTree, files: &Files, notes: &mut Vec<String>) -> Security {
    let mut s = Security::default();
    let shells: Option<Vec<String>> = files.text("/etc/shells").map(|t| {
        t.lines()
            .map(str::trim)
            .filter(|l| l.starts_with('/'))
            .map(str::to_string)
            .collect()
    });
    if let Some(text) = files.text("/etc/passwd") {
        s.users = text
            .lines()
            .filter_map(|l| user(l, shells.as_deref()))
            .collect();
    }
    if let Some(text) = files.text("/etc/group") {
        s.groups = text.lines().filter_map(group).collect();
    }
    s.root = "unknown".into();
    if let Some(text) = files.text("/etc/shadow") {
        for line in text.lines() {
            let mut f = line.split(':');
            let (Some(name), Some(hash)) = (f.next(), f.next()) else {
                continue;
            };
            let state = if hash.is_empty() {
                s.empty_password.push(name.to_string());
                "no-password"
            } else if hash.starts_with('!') || hash.starts_with('*') || hash == "x" {
                "locked"
            } else {
                s.password_set.push(name.to_string());
                "password"
            };
            if name == "root" {
                s.root = state.into();
            }
        }
    }
    s.sshd = sshd(tree, files);
    if tree.resolve("/etc/sudoers", true).is_ok() {
        s.sudoers.push("/etc/sudoers".into());
    }
    for e in files::children(tree, "/etc/sudoers.d") {
        if files::base_name(&e.path) != "README" {
            s.sudoers.push(e.path.clone());
        }
    }
    let (mut suid_n, mut sgid_n, mut ww_n) = (0usize, 0usize, 0usize);
    for e in tree.entries() {
        let file = matches!(e.kind, EntryKind::File | EntryKind::Hardlink);
        if file && e.mode & 0o4000 != 0 {
            suid_n += 1;
            if s.setuid.len() < MAX_LISTED {
                s.setuid.push(e.path.clone());
            }
        }
        if file && e.mode & 0o2000 != 0 {
            sgid_n += 1;
            if s.setgid.len() < MAX_LISTED {
                s.setgid.push(e.path.clone());
            }
        }
        let sticky_dir = e.kind == EntryKind::Dir && e.mode & 0o1000 != 0;
        if (file || e.kind == EntryKind::Dir) && e.mode & 0o002 != 0 && !sticky_dir {
            ww_n += 1;
            if s.world_writable.len() < MAX_LISTED {
                s.world_writable.push(e.path.clone());
            }
        }
    }
    for (what, n) in [
        ("setuid", suid_n),
        ("setgid", sgid_n),
        ("world-writable", ww_n),
    ] {
        if n > MAX_LISTED {
            notes.push(format!(
                "{n} {what} paths; the first {MAX_LISTED} are listed"
            ));
        }
    }
    let profiles = files::children(tree, "/etc/apparmor.d")
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .count();
    if profiles > 0 || tree.resolve("/sbin/apparmor_parser", true).is_ok() {
        s.apparmor = Some(format!("installed, {profiles} profiles in /etc/apparmor.d"));
    }
    if let Some(text) = files.text("/etc/selinux/config") {
        s.selinux = crate::os_release::parse(&text).get("SELINUX").cloned();
    }
    let policy_fips = files
        .text("/etc/crypto-policies/config")
        .is_some_and(|t| t.lines().any(|l| l.trim().starts_with("FIPS")));
    let cmdline_fips = ["/etc/default/grub", "/etc/kernel/cmdline"]
        .iter()
        .filter_map(|f| files.text(f))
        .any(|t| {
            t.split(|c: char| c.is_whitespace() || c == '"')
                .any(|w| w == "fips=1")
        });
    s.fips = tree.resolve("/etc/system-fips", true).is_ok() || policy_fips || cmdline_fips;
    s
}

/// A passwd line; `shells` is `/etc/shells` when the image has one, which decides which shells
/// allow a login (else any shell named like `*sh`).
fn user(line: &str, shells: Option<&[String]>) -> Option<User> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 7 || f[0].is_empty() {
        return None;
    }
    let shell = f[6].to_string();
    let login_shell = match shells {
        Some(list) => list.contains(&shell),
        None => {
            let base = shell.rsplit('/').next().unwrap_or("");
            !base.is_empty() && (base.ends_with("sh") || base == "fish")
        }
    };
    Some(User {
        name: f[0].to_string(),
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        home: f[5].to_string(),
        shell,
        login_shell,
    })
}

fn group(line: &str) -> Option<Group> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 4 || f[0].is_empty() {
        return None;
    }
    Some(Group {
        name: f[0].to_string(),
        gid: f[2].parse().ok()?,
        members: f[3]
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

fn sshd(tree: &ImageTree, files: &Files) -> Option<Sshd> {
    let text = files.text(SSHD_CONFIG)?;
    let mut walk = SshdWalk::default();
    walk.collect(tree, files, SSHD_CONFIG, &text, 0);
    let mut s = Sshd {
        config: SSHD_CONFIG.into(),
        problems: walk.problems,
        ..Sshd::default()
    };
    // The first value obtained wins (sshd_config(5)); keywords are case-insensitive.
    for (key, value) in walk.values {
        s.settings.entry(key.to_ascii_lowercase()).or_insert(value);
    }
    let first_word = |k: &str| {
        s.settings
            .get(k)
            .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
    };
    let root = first_word("permitrootlogin");
    let pass = first_word("passwordauthentication");
    s.explicit.insert("PermitRootLogin".into(), root.is_some());
    s.explicit
        .insert("PasswordAuthentication".into(), pass.is_some());
    // OpenSSH ≥ 7.0 defaults.
    s.permit_root_login = root.unwrap_or_else(|| "prohibit-password".into());
    s.password_authentication = pass.unwrap_or_else(|| "yes".into());
    Some(s)
}

/// `Include` nests at most this deep (OpenSSH's own limit is 16) …
const SSHD_MAX_DEPTH: u32 = 16;
/// … and at most this many files are read in all, so a config that includes itself, or a
/// directory of files that each include the directory, ends quickly.
const SSHD_MAX_FILES: usize = 256;

#[derive(Default)]
struct SshdWalk {
    values: Vec<(String, String)>,
    files: usize,
    problems: Vec<String>,
}

impl SshdWalk {
    /// Keyword/value pairs in file order, `Include` expanded, stopping at the first `Match`
    /// block (its settings apply only to some connections). False once a `Match` was met.
    fn collect(
        &mut self,
        tree: &ImageTree,
        files: &Files,
        name: &str,
        text: &str,
        depth: u32,
    ) -> bool {
        self.files += 1;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.splitn(2, |c: char| c.is_whitespace() || c == '=');
            let key = parts.next().unwrap_or("");
            let value = parts
                .next()
                .unwrap_or("")
                .trim()
                .trim_start_matches('=')
                .trim();
            if key.eq_ignore_ascii_case("Match") {
                return false;
            }
            if key.eq_ignore_ascii_case("Include") {
                if depth + 1 >= SSHD_MAX_DEPTH {
                    self.problems.push(format!(
                        "{name}: Include nested more than {SSHD_MAX_DEPTH} deep (a loop?); not followed"
                    ));
                    continue;
                }
                for pattern in value.split_whitespace() {
                    let pattern = if pattern.starts_with('/') {
                        pattern.to_string()
                    } else {
                        format!("/etc/ssh/{pattern}")
                    };
                    for f in glob(tree, &pattern) {
                        if self.files >= SSHD_MAX_FILES {
                            self.problems.push(format!(
                                "more than {SSHD_MAX_FILES} files reached through Include (a loop?); the rest is not read"
                            ));
                            return false;
                        }
                        let text = files.text(&f);
                        if let Some(t) = &text {
                            if !self.collect(tree, files, &f, t, depth + 1) {
                                return false;
                            }
                        } else if tree.resolve(&f, true).is_ok() {
                            self.problems
                                .push(format!("{name} includes {f}, which could not be read"));
                        }
                    }
                }
                continue;
            }
            if !key.chars().all(|c| c.is_ascii_alphanumeric()) || key.is_empty() {
                self.problems
                    .push(format!("{name}: not a keyword line: {line:.80}"));
                continue;
            }
            self.values.push((key.to_string(), value.to_string()));
        }
        true
    }
}

/// The one glob form sshd configs use: `dir/*.conf` (or a plain path), sorted as glob(3) sorts.
fn glob(tree: &ImageTree, pattern: &str) -> Vec<String> {
    let (dir, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    if !name.contains('*') {
        return vec![pattern.to_string()];
    }
    let (pre, post) = name.split_once('*').unwrap_or((name, ""));
    let mut v: Vec<String> = files::children(tree, dir)
        .iter()
        .map(|e| files::base_name(&e.path).to_string())
        .filter(|n| n.starts_with(pre) && n.ends_with(post) && n.len() >= pre.len() + post.len())
        .map(|n| files::join(dir, &n))
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group_lines() {
        let u = user("root:x:0:0:root:/root:/bin/bash", None).unwrap();
        assert!(u.login_shell);
        let u = user("daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin", None).unwrap();
        assert!(!u.login_shell);
        let shells = ["/bin/sh".to_string()];
        let u = user("halt:x:7:0:halt:/sbin:/sbin/halt", Some(&shells)).unwrap();
        assert!(!u.login_shell);
        assert!(user("r:x:0:0::/:/bin/bash", Some(&shells)).is_some_and(|u| !u.login_shell));
        assert!(user("bad", None).is_none());
        assert!(user("x:x:notanumber:0::/:/bin/sh", None).is_none());
        let g = group("sudo:x:27:alice,bob").unwrap();
        assert_eq!(g.members, ["alice", "bob"]);
    }
}
