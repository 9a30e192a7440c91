//! Services and logging: clear-text servers installed, desktop services enabled on a server,
//! auditd, journald persistence, log forwarding, time synchronisation.

use imagewise_facts::ImageKind;
use imagewise_types::Level;

use super::NO_REFS;
use crate::context::Ctx;
use crate::rule::{Family, Outcome, Refs, Rule, Target};

const MACHINES: &[Target] = &[Target::Vm, Target::Rootfs];
const SYSTEM: &[ImageKind] = &[ImageKind::System];

pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "insecure-servers",
        title: "telnet, rsh, ftp, tftp or NIS servers installed",
        level: Level::High,
        family: Family::Services,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "cis-container", "vm"],
        why: "These servers send passwords and data in clear text (or trust host names); anyone on the path reads or takes over the session.",
        fix: "apt-get purge (or dnf remove) the package; use ssh/sftp instead.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 2.2.8", "Debian 11 v1.0.0 2.2.14"],
            ssg: &[
                "package_telnetd_removed",
                "package_inetutils-telnetd_removed",
                "package_telnetd-ssl_removed",
                "package_nis_removed",
            ],
            ..NO_REFS
        },
        check: insecure_servers,
    },
    Rule {
        id: "unneeded-services",
        title: "desktop and discovery services enabled on a server",
        level: Level::Low,
        family: Family::Services,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["baseline", "cis-host", "vm"],
        why: "Bluetooth, modem, printing and mDNS services listen on a server for nothing, each one more thing to patch and attack.",
        fix: "systemctl disable --now SERVICE (or remove the package) in the image build.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 2.2.2", "Debian 11 v1.0.0 2.2.3", "Debian 11 v1.0.0 2.4"],
            ..NO_REFS
        },
        check: unneeded_services,
    },
    Rule {
        id: "auditd-absent",
        title: "auditd is not installed",
        level: Level::Low,
        family: Family::Services,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["cis-host"],
        why: "Without the audit daemon there is no record of who changed accounts, sudoers or system files, which incident response and most compliance regimes need.",
        fix: "apt-get install auditd audispd-plugins (dnf install audit) and enable auditd.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 4.1.1.1"],
            ssg: &["package_audit_installed"],
            lynis: &["ACCT-9628"],
            ..NO_REFS
        },
        check: auditd_absent,
    },
    Rule {
        id: "auditd-log-size",
        title: "auditd has no log size limit",
        level: Level::Low,
        family: Family::Services,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["cis-host"],
        why: "Unbounded audit logs fill /var/log and then the disk; with `max_log_file_action = ignore` the machine keeps running without auditing.",
        fix: "Set `max_log_file = 8` (MiB) and `max_log_file_action = rotate` (or keep_logs with log rotation) in /etc/audit/auditd.conf.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 4.1.2.1"],
            ..NO_REFS
        },
        check: auditd_log_size,
    },
    Rule {
        id: "journald-volatile",
        title: "the journal is not kept across reboots",
        level: Level::Low,
        family: Family::Services,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["baseline", "vm", "cis-host"],
        why: "With volatile (or automatic without /var/log/journal) storage the logs of a crash are gone when the machine restarts, exactly when they are needed.",
        fix: "Set `Storage=persistent` in /etc/systemd/journald.conf (or mkdir /var/log/journal), or forward logs off the machine.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 4.2.1.4"],
            ..NO_REFS
        },
        check: journald_volatile,
    },
    Rule {
        id: "log-forwarding",
        title: "logs are not forwarded off the machine",
        level: Level::Low,
        family: Family::Services,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["cis-host"],
        why: "Logs kept only on the machine are lost with it and can be erased by whoever breaks in.",
        fix: "Forward with rsyslog (`*.* @@loghost:514`), systemd-journal-upload, or an agent (fluent-bit, vector).",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 4.2.2.6"],
            ssg: &["rsyslog_remote_loghost"],
            lynis: &["LOGG-2154"],
            ..NO_REFS
        },
        check: log_forwarding,
    },
    Rule {
        id: "time-sync",
        title: "no time synchronisation",
        level: Level::Medium,
        family: Family::Services,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["baseline", "vm", "cis-host"],
        why: "A VM's clock drifts (and jumps after a pause or migration); TLS, Kerberos, TOTP and log correlation all fail on a wrong clock.",
        fix: "apt-get install chrony (or enable systemd-timesyncd) in the image.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 2.1.1.1"],
            lynis: &["TIME-3104"],
            ..NO_REFS
        },
        check: time_sync,
    },
];

fn insecure_servers(ctx: &Ctx<'_>) -> Outcome {
    const SERVERS: &[&str] = &[
        "telnetd",
        "inetutils-telnetd",
        "telnetd-ssl",
        "telnet-server",
        "rsh-server",
        "rsh-redone-server",
        "rlogin-server",
        "vsftpd",
        "proftpd-basic",
        "proftpd-core",
        "pure-ftpd",
        "inetutils-ftpd",
        "ftpd",
        "tftpd",
        "tftpd-hpa",
        "tftp-server",
        "atftpd",
        "nis",
        "ypserv",
        "talkd",
        "inetutils-talkd",
    ];
    if ctx.facts.package_databases.is_empty() {
        return Outcome::NotApplicable("no package database to tell what is installed".into());
    }
    let bad: Vec<String> = ctx
        .facts
        .packages
        .iter()
        .filter(|p| SERVERS.contains(&p.name.as_str()))
        .map(|p| format!("{} {} installed", p.name, p.version))
        .collect();
    Outcome::failures(bad)
}

