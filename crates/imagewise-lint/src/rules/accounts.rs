//! Accounts and access: sshd's effective configuration, passwords, UID 0, system accounts,
//! sudoers, the login.defs umask, PAM password quality.

use imagewise_facts::ImageKind;
use imagewise_types::Level;

use super::NO_REFS;
use crate::conf;
use crate::context::Ctx;
use crate::rule::{Family, Outcome, Refs, Rule, Target};

const MACHINES: &[Target] = &[Target::Vm, Target::Rootfs];
const WITH_ACCOUNTS: &[ImageKind] = &[ImageKind::System, ImageKind::Application];

pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "ssh-root-login",
        title: "sshd lets root log in with a password",
        level: Level::High,
        family: Family::Accounts,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "cis-container", "vm"],
        why: "With `PermitRootLogin yes` a guessed or leaked root password is a full takeover from the network, and brute-force bots try root first.",
        fix: "Set `PermitRootLogin prohibit-password` (or `no`) in /etc/ssh/sshd_config or a file in /etc/ssh/sshd_config.d/ read before any other setting of it.",
        refs: Refs {
            lynis: &["SSH-7408"],
            ..NO_REFS
        },
        check: ssh_root_login,
    },
    Rule {
        id: "ssh-root-login-disabled",
        title: "sshd does not refuse root logins outright",
        level: Level::Low,
        family: Family::Accounts,
        targets: &[],
        kinds: &[],
        profiles: &["cis-host"],
        why: "Even key-only root logins leave no trace of which person acted; CIS and the SCAP Security Guide ask for `PermitRootLogin no` and sudo from named accounts.",
        fix: "Set `PermitRootLogin no` in /etc/ssh/sshd_config (first occurrence wins) and give administrators their own accounts with sudo.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 5.2.7"],
            ssg: &["sshd_disable_root_login"],
            lynis: &["SSH-7408"],
            ..NO_REFS
        },
        check: ssh_root_login_disabled,
    },
    Rule {
        id: "ssh-password-auth",
        title: "sshd accepts passwords",
        level: Level::Medium,
        family: Family::Accounts,
        targets: &[],
        kinds: &[],
        profiles: &["cis-host", "vm"],
        why: "Password logins are what brute-force bots try all day; keys (or certificates) cannot be guessed.",
        fix: "Set `PasswordAuthentication no` (and `KbdInteractiveAuthentication no`) in /etc/ssh/sshd_config and install keys through cloud-init or your provisioning.",
        refs: Refs {
            lynis: &["SSH-7408"],
            ..NO_REFS
        },
        check: ssh_password_auth,
    },
    Rule {
        id: "ssh-empty-passwords",
        title: "sshd accepts empty passwords",
        level: Level::High,
        family: Family::Accounts,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "cis-container", "vm"],
        why: "With `PermitEmptyPasswords yes` any account without a password can be logged into from the network by name alone.",
        fix: "Remove `PermitEmptyPasswords yes` from the sshd configuration (the default is `no`).",
        // Not SSG's sshd_disable_empty_passwords: that check demands the line written out,
        // and fails sshd's default `no`, which this rule (the effective value) passes.
        refs: Refs {
            cis: &["Debian 11 v1.0.0 5.2.9"],
            lynis: &["SSH-7408"],
            ..NO_REFS
        },
        check: ssh_empty_passwords,
    },
    Rule {
        id: "empty-password",
        title: "accounts with an empty password",
        level: Level::Critical,
        family: Family::Accounts,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "cis-container", "vm"],
        why: "An empty password field in /etc/shadow lets anyone log in as that account (console, su, and sshd if it permits empty passwords) without knowing anything.",
        fix: "Lock the account (`passwd -l NAME`) or set a password; in a Dockerfile, never run `passwd -d`.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 6.2.2"],
            ssg: &["no_empty_passwords_etc_shadow"],
            dockle: &["DKL-LI-0001"],
            lynis: &["AUTH-9283"],
        },
        check: empty_password,
    },
    Rule {
        id: "uid0-not-root",
        title: "accounts other than root with UID 0",
        level: Level::High,
        family: Family::Accounts,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "cis-container", "vm"],
        why: "Every UID 0 account is root under another name: a second way in that audits and hardening of `root` miss.",
        fix: "Give the account its own UID (`usermod -u NEW NAME`) or remove it (`userdel NAME`).",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 6.2.10"],
            ssg: &["accounts_no_uid_except_zero"],
            lynis: &["AUTH-9204"],
            ..NO_REFS
        },
        check: uid0_not_root,
    },
    Rule {
        id: "system-account-shell",
        title: "system accounts with a login shell",
        level: Level::Low,
        family: Family::Accounts,
        targets: MACHINES,
        kinds: WITH_ACCOUNTS,
        profiles: &["cis-host"],
        why: "A daemon's account with a shell can be logged into or `su`ed to if it ever gets a password or a key; nologin closes that door.",
        fix: "usermod -s /usr/sbin/nologin NAME",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 5.5.2"],
            ..NO_REFS
        },
        check: system_account_shell,
    },
    Rule {
        id: "system-account-password",
        title: "system accounts with a usable password",
        level: Level::Medium,
        family: Family::Accounts,
        targets: &[],
        kinds: WITH_ACCOUNTS,
        profiles: &["baseline", "cis-host", "vm"],
        why: "Daemon accounts (UID 1–999) are never meant to log in; a password on one is a forgotten way in, shared by every copy of the image.",
        fix: "passwd -l NAME (lock it), or usermod -p '*' NAME",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 5.5.2"],
            ..NO_REFS
        },
        check: system_account_password,
    },
    Rule {
        id: "sudo-nopasswd",
        title: "sudo without a password (NOPASSWD)",
        level: Level::Medium,
        family: Family::Accounts,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "vm"],
        why: "NOPASSWD turns any code running as that user — a compromised web app, a malicious package — into root without a prompt.",
        fix: "Remove NOPASSWD from /etc/sudoers and /etc/sudoers.d/* (edit with visudo), or limit it to the one command that needs it.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 5.3.4"],
            ssg: &["sudo_remove_nopasswd"],
            ..NO_REFS
        },
        check: sudo_nopasswd,
    },
    Rule {
        id: "sudo-no-authenticate",
        title: "sudo with authentication switched off (!authenticate)",
        level: Level::High,
        family: Family::Accounts,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "vm"],
        why: "`Defaults !authenticate` makes every sudo rule passwordless at once, for every user the rules name.",
        fix: "Remove `!authenticate` from /etc/sudoers and /etc/sudoers.d/* (edit with visudo).",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 5.3.5"],
            ssg: &["sudo_remove_no_authenticate"],
            ..NO_REFS
        },
        check: sudo_no_authenticate,
    },
    Rule {
        id: "login-defs-umask",
        title: "the default umask lets others read new files",
        level: Level::Low,
        family: Family::Accounts,
        targets: MACHINES,
        kinds: WITH_ACCOUNTS,
        profiles: &["cis-host"],
        why: "With UMASK 022 every file a user creates is readable by every other account on the machine, secrets and dumps included.",
        fix: "Set `UMASK 027` (or 077) in /etc/login.defs.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 5.5.4"],
            ssg: &["accounts_umask_etc_login_defs"],
            lynis: &["AUTH-9328"],
            ..NO_REFS
        },
        check: login_defs_umask,
    },
    Rule {
        id: "pam-password-quality",
        title: "PAM sets no password quality rules",
        level: Level::Low,
        family: Family::Accounts,
        targets: MACHINES,
        kinds: &[ImageKind::System],
        profiles: &["cis-host"],
        why: "Without pam_pwquality (or pam_cracklib, pam_passwdqc) `passwd` accepts `123456`; local passwords are then the weakest way in.",
        fix: "apt-get install libpam-pwquality (Debian/Ubuntu; it adds itself to /etc/pam.d/common-password), or authselect/authconfig with pwquality on RHEL.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 5.4.1"],
            lynis: &["AUTH-9262"],
            ..NO_REFS
        },
        check: pam_password_quality,
    },
];

