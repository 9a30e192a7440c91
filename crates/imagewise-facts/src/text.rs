//! `inspect` as text for a terminal: the facts of [`ImageFacts`] one per line, long lists cut
//! (the JSON form has everything).

use std::fmt::Write as _;

use crate::report::{ImageFacts, LibcKind};

/// Bytes in binary units, one decimal.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn list(items: &[String], max: usize) -> String {
    if items.is_empty() {
        return "none".into();
    }
    let mut s = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        let _ = write!(s, ", … ({} in all)", items.len());
    }
    s
}

/// `inspect` as text: one line per fact, `packages` and `kernel_config` listing those in full.
pub fn render_text(f: &ImageFacts, packages: bool, kernel_config: bool) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: String| {
        let _ = writeln!(s, "{k:<10} {v}");
    };
    let layers = f.size.layers.len();
    line(
        "image",
        format!(
            "{} ({}{}{})",
            f.image.reference,
            f.image.format,
            match layers {
                0 => String::new(),
                1 => ", 1 layer".into(),
                n => format!(", {n} layers"),
            },
            f.image
                .partition
                .as_deref()
                .map(|p| format!(", partition {p}"))
                .unwrap_or_default()
        ),
    );
    let os = match (&f.os.pretty_name, &f.os.id) {
        (Some(p), Some(id)) => format!(
            "{p} [{id} {}{}]",
            f.os.version_id.as_deref().unwrap_or("?"),
            f.os.version_codename
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default()
        ),
        (None, Some(id)) => id.clone(),
        _ => "unknown (no os-release)".into(),
    };
    line("os", os);
    if let Some(w) = &f.os.support {
        use crate::SupportStatus as S;
        let days = |n: i64| {
            if n >= 0 {
                format!("{n} days left")
            } else {
                format!("ended {} days ago", -n)
            }
        };
        let ext = match (&w.extended, &w.extended_end, w.extended_days_left) {
            (Some(k), Some(e), Some(n)) => format!("; {k} until {e} ({})", days(n)),
            _ => String::new(),
        };
        let text = match (w.status, &w.end_of_life, w.days_left) {
            (S::Rolling, ..) => "rolling release: no end of support".to_string(),
            (S::Unreleased, ..) => format!("release {} is not out yet", w.release),
            (S::Unknown, ..) => format!("release {}: no end date published", w.release),
            (S::Supported, Some(e), Some(n)) => format!("until {e} ({}){ext}", days(n)),
            (S::Extended, Some(e), _) => format!("standard support ended {e}{ext}"),
            (_, Some(e), Some(n)) => format!("ENDED {e} ({}){ext}", days(n)),
            _ => String::new(),
        };
        line("support", text);
    }
    let elf: Vec<String> = f
        .arch_detail
        .elf
        .iter()
        .map(|(a, n)| format!("{a} {n}"))
        .collect();
    line(
        "arch",
        format!(
            "{} (from {}; ELF programs: {}{})",
            f.arch.as_deref().unwrap_or("unknown"),
            f.arch_detail.source.as_deref().unwrap_or("nothing"),
            if elf.is_empty() {
                "none".into()
            } else {
                elf.join(", ")
            },
            if f.arch_detail.mixed { "; MIXED" } else { "" }
        ),
    );
    let libc = match f.libc.kind {
        LibcKind::None => format!(
            "none (static programs only{})",
            f.libc
                .loader
                .as_deref()
                .map(|l| format!("; programs ask for {l}"))
                .unwrap_or_default()
        ),
        kind => format!(
            "{} {}{}{}",
            if kind == LibcKind::Glibc {
                "glibc"
            } else {
                "musl"
            },
            f.libc.version.as_deref().unwrap_or("(version unknown)"),
            f.libc
                .package
                .as_deref()
                .map(|p| format!(" [{p}]"))
                .unwrap_or_default(),
            f.libc
                .max_symbol_version
                .as_deref()
                .map(|v| format!(", symbols up to {v}"))
                .unwrap_or_default()
        ),
    };
    line("libc", libc);
    line("kind", format!("{:?}", f.kind).to_lowercase());
    let dbs: Vec<String> = f
        .package_databases
        .iter()
        .map(|d| {
            format!(
                "{} {} ({}{})",
                d.ecosystem.as_str(),
                d.packages,
                d.path,
                if d.status == "ok" {
                    String::new()
                } else {
                    format!(", {}", d.status)
                }
            )
        })
        .collect();
    line(
        "packages",
        if dbs.is_empty() {
            "no package database".into()
        } else {
            dbs.join("; ")
        },
    );
    let kernels: Vec<String> = f
        .kernel
        .kernels
        .iter()
        .map(|k| {
            let flags: Vec<String> = k
                .highlights
                .iter()
                .map(|(name, v)| format!("{}={v}", name.trim_start_matches("CONFIG_")))
                .collect();
            format!(
                "{}{}",
                k.version,
                if flags.is_empty() {
                    " (no config)".into()
                } else {
                    format!(" [{}]", flags.join(" "))
                }
            )
        })
        .collect();
    line("kernel", list(&kernels, 4));
    let enabled: Vec<String> = f.init.enabled.iter().map(|e| e.name.clone()).collect();
    line(
        "init",
        format!(
            "{}{}{}",
            f.init.system,
            f.init
                .default_target
                .as_deref()
                .map(|t| format!(", default {t}"))
                .unwrap_or_default(),
            if enabled.is_empty() {
                String::new()
            } else {
                format!(", enabled: {}", list(&enabled, 12))
            }
        ),
    );
    let agents: Vec<String> = f
        .agents
        .iter()
        .map(|a| {
            format!(
                "{}{}{}",
                a.name,
                a.version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default(),
                if a.enabled { " (enabled)" } else { "" }
            )
        })
        .collect();
    line("agents", list(&agents, 10));
    let mut logging = Vec::new();
    if let Some(st) = &f.logging.journald_storage {
        logging.push(format!("journald storage={st}"));
    }
    if f.logging.rsyslog {
        logging.push(format!(
            "rsyslog{}",
            if f.logging.rsyslog_remote {
                " (forwards to a remote host)"
            } else {
                ""
            }
        ));
    }
    if f.logging.syslog_ng {
        logging.push("syslog-ng".into());
    }
    line("logging", list(&logging, 4));
    let runtimes: Vec<String> = f
        .runtimes
        .iter()
        .map(|r| format!("{} {}", r.name, r.version.as_deref().unwrap_or("?")))
        .collect();
    line("runtimes", list(&runtimes, 10));
    let sec = &f.security;
    let logins: Vec<String> = sec
        .users
        .iter()
        .filter(|u| u.login_shell)
        .map(|u| u.name.clone())
        .collect();
    if sec.users.is_empty() {
        line("accounts", "no /etc/passwd".into());
    } else {
        line(
            "accounts",
            format!(
                "{} users ({} with a login shell: {}), root {}, empty passwords: {}",
                sec.users.len(),
                logins.len(),
                list(&logins, 6),
                sec.root,
                list(&sec.empty_password, 6)
            ),
        );
    }
    if let Some(ssh) = &sec.sshd {
        let ex = |k: &str| {
            if ssh.explicit.get(k).copied().unwrap_or(false) {
                ""
            } else {
                " (default)"
            }
        };
        line(
            "sshd",
            format!(
                "PermitRootLogin {}{}, PasswordAuthentication {}{}",
                ssh.permit_root_login,
                ex("PermitRootLogin"),
                ssh.password_authentication,
                ex("PasswordAuthentication")
            ),
        );
    }
    line(
        "security",
        format!(
            "sudoers: {}; setuid {}, setgid {}, world-writable {}; AppArmor {}; SELinux {}; FIPS {}",
            if sec.sudoers.is_empty() { "none".to_string() } else { sec.sudoers.len().to_string() },
            sec.setuid.len(),
            sec.setgid.len(),
            sec.world_writable.len(),
            sec.apparmor.as_deref().unwrap_or("no"),
            sec.selinux.as_deref().unwrap_or("no"),
            if sec.fips { "on" } else { "off" }
        ),
    );
    line(
        "size",
        format!(
            "{} in {} files, {} directories, {} symlinks; layer waste {}",
            human_bytes(f.size.total_bytes),
            f.size.files,
            f.size.directories,
            f.size.symlinks,
            human_bytes(f.size.waste_bytes)
        ),
    );
    for l in &f.size.layers {
        line(
            &format!("  layer {}", l.index),
            format!(
                "{} {} → {}, {} entries, hidden {}{}",
                l.digest
                    .as_deref()
                    .map(|d| &d[..d.len().min(19)])
                    .unwrap_or("-"),
                human_bytes(l.size),
                human_bytes(l.uncompressed_size),
                l.entries,
                human_bytes(l.hidden_bytes),
                l.created_by
                    .as_deref()
                    .map(|c| format!("  {}", c.chars().take(60).collect::<String>()))
                    .unwrap_or_default()
            ),
        );
    }
    let largest: Vec<String> = f
        .size
        .largest_directories
        .iter()
        .map(|d| format!("{} {}", d.path, human_bytes(d.bytes)))
        .collect();
    line("largest", list(&largest, 6));
    if let Some(c) = &f.config {
        line(
            "config",
            format!(
                "entrypoint {:?} cmd {:?} user {} ports {} created {}",
                c.entrypoint,
                c.cmd,
                c.user.as_deref().unwrap_or("root (unset)"),
                list(&c.exposed_ports, 8),
                c.created.as_deref().unwrap_or("?")
            ),
        );
    }
    for n in &f.notes {
        line("note", n.clone());
    }
    if packages {
        let _ = writeln!(s);
        for p in &f.packages {
            let _ = writeln!(
                s,
                "{:<5} {:<40} {:<32} {:<8} {}",
                p.ecosystem.as_str(),
                p.name,
                p.version,
                p.arch.as_deref().unwrap_or("-"),
                if p.source_name != p.name || p.source_version != p.version {
                    format!("{} {}", p.source_name, p.source_version)
                } else {
                    String::new()
                }
            );
        }
    }
    if kernel_config {
        for k in &f.kernel.kernels {
            let _ = writeln!(
                s,
                "\n{} ({})",
                k.version,
                k.config_path.as_deref().unwrap_or("no config")
            );
            for (name, v) in &k.config {
                let _ = writeln!(s, "{name}={v}");
            }
        }
    }
    s
}