fn unneeded_services(ctx: &Ctx<'_>) -> Outcome {
    const UNNEEDED: &[&str] = &[
        "bluetooth",
        "ModemManager",
        "avahi-daemon",
        "cups",
        "cups-browsed",
        "whoopsie",
        "apport",
        "speech-dispatcher",
        "pcscd",
        "rpcbind",
        "nfs-server",
        "snmpd",
        "smbd",
        "nmbd",
    ];
    if ctx.facts.init.system == "none" {
        return Outcome::NotApplicable("no init system".into());
    }
    let bad: Vec<String> = UNNEEDED
        .iter()
        .filter(|s| ctx.enabled(s))
        .map(|s| format!("{s} is enabled"))
        .collect();
    Outcome::failures(bad)
}

fn auditd_absent(ctx: &Ctx<'_>) -> Outcome {
    if ctx.installed("auditd") || ctx.installed("audit") || ctx.exists("/sbin/auditd") {
        Outcome::Pass
    } else {
        Outcome::Fail(vec!["no auditd or audit package, no /sbin/auditd".into()])
    }
}

fn auditd_log_size(ctx: &Ctx<'_>) -> Outcome {
    let text = match ctx.judged_text("/etc/audit/auditd.conf") {
        Ok(t) => t,
        Err(o) => return o,
    };
    let get = |k: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(key, _)| key.trim() == k)
            .map(|(_, v)| v.trim().to_ascii_lowercase())
            .next_back()
    };
    let mut bad = Vec::new();
    match get("max_log_file").map(|v| v.parse::<u64>()) {
        Some(Ok(n)) if n > 0 => {}
        Some(_) => bad.push("max_log_file is 0 or not a number".into()),
        None => bad.push("max_log_file not set".into()),
    }
    if get("max_log_file_action").as_deref() == Some("ignore") {
        bad.push("max_log_file_action = ignore".into());
    }
    Outcome::failures(bad)
}

fn journald_volatile(ctx: &Ctx<'_>) -> Outcome {
    if ctx.facts.init.system != "systemd" {
        return Outcome::NotApplicable("not a systemd image".into());
    }
    let logging = &ctx.facts.logging;
    if logging.rsyslog_remote {
        return Outcome::Pass;
    }
    match logging.journald_storage.as_deref() {
        Some("persistent") => Outcome::Pass,
        Some("auto") | None if ctx.exists("/var/log/journal") => Outcome::Pass,
        Some(s @ ("volatile" | "none")) => Outcome::Fail(vec![format!("journald Storage={s}")]),
        Some(s) => Outcome::Fail(vec![format!(
            "journald Storage={s} and no /var/log/journal: the journal lives in /run"
        )]),
        None => Outcome::Fail(vec![
            "journald Storage unset (auto) and no /var/log/journal: the journal lives in /run"
                .into(),
        ]),
    }
}

fn log_forwarding(ctx: &Ctx<'_>) -> Outcome {
    let l = &ctx.facts.logging;
    let agents = [
        "fluent-bit",
        "td-agent-bit",
        "vector",
        "filebeat",
        "promtail",
        "otelcol-contrib",
    ];
    if l.rsyslog_remote
        || ctx.enabled("systemd-journal-upload")
        || agents.iter().any(|a| ctx.installed(a))
    {
        Outcome::Pass
    } else {
        Outcome::Fail(vec![format!(
            "no rsyslog remote target, no systemd-journal-upload, no log shipping agent ({})",
            agents.join(", ")
        )])
    }
}

fn time_sync(ctx: &Ctx<'_>) -> Outcome {
    let daemons = [
        "chrony",
        "chronyd",
        "ntp",
        "ntpd",
        "ntpsec",
        "openntpd",
        "systemd-timesyncd",
    ];
    let enabled: Vec<&str> = daemons.iter().copied().filter(|d| ctx.enabled(d)).collect();
    if !enabled.is_empty() {
        return Outcome::Pass;
    }
    let installed: Vec<&str> = daemons
        .iter()
        .copied()
        .filter(|d| {
            ctx.installed(d)
                || ctx.exists(&format!("/lib/systemd/system/{d}.service"))
                || ctx.exists(&format!("/usr/lib/systemd/system/{d}.service"))
        })
        .collect();
    if installed.is_empty() {
        Outcome::Fail(vec![
            "none of chrony, ntp, ntpsec, openntpd, systemd-timesyncd is installed".into(),
        ])
    } else {
        Outcome::Fail(vec![format!(
            "{} installed but not enabled",
            installed.join(", ")
        )])
    }
}