fn sshd_or_na<'a>(ctx: &Ctx<'a>) -> Result<&'a imagewise_facts::Sshd, Outcome> {
    match &ctx.facts.security.sshd {
        Some(s) => Ok(s),
        None => Err(Outcome::NotApplicable(
            "no /etc/ssh/sshd_config: no SSH server is configured".into(),
        )),
    }
}

/// An sshd setting's effective value (first one wins), or its default; with where it came from.
fn sshd_value(s: &imagewise_facts::Sshd, key: &str, default: &str) -> (String, String) {
    match s.settings.get(&key.to_ascii_lowercase()) {
        Some(v) => (
            v.split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase(),
            format!("{key} {v} (set in {} or an included file)", s.config),
        ),
        None => (
            default.to_string(),
            format!("{key} not set: sshd's default is {default}"),
        ),
    }
}

/// Problems met reading the sshd configuration make a pass unreliable.
fn sshd_unsure(s: &imagewise_facts::Sshd) -> Option<Outcome> {
    (!s.problems.is_empty()).then(|| {
        Outcome::Unknown(format!(
            "the sshd configuration could not be read whole: {}",
            s.problems.join("; ")
        ))
    })
}

fn ssh_root_login(ctx: &Ctx<'_>) -> Outcome {
    let s = match sshd_or_na(ctx) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let (v, why) = sshd_value(s, "PermitRootLogin", "prohibit-password");
    match v.as_str() {
        "yes" => Outcome::Fail(vec![why]),
        "no" | "prohibit-password" | "without-password" | "forced-commands-only" => {
            sshd_unsure(s).unwrap_or(Outcome::Pass)
        }
        other => Outcome::Unknown(format!(
            "PermitRootLogin {other:?} is not a value sshd knows"
        )),
    }
}

fn ssh_root_login_disabled(ctx: &Ctx<'_>) -> Outcome {
    let s = match sshd_or_na(ctx) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let (v, why) = sshd_value(s, "PermitRootLogin", "prohibit-password");
    if v == "no" {
        sshd_unsure(s).unwrap_or(Outcome::Pass)
    } else {
        Outcome::Fail(vec![why])
    }
}

fn ssh_password_auth(ctx: &Ctx<'_>) -> Outcome {
    let s = match sshd_or_na(ctx) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let (v, why) = sshd_value(s, "PasswordAuthentication", "yes");
    if v == "no" {
        sshd_unsure(s).unwrap_or(Outcome::Pass)
    } else {
        Outcome::Fail(vec![why])
    }
}

fn ssh_empty_passwords(ctx: &Ctx<'_>) -> Outcome {
    let s = match sshd_or_na(ctx) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let (v, why) = sshd_value(s, "PermitEmptyPasswords", "no");
    if v == "yes" {
        Outcome::Fail(vec![why])
    } else {
        sshd_unsure(s).unwrap_or(Outcome::Pass)
    }
}

/// The shadow file's text, or the outcome when there is none to judge.
fn shadow(ctx: &Ctx<'_>) -> Result<String, Outcome> {
    match ctx.facts.security.root.as_str() {
        "unknown" if !ctx.exists("/etc/shadow") => Err(Outcome::NotApplicable(
            "no /etc/shadow: the image has no local passwords".into(),
        )),
        _ => ctx.judged_text("/etc/shadow"),
    }
}

fn empty_password(ctx: &Ctx<'_>) -> Outcome {
    if let Err(o) = shadow(ctx) {
        return o;
    }
    let empty = &ctx.facts.security.empty_password;
    if empty.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(
            empty
                .iter()
                .map(|n| format!("{n}: empty password field in /etc/shadow"))
                .collect(),
        )
    }
}

fn uid0_not_root(ctx: &Ctx<'_>) -> Outcome {
    if ctx.facts.security.users.is_empty() {
        return Outcome::NotApplicable("no /etc/passwd".into());
    }
    let extra: Vec<String> = ctx
        .facts
        .security
        .users
        .iter()
        .filter(|u| u.uid == 0 && u.name != "root")
        .map(|u| format!("{} has UID 0 (/etc/passwd)", u.name))
        .collect();
    if extra.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(extra)
    }
}

/// Accounts that run daemons: UID 1..1000, minus `nobody`'s 65534 which is outside anyway.
fn is_system(u: &imagewise_facts::User) -> bool {
    (1..1000).contains(&u.uid)
}

fn system_account_shell(ctx: &Ctx<'_>) -> Outcome {
    if ctx.facts.security.users.is_empty() {
        return Outcome::NotApplicable("no /etc/passwd".into());
    }
    // sync, shutdown and halt have their command as "shell" by design.
    let by_design = ["/bin/sync", "/sbin/shutdown", "/sbin/halt", "/usr/bin/sync"];
    let bad: Vec<String> = ctx
        .facts
        .security
        .users
        .iter()
        .filter(|u| is_system(u) && u.login_shell && !by_design.contains(&u.shell.as_str()))
        .map(|u| format!("{} (UID {}) has shell {}", u.name, u.uid, u.shell))
        .collect();
    Outcome::failures(bad)
}

fn system_account_password(ctx: &Ctx<'_>) -> Outcome {
    if let Err(o) = shadow(ctx) {
        return o;
    }
    let sec = &ctx.facts.security;
    let bad: Vec<String> = sec
        .users
        .iter()
        .filter(|u| is_system(u) && sec.password_set.contains(&u.name))
        .map(|u| {
            format!(
                "{} (UID {}) has a password hash in /etc/shadow",
                u.name, u.uid
            )
        })
        .collect();
    Outcome::failures(bad)
}

/// sudoers lines matching `hit`, or the outcome when there is nothing to judge.
fn sudoers_lines(ctx: &Ctx<'_>, hit: impl Fn(&str) -> bool) -> Outcome {
    if !ctx.exists("/etc/sudoers") && ctx.children("/etc/sudoers.d").is_empty() {
        return Outcome::NotApplicable("no sudoers files: sudo is not set up".into());
    }
    let (lines, problems) = conf::sudoers(ctx);
    let bad: Vec<String> = lines
        .iter()
        .filter(|(_, l)| hit(l))
        .map(|(f, l)| format!("{f}: {l}"))
        .collect();
    Outcome::judged(bad, &problems)
}

fn sudo_nopasswd(ctx: &Ctx<'_>) -> Outcome {
    sudoers_lines(ctx, |l| l.contains("NOPASSWD"))
}

fn sudo_no_authenticate(ctx: &Ctx<'_>) -> Outcome {
    sudoers_lines(ctx, |l| {
        l.split(|c: char| c == ',' || c.is_whitespace())
            .any(|w| w.trim() == "!authenticate")
    })
}

fn login_defs_umask(ctx: &Ctx<'_>) -> Outcome {
    let text = match ctx.judged_text("/etc/login.defs") {
        Ok(t) => t,
        Err(o) => return o,
    };
    if conf::looks_binary(&text) {
        return Outcome::Unknown("/etc/login.defs is not text".into());
    }
    let want = ctx.setting_int("umask_min");
    let defs = conf::login_defs(&text);
    let Some(v) = defs.get("UMASK") else {
        return Outcome::Fail(vec![format!(
            "UMASK not set in /etc/login.defs (shadow-utils then uses 022); want {want:03o} or stricter"
        )]);
    };
    match i64::from_str_radix(v.trim_start_matches("0o"), 8) {
        Ok(m) if m & want == want => Outcome::Pass,
        Ok(m) => Outcome::Fail(vec![format!(
            "UMASK {m:03o} in /etc/login.defs; want {want:03o} or stricter"
        )]),
        Err(_) => Outcome::Unknown(format!(
            "UMASK {v:?} in /etc/login.defs is not an octal number"
        )),
    }
}

fn pam_password_quality(ctx: &Ctx<'_>) -> Outcome {
    let files = [
        "/etc/pam.d/common-password",
        "/etc/pam.d/system-auth",
        "/etc/pam.d/password-auth",
    ];
    let mut seen = Vec::new();
    for f in files {
        match ctx.text(f) {
            Ok(Some(t)) => {
                seen.push(f);
                let has = t.lines().any(|l| {
                    let l = l.trim();
                    !l.starts_with('#')
                        && l.starts_with("password")
                        && ["pam_pwquality.so", "pam_cracklib.so", "pam_passwdqc.so"]
                            .iter()
                            .any(|m| l.contains(m))
                });
                if has {
                    return Outcome::Pass;
                }
            }
            Ok(None) => {}
            Err(why) => return Outcome::Unknown(why),
        }
    }
    if seen.is_empty() {
        return Outcome::NotApplicable(
            "no PAM password stack (common-password, system-auth)".into(),
        );
    }
    Outcome::Fail(
        seen.iter()
            .map(|f| format!("{f}: no pam_pwquality, pam_cracklib or pam_passwdqc line"))
            .collect(),
    )
}
